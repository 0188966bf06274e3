//! Domain types shared by every module: LSNs, timelines, roles and member states.
//!
//! The string forms of [`Role`] and [`MemberState`] are the ones Patroni writes into member keys and
//! REST answers (`patroni/dcs/__init__.py`, `patroni/postgresql/__init__.py`), so a mixed
//! Patroni/praetor cluster and Patroni's tools read them unchanged.

use std::fmt;

/// A PostgreSQL write-ahead-log position, in bytes from the start of the WAL stream.
///
/// Displayed as PostgreSQL does (`X/Y`, both halves hexadecimal, e.g. `0/3000060`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl Lsn {
    /// Parses PostgreSQL's `X/Y` text form.
    ///
    /// # Errors
    /// Returns `None` when the text is not two hexadecimal numbers separated by `/`.
    pub fn parse(s: &str) -> Option<Lsn> {
        let (hi, lo) = s.trim().split_once('/')?;
        let hi = u64::from_str_radix(hi, 16).ok()?;
        let lo = u64::from_str_radix(lo, 16).ok()?;
        if hi > u32::MAX as u64 || lo > u32::MAX as u64 {
            return None;
        }
        Some(Lsn((hi << 32) | lo))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// A PostgreSQL timeline ID (`pg_control`'s TimeLineID); 1 for a fresh cluster, +1 per promotion.
pub type Timeline = u32;

/// The role a member publishes in its member key (`role` field), Patroni 4.x spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Writable primary holding (or about to hold) the leader key.
    Primary,
    /// Streaming (or trying to stream) standby.
    Replica,
    /// Just demoted; about to start as a standby.
    Demoted,
    /// No data directory yet.
    Uninitialized,
    /// Promotion requested, not yet finished.
    Promoted,
}

impl Role {
    /// The exact string Patroni writes (`primary`, `replica`, `demoted`, `uninitialized`, `promoted`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
            Role::Demoted => "demoted",
            Role::Uninitialized => "uninitialized",
            Role::Promoted => "promoted",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `state` a member publishes; the subset of Patroni's states praetor uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// initdb of a new cluster is running.
    InitializingNewCluster,
    /// initdb failed.
    InitdbFailed,
    /// pg_basebackup from another member is running.
    CreatingReplica,
    /// The postmaster is up and accepting connections.
    Running,
    /// The postmaster was started and is not ready yet.
    Starting,
    /// The last start failed.
    StartFailed,
    /// A restart is in progress.
    Restarting,
    /// The postmaster is being stopped.
    Stopping,
    /// The postmaster is not running.
    Stopped,
    /// The postmaster exited without being asked to.
    Crashed,
    /// The fence guard stopped the postmaster because the agent stopped renewing the lease
    /// (praetor only; see `fence`).
    Fenced,
}

impl MemberState {
    /// The exact string Patroni writes, e.g. `running`, `creating replica`.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberState::InitializingNewCluster => "initializing new cluster",
            MemberState::InitdbFailed => "initdb failed",
            MemberState::CreatingReplica => "creating replica",
            MemberState::Running => "running",
            MemberState::Starting => "starting",
            MemberState::StartFailed => "start failed",
            MemberState::Restarting => "restarting",
            MemberState::Stopping => "stopping",
            MemberState::Stopped => "stopped",
            MemberState::Crashed => "crashed",
            MemberState::Fenced => "fenced",
        }
    }

    /// Index in Patroni 4.1's state list, used by the `patroni_postgres_state` metric (−1 unknown).
    pub fn metric_index(self) -> i32 {
        match self {
            MemberState::InitializingNewCluster => 0,
            MemberState::InitdbFailed => 1,
            MemberState::CreatingReplica => 4,
            MemberState::Running => 5,
            MemberState::Starting => 6,
            MemberState::StartFailed => 8,
            MemberState::Restarting => 9,
            MemberState::Stopping => 11,
            MemberState::Stopped => 12,
            MemberState::Crashed => 14,
            MemberState::Fenced => 15,
        }
    }
}

impl fmt::Display for MemberState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Turns a member name into the physical replication slot name Patroni uses for it: lower case,
/// every character outside `[a-z0-9_]` replaced by `_`, at most 63 bytes (PostgreSQL's NAMEDATALEN - 1).
pub fn slot_name_for(member: &str) -> String {
    let mut s: String = member
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.truncate(63);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_round_trip() {
        let l = Lsn::parse("16/B374D848").unwrap();
        assert_eq!(l.0, 0x16_B374_D848);
        assert_eq!(l.to_string(), "16/B374D848");
        assert_eq!(Lsn::parse("0/0"), Some(Lsn(0)));
        assert_eq!(Lsn::parse("zz"), None);
        assert_eq!(Lsn::parse("1/FFFFFFFFF"), None);
    }

    #[test]
    fn slot_names() {
        assert_eq!(slot_name_for("Node-1.a"), "node_1_a");
    }
}
