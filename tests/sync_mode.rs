//! synchronous_mode: the primary lists a confirmed synchronous standby in /sync, only that member
//! may take over, and a kill -9 of the primary loses no acknowledged commit.

mod common;

use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_primary_in_synchronous_mode_loses_no_acknowledged_commit() {
    let mut tb = common::testbed("syncmode");
    tb.extra_dcs = "    synchronous_mode: true\n".into();
    tb.start_etcd().await.unwrap();
    for m in ["m1", "m2", "m3"] {
        tb.add_agent(m).unwrap();
    }
    let leader = tb.wait_healthy(2, Duration::from_secs(120)).await.unwrap();
    // The primary publishes one synchronous standby, confirmed by PostgreSQL.
    let sync = common::wait_for(Duration::from_secs(30), || async {
        let v = tb.view().await.ok()?;
        let s = v.sync?;
        (s.leader.as_deref() == Some(leader.as_str()) && s.members().len() == 1)
            .then(|| s.members()[0].clone())
    })
    .await;
    let Some(sync) = sync else {
        common::dump_logs(&tb);
        panic!("no synchronous standby in /sync");
    };
    let c = tb.pg(&leader).await.unwrap();
    let rows = c.query("SELECT application_name, sync_state FROM pg_stat_replication WHERE sync_state = 'sync'", &[]).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(0), sync);
    let guc: String = c
        .query_one("SHOW synchronous_standby_names", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(guc, sync);
    drop(c);
    common::create_probe_table(&tb, &leader).await;
    // /cluster and praetorctl show the sync standby.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_praetorctl"))
        .args([
            "--dcs-url",
            &format!("etcd3://127.0.0.1:{}", tb.etcd_port),
            "list",
            "syncmode",
        ])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&format!("| {sync} ")) && table.contains("| Sync Standby |"),
        "{table}"
    );

    let mut prober = common::Prober::start_with(common::member_ports(&tb), "on").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let killed = Instant::now();
    tb.kill_member(&leader);
    let new_leader = common::wait_for(Duration::from_secs(60), || async {
        let v = tb.view().await.ok()?;
        v.leader.map(|l| l.name).filter(|l| *l != leader)
    })
    .await
    .expect("a new leader");
    assert_eq!(
        new_leader, sync,
        "only the synchronous standby may take over"
    );
    let back = common::wait_for(Duration::from_secs(30), || async {
        prober.first_write_after(killed, &leader)
    })
    .await;
    assert!(back.is_some(), "the new primary accepts writes");
    tb.start_agent(&leader).unwrap();
    tb.wait_healthy(2, Duration::from_secs(90)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    prober.stop().await;
    assert!(prober.split_brain_rounds().is_empty());
    let acked: usize = prober.acked.lock().unwrap().values().map(Vec::len).sum();
    let missing = prober.missing_on(&tb, &new_leader).await;
    println!(
        "{acked} acknowledged commits, {} lost, writes back {:?} after the kill",
        missing.len(),
        back.unwrap().0 - killed
    );
    assert!(acked > 10);
    assert!(missing.is_empty(), "acknowledged commits lost: {missing:?}");

    // A synchronous standby that stops (SIGTERM) or restarts (POST /restart) first asks the
    // primary to release it (member key tagged nosync) and waits for /sync to drop it, so commits
    // on the primary do not wait for it; the other standby takes its place.
    let stopping = sync_standby_of(&tb, &new_leader, None).await;
    tb.signal_agent(&stopping, nix::sys::signal::Signal::SIGTERM);
    // The other standby takes its place (waits for /sync to name someone else).
    sync_standby_of(&tb, &new_leader, Some(&stopping)).await;
    let log = std::fs::read_to_string(&tb.agents[&stopping].log).unwrap();
    let released = log
        .find("released from synchronous duty by the primary")
        .unwrap_or_else(|| panic!("{stopping} did not wait for its release:\n{log}"));
    let stopped = log
        .find("shutting down: PostgreSQL stopped")
        .expect("PostgreSQL stopped");
    assert!(released < stopped, "released only after stopping:\n{log}");
    tb.start_agent(&stopping).unwrap();
    common::healthy(&tb, 2, Duration::from_secs(90)).await;

    let restarting = sync_standby_of(&tb, &new_leader, None).await;
    let (ok, out) = common::run_cli(
        std::process::Command::new(env!("CARGO_BIN_EXE_praetorctl")).args([
            "--dcs-url",
            &format!("etcd3://127.0.0.1:{}", tb.etcd_port),
            "restart",
            "syncmode",
            &restarting,
            "--force",
        ]),
        "praetorctl restart",
    );
    assert!(ok, "{out}");
    let log = std::fs::read_to_string(&tb.agents[&restarting].log).unwrap();
    let asked = log.rfind("restarting PostgreSQL").unwrap();
    assert!(
        log[asked..].contains("released from synchronous duty by the primary"),
        "{restarting} restarted without asking for its release:\n{log}"
    );
    common::healthy(&tb, 2, Duration::from_secs(90)).await;

    // primary_stop_timeout (Patroni's, synchronous mode only): a fast shutdown waits for every
    // connected standby to confirm the shutdown checkpoint, so hung standbys (SIGSTOP here) hold
    // the primary's stop for up to wal_sender_timeout (60 s). After 2 s the agent kills it, then
    // releases the key: every acknowledged commit is on the synchronous standby, which takes over.
    let primary = new_leader;
    let r = reqwest::Client::new()
        .patch(format!(
            "http://127.0.0.1:{}/config",
            tb.agents[&primary].rest_port
        ))
        .json(&serde_json::json!({"primary_stop_timeout": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let sync = sync_standby_of(&tb, &primary, None).await;
    // Every agent reads /config again within a cycle.
    tokio::time::sleep(Duration::from_secs(2 * common::TIMING.loop_wait + 1)).await;
    let standbys: Vec<String> = tb
        .agents
        .keys()
        .filter(|n| **n != primary)
        .cloned()
        .collect();
    let hang =
        |tb: &praetor_testbed::Testbed, on| standbys.iter().for_each(|n| tb.hang_postgres(n, on));
    hang(&tb, true);
    tb.signal_agent(&primary, nix::sys::signal::Signal::SIGTERM);
    let status = common::agent_exit(&mut tb, &primary, Duration::from_secs(45)).await;
    hang(&tb, false);
    let log = std::fs::read_to_string(&tb.agents[&primary].log).unwrap();
    assert!(
        status.success(),
        "{primary}'s agent exited with {status}:\n{log}"
    );
    assert!(
        log.contains("did not stop within primary_stop_timeout (2 s): sending SIGKILL"),
        "{log}"
    );
    assert!(
        log.contains("shutting down: released the leader key"),
        "{log}"
    );
    assert!(
        tb.postmaster_pid(&primary).is_none(),
        "PostgreSQL still runs"
    );
    let next = common::wait_for(Duration::from_secs(30), || async {
        tb.view()
            .await
            .ok()?
            .leader
            .map(|l| l.name)
            .filter(|l| *l != primary)
    })
    .await;
    assert_eq!(
        next.as_deref(),
        Some(sync.as_str()),
        "the synchronous standby takes over"
    );
}

/// Waits for `/sync` to list one synchronous standby of `leader`, other than `not`.
async fn sync_standby_of(tb: &praetor_testbed::Testbed, leader: &str, not: Option<&str>) -> String {
    common::wait_for(Duration::from_secs(30), || async {
        let s = tb.view().await.ok()?.sync?;
        let m = s.members();
        (s.leader.as_deref() == Some(leader) && m.len() == 1 && Some(m[0].as_str()) != not)
            .then(|| m[0].clone())
    })
    .await
    .expect("a synchronous standby in /sync")
}
