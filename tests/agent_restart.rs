//! The leader's agent is killed and started again while its PostgreSQL keeps running: the new agent
//! adopts the running server and re-binds the leader key to its new lease before the old lease
//! expires — no PostgreSQL restart, no failover. A restart scheduled on it before is still
//! scheduled afterwards (its member key carries it).

mod common;

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_agent_adopts_running_primary_and_keeps_the_lock() {
    let (mut tb, leader) = common::three_member_group("restart", 3).await;
    let pid = tb.postmaster_pid(&leader).expect("postmaster");
    let schedule = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string();
    let api = format!("http://127.0.0.1:{}", tb.agents[&leader].rest_port);
    let r = reqwest::Client::new()
        .post(format!("{api}/restart"))
        .json(&serde_json::json!({"schedule": schedule}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let published = common::wait_for(Duration::from_secs(20), || async {
        let v = tb.view().await.ok()?;
        let s = v
            .member(&leader)?
            .data
            .other
            .get("scheduled_restart")?
            .clone();
        Some(s)
    })
    .await
    .expect("the member key announces the scheduled restart");
    assert_eq!(published["schedule"], schedule.as_str());
    tb.signal_agent(&leader, nix::sys::signal::Signal::SIGKILL);
    tb.start_agent(&leader).unwrap();
    // Past the old lease's expiry.
    tokio::time::sleep(Duration::from_secs(common::TIMING.ttl + 3)).await;
    let v = tb.view().await.unwrap();
    if v.leader.as_ref().map(|l| l.name.as_str()) != Some(leader.as_str()) {
        common::dump_logs(&tb);
    }
    assert_eq!(v.leader.as_ref().unwrap().name, leader, "no failover");
    assert_eq!(
        tb.postmaster_pid(&leader),
        Some(pid),
        "PostgreSQL was not restarted"
    );
    let m = v
        .member(&leader)
        .expect("member key re-published on the new lease");
    assert_eq!(
        m.data
            .other
            .get("scheduled_restart")
            .map(|s| s["schedule"].clone()),
        Some(serde_json::Value::from(schedule.as_str())),
        "the scheduled restart outlives the agent"
    );
    let status: serde_json::Value = reqwest::get(format!("{api}/patroni"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["scheduled_restart"]["schedule"], schedule.as_str());
    assert_eq!(m.data.timeline, Some(1));
    assert_eq!(m.role(), Some(praetor::types::Role::Primary));
    tb.wait_healthy(2, Duration::from_secs(10)).await.unwrap();
}
