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
    // Inherited by the agent started below (this binary starts no other agent).
    std::env::set_var("NOTIFY_SOCKET", &sock_path);
    std::env::set_var("WATCHDOG_USEC", "60000000");
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
