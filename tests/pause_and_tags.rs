//! Maintenance mode blocks automatic failover until resumed; `noloadbalance` takes a member out of
//! GET /replica; `nofailover` keeps a member from ever taking over; `replicatefrom` cascades.

mod common;

use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_cluster_does_not_fail_over_until_resumed() {
    let mut tb = common::testbed("pause");
    tb.tags.insert(
        "m3".into(),
        "{noloadbalance: true, nofailover: true}".into(),
    );
    tb.start_etcd().await.unwrap();
    tb.add_agent("m1").unwrap();
    tb.wait_healthy(0, Duration::from_secs(60)).await.unwrap();
    for m in ["m2", "m3"] {
        tb.add_agent(m).unwrap();
    }
    let leader = tb.wait_healthy(2, Duration::from_secs(90)).await.unwrap();
    assert_eq!(leader, "m1");
    let http = reqwest::Client::new();
    let code = |port: u16, path: &'static str| {
        let http = http.clone();
        async move {
            http.get(format!("http://127.0.0.1:{port}{path}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        code(tb.agents["m3"].rest_port, "/replica").await,
        503,
        "noloadbalance"
    );
    assert_eq!(code(tb.agents["m2"].rest_port, "/replica").await, 200);

    // Pause, then lose the leader: nobody takes over while paused.
    let lp = tb.agents["m1"].rest_port;
    let r = http
        .patch(format!("http://127.0.0.1:{lp}/config"))
        .json(&serde_json::json!({"pause": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let paused = common::wait_for(Duration::from_secs(15), || async {
        let v = tb.view().await.ok()?;
        v.members
            .iter()
            .all(|m| m.data.pause == Some(true))
            .then_some(())
    })
    .await;
    assert!(paused.is_some(), "every member reports pause");
    tb.kill_member("m1");
    let waited = Instant::now();
    tokio::time::sleep(Duration::from_secs(common::TIMING.ttl * 2)).await;
    let v = tb.view().await.unwrap();
    assert!(
        v.leader.is_none(),
        "no automatic failover in maintenance mode: {:?}",
        v.leader
    );
    for m in ["m2", "m3"] {
        let rec: bool = tb
            .pg(m)
            .await
            .unwrap()
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .unwrap()
            .get(0);
        assert!(
            rec,
            "{m} must still be a standby after {:?}",
            waited.elapsed()
        );
    }
    // Resume: m2 takes over; m3 (nofailover) never does.
    let r = http
        .patch(format!(
            "http://127.0.0.1:{}/config",
            tb.agents["m2"].rest_port
        ))
        .json(&serde_json::json!({"pause": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let new = common::wait_for(Duration::from_secs(30), || async {
        tb.view().await.ok()?.leader.map(|l| l.name)
    })
    .await;
    assert_eq!(new.as_deref(), Some("m2"));
}

/// `replicatefrom` (cascading replication): a member tagged `replicatefrom: m2` streams from m2,
/// whose server holds its replication slot (the primary's does not), and streams from the
/// leader again once m2 is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicatefrom_cascades_and_falls_back_to_the_leader() {
    let mut tb = common::testbed("cascade");
    tb.tags.insert("m3".into(), "{replicatefrom: m2}".into());
    tb.start_etcd().await.unwrap();
    tb.add_agent("m1").unwrap();
    tb.wait_healthy(0, Duration::from_secs(60)).await.unwrap();
    tb.add_agent("m2").unwrap();
    assert_eq!(
        tb.wait_healthy(1, Duration::from_secs(90)).await.unwrap(),
        "m1"
    );
    tb.add_agent("m3").unwrap();
    let m2_port = tb.agents["m2"].pg_port;
    let cascading = common::wait_for(Duration::from_secs(90), || async {
        (sender(&tb, "m3").await == Some(m2_port)).then_some(())
    })
    .await;
    if cascading.is_none() {
        common::dump_logs(&tb);
        panic!("m3 never streamed from m2");
    }
    let held = common::wait_for(Duration::from_secs(30), || async {
        slots(&tb, "m2")
            .await
            .contains(&"m3".to_string())
            .then_some(())
    })
    .await;
    assert!(
        held.is_some(),
        "m2 holds no slot for m3: {:?}",
        slots(&tb, "m2").await
    );
    assert!(
        !slots(&tb, "m1").await.contains(&"m3".to_string()),
        "the primary holds a slot for a cascading member"
    );

    // m2 is gone (its key lapses after the ttl): m3 streams from the leader.
    tb.kill_member("m2");
    let m1_port = tb.agents["m1"].pg_port;
    let back = common::wait_for(Duration::from_secs(60), || async {
        (sender(&tb, "m3").await == Some(m1_port)).then_some(())
    })
    .await;
    if back.is_none() {
        common::dump_logs(&tb);
        panic!("m3 never went back to the leader");
    }
}

/// The port `m`'s WAL receiver streams from, while it streams.
async fn sender(tb: &praetor_testbed::Testbed, m: &str) -> Option<u16> {
    let c = tb.pg(m).await.ok()?;
    let row = c
        .query_opt(
            "SELECT sender_port FROM pg_stat_wal_receiver WHERE status = 'streaming'",
            &[],
        )
        .await
        .ok()??;
    Some(row.get::<_, i32>(0) as u16)
}

/// The replication slots on `m`'s server.
async fn slots(tb: &praetor_testbed::Testbed, m: &str) -> Vec<String> {
    let c = tb.pg(m).await.unwrap();
    c.query("SELECT slot_name::text FROM pg_replication_slots", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
}
