//! What a member does when it is asked to stop (SIGTERM, `systemctl stop`, Ctrl-C) or to restart
//! PostgreSQL (`POST /restart`, `praetorctl restart`): pure plans over a few facts, carried out in
//! order by the driver ([`crate::agent::driver`]).
//!
//! The behaviour follows Patroni's shutdown of a member (reference §2.16): outside maintenance
//! mode PostgreSQL gets a fast shutdown; a leader first lets a Citus coordinator hold writes to its
//! group (`before_demote`), and once PostgreSQL is down publishes its shutdown checkpoint in
//! `/status` and deletes the leader key, so a standby takes over at once instead of after the
//! lease's ttl. If PostgreSQL does not stop, the leader key is kept and the fence guard stays
//! armed: the lease is no longer renewed, so the guard stops that primary before the lease can
//! expire and a standby be promoted beside it. Patroni keeps the key too, but has no guard.
//! A synchronous standby first asks the primary to release it (reference §2.11), so commits on
//! the primary do not wait for a standby that is going away. In maintenance mode nothing is stopped
//! and the key stays, as Patroni does.

use crate::types::Role;

/// What the agent knows at the moment it is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownFacts {
    /// Maintenance mode (`pause: true` in the dynamic configuration).
    pub paused: bool,
    /// This member holds the leader key (its in-memory lease has not run out).
    pub leading: bool,
    /// The local postmaster is running (or starting).
    pub pg_running: bool,
    /// This member belongs to a Citus worker group (`citus.group` ≥ 1), whose coordinator is told
    /// before its primary stops.
    pub citus_worker: bool,
    /// Synchronous mode is on and `/sync` lists this member as a synchronous standby.
    pub sync_standby: bool,
}

/// One step of a shutdown, carried out in order. A failing step ends the list: the remaining
/// steps are skipped (the lease then runs out by itself after ttl seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownStep {
    /// Stop kicking the watchdog device (magic close, so stopping is not a reset), disarm the fence
    /// guard and stop renewing the lease between HA cycles.
    Disarm,
    /// A synchronous standby: publish the member key with `nosync: true` (and Patroni 4.1's
    /// `sync_priority: 0`) and wait up to 2 × loop_wait seconds for the primary to drop this
    /// member from `/sync` (Patroni's behaviour). Never fails: on time-out the stop goes on.
    AskSyncRelease,
    /// Citus: `POST /citus {"type": "before_demote"}` to the coordinator's leader, waiting up to
    /// ttl seconds for it to hold writes to this group. Failures are logged, never fatal.
    NotifyCoordinatorBeforeDemote,
    /// Stop reporting `primary` on the REST API: peers racing for the key must not see this
    /// member as a live primary while it shuts down.
    ReportStopping,
    /// Fast shutdown: SIGINT to the postmaster, SIGQUIT if it still runs after `pg_ctl_timeout`
    /// seconds (default 60). Fails if it has not exited after twice that.
    StopPostgresFast,
    /// Delete the leader key, in a transaction that applies only while the key holds our name.
    ReleaseLeader {
        /// In the same transaction, write `/status` with the shutdown checkpoint's LSN (read with
        /// `pg_controldata`, when it says `shut down`), so the standbys' lag check compares
        /// against the primary's final position.
        with_checkpoint: bool,
    },
    /// Revoke our etcd lease: the member key goes with it.
    RevokeLease,
}

/// Ordered steps (of a shutdown or a restart) and the sentence logged for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<S> {
    /// Steps, in order.
    pub steps: Vec<S>,
    /// Why, for the log.
    pub reason: &'static str,
}

impl<S> Plan<S> {
    /// A plan of `steps`, logged with `reason`.
    pub fn new(steps: Vec<S>, reason: &'static str) -> Plan<S> {
        Plan { steps, reason }
    }
}

impl<S: std::fmt::Debug> std::fmt::Display for Plan<S> {
    /// The log form: `<reason> (<step>, <step>, ...)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (", self.reason)?;
        for (i, s) in self.steps.iter().enumerate() {
            write!(f, "{}{s:?}", if i == 0 { "" } else { ", " })?;
        }
        write!(f, ")")
    }
}

/// Whether a restart's conditions (Patroni's `POST /restart` filters, also those of a scheduled
/// restart) hold: `role` must be this member's, the server must be older than
/// `postgres_version` (`server_version_num`), and with `restart_pending` a restart must be
/// pending. `my_role` is [`Role::Primary`] or [`Role::Replica`]; `version` this server's
/// `server_version_num`.
pub fn restart_conditions_hold(
    role: Option<Role>,
    postgres_version: Option<i64>,
    restart_pending: bool,
    my_role: Role,
    version: i64,
    pending: bool,
) -> bool {
    !(role.is_some_and(|r| r != my_role)
        || postgres_version.is_some_and(|v| version >= v)
        || (restart_pending && !pending))
}

/// The steps of a stop.
pub type ShutdownPlan = Plan<ShutdownStep>;

/// Decides how this member stops. Pure: same facts, same plan.
pub fn plan_shutdown(f: ShutdownFacts) -> ShutdownPlan {
    use ShutdownStep::*;
    if f.paused {
        return ShutdownPlan {
            steps: vec![Disarm],
            reason: "maintenance mode: leaving PostgreSQL running and the leader key in place",
        };
    }
    match (f.leading, f.pg_running) {
        (true, true) => {
            let mut steps = vec![];
            if f.citus_worker {
                steps.push(NotifyCoordinatorBeforeDemote);
            }
            // The fence guard stays armed until PostgreSQL is down: if it does not stop, the
            // agent exits with the guard armed, and the guard stops the primary before the lease
            // (no longer renewed) can expire and a standby be promoted beside it.
            steps.extend([
                ReportStopping,
                StopPostgresFast,
                Disarm,
                ReleaseLeader {
                    with_checkpoint: true,
                },
                RevokeLease,
            ]);
            ShutdownPlan {
                steps,
                reason: "stopping the primary, then handing the leader key over",
            }
        }
        (true, false) => ShutdownPlan {
            steps: vec![
                Disarm,
                ReleaseLeader {
                    with_checkpoint: false,
                },
                RevokeLease,
            ],
            reason: "PostgreSQL is not running: releasing the leader key",
        },
        (false, true) if f.sync_standby => ShutdownPlan {
            steps: vec![
                Disarm,
                AskSyncRelease,
                ReportStopping,
                StopPostgresFast,
                RevokeLease,
            ],
            reason: "stopping the synchronous standby once the primary has released it",
        },
        (false, true) => ShutdownPlan {
            steps: vec![Disarm, ReportStopping, StopPostgresFast, RevokeLease],
            reason: "stopping the standby",
        },
        (false, false) => ShutdownPlan {
            steps: vec![Disarm, RevokeLease],
            reason: "PostgreSQL is not running: leaving the scope",
        },
    }
}

/// What the agent knows when it is asked to restart PostgreSQL in its current role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartFacts {
    /// This member holds the leader key: it keeps it across the restart.
    pub leading: bool,
    /// This member belongs to a Citus worker group (`citus.group` ≥ 1).
    pub citus_worker: bool,
    /// Synchronous mode is on and `/sync` lists this member as a synchronous standby.
    pub sync_standby: bool,
}

/// One step of a restart, carried out in order; a failing step ends the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartStep {
    /// As [`ShutdownStep::AskSyncRelease`].
    AskSyncRelease,
    /// As [`ShutdownStep::NotifyCoordinatorBeforeDemote`]: the coordinator holds writes to this
    /// worker group while its primary restarts.
    NotifyCoordinatorBeforeDemote,
    /// As [`ShutdownStep::StopPostgresFast`].
    StopPostgresFast,
    /// Publish the member key without the `nosync` request again: once stopped, this member may
    /// be chosen as a synchronous standby when it streams again.
    WithdrawSyncRelease,
    /// Start PostgreSQL in the same role (a standby with the current leader as its upstream) and
    /// wait up to ttl / 3 seconds (at least 2) for it to accept connections. Fails if it exits or
    /// is not ready by then.
    StartPostgres,
    /// Citus: `POST /citus {"type": "after_promote"}` to the coordinator's leader, which points
    /// `pg_dist_node` at this primary (unchanged) and releases the held writes. Failures are
    /// logged, never fatal: the coordinator's hold times out by itself.
    NotifyCoordinatorAfterPromote,
}

/// The steps of a restart.
pub type RestartPlan = Plan<RestartStep>;

/// Decides how this member restarts PostgreSQL. Pure: same facts, same plan. The leader key is
/// never touched: a leader keeps renewing it between HA cycles while PostgreSQL restarts.
pub fn plan_restart(f: RestartFacts) -> RestartPlan {
    use RestartStep::*;
    if f.leading && f.citus_worker {
        return RestartPlan {
            steps: vec![
                NotifyCoordinatorBeforeDemote,
                StopPostgresFast,
                StartPostgres,
                NotifyCoordinatorAfterPromote,
            ],
            reason: "restarting a Citus worker primary while the coordinator holds its writes",
        };
    }
    if !f.leading && f.sync_standby {
        return RestartPlan {
            steps: vec![
                AskSyncRelease,
                StopPostgresFast,
                WithdrawSyncRelease,
                StartPostgres,
            ],
            reason: "restarting the synchronous standby once the primary has released it",
        };
    }
    RestartPlan {
        steps: vec![StopPostgresFast, StartPostgres],
        reason: if f.leading {
            "restarting the primary"
        } else {
            "restarting the standby"
        },
    }
}

/// How long a stop of this member's PostgreSQL may run before the postmaster and its processes
/// are killed (SIGKILL): Patroni's `primary_stop_timeout`, seconds, which applies only to a
/// primary in synchronous mode and only when above 0. A fast shutdown waits for each connected
/// standby to confirm the shutdown checkpoint; in synchronous mode every acknowledged commit is
/// already on the synchronous standby, so killing a stop held up by a hung standby loses nothing
/// acknowledged. `None`: no kill (the stop escalates to SIGQUIT after `pg_ctl_timeout`).
pub fn stop_kill_after(
    primary: bool,
    synchronous: bool,
    primary_stop_timeout: u64,
) -> Option<std::time::Duration> {
    (primary && synchronous && primary_stop_timeout > 0)
        .then(|| std::time::Duration::from_secs(primary_stop_timeout))
}

#[cfg(test)]
mod tests {
    use super::ShutdownStep::*;
    use super::*;

    fn facts(paused: bool, leading: bool, pg_running: bool, citus_worker: bool) -> ShutdownFacts {
        ShutdownFacts {
            paused,
            leading,
            pg_running,
            citus_worker,
            sync_standby: false,
        }
    }

    fn sync_standby(pg_running: bool) -> ShutdownFacts {
        ShutdownFacts {
            sync_standby: true,
            ..facts(false, false, pg_running, false)
        }
    }

    #[test]
    fn every_case_has_its_exact_steps_and_reason() {
        #[rustfmt::skip]
        let cases: [(ShutdownFacts, &[ShutdownStep], &str); 9] = [
            (facts(false, true, true, false),
             &[ReportStopping, StopPostgresFast, Disarm, ReleaseLeader { with_checkpoint: true }, RevokeLease],
             "stopping the primary, then handing the leader key over"),
            (facts(false, true, true, true),
             &[NotifyCoordinatorBeforeDemote, ReportStopping, StopPostgresFast, Disarm, ReleaseLeader { with_checkpoint: true }, RevokeLease],
             "stopping the primary, then handing the leader key over"),
            (facts(false, true, false, true),
             &[Disarm, ReleaseLeader { with_checkpoint: false }, RevokeLease],
             "PostgreSQL is not running: releasing the leader key"),
            (facts(false, false, true, true),
             &[Disarm, ReportStopping, StopPostgresFast, RevokeLease],
             "stopping the standby"),
            (facts(false, false, false, false),
             &[Disarm, RevokeLease],
             "PostgreSQL is not running: leaving the scope"),
            (sync_standby(true),
             &[Disarm, AskSyncRelease, ReportStopping, StopPostgresFast, RevokeLease],
             "stopping the synchronous standby once the primary has released it"),
            (sync_standby(false),
             &[Disarm, RevokeLease],
             "PostgreSQL is not running: leaving the scope"),
            (facts(true, true, true, true),
             &[Disarm],
             "maintenance mode: leaving PostgreSQL running and the leader key in place"),
            (facts(true, false, true, false),
             &[Disarm],
             "maintenance mode: leaving PostgreSQL running and the leader key in place"),
        ];
        for (f, steps, reason) in cases {
            let p = plan_shutdown(f);
            assert_eq!(p.steps, steps, "{f:?}");
            assert_eq!(p.reason, reason, "{f:?}");
        }
    }

    #[test]
    fn a_running_primary_keeps_its_key_and_its_fence_until_postgres_stopped() {
        // A failing step ends the list, so the key goes, and the guard is disarmed, only once
        // PostgreSQL is down.
        for leading in [true, false] {
            for citus_worker in [true, false] {
                let p = plan_shutdown(facts(false, leading, true, citus_worker));
                let stop = p.steps.iter().position(|s| *s == StopPostgresFast);
                for (i, s) in p.steps.iter().enumerate() {
                    let guards = leading && *s == Disarm;
                    if guards || matches!(s, ReleaseLeader { .. } | RevokeLease) {
                        assert!(
                            stop.is_some_and(|st| st < i),
                            "{s:?} before the stop: {p:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_restart_has_its_exact_steps_and_reason() {
        use super::RestartStep::*;
        let f = |leading, citus_worker, sync_standby| RestartFacts {
            leading,
            citus_worker,
            sync_standby,
        };
        #[rustfmt::skip]
        let cases: [(RestartFacts, &[RestartStep], &str); 5] = [
            (f(true, false, false), &[StopPostgresFast, StartPostgres], "restarting the primary"),
            (f(true, true, false),
             &[NotifyCoordinatorBeforeDemote, StopPostgresFast, StartPostgres, NotifyCoordinatorAfterPromote],
             "restarting a Citus worker primary while the coordinator holds its writes"),
            (f(false, true, false), &[StopPostgresFast, StartPostgres], "restarting the standby"),
            (f(false, false, true),
             &[AskSyncRelease, StopPostgresFast, WithdrawSyncRelease, StartPostgres],
             "restarting the synchronous standby once the primary has released it"),
            (f(false, true, true),
             &[AskSyncRelease, StopPostgresFast, WithdrawSyncRelease, StartPostgres],
             "restarting the synchronous standby once the primary has released it"),
        ];
        for (facts, steps, reason) in cases {
            let p = plan_restart(facts);
            assert_eq!(p.steps, steps, "{facts:?}");
            assert_eq!(p.reason, reason, "{facts:?}");
        }
    }

    #[test]
    fn only_a_synchronous_primary_is_killed_after_primary_stop_timeout() {
        use std::time::Duration;
        let cases = [
            ((true, true, 5), Some(Duration::from_secs(5))),
            ((true, true, 0), None),
            ((true, false, 5), None),
            ((false, true, 5), None),
        ];
        for ((primary, synchronous, secs), want) in cases {
            assert_eq!(
                stop_kill_after(primary, synchronous, secs),
                want,
                "{primary} {synchronous} {secs}"
            );
        }
    }

    #[test]
    fn a_plan_logs_its_reason_and_steps() {
        let p = plan_restart(RestartFacts {
            leading: true,
            citus_worker: false,
            sync_standby: false,
        });
        assert_eq!(
            p.to_string(),
            "restarting the primary (StopPostgresFast, StartPostgres)"
        );
    }

    #[test]
    fn restart_conditions() {
        let cases = [
            (None, None, false, Role::Primary, 150004, false, true),
            (
                Some(Role::Replica),
                None,
                false,
                Role::Primary,
                150004,
                false,
                false,
            ),
            (
                Some(Role::Primary),
                None,
                false,
                Role::Primary,
                150004,
                false,
                true,
            ),
            (
                None,
                Some(150004),
                false,
                Role::Replica,
                150004,
                false,
                false,
            ),
            (
                None,
                Some(150005),
                false,
                Role::Replica,
                150004,
                false,
                true,
            ),
            (None, None, true, Role::Replica, 150004, false, false),
            (None, None, true, Role::Replica, 150004, true, true),
        ];
        for (role, v, rp, me, version, pending, want) in cases {
            assert_eq!(
                restart_conditions_hold(role, v, rp, me, version, pending),
                want,
                "{role:?} {v:?} {rp} {me} {version} {pending}"
            );
        }
    }
}
