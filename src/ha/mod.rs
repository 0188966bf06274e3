//! The HA decision core: a pure function from a [`Snapshot`] (what the DCS says, what the local server
//! is doing, what peers answered) to a [`Decision`] (actions plus the sentence logged for the cycle).
//!
//! Nothing in this module does I/O; [`crate::agent::driver`] gathers the snapshot and carries the actions out. The
//! decision order follows Patroni's `Ha._run_cycle` (reference §2.2–2.7), simplified where praetor does
//! not have the feature yet (standby clusters, custom bootstrap methods).
//!
//! Gate actions ([`Action::AcquireLeader`], [`Action::RenewLeader`]) can fail; the driver then stops
//! executing the list, records the outcome in [`Snapshot::renew_failed`] / a fresh DCS view, and asks
//! again within the same cycle. So every dangerous step is decided here over a snapshot.

pub mod bootstrap;
pub mod candidate;
pub mod publish;
pub mod quorum;
pub mod race;
pub mod replica;
pub mod rewind;
pub mod shutdown;
pub mod slots;
pub mod switchover;
pub mod sync;
pub mod transition;

use crate::config::{DynamicConfig, Tags};
use crate::dcs::ClusterView;
pub use crate::types::{DataDir, PgState};
pub use candidate::{failover_candidates, PeerStatus};
pub use race::not_healthiest;
use race::unhealthy_cluster;
use switchover::manual_switchover;
pub use switchover::parse_schedule;

/// Everything a decision may depend on.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// This member's name.
    pub name: String,
    /// The group's DCS state; `None` when etcd could not be read this cycle.
    pub dcs: Option<ClusterView>,
    /// Effective dynamic configuration.
    pub config: DynamicConfig,
    /// This member's tags.
    pub tags: Tags,
    /// Data directory.
    pub data: DataDir,
    /// Server state.
    pub pg: PgState,
    /// Peers' `/patroni` answers (only gathered when the leader key is missing).
    pub peers: Vec<PeerStatus>,
    /// Effective `use_pg_rewind`.
    pub use_pg_rewind: bool,
    /// Effective `remove_data_directory_on_diverged_timelines` (Patroni, default off): with
    /// `use_pg_rewind` off, a member whose timeline diverged from the leader's is reinitialized
    /// (data directory removed, fresh base backup) only when this is on; otherwise its data is
    /// kept and it waits for an operator's reinitialize.
    pub remove_data_on_diverged: bool,
    /// The configuration has a `bootstrap` section, so this member may initialise a new cluster.
    pub can_bootstrap: bool,
    /// Some replica creation method works without a member to copy from (`no_leader`, e.g. a
    /// restore from a backup): with an empty data directory and no running source, this member
    /// creates its replica anyway ([`replica::can_create_without_source`]).
    pub can_clone_without_source: bool,
    /// A renewal of our leader key failed earlier in this cycle (etcd did not answer in time, or
    /// refused the write). That alone is not a lost lease: see [`Snapshot::lease_left`].
    pub renew_failed: bool,
    /// Seconds left on the leader lease this member holds, by its own monotonic clock counted
    /// from *before* the request that last renewed it (so etcd's lease lasts at least as long);
    /// `None` when it holds none (never took it, released it, or etcd said the key or the lease
    /// is no longer ours).
    pub lease_left: Option<f64>,
    /// A pg_rewind from the current leader failed earlier and the data was kept
    /// (`remove_data_directory_on_rewind_failure` off): do not try it again; the member waits to
    /// be reinitialized ([`rewind`]).
    pub rewind_failed: bool,
    /// Seconds: a primary that cannot renew keeps running while more than this is left on its
    /// lease and demotes once less is: the fence margin ([`crate::fence`]) plus half a second
    /// for the decision. While renewals fail the runtime cuts every etcd request to the time left
    /// before this threshold, so the decision comes in time, before the fence guard and before
    /// the lease can expire. See [`lease_margin`].
    pub lease_margin: f64,
    /// Taking the free leader key failed earlier in this cycle (another member won, or etcd
    /// refused the write).
    pub acquire_failed: bool,
    /// Wall-clock time, Unix epoch seconds (for scheduled switchovers).
    pub now: f64,
    /// Failsafe mode, DCS unreachable, this primary: every member listed in `/failsafe` answered
    /// its `POST /failsafe` with 200.
    pub failsafe_ok: bool,
    /// Failsafe mode: the member that pinged us through `POST /failsafe` within ttl, if any.
    pub failsafe_leader: Option<String>,
    /// False when `watchdog.mode` is `required` and the device is not usable.
    pub watchdog_ok: bool,
    /// When (on the [`Snapshot::now`] clock, seconds) this member last cancelled a promotion
    /// because `postgresql.pre_promote` failed: for one ttl after it, it does not race for the
    /// leader key (Patroni's back-off after releasing the key voluntarily).
    pub pre_promote_failed_at: Option<f64>,
}

/// How to demote (reference §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoteMode {
    /// DCS unreachable: fast stop, keep (cannot touch) the key, restart read-only following nobody.
    Offline,
    /// Switchover: checkpoint, fast stop, release the key, restart as a standby.
    Graceful,
    /// Unfit (crash timeout): immediate stop, release the key.
    Immediate,
    /// Lost the lock: immediate stop, restart as a standby of the new leader.
    ImmediateNoLock,
    /// `standby_cluster` was set on a running cluster (Patroni's `demote-cluster`): fast stop,
    /// keep the leader key, start again as the standby leader following the remote.
    ToStandbyLeader,
}

/// One step for the driver to carry out, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Create-only put of `initialize`, then initdb, start, roles, `initialize=<sysid>`, `config`, leader key.
    Bootstrap,
    /// A standby cluster's first member: race for `initialize`, copy the remote primary (with
    /// `standby_cluster.create_replica_methods`), start following it, then `initialize=<sysid>`,
    /// `config` and the leader key (Patroni's `bootstrap_standby_leader`).
    BootstrapStandbyLeader,
    /// Create a replica into the empty data directory with the configured methods
    /// ([`replica::plan_create_replica`]), then start as a standby (of the leader, if any).
    CreateReplica {
        /// Source member; `None`: only methods that need none (`no_leader`) run.
        from: Option<String>,
    },
    /// Renew our lease and leader key (gate: failure stops the list and re-decides).
    RenewLeader,
    /// Take the leader key if free (gate: the driver re-decides with a fresh view either way).
    AcquireLeader,
    /// Delete the leader key if it holds our name.
    ReleaseLeader,
    /// Write `initialize` with our system identifier.
    WriteInitialize(String),
    /// Write `config` from `bootstrap.dcs`.
    WriteConfig,
    /// Promote the running standby (`pg_promote()`), then record the timeline switch in `/history`.
    Promote,
    /// Demote.
    Demote(DemoteMode),
    /// Start the postmaster as a primary (we hold the lock).
    StartPrimary,
    /// Start the postmaster as a standby of `leader` (`None`: read-only, streaming from nobody).
    StartReplica {
        /// Member to stream from.
        leader: Option<String>,
    },
    /// Make the running standby stream from `leader` (rewrite primary_conninfo, restart if changed).
    Follow {
        /// Member to stream from.
        leader: String,
    },
    /// pg_rewind from `leader`, then start as its standby: the steps of [`rewind::plan_rewind`],
    /// and after a failed rewind those of [`rewind::plan_after_failed_rewind`] (a fresh base
    /// backup only with `remove_data_directory_on_rewind_failure`).
    Rewind {
        /// Source member.
        leader: String,
    },
    /// Failsafe mode, etcd unreachable, every member answered `POST /failsafe`: keep the leader
    /// role on their word — answer as the leader for another ttl from the check and re-arm the
    /// fence guard for it (Patroni's failsafe mode). No etcd lease is renewed by this.
    FailsafeHold,
    /// Stop, then create the replica again from `from` with the configured methods (each
    /// empties the data directory first unless it keeps data).
    Reinitialize {
        /// Source member.
        from: String,
    },
    /// Create, advance and drop replication slots as [`slots::plan_slots`] plans over the
    /// server's slots read then: on the primary the members' and the permanent slots, on a
    /// replica that may take over the permanent physical ones.
    SyncSlots,
    /// Clear the `failover` key (compare-and-set on the revision read).
    ClearFailover,
    /// Primary only: plan and apply synchronous replication ([`sync::plan_sync`]).
    SyncReplication,
    /// Stop the agent with this error; PostgreSQL is stopped if we started it.
    Fatal(String),
}

/// The name a standby cluster's leader follows: the remote primary of `standby_cluster` (host,
/// port, or only its archive through `restore_command`), not a member of this group. Patroni
/// names it `remote_member`.
pub const REMOTE: &str = "remote_member";

/// The outcome of one decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Steps, in order.
    pub actions: Vec<Action>,
    /// The sentence logged for this cycle (Patroni's wording where Patroni has one).
    pub reason: String,
}

impl Action {
    /// Whether carrying this action out may change the local server (start, stop, promote,
    /// demote, rewind, clone, bootstrap): the cycle then observes it again before publishing the
    /// member key; otherwise the observation the decision was made on is published as it is.
    /// `SyncReplication` changes the server only when it rewrites `synchronous_standby_names`,
    /// which the runtime sees for itself.
    pub fn changes_server(&self) -> bool {
        !matches!(
            self,
            Action::RenewLeader
                | Action::AcquireLeader
                | Action::ReleaseLeader
                | Action::WriteInitialize(_)
                | Action::WriteConfig
                | Action::FailsafeHold
                | Action::SyncSlots
                | Action::ClearFailover
                | Action::SyncReplication
        )
    }
}

pub(crate) fn decide_with(actions: Vec<Action>, reason: impl Into<String>) -> Decision {
    Decision {
        actions,
        reason: reason.into(),
    }
}

/// Whether this cycle needs the peers' `GET /patroni` answers ([`Snapshot::peers`]): with no
/// leader while this server runs (is it the healthiest?), and while a switchover is pending for
/// this member as the running primary (or standby leader) or without a leader (is the candidate
/// healthy?) — the
/// latter even while this server is down, so a former leader restarting as a standby does not
/// outrun the candidate. A leader still promoting does not poll: it clears the key after.
pub fn wants_peers(me: &str, pg: &PgState, v: &ClusterView) -> bool {
    let i_lead = v.leader.as_ref().is_some_and(|l| l.name == me);
    // A standby cluster's leader hands over to a candidate too (it is no primary).
    let standby_leader = pg.running
        && v.config
            .as_ref()
            .is_some_and(DynamicConfig::is_standby_cluster);
    (pg.running && v.leader.is_none())
        || (v.failover.is_some()
            && (v.leader.is_none() || (i_lead && (pg.is_primary() || standby_leader))))
}

/// [`Snapshot::lease_margin`] for a fence margin (seconds).
pub fn lease_margin(fence_margin: f64) -> f64 {
    fence_margin + DECISION_ALLOWANCE
}

/// Seconds between the demotion threshold and the fence guard's deadline: time for the last
/// cycle's decision (its requests are cut to end at the threshold, but not to less than 0.2 s).
pub const DECISION_ALLOWANCE: f64 = 0.5;

/// Seconds a primary that could not renew may still run on the lease it holds: `Some` while
/// more than [`Snapshot::lease_margin`] is left (it tries again; a failed renewal is not a lost
/// lease), `None` when it must demote now.
fn lease_still_held(s: &Snapshot) -> Option<f64> {
    s.lease_left.filter(|left| *left > s.lease_margin)
}

/// Decides what this member does now. Pure: same snapshot, same decision.
pub fn decide(s: &Snapshot) -> Decision {
    let me = s.name.as_str();
    let Some(view) = &s.dcs else {
        return dcs_unreachable(s);
    };
    let leader = view.leader.as_ref().map(|l| l.name.as_str());
    let i_lead = leader == Some(me);

    // Data directory missing: bootstrap a new cluster or clone from the leader.
    let sysid = match &s.data {
        DataDir::Unreadable(why) => {
            return decide_with(
                vec![Action::Fatal(format!("data directory is unusable: {why}"))],
                "data directory is unusable",
            );
        }
        DataDir::Empty => return empty_data_dir(s, view, i_lead),
        DataDir::Present { sysid, .. } => sysid.clone(),
    };

    // The data must belong to this cluster.
    match view.initialize.as_deref() {
        Some(init) if !init.is_empty() && init != sysid => {
            let msg = format!(
                "system ID mismatch: the data directory has system identifier {sysid}, but this cluster's \
                 initialize key holds {init}; refusing to start or join (wrong scope or data directory?)"
            );
            return decide_with(vec![Action::Fatal(msg.clone())], msg);
        }
        None if leader.is_none() && s.pg.running && s.pg.in_recovery => {
            let msg =
                "No initialize key in DCS and PostgreSQL is running as replica, aborting start"
                    .to_string();
            return decide_with(vec![Action::Fatal(msg.clone())], msg);
        }
        _ => {}
    }
    let mut pre: Vec<Action> = Vec::new();
    if view.initialize.is_none() || (i_lead && view.initialize.as_deref() == Some("")) {
        pre.push(Action::WriteInitialize(sysid.clone()));
    }
    if i_lead && view.config_raw.is_none() {
        pre.push(Action::WriteConfig);
    }

    let d = if s.pg.starting {
        let timeout = s.config.primary_start_timeout as f64;
        if i_lead
            && !s.config.pause
            && s.data.was_primary()
            && s.pg.starting_for.is_some_and(|t| t >= timeout)
        {
            decide_with(
                vec![Action::Demote(DemoteMode::Immediate)],
                format!(
                    "PostgreSQL did not come up as primary within primary_start_timeout ({timeout} s): \
                     stopping it and releasing the leader key"
                ),
            )
        } else if i_lead && !s.renew_failed {
            decide_with(
                vec![Action::RenewLeader],
                "updated leader lock while PostgreSQL is starting",
            )
        } else {
            decide_with(vec![], "waiting for PostgreSQL to start")
        }
    } else if !s.pg.running {
        not_running(s, view, i_lead)
    } else if leader.is_none() {
        unhealthy_cluster(s, view)
    } else if i_lead {
        leading(s)
    } else {
        following(s, view, leader.unwrap_or_default())
    };
    pre.extend(d.actions);
    Decision {
        actions: pre,
        reason: d.reason,
    }
}

fn dcs_unreachable(s: &Snapshot) -> Decision {
    if s.pg.is_primary() && s.config.failsafe_mode && s.failsafe_ok {
        return decide_with(
            vec![Action::FailsafeHold],
            "continue to run as a leader because failsafe mode is enabled and all members are accessible",
        );
    }
    if s.pg.is_primary() {
        if s.config.pause {
            return decide_with(
                vec![],
                "PAUSE: DCS is not accessible; continuing to run as primary (maintenance mode)",
            );
        }
        if let Some(left) = lease_still_held(s) {
            return decide_with(
                vec![],
                format!(
                    "DCS is not accessible; still the leader for {left:.1} s of the lease I hold \
                     (demoting below {:.1} s): trying again",
                    s.lease_margin
                ),
            );
        }
        return decide_with(
            vec![Action::Demote(DemoteMode::Offline)],
            "demoted self because DCS is not accessible and I was a leader",
        );
    }
    decide_with(vec![], "DCS is not accessible")
}

fn empty_data_dir(s: &Snapshot, view: &ClusterView, i_lead: bool) -> Decision {
    if i_lead {
        // A postmaster may still run on the removed directory: stop it before the key goes.
        return decide_with(
            vec![Action::Demote(DemoteMode::Immediate)],
            "my data directory is empty: stopping PostgreSQL and releasing the leader key",
        );
    }
    match (&view.leader, view.initialize.as_deref()) {
        (None, None) => {
            if s.config.pause {
                decide_with(
                    vec![],
                    "PAUSE: not bootstrapping a new cluster in maintenance mode",
                )
            } else if s.can_bootstrap && s.tags.can_failover() && s.config.is_standby_cluster() {
                decide_with(
                    vec![Action::BootstrapStandbyLeader],
                    "trying to bootstrap a new standby leader",
                )
            } else if s.can_bootstrap && s.tags.can_failover() {
                decide_with(vec![Action::Bootstrap], "trying to bootstrap a new cluster")
            } else if s.can_clone_without_source {
                without_source()
            } else if !s.can_bootstrap {
                decide_with(
                    vec![],
                    "waiting for leader to bootstrap (no bootstrap section in my configuration)",
                )
            } else {
                decide_with(
                    vec![],
                    "waiting for leader to bootstrap (I am tagged nofailover)",
                )
            }
        }
        (Some(l), _) => {
            let source = replica::clone_source(view, &s.name).unwrap_or_else(|| l.name.clone());
            match view.member(&source) {
                Some(m) if m.is_running() && !m.data.conn_url.is_empty() => {
                    let reason = format!(
                        "trying to bootstrap from {} '{source}'",
                        if source == l.name {
                            "leader"
                        } else {
                            "replica"
                        }
                    );
                    decide_with(vec![Action::CreateReplica { from: Some(source) }], reason)
                }
                _ if s.can_clone_without_source && !s.config.pause => without_source(),
                _ => decide_with(
                    vec![],
                    format!(
                        "waiting for leader '{}' to be running before cloning",
                        l.name
                    ),
                ),
            }
        }
        // Another member is bootstrapping (`initialize` empty): wait for it, as Patroni does.
        (None, Some(init)) if !init.is_empty() && s.can_clone_without_source && !s.config.pause => {
            without_source()
        }
        (None, Some(_)) => decide_with(vec![], "waiting for leader to bootstrap"),
    }
}

/// A replica created by the methods that need no source member (a restore from a backup).
fn without_source() -> Decision {
    decide_with(
        vec![Action::CreateReplica { from: None }],
        "trying to bootstrap (without leader)",
    )
}

/// A running standby that already follows `leader` but cannot stream from it because it replayed or
/// received WAL past the point where its timeline ended in the leader's history (it was fed by the
/// old primary beyond what the new primary had when it was promoted). PostgreSQL then refuses the
/// new timeline ("forked off ... before current recovery point") and the standby stays stuck, so
/// it must be rewound. Decided only after the receiver has been down for a full loop_wait (at
/// least 5 s): a briefly restarting walreceiver reports no timeline and would look the same.
fn replica_diverged(s: &Snapshot, view: &ClusterView) -> Option<String> {
    let down = s.pg.receiver_down_for?;
    let leader = s.pg.following.as_deref()?;
    if !s.pg.running || !s.pg.in_recovery {
        return None;
    }
    // A dead leader also leaves the receiver down; only a running one proves we cannot follow.
    if !view.member(leader).is_some_and(|m| m.is_running()) {
        return None;
    }
    if down < s.config.loop_wait.max(5) as f64 {
        return None;
    }
    let tl = s.pg.timeline?;
    let entry = view.history.iter().find(|h| h.timeline == tl)?;
    let lsn = s.pg.lsn();
    (lsn > entry.switch_lsn).then(|| {
        format!(
            "my WAL position {} on timeline {tl} is past the leader's switch point {} to timeline {}",
            lsn,
            entry.switch_lsn,
            tl + 1
        )
    })
}

/// Whether a former primary's history diverged from the leader's timeline (needs rewind/reinit).
fn diverged(s: &Snapshot, view: &ClusterView) -> bool {
    let DataDir::Present {
        timeline,
        checkpoint_lsn,
        min_recovery,
        ..
    } = &s.data
    else {
        return false;
    };
    // WAL at `lsn` on timeline `tl` past the point where the leader's history left `tl`.
    let past = |tl: u32, lsn: crate::types::Lsn| {
        view.history
            .iter()
            .find(|h| h.timeline == tl)
            .is_some_and(|h| lsn > h.switch_lsn)
    };
    let by_checkpoint = match view.history.iter().find(|h| h.timeline == *timeline) {
        Some(h) => *checkpoint_lsn > h.switch_lsn,
        None => {
            view.history_timeline()
                .map(|t| t > *timeline)
                .unwrap_or(false)
                && s.data.was_primary()
        }
    };
    // A stopped standby replayed up to its minimum recovery point, maybe past its last
    // restartpoint and past the switch: PostgreSQL then refuses to start it on the new timeline
    // ("requested timeline does not contain minimum recovery point").
    by_checkpoint || min_recovery.is_some_and(|(tl, lsn)| past(tl, lsn))
}

fn not_running(s: &Snapshot, view: &ClusterView, i_lead: bool) -> Decision {
    if s.config.pause {
        if i_lead {
            return decide_with(
                vec![Action::ReleaseLeader],
                "PAUSE: removed leader key because PostgreSQL is not running",
            );
        }
        return decide_with(vec![], "PAUSE: PostgreSQL is not running");
    }
    if i_lead && s.config.is_standby_cluster() && !s.renew_failed && s.pg.start_failures < 3 {
        return decide_with(
            vec![
                Action::RenewLeader,
                Action::StartReplica {
                    leader: Some(REMOTE.into()),
                },
            ],
            "starting as a standby leader because I had the session lock",
        );
    }
    if i_lead {
        if s.pg.start_failures >= 3 {
            return decide_with(
                vec![Action::ReleaseLeader],
                format!(
                    "removed leader key after trying and failing to start postgres {} times",
                    s.pg.start_failures
                ),
            );
        }
        if s.renew_failed {
            return decide_with(
                vec![],
                "failed to update leader lock in DCS; not starting PostgreSQL as primary",
            );
        }
        if s.data.was_primary() && s.pg.crashed && s.config.primary_start_timeout == 0 {
            return decide_with(
                vec![Action::ReleaseLeader],
                "PostgreSQL crashed and primary_start_timeout is 0: released the leader key \
                 instead of restarting it",
            );
        }
        if s.data.was_primary() {
            return decide_with(
                vec![Action::RenewLeader, Action::StartPrimary],
                "starting primary after failure",
            );
        }
        return decide_with(
            vec![Action::RenewLeader, Action::StartReplica { leader: None }],
            "starting as readonly because I had the session lock",
        );
    }
    match &view.leader {
        Some(l) => {
            let leader_ok = view.member(&l.name).is_some_and(|m| !m.data.conn_url.is_empty());
            if !leader_ok {
                return decide_with(
                    vec![Action::StartReplica { leader: None }],
                    format!("starting as a secondary; leader '{}' has not published its address yet", l.name),
                );
            }
            if s.data.was_primary() || s.pg.crashed || diverged(s, view) {
                if s.use_pg_rewind && s.rewind_failed {
                    return decide_with(
                        vec![Action::StartReplica { leader: Some(l.name.clone()) }],
                        format!(
                            "pg_rewind from {} failed before and the data directory is kept: \
                             starting as a secondary; reinitialize this member to recover",
                            l.name
                        ),
                    );
                }
                if s.use_pg_rewind {
                    return decide_with(
                        vec![Action::Rewind { leader: l.name.clone() }],
                        format!("running pg_rewind from {} before starting as a secondary", l.name),
                    );
                }
                if diverged(s, view) {
                    return if s.remove_data_on_diverged {
                        decide_with(
                            vec![Action::Reinitialize { from: l.name.clone() }],
                            format!("my timeline diverged from leader {} and use_pg_rewind is off: remove_data_directory_on_diverged_timelines is on, reinitializing from it", l.name),
                        )
                    } else {
                        decide_with(
                            vec![Action::StartReplica { leader: Some(l.name.clone()) }],
                            format!("my timeline diverged from leader {} and use_pg_rewind and remove_data_directory_on_diverged_timelines are off: keeping the data directory and starting as a secondary; reinitialize this member to recover", l.name),
                        )
                    };
                }
            }
            decide_with(
                vec![Action::StartReplica { leader: Some(upstream_of(s, view, &l.name)) }],
                "starting as a secondary",
            )
        }
        None => decide_with(
            vec![Action::StartReplica { leader: None }],
            "starting as a secondary (no leader yet; will take part in the leader race once running)",
        ),
    }
}

fn leading(s: &Snapshot) -> Decision {
    if s.renew_failed {
        if s.config.pause {
            return decide_with(
                vec![],
                "PAUSE: failed to update leader lock in DCS; continuing to run",
            );
        }
        if s.pg.is_primary() {
            if let Some(left) = lease_still_held(s) {
                return decide_with(
                    vec![],
                    format!(
                        "failed to update leader lock in DCS; still the leader for {left:.1} s of \
                         the lease I hold (demoting below {:.1} s): trying again",
                        s.lease_margin
                    ),
                );
            }
            return decide_with(
                vec![Action::Demote(DemoteMode::ImmediateNoLock)],
                "demoted self because failed to update leader lock in DCS",
            );
        }
        return decide_with(vec![], "failed to update leader lock in DCS");
    }
    if !s.pg.in_recovery || s.config.is_standby_cluster() {
        if let Some(d) = s.dcs.as_ref().and_then(|v| manual_switchover(s, v)) {
            return d;
        }
    }
    if s.config.is_standby_cluster() {
        return standby_leader(s);
    }
    if s.pg.in_recovery && !s.watchdog_ok && !s.config.pause {
        return decide_with(
            vec![Action::ReleaseLeader],
            "released the leader lock: the watchdog is required but not usable, refusing to promote",
        );
    }
    if s.pg.in_recovery {
        if s.config.pause {
            return decide_with(
                vec![Action::RenewLeader],
                "PAUSE: holding the leader lock while PostgreSQL is a standby; not promoting",
            );
        }
        let mut actions = vec![
            Action::RenewLeader,
            Action::Promote,
            Action::SyncSlots,
            Action::SyncReplication,
        ];
        if s.dcs.as_ref().is_some_and(|v| v.failover.is_some()) {
            // The request this promotion answers (or one it makes stale) is done: cleared with a
            // compare-and-set on the revision read, last, so that a concurrent change can hold
            // up neither the promotion nor the new primary's slots and synchronous standbys.
            actions.push(Action::ClearFailover);
        }
        return decide_with(
            actions,
            "promoted self to leader because I had the session lock",
        );
    }
    decide_with(
        vec![
            Action::RenewLeader,
            Action::SyncSlots,
            Action::SyncReplication,
        ],
        format!("no action. I am ({}), the leader with the lock", s.name),
    )
}

/// The leader of a standby cluster (Patroni's `enforce_follow_remote_member`): it never
/// promotes; a primary (the cluster was just demoted with `standby_cluster`) stops and starts
/// again following the remote, keeping the leader key; a standby follows the remote.
fn standby_leader(s: &Snapshot) -> Decision {
    if !s.pg.in_recovery {
        if s.config.pause {
            return decide_with(
                vec![Action::RenewLeader],
                "PAUSE: standby_cluster is set but this primary is not demoted in maintenance mode",
            );
        }
        return decide_with(
            vec![
                Action::RenewLeader,
                Action::Demote(DemoteMode::ToStandbyLeader),
            ],
            "demoting the primary to a standby leader: standby_cluster is set",
        );
    }
    if s.pg.following.as_deref() != Some(REMOTE) {
        return decide_with(
            vec![
                Action::RenewLeader,
                Action::Follow {
                    leader: REMOTE.into(),
                },
                Action::SyncSlots,
            ],
            "promoted self to a standby leader: following the remote primary",
        );
    }
    decide_with(
        vec![Action::RenewLeader, Action::SyncSlots],
        format!(
            "no action. I am ({}), the standby leader with the lock",
            s.name
        ),
    )
}

/// The member a standby streams from: the one its `replicatefrom` tag names while that member
/// has a key (and is not this member), else the leader (Patroni's `_get_node_to_follow`, which
/// falls back to the leader when the named member is gone).
pub fn upstream_of(s: &Snapshot, view: &ClusterView, leader: &str) -> String {
    match s.tags.replicatefrom.as_deref() {
        Some(r) if r != s.name && view.member(r).is_some() => r.to_string(),
        _ => leader.to_string(),
    }
}

fn following(s: &Snapshot, view: &ClusterView, leader: &str) -> Decision {
    if s.pg.is_primary() {
        if s.config.pause {
            return decide_with(
                vec![],
                format!("PAUSE: running as primary while {leader} holds the leader lock"),
            );
        }
        return decide_with(
            vec![Action::Demote(DemoteMode::ImmediateNoLock)],
            format!("demoting self because I do not have the lock and I was a leader; {leader} holds it"),
        );
    }
    if let Some(d) = replica_diverged(s, view) {
        let leader = leader.to_string();
        if s.use_pg_rewind && s.rewind_failed {
            return decide_with(
                vec![],
                format!(
                    "{d}; pg_rewind from {leader} failed before and the data directory is kept: \
                     waiting for this member to be reinitialized"
                ),
            );
        }
        return if s.use_pg_rewind {
            decide_with(
                vec![Action::Rewind {
                    leader: leader.clone(),
                }],
                format!("{d}: stopping and running pg_rewind from {leader}"),
            )
        } else if s.remove_data_on_diverged {
            decide_with(
                vec![Action::Reinitialize {
                    from: leader.clone(),
                }],
                format!("{d} and use_pg_rewind is off: remove_data_directory_on_diverged_timelines is on, reinitializing from {leader}"),
            )
        } else {
            decide_with(
                vec![],
                format!("{d} and use_pg_rewind and remove_data_directory_on_diverged_timelines are off: keeping the data directory; waiting for this member to be reinitialized"),
            )
        };
    }
    let upstream = upstream_of(s, view, leader);
    if s.pg.following.as_deref() != Some(upstream.as_str()) {
        let why = if upstream == leader {
            format!("following a new leader ({leader})")
        } else {
            format!("cascading from {upstream} (tag replicatefrom) while {leader} leads")
        };
        return decide_with(
            vec![Action::Follow { leader: upstream }],
            format!("changing primary_conninfo and restarting: {why}"),
        );
    }
    // A replica that may take over keeps the permanent physical slots (ha::slots).
    let actions = if slots::replica_keeps_slots(s) {
        vec![Action::SyncSlots]
    } else {
        vec![]
    };
    let reason = if upstream == leader {
        format!(
            "no action. I am ({}), a secondary, and following a leader ({leader})",
            s.name
        )
    } else {
        format!(
            "no action. I am ({}), a secondary, and cascading from {upstream} (leader {leader})",
            s.name
        )
    };
    decide_with(actions, reason)
}

#[cfg(test)]
mod tests;
