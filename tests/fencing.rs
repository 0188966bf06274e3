//! Fencing without a watchdog: with asynchronous replication, a primary whose agent is frozen
//! (SIGSTOP past ttl) or killed (PostgreSQL left running) is stopped by the fence guard before the
//! lease can expire, so no two members ever acknowledge commits at the same time and no
//! acknowledged row is lost. The fenced member shows as such, and rejoins as a standby.

mod common;

use std::time::Duration;

use nix::sys::signal::Signal;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_or_killed_agent_never_leaves_a_writable_primary_behind() {
    let mut tb = common::testbed("fencing");
    tb.start_etcd().await.unwrap();
    for m in ["m1", "m2", "m3"] {
        tb.add_agent(m).unwrap();
    }
    let first = tb.wait_healthy(2, Duration::from_secs(120)).await.unwrap();
    common::create_probe_table(&tb, &first).await;
    let ttl = Duration::from_secs(common::TIMING.ttl);
    // The guard is visible, and a dead guard is detected and restarted.
    let status = |port: u16| async move {
        reqwest::get(format!("http://127.0.0.1:{port}/patroni"))
            .await
            .ok()?
            .json::<serde_json::Value>()
            .await
            .ok()
    };
    let lp = tb.agents[&first].rest_port;
    let g = status(lp).await.unwrap()["fence_guard"].clone();
    assert_eq!(g["armed"], true, "{g}");
    let pid = g["pid"].as_i64().unwrap() as i32;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    let restarted = common::wait_for(Duration::from_secs(15), || async {
        let g = status(lp).await?["fence_guard"].clone();
        (g["restarts"] == 1 && g["pid"].as_i64() != Some(pid as i64) && g["armed"] == true)
            .then_some(())
    })
    .await;
    assert!(
        restarted.is_some(),
        "the agent restarts a dead guard and re-arms it"
    );
    let mut table = Vec::new();
    for fault in [
        "SIGSTOP agent for ttl + 5 s",
        "kill -9 agent (PostgreSQL left running)",
    ] {
        let old = tb.view().await.unwrap().leader.unwrap().name;
        let mut prober = common::Prober::start(common::member_ports(&tb)).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        if fault.starts_with("SIGSTOP") {
            tb.signal_agent(&old, Signal::SIGSTOP);
        } else {
            tb.signal_agent(&old, Signal::SIGKILL);
        }
        // The guard stops the old primary before the lease can expire.
        let fenced = common::wait_for(ttl + Duration::from_secs(5), || async {
            tb.postmaster_pid(&old).is_none().then_some(())
        })
        .await;
        if fenced.is_none() {
            common::dump_logs(&tb);
            panic!("{fault}: the old primary's PostgreSQL was not fenced");
        }
        let marker = praetor::fence::marker_path(&tb.agents[&old].data_dir);
        assert!(marker.exists(), "{fault}: no fence marker");
        let new = common::wait_for(Duration::from_secs(40), || async {
            let v = tb.view().await.ok()?;
            v.leader.map(|l| l.name).filter(|l| *l != old)
        })
        .await
        .expect("a new leader");
        tokio::time::sleep(ttl / 2).await;
        if fault.starts_with("SIGSTOP") {
            tb.signal_agent(&old, Signal::SIGCONT);
        } else {
            tb.start_agent(&old).unwrap();
        }
        if let Err(e) = tb.wait_healthy(2, Duration::from_secs(90)).await {
            common::dump_logs(&tb);
            panic!("{fault}: {e:#}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        prober.stop().await;
        let acked: usize = prober.acked.lock().unwrap().values().map(Vec::len).sum();
        let lost = prober.missing_on(&tb, &new).await.len();
        let dual = prober.dual_primary_moments();
        let rounds = prober.split_brain_rounds().len();
        table.push(format!(
            "| {fault} | {old} -> {new} | {acked} | {lost} | {dual} | {rounds} |"
        ));
        assert!(acked > 0);
        assert_eq!(
            dual, 0,
            "{fault}: two members accepted writes at the same time"
        );
        assert_eq!(
            rounds, 0,
            "{fault}: a probe round saw two members acknowledge"
        );
        assert_eq!(lost, 0, "{fault}: acknowledged rows lost");
    }
    println!(
        "| fault | leader | acknowledged | lost | dual-primary moments | rounds with two acks |"
    );
    println!("|---|---|---|---|---|---|");
    for r in table {
        println!("{r}");
    }
}
