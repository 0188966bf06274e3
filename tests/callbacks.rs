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
