//! Unit tests of each decision: exact actions and reason for a given snapshot.

use super::*;
use crate::config::{DynamicConfig, Tags};
use crate::dcs::{ClusterView, Failover, HistoryEntry, LeaderKey, Member, MemberData};

fn member(name: &str, role: &str, lsn: u64) -> Member {
    Member {
        name: name.into(),
        data: MemberData {
            conn_url: format!("postgres://127.0.0.1:5432/{name}"),
            api_url: format!("http://127.0.0.1:8008/{name}"),
            state: "running".into(),
            role: role.into(),
            xlog_location: Some(lsn),
            ..Default::default()
        },
        lease: 1,
    }
}

fn view(leader: Option<&str>) -> ClusterView {
    ClusterView {
        initialize: Some("7000000000000000001".into()),
        config_raw: Some(serde_json::json!({})),
        config: Some(DynamicConfig::default()),
        leader: leader.map(|l| LeaderKey {
            name: l.into(),
            lease: 1,
            mod_revision: 1,
        }),
        members: vec![
            member("a", "primary", 100),
            member("b", "replica", 100),
            member("c", "replica", 100),
        ],
        optime: Some(100),
        ..Default::default()
    }
}

fn present(state: &str) -> DataDir {
    DataDir::Present {
        sysid: "7000000000000000001".into(),
        state: state.into(),
        timeline: 1,
        checkpoint_lsn: 50,
        backup_label: false,
    }
}

fn replica_pg(lsn: u64, following: Option<&str>) -> PgState {
    PgState {
        running: true,
        in_recovery: true,
        timeline: Some(1),
        receive_lsn: Some(lsn),
        replay_lsn: Some(lsn),
        following: following.map(String::from),
        ..Default::default()
    }
}

fn primary_pg(lsn: u64) -> PgState {
    PgState {
        running: true,
        in_recovery: false,
        timeline: Some(1),
        wal_lsn: Some(lsn),
        ..Default::default()
    }
}

fn peer(name: &str, role: &str, lsn: u64) -> PeerStatus {
    PeerStatus {
        name: name.into(),
        reachable: true,
        role: crate::types::Role::parse(role),
        state: Some(crate::types::MemberState::Running),
        lsn,
        timeline: Some(1),
        tags: Tags::default(),
    }
}

fn snap(name: &str, dcs: Option<ClusterView>, data: DataDir, pg: PgState) -> Snapshot {
    Snapshot {
        name: name.into(),
        dcs,
        config: DynamicConfig::default(),
        tags: Tags::default(),
        data,
        pg,
        peers: vec![],
        use_pg_rewind: true,
        can_bootstrap: true,
        renew_failed: false,
        lease_left: None,
        rewind_failed: false,
        lease_margin: 4.5,
        acquire_failed: false,
        now: 1_800_000_000.0,
        failsafe_ok: false,
        failsafe_leader: None,
        watchdog_ok: true,
    }
}

#[test]
fn leader_renews_and_stays() {
    let d = decide(&snap(
        "a",
        Some(view(Some("a"))),
        present("in production"),
        primary_pg(100),
    ));
    assert_eq!(
        d.actions,
        vec![
            Action::RenewLeader,
            Action::SyncSlots,
            Action::SyncReplication
        ]
    );
    assert_eq!(d.reason, "no action. I am (a), the leader with the lock");
}

#[test]
fn replica_follows_leader() {
    let d = decide(&snap(
        "b",
        Some(view(Some("a"))),
        present("in archive recovery"),
        replica_pg(100, Some("a")),
    ));
    assert_eq!(d.actions, vec![]);
    assert_eq!(
        d.reason,
        "no action. I am (b), a secondary, and following a leader (a)"
    );
    let d = decide(&snap(
        "b",
        Some(view(Some("c"))),
        present("in archive recovery"),
        replica_pg(100, Some("a")),
    ));
    assert_eq!(d.actions, vec![Action::Follow { leader: "c".into() }]);
}

#[test]
fn no_leader_healthiest_acquires() {
    let mut s = snap(
        "b",
        Some(view(None)),
        present("in archive recovery"),
        replica_pg(100, Some("a")),
    );
    s.peers = vec![peer("c", "replica", 90)];
    let d = decide(&s);
    assert_eq!(d.actions, vec![Action::AcquireLeader]);
    assert!(d.reason.contains("healthiest"), "{}", d.reason);
}

#[test]
fn no_leader_peer_ahead_does_not_race() {
    let mut s = snap(
        "b",
        Some(view(None)),
        present("in archive recovery"),
        replica_pg(90, Some("a")),
    );
    s.peers = vec![peer("c", "replica", 100)];
    let d = decide(&s);
    assert_eq!(d.actions, vec![]);
    assert!(
        d.reason.contains("c has a higher WAL position"),
        "{}",
        d.reason
    );
}

#[test]
fn failover_priority_breaks_ties() {
    let mut s = snap(
        "b",
        Some(view(None)),
        present("in archive recovery"),
        replica_pg(100, Some("a")),
    );
    let mut p = peer("c", "replica", 100);
    p.tags.failover_priority = Some(5);
    s.peers = vec![p];
    let d = decide(&s);
    assert_eq!(d.actions, vec![]);
    assert!(
        d.reason.contains("higher failover_priority"),
        "{}",
        d.reason
    );
}

#[test]
fn old_primary_alive_blocks_race() {
    let mut s = snap(
        "b",
        Some(view(None)),
        present("in archive recovery"),
        replica_pg(100, Some("a")),
    );
    s.peers = vec![peer("a", "primary", 100)];
    let d = decide(&s);
    assert_eq!(d.actions, vec![]);
    assert!(
        d.reason.contains("Primary (a) is still alive"),
        "{}",
        d.reason
    );
}

#[test]
fn lagging_standby_does_not_race() {
    let mut v = view(None);
    v.optime = Some(10_000_000);
    let d = decide(&snap(
        "b",
        Some(v),
        present("in archive recovery"),
        replica_pg(100, Some("a")),
    ));
    assert_eq!(d.actions, vec![]);
    assert!(d.reason.contains("maximum_lag_on_failover"), "{}", d.reason);
}

#[test]
fn nofailover_does_not_race() {
    let mut s = snap(
        "b",
        Some(view(None)),
        present("in archive recovery"),
        replica_pg(100, Some("a")),
    );
    s.tags.nofailover = true;
    let d = decide(&s);
    assert_eq!(d.actions, vec![]);
    assert!(d.reason.contains("nofailover"), "{}", d.reason);
    s.tags.nofailover = false;
    s.tags.failover_priority = Some(0);
    assert_eq!(decide(&s).actions, vec![]);
}

/// The switchover's candidate, having won the key, promotes and then clears the failover key
/// (a compare-and-set the core asks for, not an overwrite by the runtime).
#[test]
fn the_candidate_promotes_then_clears_the_failover_key() {
    let mut v = view(Some("b"));
    v.failover = Some(Failover {
        leader: Some("a".into()),
        member: Some("b".into()),
        scheduled_at: None,
    });
    let d = decide(&snap(
        "b",
        Some(v),
        present("in archive recovery"),
        replica_pg(100, Some("a")),
    ));
    assert_eq!(
        d.actions,
        vec![
            Action::RenewLeader,
            Action::Promote,
            Action::SyncSlots,
            Action::SyncReplication,
            Action::ClearFailover
        ]
    );
}

#[test]
fn lock_holder_promotes() {
    let d = decide(&snap(
        "b",
        Some(view(Some("b"))),
        present("in archive recovery"),
        replica_pg(100, Some("a")),
    ));
    assert_eq!(
        d.actions,
        vec![
            Action::RenewLeader,
            Action::Promote,
            Action::SyncSlots,
            Action::SyncReplication
        ]
    );
    assert_eq!(
        d.reason,
        "promoted self to leader because I had the session lock"
    );
}

#[test]
fn lost_lease_demotes() {
    let mut s = snap(
        "a",
        Some(view(Some("a"))),
        present("in production"),
        primary_pg(100),
    );
    s.renew_failed = true;
    let d = decide(&s);
    assert_eq!(d.actions, vec![Action::Demote(DemoteMode::ImmediateNoLock)]);
    assert_eq!(
        d.reason,
        "demoted self because failed to update leader lock in DCS"
    );
}

/// One etcd member down, or etcd slow for a moment: a renewal that failed while the lease still
/// has more than the margin left keeps the primary running (reference: issue "One etcd member
/// down must go unnoticed"); below the margin it demotes as Patroni does.
#[test]
fn failed_renewal_keeps_the_primary_while_the_lease_lasts() {
    let mut s = snap(
        "a",
        Some(view(Some("a"))),
        present("in production"),
        primary_pg(100),
    );
    s.renew_failed = true;
    s.lease_left = Some(12.0);
    let d = decide(&s);
    assert_eq!(d.actions, vec![]);
    assert_eq!(
        d.reason,
        "failed to update leader lock in DCS; still the leader for 12.0 s of the lease I hold \
         (demoting below 4.5 s): trying again"
    );
    s.lease_left = Some(4.5);
    let d = decide(&s);
    assert_eq!(d.actions, vec![Action::Demote(DemoteMode::ImmediateNoLock)]);
    assert_eq!(
        d.reason,
        "demoted self because failed to update leader lock in DCS"
    );
    // Maintenance mode: never demoted, whatever is left.
    s.config.pause = true;
    let d = decide(&s);
    assert_eq!(d.actions, vec![]);
    assert_eq!(
        d.reason,
        "PAUSE: failed to update leader lock in DCS; continuing to run"
    );
}

#[test]
fn dcs_unreachable_primary_keeps_running_on_its_lease_then_demotes_offline() {
    let mut s = snap("a", None, present("in production"), primary_pg(100));
    s.lease_left = Some(9.0);
    let d = decide(&s);
    assert_eq!(d.actions, vec![]);
    assert_eq!(
        d.reason,
        "DCS is not accessible; still the leader for 9.0 s of the lease I hold (demoting below \
         4.5 s): trying again"
    );
    s.lease_left = Some(4.0);
    let d = decide(&s);
    assert_eq!(d.actions, vec![Action::Demote(DemoteMode::Offline)]);
    // A standby has nothing to keep.
    let mut s = snap(
        "b",
        None,
        present("in archive recovery"),
        replica_pg(100, Some("a")),
    );
    s.lease_left = Some(9.0);
    assert_eq!(decide(&s).reason, "DCS is not accessible");
}

#[test]
fn dcs_unreachable_primary_demotes_offline() {
    let d = decide(&snap("a", None, present("in production"), primary_pg(100)));
    assert_eq!(d.actions, vec![Action::Demote(DemoteMode::Offline)]);
    assert_eq!(
        d.reason,
        "demoted self because DCS is not accessible and I was a leader"
    );
    let d = decide(&snap(
        "b",
        None,
        present("in archive recovery"),
        replica_pg(100, Some("a")),
    ));
    assert_eq!(d.actions, vec![]);
    assert_eq!(d.reason, "DCS is not accessible");
}

#[test]
fn primary_without_lock_demotes() {
    let d = decide(&snap(
        "a",
        Some(view(Some("b"))),
        present("in production"),
        primary_pg(100),
    ));
    assert_eq!(d.actions, vec![Action::Demote(DemoteMode::ImmediateNoLock)]);
}

#[test]
fn crashed_postmaster_on_leader_restarts_in_place() {
    let mut pg = PgState {
        crashed: true,
        ..Default::default()
    };
    let d = decide(&snap(
        "a",
        Some(view(Some("a"))),
        present("in production"),
        pg.clone(),
    ));
    assert_eq!(d.actions, vec![Action::RenewLeader, Action::StartPrimary]);
    assert_eq!(d.reason, "starting primary after failure");
    pg.start_failures = 3;
    let d = decide(&snap(
        "a",
        Some(view(Some("a"))),
        present("in production"),
        pg,
    ));
    assert_eq!(d.actions, vec![Action::ReleaseLeader]);
}

#[test]
fn primary_that_cannot_start_releases_the_lease_at_once() {
    // Crash recovery running longer than primary_start_timeout: stop it, release the key.
    let pg = PgState {
        starting: true,
        starting_for: Some(31.0),
        ..Default::default()
    };
    let mut s = snap("a", Some(view(Some("a"))), present("in crash recovery"), pg);
    s.config.primary_start_timeout = 30;
    let d = decide(&s);
    assert_eq!(d.actions, vec![Action::Demote(DemoteMode::Immediate)]);
    assert!(d.reason.contains("primary_start_timeout"), "{}", d.reason);
    // Within the timeout: keep the lease while it recovers.
    s.pg.starting_for = Some(29.0);
    assert_eq!(decide(&s).actions, vec![Action::RenewLeader]);
    // In maintenance mode nothing is stopped.
    s.pg.starting_for = Some(31.0);
    s.config.pause = true;
    assert_eq!(decide(&s).actions, vec![Action::RenewLeader]);

    // primary_start_timeout 0: a crash hands over at once instead of restarting in place.
    let pg = PgState {
        crashed: true,
        ..Default::default()
    };
    let mut s = snap("a", Some(view(Some("a"))), present("in production"), pg);
    s.config.primary_start_timeout = 0;
    assert_eq!(decide(&s).actions, vec![Action::ReleaseLeader]);

    // The data directory vanished under a running primary: stop whatever still runs, release.
    let s = snap(
        "a",
        Some(view(Some("a"))),
        DataDir::Empty,
        PgState::default(),
    );
    let d = decide(&s);
    assert_eq!(d.actions, vec![Action::Demote(DemoteMode::Immediate)]);
    assert!(d.reason.contains("data directory is empty"), "{}", d.reason);
}

#[test]
fn former_primary_rewinds_or_reinitializes() {
    let pg = PgState::default();
    let d = decide(&snap(
        "a",
        Some(view(Some("b"))),
        present("in production"),
        pg.clone(),
    ));
    assert_eq!(d.actions, vec![Action::Rewind { leader: "b".into() }]);
    let mut s = snap("a", Some(view(Some("b"))), present("in production"), pg);
    s.use_pg_rewind = false;
    let mut v = view(Some("b"));
    v.history = vec![HistoryEntry {
        timeline: 1,
        switch_lsn: 40,
        reason: "".into(),
        timestamp: None,
        new_leader: Some("b".into()),
    }];
    s.dcs = Some(v);
    assert_eq!(
        decide(&s).actions,
        vec![Action::Reinitialize { from: "b".into() }]
    );
}

/// A pg_rewind from this leader failed and the data was kept (Patroni's
/// remove_data_directory_on_rewind_failure off): no second rewind; a former primary starts as a
/// secondary on its data, a diverged standby waits for a reinitialize.
#[test]
fn after_a_failed_rewind_the_data_is_kept_and_not_rewound_again() {
    let mut s = snap(
        "a",
        Some(view(Some("b"))),
        present("in production"),
        PgState::default(),
    );
    s.rewind_failed = true;
    let d = decide(&s);
    assert_eq!(
        d.actions,
        vec![Action::StartReplica {
            leader: Some("b".into())
        }]
    );
    assert_eq!(
        d.reason,
        "pg_rewind from b failed before and the data directory is kept: starting as a \
         secondary; reinitialize this member to recover"
    );
    let mut v = view(Some("b"));
    v.history = vec![HistoryEntry {
        timeline: 1,
        switch_lsn: 40,
        reason: "".into(),
        timestamp: None,
        new_leader: Some("b".into()),
    }];
    let mut pg = replica_pg(60, Some("b"));
    pg.receiver_down_for = Some(11.0);
    let mut s = snap("c", Some(v), present("in archive recovery"), pg);
    s.rewind_failed = true;
    let d = decide(&s);
    assert_eq!(d.actions, vec![]);
    assert!(d.reason.ends_with("pg_rewind from b failed before and the data directory is kept: waiting for this member to be reinitialized"), "{}", d.reason);
}

#[test]
fn a_base_backup_that_never_started_is_started_not_rewound() {
    // pg_control copied from the primary says "in production", but backup_label is still there:
    // the first start failed before recovery began (a port in use, say). Starting again is all
    // there is to do; a rewind would be a no-op that checkpoints the leader every cycle.
    let mut data = present("in production");
    if let DataDir::Present { backup_label, .. } = &mut data {
        *backup_label = true;
    }
    assert!(!data.was_primary());
    let d = decide(&snap("a", Some(view(Some("b"))), data, PgState::default()));
    assert_eq!(
        d.actions,
        vec![Action::StartReplica {
            leader: Some("b".into())
        }]
    );
    assert_eq!(d.reason, "starting as a secondary");
}

#[test]
fn standby_stuck_past_the_leaders_switch_point_is_rewound() {
    // m3 received WAL from the old primary up to 60 on timeline 1; the new leader b left timeline 1
    // at 40. Its walreceiver has been down for 11 s (loop_wait 10): it cannot follow and must be rewound.
    let mut v = view(Some("b"));
    v.history = vec![HistoryEntry {
        timeline: 1,
        switch_lsn: 40,
        reason: "".into(),
        timestamp: None,
        new_leader: Some("b".into()),
    }];
    let mut pg = replica_pg(60, Some("b"));
    pg.receiver_down_for = Some(11.0);
    let mut s = snap("c", Some(v), present("in archive recovery"), pg);
    let d = decide(&s);
    assert_eq!(d.actions, vec![Action::Rewind { leader: "b".into() }]);
    assert!(
        d.reason.contains("past the leader's switch point"),
        "{}",
        d.reason
    );
    s.use_pg_rewind = false;
    assert_eq!(
        decide(&s).actions,
        vec![Action::Reinitialize { from: "b".into() }]
    );
    s.use_pg_rewind = true;
    // Down only briefly (a walreceiver restart): wait.
    s.pg.receiver_down_for = Some(1.0);
    assert_eq!(decide(&s).actions, vec![]);
    // Streaming: nothing to do.
    s.pg.receiver_down_for = None;
    assert_eq!(decide(&s).actions, vec![]);
    // At the switch point exactly: it can follow the new timeline.
    s.pg.receiver_down_for = Some(11.0);
    s.pg.receive_lsn = Some(40);
    s.pg.replay_lsn = Some(40);
    assert_eq!(decide(&s).actions, vec![]);
    // Already on the leader's timeline: no history entry for it, nothing to do.
    s.pg.receive_lsn = Some(60);
    s.pg.timeline = Some(2);
    assert_eq!(decide(&s).actions, vec![]);
    // The leader's server is not running (it died, its key not yet expired): the receiver being
    // down proves nothing.
    s.pg.timeline = Some(1);
    if let Some(v) = s.dcs.as_mut() {
        for m in v.members.iter_mut().filter(|m| m.name == "b") {
            m.data.state = "stopped".into();
        }
    }
    assert_eq!(decide(&s).actions, vec![]);
}

#[test]
fn stopped_replica_starts_following() {
    let d = decide(&snap(
        "b",
        Some(view(Some("a"))),
        present("shut down in recovery"),
        PgState::default(),
    ));
    assert_eq!(
        d.actions,
        vec![Action::StartReplica {
            leader: Some("a".into())
        }]
    );
}

#[test]
fn foreign_system_identifier_is_fatal() {
    let data = DataDir::Present {
        sysid: "7999999999999999999".into(),
        state: "shut down".into(),
        timeline: 1,
        checkpoint_lsn: 1,
        backup_label: false,
    };
    let d = decide(&snap(
        "b",
        Some(view(Some("a"))),
        data.clone(),
        PgState::default(),
    ));
    assert!(
        matches!(&d.actions[..], [Action::Fatal(m)] if m.contains("system ID mismatch")),
        "{d:?}"
    );
    // Even as would-be leader: never started as primary.
    let d = decide(&snap("b", Some(view(None)), data, primary_pg(5)));
    assert!(matches!(&d.actions[..], [Action::Fatal(_)]), "{d:?}");
}

#[test]
fn empty_data_dir_bootstraps_or_clones() {
    let mut v = view(None);
    v.initialize = None;
    v.members.clear();
    let d = decide(&snap(
        "a",
        Some(v.clone()),
        DataDir::Empty,
        PgState::default(),
    ));
    assert_eq!(d.actions, vec![Action::Bootstrap]);
    let mut s = snap("a", Some(v), DataDir::Empty, PgState::default());
    s.can_bootstrap = false;
    assert_eq!(decide(&s).actions, vec![]);
    let d = decide(&snap(
        "c",
        Some(view(Some("a"))),
        DataDir::Empty,
        PgState::default(),
    ));
    assert_eq!(d.actions, vec![Action::Basebackup { from: "a".into() }]);
    assert_eq!(d.reason, "trying to bootstrap from leader 'a'");
}

#[test]
fn primary_with_old_timeline_may_not_retake_lock() {
    let mut v = view(None);
    v.history = vec![HistoryEntry {
        timeline: 1,
        switch_lsn: 40,
        reason: "".into(),
        timestamp: None,
        new_leader: Some("b".into()),
    }];
    let d = decide(&snap(
        "a",
        Some(v),
        present("in production"),
        primary_pg(100),
    ));
    assert_eq!(d.actions, vec![Action::Demote(DemoteMode::ImmediateNoLock)]);
}

#[test]
fn adopts_existing_data_when_initialize_missing() {
    let mut v = view(Some("a"));
    v.initialize = None;
    let d = decide(&snap(
        "a",
        Some(v),
        present("in production"),
        primary_pg(100),
    ));
    assert_eq!(
        d.actions[0],
        Action::WriteInitialize("7000000000000000001".into())
    );
}

#[test]
fn pause_blocks_automatic_actions() {
    let mut s = snap(
        "b",
        Some(view(None)),
        present("in archive recovery"),
        replica_pg(100, Some("a")),
    );
    s.config.pause = true;
    assert_eq!(decide(&s).actions, vec![]);
    let mut s = snap("a", None, present("in production"), primary_pg(100));
    s.config.pause = true;
    assert_eq!(decide(&s).actions, vec![]);
}

#[test]
fn starting_server_is_waited_for() {
    let pg = PgState {
        starting: true,
        ..Default::default()
    };
    let d = decide(&snap(
        "a",
        Some(view(Some("a"))),
        present("in production"),
        pg.clone(),
    ));
    assert_eq!(d.actions, vec![Action::RenewLeader]);
    let d = decide(&snap(
        "b",
        Some(view(Some("a"))),
        present("in archive recovery"),
        pg,
    ));
    assert_eq!(d.actions, vec![]);
    assert_eq!(d.reason, "waiting for PostgreSQL to start");
}

fn with_failover(leader: Option<&str>, member: Option<&str>, at: Option<&str>) -> ClusterView {
    let mut v = view(Some("a"));
    v.failover = Some(Failover {
        leader: leader.map(String::from),
        member: member.map(String::from),
        scheduled_at: at.map(String::from),
    });
    v
}

#[test]
fn switchover_to_healthy_candidate_demotes_gracefully() {
    let mut s = snap(
        "a",
        Some(with_failover(Some("a"), Some("b"), None)),
        present("in production"),
        primary_pg(100),
    );
    s.peers = vec![peer("b", "replica", 100), peer("c", "replica", 100)];
    let d = decide(&s);
    assert_eq!(d.actions, vec![Action::Demote(DemoteMode::Graceful)]);
    assert_eq!(
        d.reason,
        "switchover: demoting myself so that b can take over"
    );
}

#[test]
fn switchover_to_unhealthy_candidate_is_cancelled() {
    let mut s = snap(
        "a",
        Some(with_failover(Some("a"), Some("b"), None)),
        present("in production"),
        primary_pg(100),
    );
    let mut p = peer("b", "replica", 100);
    p.tags.nofailover = true;
    s.peers = vec![p, peer("c", "replica", 100)];
    let d = decide(&s);
    assert_eq!(d.actions, vec![Action::RenewLeader, Action::ClearFailover]);
    assert!(d.reason.contains("not healthy"), "{}", d.reason);
    // Lagging candidate.
    s.peers = vec![peer("b", "replica", 1), peer("c", "replica", 100)];
    s.pg.wal_lsn = Some(10_000_000);
    assert_eq!(
        decide(&s).actions,
        vec![Action::RenewLeader, Action::ClearFailover]
    );
}

#[test]
fn failover_key_for_another_leader_is_cleared() {
    let d = decide(&snap(
        "a",
        Some(with_failover(Some("z"), Some("b"), None)),
        present("in production"),
        primary_pg(100),
    ));
    assert_eq!(d.actions, vec![Action::RenewLeader, Action::ClearFailover]);
}

#[test]
fn scheduled_switchover_waits_then_runs() {
    // 2027-01-15T08:00:00Z is 1_800_000_000 + 0: use offsets from the snapshot's now.
    let at = |secs: i64| {
        chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0)
            .unwrap()
            .to_rfc3339()
    };
    let mut s = snap(
        "a",
        Some(with_failover(Some("a"), Some("b"), Some(&at(3600)))),
        present("in production"),
        primary_pg(100),
    );
    s.peers = vec![peer("b", "replica", 100)];
    let d = decide(&s);
    assert_eq!(
        d.actions,
        vec![
            Action::RenewLeader,
            Action::SyncSlots,
            Action::SyncReplication
        ]
    );
    assert!(
        d.reason.starts_with("Awaiting switchover at"),
        "{}",
        d.reason
    );
    s.dcs = Some(with_failover(Some("a"), Some("b"), Some(&at(-1))));
    assert_eq!(
        decide(&s).actions,
        vec![Action::Demote(DemoteMode::Graceful)]
    );
    s.dcs = Some(with_failover(Some("a"), Some("b"), Some(&at(-3600))));
    assert_eq!(
        decide(&s).actions,
        vec![Action::RenewLeader, Action::ClearFailover]
    );
}

#[test]
fn named_candidate_wins_the_race_and_former_leader_waits() {
    let mut v = with_failover(Some("a"), Some("c"), None);
    v.leader = None;
    let mut s = snap(
        "c",
        Some(v.clone()),
        present("in archive recovery"),
        replica_pg(90, Some("a")),
    );
    s.peers = vec![peer("b", "replica", 100), peer("a", "replica", 100)];
    assert_eq!(decide(&s).actions, vec![Action::AcquireLeader]);
    let mut s = snap(
        "b",
        Some(v.clone()),
        present("in archive recovery"),
        replica_pg(100, Some("a")),
    );
    s.peers = vec![peer("c", "replica", 90)];
    assert_eq!(decide(&s).actions, vec![]);
    let mut v2 = v;
    v2.failover.as_mut().unwrap().member = None;
    let mut s = snap("a", Some(v2), present("shut down"), replica_pg(100, None));
    s.peers = vec![peer("b", "replica", 100)];
    let d = decide(&s);
    assert_eq!(d.actions, vec![]);
    assert!(d.reason.contains("former leader"), "{}", d.reason);
}

#[test]
fn failsafe_keeps_the_primary_when_all_members_answer() {
    let mut s = snap("a", None, present("in production"), primary_pg(100));
    s.config.failsafe_mode = true;
    assert_eq!(
        decide(&s).actions,
        vec![Action::Demote(DemoteMode::Offline)]
    );
    s.failsafe_ok = true;
    let d = decide(&s);
    assert_eq!(d.actions, vec![Action::FailsafeHold]);
    assert!(
        d.reason
            .starts_with("continue to run as a leader because failsafe mode"),
        "{}",
        d.reason
    );
    // A standby pinged by the failsafe leader does not race.
    let mut r = snap(
        "b",
        Some(view(None)),
        present("in archive recovery"),
        replica_pg(100, Some("a")),
    );
    r.failsafe_leader = Some("a".into());
    assert_eq!(decide(&r).actions, vec![]);
}

#[test]
fn required_watchdog_that_is_unusable_blocks_promotion() {
    let mut s = snap(
        "b",
        Some(view(None)),
        present("in archive recovery"),
        replica_pg(100, Some("a")),
    );
    s.watchdog_ok = false;
    assert_eq!(decide(&s).actions, vec![]);
    let mut s = snap(
        "b",
        Some(view(Some("b"))),
        present("in archive recovery"),
        replica_pg(100, Some("a")),
    );
    s.watchdog_ok = false;
    assert_eq!(decide(&s).actions, vec![Action::ReleaseLeader]);
}

#[test]
fn primary_that_fails_to_take_the_free_key_demotes() {
    let mut s = snap(
        "a",
        Some(view(None)),
        present("in production"),
        primary_pg(100),
    );
    assert_eq!(decide(&s).actions, vec![Action::AcquireLeader]);
    s.acquire_failed = true;
    let d = decide(&s);
    assert_eq!(d.actions, vec![Action::Demote(DemoteMode::ImmediateNoLock)]);
    assert_eq!(
        d.reason,
        "demoted self after trying and failing to obtain lock"
    );
    let mut r = snap(
        "b",
        Some(view(None)),
        present("in archive recovery"),
        replica_pg(100, Some("a")),
    );
    r.acquire_failed = true;
    assert_eq!(decide(&r).actions, vec![]);
}

#[test]
fn peers_are_polled_for_a_leader_race_or_a_pending_switchover() {
    let running = primary_pg(100);
    let down = PgState::default();
    let mut switchover = view(Some("a"));
    switchover.failover = Some(Failover {
        leader: Some("a".into()),
        member: Some("b".into()),
        scheduled_at: None,
    });
    let mut failover_no_leader = view(None);
    failover_no_leader.failover = switchover.failover.clone();
    let cases = [
        ("b", &running, view(None), true),
        ("b", &down, view(None), false),
        ("b", &running, view(Some("a")), false),
        ("a", &running, switchover.clone(), true),
        ("a", &down, switchover.clone(), false),
        ("b", &running, switchover, false),
        ("c", &down, failover_no_leader, true),
    ];
    for (me, pg, v, want) in cases {
        assert_eq!(crate::ha::wants_peers(me, pg, &v), want, "{me} {v:?}");
    }
}
