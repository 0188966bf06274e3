//! A postmaster that crashes on the leader is restarted in place while the lease is held: the same
//! member stays leader, on the same timeline, and accepts writes again.

mod common;

use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_postmaster_on_the_leader_is_restarted_in_place() {
    let (tb, leader) = common::three_member_group("crash", 3).await;
    let mut prober = common::start_probing(&tb, &leader).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let pid = tb.postmaster_pid(&leader).expect("leader's postmaster");
    let crashed_at = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();

    let back = common::wait_for(Duration::from_secs(60), || async {
        let rounds = prober.rounds.lock().unwrap();
        rounds
            .iter()
            .find(|r| {
                r.at > crashed_at + Duration::from_millis(200) && r.writable == vec![leader.clone()]
            })
            .map(|r| r.at)
    })
    .await;
    let Some(back) = back else {
        common::dump_logs(&tb);
        panic!("{leader} did not accept writes again after its postmaster crashed");
    };
    println!(
        "{leader} accepted writes {:?} after its postmaster was killed",
        back - crashed_at
    );
    prober.stop().await;
    assert!(prober.split_brain_rounds().is_empty());
    let v = tb.view().await.unwrap();
    assert_eq!(
        v.leader.as_ref().unwrap().name,
        leader,
        "the lock holder restarts in place, no failover"
    );
    assert_eq!(
        v.member(&leader).unwrap().data.timeline,
        Some(1),
        "no promotion happened"
    );
    let log = std::fs::read_to_string(&tb.agents[&leader].log).unwrap();
    assert!(log.contains("starting primary after failure"), "{log}");
}
