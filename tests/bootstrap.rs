//! Three agents bootstrap a group: exactly one leader, two streaming standbys (seen in
//! pg_stat_replication on the leader), Patroni's REST status codes, and `praetorctl list`.

mod common;

use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_agents_bootstrap_one_leader_two_streaming_standbys() {
    let (tb, leader) = common::three_member_group("boot", 3).await;
    let view = tb.view().await.unwrap();
    assert_eq!(view.members.len(), 3);
    assert_eq!(view.leader.as_ref().unwrap().name, leader);

    // The leader streams to both standbys.
    let c = tb.pg(&leader).await.unwrap();
    let rows = c
        .query(
            "SELECT application_name, state FROM pg_stat_replication ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let names: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|(_, s)| s == "streaming"), "{names:?}");
    let in_recovery: bool = c
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!in_recovery);
    // initialize holds the leader's system identifier; config holds bootstrap.dcs.
    let sysid: String = c
        .query_one(
            "SELECT system_identifier::text FROM pg_control_system()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(view.initialize.as_deref(), Some(sysid.as_str()));
    assert_eq!(view.config.as_ref().unwrap().ttl, common::TIMING.ttl);
    // Each standby streams through its own replication slot.
    let slots: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_replication_slots WHERE active AND slot_type = 'physical'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(slots, 2);

    // Patroni's status codes: what HAProxy's httpchk sees.
    let http = reqwest::Client::new();
    for (name, a) in &tb.agents {
        let url = |p: &str| format!("http://127.0.0.1:{}{p}", a.rest_port);
        let code = |p: &'static str| {
            let http = http.clone();
            let u = url(p);
            async move { http.get(u).send().await.unwrap().status().as_u16() }
        };
        let is_leader = *name == leader;
        assert_eq!(
            code("/primary").await,
            if is_leader { 200 } else { 503 },
            "{name} /primary"
        );
        assert_eq!(
            code("/master").await,
            if is_leader { 200 } else { 503 },
            "{name} /master"
        );
        assert_eq!(
            code("/leader").await,
            if is_leader { 200 } else { 503 },
            "{name} /leader"
        );
        assert_eq!(
            code("/replica").await,
            if is_leader { 503 } else { 200 },
            "{name} /replica"
        );
        assert_eq!(
            code("/replica?lag=1MB").await,
            if is_leader { 503 } else { 200 },
            "{name} /replica?lag"
        );
        assert_eq!(
            code("/replica?tag_nofailover=true").await,
            503,
            "{name} tag filter"
        );
        assert_eq!(code("/read-only").await, 200, "{name} /read-only");
        assert_eq!(code("/health").await, 200, "{name} /health");
        assert_eq!(code("/liveness").await, 200, "{name} /liveness");
        assert_eq!(code("/readiness").await, 200, "{name} /readiness");
        assert_eq!(code("/no-such-check").await, 503, "{name} unknown path");
        let p: serde_json::Value = http
            .get(url("/patroni"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(p["role"], if is_leader { "primary" } else { "replica" });
        assert_eq!(p["state"], "running");
        assert_eq!(p["patroni"]["scope"], "boot");
        assert_eq!(p["database_system_identifier"], sysid.as_str());
        let cl: serde_json::Value = http
            .get(url("/cluster"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(cl["members"].as_array().unwrap().len(), 3);
        let cfg: serde_json::Value = http
            .get(url("/config"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(cfg["ttl"], common::TIMING.ttl);
    }

    // praetorctl list: Patroni's table.
    let out = Command::new(env!("CARGO_BIN_EXE_praetorctl"))
        .args([
            "--dcs-url",
            &format!("etcd3://127.0.0.1:{}", tb.etcd_port),
            "list",
            "boot",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    println!("{table}");
    assert!(
        table.starts_with(&format!("+ Cluster: boot ({sysid}) ")),
        "{table}"
    );
    assert!(table.contains("| Member | Host "), "{table}");
    assert_eq!(table.matches("| Leader ").count(), 1, "{table}");
    assert_eq!(table.matches("| streaming |").count(), 2, "{table}");

    // A new member whose PostgreSQL port is taken: its base backup cannot start. It retries the
    // start each cycle (no pg_rewind: the backup never ran, whatever its copied pg_control says)
    // and streams once the port is free.
    let mut tb = tb;
    tb.configure_agent("m4").unwrap();
    let taken = std::net::TcpListener::bind(("127.0.0.1", tb.agents["m4"].pg_port)).unwrap();
    tb.start_agent("m4").unwrap();
    let log_path = tb.agents["m4"].log.clone();
    let failed_twice = common::wait_for(Duration::from_secs(30), || {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        async move { (log.matches("postgres exited during start").count() >= 2).then_some(log) }
    })
    .await;
    let Some(log) = failed_twice else {
        common::dump_logs(&tb);
        panic!("m4 did not try to start twice");
    };
    assert!(!log.contains("pg_rewind"), "{log}");
    drop(taken);
    common::healthy(&tb, 3, Duration::from_secs(60)).await;
}

/// `postgresql.use_unix_socket`: each agent reaches its own server through the socket in the
/// first absolute `unix_socket_directories` entry (its session has no client address), as
/// Patroni does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_unix_socket_takes_the_agent_through_the_socket() {
    let mut tb = common::testbed("unixsock");
    for m in ["m1", "m2"] {
        tb.extra_postgresql
            .insert(m.into(), "  use_unix_socket: true\n".into());
    }
    tb.start_etcd().await.unwrap();
    for m in ["m1", "m2"] {
        tb.add_agent(m).unwrap();
    }
    common::healthy(&tb, 1, Duration::from_secs(120)).await;
    for m in ["m1", "m2"] {
        let c = tb.pg(m).await.unwrap();
        let rows = c
            .query(
                "SELECT client_addr IS NULL FROM pg_stat_activity WHERE application_name = 'praetor'",
                &[],
            )
            .await
            .unwrap();
        let through_socket: Vec<bool> = rows.iter().map(|r| r.get(0)).collect();
        assert!(
            !through_socket.is_empty() && through_socket.iter().all(|s| *s),
            "{m}: praetor's sessions through the socket: {through_socket:?}"
        );
    }
}

/// A bootstrap slower than the lease (ttl 5, a `post_bootstrap` of 7 s): the lease granted before
/// initdb has expired when the leader key is taken, so a fresh one is granted and the member
/// leads, instead of failing with "requested lease not found" and moving its new data directory
/// aside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_slower_than_the_ttl_still_takes_the_leader_key() {
    let mut tb = common::testbed_timed(
        "slowboot",
        praetor_testbed::Timing {
            ttl: 5,
            loop_wait: 1,
            retry_timeout: 2,
        },
    );
    // The script gets the connection URL as its argument (Patroni's convention): $0 here.
    tb.post_bootstrap = Some("sh -c 'sleep 7'".into());
    tb.start_etcd().await.unwrap();
    tb.add_agent("m1").unwrap();
    if let Err(e) = tb.wait_healthy(0, Duration::from_secs(60)).await {
        common::dump_logs(&tb);
        panic!("{e:#}");
    }
    assert_eq!(tb.view().await.unwrap().leader.unwrap().name, "m1");
    tb.stop_all();
}
