//! A real HAProxy with Patroni's usual `httpchk` configuration routes the read-write port to the
//! leader and the read-only port to the standbys, and follows a failover; and in synchronous mode
//! four backends (primary, replicas, synchronous and asynchronous replicas) hold exactly the
//! members Patroni's rules say, read from HAProxy's own server states, through a switchover and a
//! failover.

mod common;

use std::collections::{BTreeMap, BTreeSet};
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

/// Each backend's servers that HAProxy has UP, from `show stat` on its admin socket.
fn haproxy_up(sock: &std::path::Path) -> Option<BTreeMap<String, BTreeSet<String>>> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(sock).ok()?;
    s.write_all(b"show stat\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let mut up: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in out.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        let (Some(px), Some(sv), Some(status)) = (f.first(), f.get(1), f.get(17)) else {
            continue;
        };
        if *sv == "FRONTEND" || *sv == "BACKEND" {
            continue;
        }
        let set = up.entry(px.to_string()).or_default();
        if status.starts_with("UP") {
            set.insert(sv.to_string());
        }
    }
    Some(up)
}

/// What Patroni's rules put in each backend for a group whose leader is `leader` and whose
/// synchronous standbys are `sync` (all `members` running and streaming).
fn expected(
    members: &[&str],
    leader: &str,
    sync: &BTreeSet<String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let replicas: BTreeSet<String> = members
        .iter()
        .filter(|m| **m != leader)
        .map(|m| m.to_string())
        .collect();
    BTreeMap::from([
        ("primary".to_string(), BTreeSet::from([leader.to_string()])),
        ("replicas".to_string(), replicas.clone()),
        ("sync".to_string(), sync.clone()),
        (
            "async".to_string(),
            replicas.difference(sync).cloned().collect(),
        ),
    ])
}

/// Waits until HAProxy's backends equal what the group's leader and `/sync` key say, then checks
/// they stay so for two seconds (ten readings); panics with both when they never agree.
async fn backends_follow(
    tb: &praetor_testbed::Testbed,
    sock: &std::path::Path,
    members: &[&str],
    what: &str,
) -> (String, BTreeSet<String>) {
    let mut last = None;
    for _ in 0..150 {
        if let Ok(v) = tb.view().await {
            if let (Some(l), Some(s)) = (v.leader.as_ref(), v.sync.as_ref()) {
                let sync: BTreeSet<String> = s.members().into_iter().collect();
                let want = expected(members, &l.name, &sync);
                let got = haproxy_up(sock);
                if !sync.is_empty()
                    && members.contains(&l.name.as_str())
                    && s.leader.as_deref() == Some(l.name.as_str())
                    && got.as_ref() == Some(&want)
                {
                    for _ in 0..10 {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        assert_eq!(
                            haproxy_up(sock).as_ref(),
                            Some(&want),
                            "{what}: backends changed while the group was steady"
                        );
                    }
                    return (l.name.clone(), sync);
                }
                last = Some((want, got));
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    common::dump_logs(tb);
    panic!("{what}: HAProxy's backends never matched the group (wanted, had): {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_backends_hold_patroni_members_in_synchronous_mode() {
    let mut tb = common::testbed("haproxy4");
    tb.extra_dcs = "    synchronous_mode: true\n".into();
    tb.start_etcd().await.unwrap();
    let members = ["m1", "m2", "m3"];
    for m in members {
        tb.add_agent(m).unwrap();
    }
    common::healthy(&tb, 2, Duration::from_secs(120)).await;
    let sock = tb.dir.join("haproxy.sock");
    let mut cfg = format!(
        "global\n  maxconn 100\n  stats socket {} mode 600 level admin\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n",
        sock.display()
    );
    for (name, check) in [
        ("primary", "/primary"),
        ("replicas", "/replica"),
        ("sync", "/sync"),
        ("async", "/async"),
    ] {
        let port = praetor_testbed::free_port().unwrap();
        cfg.push_str(&format!(
            "listen {name}\n  bind 127.0.0.1:{port}\n  option httpchk OPTIONS {check}\n  http-check expect status 200\n  default-server inter 200ms fall 1 rise 1 on-marked-down shutdown-sessions\n"
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

    let (leader, sync) = backends_follow(&tb, &sock, &members, "steady").await;

    // A switchover to the synchronous standby (the one candidate synchronous mode allows).
    let candidate = sync.iter().next().unwrap().clone();
    let resp = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/switchover",
            tb.agents[&leader].rest_port
        ))
        .json(&serde_json::json!({"leader": leader, "candidate": candidate}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    let (after, _) = backends_follow(&tb, &sock, &members, "after the switchover").await;
    assert_eq!(after, candidate);

    // A failover: the leader is killed; the two left are the whole group.
    tb.kill_member(&after);
    let left: Vec<&str> = members.iter().copied().filter(|m| *m != after).collect();
    let (last, _) = backends_follow(&tb, &sock, &left, "after the failover").await;
    assert_ne!(last, after);
}
