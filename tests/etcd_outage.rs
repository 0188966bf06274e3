//! etcd stops under a running group: the primary turns read-only before its lease could expire;
//! etcd comes back: the group recovers with exactly one leader.

mod common;

use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_demotes_when_etcd_is_gone_and_group_recovers() {
    let (mut tb, leader) = common::three_member_group("outage", 3).await;
    let mut prober = common::start_probing(&tb, &leader).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let stopped_at = Instant::now();
    tb.stop_etcd();
    let ttl = Duration::from_secs(common::TIMING.ttl);
    // The primary must stop accepting writes before the lease it holds could expire.
    let read_only_at = common::wait_for(ttl + Duration::from_secs(10), || async {
        let last = prober.rounds.lock().unwrap().last().cloned()?;
        (last.at > stopped_at && last.writable.is_empty()).then_some(last.at)
    })
    .await;
    let Some(read_only_at) = read_only_at else {
        common::dump_logs(&tb);
        panic!("the primary kept accepting writes with etcd down");
    };
    let took = read_only_at - stopped_at;
    println!("primary read-only {took:?} after etcd stopped (ttl {ttl:?})");
    assert!(took < ttl, "demotion took {took:?}, not within ttl {ttl:?}");
    // It is read-only, not stopped: once restarted as a standby it answers queries.
    let read_only = common::wait_for(Duration::from_secs(15), || async {
        let rc = tb.pg(&leader).await.ok()?;
        let rec: bool = rc
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .ok()?
            .get(0);
        rec.then_some(())
    })
    .await;
    assert!(
        read_only.is_some(),
        "the former primary must be running read-only"
    );
    // Nobody accepts writes while etcd is down.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(prober
        .rounds
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.at > read_only_at)
        .all(|r| r.writable.is_empty()));

    tb.start_etcd().await.unwrap();
    let l = common::healthy(&tb, 2, Duration::from_secs(90)).await;
    let ok = common::wait_for(Duration::from_secs(30), || async {
        let last = prober.rounds.lock().unwrap().last().cloned()?;
        (last.writable == vec![l.clone()]).then_some(())
    })
    .await;
    prober.stop().await;
    assert!(ok.is_some(), "the new leader {l} does not accept writes");
    assert!(prober.split_brain_rounds().is_empty());
}

/// failsafe_mode: with etcd gone but every member reachable over the REST API, the primary keeps
/// running and accepting writes, no other member becomes writable, and when etcd returns the same
/// member leads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failsafe_mode_keeps_the_primary_while_all_members_answer() {
    let mut tb = common::testbed("failsafe");
    tb.extra_dcs = "    failsafe_mode: true\n".into();
    tb.start_etcd().await.unwrap();
    for m in ["m1", "m2", "m3"] {
        tb.add_agent(m).unwrap();
    }
    let leader = tb.wait_healthy(2, Duration::from_secs(120)).await.unwrap();
    // The leader publishes every member in /failsafe.
    let published = common::wait_for(Duration::from_secs(20), || async {
        let v = tb.view().await.ok()?;
        (v.failsafe?.len() == 3).then_some(())
    })
    .await;
    assert!(published.is_some(), "no /failsafe key with three members");
    let mut prober = common::start_probing(&tb, &leader).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stopped = Instant::now();
    tb.stop_etcd();
    // Two full ttls without etcd.
    tokio::time::sleep(Duration::from_secs(2 * common::TIMING.ttl + 2)).await;
    let late: Vec<common::Round> = prober
        .rounds
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.at > stopped + Duration::from_secs(common::TIMING.ttl + 2))
        .cloned()
        .collect();
    assert!(!late.is_empty());
    let writable_share = late
        .iter()
        .filter(|r| r.writable == vec![leader.clone()])
        .count() as f64
        / late.len() as f64;
    if writable_share < 0.9 {
        common::dump_logs(&tb);
    }
    assert!(
        writable_share > 0.9,
        "the primary must keep accepting writes in failsafe mode ({writable_share})"
    );
    let log = std::fs::read_to_string(&tb.agents[&leader].log).unwrap();
    assert!(
        log.contains("continue to run as a leader because failsafe mode is enabled"),
        "{log}"
    );
    tb.start_etcd().await.unwrap();
    let l = tb.wait_healthy(2, Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        l, leader,
        "the failsafe leader keeps the role when etcd returns"
    );
    prober.stop().await;
    assert!(prober.split_brain_rounds().is_empty());
}
