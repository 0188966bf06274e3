//! Running under systemd: the unit file passes `systemd-analyze verify`, the agent reports
//! READY=1 and WATCHDOG=1 over `$NOTIFY_SOCKET`, and SIGHUP (`systemctl reload`) applies the
//! file's new tags (keeping a renamed member's old name until a restart) and re-checks the
//! configuration file without stopping the agent, also when the file has become invalid.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use nix::sys::signal::Signal;

#[test]
fn unit_file_passes_systemd_analyze_verify() {
    if std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipped: systemd-analyze is not installed");
        return;
    }
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/praetor.service"),
    )
    .unwrap();
    assert!(unit.contains("Type=notify") && unit.contains("KillMode=process"));
    // verify checks that the programs exist: point them at the ones just built.
    let unit = unit.replace("/usr/bin/praetor", env!("CARGO_BIN_EXE_praetor"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("praetor.service");
    std::fs::write(&path, unit).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    assert!(
        !stderr.contains("praetor.service"),
        "warnings about the unit: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_notifies_systemd_and_survives_sighup() {
    let mut tb = common::testbed("systemd");
    tb.start_etcd().await.unwrap();
    let sock_path = tb.dir.join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    std::fs::set_permissions(&sock_path, std::fs::Permissions::from_mode(0o777)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    // For this agent only: the other tests in this binary start agents of their own.
    tb.agent_env.insert(
        "s1".into(),
        vec![
            (
                "NOTIFY_SOCKET".into(),
                sock_path.to_string_lossy().into_owned(),
            ),
            ("WATCHDOG_USEC".into(), "60000000".into()),
        ],
    );
    tb.configure_agent("s1").unwrap();
    tb.start_agent("s1").unwrap();
    let mut got = String::new();
    let mut buf = [0u8; 512];
    while !(got.contains("READY=1") && got.contains("WATCHDOG=1")) {
        let n = sock
            .recv(&mut buf)
            .expect("no notification from the agent within 60 s");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
        got.push('\n');
    }
    tb.wait_healthy(0, Duration::from_secs(60)).await.unwrap();

    let log = tb.agents["s1"].log.clone();
    let log_has = |needle: &'static str| {
        let log = log.clone();
        async move {
            common::wait_for(Duration::from_secs(20), || async {
                std::fs::read_to_string(&log)
                    .ok()
                    .filter(|t| t.contains(needle))
                    .map(|_| ())
            })
            .await
            .is_some()
        }
    };
    // New tags apply at once; a new member name is kept until a restart, and said so.
    let config = tb.agents["s1"].config.clone();
    let original = std::fs::read_to_string(&config).unwrap();
    let edited = original.replace("\nname: s1\n", "\nname: s1-renamed\n")
        + "tags: {nofailover: true, custom: reloaded}\n";
    assert_ne!(edited, original);
    std::fs::write(&config, edited).unwrap();
    tb.signal_agent("s1", Signal::SIGHUP);
    assert!(
        log_has("SIGHUP: configuration file checked").await,
        "no reload after SIGHUP"
    );
    assert!(
        log_has("reload: name changed in the file; it takes effect when praetor restarts").await,
        "a restart-only change was not reported"
    );
    let tagged = common::wait_for(Duration::from_secs(20), || async {
        let v = tb.view().await.ok()?;
        let m = v.member("s1")?;
        m.tags().nofailover.then_some(())
    })
    .await;
    assert!(tagged.is_some(), "the reloaded tags were not published");
    // A broken file: reported, and the agent keeps running.
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\nloop_wait: [not, a, number\n");
    std::fs::write(&config, text).unwrap();
    tb.signal_agent("s1", Signal::SIGHUP);
    assert!(
        log_has("the configuration no longer loads").await,
        "a broken file was not reported"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let alive = tb
        .agents
        .get_mut("s1")
        .and_then(|a| a.child.as_mut())
        .map(|c| c.try_wait().ok().flatten().is_none())
        .unwrap_or(false);
    assert!(alive, "the agent exited after SIGHUP with a broken file");
    tb.wait_healthy(0, Duration::from_secs(30)).await.unwrap();
}

/// `systemctl stop` on the leader (SIGTERM to the agent alone, as KillMode=process sends it): the
/// agent fast-stops PostgreSQL, publishes the shutdown checkpoint with the leader key's release and
/// exits 0; the standby takes the key at once rather than when the lease runs out (ttl 30 s here,
/// and the new leader must be in place within half of it); no acknowledged commit is lost; and the
/// stopped member, started again, streams from the new leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_leader_hands_over_at_once() {
    let timing = praetor_testbed::Timing {
        ttl: 30,
        loop_wait: 2,
        retry_timeout: 4,
    };
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_praetor"));
    let mut tb = praetor_testbed::Testbed::new(exe, "stop", timing).unwrap();
    tb.start_etcd().await.unwrap();
    tb.add_agent("m1").unwrap();
    tb.add_agent("m2").unwrap();
    let old = common::healthy(&tb, 1, Duration::from_secs(120)).await;
    let standby = if old == "m1" { "m2" } else { "m1" };
    common::create_probe_table(&tb, &old).await;
    let mut writer = praetor_testbed::Writer::start(common::member_ports(&tb), "on");
    tokio::time::sleep(Duration::from_secs(2)).await;

    let t0 = std::time::Instant::now();
    tb.signal_agent(&old, Signal::SIGTERM);
    let status = common::agent_exit(&mut tb, &old, Duration::from_secs(60)).await;
    assert!(status.success(), "the agent exited with {status}");
    assert!(
        tb.postmaster_pid(&old).is_none(),
        "PostgreSQL still runs after the agent stopped"
    );
    let log = std::fs::read_to_string(&tb.agents[&old].log).unwrap();
    assert!(
        log.contains("shutting down: stopping the primary, then handing the leader key over"),
        "{log}"
    );
    assert!(
        log.contains("shutting down: released the leader key (shutdown checkpoint at "),
        "the key was not released with a clean shutdown checkpoint:\n{log}"
    );

    // The standby takes over well before the old lease (30 s) could have run out.
    let new_leader = common::wait_for(Duration::from_secs(timing.ttl / 2), || async {
        let l = tb.view().await.ok()?.leader?.name;
        (l == standby).then_some(l)
    })
    .await;
    if new_leader.is_none() {
        common::dump_logs(&tb);
        panic!("{standby} did not take the leader key within half the ttl");
    }
    let new_port = tb.agents[standby].pg_port;
    let first = common::wait_for(Duration::from_secs(30), || async {
        writer.first_ack_after(t0, new_port)
    })
    .await
    .unwrap_or_else(|| panic!("no write acknowledged by {standby}"));
    println!(
        "SIGTERM to the leader's agent: writes acknowledged by {standby} {:?} later (ttl {} s)",
        first - t0,
        timing.ttl
    );
    writer.stop().await;
    let lost = writer.missing_on(&tb, standby).await.unwrap();
    assert!(lost.is_empty(), "acknowledged rows lost: {lost:?}");

    // Started again, the old leader follows the new one.
    tb.start_agent(&old).unwrap();
    let back = common::healthy(&tb, 1, Duration::from_secs(90)).await;
    assert_eq!(back, standby);
}
