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
    // It is read-only, not stopped: it still answers queries.
    let rc = tb.pg(&leader).await.unwrap();
    let rec: bool = rc
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(rec);
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
    let l = match tb.wait_healthy(2, Duration::from_secs(90)).await {
        Ok(l) => l,
        Err(e) => {
            common::dump_logs(&tb);
            panic!("{e:#}");
        }
    };
    let ok = common::wait_for(Duration::from_secs(30), || async {
        let last = prober.rounds.lock().unwrap().last().cloned()?;
        (last.writable == vec![l.clone()]).then_some(())
    })
    .await;
    prober.stop().await;
    assert!(ok.is_some(), "the new leader {l} does not accept writes");
    assert!(prober.split_brain_rounds().is_empty());
}
