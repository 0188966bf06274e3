//! The leader's handling of a `failover` key: a switchover now, a scheduled one, or the key's
//! clean-up when it cannot be carried out (Patroni's `manual_failover_process`, reference §2.8).

use crate::dcs::ClusterView;

use super::candidate::failover_candidates;
use super::{decide_with, Action, Decision, DemoteMode, Snapshot};

/// Parses a `scheduled_at` value (ISO 8601 with a zone) into Unix epoch seconds.
pub fn parse_schedule(at: &str) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(at)
        .or_else(|_| chrono::DateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .or_else(|_| chrono::DateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.timestamp_millis() as f64 / 1000.0)
}

/// The leader's handling of a `failover` key (reference §2.8); `None` when there is nothing to do.
pub(super) fn manual_switchover(s: &Snapshot, view: &ClusterView) -> Option<Decision> {
    let f = view.failover.as_ref()?;
    let me = s.name.as_str();
    let clear = |why: String| {
        Some(decide_with(
            vec![Action::RenewLeader, Action::ClearFailover],
            why,
        ))
    };
    if f.leader.as_deref().is_some_and(|l| l != me) {
        return clear(format!(
            "cleaning up the failover key: it names leader {} but I ({me}) am the leader",
            f.leader.as_deref().unwrap_or_default()
        ));
    }
    if f.member.as_deref() == Some(me) {
        return clear(format!(
            "cleaning up the failover key: the candidate {me} is already the leader"
        ));
    }
    if let Some(at) = &f.scheduled_at {
        let Some(t) = parse_schedule(at) else {
            return clear(format!(
                "cleaning up the failover key: unparsable scheduled_at {at:?}"
            ));
        };
        if s.config.pause {
            return clear("cleaning up the failover key: scheduled switchovers are not run in maintenance mode".into());
        }
        let lw = s.config.loop_wait as f64;
        if t > s.now + lw {
            return Some(decide_with(
                vec![
                    Action::RenewLeader,
                    Action::SyncSlots,
                    Action::SyncReplication,
                ],
                format!("Awaiting switchover at {at} (in {:.0} seconds)", t - s.now),
            ));
        }
        if t < s.now - 1.5 * lw {
            return clear(format!(
                "cleaning up the failover key: the switchover scheduled at {at} is stale"
            ));
        }
        if t > s.now {
            // Within the next cycle: wait for the moment rather than act early.
            return Some(decide_with(
                vec![Action::RenewLeader],
                format!("Awaiting switchover at {at} (in {:.1} seconds)", t - s.now),
            ));
        }
    }
    if s.config.pause && f.member.is_none() {
        return clear(
            "cleaning up the failover key: a candidate is required in maintenance mode".into(),
        );
    }
    if failover_candidates(s, f.member.as_deref()).is_empty() {
        return clear(match &f.member {
            Some(c) => {
                format!("manual failover: member {c} is not healthy, switchover is not possible")
            }
            None => "manual failover: no healthy members found, failover is not possible".into(),
        });
    }
    Some(decide_with(
        vec![Action::Demote(DemoteMode::Graceful)],
        match &f.member {
            Some(c) => format!("switchover: demoting myself so that {c} can take over"),
            None => "switchover: demoting myself".into(),
        },
    ))
}
