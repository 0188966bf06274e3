//! The real patronictl (Patroni 4.1.5 from PyPI) against a praetor group: `list` shows the members
//! as praetor's own table does, and `switchover --force` moves the leader.

mod common;

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_patronictl_lists_and_switches_over_a_praetor_group() {
    common::patroni_venv();
    let (tb, leader) = common::three_member_group("interop", 3).await;
    let cfg = common::patronictl_config(&tb, "");
    let patronictl = |args: &[&str]| {
        let (code, out) = common::patronictl(&cfg, args, None);
        (code == 0, out)
    };

    let (ok, table) = patronictl(&["list"]);
    assert!(ok, "{table}");
    let sysid = tb.view().await.unwrap().initialize.unwrap();
    assert!(
        table.contains(&format!("Cluster: interop ({sysid})")),
        "{table}"
    );
    let leader_row = table
        .lines()
        .find(|l| l.contains(&format!("| {leader} ")))
        .unwrap();
    assert!(
        leader_row.contains("| Leader ") && leader_row.contains("| running "),
        "{leader_row}"
    );
    assert_eq!(table.matches("| Replica ").count(), 2, "{table}");
    assert_eq!(table.matches("| streaming ").count(), 2, "{table}");

    let candidate = ["m1", "m2", "m3"]
        .into_iter()
        .find(|m| *m != leader)
        .unwrap();
    let (ok, out) = patronictl(&[
        "switchover",
        "--leader",
        &leader,
        "--candidate",
        candidate,
        "--force",
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("Successfully switched over to \"{candidate}\"")),
        "{out}"
    );
    tb.wait_healthy(2, Duration::from_secs(60)).await.unwrap();
    assert_eq!(tb.view().await.unwrap().leader.unwrap().name, candidate);
    let (ok, table) = patronictl(&["list"]);
    assert!(ok);
    let row = table
        .lines()
        .find(|l| l.contains(&format!("| {candidate} ")))
        .unwrap();
    assert!(row.contains("| Leader "), "{table}");
}

/// Every patronictl 4.1.5 command against a praetor group, with its exit code and what it prints
/// checked: list in each format, topology, show-config and edit-config, reload, pause and resume,
/// restart (a member, by role, pending only, scheduled, then flushed), a scheduled switchover
/// flushed, failover, reinit, history, query, dsn, version and, with the agents stopped, remove.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_patronictl_drives_every_command() {
    common::patroni_venv();
    let (mut tb, leader) = common::three_member_group("every", 3).await;
    let cfg = common::patronictl_config(&tb, "");
    let run = |args: &[&str], input: Option<&str>| common::patronictl(&cfg, args, input);
    let ok = |args: &[&str], needles: &[&str]| {
        let (code, out) = run(args, None);
        assert_eq!(code, 0, "patronictl {}: {out}", args.join(" "));
        for n in needles {
            assert!(
                out.contains(n),
                "patronictl {}: no {n:?} in\n{out}",
                args.join(" ")
            );
        }
        out
    };
    let replicas: Vec<String> = ["m1", "m2", "m3"]
        .iter()
        .filter(|m| **m != leader)
        .map(|m| m.to_string())
        .collect();
    let replica = replicas[0].as_str();
    let in_an_hour = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string();

    // list in every format, topology.
    ok(
        &["list"],
        &["+ Cluster: every (", "| Leader ", "| streaming "],
    );
    let json = ok(&["list", "-f", "json"], &[]);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows.as_array().map(Vec::len), Some(3), "{json}");
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .any(|r| r["Member"] == leader.as_str() && r["Role"] == "Leader"),
        "{json}"
    );
    ok(&["list", "-f", "yaml"], &["Member: m1", "Role: Leader"]);
    ok(
        &["list", "-f", "tsv"],
        &["Cluster\tMember\tHost\tRole\tState\tTL"],
    );
    ok(
        &["list", "-e"],
        &["Pending restart", "Scheduled restart", "Tags"],
    );
    let topo = ok(&["topology"], &[&format!("| {leader} ")]);
    assert_eq!(topo.matches("| + ").count(), 2, "{topo}");

    // Dynamic configuration.
    ok(&["show-config"], &["loop_wait: 2", "ttl: 10"]);
    ok(
        &["edit-config", "--force", "-s", "loop_wait=1"],
        &["loop_wait: 1"],
    );
    ok(&["show-config"], &["loop_wait: 1"]);
    assert_eq!(tb.view().await.unwrap().config.unwrap().loop_wait, 1);
    ok(&["edit-config", "--force", "-s", "loop_wait=2"], &[]);
    ok(
        &["reload", "every", "--force"],
        &["Reload request received for member"],
    );

    // Maintenance mode.
    ok(
        &["pause", "--wait"],
        &["Success: cluster management is paused"],
    );
    ok(&["list"], &[" Maintenance mode: on"]);
    ok(
        &["resume", "--wait"],
        &["Success: cluster management is resumed"],
    );

    // Restarts.
    ok(
        &["restart", "every", replica, "--force"],
        &[&format!("Success: restart on member {replica}")],
    );
    ok(
        &["restart", "every", "--role", "replica", "--force"],
        &["Success: restart on member"],
    );
    // Nothing is pending: patronictl picks no member (from the member keys' pending_restart).
    let out = ok(&["restart", "every", "--pending", "--force"], &[]);
    assert!(!out.contains("Success: restart"), "{out}");
    ok(
        &[
            "restart",
            "every",
            replica,
            "--scheduled",
            &in_an_hour,
            "--force",
        ],
        &[&format!("Success: restart scheduled on member {replica}")],
    );
    let shown = common::wait_for(Duration::from_secs(20), || async {
        let (_, out) = run(&["list", "-e"], None);
        out.lines()
            .find(|l| l.contains(&format!("| {replica} ")))
            .filter(|l| l.contains(&in_an_hour[..10]))
            .map(String::from)
    })
    .await;
    assert!(shown.is_some(), "list -e shows the scheduled restart");
    ok(
        &["flush", "every", "restart", "--force"],
        &[&format!(
            "Success: flush scheduled restart for member {replica}"
        )],
    );

    // A scheduled switchover, then flushed.
    ok(
        &[
            "switchover",
            "--leader",
            &leader,
            "--candidate",
            replica,
            "--scheduled",
            &in_an_hour,
            "--force",
        ],
        &["Switchover scheduled"],
    );
    assert!(tb.view().await.unwrap().failover.is_some());
    ok(
        &["flush", "every", "switchover", "--force"],
        &["Success: scheduled switchover deleted"],
    );

    // Failover to a replica, then reinit the old leader.
    ok(
        &["failover", "--candidate", replica, "--force"],
        &[&format!("Successfully failed over to \"{replica}\"")],
    );
    tb.wait_healthy(2, Duration::from_secs(60)).await.unwrap();
    assert_eq!(tb.view().await.unwrap().leader.unwrap().name, replica);
    ok(
        &["reinit", "every", &leader, "--force", "--wait"],
        &[&format!("Success: reinitialize for member {leader}")],
    );
    tb.wait_healthy(2, Duration::from_secs(60)).await.unwrap();
    ok(&["history"], &["| TL |", "|  1 |"]);

    // Queries and connection strings.
    ok(
        &[
            "query",
            "every",
            "-r",
            "leader",
            "-U",
            "postgres",
            "-c",
            "SELECT 40 + 2 AS answer",
        ],
        &["answer", "42"],
    );
    ok(
        &["dsn", "every"],
        &[
            "host=127.0.0.1",
            &format!("port={}", tb.agents[replica].pg_port),
        ],
    );
    ok(
        &["version", "every"],
        &[
            "patronictl version 4.1.5",
            &format!("{replica}: Patroni 4.1.5 PostgreSQL 15"),
        ],
    );

    // remove, as patronictl asks for it, with the agents stopped.
    for m in ["m1", "m2", "m3"] {
        tb.signal_agent(m, nix::sys::signal::Signal::SIGTERM);
        common::agent_exit(&mut tb, m, Duration::from_secs(30)).await;
    }
    let (code, out) = run(
        &["remove", "every"],
        Some(&format!("every\nYes I am aware\n{replica}\n")),
    );
    assert_eq!(code, 0, "{out}");
    let v = tb.view().await.unwrap();
    assert!(
        v.initialize.is_none() && v.members.is_empty(),
        "remove left {v:?}"
    );
}
