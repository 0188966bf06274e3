//! The multi-host test bed (`praetor_testbed::hosts`): hosts as network namespaces on a bridge
//! the test owns, with no route out; faults by nftables rules inside a host and by link state;
//! everything removed afterwards. Needs root, iproute2 and nftables (scripts/deps.sh --test
//! installs them); without them each test says so and is skipped.
//!
//! `hosts_reach_each_other_and_faults_cut_them_off` (default run) checks the network itself.
//! `cargo test --test hosts -- --ignored` runs a group on three hosts — an etcd member, a
//! PostgreSQL server and an agent on each, the test process as the client host holding open
//! sessions — through host partitions, etcd faults, one-way loss and a flapping link, under the
//! prober.

mod common;

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use praetor_testbed::hosts::{Fault, Network};

const PORT: u16 = 7431;

/// Whether host `from` (or the client, `None`) opens a connection to `to` within a second.
fn reaches(net: &Network, from: Option<usize>, to: Ipv4Addr) -> bool {
    let addr = SocketAddr::from((to, PORT));
    let attempt = move || TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok();
    match from {
        Some(i) => net.within(i, attempt).unwrap(),
        None => attempt(),
    }
}

#[test]
fn hosts_reach_each_other_and_faults_cut_them_off() {
    if let Some(why) = Network::unavailable() {
        println!("skipped: {why}");
        return;
    }
    let net = Network::create(3).unwrap();
    let id = net.namespace(0);
    // A server on every host, accepting and closing.
    for i in 0..3 {
        let listener = net
            .within(i, || TcpListener::bind(("0.0.0.0", PORT)))
            .unwrap()
            .unwrap();
        std::thread::spawn(move || for _ in listener.incoming() {});
    }
    let (h0, h1, h2) = (net.host_ip(0), net.host_ip(1), net.host_ip(2));
    assert!(reaches(&net, Some(0), h1));
    assert!(reaches(&net, None, h1), "the client reaches the hosts");
    // No route out of the bridge.
    let out = net
        .within(0, || {
            TcpStream::connect_timeout(&"192.0.2.1:80".parse().unwrap(), Duration::from_secs(1))
        })
        .unwrap();
    assert!(out.is_err(), "a host reached the outside");

    net.fault(1, &Fault::Isolate).unwrap();
    assert!(!reaches(&net, Some(0), h1));
    assert!(!reaches(&net, None, h1));
    assert!(!reaches(&net, Some(1), h2), "an isolated host reached out");
    // Isolated from the other hosts, not from the client.
    net.fault(1, &Fault::IsolateExcept(vec![net.client_ip()]))
        .unwrap();
    assert!(reaches(&net, None, h1));
    assert!(!reaches(&net, Some(0), h1));
    // Cut from one host only.
    net.fault(1, &Fault::DropWith(h0)).unwrap();
    assert!(!reaches(&net, Some(0), h1));
    assert!(reaches(&net, Some(2), h1));
    // One direction: what host 1 receives is dropped, so nobody's handshake completes.
    net.fault(1, &Fault::DropIn).unwrap();
    assert!(!reaches(&net, Some(0), h1));
    net.heal(1).unwrap();
    assert!(reaches(&net, Some(0), h1));
    // The link down and up again.
    net.link(1, false).unwrap();
    assert!(!reaches(&net, None, h1));
    net.link(1, true).unwrap();
    assert!(reaches(&net, None, h1));

    drop(net);
    let list = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let prefix = id.trim_end_matches("h0");
    assert!(
        !String::from_utf8_lossy(&list.stdout).contains(prefix),
        "namespaces left behind"
    );
    let links = std::process::Command::new("ip")
        .args(["-o", "link"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&links.stdout).contains(prefix),
        "links left behind"
    );
}

/// The leader's name and its host index.
async fn leader_host(tb: &praetor_testbed::Testbed) -> (String, usize) {
    let l = tb.view().await.unwrap().leader.unwrap().name;
    let i = tb.agents[&l].host_index.unwrap();
    (l, i)
}

/// A group of three on three hosts: the primary's host cut off from etcd and the standbys but not
/// from the client (open sessions), with asynchronous replication — no commit acknowledged by it
/// once its lease can have expired; then, in synchronous mode, the primary's host isolated
/// completely — a new primary on the majority side, the old one read-only before its lease can
/// expire; each time the partition heals and the old primary rejoins. 0 acknowledged rows lost,
/// never two writable members.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn a_group_on_three_hosts_survives_host_partitions() {
    if let Some(why) = Network::unavailable() {
        println!("skipped: {why}");
        return;
    }
    let net = Arc::new(Network::create(3).unwrap());
    let mut tb = common::testbed("hosts");
    tb.network = Some(net.clone());
    tb.start_etcd_on_hosts(3).await.unwrap();
    for m in ["m0", "m1", "m2"] {
        tb.add_agent(m).unwrap();
    }
    let first = common::healthy(&tb, 2, Duration::from_secs(180)).await;
    common::create_probe_table(&tb, &first).await;
    let ttl = Duration::from_secs(common::TIMING.ttl);
    for (fault, sync) in [
        (
            "isolated from etcd and the standbys, not from the client",
            false,
        ),
        ("isolated completely", true),
    ] {
        let (old, host) = leader_host(&tb).await;
        if sync {
            let port = tb.agents[&old].rest_port;
            let addr = tb.agents[&old].host.clone();
            let r = reqwest::Client::new()
                .patch(format!("http://{addr}:{port}/config"))
                .json(&serde_json::json!({"synchronous_mode": true}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            common::wait_for(Duration::from_secs(30), || async {
                let s = tb.view().await.ok()?.sync?;
                (s.leader.as_deref() == Some(old.as_str()) && !s.members().is_empty()).then_some(())
            })
            .await
            .expect("a synchronous standby is listed");
        }
        let mut prober =
            common::Prober::start_on(common::member_addrs(&tb), if sync { "on" } else { "local" })
                .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let t0 = Instant::now();
        let rule = if sync {
            Fault::Isolate
        } else {
            Fault::IsolateExcept(vec![net.client_ip()])
        };
        net.fault(host, &rule).unwrap();
        let new = common::new_leader(&tb, &old, ttl * 4).await;
        let took = t0.elapsed();
        // Keep the partition a while longer: the old primary must stay read-only.
        tokio::time::sleep(Duration::from_secs(5)).await;
        net.heal(host).unwrap();
        if new.is_none() {
            common::dump_logs(&tb);
            panic!("{fault}: no new primary on the majority side");
        }
        if let Err(e) = tb.wait_healthy(2, Duration::from_secs(180)).await {
            common::dump_logs(&tb);
            panic!("{fault}: the old primary did not rejoin: {e:#}");
        }
        let now_leader = tb.view().await.unwrap().leader.unwrap().name;
        tokio::time::sleep(Duration::from_secs(2)).await;
        prober.stop().await;
        // The old primary acknowledged nothing once its lease could have expired.
        let late: Vec<Duration> = prober
            .probes
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, at, ok)| *ok && *m == old && *at > t0 + ttl)
            .map(|(_, at, _)| *at - t0)
            .collect();
        let lost = prober.missing_on(&tb, &now_leader).await;
        let dual = prober.dual_primary_moments();
        let acked: usize = prober.acked.lock().unwrap().values().map(Vec::len).sum();
        println!(
            "{fault} ({}): {old} -> {now_leader}, new primary after {took:?}, {acked} acknowledged, {} lost, {dual} dual-primary moments, {} acknowledged by the old primary after ttl",
            if sync { "synchronous" } else { "asynchronous" },
            lost.len(),
            late.len()
        );
        assert!(
            late.is_empty(),
            "{fault}: the old primary acknowledged commits after ttl: {late:?}"
        );
        assert_eq!(dual, 0, "{fault}: two writable members");
        if sync {
            assert!(lost.is_empty(), "{fault}: acknowledged rows lost: {lost:?}");
        }
    }
    tb.stop_all();
}

/// etcd and link faults against a synchronous group on three hosts, under the prober: kill -9 of
/// the etcd leader, the etcd member beside the primary cut from its peers (a minority the agent
/// can still reach), one-way loss on the primary's host (in, then out), and its link flapping
/// (down 2 s, up 3 s, for a minute). The etcd faults must not move the primary; the others may,
/// at most once per fault. Every fault: 0 acknowledged rows lost, never two writable members.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn etcd_and_link_faults_on_three_hosts() {
    if let Some(why) = Network::unavailable() {
        println!("skipped: {why}");
        return;
    }
    let net = Arc::new(Network::create(3).unwrap());
    let mut tb = common::testbed("hostfaults");
    tb.network = Some(net.clone());
    tb.extra_dcs = "    synchronous_mode: true\n".into();
    tb.start_etcd_on_hosts(3).await.unwrap();
    for m in ["m0", "m1", "m2"] {
        tb.add_agent(m).unwrap();
    }
    let first = common::healthy(&tb, 2, Duration::from_secs(180)).await;
    common::create_probe_table(&tb, &first).await;
    let ttl = Duration::from_secs(common::TIMING.ttl);
    let mut report = Vec::new();
    for fault in [
        "kill -9 of the etcd leader",
        "the primary's etcd member cut from its peers",
        "the primary's host receives nothing",
        "the primary's host sends nothing",
        "the primary's link flaps",
    ] {
        let (old, host) = leader_host(&tb).await;
        common::wait_for(Duration::from_secs(30), || async {
            let s = tb.view().await.ok()?.sync?;
            (s.leader.as_deref() == Some(old.as_str()) && !s.members().is_empty()).then_some(())
        })
        .await
        .expect("a synchronous standby is listed");
        let mut prober = common::Prober::start_on(common::member_addrs(&tb), "on").await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let may_move = match fault {
            "kill -9 of the etcd leader" => {
                let i = tb.etcd_leader().await.unwrap();
                tb.kill_etcd_member(i);
                tokio::time::sleep(ttl + Duration::from_secs(2)).await;
                tb.restart_etcd_member(i).unwrap();
                false
            }
            "the primary's etcd member cut from its peers" => {
                net.fault(host, &Fault::DropPort(2380)).unwrap();
                tokio::time::sleep(ttl * 2).await;
                net.heal(host).unwrap();
                false
            }
            "the primary's host receives nothing" | "the primary's host sends nothing" => {
                let f = if fault.contains("receives") {
                    Fault::DropIn
                } else {
                    Fault::DropOut
                };
                net.fault(host, &f).unwrap();
                tokio::time::sleep(ttl * 2).await;
                net.heal(host).unwrap();
                true
            }
            "the primary's link flaps" => {
                let until = Instant::now() + Duration::from_secs(60);
                while Instant::now() < until {
                    net.link(host, false).unwrap();
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    net.link(host, true).unwrap();
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
                true
            }
            _ => unreachable!(),
        };
        if let Err(e) = tb.wait_healthy(2, Duration::from_secs(180)).await {
            common::dump_logs(&tb);
            panic!("{fault}: the group did not recover: {e:#}");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        prober.stop().await;
        let now_leader = tb.view().await.unwrap().leader.unwrap().name;
        // Leader changes seen by the prober: runs of rounds with one writable member.
        let mut changes = 0;
        let mut last: Option<String> = None;
        for r in prober.rounds.lock().unwrap().iter() {
            if let [w] = r.writable.as_slice() {
                if last.as_ref().is_some_and(|l| l != w) {
                    changes += 1;
                }
                last = Some(w.clone());
            }
        }
        let lost = prober.missing_on(&tb, &now_leader).await.len();
        let dual = prober.dual_primary_moments();
        let acked: usize = prober.acked.lock().unwrap().values().map(Vec::len).sum();
        let line =
            format!("| {fault} | {old} -> {now_leader} | {changes} | {acked} | {lost} | {dual} |");
        println!("{line}");
        report.push(line);
        assert_eq!(lost, 0, "{fault}: acknowledged rows lost");
        assert_eq!(dual, 0, "{fault}: two writable members");
        if may_move {
            assert!(changes <= 1, "{fault}: {changes} leader changes");
        } else {
            assert_eq!(now_leader, old, "{fault}: the primary moved");
        }
    }
    println!("\n| fault | leader | leader changes | acknowledged | lost | dual-primary moments |");
    println!("|---|---|---|---|---|---|");
    for l in report {
        println!("{l}");
    }
    tb.stop_all();
}
