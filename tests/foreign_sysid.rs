//! A data directory from another cluster (different system identifier) is never started and never
//! joins: the agent stops with a clear error.

mod common;

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_directory_of_another_cluster_is_refused() {
    let (mut tb, leader) = common::three_member_group("foreign", 1).await;
    let data = tb.configure_agent("intruder").unwrap();
    tb.initdb_foreign(&data).unwrap();
    tb.start_agent("intruder").unwrap();
    let status = common::wait_for(Duration::from_secs(30), || {
        let st = tb
            .agents
            .get_mut("intruder")
            .unwrap()
            .child
            .as_mut()
            .unwrap()
            .try_wait()
            .ok()
            .flatten();
        async move { st }
    })
    .await
    .expect("the agent should stop by itself");
    assert_eq!(status.code(), Some(1));
    let log = std::fs::read_to_string(&tb.agents["intruder"].log).unwrap();
    assert!(log.contains("system ID mismatch"), "{log}");
    assert!(
        !data.join("postmaster.pid").exists(),
        "the foreign server must not have been started"
    );
    let v = tb.view().await.unwrap();
    assert_eq!(v.leader.clone().unwrap().name, leader);
    assert!(
        v.member("intruder").is_none(),
        "the intruder must not stay registered"
    );
}
