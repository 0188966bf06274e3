//! Adopting praetor in place (docs/production.md, "Migrating a running Patroni cluster"): a
//! three-member group run by the real Patroni 4.1.5 moves to praetor one member at a time — same
//! configuration file, same data directory, no new base backup — while a writer commits on
//! whichever member is primary every 100 ms. The group stays correct while mixed both ways:
//!
//! 1. Patroni bootstraps m1, m2, m3; the writer starts.
//! 2. Each standby in turn: Patroni stopped (SIGTERM, it stops its PostgreSQL), praetor started on
//!    the same file; it streams again (a Patroni leader, praetor standbys).
//! 3. `patronictl switchover` to a praetor member (a praetor leader, a Patroni standby).
//! 4. `praetorctl switchover` to the Patroni member (a Patroni leader again), then to the other
//!    praetor member.
//! 5. The last Patroni member, now a standby, moves to praetor.
//!
//! At the end: no acknowledged row is missing on the primary, no two members acknowledged writes
//! at the same time, and no member was cloned again (each data directory's `base` directory is the
//! one it had at the start: a base backup creates it anew, pg_rewind does not).

mod common;

use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use praetor_testbed::Testbed;

fn base_inode(tb: &Testbed, member: &str) -> u64 {
    std::fs::metadata(tb.agents[member].data_dir.join("base"))
        .unwrap()
        .ino()
}

/// Waits for leader `want` with two streaming standbys.
async fn leader_is(tb: &Testbed, want: &str, what: &str) {
    let ok = common::wait_for(Duration::from_secs(90), || async {
        let l = tb.wait_healthy(2, Duration::from_secs(1)).await.ok()?;
        (l == want).then_some(())
    })
    .await;
    if ok.is_none() {
        common::dump_logs(tb);
        panic!("{what}: {want} is not the leader with two streaming standbys");
    }
}

/// Stops member `name`'s Patroni and starts praetor on the same configuration file.
async fn move_to_praetor(tb: &mut Testbed, name: &str) {
    tb.signal_agent(name, Signal::SIGTERM);
    let st = common::agent_exit(tb, name, Duration::from_secs(60)).await;
    assert!(st.success(), "Patroni on {name} stopped: {st}");
    let patroni = tb.agent_program.take();
    tb.start_agent(name).unwrap();
    tb.agent_program = patroni;
    // It streams again, from the data directory Patroni left.
    let streaming = common::wait_for(Duration::from_secs(90), || async {
        let v = tb.view().await.ok()?;
        let m = v.member(name)?;
        (m.data.replication_state.as_deref() == Some("streaming")).then_some(())
    })
    .await;
    if streaming.is_none() {
        common::dump_logs(tb);
        panic!("{name} does not stream under praetor");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patroni_group_moves_to_praetor_member_by_member_under_writes() {
    let patroni = common::patroni_venv().join("patroni");
    let mut tb = common::testbed("adopt");
    tb.timing = praetor_testbed::Timing {
        ttl: 20,
        loop_wait: 2,
        retry_timeout: 5,
    };
    tb.agent_program = Some(patroni);
    tb.start_etcd().await.unwrap();
    for m in ["m1", "m2", "m3"] {
        tb.add_agent(m).unwrap();
    }
    let first = common::healthy(&tb, 2, Duration::from_secs(120)).await;
    let inodes: Vec<(String, u64)> = ["m1", "m2", "m3"]
        .iter()
        .map(|m| (m.to_string(), base_inode(&tb, m)))
        .collect();
    common::create_probe_table(&tb, &first).await;
    let mut prober = common::Prober::start(common::member_ports(&tb)).await;
    let standbys: Vec<String> = ["m1", "m2", "m3"]
        .iter()
        .filter(|m| **m != first)
        .map(|m| m.to_string())
        .collect();

    // 2. The standbys, one at a time.
    for s in &standbys {
        move_to_praetor(&mut tb, s).await;
        leader_is(&tb, &first, &format!("after moving {s}")).await;
    }
    let cfg = common::patronictl_config(&tb, "");
    let (code, out) = common::patronictl(&cfg, &["list"], None);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("| streaming ").count(), 2, "{out}");

    // 3. patronictl moves the leader from Patroni to praetor.
    let (a, b) = (&standbys[0], &standbys[1]);
    let (code, out) = common::patronictl(
        &cfg,
        &[
            "switchover",
            "--leader",
            &first,
            "--candidate",
            a,
            "--force",
        ],
        None,
    );
    assert_eq!(code, 0, "{out}");
    leader_is(&tb, a, "patronictl switchover to praetor").await;

    // 4. praetorctl moves it to the Patroni member, then to the other praetor member.
    let url = format!("etcd3://127.0.0.1:{}", tb.etcd_port);
    for (from, to) in [(a, &first), (&first, b)] {
        let (ok, out) = common::run_cli(
            Command::new(env!("CARGO_BIN_EXE_praetorctl"))
                .args(["--dcs-url", &url, "switchover", "adopt"])
                .args(["--leader", from, "--candidate", to, "--force"]),
            &format!("praetorctl switchover to {to}"),
        );
        assert!(ok, "{out}");
        leader_is(&tb, to, &format!("praetorctl switchover {from} -> {to}")).await;
    }

    // 5. The last Patroni member.
    move_to_praetor(&mut tb, &first).await;
    leader_is(&tb, b, "all members on praetor").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    prober.stop().await;

    let acked: usize = prober.acked.lock().unwrap().values().map(Vec::len).sum();
    let lost = prober.missing_on(&tb, b).await;
    let dual = prober.dual_primary_moments();
    println!(
        "acknowledged {acked}, lost {}, dual-primary moments {dual}",
        lost.len()
    );
    assert!(acked > 0);
    assert!(lost.is_empty(), "acknowledged rows lost: {lost:?}");
    assert_eq!(dual, 0, "two members accepted writes at the same time");
    for (m, ino) in inodes {
        assert_eq!(base_inode(&tb, &m), ino, "{m} was cloned again");
    }
}
