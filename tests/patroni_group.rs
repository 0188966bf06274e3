//! praetorctl against a group run by the real Patroni 4.1.5 (from PyPI): `list` shows it correctly,
//! and every praetorctl command does to it what patronictl would.

mod common;

use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn praetorctl_lists_a_group_run_by_real_patroni() {
    let bin = common::patroni_venv();
    let mut tb = common::testbed("realpatroni");
    tb.timing = praetor_testbed::Timing {
        ttl: 20,
        loop_wait: 2,
        retry_timeout: 5,
    };
    tb.agent_program = Some(bin.join("patroni"));
    tb.start_etcd().await.unwrap();
    for m in ["p1", "p2"] {
        tb.add_agent(m).unwrap();
    }
    if let Err(e) = tb.wait_healthy(1, Duration::from_secs(120)).await {
        common::dump_logs(&tb);
        panic!("{e:#}");
    }
    let v = tb.view().await.unwrap();
    let leader = v.leader.as_ref().unwrap().name.clone();
    let out = Command::new(env!("CARGO_BIN_EXE_praetorctl"))
        .args([
            "--dcs-url",
            &format!("etcd3://127.0.0.1:{}", tb.etcd_port),
            "list",
            "realpatroni",
        ])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    println!("{table}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success());
    assert!(
        table.starts_with(&format!(
            "+ Cluster: realpatroni ({}) ",
            v.initialize.clone().unwrap()
        )),
        "{table}"
    );
    let leader_row = table
        .lines()
        .find(|l| l.contains(&format!("| {leader} ")))
        .unwrap();
    assert!(
        leader_row.contains("| Leader ") && leader_row.contains("| running "),
        "{table}"
    );
    let other = if leader == "p1" { "p2" } else { "p1" };
    let row = table
        .lines()
        .find(|l| l.contains(&format!("| {other} ")))
        .unwrap();
    assert!(
        row.contains("| Replica ") && row.contains("| streaming ") && row.contains("|  1 |"),
        "{table}"
    );
    // Patroni's REST API answers praetorctl's version command as well.
    let out = Command::new(env!("CARGO_BIN_EXE_praetorctl"))
        .args([
            "--dcs-url",
            &format!("etcd3://127.0.0.1:{}", tb.etcd_port),
            "version",
            "realpatroni",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{leader}: Patroni 4.1.5 PostgreSQL 15")),
        "{text}"
    );
}

/// praetorctl drives every command against a group run by the real Patroni 4.1.5, exit code and
/// output checked: list in each format, topology, show-config and edit-config, reload, pause and
/// resume, restart (a member, by role, scheduled and flushed), a scheduled switchover flushed,
/// switchover, failover, reinit, history, query, dsn, version and, with the agents stopped,
/// remove.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn praetorctl_drives_every_command_against_real_patroni() {
    let bin = common::patroni_venv();
    let mut tb = common::testbed("ctlpatroni");
    tb.timing = praetor_testbed::Timing {
        ttl: 20,
        loop_wait: 2,
        retry_timeout: 5,
    };
    tb.agent_program = Some(bin.join("patroni"));
    tb.start_etcd().await.unwrap();
    for m in ["p1", "p2"] {
        tb.add_agent(m).unwrap();
    }
    let leader = common::healthy(&tb, 1, Duration::from_secs(120)).await;
    let replica = if leader == "p1" { "p2" } else { "p1" }.to_string();
    let url = format!("etcd3://127.0.0.1:{}", tb.etcd_port);
    let run = |args: &[&str], input: Option<&str>| -> (i32, String) {
        common::run_with_input(
            &mut Command::new(env!("CARGO_BIN_EXE_praetorctl"))
                .args(["--dcs-url", &url])
                .args(args)
                .env("PGPASSWORD", "super-secret"),
            input,
            &format!("praetorctl {}", args.join(" ")),
        )
    };
    let ok = |args: &[&str], needles: &[&str]| {
        let (code, out) = run(args, None);
        assert_eq!(code, 0, "praetorctl {}: {out}", args.join(" "));
        for n in needles {
            assert!(
                out.contains(n),
                "praetorctl {}: no {n:?} in\n{out}",
                args.join(" ")
            );
        }
        out
    };
    let in_an_hour = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string();
    let s = "ctlpatroni";

    ok(
        &["list", s],
        &["+ Cluster: ctlpatroni (", "| Leader ", "| streaming "],
    );
    let json = ok(&["list", s, "-f", "json"], &[]);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows.as_array().map(Vec::len), Some(2), "{json}");
    ok(&["list", s, "-f", "yaml"], &["Member: p1", "Role: Leader"]);
    ok(
        &["list", s, "-f", "tsv"],
        &["Cluster\tMember\tHost\tRole\tState\tTL"],
    );
    ok(
        &["list", s, "-e"],
        &["Pending restart", "Scheduled restart"],
    );
    ok(&["topology", s], &[&format!("| + {replica} ")]);

    ok(&["show-config", s], &["loop_wait: 2", "ttl: 20"]);
    ok(
        &["edit-config", s, "--force", "-s", "loop_wait=3"],
        &["loop_wait: 3"],
    );
    ok(&["show-config", s], &["loop_wait: 3"]);
    ok(&["edit-config", s, "--force", "-s", "loop_wait=2"], &[]);
    ok(
        &["reload", s, "--force"],
        &["Reload request received for member"],
    );

    ok(
        &["pause", s, "--wait"],
        &["Success: cluster management is paused"],
    );
    ok(&["list", s], &[" Maintenance mode: on"]);
    ok(
        &["resume", s, "--wait"],
        &["Success: cluster management is resumed"],
    );

    ok(
        &["restart", s, &replica, "--force"],
        &[&format!("Success: restart on member {replica}")],
    );
    ok(
        &["restart", s, "--role", "replica", "--force"],
        &["Success: restart on member"],
    );
    ok(
        &[
            "restart",
            s,
            &replica,
            "--scheduled",
            &in_an_hour,
            "--force",
        ],
        &[&format!("Success: restart scheduled on member {replica}")],
    );
    ok(
        &["flush", s, "restart", "--force"],
        &[&format!(
            "Success: flush scheduled restart for member {replica}"
        )],
    );

    ok(
        &[
            "switchover",
            s,
            "--leader",
            &leader,
            "--candidate",
            &replica,
            "--scheduled",
            &in_an_hour,
            "--force",
        ],
        &["Switchover scheduled"],
    );
    ok(
        &["flush", s, "switchover", "--force"],
        &["Success: scheduled switchover deleted"],
    );
    ok(
        &[
            "switchover",
            s,
            "--leader",
            &leader,
            "--candidate",
            &replica,
            "--force",
        ],
        &[&format!("Successfully switched over to \"{replica}\"")],
    );
    tb.wait_healthy(1, Duration::from_secs(90)).await.unwrap();
    ok(
        &["failover", s, "--candidate", &leader, "--force"],
        &[&format!("Successfully failed over to \"{leader}\"")],
    );
    tb.wait_healthy(1, Duration::from_secs(90)).await.unwrap();
    ok(
        &["reinit", s, &replica, "--force", "--wait"],
        &[&format!("Success: reinitialize for member {replica}")],
    );
    tb.wait_healthy(1, Duration::from_secs(90)).await.unwrap();
    ok(&["history", s], &["| TL |", "|  1 |", "|  2 |"]);

    ok(
        &[
            "query",
            s,
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
        &["dsn", s],
        &[
            "host=127.0.0.1",
            &format!("port={}", tb.agents[&leader].pg_port),
        ],
    );
    ok(
        &["version", s],
        &[&format!("{leader}: Patroni 4.1.5 PostgreSQL 15")],
    );

    for m in ["p1", "p2"] {
        tb.signal_agent(m, nix::sys::signal::Signal::SIGTERM);
        common::agent_exit(&mut tb, m, Duration::from_secs(60)).await;
    }
    let (code, out) = run(
        &["remove", s],
        Some(&format!("{s}\nYes I am aware\n{leader}\n")),
    );
    assert_eq!(code, 0, "{out}");
    let v = tb.view().await.unwrap();
    assert!(
        v.initialize.is_none() && v.members.is_empty(),
        "remove left {v:?}"
    );
}
