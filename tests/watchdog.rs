//! The watchdog, when configured, is armed and kept alive only on the primary and disarmed with
//! the magic close when it demotes. A plain file stands in for /dev/watchdog (writes to the device
//! are the keepalives; `V` is the magic close), since this machine has no softdog.

mod common;

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchdog_follows_the_primary() {
    let mut tb = common::testbed("watchdog");
    tb.file_watchdogs = true;
    tb.start_etcd().await.unwrap();
    for m in ["m1", "m2"] {
        tb.add_agent(m).unwrap();
    }
    let leader = tb.wait_healthy(1, Duration::from_secs(120)).await.unwrap();
    let other = if leader == "m1" { "m2" } else { "m1" };
    let dev =
        |m: &str| std::fs::read_to_string(tb.dir.join(format!("{m}.watchdog"))).unwrap_or_default();
    let kept_alive = common::wait_for(Duration::from_secs(15), || async {
        (dev(&leader).matches('1').count() >= 2).then_some(())
    })
    .await;
    assert!(kept_alive.is_some(), "leader device: {:?}", dev(&leader));
    assert_eq!(dev(other), "", "a standby never arms the watchdog");
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
    let swapped = common::wait_for(Duration::from_secs(15), || async {
        (dev(&leader).ends_with('V') && dev(other).contains('1')).then_some(())
    })
    .await;
    assert!(
        swapped.is_some(),
        "old leader {:?}, new leader {:?}",
        dev(&leader),
        dev(other)
    );
}
