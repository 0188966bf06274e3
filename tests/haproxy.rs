//! A real HAProxy with Patroni's usual `httpchk` configuration routes the read-write port to the
//! leader and the read-only port to the standbys, and follows a failover.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn haproxy_bin() -> String {
    for p in [
        "/usr/sbin/haproxy",
        "/usr/bin/haproxy",
        "/usr/local/sbin/haproxy",
    ] {
        if std::path::Path::new(p).exists() {
            return p.to_string();
        }
    }
    panic!("haproxy is not installed: apt-get install haproxy (scripts/test.sh does it as root)");
}

/// `(port, pg_is_in_recovery, server port)` through HAProxy, or None when no backend is up.
async fn through(port: u16) -> Option<(bool, i32)> {
    let conn = format!("host=127.0.0.1 port={port} user=postgres password=super-secret dbname=postgres connect_timeout=2");
    let (c, conn) = tokio::time::timeout(
        Duration::from_secs(3),
        tokio_postgres::connect(&conn, tokio_postgres::NoTls),
    )
    .await
    .ok()?
    .ok()?;
    tokio::spawn(conn);
    let r = c
        .query_one("SELECT pg_is_in_recovery(), inet_server_port()", &[])
        .await
        .ok()?;
    Some((r.get(0), r.get(1)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haproxy_httpchk_routes_primary_and_replicas_and_follows_failover() {
    let (mut tb, leader) = common::three_member_group("haproxy", 3).await;
    let rw = praetor_testbed::free_port().unwrap();
    let ro = praetor_testbed::free_port().unwrap();
    let mut cfg = String::from(
        "global\n  maxconn 100\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n",
    );
    for (name, port, check) in [("primary", rw, "/primary"), ("replicas", ro, "/replica")] {
        cfg.push_str(&format!(
            "listen {name}\n  bind 127.0.0.1:{port}\n  option httpchk OPTIONS {check}\n  http-check expect status 200\n  default-server inter 300ms fall 1 rise 1 on-marked-down shutdown-sessions\n"
        ));
        for (m, a) in &tb.agents {
            cfg.push_str(&format!(
                "  server {m} 127.0.0.1:{} maxconn 100 check port {}\n",
                a.pg_port, a.rest_port
            ));
        }
    }
    let path = tb.dir.join("haproxy.cfg");
    std::fs::write(&path, cfg).unwrap();
    let _hp = Haproxy(
        Command::new(haproxy_bin())
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting haproxy"),
    );

    let leader_port = tb.agents[&leader].pg_port as i32;
    let routed = common::wait_for(Duration::from_secs(20), || async {
        through(rw)
            .await
            .filter(|(rec, p)| !*rec && *p == leader_port)
    })
    .await;
    assert!(
        routed.is_some(),
        "the read-write port must reach the leader {leader}"
    );
    // HAProxy starts servers as up until their first check: give every check a few rounds.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        if let Some((rec, p)) = through(ro).await {
            assert!(rec, "the read-only port must reach standbys only");
            assert_ne!(p, leader_port);
            seen.insert(p);
        }
    }
    assert_eq!(
        seen.len(),
        2,
        "both standbys serve the read-only port: {seen:?}"
    );

    tb.kill_member(&leader);
    let new_leader = common::wait_for(Duration::from_secs(60), || async {
        let v = tb.view().await.ok()?;
        let l = v.leader?.name;
        (l != leader).then_some(l)
    })
    .await
    .expect("a new leader");
    let new_port = tb.agents[&new_leader].pg_port as i32;
    let routed = common::wait_for(Duration::from_secs(30), || async {
        through(rw).await.filter(|(rec, p)| !*rec && *p == new_port)
    })
    .await;
    if routed.is_none() {
        common::dump_logs(&tb);
    }
    assert!(
        routed.is_some(),
        "after failover the read-write port must reach {new_leader}"
    );
}
