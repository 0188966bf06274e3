//! The real patronictl (Patroni 4.1.5 from PyPI) against a praetor group: `list` shows the members
//! as praetor's own table does, and `switchover --force` moves the leader.

mod common;

use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_patronictl_lists_and_switches_over_a_praetor_group() {
    let bin = common::patroni_venv();
    let (tb, leader) = common::three_member_group("interop", 3).await;
    let cfg = tb.dir.join("patronictl.yml");
    std::fs::write(
        &cfg,
        format!(
            "scope: interop\nnamespace: /service/\netcd3:\n  hosts: 127.0.0.1:{}\n",
            tb.etcd_port
        ),
    )
    .unwrap();
    let patronictl = |args: &[&str]| {
        common::run_cli(
            Command::new(bin.join("patronictl"))
                .arg("-c")
                .arg(&cfg)
                .args(args),
            &format!("patronictl {}", args.join(" ")),
        )
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
