//! Who may take over from a leader: one rule for the leader's own switchover
//! ([`super::Action::Demote`] for a `failover` key) and for the REST API's checks of a
//! `POST /switchover` or `POST /failover` candidate (Patroni's `failover_limitation` and
//! `is_lagging`: reachable, not tagged `nofailover`, PostgreSQL running, no more than
//! `maximum_lag_on_failover` bytes behind the leader).

use crate::config::Tags;
use crate::types::{Lsn, MemberState, Role};

use super::Snapshot;

/// A peer's answer to `GET /patroni`, gathered by the runtime for the leader race (2 s timeout)
/// and by the REST API for a candidate check.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerStatus {
    /// Member name.
    pub name: String,
    /// It answered.
    pub reachable: bool,
    /// `role` it reported (`None`: none or one praetor does not know).
    pub role: Option<Role>,
    /// `state` it reported (`None`: none or one praetor does not know).
    pub state: Option<MemberState>,
    /// Its best WAL position.
    pub lsn: Lsn,
    /// Its timeline.
    pub timeline: Option<u32>,
    /// Its tags.
    pub tags: Tags,
}

/// Why a peer may not take over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfit {
    /// It did not answer `GET /patroni`.
    Unreachable,
    /// It is tagged `nofailover` (or `failover_priority: 0`).
    NoFailover,
    /// Its PostgreSQL is not running (the state it reported).
    NotRunning(Option<MemberState>),
    /// It is further behind the leader than `maximum_lag_on_failover` (both in bytes).
    Lagging {
        /// Bytes behind the leader's WAL position.
        lag: u64,
        /// `maximum_lag_on_failover`, bytes.
        max: u64,
    },
}

impl std::fmt::Display for Unfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unfit::Unreachable => write!(f, "is not reachable"),
            Unfit::NoFailover => write!(f, "is tagged nofailover"),
            Unfit::NotRunning(s) => write!(
                f,
                "is not running (state {})",
                s.map_or("unknown", MemberState::as_str)
            ),
            Unfit::Lagging { lag, max } => write!(
                f,
                "is lagging {lag} bytes behind the leader, more than maximum_lag_on_failover ({max})"
            ),
        }
    }
}

/// Whether `p` may take over from a leader at `leader_lsn` with `maximum_lag_on_failover` =
/// `max_lag` (bytes).
pub fn fitness(p: &PeerStatus, leader_lsn: Lsn, max_lag: u64) -> Result<(), Unfit> {
    if !p.reachable {
        return Err(Unfit::Unreachable);
    }
    if !p.tags.can_failover() {
        return Err(Unfit::NoFailover);
    }
    if p.state != Some(MemberState::Running) {
        return Err(Unfit::NotRunning(p.state));
    }
    let lag = leader_lsn.saturating_sub(p.lsn);
    if lag > max_lag {
        return Err(Unfit::Lagging { lag, max: max_lag });
    }
    Ok(())
}

/// The peers that could take over from this leader now ([`fitness`] against our WAL position),
/// the named candidate only when there is one (Patroni's `is_failover_possible`). With an active
/// quorum `/sync` and no candidate named, only its voters, and none unless `quorum + 1` of them
/// are fit: fewer could not win a race ([`super::quorum`]).
pub fn failover_candidates<'a>(s: &'a Snapshot, candidate: Option<&str>) -> Vec<&'a PeerStatus> {
    let my_lsn = s.pg.lsn();
    let quorum = s
        .config
        .is_quorum()
        .then(|| super::quorum::active_key(s.dcs.as_ref().and_then(|v| v.sync.as_ref())))
        .flatten()
        .filter(|_| candidate.is_none());
    let fit: Vec<&PeerStatus> = s
        .peers
        .iter()
        .filter(|p| p.name != s.name)
        .filter(|p| candidate.is_none_or(|c| c == p.name))
        .filter(|p| {
            quorum
                .as_ref()
                .is_none_or(|(_, k)| k.voters.contains(&p.name))
        })
        .filter(|p| fitness(p, my_lsn, s.config.maximum_lag_on_failover).is_ok())
        .collect();
    match quorum {
        Some((_, k)) if fit.len() < k.quorum + 1 => Vec::new(),
        _ => fit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(lsn: u64) -> PeerStatus {
        PeerStatus {
            name: "b".into(),
            reachable: true,
            role: Some(Role::Replica),
            state: Some(MemberState::Running),
            lsn: Lsn(lsn),
            timeline: Some(1),
            tags: Tags::default(),
        }
    }

    #[test]
    fn each_limitation_has_its_reason() {
        let max = 1 << 20;
        let leader = 10 << 20;
        assert_eq!(fitness(&peer(leader), Lsn(leader), max), Ok(()));
        assert_eq!(fitness(&peer(leader - max), Lsn(leader), max), Ok(()));
        assert_eq!(
            fitness(&peer(leader - max - 1), Lsn(leader), max),
            Err(Unfit::Lagging { lag: max + 1, max })
        );
        // A peer ahead of the leader's known position is not lagging.
        assert_eq!(fitness(&peer(leader + 5), Lsn(leader), max), Ok(()));
        let mut p = peer(leader);
        p.reachable = false;
        assert_eq!(fitness(&p, Lsn(leader), max), Err(Unfit::Unreachable));
        let mut p = peer(leader);
        p.tags.nofailover = true;
        assert_eq!(fitness(&p, Lsn(leader), max), Err(Unfit::NoFailover));
        let mut p = peer(leader);
        p.state = Some(MemberState::Starting);
        assert_eq!(
            fitness(&p, Lsn(leader), max),
            Err(Unfit::NotRunning(Some(MemberState::Starting)))
        );
        assert_eq!(
            Unfit::NotRunning(None).to_string(),
            "is not running (state unknown)"
        );
    }
}
