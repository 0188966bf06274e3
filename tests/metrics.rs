//! `/metrics` as Prometheus reads it: `promtool check metrics` (Debian's prometheus package)
//! parses every member's page, and the values are measured, not constant: replay paused on a
//! replica, a restart pending after a parameter change, and failsafe mode holding the primary
//! while etcd is gone are each seen turning on and off.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

async fn scrape(port: u16) -> String {
    reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the first sample of series `name` (label set ignored).
fn value(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.split(['{', ' ']).next() == Some(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// `promtool check metrics` on `page`: (exit code, what it printed).
fn promtool(page: &str) -> (i32, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is not installed: apt-get install prometheus (scripts/test.sh does it as root)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_reads_metrics_and_values_follow_the_server() {
    let mut tb = common::testbed("metrics");
    tb.extra_dcs = "    failsafe_mode: true\n".into();
    tb.start_etcd().await.unwrap();
    for m in ["m1", "m2", "m3"] {
        tb.add_agent(m).unwrap();
    }
    let leader = common::healthy(&tb, 2, Duration::from_secs(120)).await;
    let replica = tb.agents.keys().find(|m| **m != leader).unwrap().clone();
    let port = |m: &str| tb.agents[m].rest_port;

    // Every member's page parses. promtool's only remarks are the `_total` suffix its naming
    // rules want on counters: Patroni names these three counters so, and so must praetor.
    let patroni_names = [
        "patroni_xlog_location counter metrics should have \"_total\" suffix",
        "patroni_xlog_received_location counter metrics should have \"_total\" suffix",
        "patroni_xlog_replayed_location counter metrics should have \"_total\" suffix",
    ];
    for m in tb.agents.keys() {
        let page = scrape(port(m)).await;
        let (code, said) = promtool(&page);
        assert!(
            code == 0 || code == 3,
            "{m}: promtool exit {code}: {said}\n{page}"
        );
        for line in said.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                patroni_names.contains(&line.trim()),
                "{m}: promtool: {line}\n{page}"
            );
        }
    }

    /// Waits until `series` on `member` reads `want`.
    async fn reads(port: u16, series: &str, want: f64, what: &str) {
        let mut last = None;
        for _ in 0..120 {
            last = value(&scrape(port).await, series);
            if last == Some(want) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("{what}: {series} never read {want} (last {last:?})");
    }

    // Replay paused on a replica, and resumed.
    let c = tb.pg(&replica).await.unwrap();
    c.batch_execute("SELECT pg_wal_replay_pause()")
        .await
        .unwrap();
    reads(port(&replica), "patroni_xlog_paused", 1.0, "replay paused").await;
    c.batch_execute("SELECT pg_wal_replay_resume()")
        .await
        .unwrap();
    reads(port(&replica), "patroni_xlog_paused", 0.0, "replay resumed").await;
    drop(c);

    // A parameter that needs a restart, changed through /config; a restart clears it.
    let http = reqwest::Client::new();
    let r = http
        .patch(format!("http://127.0.0.1:{}/config", port(&leader)))
        .json(&serde_json::json!({"postgresql": {"parameters": {"max_connections": 150}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    reads(
        port(&leader),
        "patroni_pending_restart",
        1.0,
        "max_connections changed",
    )
    .await;
    let r = http
        .post(format!("http://127.0.0.1:{}/restart", port(&leader)))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "{}",
        r.text().await.unwrap_or_default()
    );
    reads(
        port(&leader),
        "patroni_pending_restart",
        0.0,
        "after the restart",
    )
    .await;

    // etcd gone while every member answers: failsafe mode holds the primary; etcd back: not.
    let leader_port = port(&leader);
    tb.stop_etcd();
    reads(
        leader_port,
        "patroni_failsafe_mode_is_active",
        1.0,
        "etcd stopped",
    )
    .await;
    tb.start_etcd().await.unwrap();
    reads(
        leader_port,
        "patroni_failsafe_mode_is_active",
        0.0,
        "etcd back",
    )
    .await;
}
