//! Quorum commit (`synchronous_mode: quorum`) on a real group: the primary keeps
//! `synchronous_standby_names = 'ANY k (…)'` and `/sync` `{leader, sync_standby, quorum}` at the
//! target for its standbys; the REST checks, `/patroni`, `/metrics` and `praetorctl list` show
//! quorum standbys. Then faults under a writer committing with `synchronous_commit = on` to
//! every member every 100 ms and a split-brain prober: kill -9 of the primary, SIGSTOP of its
//! agent, the primary cut off from etcd, and kill -9 of the primary with one standby — after
//! which the survivors take over only when enough voters remain to be sure of every
//! acknowledged commit (`quorum + 1`), and otherwise wait for the standby to come back.
//! Every fault: 0 acknowledged rows lost, 0 moments with two writable members. Last, the mode is
//! switched to priority (`on`) and back to quorum through `PATCH /config`.
//!
//! The default run is 3 members with `synchronous_node_count` 1. The longer table (3 members
//! with 2, 5 members with 1 and 2) is `cargo test --test quorum -- --ignored`.

mod common;

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use praetor_testbed::Testbed;

async fn leader(tb: &Testbed) -> String {
    tb.view()
        .await
        .ok()
        .and_then(|v| v.leader.map(|l| l.name))
        .unwrap_or_default()
}

/// Waits until `leader` runs the target: every other member a voter and in the GUC, `ANY count`,
/// `quorum = voters - count`.
async fn wait_target(tb: &Testbed, leader: &str, members: &[String], count: usize) {
    let others: Vec<String> = members.iter().filter(|m| *m != leader).cloned().collect();
    let want_guc = format!("ANY {count} ({})", others.join(","));
    let want_quorum = (others.len() - count) as i64;
    let reached = common::wait_for(Duration::from_secs(60), || async {
        let v = tb.view().await.ok()?;
        let s = v.sync?;
        let ok = s.leader.as_deref() == Some(leader)
            && s.members() == others
            && s.quorum == Some(want_quorum);
        if !ok {
            return None;
        }
        let c = tb.pg(leader).await.ok()?;
        let guc: String = c
            .query_one("SHOW synchronous_standby_names", &[])
            .await
            .ok()?
            .get(0);
        (guc == want_guc).then_some(())
    })
    .await;
    if reached.is_none() {
        common::dump_logs(tb);
        let v = tb.view().await.ok().and_then(|v| v.sync);
        panic!("{leader} did not reach {want_guc} with /sync quorum {want_quorum}: /sync is {v:?}");
    }
}

/// `GET path` on `member`'s REST API: (status, body).
async fn get(tb: &Testbed, member: &str, path: &str) -> (u16, String) {
    let port = tb.agents[member].rest_port;
    let r = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .expect("REST API answers");
    let code = r.status().as_u16();
    (code, r.text().await.unwrap_or_default())
}

/// How members, REST checks, `/patroni`, `/metrics` and `praetorctl list` show quorum standbys.
async fn shows_quorum_standbys(tb: &Testbed, leader: &str, standby: &str) {
    // A member publishes what it read from etcd once per cycle.
    common::wait_for(Duration::from_secs(10), || async {
        (get(tb, standby, "/quorum").await.0 == 200).then_some(())
    })
    .await;
    for (member, path, want) in [
        (standby, "/quorum", 200),
        (standby, "/read-only-quorum", 200),
        (standby, "/sync", 503),
        (standby, "/async", 503),
        (leader, "/quorum", 503),
        (leader, "/read-only-quorum", 200),
    ] {
        let (code, body) = get(tb, member, path).await;
        assert_eq!(code, want, "{member} {path}: {body}");
    }
    let (_, body) = get(tb, standby, "/patroni").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["quorum_standby"], true, "{body}");
    assert!(v.get("sync_standby").is_none(), "{body}");
    let (_, metrics) = get(tb, standby, "/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("patroni_quorum_standby{") && l.ends_with(" 1")),
        "{metrics}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_praetorctl"))
        .args([
            "--dcs-url",
            &format!("etcd3://127.0.0.1:{}", tb.etcd_port),
            "list",
            &tb.scope,
        ])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&format!("| {standby} ")) && table.contains("| Quorum Standby |"),
        "{table}"
    );
}

struct Row {
    fault: String,
    leader_change: String,
    acked: usize,
    lost: usize,
    dual: usize,
}

/// The drill for `n` members and `synchronous_node_count` `count`.
async fn drill(n: usize, count: usize) {
    let scope = format!("quorum{n}x{count}");
    let mut tb = common::testbed(&scope);
    tb.extra_dcs = format!("    synchronous_mode: quorum\n    synchronous_node_count: {count}\n");
    tb.use_etcd_proxies = true;
    tb.start_etcd().await.unwrap();
    let members: Vec<String> = (1..=n).map(|i| format!("m{i}")).collect();
    for m in &members {
        tb.add_agent(m).unwrap();
    }
    let first = common::healthy(&tb, n - 1, Duration::from_secs(180)).await;
    wait_target(&tb, &first, &members, count).await;
    let standby = members.iter().find(|m| **m != first).unwrap().clone();
    shows_quorum_standbys(&tb, &first, &standby).await;
    common::create_probe_table(&tb, &first).await;
    let ttl = Duration::from_secs(common::TIMING.ttl);
    let mut rows: Vec<Row> = Vec::new();
    for fault in [
        "kill -9 primary",
        "SIGSTOP primary's agent for ttl + 5 s",
        "primary cut off from etcd",
        "kill -9 primary and one standby",
    ] {
        let old = leader(&tb).await;
        wait_target(&tb, &old, &members, count).await;
        let mut prober = common::Prober::start_with(common::member_ports(&tb), "on").await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let t0 = Instant::now();
        match fault {
            "kill -9 primary" => {
                tb.kill_member(&old);
                common::new_leader(&tb, &old, ttl * 4).await;
                tb.start_agent(&old).unwrap();
            }
            "SIGSTOP primary's agent for ttl + 5 s" => {
                tb.signal_agent(&old, Signal::SIGSTOP);
                tokio::time::sleep(ttl + Duration::from_secs(5)).await;
                tb.signal_agent(&old, Signal::SIGCONT);
            }
            "primary cut off from etcd" => {
                tb.etcd_proxies[&old].cut();
                if common::new_leader(&tb, &old, ttl * 4).await.is_none() {
                    common::dump_logs(&tb);
                    panic!("{fault}: no other member became leader");
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
                tb.etcd_proxies[&old].restore();
            }
            "kill -9 primary and one standby" => {
                // The standby whose name sorts last: the survivors are the other voters.
                let gone = members.iter().rev().find(|m| **m != old).unwrap().clone();
                tb.kill_member(&old);
                tb.kill_member(&gone);
                let voters_left = n - 2;
                let quorum = n - 1 - count;
                if voters_left > quorum {
                    // Enough voters remain: one of them must have every acknowledged commit.
                    if common::new_leader(&tb, &old, ttl * 4).await.is_none() {
                        common::dump_logs(&tb);
                        panic!(
                            "{fault}: {voters_left} voters left, quorum {quorum}: nobody took over"
                        );
                    }
                } else {
                    // Too few: the acknowledging standby may be the one that is gone, so nobody
                    // may take over until it is back.
                    tokio::time::sleep(ttl * 3).await;
                    let v = tb.view().await.unwrap();
                    let promoted = v
                        .members
                        .iter()
                        .find(|m| m.name != old && m.role() == Some(praetor::types::Role::Primary));
                    if let Some(m) = promoted {
                        common::dump_logs(&tb);
                        panic!(
                            "{fault}: {} took over with {voters_left} voters left and quorum {quorum}",
                            m.name
                        );
                    }
                    tb.start_agent(&gone).unwrap();
                    if common::new_leader(&tb, &old, ttl * 6).await.is_none() {
                        common::dump_logs(&tb);
                        panic!("{fault}: nobody took over once {gone} was back");
                    }
                }
                if tb.agents[&gone].child.is_none() {
                    tb.start_agent(&gone).unwrap();
                }
                tb.start_agent(&old).unwrap();
            }
            _ => unreachable!(),
        }
        if let Err(e) = tb.wait_healthy(n - 1, Duration::from_secs(180)).await {
            common::dump_logs(&tb);
            panic!("{fault}: the group did not recover: {e:#}");
        }
        let now_leader = leader(&tb).await;
        common::wait_for(Duration::from_secs(30), || async {
            prober
                .rounds
                .lock()
                .unwrap()
                .last()
                .filter(|r| r.writable.contains(&now_leader))
                .map(|_| ())
        })
        .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        prober.stop().await;
        let _ = t0;
        let acked: usize = prober.acked.lock().unwrap().values().map(Vec::len).sum();
        let lost = prober.missing_on(&tb, &now_leader).await.len();
        rows.push(Row {
            fault: fault.to_string(),
            leader_change: if now_leader == old {
                format!("{old} (kept)")
            } else {
                format!("{old} -> {now_leader}")
            },
            acked,
            lost,
            dual: prober.dual_primary_moments(),
        });
        println!("{fault}: done");
    }
    // Priority mode and back: /sync first names nobody, the GUC follows; then quorum again.
    let l = leader(&tb).await;
    wait_target(&tb, &l, &members, count).await;
    for (mode, check) in [("on", false), ("quorum", true)] {
        let port = tb.agents[&l].rest_port;
        let r = reqwest::Client::new()
            .patch(format!("http://127.0.0.1:{port}/config"))
            .json(&serde_json::json!({"synchronous_mode": mode}))
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "PATCH /config {mode}: {}",
            r.status()
        );
        if check {
            wait_target(&tb, &l, &members, count).await;
        } else {
            let priority = common::wait_for(Duration::from_secs(60), || async {
                let s = tb.view().await.ok()?.sync?;
                let c = tb.pg(&l).await.ok()?;
                let guc: String = c
                    .query_one("SHOW synchronous_standby_names", &[])
                    .await
                    .ok()?
                    .get(0);
                (s.leader.as_deref() == Some(l.as_str())
                    && s.quorum() == 0
                    && s.members().len() == count.min(n - 1)
                    && !guc.starts_with("ANY")
                    && !guc.is_empty())
                .then_some(guc)
            })
            .await;
            if priority.is_none() {
                common::dump_logs(&tb);
                panic!(
                    "priority mode was not reached: {:?}",
                    tb.view().await.ok().and_then(|v| v.sync)
                );
            }
        }
    }
    println!("\n{n} members, synchronous_node_count {count}:");
    println!("| fault | leader | acknowledged | lost | dual-primary moments |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.fault, r.leader_change, r.acked, r.lost, r.dual
        );
    }
    for r in &rows {
        assert!(r.acked > 0, "{}: nothing was acknowledged", r.fault);
        assert_eq!(r.lost, 0, "{}: acknowledged rows lost", r.fault);
        assert_eq!(r.dual, 0, "{}: two writable members at once", r.fault);
    }
    tb.stop_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_three_members_one_synchronous() {
    drill(3, 1).await;
}

/// The longer table: `cargo test --test quorum -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn quorum_table_three_and_five_members() {
    for (n, count) in [(3, 2), (5, 1), (5, 2)] {
        drill(n, count).await;
    }
}
