//! The leader's agent is killed and started again while its PostgreSQL keeps running: the new agent
//! adopts the running server and re-binds the leader key to its new lease before the old lease
//! expires — no PostgreSQL restart, no failover.

mod common;

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_agent_adopts_running_primary_and_keeps_the_lock() {
    let (mut tb, leader) = common::three_member_group("restart", 3).await;
    let pid = tb.postmaster_pid(&leader).expect("postmaster");
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
    assert_eq!(m.data.timeline, Some(1));
    assert_eq!(m.role(), Some(praetor::types::Role::Primary));
    tb.wait_healthy(2, Duration::from_secs(10)).await.unwrap();
}
