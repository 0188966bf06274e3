//! A healthy group whose machine is under full CPU load (a busy loop per core, other processes
//! than the agents) for PRAETOR_LOAD_MINUTES minutes (default 30): no needless fence and no leader
//! change. Too long for the normal run: `cargo test --test fence_under_load -- --ignored --nocapture`.

mod common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

struct Hogs(Vec<Child>);

impl Drop for Hogs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn no_needless_fence_or_failover_under_cpu_load() {
    let minutes: u64 = std::env::var("PRAETOR_LOAD_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(30);
    let (tb, leader) = common::three_member_group("cpuload", 3).await;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let _hogs = Hogs(
        (0..cores)
            .map(|_| {
                Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .spawn()
                    .unwrap()
            })
            .collect(),
    );
    let end = Instant::now() + Duration::from_secs(minutes * 60);
    let (mut checks, mut leader_changes, mut fences) = (0u64, 0u64, 0u64);
    let mut current = leader.clone();
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(5)).await;
        checks += 1;
        if let Ok(v) = tb.view().await {
            if let Some(l) = v.leader.map(|l| l.name) {
                if l != current {
                    leader_changes += 1;
                    println!("leader changed: {current} -> {l}");
                    current = l;
                }
            }
        }
        for (n, a) in &tb.agents {
            if praetor::fence::marker_path(&a.data_dir).exists() {
                fences += 1;
                println!("{n} was fenced");
            }
        }
    }
    println!("{minutes} min under load on {cores} cores: {checks} checks, {leader_changes} leader changes, {fences} fences");
    assert_eq!(fences, 0);
    assert_eq!(leader_changes, 0);
}
