//! The leader race: whether this member is the healthiest one to take a missing leader key
//! (Patroni's `is_healthiest_node`, reference §2.4) and what it does when there is no leader.

use crate::dcs::ClusterView;

use super::{decide_with, Action, Decision, DemoteMode, Snapshot};

/// Why this member may not take the leader key now, or `None` when it is the healthiest candidate
/// (reference §2.4 `is_healthiest_node`).
pub fn not_healthiest(s: &Snapshot, view: &ClusterView) -> Option<String> {
    let me = s.name.as_str();
    if let Some(f) = &view.failover {
        if f.member.as_deref() == Some(me) {
            return None;
        }
        if let Some(c) = f.member.as_deref() {
            let candidate_ok = s
                .peers
                .iter()
                .any(|p| p.name == c && p.reachable && p.tags.can_failover());
            if candidate_ok {
                return Some(format!(
                    "manual failover/switchover candidate {c} is healthy"
                ));
            }
        }
    }
    if let Some(f) = &view.failover {
        if f.leader.as_deref() == Some(me)
            && s.peers
                .iter()
                .any(|p| p.reachable && p.name != me && p.tags.can_failover())
        {
            return Some(
                "I am the former leader of a switchover and another member is healthy".into(),
            );
        }
    }
    if !s.watchdog_ok {
        return Some("the watchdog is required but not usable".into());
    }
    if let Some(at) = s
        .pre_promote_failed_at
        .filter(|at| s.now - at < s.config.ttl as f64)
    {
        return Some(format!(
            "backing off for ttl after the pre_promote script failed {:.0} s ago and the leader key was released",
            s.now - at
        ));
    }
    if let Some(l) = s.failsafe_leader.as_deref().filter(|l| *l != me) {
        return Some(format!("failsafe mode: {l} is still running as the leader"));
    }
    if s.config.pause {
        return Some("maintenance mode is on".into());
    }
    if !s.tags.can_failover() {
        return Some("I am tagged nofailover".into());
    }
    let my_tl = s.pg.timeline.unwrap_or(0);
    if s.pg.is_primary() {
        return match view.history_timeline() {
            Some(t) if my_tl < t => Some(format!(
                "my timeline {my_tl} is behind the cluster's timeline {t}"
            )),
            _ => None,
        };
    }
    // Synchronous mode with an active /sync key: only its members (and the primary that wrote
    // it) race, and they compare themselves only with each other (Patroni's
    // `is_healthiest_node`), so an asynchronous standby ahead of the synchronous one cannot
    // hold the race up when it may not take the key itself.
    let quorum = s
        .config
        .is_quorum()
        .then(|| super::quorum::active_key(view.sync.as_ref()))
        .flatten();
    let sync_candidates: Option<(Vec<String>, Option<&str>)> = view
        .sync
        .as_ref()
        .filter(|sync| s.config.synchronous() && !s.config.is_quorum() && sync.leader.is_some())
        .map(|sync| (sync.members(), sync.leader.as_deref()));
    if let Some((members, leader)) = &sync_candidates {
        if !members.iter().any(|n| n == me) && *leader != Some(me) {
            return Some("synchronous mode is on and I am not a synchronous standby".into());
        }
    }
    let my_lsn = s.pg.lsn();
    if let Some(optime) = view.optime {
        if optime.saturating_sub(my_lsn) > s.config.maximum_lag_on_failover {
            return Some(format!(
                "my WAL position {my_lsn} is {} bytes behind the last known leader position, more than maximum_lag_on_failover {}",
                optime.saturating_sub(my_lsn),
                s.config.maximum_lag_on_failover
            ));
        }
    }
    if s.config.check_timeline {
        if let Some(t) = view.history_timeline() {
            if my_tl < t {
                return Some(format!(
                    "my timeline {my_tl} is behind the cluster's timeline {t}"
                ));
            }
        }
    }
    if let Some((leader, key)) = &quorum {
        return quorum_race(s, leader, key);
    }
    let former_leader = view.failover.as_ref().and_then(|f| f.leader.clone());
    for p in s.peers.iter().filter(|p| p.reachable && p.name != me) {
        if p.role == Some(crate::types::Role::Primary) {
            return Some(format!("Primary ({}) is still alive", p.name));
        }
        if !p.tags.can_failover() || former_leader.as_deref() == Some(p.name.as_str()) {
            continue;
        }
        if let Some((members, leader)) = &sync_candidates {
            // Neither an asynchronous standby nor the former primary that wrote /sync (which
            // may be ahead of every standby) keeps a synchronous standby out of the race.
            if !members.iter().any(|n| *n == p.name) || *leader == Some(p.name.as_str()) {
                continue;
            }
        }
        if p.lsn > my_lsn {
            return Some(format!(
                "{} has a higher WAL position ({} > {my_lsn})",
                p.name, p.lsn
            ));
        }
        if p.lsn == my_lsn && p.tags.priority() > s.tags.priority() {
            return Some(format!(
                "{} has the same WAL position and a higher failover_priority ({} > {})",
                p.name,
                p.tags.priority(),
                s.tags.priority()
            ));
        }
    }
    None
}

/// The comparison part of the race with an active quorum `/sync` (Patroni's
/// `_is_healthiest_node` in quorum mode): only the voters and the former primary (`leader`) are
/// compared with, those tagged `nofailover` not at all; one of them still running as a primary,
/// or ahead of this member (the former primary excepted), or a voter at the same position with a
/// higher `failover_priority`, stops it; otherwise it needs the votes of
/// [`super::quorum::race_votes`] — the voters answering with PostgreSQL running (a WAL position
/// above 0) and not ahead. The former primary needs none (nobody was ahead of it).
fn quorum_race(s: &Snapshot, leader: &str, key: &super::quorum::QuorumKey) -> Option<String> {
    let me = s.name.as_str();
    let my_lsn = s.pg.lsn();
    let mut votes = 0;
    for p in s.peers.iter().filter(|p| p.reachable && p.name != me) {
        if p.role == Some(crate::types::Role::Primary) {
            return Some(format!("Primary ({}) is still alive", p.name));
        }
        let voter = key.voters.contains(&p.name);
        if (!voter && p.name != leader) || !p.tags.can_failover() {
            continue;
        }
        if p.lsn > my_lsn {
            if p.name != leader {
                return Some(format!(
                    "{} has a higher WAL position ({} > {my_lsn})",
                    p.name, p.lsn
                ));
            }
            // The former primary may be ahead with commits nobody acknowledged: not a reason to
            // wait for it, nor a vote.
        } else if p.lsn.0 > 0 {
            if voter && p.lsn == my_lsn && p.tags.priority() > s.tags.priority() {
                return Some(format!(
                    "{} has the same WAL position and a higher failover_priority ({} > {})",
                    p.name,
                    p.tags.priority(),
                    s.tags.priority()
                ));
            }
            votes += usize::from(voter);
        }
    }
    if super::quorum::race_votes(me, Some(leader), key, votes) {
        return None;
    }
    Some(format!(
        "quorum commit: {} of the {} voters needed answered with a WAL position not ahead of mine",
        votes + usize::from(key.voters.contains(me)),
        key.quorum + 1
    ))
}

pub(super) fn unhealthy_cluster(s: &Snapshot, view: &ClusterView) -> Decision {
    if s.acquire_failed {
        // A primary without the key must not stay writable: someone else may get it.
        if s.pg.is_primary() && !s.config.pause {
            return decide_with(
                vec![Action::Demote(DemoteMode::ImmediateNoLock)],
                "demoted self after trying and failing to obtain lock",
            );
        }
        return decide_with(vec![], "failed to acquire the leader lock");
    }
    match not_healthiest(s, view) {
        None => decide_with(
            vec![Action::AcquireLeader],
            "no leader key: I am the healthiest member, acquiring the leader lock",
        ),
        Some(why) => {
            if s.pg.is_primary() && !s.config.pause {
                decide_with(
                    vec![Action::Demote(DemoteMode::ImmediateNoLock)],
                    format!("demoting self: there is no leader key and I may not take it ({why})"),
                )
            } else {
                decide_with(vec![], format!("no leader key; not racing for it: {why}"))
            }
        }
    }
}
