//! The multi-host test bed's network (`praetor_testbed::hosts`): hosts as network namespaces on
//! a bridge the test owns, with no route out; faults by nftables rules inside a host and by link
//! state; everything removed afterwards. Needs root, iproute2 and nftables (scripts/deps.sh
//! --test installs them); without them the test says so and is skipped.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

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
