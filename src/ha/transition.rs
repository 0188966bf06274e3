//! The steps of a promotion ([`super::Action::Promote`]) and of a demotion
//! ([`super::Action::Demote`], per [`super::DemoteMode`]), as pure plans the runtime carries out
//! in order; the first step that fails ends the plan.
//!
//! The order is where the safety is: in synchronous mode the new primary claims `/sync` (listing
//! nobody) before it promotes, and postpones the promotion when someone else changed it (Patroni:
//! "Postponing promotion because synchronous replication state was updated by somebody else");
//! the watchdog is armed before `pg_promote()` or the promotion is refused; a demoting primary
//! stops PostgreSQL before it lets the leader key go (Patroni's `demote` modes).

use super::shutdown::Plan;
use super::DemoteMode;

/// One step of a promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromoteStep {
    /// Synchronous mode: write `/sync` as `{leader: me, sync_standby: null}` with a
    /// compare-and-set on the revision read; a failure postpones the promotion.
    ClaimSyncKey,
    /// Start with an empty `synchronous_standby_names` (the planner fills it next).
    ClearSyncStandbys,
    /// Quorum mode: set `synchronous_standby_names` to
    /// [`crate::ha::quorum::pre_promote_guc`] and reload, before the server accepts writes, so
    /// its first commits wait for the voters a later race counts on (Patroni's
    /// `process_sync_replication_prepromote`); `/sync` is claimed after the promotion
    /// ([`crate::ha::quorum::claim_key`]).
    SetQuorumStandbys,
    /// Arm the watchdog (a no-op when it is off); a failure refuses the promotion.
    ArmWatchdog,
    /// Run `postgresql.pre_promote` (Patroni's fencing hook) and wait for it; a non-zero exit
    /// cancels the promotion: [`plan_pre_promote_failed`] follows.
    PrePromote,
    /// Citus worker: tell the coordinator leader `before_promote`.
    NotifyCoordinatorBeforePromote,
    /// `pg_promote()` and wait for it.
    PgPromote,
    /// CHECKPOINT, so the new timeline's history is on disk for standbys and pg_rewind.
    Checkpoint,
    /// Append the timeline switch to `/history`.
    RecordHistory,
    /// Publish the member key at once (role `primary`) rather than next cycle.
    PublishMemberKey,
    /// Citus worker: tell the coordinator leader `after_promote`, right after `pg_promote()`
    /// (the coordinator then commits pg_dist_node pointing here).
    NotifyCoordinatorAfterPromote,
    /// Run the `on_role_change` callback (in the background).
    CallbackRoleChange,
}

/// What a promotion's plan depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromoteFacts {
    /// `synchronous_mode` is on.
    pub synchronous: bool,
    /// `synchronous_mode` is `quorum`.
    pub quorum: bool,
    /// This member belongs to a Citus worker group.
    pub citus_worker: bool,
    /// `postgresql.pre_promote` is set.
    pub pre_promote: bool,
}

/// The steps of a promotion.
pub fn plan_promote(f: PromoteFacts) -> Plan<PromoteStep> {
    use PromoteStep::*;
    let mut steps = Vec::new();
    if f.quorum {
        steps.extend([SetQuorumStandbys, ArmWatchdog]);
    } else {
        if f.synchronous {
            steps.push(ClaimSyncKey);
        }
        steps.extend([ClearSyncStandbys, ArmWatchdog]);
    }
    // Patroni runs the script once the lock is held and the watchdog armed, before anything
    // else learns of the promotion.
    if f.pre_promote {
        steps.push(PrePromote);
    }
    if f.citus_worker {
        steps.push(NotifyCoordinatorBeforePromote);
    }
    steps.push(PgPromote);
    // The coordinator commits the group's new primary row as soon as the server takes writes:
    // distributed writes to the group wait on that, not on the checkpoint or etcd.
    if f.citus_worker {
        steps.push(NotifyCoordinatorAfterPromote);
    }
    steps.extend([
        Checkpoint,
        RecordHistory,
        PublishMemberKey,
        CallbackRoleChange,
    ]);
    Plan {
        steps,
        reason: "promoting",
    }
}

/// What follows a failed `pre_promote` script (Patroni: "Releasing the leader key voluntarily
/// because the pre-promote script failed"): the server, still a standby, is left running; the
/// watchdog and the fence guard are disarmed, the lease is no longer kept and the leader key is
/// deleted, and for one ttl this member stays out of the leader race
/// ([`Snapshot::pre_promote_failed_at`](super::Snapshot::pre_promote_failed_at)).
pub fn plan_pre_promote_failed() -> Plan<DemoteStep> {
    use DemoteStep::*;
    Plan {
        steps: vec![
            DisarmWatchdog,
            WithdrawLease,
            DisarmFenceGuard,
            ReleaseLeaderKey,
        ],
        reason: "promotion cancelled because the pre_promote script failed",
    }
}

/// One step of a demotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoteStep {
    /// Disarm the watchdog (magic close).
    DisarmWatchdog,
    /// CHECKPOINT first, to shorten the shutdown checkpoint (switchover).
    Checkpoint,
    /// Citus worker: tell the coordinator leader `before_demote`, which holds the group's writes.
    NotifyCoordinatorBeforeDemote,
    /// Fast stop (SIGINT; SIGKILL after `primary_stop_timeout` in synchronous mode).
    StopFast,
    /// Immediate stop (SIGQUIT).
    StopImmediate,
    /// Stop counting ourselves leader: no more renewals by the keeper.
    WithdrawLease,
    /// Disarm the fence guard, once PostgreSQL has stopped (offline demotion: the lease runs out
    /// and the guard, left armed, would stop the read-only server started next).
    DisarmFenceGuard,
    /// Delete the leader key (a transaction on `value == my name`).
    ReleaseLeaderKey,
    /// Start again read-only, following nobody until the next cycle picks the leader.
    StartReadOnly,
    /// Start again as the standby leader, following the remote primary of `standby_cluster`.
    StartStandbyLeader,
}

/// The steps of a demotion in `mode`; `citus_worker` as for [`PromoteFacts`].
pub fn plan_demote(mode: DemoteMode, citus_worker: bool) -> Plan<DemoteStep> {
    use DemoteStep::*;
    let (steps, reason) = match mode {
        DemoteMode::Offline => (
            vec![
                DisarmWatchdog,
                WithdrawLease,
                StopFast,
                DisarmFenceGuard,
                StartReadOnly,
            ],
            "demoting: etcd is not accessible, so the leader key is left to expire",
        ),
        DemoteMode::Graceful => {
            let mut s = vec![DisarmWatchdog, Checkpoint];
            if citus_worker {
                s.push(NotifyCoordinatorBeforeDemote);
            }
            s.extend([StopFast, WithdrawLease, ReleaseLeaderKey, StartReadOnly]);
            (
                s,
                "demoting for a switchover: PostgreSQL stops before the leader key is released",
            )
        }
        DemoteMode::Immediate => (
            vec![
                DisarmWatchdog,
                StopImmediate,
                WithdrawLease,
                ReleaseLeaderKey,
            ],
            "demoting at once and releasing the leader key",
        ),
        // Patroni's `demote('demote-cluster')`: no checkpoint, a fast stop, the key kept.
        DemoteMode::ToStandbyLeader => (
            vec![DisarmWatchdog, StopFast, DisarmFenceGuard, StartStandbyLeader],
            "demoting to a standby leader: PostgreSQL stops and follows the remote primary, the leader key is kept",
        ),
        DemoteMode::ImmediateNoLock => (
            vec![DisarmWatchdog, StopImmediate, WithdrawLease],
            "demoting at once: the leader key is not ours",
        ),
    };
    Plan { steps, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demoting_to_a_standby_leader_keeps_the_key() {
        use DemoteStep::*;
        assert_eq!(
            plan_demote(DemoteMode::ToStandbyLeader, false).steps,
            vec![
                DisarmWatchdog,
                StopFast,
                DisarmFenceGuard,
                StartStandbyLeader
            ]
        );
    }

    #[test]
    fn every_promotion_has_its_exact_steps() {
        use PromoteStep::*;
        let plain = PromoteFacts {
            synchronous: false,
            quorum: false,
            citus_worker: false,
            pre_promote: false,
        };
        assert_eq!(
            plan_promote(plain).steps,
            vec![
                ClearSyncStandbys,
                ArmWatchdog,
                PgPromote,
                Checkpoint,
                RecordHistory,
                PublishMemberKey,
                CallbackRoleChange
            ]
        );
        let sync_worker = PromoteFacts {
            synchronous: true,
            quorum: false,
            citus_worker: true,
            pre_promote: true,
        };
        #[rustfmt::skip]
        let all = vec![
            ClaimSyncKey, ClearSyncStandbys, ArmWatchdog, PrePromote, NotifyCoordinatorBeforePromote,
            PgPromote, NotifyCoordinatorAfterPromote, Checkpoint, RecordHistory, PublishMemberKey,
            CallbackRoleChange,
        ];
        assert_eq!(plan_promote(sync_worker).steps, all);
        let quorum = PromoteFacts {
            quorum: true,
            citus_worker: false,
            ..sync_worker
        };
        #[rustfmt::skip]
        let all = vec![
            SetQuorumStandbys, ArmWatchdog, PrePromote, PgPromote, Checkpoint, RecordHistory,
            PublishMemberKey, CallbackRoleChange,
        ];
        assert_eq!(plan_promote(quorum).steps, all);
        assert_eq!(
            plan_pre_promote_failed().steps,
            vec![
                DemoteStep::DisarmWatchdog,
                DemoteStep::WithdrawLease,
                DemoteStep::DisarmFenceGuard,
                DemoteStep::ReleaseLeaderKey
            ]
        );
    }

    #[test]
    fn every_demotion_has_its_exact_steps() {
        use DemoteStep::*;
        let cases = [
            (
                DemoteMode::Offline,
                false,
                vec![
                    DisarmWatchdog,
                    WithdrawLease,
                    StopFast,
                    DisarmFenceGuard,
                    StartReadOnly,
                ],
            ),
            (
                DemoteMode::Graceful,
                false,
                vec![
                    DisarmWatchdog,
                    Checkpoint,
                    StopFast,
                    WithdrawLease,
                    ReleaseLeaderKey,
                    StartReadOnly,
                ],
            ),
            (
                DemoteMode::Graceful,
                true,
                vec![
                    DisarmWatchdog,
                    Checkpoint,
                    NotifyCoordinatorBeforeDemote,
                    StopFast,
                    WithdrawLease,
                    ReleaseLeaderKey,
                    StartReadOnly,
                ],
            ),
            (
                DemoteMode::Immediate,
                false,
                vec![
                    DisarmWatchdog,
                    StopImmediate,
                    WithdrawLease,
                    ReleaseLeaderKey,
                ],
            ),
            (
                DemoteMode::ImmediateNoLock,
                true,
                vec![DisarmWatchdog, StopImmediate, WithdrawLease],
            ),
        ];
        for (mode, worker, steps) in cases {
            assert_eq!(plan_demote(mode, worker).steps, steps, "{mode:?}");
        }
    }

    #[test]
    fn the_leader_key_goes_only_after_postgresql_stopped() {
        for mode in [
            DemoteMode::Offline,
            DemoteMode::Graceful,
            DemoteMode::Immediate,
            DemoteMode::ImmediateNoLock,
        ] {
            let s = plan_demote(mode, true).steps;
            if let Some(r) = s.iter().position(|x| *x == DemoteStep::ReleaseLeaderKey) {
                let stop = s
                    .iter()
                    .position(|x| matches!(x, DemoteStep::StopFast | DemoteStep::StopImmediate))
                    .expect("a stop");
                assert!(stop < r, "{mode:?}: {s:?}");
            }
        }
    }
}
