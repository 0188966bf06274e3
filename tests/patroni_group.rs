//! praetorctl against a group run by the real Patroni 4.1.5 (from PyPI): `list` shows it correctly.

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
