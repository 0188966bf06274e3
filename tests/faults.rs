//! Faults against a real three-member group in synchronous mode, each under a writer that commits
//! numbered rows to every member every 100 ms and records each acknowledgement. After each fault
//! the group must recover, every acknowledged row must be on the final primary, and no two members
//! may have accepted writes at the same time. Prints one table row per fault.
//! `PRAETOR_FAULTS=SIGSTOP` runs only the faults whose name contains that text.

mod common;

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use praetor_testbed::Testbed;

struct Row {
    fault: &'static str,
    writes_back: Option<Duration>,
    leader_change: String,
    acked: usize,
    lost: usize,
    dual: usize,
}

async fn leader(tb: &Testbed) -> String {
    tb.view()
        .await
        .unwrap()
        .leader
        .map(|l| l.name)
        .unwrap_or_default()
}

/// Mounts a small tmpfs as a member's data directory (root only), unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_lose_no_acknowledged_commit_and_never_make_two_primaries() {
    let mut tb = common::testbed("faults");
    tb.extra_dcs = "    synchronous_mode: true\n".into();
    tb.use_etcd_proxies = true;
    tb.start_etcd().await.unwrap();
    // m3's data directory on a small tmpfs (when we are root), for the disk-full fault.
    let root = nix::unistd::geteuid().is_root();
    let mut _tmpfs = None;
    tb.add_agent("m1").unwrap();
    tb.wait_healthy(0, Duration::from_secs(60)).await.unwrap();
    tb.add_agent("m2").unwrap();
    let m3_data = tb.configure_agent("m3").unwrap();
    if root {
        std::fs::create_dir_all(&m3_data).unwrap();
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=160m,mode=0700", "tmpfs"])
            .arg(&m3_data)
            .status();
        if matches!(st, Ok(s) if s.success()) {
            let _ = std::process::Command::new("chown")
                .arg("postgres:postgres")
                .arg(&m3_data)
                .status();
            _tmpfs = Some(Tmpfs(m3_data.clone()));
        }
    }
    tb.start_agent("m3").unwrap();
    tb.wait_healthy(2, Duration::from_secs(90)).await.unwrap();
    let first = leader(&tb).await;
    common::create_probe_table(&tb, &first).await;
    let ttl = Duration::from_secs(common::TIMING.ttl);
    let mut rows: Vec<Row> = Vec::new();

    for fault in [
        "standby disk full",
        "kill -9 postmaster (primary)",
        "kill -9 agent (primary)",
        "kill -9 agent + postmaster",
        "SIGSTOP agent for ttl + 5 s",
        "etcd stopped, restarted",
        "primary cut off from etcd",
    ] {
        if std::env::var("PRAETOR_FAULTS").is_ok_and(|f| !fault.contains(f.as_str())) {
            continue;
        }
        if fault == "standby disk full" && _tmpfs.is_none() {
            println!("skipped: {fault} (needs root to mount a tmpfs)");
            continue;
        }
        let old = leader(&tb).await;
        // In synchronous mode only a listed sync standby may take over: wait until there is one.
        let listed = common::wait_for(Duration::from_secs(30), || async {
            let v = tb.view().await.ok()?;
            v.sync
                .filter(|s| s.leader.as_deref() == Some(old.as_str()) && !s.members().is_empty())
                .map(|_| ())
        })
        .await;
        assert!(
            listed.is_some(),
            "{fault}: no synchronous standby listed before the fault"
        );
        let mut prober = common::Prober::start_with(common::member_ports(&tb), "on").await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let t0 = Instant::now();
        match fault {
            "standby disk full" => {
                assert_ne!(old, "m3");
                let filler = m3_data.join("filler");
                let _ = std::process::Command::new("dd")
                    .args(["if=/dev/zero", "bs=1M", "count=400"])
                    .arg(format!("of={}", filler.display()))
                    .stderr(std::process::Stdio::null())
                    .status();
                tokio::time::sleep(Duration::from_secs(8)).await;
                let _ = std::fs::remove_file(&filler);
            }
            "kill -9 postmaster (primary)" => {
                let pid = tb.postmaster_pid(&old).unwrap();
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL).unwrap();
            }
            "kill -9 agent (primary)" => {
                tb.signal_agent(&old, Signal::SIGKILL);
                common::new_leader(&tb, &old, ttl * 4).await;
                tb.start_agent(&old).unwrap();
            }
            "kill -9 agent + postmaster" => {
                tb.kill_member(&old);
                common::new_leader(&tb, &old, ttl * 4).await;
                tb.start_agent(&old).unwrap();
            }
            "SIGSTOP agent for ttl + 5 s" => {
                tb.signal_agent(&old, Signal::SIGSTOP);
                tokio::time::sleep(ttl + Duration::from_secs(5)).await;
                tb.signal_agent(&old, Signal::SIGCONT);
            }
            "etcd stopped, restarted" => {
                tb.stop_etcd();
                tokio::time::sleep(ttl).await;
                tb.start_etcd().await.unwrap();
            }
            "primary cut off from etcd" => {
                tb.etcd_proxies[&old].cut();
                if common::new_leader(&tb, &old, ttl * 4).await.is_none() {
                    common::dump_logs(&tb);
                    panic!(
                        "{fault}: no other member became leader within {:?}",
                        ttl * 4
                    );
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
                tb.etcd_proxies[&old].restore();
            }
            _ => unreachable!(),
        }
        if let Err(e) = tb.wait_healthy(2, Duration::from_secs(120)).await {
            common::dump_logs(&tb);
            panic!("{fault}: the group did not recover: {e:#}");
        }
        // Writes through the final primary, then stop probing.
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
        // First acknowledged write after the fault that did not come from a frozen/dead primary's
        // leftovers: the first ack by the final leader after t0.
        let writes_back = prober
            .probes
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, at, ok)| *ok && *at > t0 && *m == now_leader)
            .map(|(_, at, _)| *at - t0)
            .next();
        let acked: usize = prober.acked.lock().unwrap().values().map(Vec::len).sum();
        let lost = prober.missing_on(&tb, &now_leader).await.len();
        rows.push(Row {
            fault,
            writes_back,
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

    println!("\n| fault | leader | writes on the final primary after | acknowledged | lost | dual-primary moments |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.fault,
            r.leader_change,
            r.writes_back
                .map(|d| format!("{:.1} s", d.as_secs_f64()))
                .unwrap_or_else(|| "-".into()),
            r.acked,
            r.lost,
            r.dual
        );
    }
    for r in &rows {
        assert!(r.acked > 0, "{}: nothing was acknowledged", r.fault);
        assert_eq!(r.lost, 0, "{}: acknowledged rows lost", r.fault);
        assert_eq!(
            r.dual, 0,
            "{}: two members accepted writes at the same time",
            r.fault
        );
    }
}
