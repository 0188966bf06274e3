//! kill -9 of the leader's agent and postmaster: another member takes the key and accepts writes,
//! no two members ever accept writes in the same probe round, and the killed member, restarted,
//! rejoins as a standby on the new timeline.

mod common;

use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_killed_another_member_takes_over_without_split_brain() {
    let (mut tb, old) = common::three_member_group("failover", 3).await;
    let mut prober = common::start_probing(&tb, &old).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let killed_at = Instant::now();
    tb.kill_member(&old);

    // Another member holds the key and accepts writes.
    let new_leader = common::wait_for(Duration::from_secs(60), || async {
        let v = tb.view().await.ok()?;
        let l = v.leader?.name;
        (l != old).then_some(l)
    })
    .await;
    let Some(new_leader) = new_leader else {
        common::dump_logs(&tb);
        panic!("no new leader after killing {old}");
    };
    let first_write = common::wait_for(Duration::from_secs(30), || async {
        prober.first_write_after(killed_at, &old)
    })
    .await;
    let Some((at, writer)) = first_write else {
        common::dump_logs(&tb);
        panic!("no member accepted writes after killing {old}");
    };
    assert_eq!(writer, new_leader);
    println!(
        "writes accepted on {writer} {:?} after the kill (ttl {} s)",
        at - killed_at,
        common::TIMING.ttl
    );

    // The killed member comes back as a standby on the new timeline.
    tb.start_agent(&old).unwrap();
    if let Err(e) = tb.wait_healthy(2, Duration::from_secs(90)).await {
        common::dump_logs(&tb);
        panic!("{e:#}");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    prober.stop().await;
    let bad = prober.split_brain_rounds();
    assert!(bad.is_empty(), "rounds with two writable members: {bad:?}");

    let v = tb.view().await.unwrap();
    assert_eq!(v.leader.as_ref().unwrap().name, new_leader);
    let back = v.member(&old).unwrap();
    assert_eq!(back.role(), Some(praetor::types::Role::Replica));
    assert_eq!(back.data.replication_state.as_deref(), Some("streaming"));
    let leader_tl = v.member(&new_leader).unwrap().data.timeline.unwrap();
    assert!(leader_tl >= 2, "promotion must start a new timeline");
    assert_eq!(back.data.timeline, Some(leader_tl));
    let rc = tb.pg(&old).await.unwrap();
    let rec: bool = rc
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(rec, "the former leader must run as a standby");
    // /history records the timeline switch.
    assert!(
        v.history
            .iter()
            .any(|h| h.new_leader.as_deref() == Some(new_leader.as_str())),
        "{:?}",
        v.history
    );
}
