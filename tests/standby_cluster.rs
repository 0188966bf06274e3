//! A standby cluster in "another data centre": two groups with their own scopes, on their own
//! etcd each and on one etcd. The standby cluster's leader (role `standby_leader`) streams from the primary cluster's
//! primary through a permanent slot and cascades to its replica; it never accepts writes. Killed,
//! another member takes over as standby leader and keeps following; when the primary cluster fails
//! over, a new `standby_cluster.host`/`port` in `/config` repoints it; `praetorctl
//! promote-cluster` (or patronictl 4.1's) turns it into a normal cluster that accepts writes
//! with every row the primary cluster had acknowledged.

mod common;

use std::process::Command;
use std::time::Duration;

use praetor_testbed::Testbed;

/// Waits for group `tb`'s leader to publish `role` and for `replicas` streaming members.
async fn leader_with_role(tb: &Testbed, role: &str, replicas: usize) -> String {
    let found = common::wait_for(Duration::from_secs(120), || async {
        let v = tb.view().await.ok()?;
        let l = v.leader.as_ref()?.name.clone();
        let m = v.member(&l)?;
        let streaming = v
            .members
            .iter()
            .filter(|m| m.name != l && m.data.replication_state.as_deref() == Some("streaming"))
            .count();
        (m.data.role == role && m.is_running() && streaming >= replicas).then_some(l)
    })
    .await;
    match found {
        Some(l) => l,
        None => {
            common::dump_logs(tb);
            panic!("no {role} with {replicas} streaming replicas");
        }
    }
}

/// Whether `row` has reached member `name`.
async fn has_row(tb: &Testbed, name: &str, id: i64) -> bool {
    common::wait_for(Duration::from_secs(60), || async {
        let c = tb.pg(name).await.ok()?;
        c.query_opt("SELECT 1 FROM probe WHERE id = $1", &[&id])
            .await
            .ok()
            .flatten()
            .map(|_| ())
    })
    .await
    .is_some()
}

/// No member of the standby cluster is writable.
async fn all_read_only(tb: &Testbed) {
    for name in tb.agents.keys() {
        if let Ok(c) = tb.pg(name).await {
            let r: bool = c
                .query_one("SELECT pg_is_in_recovery()", &[])
                .await
                .unwrap()
                .get(0);
            assert!(r, "{name} of the standby cluster accepts writes");
        }
    }
}

async fn status(port: u16, path: &str) -> u16 {
    reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Writes row `id` on the primary cluster's leader.
async fn insert(main: &Testbed, id: i64) {
    let l = main.view().await.unwrap().leader.unwrap().name;
    main.pg(&l)
        .await
        .unwrap()
        .execute("INSERT INTO probe (id, member) VALUES ($1, 'main')", &[&id])
        .await
        .unwrap();
}

fn ctl(tb: &Testbed, member: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_praetorctl"));
    cmd.arg("-c").arg(&tb.agents[member].config).args(args);
    let (ok, out) = common::run_cli(&mut cmd, &args.join(" "));
    assert!(ok, "praetorctl {args:?}: {out}");
    out
}

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_cluster_on_its_own_etcd_is_promoted_with_praetorctl() {
    let _serial = SERIAL.lock().await;
    scenario(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_cluster_on_the_same_etcd_is_promoted_with_patronictl() {
    let _serial = SERIAL.lock().await;
    scenario(true).await;
}

/// The whole drill; with `shared_etcd` both groups keep their keys in one etcd (their own
/// scopes) and the real patronictl 4.1 promotes the standby cluster.
async fn scenario(shared_etcd: bool) {
    // The primary cluster keeps a permanent slot for the standby cluster.
    let mut main = common::testbed("main");
    main.extra_dcs = "    slots:\n      standby_dc:\n        type: physical\n".into();
    main.start_etcd().await.unwrap();
    for m in ["m1", "m2"] {
        main.add_agent(m).unwrap();
    }
    let primary = common::healthy(&main, 1, Duration::from_secs(120)).await;
    common::create_probe_table(&main, &primary).await;
    insert(&main, 1).await;

    let mut dr = common::testbed("dr");
    dr.extra_dcs = format!(
        "    standby_cluster:\n      host: 127.0.0.1\n      port: {}\n      primary_slot_name: standby_dc\n",
        main.agents[&primary].pg_port
    );
    if shared_etcd {
        dr.etcd_port = main.etcd_port;
    } else {
        dr.start_etcd().await.unwrap();
    }
    dr.add_agent("d1").unwrap();
    leader_with_role(&dr, "standby_leader", 0).await;
    dr.add_agent("d2").unwrap();
    let sl = leader_with_role(&dr, "standby_leader", 1).await;
    assert!(has_row(&dr, "d1", 1).await && has_row(&dr, "d2", 1).await);
    all_read_only(&dr).await;
    // The standby leader streams through the permanent slot on the primary.
    let active: bool = main
        .pg(&primary)
        .await
        .unwrap()
        .query_one(
            "SELECT active FROM pg_replication_slots WHERE slot_name = 'standby_dc'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(active, "the standby leader does not use standby_dc");
    let other = if sl == "d1" { "d2" } else { "d1" };
    let (slp, op) = (dr.agents[&sl].rest_port, dr.agents[other].rest_port);
    assert_eq!(status(slp, "/standby-leader").await, 200);
    assert_eq!(status(slp, "/leader").await, 200);
    assert_eq!(status(slp, "/primary").await, 503);
    assert_eq!(status(slp, "/replica").await, 503);
    assert_eq!(status(op, "/replica").await, 200);
    assert_eq!(status(op, "/primary").await, 503);
    let list = ctl(&dr, "d1", &["list"]);
    assert!(list.contains("Standby Leader"), "{list}");

    // A switchover inside the standby cluster: the other member becomes its standby leader.
    let out = ctl(
        &dr,
        "d1",
        &["switchover", "dr", "--candidate", other, "--force"],
    );
    assert!(out.contains("Successfully switched over"), "{out}");
    let sl = leader_with_role(&dr, "standby_leader", 1).await;
    assert_eq!(sl, other, "the switchover did not hand over");
    insert(&main, 11).await;
    assert!(
        has_row(&dr, &sl, 11).await,
        "{sl} does not follow after the switchover"
    );
    all_read_only(&dr).await;

    // kill -9 of the standby leader: the other member takes over and keeps following.
    dr.kill_member(&sl);
    let new_sl = common::wait_for(Duration::from_secs(60), || async {
        let v = dr.view().await.ok()?;
        let l = v.leader.as_ref()?.name.clone();
        let m = v.member(&l)?;
        (l != sl && m.data.role == "standby_leader").then_some(l)
    })
    .await
    .expect("no new standby leader");
    insert(&main, 2).await;
    assert!(has_row(&dr, &new_sl, 2).await, "{new_sl} does not follow");
    all_read_only(&dr).await;
    dr.start_agent(&sl).unwrap();
    leader_with_role(&dr, "standby_leader", 1).await;

    // The primary cluster fails over; a new host/port in /config repoints the standby leader.
    main.kill_member(&primary);
    let new_primary = common::wait_for(Duration::from_secs(60), || async {
        let v = main.view().await.ok()?;
        let l = v.leader.as_ref()?.name.clone();
        (l != primary && v.member(&l)?.data.role == "primary").then_some(l)
    })
    .await
    .expect("the primary cluster did not fail over");
    let port = main.agents[&new_primary].pg_port;
    let r = reqwest::Client::new()
        .patch(format!(
            "http://127.0.0.1:{}/config",
            dr.agents[&new_sl].rest_port
        ))
        .json(&serde_json::json!({"standby_cluster": {"port": port}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    insert(&main, 3).await;
    assert!(
        has_row(&dr, &new_sl, 3).await && has_row(&dr, &sl, 3).await,
        "the standby cluster does not follow the new primary"
    );
    all_read_only(&dr).await;

    // promote-cluster: the standby cluster accepts writes with every row.
    let rows: i64 = main
        .pg(&new_primary)
        .await
        .unwrap()
        .query_one("SELECT count(*) FROM probe", &[])
        .await
        .unwrap()
        .get(0);
    // The primary site is lost (its etcd stays when the standby cluster shares it).
    let names: Vec<String> = main.agents.keys().cloned().collect();
    for m in &names {
        main.kill_member(m);
    }
    let out = if shared_etcd {
        let cfg = common::patronictl_config(&dr, "");
        let (code, out) = common::patronictl(&cfg, &["promote-cluster", "dr", "--force"], None);
        assert_eq!(code, 0, "{out}");
        out
    } else {
        ctl(&dr, "d1", &["promote-cluster", "dr", "--force"])
    };
    assert!(out.contains("successfully promoted"), "{out}");
    let leader = leader_with_role(&dr, "primary", 1).await;
    let c = dr.pg(&leader).await.unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM probe", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        n, rows,
        "rows acknowledged by the primary cluster are missing"
    );
    c.execute("INSERT INTO probe (id, member) VALUES (4, 'dr')", &[])
        .await
        .unwrap();
    assert_eq!(status(dr.agents[&leader].rest_port, "/primary").await, 200);
    dr.stop_all();
    main.stop_all();
}
