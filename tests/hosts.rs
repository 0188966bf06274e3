//! The multi-host test bed (`praetor_testbed::hosts`): hosts as network namespaces on a bridge
//! the test owns, with no route out; faults by nftables rules inside a host and by link state;
//! everything removed afterwards. Needs root, iproute2 and nftables (scripts/deps.sh --test
//! installs them); without them each test says so and is skipped.
//!
//! A group of three runs on three hosts — an etcd member, a PostgreSQL server and an agent on
//! each, the test process as the client host holding open sessions — through host partitions,
//! etcd faults, one-way loss and a flapping link, under the prober. Every scenario: 0
//! acknowledged rows lost (synchronous mode), no two members acknowledging at once, no agent
//! reading an etcd view older than one it had seen; each reports its outage (the longest time
//! with no writable member).
//!
//! Default run (the CI subset, a few minutes): the network itself, then the fast profile (ttl 5)
//! through the etcd leader killed, two of three etcd members down, the primary's host isolated,
//! and isolated from everything but the client with asynchronous replication.
//! `cargo test --test hosts -- --ignored` runs the whole table at ttl 10 on three hosts, and
//! again with a five-member etcd on five hosts.

mod common;

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use praetor_testbed::hosts::{Fault, Network};
use praetor_testbed::{Testbed, Timing};

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

/// A group of three members on hosts 0–2 of `hosts` test hosts, an etcd member on every host,
/// synchronous mode, the probe table created.
struct Bed {
    net: Arc<Network>,
    tb: Testbed,
    ttl: Duration,
}

async fn bed(scope: &str, hosts: usize, timing: Timing) -> Option<Bed> {
    if let Some(why) = Network::unavailable() {
        println!("skipped: {why}");
        return None;
    }
    let net = Arc::new(Network::create(hosts).unwrap());
    let mut tb = common::testbed_timed(scope, timing);
    tb.network = Some(net.clone());
    tb.extra_dcs = "    synchronous_mode: true\n".into();
    tb.start_etcd_on_hosts(hosts).await.unwrap();
    for m in ["m0", "m1", "m2"] {
        tb.add_agent(m).unwrap();
    }
    let first = common::healthy(&tb, 2, Duration::from_secs(180)).await;
    common::create_probe_table(&tb, &first).await;
    Some(Bed {
        net,
        tb,
        ttl: Duration::from_secs(timing.ttl),
    })
}

/// One fault on the bed. etcd member k runs on host k.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Scenario {
    /// kill -9 of the etcd Raft leader for ttl + 2 s.
    EtcdLeaderKilled,
    /// The etcd member beside the primary cut from its peers (port 2380) for 2 × ttl: a
    /// minority its agent still reaches.
    EtcdMemberCut,
    /// A majority of etcd members (not the one beside the primary) killed for 0.9 × ttl: the
    /// primary goes read-only, nobody takes over, writes return when etcd does.
    EtcdMajorityDown,
    /// Five etcd members: the one beside the primary and another killed for 2 × ttl (quorum
    /// holds).
    TwoEtcdDown,
    /// Five etcd members: the one beside the primary and one on a host without PostgreSQL cut
    /// from their peers for 2 × ttl (a minority of two).
    EtcdMinorityOfTwo,
    /// The primary's host dropping everything, the etcd leader on it or elsewhere.
    Isolated { etcd_leader_there: bool },
    /// The primary's host cut from etcd and the standbys, not from the client holding open
    /// sessions.
    IsolatedButClient { sync: bool },
    /// The primary's host receives nothing (2 × ttl).
    DropIn,
    /// The primary's host sends nothing (2 × ttl).
    DropOut,
    /// The primary's link down 2 s, up 3 s, for this many seconds.
    Flaps(u64),
}

/// What a scenario may do to the leader.
#[derive(PartialEq)]
enum Expect {
    /// The same primary throughout.
    Kept,
    /// The same primary, read-only for a while.
    ReadOnlyKept,
    /// At most one leader change.
    MovesOnce,
    /// Exactly one new primary on the majority side; the old one acknowledges nothing once its
    /// lease can have expired.
    Replaced,
}

impl Scenario {
    fn name(self) -> String {
        match self {
            Scenario::EtcdLeaderKilled => "kill -9 of the etcd leader".into(),
            Scenario::EtcdMemberCut => {
                "the primary's etcd member cut from its peers (a minority its agent still reaches)"
                    .into()
            }
            Scenario::EtcdMajorityDown => {
                "a majority of etcd members down for 0.9 × ttl (the primary's own answers)".into()
            }
            Scenario::TwoEtcdDown => "two of five etcd members down, the primary's own one".into(),
            Scenario::EtcdMinorityOfTwo => {
                "the primary's etcd member and another cut from the other three".into()
            }
            Scenario::Isolated { etcd_leader_there } => format!(
                "the primary's host isolated, the etcd leader {}",
                if etcd_leader_there {
                    "on it"
                } else {
                    "elsewhere"
                }
            ),
            Scenario::IsolatedButClient { .. } => {
                "the primary's host cut from etcd and the standbys, not from the client (the etcd leader elsewhere)".into()
            }
            Scenario::DropIn => "the primary's host receives nothing".into(),
            Scenario::DropOut => "the primary's host sends nothing".into(),
            Scenario::Flaps(s) => format!("the primary's link flaps (down 2 s, up 3 s, {s} s)"),
        }
    }

    fn sync(self) -> bool {
        !matches!(self, Scenario::IsolatedButClient { sync: false })
    }

    fn expect(self) -> Expect {
        match self {
            Scenario::EtcdLeaderKilled
            | Scenario::EtcdMemberCut
            | Scenario::TwoEtcdDown
            | Scenario::EtcdMinorityOfTwo => Expect::Kept,
            Scenario::EtcdMajorityDown => Expect::ReadOnlyKept,
            Scenario::Isolated { .. } | Scenario::IsolatedButClient { .. } => Expect::Replaced,
            Scenario::DropIn | Scenario::DropOut | Scenario::Flaps(_) => Expect::MovesOnce,
        }
    }
}

/// The leader's name and its host index.
async fn leader_host(tb: &Testbed) -> (String, usize) {
    let l = tb.view().await.unwrap().leader.unwrap().name;
    let i = tb.agents[&l].host_index.unwrap();
    (l, i)
}

/// Sets `synchronous_mode` through the leader's `PATCH /config` and waits until the leader's
/// server has it (a synchronous standby listed, or `synchronous_standby_names` empty).
async fn set_synchronous_mode(tb: &Testbed, leader: &str, on: bool) {
    let a = &tb.agents[leader];
    let r = reqwest::Client::new()
        .patch(format!("http://{}:{}/config", a.host, a.rest_port))
        .json(&serde_json::json!({ "synchronous_mode": on }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "PATCH /config: {}", r.status());
    let done = common::wait_for(Duration::from_secs(30), || async {
        if on {
            let s = tb.view().await.ok()?.sync?;
            (s.leader.as_deref() == Some(leader) && !s.members().is_empty()).then_some(())
        } else {
            let names: String = tb
                .pg(leader)
                .await
                .ok()?
                .query_one("SHOW synchronous_standby_names", &[])
                .await
                .ok()?
                .get(0);
            names.is_empty().then_some(())
        }
    })
    .await;
    assert!(done.is_some(), "synchronous_mode {on} did not take effect");
}

/// What one scenario did, as a README table row.
struct Row {
    line: String,
}

/// Runs one scenario under the prober, heals, waits for the group to be healthy again and
/// checks it.
async fn run(bed: &mut Bed, scenario: Scenario) -> Row {
    let name = scenario.name();
    let ttl = bed.ttl;
    let (old, host) = leader_host(&bed.tb).await;
    set_synchronous_mode(&bed.tb, &old, scenario.sync()).await;
    let etcd_members = bed.tb.etcd_members();
    // Where the etcd leader is matters to a cut-off primary: an etcd leader on its host goes on
    // renewing its lease until it steps down (check-quorum, one election timeout), and the new
    // etcd leader restarts every lease's countdown. The scenarios say where it is.
    match scenario {
        Scenario::Isolated { etcd_leader_there } => {
            let to = if etcd_leader_there {
                host
            } else {
                (host + 1) % 3
            };
            bed.tb.move_etcd_leader(to).await.unwrap();
        }
        Scenario::IsolatedButClient { .. } => {
            bed.tb.move_etcd_leader((host + 1) % 3).await.unwrap();
        }
        _ => {}
    }
    let sc = if scenario.sync() { "on" } else { "local" };
    let mut prober = common::Prober::start_independent(common::member_addrs(&bed.tb), sc).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t0 = Instant::now();
    let net = bed.net.clone();
    match scenario {
        Scenario::EtcdLeaderKilled => {
            let i = bed.tb.etcd_leader().await.unwrap();
            bed.tb.kill_etcd_member(i);
            tokio::time::sleep(ttl + Duration::from_secs(2)).await;
            bed.tb.restart_etcd_member(i).unwrap();
        }
        Scenario::EtcdMemberCut => {
            net.fault(host, &Fault::DropPort(2380)).unwrap();
            tokio::time::sleep(ttl * 2).await;
            net.heal(host).unwrap();
        }
        Scenario::EtcdMinorityOfTwo => {
            net.fault(host, &Fault::DropPort(2380)).unwrap();
            net.fault(etcd_members - 1, &Fault::DropPort(2380)).unwrap();
            tokio::time::sleep(ttl * 2).await;
            net.heal(host).unwrap();
            net.heal(etcd_members - 1).unwrap();
        }
        Scenario::EtcdMajorityDown | Scenario::TwoEtcdDown => {
            let down: Vec<usize> = if scenario == Scenario::TwoEtcdDown {
                vec![host, etcd_members - 1]
            } else {
                (0..etcd_members)
                    .filter(|k| *k != host)
                    .take(etcd_members / 2 + 1)
                    .collect()
            };
            for &k in &down {
                bed.tb.kill_etcd_member(k);
            }
            tokio::time::sleep(if scenario == Scenario::TwoEtcdDown {
                ttl * 2
            } else {
                ttl * 9 / 10
            })
            .await;
            for &k in &down {
                bed.tb.restart_etcd_member(k).unwrap();
            }
        }
        Scenario::Isolated { .. } | Scenario::IsolatedButClient { .. } => {
            let rule = match scenario {
                Scenario::Isolated { .. } => Fault::Isolate,
                _ => Fault::IsolateExcept(vec![net.client_ip()]),
            };
            net.fault(host, &rule).unwrap();
            let new = common::new_leader(&bed.tb, &old, ttl * 4).await;
            // Keep the partition a while longer: the old primary must stay read-only.
            tokio::time::sleep(Duration::from_secs(5)).await;
            net.heal(host).unwrap();
            if new.is_none() {
                common::dump_logs(&bed.tb);
                panic!("{name}: no new primary on the majority side");
            }
        }
        Scenario::DropIn | Scenario::DropOut => {
            let f = if scenario == Scenario::DropIn {
                Fault::DropIn
            } else {
                Fault::DropOut
            };
            net.fault(host, &f).unwrap();
            tokio::time::sleep(ttl * 2).await;
            net.heal(host).unwrap();
        }
        Scenario::Flaps(secs) => {
            let until = Instant::now() + Duration::from_secs(secs);
            while Instant::now() < until {
                net.link(host, false).unwrap();
                tokio::time::sleep(Duration::from_secs(2)).await;
                net.link(host, true).unwrap();
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
        }
    }
    if let Err(e) = bed.tb.wait_healthy(2, Duration::from_secs(180)).await {
        common::dump_logs(&bed.tb);
        panic!("{name}: the group did not recover: {e:#}");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    prober.stop().await;
    let now_leader = bed.tb.view().await.unwrap().leader.unwrap().name;
    let changes = prober.acked_leader_changes();
    let lost = prober.missing_on(&bed.tb, &now_leader).await.len();
    let dual = prober.dual_primary_moments();
    let outage = prober.acked_outage();
    let acked: usize = prober.acked.lock().unwrap().values().map(Vec::len).sum();
    // The old primary's acknowledgements after the fault: its last one, and any after ttl.
    let (last_old, late) = {
        let probes = prober.probes.lock().unwrap();
        let after: Vec<Duration> = probes
            .iter()
            .filter(|(m, at, ok)| *ok && *m == old && *at > t0)
            .map(|(_, at, _)| *at - t0)
            .collect();
        let late = after.iter().filter(|d| **d > ttl).count();
        (after.iter().copied().max(), late)
    };
    let stale = stale_view_lines(&bed.tb);
    let leader = if now_leader == old {
        "kept".to_string()
    } else {
        let first = prober
            .first_ack_after(t0, &old)
            .map(|(at, _)| {
                format!(
                    ", writes on the new primary after {:.1} s",
                    (at - t0).as_secs_f64()
                )
            })
            .unwrap_or_default();
        let until = if scenario.expect() == Expect::Replaced {
            format!(
                ", the old one's last commit {:.1} s after the fault",
                last_old.unwrap_or_default().as_secs_f64()
            )
        } else {
            String::new()
        };
        format!("moved ({changes} change){first}{until}")
    };
    let mode = if scenario.sync() {
        ""
    } else {
        " (asynchronous)"
    };
    let line = format!(
        "| {name}{mode} | {leader} | {:.1} s | {acked} | {lost} | {dual} |",
        outage.as_secs_f64()
    );
    println!("{line}");
    assert_eq!(dual, 0, "{name}: two writable members");
    assert!(
        stale.is_empty(),
        "{name}: an agent read an older etcd view: {stale:?}"
    );
    if scenario.sync() {
        assert_eq!(lost, 0, "{name}: acknowledged rows lost");
    }
    match scenario.expect() {
        Expect::Kept => {
            assert_eq!(now_leader, old, "{name}: the primary moved");
            assert_eq!(changes, 0, "{name}: another member led meanwhile");
        }
        Expect::ReadOnlyKept => {
            assert_eq!(now_leader, old, "{name}: the primary moved");
            assert_eq!(changes, 0, "{name}: another member led meanwhile");
            // The primary stopped taking writes while etcd had no quorum (rounds are 0.1 s).
            assert!(
                outage > Duration::from_millis(500),
                "{name}: the primary never went read-only"
            );
        }
        Expect::MovesOnce => assert!(changes <= 1, "{name}: {changes} leader changes"),
        Expect::Replaced => {
            assert_ne!(now_leader, old, "{name}: no new primary");
            assert_eq!(
                late, 0,
                "{name}: the old primary acknowledged {late} commits after ttl"
            );
        }
    }
    Row { line }
}

/// Agent log lines saying an etcd view older than one already seen was refused (praetor's
/// guard; with linearizable reads there should be none).
fn stale_view_lines(tb: &Testbed) -> Vec<String> {
    tb.agents
        .values()
        .flat_map(|a| {
            std::fs::read_to_string(&a.log)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains(praetor::dcs::etcd::OLDER_VIEW))
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn print_table(title: &str, rows: &[Row]) {
    println!("\n{title}\n");
    println!("| fault | leader | outage | acknowledged | lost | dual-primary moments |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!("{}", r.line);
    }
}

async fn run_all(mut bed: Bed, title: &str, scenarios: &[Scenario]) {
    let mut rows = Vec::new();
    for s in scenarios {
        rows.push(run(&mut bed, *s).await);
    }
    print_table(title, &rows);
    bed.tb.stop_all();
}

/// The CI subset: the fast profile (ttl 5) on three hosts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_profile_on_three_hosts() {
    const FAST: Timing = Timing {
        ttl: 5,
        loop_wait: 1,
        retry_timeout: 2,
    };
    let Some(bed) = bed("hostsfast", 3, FAST).await else {
        return;
    };
    run_all(
        bed,
        "three hosts, ttl 5",
        &[
            Scenario::EtcdLeaderKilled,
            Scenario::EtcdMajorityDown,
            Scenario::Isolated {
                etcd_leader_there: false,
            },
            Scenario::IsolatedButClient { sync: false },
        ],
    )
    .await;
}

/// The whole table at ttl 10 on three hosts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn host_faults_on_three_hosts() {
    let Some(bed) = bed("hosts", 3, common::TIMING).await else {
        return;
    };
    run_all(
        bed,
        "three hosts, ttl 10",
        &[
            Scenario::EtcdLeaderKilled,
            Scenario::EtcdMemberCut,
            Scenario::EtcdMajorityDown,
            Scenario::Isolated {
                etcd_leader_there: false,
            },
            Scenario::Isolated {
                etcd_leader_there: true,
            },
            Scenario::IsolatedButClient { sync: true },
            Scenario::IsolatedButClient { sync: false },
            Scenario::DropIn,
            Scenario::DropOut,
            Scenario::Flaps(120),
        ],
    )
    .await;
}

/// A five-member etcd on five hosts (the group on three of them), ttl 10.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn five_etcd_members_on_five_hosts() {
    let Some(bed) = bed("hosts5", 5, common::TIMING).await else {
        return;
    };
    run_all(
        bed,
        "five etcd members on five hosts, ttl 10",
        &[
            Scenario::EtcdLeaderKilled,
            Scenario::TwoEtcdDown,
            Scenario::EtcdMinorityOfTwo,
            Scenario::EtcdMajorityDown,
            Scenario::Isolated {
                etcd_leader_there: false,
            },
        ],
    )
    .await;
}
