//! A Citus cluster in one scope: a coordinator group (0) and two worker groups, each its own HA
//! group. Uses the real Citus extension when installed, otherwise the SQL stand-in in
//! tests/fixtures/citus_standin.sql (catalog shapes and function signatures only; see its header).

mod common;

use std::time::{Duration, Instant};

use praetor_testbed::Testbed;

const GROUPS: [(u32, [&str; 2]); 3] = [
    (0, ["coord1", "coord2"]),
    (1, ["work1-1", "work1-2"]),
    (2, ["work2-1", "work2-2"]),
];

/// Waits until every group's primary has its standby as a quorum voter (Citus groups run
/// `synchronous_mode: quorum` by default, as with Patroni 4): before that a switchover to it is
/// refused (412) and a failover impossible.
async fn voters_ready(tb: &Testbed) {
    for (g, members) in GROUPS {
        let ok = common::wait_for(Duration::from_secs(60), || async {
            let v = tb.view_group(g).await.ok()?;
            let leader = v.leader.as_ref()?.name.clone();
            let others: Vec<String> = members
                .iter()
                .filter(|m| **m != leader)
                .map(|m| m.to_string())
                .collect();
            v.sync
                .filter(|s| s.leader.as_deref() == Some(leader.as_str()) && s.members() == others)
                .map(|_| ())
        })
        .await;
        if ok.is_none() {
            common::dump_logs(tb);
            panic!("group {g}: the standby did not become a quorum voter");
        }
    }
}

async fn citus_cluster(scope: &str) -> Testbed {
    citus_cluster_in(common::testbed(scope), |_, _, _| {}).await
}

/// [`citus_cluster`] on a testbed prepared by the caller; `before_start(tb, group, member)` runs
/// after each member is configured and before its agent starts.
async fn citus_cluster_in(
    mut tb: Testbed,
    mut before_start: impl FnMut(&mut Testbed, u32, &str),
) -> Testbed {
    tb.rest_auth = Some(("admin".into(), "admin-secret".into()));
    for (g, members) in GROUPS {
        for m in members {
            tb.citus_groups.insert(m.to_string(), g);
        }
    }
    tb.start_etcd().await.unwrap();
    for (g, members) in GROUPS {
        for m in members {
            tb.configure_agent(m).unwrap();
            before_start(&mut tb, g, m);
            tb.start_agent(m).unwrap();
        }
    }
    for (g, _) in GROUPS {
        if let Err(e) = tb
            .wait_healthy_in(Some(g), 1, Duration::from_secs(120))
            .await
        {
            common::dump_logs(&tb);
            panic!("group {g}: {e:#}");
        }
    }
    voters_ready(&tb).await;
    tb
}

async fn leader_of(tb: &Testbed, g: u32) -> String {
    tb.view_group(g).await.unwrap().leader.unwrap().name
}

/// pg_dist_node on the coordinator leader: (group, host:port, role) sorted.
async fn dist_nodes(tb: &Testbed) -> Vec<(i32, String, String)> {
    dist_nodes_in(tb, "citus").await
}

/// [`dist_nodes`] of Citus database `db`.
async fn dist_nodes_in(tb: &Testbed, db: &str) -> Vec<(i32, String, String)> {
    let c = coordinator(tb, db).await;
    let mut rows: Vec<(i32, String, String)> = c
        .query(
            "SELECT groupid, nodename || ':' || nodeport, noderole::text FROM pg_dist_node",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    rows.sort();
    rows
}

async fn expected_nodes(tb: &Testbed) -> Vec<(i32, String, String)> {
    let mut want = Vec::new();
    for (g, members) in GROUPS {
        let leader = leader_of(tb, g).await;
        for m in members {
            let role = if m == leader { "primary" } else { "secondary" };
            want.push((
                g as i32,
                format!("127.0.0.1:{}", tb.agents[m].pg_port),
                role.to_string(),
            ));
        }
    }
    want.sort();
    want
}

async fn wait_metadata(tb: &Testbed, within: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    common::wait_for(within, || async {
        let want = expected_nodes(tb).await;
        (dist_nodes(tb).await == want).then(|| t0.elapsed())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citus_groups_bootstrap_and_register_in_pg_dist_node() {
    let tb = citus_cluster("citusboot").await;
    if wait_metadata(&tb, Duration::from_secs(30)).await.is_none() {
        common::dump_logs(&tb);
        panic!(
            "pg_dist_node {:?} never matched {:?}",
            dist_nodes(&tb).await,
            expected_nodes(&tb).await
        );
    }
    println!("{:?}", dist_nodes(&tb).await);
}

fn log_lines(tb: &Testbed, member: &str, needle: &str) -> Vec<String> {
    std::fs::read_to_string(&tb.agents[member].log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(String::from)
        .collect()
}

async fn authinfo(tb: &Testbed) -> Vec<(i32, String, String)> {
    let c = coordinator(tb, "citus").await;
    c.query(
        "SELECT nodeid, rolename::text, authinfo FROM pg_dist_authinfo",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

/// Asserts that the coordinator's `citus: ` log lines after the first `skip` hold the pause
/// protocol in order: BEGIN, the old primary (`old_port`) renamed `-demoted`, the new primary
/// (`new_port`) in its place, COMMIT. Prints them.
fn assert_pause_order(tb: &Testbed, coord: &str, skip: usize, old_port: u16, new_port: u16) {
    let sql: Vec<String> = log_lines(tb, coord, "citus: ")
        .into_iter()
        .skip(skip)
        .collect();
    println!("{}", sql.join("\n"));
    let pos = |pat: &str| {
        sql.iter()
            .position(|l| l.contains(pat))
            .unwrap_or_else(|| panic!("no {pat:?} in {sql:#?}"))
    };
    let begin = pos("citus: BEGIN");
    let demoted = pos(&format!("'127.0.0.1-demoted', {old_port}"));
    let promoted = pos(&format!("'127.0.0.1', {new_port}, true"));
    let commit = pos("citus: COMMIT");
    assert!(
        begin < demoted && demoted < promoted && promoted < commit,
        "{sql:#?}"
    );
}

/// Waits for group `g` to have a leader other than `old`.
async fn leader_other_than(tb: &Testbed, g: u32, old: &str) -> Option<String> {
    common::wait_for(Duration::from_secs(40), || async {
        let v = tb.view_group(g).await.ok()?;
        v.leader.map(|l| l.name).filter(|l| l != old)
    })
    .await
}

/// Starts `member`'s agent again and waits until group `g` has its standby back and
/// pg_dist_node matches the groups.
async fn rejoin(tb: &mut Testbed, member: &str, g: u32) {
    tb.start_agent(member).unwrap();
    tb.wait_healthy_in(Some(g), 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(
        wait_metadata(tb, Duration::from_secs(20)).await.is_some(),
        "{:?}",
        dist_nodes(tb).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_switchover_failover_coordinator_failover_and_deadline() {
    let mut tb = citus_cluster("citusha").await;
    assert!(wait_metadata(&tb, Duration::from_secs(30)).await.is_some());
    assert_eq!(
        authinfo(&tb).await,
        vec![(
            0,
            "postgres".to_string(),
            "password='super-secret'".to_string()
        )]
    );

    // praetorctl list: Patroni's Citus layout.
    let url = format!("etcd3://127.0.0.1:{}", tb.etcd_port);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_praetorctl"))
        .args(["--dcs-url", &url, "list", "citusha"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    println!("{table}");
    assert!(table.starts_with("+ Citus cluster: citusha "), "{table}");
    assert!(table.contains("| Group | Member "), "{table}");
    let groups: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("|     "))
        .map(|l| &l[..9])
        .collect();
    assert_eq!(
        groups,
        vec![
            "|     0 |",
            "|     0 |",
            "|     1 |",
            "|     1 |",
            "|     2 |",
            "|     2 |"
        ],
        "{table}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_praetorctl"))
        .args(["--dcs-url", &url, "list", "citusha", "--group", "1"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    let sysid = tb.view_group(1).await.unwrap().initialize.unwrap();
    assert!(
        table.starts_with(&format!("+ Citus cluster: citusha (group: 1, {sysid}) ")),
        "{table}"
    );
    assert!(!table.contains("| Group |"), "{table}");
    // remove on a Citus scope needs --group (patronictl): refused before any prompt, nothing deleted.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_praetorctl"))
        .args(["--dcs-url", &url, "remove", "citusha"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("For Citus clusters the --group must be specified"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(tb.view_group(2).await.unwrap().leader.is_some());

    // Worker switchover in group 1: BEGIN, the -demoted update, the new primary's update, COMMIT.
    let coord = leader_of(&tb, 0).await;
    let old = leader_of(&tb, 1).await;
    let new = if old == "work1-1" {
        "work1-2"
    } else {
        "work1-1"
    };
    let before = log_lines(&tb, &coord, "citus: ").len();
    let ctl_cfg = tb.dir.join("ctl.yml");
    std::fs::write(
        &ctl_cfg,
        format!("scope: citusha\netcd3: {{hosts: 127.0.0.1:{}}}\nctl: {{authentication: {{username: admin, password: admin-secret}}}}\n", tb.etcd_port),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_praetorctl"))
        .arg("-c")
        .arg(&ctl_cfg)
        .args([
            "switchover",
            "citusha",
            "--group",
            "1",
            "--candidate",
            new,
            "--force",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tb.wait_healthy_in(Some(1), 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(
        wait_metadata(&tb, Duration::from_secs(20)).await.is_some(),
        "{:?}",
        dist_nodes(&tb).await
    );
    let (old_port, new_port) = (tb.agents[&old].pg_port, tb.agents[new].pg_port);
    assert_pause_order(&tb, &coord, before, old_port, new_port);

    // A worker primary's restart (praetorctl restart): the coordinator holds writes to the group
    // (before_demote) until the restarted primary is back (after_promote), as Patroni does.
    let before = log_lines(&tb, &coord, "citus: ").len();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_praetorctl"))
        .arg("-c")
        .arg(&ctl_cfg)
        .args(["restart", "citusha", new, "--group", "1", "--force"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        wait_metadata(&tb, Duration::from_secs(20)).await.is_some(),
        "{:?}",
        dist_nodes(&tb).await
    );
    assert_pause_order(&tb, &coord, before, new_port, new_port);

    // Worker failover in group 2: kill -9 of the primary's agent and postmaster.
    voters_ready(&tb).await;
    let old2 = leader_of(&tb, 2).await;
    // The moment a standby of group 2 takes writes, watched on open sessions every 5 ms.
    let mut standbys = Vec::new();
    for (name, _) in tb
        .agents
        .iter()
        .filter(|(n, _)| n.starts_with("work2-") && **n != old2)
    {
        standbys.push(tb.pg(name).await.unwrap());
    }
    let promoted = tokio::spawn(async move {
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until {
            for c in &standbys {
                if let Ok(r) = c.query_one("SELECT pg_is_in_recovery()", &[]).await {
                    if !r.get::<_, bool>(0) {
                        return Instant::now();
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("no standby of group 2 took writes within 60 s");
    });
    let killed = Instant::now();
    tb.kill_member(&old2);
    let new2 = leader_other_than(&tb, 2, &old2)
        .await
        .expect("group 2 elects a new leader");
    let want = (
        2,
        format!("127.0.0.1:{}", tb.agents[&new2].pg_port),
        "primary".to_string(),
    );
    let coordinator = connect_as(&tb, &coord, "super-secret", "citus")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    let moved_at = loop {
        let row: Option<(i32, String, String)> = coordinator
            .query_opt(
                "SELECT groupid, nodename || ':' || nodeport, noderole::text FROM pg_dist_node \
                 WHERE groupid = 2 AND noderole = 'primary'",
                &[],
            )
            .await
            .unwrap()
            .map(|r| (r.get(0), r.get(1), r.get(2)));
        if row.as_ref() == Some(&want) {
            break Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "pg_dist_node does not follow the new worker primary: {:?}",
            dist_nodes(&tb).await
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let promoted_at = promoted.await.unwrap();
    println!(
        "group 2 failover: primary row moved {:?} after the kill (ttl {} s), {} ms after the new primary took writes",
        moved_at - killed,
        common::TIMING.ttl,
        moved_at.saturating_duration_since(promoted_at).as_millis()
    );
    rejoin(&mut tb, &old2, 2).await;

    // `systemctl stop` of group 2's primary (SIGTERM to its agent): the worker tells the
    // coordinator before_demote, so writes to the group are held (BEGIN, the -demoted row) while
    // it stops, and the standby's promotion moves the primary row (COMMIT).
    voters_ready(&tb).await;
    let stopping = leader_of(&tb, 2).await;
    let before = log_lines(&tb, &coord, "citus: ").len();
    tb.signal_agent(&stopping, nix::sys::signal::Signal::SIGTERM);
    let taking = leader_other_than(&tb, 2, &stopping)
        .await
        .expect("group 2's standby takes over when its primary stops");
    let taking_row = (
        2,
        format!("127.0.0.1:{}", tb.agents[&taking].pg_port),
        "primary".to_string(),
    );
    let moved = common::wait_for(Duration::from_secs(20), || async {
        dist_nodes(&tb).await.contains(&taking_row).then_some(())
    })
    .await;
    assert!(moved.is_some(), "{:?}", dist_nodes(&tb).await);
    let (old_port, new_port) = (tb.agents[&stopping].pg_port, tb.agents[&taking].pg_port);
    assert_pause_order(&tb, &coord, before, old_port, new_port);
    rejoin(&mut tb, &stopping, 2).await;

    // A before_demote whose after_promote never comes: rolled back at the deadline.
    let w1 = leader_of(&tb, 1).await;
    let coord_rest = tb.agents[&coord].rest_port;
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{coord_rest}/citus"))
        .basic_auth("admin", Some("admin-secret"))
        .json(&serde_json::json!({"type": "before_demote", "group": 1, "leader": w1, "timeout": 2, "cooldown": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let rolled = common::wait_for(Duration::from_secs(15), || async {
        (!log_lines(&tb, &coord, "rolling back the pause transaction of group 1").is_empty())
            .then_some(())
    })
    .await;
    assert!(
        rolled.is_some(),
        "the pause transaction was not rolled back at its deadline"
    );
    assert!(
        wait_metadata(&tb, Duration::from_secs(10)).await.is_some(),
        "{:?}",
        dist_nodes(&tb).await
    );
    // An event from a member that does not hold its group's leader key is ignored.
    let not_leader = if w1 == "work1-1" {
        "work1-2"
    } else {
        "work1-1"
    };
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{coord_rest}/citus"))
        .basic_auth("admin", Some("admin-secret"))
        .json(&serde_json::json!({"type": "before_demote", "group": 1, "leader": not_leader, "timeout": 30, "cooldown": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(!log_lines(&tb, &coord, "discarding event before_demote").is_empty());
    let unauth = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{coord_rest}/citus"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status().as_u16(), 401);

    // Coordinator failover: the new coordinator leader fixes its own row and keeps reconciling.
    voters_ready(&tb).await;
    tb.kill_member(&coord);
    let new_coord = leader_other_than(&tb, 0, &coord)
        .await
        .expect("group 0 elects a new leader");
    let fixed = common::wait_for(Duration::from_secs(30), || async {
        let rows = dist_nodes(&tb).await;
        rows.contains(&(
            0,
            format!("127.0.0.1:{}", tb.agents[&new_coord].pg_port),
            "primary".into(),
        ))
        .then_some(())
    })
    .await;
    assert!(fixed.is_some(), "{:?}", dist_nodes(&tb).await);
    rejoin(&mut tb, &coord, 0).await;
}

/// With the real Citus extension only: a client inserting into a distributed table every 10 ms
/// through the coordinator sees zero errors across a worker switchover; the longest pause is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_writes_see_a_pause_not_errors_across_a_worker_switchover() {
    if !Testbed::citus_installed() {
        println!("skipped: the Citus extension is not installed here (the stand-in cannot distribute writes)");
        return;
    }
    let tb = citus_cluster("cituswrites").await;
    assert!(wait_metadata(&tb, Duration::from_secs(30)).await.is_some());
    let c = coordinator(&tb, "citus").await;
    c.batch_execute("CREATE TABLE events (id bigserial, at timestamptz DEFAULT now()); SELECT create_distributed_table('events', 'id')")
        .await
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = statement_loop(
        c,
        "INSERT INTO events DEFAULT VALUES",
        "write".into(),
        stop.clone(),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    switch_over_group_1(&tb).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (acked, errors, longest) = writer.await.unwrap();
    println!("worker switchover under distributed writes: {acked} acknowledged, {errors} errors, longest pause {longest:?}");
    assert_eq!(errors, 0);
}

/// The real patronictl 4.1.5 against praetor's Citus scope: `list` shows every group, commands
/// that act on members refuse to guess the group (`--group` is required, as in Patroni), and a
/// `switchover --group 1` and a `failover --group 2` move the workers' leaders, with pg_dist_node
/// following; `restart`, `reload`, `dsn` and `list` honour `--group`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_patronictl_drives_a_citus_scope_by_group() {
    common::patroni_venv();
    let tb = citus_cluster("citusctl").await;
    assert!(wait_metadata(&tb, Duration::from_secs(30)).await.is_some());
    let cfg = common::patronictl_config(
        &tb,
        "citus:\n  group: 0\n  database: citus\n\
         ctl:\n  authentication:\n    username: admin\n    password: admin-secret\n",
    );
    let run = |args: &[&str], input: Option<&str>| common::patronictl(&cfg, args, input);
    let ok = |args: &[&str]| {
        let (code, out) = run(args, None);
        assert_eq!(code, 0, "patronictl {}: {out}", args.join(" "));
        out
    };

    // Every group in one table, a leader in each.
    let table = ok(&["list"]);
    assert!(table.contains("Citus cluster: citusctl"), "{table}");
    assert!(table.contains("| Group |"), "{table}");
    for (g, members) in GROUPS {
        for m in members {
            let row = table
                .lines()
                .find(|l| l.contains(&format!("| {m} ")))
                .unwrap_or_else(|| panic!("no row for {m} in\n{table}"));
            assert_eq!(
                row.split('|').nth(1).map(str::trim),
                Some(&*g.to_string()),
                "{row}"
            );
        }
    }
    assert_eq!(table.matches("| Leader ").count(), 3, "{table}");
    let rows: serde_json::Value = serde_json::from_str(&ok(&["list", "-f", "json"])).unwrap();
    assert_eq!(rows.as_array().map(Vec::len), Some(6), "{rows}");
    let only1 = ok(&["list", "--group", "1"]);
    assert!(
        only1.contains("work1-1") && !only1.contains("work2-1") && !only1.contains("coord1"),
        "{only1}"
    );

    // Without --group a switchover is refused, as Patroni refuses it.
    let (code, out) = run(&["switchover", "--force"], None);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("--group must me specified"), "{out}");

    // A worker switchover by group; the coordinator's metadata follows.
    let old1 = leader_of(&tb, 1).await;
    let new1 = if old1 == "work1-1" {
        "work1-2"
    } else {
        "work1-1"
    };
    let out = ok(&[
        "switchover",
        "--group",
        "1",
        "--leader",
        &old1,
        "--candidate",
        new1,
        "--force",
    ]);
    assert!(
        out.contains(&format!("Successfully switched over to \"{new1}\"")),
        "{out}"
    );
    tb.wait_healthy_in(Some(1), 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(leader_of(&tb, 1).await, new1);
    assert!(
        wait_metadata(&tb, Duration::from_secs(30)).await.is_some(),
        "{:?}",
        dist_nodes(&tb).await
    );

    // A worker failover by group.
    let old2 = leader_of(&tb, 2).await;
    let new2 = if old2 == "work2-1" {
        "work2-2"
    } else {
        "work2-1"
    };
    let out = ok(&["failover", "--group", "2", "--candidate", new2, "--force"]);
    assert!(
        out.contains(&format!("Successfully failed over to \"{new2}\"")),
        "{out}"
    );
    tb.wait_healthy_in(Some(2), 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(leader_of(&tb, 2).await, new2);
    assert!(
        wait_metadata(&tb, Duration::from_secs(30)).await.is_some(),
        "{:?}",
        dist_nodes(&tb).await
    );

    // Member commands filtered by group: the DSN of group 2's leader, a reload and a restart
    // of group 1's replica only.
    let dsn = ok(&["dsn", "citusctl", "--group", "2"]);
    assert!(
        dsn.contains(&format!("port={}", tb.agents[new2].pg_port)),
        "{dsn}"
    );
    let out = ok(&["reload", "citusctl", "--group", "1", "--force"]);
    assert!(
        out.contains(&format!("Reload request received for member {new1}")),
        "{out}"
    );
    assert!(!out.contains("work2-"), "{out}");
    let out = ok(&[
        "restart", "citusctl", "--group", "1", "--role", "replica", "--force",
    ]);
    let replica1 = &old1;
    assert!(
        out.contains(&format!("Success: restart on member {replica1}")),
        "{out}"
    );
    assert!(!out.contains(&format!("member {new1}")), "{out}");
    tb.wait_healthy_in(Some(1), 1, Duration::from_secs(60))
        .await
        .unwrap();
}

/// A switchover of worker group 1 to its standby through the leader's `POST /switchover`;
/// returns the new primary once the group is healthy again.
async fn switch_over_group_1(tb: &Testbed) -> String {
    let old = leader_of(tb, 1).await;
    let new = if old == "work1-1" {
        "work1-2"
    } else {
        "work1-1"
    };
    post_switchover(tb, &old, new).await;
    tb.wait_healthy_in(Some(1), 1, Duration::from_secs(60))
        .await
        .unwrap();
    new.to_string()
}

/// `POST /switchover` from `old` to `new` on `old`'s REST API; asserts a 200.
async fn post_switchover(tb: &Testbed, old: &str, new: &str) {
    let r = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/switchover",
            tb.agents[old].rest_port
        ))
        .basic_auth("admin", Some("admin-secret"))
        .json(&serde_json::json!({"leader": old, "candidate": new}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "switchover {old} → {new}");
}

/// What a statement loop saw: statements done, errors, the longest time between two successes.
type LoopOutcome = (u64, u64, Duration);

/// Runs `sql` on `c` every 10 ms until `stop` is set; errors are counted and printed with
/// `label`.
fn statement_loop(
    c: tokio_postgres::Client,
    sql: &'static str,
    label: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<LoopOutcome> {
    tokio::spawn(async move {
        let (mut ok, mut errors, mut last, mut longest) =
            (0u64, 0u64, Instant::now(), Duration::ZERO);
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            match c.execute(sql, &[]).await {
                Ok(_) => {
                    ok += 1;
                    longest = longest.max(last.elapsed());
                    last = Instant::now();
                }
                Err(e) => {
                    errors += 1;
                    eprintln!("{label}: {e}");
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (ok, errors, longest)
    })
}

/// pg_dist_poolinfo on the coordinator leader: (member host:port, poolinfo) sorted.
async fn dist_pools(tb: &Testbed) -> Vec<(String, String)> {
    let c = coordinator(tb, "citus").await;
    let mut rows: Vec<(String, String)> = c
        .query(
            "SELECT n.nodename || ':' || n.nodeport, p.poolinfo \
             FROM pg_dist_poolinfo p JOIN pg_dist_node n USING (nodeid)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    rows.sort();
    rows
}

/// What etcd says pg_dist_poolinfo should hold: every worker member that publishes a
/// `proxy_url`, pointing at it.
async fn expected_pools(tb: &Testbed) -> Vec<(String, String)> {
    let mut want = Vec::new();
    for g in [1, 2] {
        for m in tb.view_group(g).await.unwrap().members {
            if let (Some((h, p)), Some((ph, pp))) = (m.host_port(), m.pooler()) {
                want.push((format!("{h}:{p}"), format!("host={ph} port={pp}")));
            }
        }
    }
    want.sort();
    want
}

/// Waits until pg_dist_node and pg_dist_poolinfo both match etcd; panics with both otherwise.
async fn pools_follow(tb: &Testbed, when: &str) {
    let ok = common::wait_for(Duration::from_secs(30), || async {
        (dist_nodes(tb).await == expected_nodes(tb).await
            && dist_pools(tb).await == expected_pools(tb).await)
            .then_some(())
    })
    .await;
    assert!(
        ok.is_some(),
        "{when}: pg_dist_poolinfo {:?}, etcd says {:?}; pg_dist_node {:?}",
        dist_pools(tb).await,
        expected_pools(tb).await,
        dist_nodes(tb).await
    );
}

/// A real PgBouncer beside every worker member (`postgresql.proxy_address`, here through
/// PATRONI_POSTGRESQL_PROXY_ADDRESS): pg_dist_poolinfo matches etcd after start, a worker
/// switchover, a worker failover (kill -9) and a pooler removed; a client through a worker's
/// pooler keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poolers_follow_worker_primaries_in_pg_dist_poolinfo() {
    if let Err(e) = praetor_testbed::find_pgbouncer() {
        println!("skipped: {e:#}");
        return;
    }
    let mut poolers = std::collections::BTreeMap::new();
    let mut tb = citus_cluster_in(common::testbed("cituspool"), |tb, g, m| {
        if g != 0 {
            let p = tb.start_pooler(m).unwrap();
            tb.agent_env.insert(
                m.to_string(),
                vec![(
                    "PATRONI_POSTGRESQL_PROXY_ADDRESS".into(),
                    format!("127.0.0.1:{}", p.port),
                )],
            );
            poolers.insert(m.to_string(), p);
        }
    })
    .await;
    pools_follow(&tb, "after start").await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_praetorctl"))
        .args([
            "-c",
            &tb.dir.join("work1-1.yml").display().to_string(),
            "list",
        ])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    println!("{table}");
    assert!(table.contains("| Pooler "), "{table}");
    assert!(
        !table.contains("Citus databases"),
        "one database: as patronictl prints it"
    );
    assert_eq!(expected_pools(&tb).await.len(), 4);

    // A client through group 1's primary's pooler.
    let w1 = leader_of(&tb, 1).await;
    let through = |port: u16| async move {
        let (c, conn) = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={port} user=postgres password=super-secret dbname=postgres"
            ),
            tokio_postgres::NoTls,
        )
        .await
        .expect("connecting through the pooler");
        tokio::spawn(conn);
        c.query_one("SELECT NOT pg_is_in_recovery()", &[])
            .await
            .expect("querying through the pooler")
            .get::<_, bool>(0)
    };
    assert!(through(poolers[&w1].port).await);

    // Worker switchover in group 1: the primary row's pooler follows the new primary.
    let new1 = switch_over_group_1(&tb).await;
    pools_follow(&tb, "after a worker switchover").await;
    assert!(through(poolers[&new1].port).await);

    // Worker failover in group 2 (kill -9 of the primary's agent and postmaster).
    voters_ready(&tb).await;
    let old2 = leader_of(&tb, 2).await;
    tb.kill_member(&old2);
    leader_other_than(&tb, 2, &old2)
        .await
        .expect("group 2 elects a new leader");
    rejoin(&mut tb, &old2, 2).await;
    pools_follow(&tb, "after a worker failover").await;

    // A standby drops its pooler (restarted without proxy_address): its row goes.
    let standby1 = if leader_of(&tb, 1).await == "work1-1" {
        "work1-2"
    } else {
        "work1-1"
    };
    tb.signal_agent(standby1, nix::sys::signal::Signal::SIGTERM);
    common::wait_for(Duration::from_secs(30), || async {
        tb.view_group(1)
            .await
            .ok()?
            .member(standby1)
            .is_none()
            .then_some(())
    })
    .await;
    tb.agent_env.remove(standby1);
    poolers.remove(standby1);
    rejoin(&mut tb, standby1, 1).await;
    pools_follow(&tb, "after a pooler was removed").await;
    assert_eq!(expected_pools(&tb).await.len(), 3);
    tb.stop_all();
}

/// Two Citus databases (`citus.databases: [citus, citus2]`): each gets Citus (or the stand-in),
/// its pg_dist_authinfo row and its pg_dist_node upkeep; a worker switchover pauses writes in
/// both at once (a BEGIN … COMMIT in each, on its own connection) under a client in each database
/// that sees a wait and no error, and both catalogs end on the new primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_citus_databases_follow_a_worker_switchover() {
    let mut tb = common::testbed("citus2db");
    tb.citus_databases = Some(vec!["citus".into(), "citus2".into()]);
    let tb = citus_cluster_in(tb, |_, _, _| {}).await;
    for db in ["citus", "citus2"] {
        let ok = common::wait_for(Duration::from_secs(30), || async {
            (dist_nodes_in(&tb, db).await == expected_nodes(&tb).await).then_some(())
        })
        .await;
        assert!(ok.is_some(), "{db}: {:?}", dist_nodes_in(&tb, db).await);
    }
    let coord = leader_of(&tb, 0).await;
    let before = log_lines(&tb, &coord, "citus: ").len();
    // A client in each database through the coordinator. With real Citus: an INSERT into a
    // distributed table every 10 ms. With the stand-in (which distributes nothing): a read of group
    // 1's primary row FOR SHARE every 10 ms, which waits while the pause transaction holds it, as
    // Citus's writes to the group do.
    let real = Testbed::citus_installed();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for db in ["citus", "citus2"] {
        let c = connect_as(&tb, &coord, "super-secret", db).await.unwrap();
        let sql = if real {
            c.batch_execute("CREATE TABLE events (id bigserial, at timestamptz DEFAULT now()); SELECT create_distributed_table('events', 'id')")
                .await
                .unwrap();
            "INSERT INTO events DEFAULT VALUES"
        } else {
            "SELECT nodeport FROM pg_dist_node WHERE groupid = 1 AND noderole = 'primary' FOR SHARE"
        };
        clients.push((db, statement_loop(c, sql, db.into(), stop.clone())));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    switch_over_group_1(&tb).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for (db, c) in clients {
        let (ok, errors, longest) = c.await.unwrap();
        println!(
            "{db}: {ok} statements across the worker switchover, {errors} errors, longest wait {longest:?}"
        );
        assert_eq!(errors, 0, "{db}: a pause, not errors");
        assert!(ok > 10, "{db}");
    }
    for db in ["citus", "citus2"] {
        let ok = common::wait_for(Duration::from_secs(30), || async {
            (dist_nodes_in(&tb, db).await == expected_nodes(&tb).await).then_some(())
        })
        .await;
        assert!(ok.is_some(), "{db}: {:?}", dist_nodes_in(&tb, db).await);
        let after: Vec<String> = log_lines(&tb, &coord, "citus: ")
            .into_iter()
            .skip(before)
            .filter(|l| l.ends_with(&format!("(database {db})")))
            .collect();
        let pos = |pat: &str| after.iter().position(|l| l.contains(pat));
        let (begin, commit) = (pos("citus: BEGIN"), pos("citus: COMMIT"));
        assert!(
            begin.is_some() && commit.is_some() && begin < commit,
            "{db}: the pause transaction: {after:#?}"
        );
    }
    let mut tb = tb;
    tb.stop_all();
}

/// A superuser session on database `db` of the coordinator leader's server.
async fn coordinator(tb: &Testbed, db: &str) -> tokio_postgres::Client {
    connect_as(tb, &leader_of(tb, 0).await, "super-secret", db)
        .await
        .unwrap()
}

/// A connection as `postgres` with `password` to database `db` on the member's server.
async fn connect_as(
    tb: &Testbed,
    member: &str,
    password: &str,
    db: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let port = tb.agents[member].pg_port;
    let (c, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={port} user=postgres password={password} dbname={db} connect_timeout=3"
        ),
        tokio_postgres::NoTls,
    )
    .await?;
    tokio::spawn(conn);
    Ok(c)
}

/// Credential rotation on a running cluster: the superuser's password is changed in every
/// member's file and reloaded (POST /reload, workers first). Meanwhile a session on the
/// coordinator writes to worker group 1's primary every 10 ms over a kept dblink connection made
/// from pg_dist_node and pg_dist_authinfo (as Citus keeps its connections), and opens a fresh one
/// from the current pg_dist_authinfo every 50 ms. Afterwards: the old password works nowhere, the
/// new one everywhere (standbys too), pg_dist_authinfo holds it in both databases on every
/// primary, every member's pgpass has it, and the kept connection's writes saw 0 errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn superuser_password_rotation_reaches_every_node_without_errors() {
    let mut tb = common::testbed("cituspw");
    tb.citus_databases = Some(vec!["citus".into(), "citus2".into()]);
    let mut tb = citus_cluster_in(tb, |_, _, _| {}).await;
    assert!(wait_metadata(&tb, Duration::from_secs(30)).await.is_some());
    let coord = leader_of(&tb, 0).await;
    let worker = leader_of(&tb, 1).await;
    let wport = tb.agents[&worker].pg_port;
    let w = connect_as(&tb, &worker, "super-secret", "citus")
        .await
        .unwrap();
    w.batch_execute("CREATE TABLE rotation_probe (id bigserial, at timestamptz DEFAULT now())")
        .await
        .unwrap();
    // What an interrupted rotation leaves: a prepared transaction holding the role's row.
    let w2 = connect_as(&tb, &worker, "super-secret", "citus2")
        .await
        .unwrap();
    w2.batch_execute(
        "BEGIN; ALTER ROLE postgres CONNECTION LIMIT -1; PREPARE TRANSACTION 'praetor_credentials_left'",
    )
    .await
    .unwrap();
    let c = connect_as(&tb, &coord, "super-secret", "citus")
        .await
        .unwrap();
    c.batch_execute("CREATE EXTENSION IF NOT EXISTS dblink")
        .await
        .unwrap();
    let target = format!("host=127.0.0.1 port={wport} user=postgres dbname=citus ");
    let authinfo_sql =
        "(SELECT authinfo FROM pg_dist_authinfo WHERE nodeid = 0 AND rolename = 'postgres')";
    c.execute(
        &format!("SELECT dblink_connect('w1', $1 || {authinfo_sql})"),
        &[&target],
    )
    .await
    .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let t2 = target.clone();
    let client = tokio::spawn(async move {
        let target = t2;
        let (mut kept_ok, mut kept_err, mut fresh_ok, mut fresh_err) = (0u64, 0u64, 0u64, 0u64);
        let mut n = 0u64;
        while !s2.load(std::sync::atomic::Ordering::SeqCst) {
            match c
                .execute(
                    "SELECT dblink_exec('w1', 'INSERT INTO rotation_probe DEFAULT VALUES')",
                    &[],
                )
                .await
            {
                Ok(_) => kept_ok += 1,
                Err(e) => {
                    kept_err += 1;
                    eprintln!("kept connection: {e}");
                }
            }
            n += 1;
            if n % 5 == 0 {
                let sql =
                    format!("SELECT x FROM dblink($1 || {authinfo_sql}, 'SELECT 1') AS t(x int)");
                match c.query(&sql, &[&target]).await {
                    Ok(_) => fresh_ok += 1,
                    Err(e) => {
                        fresh_err += 1;
                        eprintln!("fresh connection: {e}");
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (kept_ok, kept_err, fresh_ok, fresh_err)
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut members: Vec<(u32, &str)> = GROUPS
        .iter()
        .flat_map(|(g, ms)| ms.iter().map(move |m| (*g, *m)))
        .collect();
    // Workers first, the coordinator's leader last (as README asks).
    members.sort_by_key(|(g, m)| (std::cmp::Reverse(*g), *m == coord));
    let http = reqwest::Client::new();
    for (_, m) in &members {
        let path = tb.dir.join(format!("{m}.yml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.replace(
            "superuser: {username: postgres, password: super-secret",
            "superuser: {username: postgres, password: rotated-secret",
        );
        std::fs::write(&path, text).unwrap();
        let r = http
            .post(format!(
                "http://127.0.0.1:{}/reload",
                tb.agents[*m].rest_port
            ))
            .basic_auth("admin", Some("admin-secret"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202, "{m}: POST /reload");
    }
    let rotated = common::wait_for(Duration::from_secs(30), || async {
        for (_, m) in &members {
            if connect_as(&tb, m, "super-secret", "postgres").await.is_ok()
                || connect_as(&tb, m, "rotated-secret", "postgres")
                    .await
                    .is_err()
            {
                return None;
            }
        }
        Some(())
    })
    .await;
    if rotated.is_none() {
        common::dump_logs(&tb);
        panic!("the old password still works somewhere, or the new one does not");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (kept_ok, kept_err, fresh_ok, fresh_err) = client.await.unwrap();
    println!(
        "rotation under writes: kept connection {kept_ok} writes, {kept_err} errors; fresh connections {fresh_ok} ok, {fresh_err} refused"
    );
    assert_eq!(kept_err, 0, "writes over the kept connection failed");
    assert!(kept_ok > 50);
    for g in [0, 1, 2] {
        let leader = leader_of(&tb, g).await;
        for db in ["citus", "citus2"] {
            let c = connect_as(&tb, &leader, "rotated-secret", db)
                .await
                .unwrap();
            let rows: Vec<String> = c
                .query(
                    "SELECT authinfo FROM pg_dist_authinfo WHERE rolename = 'postgres'",
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            assert_eq!(
                rows,
                ["password='rotated-secret'"],
                "group {g}, database {db}"
            );
        }
    }
    let c = connect_as(&tb, &leader_of(&tb, 0).await, "rotated-secret", "citus")
        .await
        .unwrap();
    let fresh: Vec<i32> = c
        .query(
            &format!("SELECT x FROM dblink($1 || {authinfo_sql}, 'SELECT 1') AS t(x int)"),
            &[&target],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        fresh,
        [1],
        "a fresh connection from the new pg_dist_authinfo"
    );
    for (_, m) in &members {
        let pgpass =
            std::fs::read_to_string(format!("{}.pgpass", tb.agents[*m].data_dir.display()))
                .unwrap_or_default();
        assert!(
            pgpass.contains("postgres:rotated-secret") && !pgpass.contains("super-secret"),
            "{m}'s pgpass: {pgpass}"
        );
    }
    let left: i64 = connect_as(&tb, &worker, "rotated-secret", "postgres")
        .await
        .unwrap()
        .query_one("SELECT count(*) FROM pg_prepared_xacts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        left, 0,
        "the interrupted rotation's transaction was rolled back"
    );
    for l in log_lines(&tb, &coord, "rotat") {
        println!("{l}");
    }
    // The other coordinator member reloaded the same credentials: when it leads, it finds every
    // node in step and rotates nothing.
    let other = if coord == "coord1" {
        "coord2"
    } else {
        "coord1"
    };
    post_switchover(&tb, &coord, other).await;
    tb.wait_healthy_in(Some(0), 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(leader_of(&tb, 0).await, other);
    let checked = common::wait_for(Duration::from_secs(30), || async {
        (!log_lines(&tb, other, "every Citus node holds the configured").is_empty()).then_some(())
    })
    .await;
    assert!(
        checked.is_some(),
        "{other} never checked the nodes' credentials"
    );
    assert!(
        log_lines(&tb, other, "citus: rotating").is_empty(),
        "{other} rotated again: {:#?}",
        log_lines(&tb, other, "rotat")
    );
    let coord_log = log_lines(&tb, &coord, "citus: ");
    assert!(
        coord_log.iter().all(|l| !l.contains("rotated-secret")),
        "a password in the log"
    );
    tb.stop_all();
}

/// Read scaling (real Citus only): with `citus.use_secondary_nodes = 'always'` a read-only
/// client of the coordinator is served by the worker groups' secondaries, and keeps being served
/// across a worker switchover. Group 1 has a third member, so it keeps a secondary while the
/// old primary rejoins as a standby.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secondary_reads_survive_a_worker_switchover() {
    if !Testbed::citus_installed() {
        println!("skipped: the Citus extension is not installed here (the stand-in serves no reads from secondaries)");
        return;
    }
    let mut tb = common::testbed("citusreads");
    tb.rest_auth = Some(("admin".into(), "admin-secret".into()));
    let mut groups: Vec<(u32, Vec<&str>)> =
        GROUPS.iter().map(|(g, ms)| (*g, ms.to_vec())).collect();
    groups[1].1.push("work1-3");
    for (g, members) in &groups {
        for m in members {
            tb.citus_groups.insert(m.to_string(), *g);
        }
    }
    tb.start_etcd().await.unwrap();
    for (_, members) in &groups {
        for m in members {
            tb.configure_agent(m).unwrap();
            tb.start_agent(m).unwrap();
        }
    }
    for (g, members) in &groups {
        tb.wait_healthy_in(Some(*g), members.len() - 1, Duration::from_secs(120))
            .await
            .unwrap();
    }
    assert!(wait_metadata(&tb, Duration::from_secs(60)).await.is_some());
    let coord = leader_of(&tb, 0).await;
    let port = tb.agents[&coord].pg_port;
    let base =
        format!("host=127.0.0.1 port={port} user=postgres password=super-secret dbname=citus");
    let (w, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    w.batch_execute(
        "CREATE TABLE readings (id bigint, v int); SELECT create_distributed_table('readings', 'id'); \
         INSERT INTO readings SELECT g, g FROM generate_series(1, 1000) g",
    )
    .await
    .unwrap();
    // Until the standbys have replayed the table, secondaries answer "does not exist".
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut cfg: tokio_postgres::Config = base.parse().unwrap();
    cfg.options("-c citus.use_secondary_nodes=always");
    let (r, conn) = cfg.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let n: i64 = r
        .query_one("SELECT count(*) FROM readings", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1000);
    let old = leader_of(&tb, 1).await;
    let new = if old == "work1-1" {
        "work1-2"
    } else {
        "work1-1"
    };
    let ok = common::wait_for(Duration::from_secs(60), || async {
        let v = tb.view_group(1).await.ok()?;
        v.sync
            .filter(|s| s.members().iter().any(|m| m == new))
            .map(|_| ())
    })
    .await;
    assert!(ok.is_some(), "{new} never became a quorum voter");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let reader = tokio::spawn(async move {
        let (mut served, mut errors) = (0u64, 0u64);
        while !s2.load(std::sync::atomic::Ordering::SeqCst) {
            match r.query_one("SELECT count(*) FROM readings", &[]).await {
                Ok(row) if row.get::<_, i64>(0) == 1000 => served += 1,
                Ok(row) => {
                    errors += 1;
                    eprintln!("read {} rows", row.get::<_, i64>(0));
                }
                Err(e) => {
                    errors += 1;
                    eprintln!("read error: {e}");
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (served, errors)
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    post_switchover(&tb, &old, new).await;
    tb.wait_healthy_in(Some(1), 2, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(wait_metadata(&tb, Duration::from_secs(30)).await.is_some());
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (served, errors) = reader.await.unwrap();
    println!("secondary reads across a worker switchover: {served} served, {errors} errors");
    assert_eq!(errors, 0);
    assert!(served > 100);
    tb.stop_all();
}
