//! Ports for the testbed's servers on 127.0.0.1, chosen outside the kernel's ephemeral range.

use std::net::TcpListener;

use anyhow::{bail, Result};

/// A free TCP port on 127.0.0.1 for a server started later (etcd, PostgreSQL, the REST API).
///
/// The port lies outside the kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`,
/// see [`server_port_range`]): a port from that range, bound and released, can be handed to an
/// outgoing connection (an agent's etcd client, say) before the server binds it, and the server
/// then fails with "Address already in use". Each call in a process returns a different port,
/// counting on from a start picked from the process id and the clock; each is checked by binding
/// it. Falls back to a kernel-chosen port when no range is left outside the ephemeral one.
///
/// # Errors
/// No port could be bound.
pub fn free_port() -> Result<u16> {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;
    static NEXT: OnceLock<AtomicU32> = OnceLock::new();
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|w| w.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999));
    let Some((lo, hi)) = server_port_range(ephemeral) else {
        return Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port());
    };
    let span = u32::from(hi - lo) + 1;
    let next = NEXT.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        AtomicU32::new(std::process::id().wrapping_mul(7919).wrapping_add(nanos))
    });
    for _ in 0..span.min(2000) {
        let port = lo + (next.fetch_add(1, Ordering::Relaxed) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free port on 127.0.0.1 between {lo} and {hi}")
}

/// The ports [`free_port`] hands out, given the kernel's ephemeral range `(first, last)`
/// (inclusive): the larger of the stretch from 10000 up to it and the stretch above it, or `None`
/// when neither holds 1000 ports.
pub fn server_port_range(ephemeral: (u16, u16)) -> Option<(u16, u16)> {
    let (first, last) = ephemeral;
    let below = (first > 11000).then(|| (10000, first - 1));
    let above = (last < 64535).then(|| (last + 1, 65535));
    let len = |r: &Option<(u16, u16)>| r.map_or(0, |(a, b)| b - a);
    if len(&below) >= len(&above) {
        below
    } else {
        above
    }
}

#[cfg(test)]
mod tests {
    use super::server_port_range;

    #[test]
    fn server_ports_avoid_the_ephemeral_range() {
        let cases = [
            ((32768, 60999), Some((10000, 32767))), // Linux's default
            ((1024, 60999), Some((61000, 65535))),
            ((49152, 65535), Some((10000, 49151))), // the IANA range
            ((1024, 65000), None),
        ];
        for (ephemeral, want) in cases {
            assert_eq!(server_port_range(ephemeral), want, "{ephemeral:?}");
        }
    }

    #[test]
    fn free_ports_differ_and_lie_outside_the_ephemeral_range() {
        let a = super::free_port().unwrap();
        let b = super::free_port().unwrap();
        assert_ne!(a, b);
        let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
        let v: Vec<u16> = range
            .split_whitespace()
            .map(|w| w.parse().unwrap())
            .collect();
        if let Some((lo, hi)) = server_port_range((v[0], v[1])) {
            assert!(
                (lo..=hi).contains(&a) && (lo..=hi).contains(&b),
                "{a} {b} vs {range}"
            );
        }
    }
}
