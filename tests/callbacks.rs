//! postgresql.callbacks run as `<script> <action> <role> <scope>` on start, role change, restart
//! and reload, so VIP managers and poolers can follow the primary.

mod common;

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_follow_the_primary() {
    let mut tb = common::testbed("callbacks");
    let out = tb.dir.join("callbacks.log");
    // One script per member, each appending its arguments to its own file.
    for m in ["m1", "m2"] {
        let s = tb.dir.join(format!("callback-{m}.sh"));
        std::fs::write(
            &s,
            format!("#!/bin/sh\necho \"$*\" >> {}.{m}\n", out.display()),
        )
        .unwrap();
        let _ = std::process::Command::new("chmod")
            .arg("755")
            .arg(&s)
            .status();
        let _ = std::process::Command::new("chown")
            .arg("postgres")
            .arg(&s)
            .status();
        let _ = std::process::Command::new("chown")
            .arg("postgres")
            .arg(&tb.dir)
            .status();
    }
    tb.start_etcd().await.unwrap();
    for m in ["m1", "m2"] {
        tb.callback_script = Some(tb.dir.join(format!("callback-{m}.sh")));
        tb.add_agent(m).unwrap();
    }
    let leader = tb.wait_healthy(1, Duration::from_secs(120)).await.unwrap();
    let other = if leader == "m1" { "m2" } else { "m1" };
    let read =
        |m: &str| std::fs::read_to_string(format!("{}.{m}", out.display())).unwrap_or_default();
    let started = common::wait_for(Duration::from_secs(10), || async {
        (read(&leader).contains("on_start primary callbacks")
            && read(other).contains("on_start replica callbacks"))
        .then_some(())
    })
    .await;
    assert!(started.is_some(), "{} / {}", read(&leader), read(other));
    let resp = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/switchover",
            tb.agents[&leader].rest_port
        ))
        .json(&serde_json::json!({"leader": leader, "candidate": other}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let changed = common::wait_for(Duration::from_secs(20), || async {
        (read(other).contains("on_role_change primary callbacks")
            && read(&leader).contains("on_role_change replica callbacks"))
        .then_some(())
    })
    .await;
    assert!(changed.is_some(), "{} / {}", read(&leader), read(other));
    let resp = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/reload",
            tb.agents[other].rest_port
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let reloaded = common::wait_for(Duration::from_secs(10), || async {
        read(other)
            .contains("on_reload primary callbacks")
            .then_some(())
    })
    .await;
    assert!(reloaded.is_some(), "{}", read(other));
}

/// Writes an executable shell script owned by the postgres OS user.
fn script(path: &std::path::Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    for (cmd, arg) in [("chmod", "755"), ("chown", "postgres")] {
        let _ = std::process::Command::new(cmd).arg(arg).arg(path).status();
    }
}

/// `pre_promote` (Patroni's fencing hook) failing cancels the promotion: the candidate stays a
/// standby, the leader key is released, and it races again only after a ttl; once the script
/// succeeds it promotes. `before_stop` runs before the old primary stops. The candidate logs to
/// `log.dir` (`patroni.log`), not to stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_pre_promote_cancels_the_promotion_and_before_stop_runs() {
    let mut tb = common::testbed("prepromote");
    let _ = std::process::Command::new("chown")
        .arg("postgres")
        .arg(&tb.dir)
        .status();
    let allow = tb.dir.join("allow-promotion");
    let tries = tb.dir.join("pre-promote.calls");
    let stops = tb.dir.join("before-stop.calls");
    let pre = tb.dir.join("pre-promote.sh");
    script(
        &pre,
        &format!(
            "echo \"$1\" >> {}\n[ -f {} ]",
            tries.display(),
            allow.display()
        ),
    );
    let stop = tb.dir.join("before-stop.sh");
    script(&stop, &format!("echo \"$1\" >> {}", stops.display()));
    let logs = tb.dir.join("m2-logs");
    std::fs::create_dir(&logs).unwrap();
    let _ = std::process::Command::new("chown")
        .arg("postgres")
        .arg(&logs)
        .status();
    for m in ["m1", "m2"] {
        tb.extra_postgresql.insert(
            m.into(),
            format!(
                "  pre_promote: \"{} {m}\"\n  before_stop: {} {m}\n",
                pre.display(),
                stop.display()
            ),
        );
    }
    tb.extra_config.insert(
        "m2".into(),
        format!("log: {{dir: {}, file_num: 2}}\n", logs.display()),
    );
    tb.start_etcd().await.unwrap();
    tb.add_agent("m1").unwrap();
    tb.wait_healthy(0, Duration::from_secs(60)).await.unwrap();
    tb.add_agent("m2").unwrap();
    assert_eq!(
        tb.wait_healthy(1, Duration::from_secs(120)).await.unwrap(),
        "m1"
    );
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    let m2_log = logs.join("patroni.log");

    // The primary stops (SIGTERM, as systemctl stop): before_stop runs there first.
    tb.signal_agent("m1", nix::sys::signal::Signal::SIGTERM);
    let stopped = common::wait_for(Duration::from_secs(30), || async {
        read(&stops).contains("m1").then_some(())
    })
    .await;
    assert!(
        stopped.is_some(),
        "before_stop never ran: {:?}",
        read(&stops)
    );

    // m2 takes the key, runs pre_promote, which fails: it releases the key and stays a standby.
    let cancelled = common::wait_for(Duration::from_secs(40), || async {
        read(&m2_log)
            .contains("promotion cancelled because the pre_promote script failed")
            .then_some(())
    })
    .await;
    assert!(cancelled.is_some(), "m2's log:\n{}", read(&m2_log));
    assert!(read(&tries).contains("m2"), "{:?}", read(&tries));
    let c = tb.pg("m2").await.unwrap();
    let in_recovery: bool = c
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(in_recovery, "m2 promoted although pre_promote failed");
    assert!(
        read(&m2_log).contains("backing off for ttl after the pre_promote script failed"),
        "{}",
        read(&m2_log)
    );
    assert!(
        !read(&tb.agents["m2"].log).contains("pre_promote"),
        "with log.dir nothing goes to stderr"
    );

    // Once the script succeeds, m2 promotes.
    std::fs::write(&allow, "").unwrap();
    let promoted = common::wait_for(Duration::from_secs(60), || async {
        let v = tb.view().await.ok()?;
        (v.leader?.name == "m2").then_some(())
    })
    .await;
    assert!(promoted.is_some(), "m2's log:\n{}", read(&m2_log));
    let c = tb.pg("m2").await.unwrap();
    let primary = common::wait_for(Duration::from_secs(20), || async {
        let r: bool = c
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .ok()?
            .get(0);
        (!r).then_some(())
    })
    .await;
    assert!(primary.is_some());
}
