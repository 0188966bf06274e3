//! Unit tests of each decision: exact actions and reason for a given snapshot.

use super::*;
use crate::config::{DynamicConfig, Tags};
use crate::dcs::{ClusterView, Failover, HistoryEntry, LeaderKey, Member, MemberData};
use crate::types::Lsn;
use Action::*;
use DemoteMode::*;

fn member(name: &str, role: &str, lsn: u64) -> Member {
    Member {
        name: name.into(),
        data: MemberData {
            conn_url: format!("postgres://127.0.0.1:5432/{name}"),
            api_url: format!("http://127.0.0.1:8008/{name}"),
            state: "running".into(),
            role: role.into(),
            xlog_location: Some(Lsn(lsn)),
            ..Default::default()
        },
        lease: 1,
    }
}

/// The group a (primary), b and c (replicas), all at LSN 100, led by `leader`.
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
        optime: Some(Lsn(100)),
        ..Default::default()
    }
}

/// [`view`], whose history says that b left timeline 1 at LSN 40.
fn switched(leader: Option<&str>) -> ClusterView {
    let mut v = view(leader);
    v.history = vec![HistoryEntry {
        timeline: 1,
        switch_lsn: Lsn(40),
        reason: "".into(),
        timestamp: None,
        new_leader: Some("b".into()),
    }];
    v
}

/// [`view`] led by `holder`, with a failover key from `leader` to `member`, scheduled `at`.
fn with_failover(
    holder: Option<&str>,
    leader: &str,
    member: Option<&str>,
    at: Option<&str>,
) -> ClusterView {
    let mut v = view(holder);
    v.failover = Some(Failover {
        leader: Some(leader.into()),
        member: member.map(String::from),
        scheduled_at: at.map(String::from),
    });
    v
}

fn present(state: &str) -> DataDir {
    DataDir::Present {
        sysid: "7000000000000000001".into(),
        state: state.into(),
        timeline: 1,
        checkpoint_lsn: Lsn(50),
        min_recovery: None,
        backup_label: false,
    }
}

fn replica_pg(lsn: u64, following: Option<&str>) -> PgState {
    PgState {
        running: true,
        in_recovery: true,
        timeline: Some(1),
        receive_lsn: Some(Lsn(lsn)),
        replay_lsn: Some(Lsn(lsn)),
        following: following.map(String::from),
        ..Default::default()
    }
}

fn primary_pg(lsn: u64) -> PgState {
    PgState {
        running: true,
        in_recovery: false,
        timeline: Some(1),
        wal_lsn: Some(Lsn(lsn)),
        ..Default::default()
    }
}

/// A postmaster that died.
fn crashed() -> PgState {
    with(PgState::default(), |pg| pg.crashed = true)
}

/// A server still starting, for `secs` seconds so far.
fn starting(secs: Option<f64>) -> PgState {
    with(PgState::default(), |pg| {
        pg.starting = true;
        pg.starting_for = secs;
    })
}

fn peer(name: &str, role: &str, lsn: u64) -> PeerStatus {
    PeerStatus {
        name: name.into(),
        reachable: true,
        role: crate::types::Role::parse(role),
        state: Some(crate::types::MemberState::Running),
        lsn: Lsn(lsn),
        timeline: Some(1),
        tags: Tags::default(),
    }
}

/// `x` changed by `f`.
fn with<T>(mut x: T, f: impl FnOnce(&mut T)) -> T {
    f(&mut x);
    x
}

/// `name` in the group `dcs` (`None`: DCS unreachable), with data `data` and server `pg`.
fn snap(name: &str, dcs: impl Into<Option<ClusterView>>, data: DataDir, pg: PgState) -> Snapshot {
    Snapshot {
        name: name.into(),
        dcs: dcs.into(),
        config: DynamicConfig::default(),
        tags: Tags::default(),
        data,
        pg,
        peers: vec![],
        use_pg_rewind: true,
        remove_data_on_diverged: false,
        can_bootstrap: true,
        can_clone_without_source: false,
        renew_failed: false,
        lease_left: None,
        rewind_failed: false,
        lease_margin: 4.5,
        acquire_failed: false,
        now: 1_800_000_000.0,
        failsafe_ok: false,
        failsafe_leader: None,
        watchdog_ok: true,
        pre_promote_failed_at: None,
    }
}

/// `name`, its server down, with data in pg_control state `state`, in the group `dcs`.
fn stopped(name: &str, dcs: impl Into<Option<ClusterView>>, state: &str) -> Snapshot {
    snap(name, dcs, present(state), PgState::default())
}

/// `name`, a running standby of a at LSN `lsn`, in the group `dcs`.
fn standby(name: &str, dcs: impl Into<Option<ClusterView>>, lsn: u64) -> Snapshot {
    snap(
        name,
        dcs,
        present("in archive recovery"),
        replica_pg(lsn, Some("a")),
    )
}

/// a, a running primary at LSN 100, in the group `dcs`.
fn primary(dcs: impl Into<Option<ClusterView>>) -> Snapshot {
    snap("a", dcs, present("in production"), primary_pg(100))
}

/// c, a standby that received WAL from the old primary up to 60 on timeline 1, its walreceiver
/// down for 11 s (loop_wait 10); the new leader b left timeline 1 at 40.
fn past_the_switch_point() -> Snapshot {
    let mut pg = replica_pg(60, Some("b"));
    pg.receiver_down_for = Some(11.0);
    snap("c", switched(Some("b")), present("in archive recovery"), pg)
}

/// What a leader does each cycle while nothing happens.
fn leading() -> Vec<Action> {
    vec![RenewLeader, SyncSlots, SyncReplication]
}

/// What the holder of the leader key does while its server is still a standby.
fn promoting() -> Vec<Action> {
    vec![RenewLeader, Promote, SyncSlots, SyncReplication]
}

fn start_replica(leader: &str) -> Action {
    StartReplica {
        leader: Some(leader.into()),
    }
}

const LOST_LOCK: &str = "demoted self because failed to update leader lock in DCS";

/// The decision for `s` has exactly these actions and this reason.
#[track_caller]
fn check(s: &Snapshot, actions: Vec<Action>, reason: &str) {
    let d = decide(s);
    assert_eq!(d.actions, actions, "{}", d.reason);
    assert_eq!(d.reason, reason);
}

/// The decision for `s` has exactly these actions and a reason containing `part`.
#[track_caller]
fn check_has(s: &Snapshot, actions: Vec<Action>, part: &str) {
    let d = decide(s);
    assert_eq!(d.actions, actions, "{}", d.reason);
    assert!(d.reason.contains(part), "{}", d.reason);
}

#[test]
fn leader_renews_and_stays() {
    let reason = "no action. I am (a), the leader with the lock";
    check(&primary(view(Some("a"))), leading(), reason);
}

#[test]
fn replica_follows_leader() {
    let reason = "no action. I am (b), a secondary, and following a leader (a)";
    check(&standby("b", view(Some("a")), 100), vec![], reason);
    let d = decide(&standby("b", view(Some("c")), 100));
    assert_eq!(d.actions, vec![Follow { leader: "c".into() }]);
}

#[test]
fn replicatefrom_cascades_while_the_named_member_has_a_key() {
    let tagged =
        |s: Snapshot, from: &str| with(s, |s| s.tags.replicatefrom = Some(from.to_string()));
    // c streams from a (the leader) and is tagged replicatefrom b: it follows b.
    let c = |following: &str| {
        with(tagged(standby("c", view(Some("a")), 100), "b"), |s| {
            s.pg.following = Some(following.into())
        })
    };
    let d = decide(&c("a"));
    assert_eq!(d.actions, vec![Follow { leader: "b".into() }]);
    assert!(
        d.reason.contains("cascading from b (tag replicatefrom)"),
        "{}",
        d.reason
    );
    check(
        &c("b"),
        vec![],
        "no action. I am (c), a secondary, and cascading from b (leader a)",
    );
    // b's key is gone: back to the leader.
    let gone = with(c("b"), |s| {
        s.dcs.as_mut().unwrap().members.retain(|m| m.name != "b")
    });
    assert_eq!(decide(&gone).actions, vec![Follow { leader: "a".into() }]);
    // Tagged with its own name: the leader.
    let own = with(tagged(standby("c", view(Some("a")), 100), "c"), |_| {});
    check(
        &own,
        vec![],
        "no action. I am (c), a secondary, and following a leader (a)",
    );
}

/// Without a leader, b (at LSN 100 unless said) races for the key only as the healthiest.
#[test]
fn no_leader_race() {
    fn race(lsn: u64, peers: Vec<PeerStatus>) -> Snapshot {
        with(standby("b", view(None), lsn), |s| s.peers = peers)
    }
    let c_priority_5 = with(peer("c", "replica", 100), |p| {
        p.tags.failover_priority = Some(5)
    });
    let lagging = with(view(None), |v| v.optime = Some(Lsn(10_000_000)));
    let cases = [
        (
            "no_leader_healthiest_acquires",
            race(100, vec![peer("c", "replica", 90)]),
            vec![AcquireLeader],
            "healthiest",
        ),
        (
            "no_leader_peer_ahead_does_not_race",
            race(90, vec![peer("c", "replica", 100)]),
            vec![],
            "c has a higher WAL position",
        ),
        (
            "failover_priority_breaks_ties",
            race(100, vec![c_priority_5]),
            vec![],
            "higher failover_priority",
        ),
        (
            "old_primary_alive_blocks_race",
            race(100, vec![peer("a", "primary", 100)]),
            vec![],
            "Primary (a) is still alive",
        ),
        (
            "lagging_standby_does_not_race",
            standby("b", lagging, 100),
            vec![],
            "maximum_lag_on_failover",
        ),
        (
            "nofailover_does_not_race",
            with(race(100, vec![]), |s| s.tags.nofailover = true),
            vec![],
            "nofailover",
        ),
    ];
    for (case, s, actions, part) in cases {
        let d = decide(&s);
        assert_eq!(d.actions, actions, "{case}: {}", d.reason);
        assert!(d.reason.contains(part), "{case}: {}", d.reason);
    }
    // Synchronous mode: b is the synchronous standby, c an asynchronous one ahead of it. c may
    // not take the key, so it must not keep b from taking it (seen in CI: nobody led).
    let sync_mode = |lsn: u64, peers: Vec<PeerStatus>| {
        with(race(lsn, peers), |s| {
            s.config.synchronous_mode = serde_json::json!(true);
            s.dcs.as_mut().unwrap().sync = Some(crate::dcs::SyncState {
                leader: Some("a".into()),
                sync_standby: Some("b".into()),
                quorum: None,
            });
        })
    };
    check(
        &sync_mode(90, vec![peer("c", "replica", 100)]),
        vec![AcquireLeader],
        "no leader key: I am the healthiest member, acquiring the leader lock",
    );
    // ... and c itself does not race.
    let mut c = sync_mode(100, vec![peer("b", "replica", 90)]);
    c.name = "c".into();
    check_has(&c, vec![], "I am not a synchronous standby");
    // Another synchronous standby ahead still wins.
    let s = with(sync_mode(90, vec![peer("d", "replica", 100)]), |s| {
        s.dcs.as_mut().unwrap().sync.as_mut().unwrap().sync_standby = Some("b,d".into())
    });
    check_has(&s, vec![], "d has a higher WAL position");
    // nofailover_does_not_race: failover_priority 0 is nofailover too.
    let s = with(race(100, vec![]), |s| s.tags.failover_priority = Some(0));
    assert_eq!(decide(&s).actions, vec![]);
}

/// The switchover's candidate, having won the key, promotes and then clears the failover key
/// (a compare-and-set the core asks for, not an overwrite by the runtime).
#[test]
fn the_candidate_promotes_then_clears_the_failover_key() {
    let s = standby("b", with_failover(Some("b"), "a", Some("b"), None), 100);
    let actions = [promoting(), vec![ClearFailover]].concat();
    assert_eq!(decide(&s).actions, actions);
}

#[test]
fn lock_holder_promotes() {
    let reason = "promoted self to leader because I had the session lock";
    check(&standby("b", view(Some("b")), 100), promoting(), reason);
}

/// Patroni's standby cluster: the lock holder is a standby leader that follows the remote
/// primary and never promotes; a primary demotes into one keeping the key; with
/// `standby_cluster` gone it promotes.
#[test]
fn a_standby_cluster_s_leader_follows_the_remote_and_never_promotes() {
    let standby_cluster = |s: &mut Snapshot| {
        s.config.standby_cluster = Some(crate::config::dynamic::StandbyCluster {
            host: Some("10.0.0.9".into()),
            port: Some(5432),
            ..Default::default()
        });
    };
    // Just took the key while following a member: repoint to the remote.
    let s = with(standby("b", view(Some("b")), 100), standby_cluster);
    check(
        &s,
        vec![
            RenewLeader,
            Follow {
                leader: REMOTE.into(),
            },
            SyncSlots,
        ],
        "promoted self to a standby leader: following the remote primary",
    );
    // Already following it: renew and keep its members' slots.
    let mut s = s;
    s.pg.following = Some(REMOTE.into());
    check(
        &s,
        vec![RenewLeader, SyncSlots],
        "no action. I am (b), the standby leader with the lock",
    );
    // standby_cluster removed from /config: the standby leader promotes.
    s.config.standby_cluster = None;
    assert_eq!(decide(&s).actions, promoting());
    // A running primary when standby_cluster is set: demoted, the key kept.
    let s = with(primary(view(Some("a"))), standby_cluster);
    check(
        &s,
        vec![RenewLeader, Demote(ToStandbyLeader)],
        "demoting the primary to a standby leader: standby_cluster is set",
    );
    // Its server down: started again as the standby leader.
    let s = with(
        stopped("b", view(Some("b")), "in archive recovery"),
        standby_cluster,
    );
    check(
        &s,
        vec![
            RenewLeader,
            StartReplica {
                leader: Some(REMOTE.into()),
            },
        ],
        "starting as a standby leader because I had the session lock",
    );
    // Another member's: follows the standby leader as any replica follows its leader.
    let s = with(standby("c", view(Some("b")), 100), standby_cluster);
    assert_eq!(decide(&s).actions, vec![Follow { leader: "b".into() }]);
    // The first member of a new standby cluster copies the remote.
    let mut v = view(None);
    v.initialize = None;
    v.members.clear();
    let s = with(
        snap("a", v, DataDir::Empty, PgState::default()),
        standby_cluster,
    );
    check(
        &s,
        vec![BootstrapStandbyLeader],
        "trying to bootstrap a new standby leader",
    );
}

#[test]
fn lost_lease_demotes() {
    let s = with(primary(view(Some("a"))), |s| s.renew_failed = true);
    check(&s, vec![Demote(ImmediateNoLock)], LOST_LOCK);
}

/// One etcd member down, or etcd slow for a moment: a renewal that failed while the lease still
/// has more than the margin left keeps the primary running (reference: issue "One etcd member
/// down must go unnoticed"); below the margin it demotes as Patroni does.
#[test]
fn failed_renewal_keeps_the_primary_while_the_lease_lasts() {
    let mut s = primary(view(Some("a")));
    s.renew_failed = true;
    s.lease_left = Some(12.0);
    let reason = "failed to update leader lock in DCS; still the leader for 12.0 s of the lease I \
                  hold (demoting below 4.5 s): trying again";
    check(&s, vec![], reason);
    s.lease_left = Some(4.5);
    check(&s, vec![Demote(ImmediateNoLock)], LOST_LOCK);
    // Maintenance mode: never demoted, whatever is left.
    s.config.pause = true;
    let reason = "PAUSE: failed to update leader lock in DCS; continuing to run";
    check(&s, vec![], reason);
}

#[test]
fn dcs_unreachable_primary_keeps_running_on_its_lease_then_demotes_offline() {
    let mut s = primary(None);
    s.lease_left = Some(9.0);
    let reason = "DCS is not accessible; still the leader for 9.0 s of the lease I hold (demoting \
                  below 4.5 s): trying again";
    check(&s, vec![], reason);
    s.lease_left = Some(4.0);
    assert_eq!(decide(&s).actions, vec![Demote(Offline)]);
    // A standby has nothing to keep.
    let s = with(standby("b", None, 100), |s| s.lease_left = Some(9.0));
    assert_eq!(decide(&s).reason, "DCS is not accessible");
}

#[test]
fn dcs_unreachable_primary_demotes_offline() {
    let reason = "demoted self because DCS is not accessible and I was a leader";
    check(&primary(None), vec![Demote(Offline)], reason);
    check(&standby("b", None, 100), vec![], "DCS is not accessible");
}

#[test]
fn primary_without_lock_demotes() {
    let d = decide(&primary(view(Some("b"))));
    assert_eq!(d.actions, vec![Demote(ImmediateNoLock)]);
}

#[test]
fn crashed_postmaster_on_leader_restarts_in_place() {
    let mut s = snap("a", view(Some("a")), present("in production"), crashed());
    let reason = "starting primary after failure";
    check(&s, vec![RenewLeader, StartPrimary], reason);
    s.pg.start_failures = 3;
    assert_eq!(decide(&s).actions, vec![ReleaseLeader]);
}

#[test]
fn primary_that_cannot_start_releases_the_lease_at_once() {
    // Crash recovery running longer than primary_start_timeout: stop it, release the key.
    let pg = starting(Some(31.0));
    let mut s = snap("a", view(Some("a")), present("in crash recovery"), pg);
    s.config.primary_start_timeout = 30;
    check_has(&s, vec![Demote(Immediate)], "primary_start_timeout");
    // Within the timeout: keep the lease while it recovers.
    s.pg.starting_for = Some(29.0);
    assert_eq!(decide(&s).actions, vec![RenewLeader]);
    // In maintenance mode nothing is stopped.
    s.pg.starting_for = Some(31.0);
    s.config.pause = true;
    assert_eq!(decide(&s).actions, vec![RenewLeader]);

    // primary_start_timeout 0: a crash hands over at once instead of restarting in place.
    let mut s = snap("a", view(Some("a")), present("in production"), crashed());
    s.config.primary_start_timeout = 0;
    assert_eq!(decide(&s).actions, vec![ReleaseLeader]);

    // The data directory vanished under a running primary: stop whatever still runs, release.
    let s = snap("a", view(Some("a")), DataDir::Empty, PgState::default());
    check_has(&s, vec![Demote(Immediate)], "data directory is empty");
}

#[test]
fn former_primary_rewinds_or_reinitializes() {
    let mut s = stopped("a", view(Some("b")), "in production");
    assert_eq!(decide(&s).actions, vec![Rewind { leader: "b".into() }]);
    s.use_pg_rewind = false;
    s.dcs = Some(switched(Some("b")));
    // Patroni's default: diverged data is kept; the member waits for an operator's reinitialize.
    check_has(
        &s,
        vec![start_replica("b")],
        "use_pg_rewind and remove_data_directory_on_diverged_timelines are off: keeping the data directory",
    );
    s.remove_data_on_diverged = true;
    check_has(
        &s,
        vec![Reinitialize { from: "b".into() }],
        "remove_data_directory_on_diverged_timelines is on, reinitializing from it",
    );
}

/// A pg_rewind from this leader failed and the data was kept (Patroni's
/// remove_data_directory_on_rewind_failure off): no second rewind; a former primary starts as a
/// secondary on its data, a diverged standby waits for a reinitialize.
#[test]
fn after_a_failed_rewind_the_data_is_kept_and_not_rewound_again() {
    let mut s = stopped("a", view(Some("b")), "in production");
    s.rewind_failed = true;
    let reason = "pg_rewind from b failed before and the data directory is kept: starting as a \
                  secondary; reinitialize this member to recover";
    check(&s, vec![start_replica("b")], reason);
    let s = with(past_the_switch_point(), |s| s.rewind_failed = true);
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
    let s = snap("a", view(Some("b")), data, PgState::default());
    check(&s, vec![start_replica("b")], "starting as a secondary");
}

#[test]
fn standby_stuck_past_the_leaders_switch_point_is_rewound() {
    // m3 received WAL from the old primary up to 60 on timeline 1; the new leader b left timeline 1
    // at 40. Its walreceiver has been down for 11 s (loop_wait 10): it cannot follow and must be rewound.
    let mut s = past_the_switch_point();
    let part = "past the leader's switch point";
    check_has(&s, vec![Rewind { leader: "b".into() }], part);
    s.use_pg_rewind = false;
    check_has(
        &s,
        vec![],
        "keeping the data directory; waiting for this member to be reinitialized",
    );
    s.remove_data_on_diverged = true;
    assert_eq!(decide(&s).actions, vec![Reinitialize { from: "b".into() }]);
    s.remove_data_on_diverged = false;
    s.use_pg_rewind = true;
    // Down only briefly (a walreceiver restart): wait.
    s.pg.receiver_down_for = Some(1.0);
    assert_eq!(decide(&s).actions, vec![]);
    // Streaming: nothing to do.
    s.pg.receiver_down_for = None;
    assert_eq!(decide(&s).actions, vec![]);
    // At the switch point exactly: it can follow the new timeline.
    s.pg.receiver_down_for = Some(11.0);
    s.pg.receive_lsn = Some(Lsn(40));
    s.pg.replay_lsn = Some(Lsn(40));
    assert_eq!(decide(&s).actions, vec![]);
    // Already on the leader's timeline: no history entry for it, nothing to do.
    s.pg.receive_lsn = Some(Lsn(60));
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
    let s = stopped("b", view(Some("a")), "shut down in recovery");
    assert_eq!(decide(&s).actions, vec![start_replica("a")]);
}

#[test]
fn foreign_system_identifier_is_fatal() {
    let data = DataDir::Present {
        sysid: "7999999999999999999".into(),
        state: "shut down".into(),
        timeline: 1,
        checkpoint_lsn: Lsn(1),
        min_recovery: None,
        backup_label: false,
    };
    let s = snap("b", view(Some("a")), data.clone(), PgState::default());
    let d = decide(&s);
    assert!(
        matches!(&d.actions[..], [Fatal(m)] if m.contains("system ID mismatch")),
        "{d:?}"
    );
    // Even as would-be leader: never started as primary.
    let d = decide(&snap("b", view(None), data, primary_pg(5)));
    assert!(matches!(&d.actions[..], [Fatal(_)]), "{d:?}");
}

#[test]
fn empty_data_dir_bootstraps_or_clones() {
    let mut v = view(None);
    v.initialize = None;
    v.members.clear();
    let mut s = snap("a", v, DataDir::Empty, PgState::default());
    assert_eq!(decide(&s).actions, vec![Bootstrap]);
    s.can_bootstrap = false;
    assert_eq!(decide(&s).actions, vec![]);
    let s = snap("c", view(Some("a")), DataDir::Empty, PgState::default());
    let reason = "trying to bootstrap from leader 'a'";
    check(
        &s,
        vec![CreateReplica {
            from: Some("a".into()),
        }],
        reason,
    );
}

/// Patroni's `Ha.bootstrap`: with a `no_leader` method (a restore from a backup) a member
/// creates its replica with no running source — unless another member is bootstrapping
/// (`initialize` empty) or the cluster is paused.
#[test]
fn empty_data_dir_clones_without_a_source_only_with_a_no_leader_method() {
    let without = vec![CreateReplica { from: None }];
    let mut v = view(None);
    v.members.clear();
    v.initialize = Some("7".into());
    let mut s = snap("c", v, DataDir::Empty, PgState::default());
    assert_eq!(decide(&s).actions, vec![]);
    s.can_clone_without_source = true;
    check(&s, without.clone(), "trying to bootstrap (without leader)");
    s.config.pause = true;
    assert_eq!(decide(&s).actions, vec![]);
    s.config.pause = false;
    s.dcs.as_mut().unwrap().initialize = Some(String::new());
    assert_eq!(decide(&s).actions, vec![]);
    // No initialize and no bootstrap section (or nofailover): restore instead of waiting.
    s.dcs.as_mut().unwrap().initialize = None;
    s.can_bootstrap = false;
    assert_eq!(decide(&s).actions, without);
    s.can_bootstrap = true;
    assert_eq!(decide(&s).actions, vec![Bootstrap]);
    // A leader that is not running: the restore does not wait for it.
    let mut s = snap("c", view(Some("a")), DataDir::Empty, PgState::default());
    for m in &mut s.dcs.as_mut().unwrap().members {
        m.data.state = "stopped".into();
    }
    assert_eq!(decide(&s).actions, vec![]);
    s.can_clone_without_source = true;
    assert_eq!(decide(&s).actions, without);
}

#[test]
fn primary_with_old_timeline_may_not_retake_lock() {
    let d = decide(&primary(switched(None)));
    assert_eq!(d.actions, vec![Demote(ImmediateNoLock)]);
}

#[test]
fn adopts_existing_data_when_initialize_missing() {
    let d = decide(&primary(with(view(Some("a")), |v| v.initialize = None)));
    assert_eq!(d.actions[0], WriteInitialize("7000000000000000001".into()));
}

#[test]
fn pause_blocks_automatic_actions() {
    for s in [standby("b", view(None), 100), primary(None)] {
        let s = with(s, |s| s.config.pause = true);
        assert_eq!(decide(&s).actions, vec![], "{}", s.name);
    }
}

#[test]
fn starting_server_is_waited_for() {
    let pg = starting(None);
    let s = snap("a", view(Some("a")), present("in production"), pg.clone());
    assert_eq!(decide(&s).actions, vec![RenewLeader]);
    let s = snap("b", view(Some("a")), present("in archive recovery"), pg);
    check(&s, vec![], "waiting for PostgreSQL to start");
}

#[test]
fn switchover_to_healthy_candidate_demotes_gracefully() {
    let mut s = primary(with_failover(Some("a"), "a", Some("b"), None));
    s.peers = vec![peer("b", "replica", 100), peer("c", "replica", 100)];
    let reason = "switchover: demoting myself so that b can take over";
    check(&s, vec![Demote(Graceful)], reason);
}

#[test]
fn switchover_to_unhealthy_candidate_is_cancelled() {
    let mut s = primary(with_failover(Some("a"), "a", Some("b"), None));
    let b = with(peer("b", "replica", 100), |p| p.tags.nofailover = true);
    s.peers = vec![b, peer("c", "replica", 100)];
    check_has(&s, vec![RenewLeader, ClearFailover], "not healthy");
    // Lagging candidate.
    s.peers = vec![peer("b", "replica", 1), peer("c", "replica", 100)];
    s.pg.wal_lsn = Some(Lsn(10_000_000));
    assert_eq!(decide(&s).actions, vec![RenewLeader, ClearFailover]);
}

#[test]
fn failover_key_for_another_leader_is_cleared() {
    let d = decide(&primary(with_failover(Some("a"), "z", Some("b"), None)));
    assert_eq!(d.actions, vec![RenewLeader, ClearFailover]);
}

#[test]
fn scheduled_switchover_waits_then_runs() {
    // 2027-01-15T08:00:00Z is 1_800_000_000 + 0: use offsets from the snapshot's now.
    let at = |secs: i64| {
        let t = chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap();
        with_failover(Some("a"), "a", Some("b"), Some(&t.to_rfc3339()))
    };
    let mut s = primary(at(3600));
    s.peers = vec![peer("b", "replica", 100)];
    let d = decide(&s);
    assert_eq!(d.actions, leading());
    let waiting = d.reason.starts_with("Awaiting switchover at");
    assert!(waiting, "{}", d.reason);
    s.dcs = Some(at(-1));
    assert_eq!(decide(&s).actions, vec![Demote(Graceful)]);
    s.dcs = Some(at(-3600));
    assert_eq!(decide(&s).actions, vec![RenewLeader, ClearFailover]);
}

#[test]
fn named_candidate_wins_the_race_and_former_leader_waits() {
    let v = with_failover(None, "a", Some("c"), None);
    let mut s = standby("c", v.clone(), 90);
    s.peers = vec![peer("b", "replica", 100), peer("a", "replica", 100)];
    assert_eq!(decide(&s).actions, vec![AcquireLeader]);
    let mut s = standby("b", v, 100);
    s.peers = vec![peer("c", "replica", 90)];
    assert_eq!(decide(&s).actions, vec![]);
    let v = with_failover(None, "a", None, None);
    let mut s = snap("a", v, present("shut down"), replica_pg(100, None));
    s.peers = vec![peer("b", "replica", 100)];
    check_has(&s, vec![], "former leader");
}

#[test]
fn failsafe_keeps_the_primary_when_all_members_answer() {
    let mut s = primary(None);
    s.config.failsafe_mode = true;
    assert_eq!(decide(&s).actions, vec![Demote(Offline)]);
    s.failsafe_ok = true;
    let d = decide(&s);
    assert_eq!(d.actions, vec![FailsafeHold]);
    let part = "continue to run as a leader because failsafe mode";
    assert!(d.reason.starts_with(part), "{}", d.reason);
    // A standby pinged by the failsafe leader does not race.
    let r = with(standby("b", view(None), 100), |r| {
        r.failsafe_leader = Some("a".into())
    });
    assert_eq!(decide(&r).actions, vec![]);
}

#[test]
fn required_watchdog_that_is_unusable_blocks_promotion() {
    for (leader, actions) in [(None, vec![]), (Some("b"), vec![ReleaseLeader])] {
        let s = with(standby("b", view(leader), 100), |s| s.watchdog_ok = false);
        assert_eq!(decide(&s).actions, actions, "leader {leader:?}");
    }
}

#[test]
fn primary_that_fails_to_take_the_free_key_demotes() {
    let mut s = primary(view(None));
    assert_eq!(decide(&s).actions, vec![AcquireLeader]);
    s.acquire_failed = true;
    let reason = "demoted self after trying and failing to obtain lock";
    check(&s, vec![Demote(ImmediateNoLock)], reason);
    let r = with(standby("b", view(None), 100), |r| r.acquire_failed = true);
    assert_eq!(decide(&r).actions, vec![]);
}

#[test]
fn peers_are_polled_for_a_leader_race_or_a_pending_switchover() {
    let running = primary_pg(100);
    let down = PgState::default();
    let switchover = with_failover(Some("a"), "a", Some("b"), None);
    let failover_no_leader = with_failover(None, "a", Some("b"), None);
    // A standby cluster's leader (a running standby) hands over too.
    let standby_leader = replica_pg(100, Some(REMOTE));
    let in_standby_cluster = with(switchover.clone(), |v| {
        v.config.as_mut().unwrap().standby_cluster = Some(crate::config::dynamic::StandbyCluster {
            host: Some("10.0.0.9".into()),
            ..Default::default()
        });
    });
    let cases = [
        ("b", &running, view(None), true),
        ("b", &down, view(None), false),
        ("b", &running, view(Some("a")), false),
        ("a", &running, switchover.clone(), true),
        ("a", &down, switchover.clone(), false),
        ("a", &standby_leader, switchover.clone(), false),
        ("a", &standby_leader, in_standby_cluster, true),
        ("b", &running, switchover, false),
        ("c", &down, failover_no_leader, true),
    ];
    for (me, pg, v, want) in cases {
        assert_eq!(crate::ha::wants_peers(me, pg, &v), want, "{me} {v:?}");
    }
}

// ---- replication slots (ha::slots) over switchover- and failover-shaped snapshots -----------

mod slot_decisions {
    use super::*;
    use crate::ha::slots::{plan_slots, ExistingSlot, LogicalSlot, Observed, SlotKind, SlotPlan};
    use std::collections::BTreeMap;

    /// Permanent physical `archiver` and logical `cdc`; `by_hand` is managed outside praetor.
    fn slot_config(member_slots_ttl: u64) -> DynamicConfig {
        DynamicConfig::from_json(&serde_json::json!({
            "member_slots_ttl": member_slots_ttl,
            "slots": {
                "archiver": {"type": "physical"},
                "cdc": {"type": "logical", "database": "app", "plugin": "pgoutput"}
            },
            "ignore_slots": [{"name": "by_hand"}]
        }))
        .unwrap()
    }

    fn with_config(s: Snapshot, c: DynamicConfig) -> Snapshot {
        with(s, |s| s.config = c)
    }

    fn phys(name: &str, restart: u64) -> ExistingSlot {
        ExistingSlot {
            name: name.into(),
            kind: SlotKind::Physical,
            active: false,
            restart_lsn: Some(Lsn(restart)),
            wal_lost: false,
            confirmed_flush: None,
        }
    }

    fn cdc() -> ExistingSlot {
        ExistingSlot {
            name: "cdc".into(),
            kind: SlotKind::Logical {
                database: "app".into(),
                plugin: "pgoutput".into(),
            },
            active: false,
            restart_lsn: Some(Lsn(90)),
            wal_lost: false,
            confirmed_flush: None,
        }
    }

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    fn cdc_to_create() -> LogicalSlot {
        LogicalSlot {
            name: "cdc".into(),
            database: "app".into(),
            plugin: "pgoutput".into(),
        }
    }

    /// [`view`] led by `leader` with only `members` keeping their keys.
    fn members(leader: &str, members: &[&str]) -> ClusterView {
        with(view(Some(leader)), |v| {
            v.members.retain(|m| members.contains(&m.name.as_str()))
        })
    }

    /// A replica that may take over syncs slots each cycle when permanent slots are configured
    /// (physical ones kept, logical ones copied); without them (or tagged nofailover) its idle
    /// cycle stays empty.
    #[test]
    fn a_replica_syncs_slots_only_for_permanent_slots() {
        let reason = "no action. I am (b), a secondary, and following a leader (a)";
        let s = with_config(standby("b", view(Some("a")), 100), slot_config(1800));
        check(&s, vec![SyncSlots], reason);
        let s = with(s, |s| s.tags.nofailover = true);
        check(&s, vec![], reason);
        let logical_only = DynamicConfig::from_json(&serde_json::json!({"slots": {
            "cdc": {"type": "logical", "database": "app", "plugin": "pgoutput"}}}))
        .unwrap();
        let s = with_config(standby("b", view(Some("a")), 100), logical_only);
        check(&s, vec![SyncSlots], reason);
        let s = with(s, |s| s.tags.nofailover = true);
        check(&s, vec![], reason);
    }

    /// Failover: a's key is gone, b holds the leader key and promotes. Before, as a replica, b
    /// kept `archiver` at its replay position; once promoted it keeps it, creates c's slot and
    /// the logical `cdc` afresh (it was on a only), and leaves `by_hand` alone.
    #[test]
    fn after_a_failover_the_new_primary_keeps_and_creates_the_permanent_slots() {
        // Before: b is a's replica, its archiver slot behind its replay position.
        let before = with_config(standby("b", view(Some("a")), 500), slot_config(0));
        let seen = Observed {
            in_recovery: true,
            replay_lsn: Some(Lsn(500)),
            slots: vec![phys("archiver", 100), phys("by_hand", 10)],
        };
        let (p, _) = plan_slots(&before, &seen, &[], &BTreeMap::new(), 10.0);
        assert_eq!(
            p,
            SlotPlan {
                advance: vec![("archiver".into(), Lsn(500))],
                ignored: names(&["by_hand"]),
                notes: names(&[
                    "permanent logical replication slot cdc is copied from the primary once the leader \
                     publishes its position and this replica has replayed up to it (not in \
                     maintenance mode)"
                ]),
                ..Default::default()
            }
        );

        // a is killed: its key lapses, b takes the key and promotes.
        let s = with_config(
            with(standby("b", members("b", &["b", "c"]), 500), |s| {
                s.pg.following = None
            }),
            slot_config(0),
        );
        check(
            &s,
            promoting(),
            "promoted self to leader because I had the session lock",
        );
        let seen = Observed {
            in_recovery: false,
            replay_lsn: None,
            slots: vec![phys("archiver", 500), phys("by_hand", 10)],
        };
        let (p, since) = plan_slots(&s, &seen, &[], &BTreeMap::new(), 20.0);
        assert_eq!(
            p,
            SlotPlan {
                create: names(&["c"]),
                create_logical: vec![cdc_to_create()],
                ignored: names(&["by_hand"]),
                positions: BTreeMap::from([("archiver".to_string(), Lsn(500))]),
                ..Default::default()
            }
        );
        assert!(since.is_empty());

        // a comes back as b's replica: its slot is created; nothing is dropped.
        let s = with_config(
            with(primary(view(Some("b"))), |s| s.name = "b".into()),
            slot_config(0),
        );
        check(
            &s,
            leading(),
            "no action. I am (b), the leader with the lock",
        );
        let seen = Observed {
            in_recovery: false,
            replay_lsn: None,
            slots: vec![
                phys("archiver", 500),
                phys("by_hand", 10),
                phys("c", 500),
                cdc(),
            ],
        };
        let (p, _) = plan_slots(&s, &seen, &[], &BTreeMap::new(), 30.0);
        assert_eq!(
            p,
            SlotPlan {
                create: names(&["a"]),
                ignored: names(&["by_hand"]),
                positions: BTreeMap::from([("archiver".to_string(), Lsn(500))]),
                ..Default::default()
            }
        );
    }

    /// Switchover: a hands over to b and runs on as b's replica. a keeps its permanent slots
    /// (archiver moved along with its replay position, the logical cdc left as it is) and drops
    /// nothing, not even the slots of members it held as primary; b creates what it lacks.
    #[test]
    fn after_a_switchover_both_sides_keep_the_permanent_slots() {
        let c = slot_config(0);
        let a = with_config(
            snap("a", switched(Some("b")), present("in archive recovery"), {
                replica_pg(600, Some("b"))
            }),
            c.clone(),
        );
        check(
            &a,
            vec![SyncSlots],
            "no action. I am (a), a secondary, and following a leader (b)",
        );
        let seen = Observed {
            in_recovery: true,
            replay_lsn: Some(Lsn(600)),
            slots: vec![
                phys("archiver", 400),
                phys("b", 400),
                phys("by_hand", 10),
                phys("c", 400),
                cdc(),
            ],
        };
        let (p, _) = plan_slots(&a, &seen, &[], &BTreeMap::new(), 10.0);
        assert_eq!(
            p,
            SlotPlan {
                advance: vec![("archiver".into(), Lsn(600))],
                ignored: names(&["by_hand"]),
                ..Default::default()
            }
        );

        let b = with_config(
            with(primary(switched(Some("b"))), |s| s.name = "b".into()),
            c,
        );
        let seen = Observed {
            in_recovery: false,
            replay_lsn: None,
            slots: vec![phys("archiver", 400)],
        };
        let (p, _) = plan_slots(&b, &seen, &[], &BTreeMap::new(), 10.0);
        assert_eq!(
            p,
            SlotPlan {
                create: names(&["a", "c"]),
                create_logical: vec![cdc_to_create()],
                positions: BTreeMap::from([("archiver".to_string(), Lsn(400))]),
                ..Default::default()
            }
        );
    }

    /// c's key lapses: its slot is kept for member_slots_ttl, then dropped; `by_hand`, which
    /// would be dropped the same way, is kept for ever; the permanent slots never go.
    #[test]
    fn a_departed_member_s_slot_is_kept_for_member_slots_ttl_then_dropped() {
        let s = with_config(primary(members("a", &["a", "b"])), slot_config(1800));
        assert_eq!(decide(&s).actions, leading());
        let seen = Observed {
            in_recovery: false,
            replay_lsn: None,
            slots: vec![
                phys("archiver", 100),
                phys("b", 100),
                phys("by_hand", 10),
                phys("c", 100),
                cdc(),
            ],
        };
        let (p, since) = plan_slots(&s, &seen, &[], &BTreeMap::new(), 1000.0);
        assert_eq!(
            p,
            SlotPlan {
                retained: names(&["c"]),
                ignored: names(&["by_hand"]),
                positions: BTreeMap::from([("archiver".to_string(), Lsn(100))]),
                ..Default::default()
            }
        );
        assert_eq!(since, BTreeMap::from([("c".to_string(), 1000.0)]));
        let (p, since) = plan_slots(&s, &seen, &[], &since, 2799.0);
        assert_eq!(p.retained, names(&["c"]));
        assert!(p.drop.is_empty());
        let (p, since) = plan_slots(&s, &seen, &[], &since, 2800.0);
        assert_eq!(
            p,
            SlotPlan {
                drop: names(&["c"]),
                ignored: names(&["by_hand"]),
                positions: BTreeMap::from([("archiver".to_string(), Lsn(100))]),
                ..Default::default()
            }
        );
        assert!(since.is_empty());
        // Without ignore_slots, by_hand would have gone the same way.
        let bare = with(s, |s| s.config.ignore_slots.clear());
        let (p, _) = plan_slots(&bare, &seen, &[], &BTreeMap::new(), 1000.0);
        assert_eq!(p.retained, names(&["by_hand", "c"]));
    }

    /// A permanent physical slot with a member's name: the member's slot while the member is
    /// there, kept for ever once it is gone (Patroni's documented use for a fixed topology).
    #[test]
    fn a_permanent_slot_named_after_a_member_outlives_the_member() {
        let c = DynamicConfig::from_json(&serde_json::json!({
            "member_slots_ttl": 0, "slots": {"c": {"type": "physical"}}}))
        .unwrap();
        let s = with_config(primary(members("a", &["a", "b"])), c);
        let seen = Observed {
            in_recovery: false,
            replay_lsn: None,
            slots: vec![phys("b", 100), phys("c", 100)],
        };
        let (p, since) = plan_slots(&s, &seen, &[], &BTreeMap::new(), 5000.0);
        assert_eq!(
            p,
            SlotPlan {
                positions: BTreeMap::from([("c".to_string(), Lsn(100))]),
                ..Default::default()
            }
        );
        assert!(since.is_empty());
    }
}

/// Quorum commit: `/sync` {leader a, voters b,c,d, quorum 1}; b races for the missing key.
#[test]
fn quorum_race_needs_quorum_plus_one_voters_not_ahead() {
    let quorum = |me: &str, lsn: u64, peers: Vec<PeerStatus>| {
        with(standby(me, view(None), lsn), |s| {
            s.peers = peers;
            s.config.synchronous_mode = serde_json::json!("quorum");
            s.dcs.as_mut().unwrap().sync = Some(crate::dcs::SyncState {
                leader: Some("a".into()),
                sync_standby: Some("b,c,d".into()),
                quorum: Some(1),
            });
        })
    };
    // A voter with one other voter behind it: 2 = quorum + 1.
    check(
        &quorum("b", 100, vec![peer("c", "replica", 90)]),
        vec![AcquireLeader],
        "no leader key: I am the healthiest member, acquiring the leader lock",
    );
    // Alone: one vote (its own) is not enough.
    check_has(
        &quorum("b", 100, vec![]),
        vec![],
        "quorum commit: 1 of the 2 voters needed",
    );
    // A non-voter needs two voters: it is not counted itself.
    check_has(
        &quorum("e", 100, vec![peer("c", "replica", 90)]),
        vec![],
        "quorum commit: 1 of the 2 voters needed",
    );
    check(
        &quorum(
            "e",
            100,
            vec![peer("c", "replica", 90), peer("d", "replica", 100)],
        ),
        vec![AcquireLeader],
        "no leader key: I am the healthiest member, acquiring the leader lock",
    );
    // A voter ahead stops it; the former primary ahead does not, and does not vote.
    check_has(
        &quorum("b", 90, vec![peer("c", "replica", 100)]),
        vec![],
        "c has a higher WAL position",
    );
    check_has(
        &quorum("b", 90, vec![peer("a", "replica", 100)]),
        vec![],
        "quorum commit: 1 of the 2 voters needed",
    );
    // A non-voter ahead is not compared with (it could not have what a quorum acknowledged
    // that the voters lack).
    check(
        &quorum(
            "b",
            90,
            vec![peer("c", "replica", 90), peer("e", "replica", 100)],
        ),
        vec![AcquireLeader],
        "no leader key: I am the healthiest member, acquiring the leader lock",
    );
    // A voter whose PostgreSQL is down (position 0) does not vote; nofailover voters neither.
    check_has(
        &quorum("b", 90, vec![peer("c", "replica", 0)]),
        vec![],
        "quorum commit: 1 of the 2 voters needed",
    );
    let nf = with(peer("c", "replica", 90), |p| p.tags.nofailover = true);
    check_has(&quorum("b", 90, vec![nf]), vec![], "1 of the 2");
    // The former primary itself, back as a standby, wins with nobody ahead.
    check(
        &quorum("a", 100, vec![]),
        vec![AcquireLeader],
        "no leader key: I am the healthiest member, acquiring the leader lock",
    );
}

/// Quorum commit: the leader hands over (switchover without a candidate) only when quorum + 1
/// voters are fit.
#[test]
fn quorum_switchover_needs_enough_fit_voters() {
    let s = |peers: Vec<PeerStatus>| {
        with(primary(view(Some("a"))), |s| {
            s.peers = peers;
            s.config.synchronous_mode = serde_json::json!("quorum");
            s.dcs.as_mut().unwrap().sync = Some(crate::dcs::SyncState {
                leader: Some("a".into()),
                sync_standby: Some("b,c".into()),
                quorum: Some(1),
            });
        })
    };
    let one = s(vec![peer("b", "replica", 100), peer("e", "replica", 100)]);
    assert!(crate::ha::failover_candidates(&one, None).is_empty());
    // Named, the candidate is enough (Patroni: the quorum check is skipped).
    assert_eq!(crate::ha::failover_candidates(&one, Some("b")).len(), 1);
    let two = s(vec![peer("b", "replica", 100), peer("c", "replica", 100)]);
    assert_eq!(crate::ha::failover_candidates(&two, None).len(), 2);
}

/// A standby stopped past the leader's switch point (its pg_rewind was cut short when the new
/// primary went down mid-run, on the multi-host bed): its last restartpoint is before the switch,
/// its minimum recovery point after it, so PostgreSQL would refuse every start on the new
/// timeline. It is rewound before starting, not started again and again.
#[test]
fn stopped_standby_past_the_switch_point_is_rewound_before_starting() {
    let with_min_recovery = |tl: u32, lsn: u64| {
        let mut data = present("shut down in recovery");
        if let DataDir::Present {
            checkpoint_lsn,
            min_recovery,
            ..
        } = &mut data
        {
            *checkpoint_lsn = Lsn(30);
            *min_recovery = Some((tl, Lsn(lsn)));
        }
        snap("a", switched(Some("b")), data, PgState::default())
    };
    let s = with_min_recovery(1, 60);
    check(
        &s,
        vec![Rewind { leader: "b".into() }],
        "running pg_rewind from b before starting as a secondary",
    );
    // At the switch point, or already on the new timeline: it can follow.
    check(
        &with_min_recovery(1, 40),
        vec![start_replica("b")],
        "starting as a secondary",
    );
    check(
        &with_min_recovery(2, 60),
        vec![start_replica("b")],
        "starting as a secondary",
    );
    // Without pg_rewind the data is kept (Patroni's default), as for a diverged former primary.
    let mut s = with_min_recovery(1, 60);
    s.use_pg_rewind = false;
    check_has(
        &s,
        vec![start_replica("b")],
        "use_pg_rewind and remove_data_directory_on_diverged_timelines are off",
    );
}
