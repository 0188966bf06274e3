//! Deterministic simulation of the HA decision core (`praetor::ha::decide` and the sync planner)
//! for a group of members: a virtual clock, a simulated DCS with leases, simulated servers with
//! LSNs, a client committing on whoever is writable, and seeded random faults — delayed watch
//! events and lost peer answers, member crash and
//! restart, the agent alone killed (PostgreSQL left running), the agent stopped (SIGTERM: its
//! shutdown plan, `praetor::ha::shutdown::plan_shutdown`, with a PostgreSQL that sometimes does not
//! stop), postmaster crash, DCS unreachable for a member, DCS refusing a member's writes, one
//! etcd member of an agent's failing while the others answer, lost peer answers, paused agents,
//! slow promotions, wall-clock steps. After every step it checks:
//!
//! 1. promotion only by the holder of an unexpired leader lease;
//! 2. no two members can acknowledge a commit at the same time, whatever their agents' state: the
//!    fence guard (modelled) stops a primary whose lease was not renewed before it can expire;
//! 3. with synchronous mode, no acknowledged commit is lost by a promotion — in priority mode and
//!    in quorum commit (a quarter of the schedules: `synchronous_mode: quorum`, node count 1 or
//!    2, sometimes strict, where a commit is acknowledged by `num` of `ANY num (…)`'s members,
//!    chosen at random, and the primary's `/sync` and GUC writes are
//!    `praetor::ha::quorum::plan_quorum`'s); [`quorum_mutants_are_caught`] shows two broken
//!    quorum rules are caught by this invariant;
//! 4. an automatic failover never promotes a `nofailover` member or one lagging beyond
//!    `maximum_lag_on_failover`;
//! 5. a failed renewal is not a lost lease: a primary that still holds its key is never demoted
//!    for want of a renewal while more than `lease_margin` is left on it.
//!
//! `PRAETOR_SIM_SCHEDULES=N` sets how many seeded schedules run (default 10,000);
//! `PRAETOR_SIM_SEED=S` replays one seed with a trace. A failure prints the command that replays it.

use std::collections::BTreeMap;

use praetor::config::{DynamicConfig, Tags};
use praetor::dcs::{ClusterView, Failover, HistoryEntry, LeaderKey, Member, MemberData, SyncState};
use praetor::ha::bootstrap::{
    plan_bootstrap, plan_failed_bootstrap, BootstrapCleanupStep, BootstrapFacts, BootstrapStep,
};
use praetor::ha::quorum::{
    active_key, active_members, claim, confirmed_members, plan_quorum, pre_promote_guc, target,
    Names, QuorumFacts, QuorumGuc, QuorumKey, QuorumStep,
};
use praetor::ha::rewind::{plan_after_failed_rewind, plan_rewind, RewindFacts, RewindStep};
use praetor::ha::shutdown::{plan_shutdown, ShutdownFacts, ShutdownStep};
use praetor::ha::sync::{plan_sync, ReplicationRow};
use praetor::ha::transition::{
    plan_demote, plan_pre_promote_failed, plan_promote, DemoteStep, PromoteFacts, PromoteStep,
};
use praetor::ha::{
    decide, wants_peers, Action, DataDir, DemoteMode, PeerStatus, PgState, Snapshot,
};
use praetor::types::{Lsn, MemberState, Role};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const STEP_MS: u64 = 100;

#[derive(Clone, Debug)]
struct Server {
    initialized: bool,
    running: bool,
    in_recovery: bool,
    lsn: u64,
    timeline: u32,
    was_primary: bool,
    crashed: bool,
    following: Option<String>,
    guc: Vec<String>,
    /// Quorum commit's `ANY num (members)`, when set (in place of `guc`).
    qguc: Option<QuorumGuc>,
    start_failures: u32,
}

#[derive(Clone, Debug)]
struct Agent {
    name: String,
    /// When (on the snapshot clock, seconds) a pre_promote failure last cancelled a promotion.
    pre_promote_failed_at: Option<f64>,
    tags: Tags,
    alive: bool,
    paused_until: u64,
    dcs_down_until: u64,
    writes_fail_until: u64,
    next_cycle: u64,
    busy_until: u64,
    down_until: u64,
    clock_offset_ms: i64,
    lease_expiry: u64,
    /// The fence guard's deadline (lease deadline minus the margin), while armed.
    fence_at: Option<u64>,
    /// The agent's own idea of its leader lease's end (the driver's `leader_until`): set by a
    /// renewal or a take, kept through a renewal that failed, dropped once the key is not ours.
    leader_until: Option<u64>,
    /// One etcd member of this agent's fails while the others answer: every request is first
    /// tried on it, then served by another member (it costs an attempt's deadline, nothing else).
    etcd_member_down_until: u64,
    /// The leader a pg_rewind failed from while the data was kept (the runtime's
    /// `rewind_failed_from`, [`Snapshot::rewind_failed`]).
    rewind_failed_from: Option<String>,
    /// Quorum commit: GUC members confirmed since the GUC last changed, and the position they
    /// must reach (the runtime's `quorum_confirmed`, `quorum_since`).
    q_confirmed: Names,
    q_since: Option<u64>,
    server: Server,
}

#[derive(Default, Clone, Debug)]
struct Dcs {
    initialize: Option<String>,
    leader: Option<(String, u64)>,
    leader_rev: i64,
    sync: Option<SyncState>,
    failover: Option<Failover>,
    optime: Option<u64>,
    history: Vec<HistoryEntry>,
    member_keys: BTreeMap<String, (MemberData, u64)>,
}

struct World {
    rng: StdRng,
    now: u64,
    cfg: DynamicConfig,
    agents: Vec<Agent>,
    dcs: Dcs,
    acked: Vec<u64>,
    trace: bool,
    max_lsn_acked: u64,
    cfg_json: serde_json::Value,
    /// `postgresql.remove_data_directory_on_rewind_failure` for every member.
    remove_data_on_rewind_failure: bool,
    /// `postgresql.remove_data_directory_on_diverged_timelines` for every member.
    remove_data_on_diverged: bool,
    /// A rule deliberately broken, to show the invariants catch it.
    mutant: Mutant,
}

/// A deliberately broken quorum rule ([`quorum_mutants_are_caught`]).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mutant {
    None,
    /// A voter racing for the key counts its own vote twice (it sees `/sync`'s quorum one lower).
    SelfCountedTwice,
    /// The primary writes the target `/sync` at once, and the GUC a cycle later (no safe
    /// order, no confirmation).
    SyncBeforeGuc,
}

fn fail(seed: u64, msg: String) -> ! {
    panic!("simulation seed {seed}: {msg}\nreplay with: PRAETOR_SIM_SEED={seed} cargo test --test simulation -- --nocapture");
}

impl World {
    fn new(seed: u64) -> World {
        let mut rng = StdRng::seed_from_u64(seed);
        let ttl = rng.gen_range(8..=30);
        let retry = rng.gen_range(1..=(ttl - 1) / 2).min(10);
        let loop_wait = rng.gen_range(1..=(ttl - 2 * retry).clamp(1, 10));
        let cfg = DynamicConfig {
            ttl,
            loop_wait,
            retry_timeout: retry,
            maximum_lag_on_failover: rng.gen_range(0..3) * 50,
            synchronous_mode: serde_json::Value::Bool(rng.gen_bool(0.5)),
            ..Default::default()
        };
        // Quorum commit for half of the synchronous schedules, from a second stream so the
        // others keep their schedules.
        let mut qrng = StdRng::seed_from_u64(seed ^ 0x5157_4f52_554d);
        let mut cfg = cfg;
        if cfg.synchronous() && qrng.gen_bool(0.5) {
            cfg.synchronous_mode = serde_json::json!("quorum");
            cfg.synchronous_node_count = qrng.gen_range(1..=2);
            cfg.synchronous_mode_strict = qrng.gen_bool(0.3);
        }
        let n = rng.gen_range(2..=4);
        let agents = (0..n)
            .map(|i| Agent {
                name: format!("m{i}"),
                pre_promote_failed_at: None,
                tags: Tags {
                    nofailover: i > 0 && rng.gen_bool(0.15),
                    failover_priority: rng.gen_bool(0.2).then(|| rng.gen_range(1..3)),
                    ..Default::default()
                },
                alive: true,
                paused_until: 0,
                dcs_down_until: 0,
                writes_fail_until: 0,
                next_cycle: rng.gen_range(0..1000),
                busy_until: 0,
                down_until: 0,
                clock_offset_ms: 0,
                lease_expiry: 0,
                fence_at: None,
                leader_until: None,
                etcd_member_down_until: 0,
                rewind_failed_from: None,
                q_confirmed: Names::new(),
                q_since: None,
                server: Server {
                    initialized: false,
                    running: false,
                    in_recovery: true,
                    lsn: 0,
                    timeline: 1,
                    was_primary: false,
                    crashed: false,
                    following: None,
                    guc: vec![],
                    qguc: None,
                    start_failures: 0,
                },
            })
            .collect();
        let cfg_json = cfg.to_json();
        let remove_data_on_rewind_failure = rng.gen_bool(0.5);
        let remove_data_on_diverged = rng.gen_bool(0.25);
        World {
            remove_data_on_rewind_failure,
            remove_data_on_diverged,
            rng,
            now: 0,
            cfg,
            agents,
            dcs: Dcs::default(),
            acked: vec![],
            trace: false,
            max_lsn_acked: 0,
            cfg_json,
            mutant: Mutant::None,
        }
    }

    fn log(&self, msg: impl FnOnce() -> String) {
        if self.trace {
            println!("{:>8} ms  {}", self.now, msg());
        }
    }

    fn expire(&mut self) {
        let now = self.now;
        if let Some((name, exp)) = self.dcs.leader.clone() {
            if exp <= now {
                self.log(|| format!("leader key of {name} expired"));
                self.dcs.leader = None;
                self.wake_all();
            }
        }
        self.dcs.member_keys.retain(|_, (_, exp)| *exp > now);
    }

    /// The watch wakes every agent that can reach the DCS, each after its own delay.
    fn wake_all(&mut self) {
        let now = self.now;
        for k in 0..self.agents.len() {
            let delay = self.rng.gen_range(0..1500);
            let a = &mut self.agents[k];
            if a.dcs_down_until <= now {
                a.next_cycle = a.next_cycle.min(now + delay);
            }
        }
    }

    /// SIGTERM to agent `i`: it carries out its shutdown plan, then exits. A step that fails ends
    /// the plan (PostgreSQL that does not stop, the DCS unreachable or refusing writes).
    fn graceful_stop(&mut self, i: usize) {
        let now = self.now;
        let name = self.agents[i].name.clone();
        let plan = plan_shutdown(ShutdownFacts {
            paused: false,
            leading: self.holds_lease(i),
            pg_running: self.agents[i].server.running,
            citus_worker: false,
            sync_standby: self.cfg.synchronous() && self.view().lists_sync_standby(&name),
        });
        self.log(|| format!("{name}: SIGTERM: {}", plan.reason));
        let dcs_ok =
            self.agents[i].dcs_down_until <= now && self.agents[i].writes_fail_until <= now;
        for step in plan.steps {
            match step {
                ShutdownStep::Disarm => self.agents[i].fence_at = None,
                // The member key says nosync; the stop goes on without waiting (as on time-out).
                ShutdownStep::AskSyncRelease => self.agents[i].tags.nosync = true,
                ShutdownStep::NotifyCoordinatorBeforeDemote | ShutdownStep::ReportStopping => {}
                ShutdownStep::StopPostgresFast => {
                    if self.rng.gen_bool(0.2) {
                        self.log(|| format!("{name}: PostgreSQL did not stop"));
                        break;
                    }
                    let s = &mut self.agents[i].server;
                    s.running = false;
                    s.crashed = false;
                }
                ShutdownStep::ReleaseLeader { with_checkpoint } => {
                    if !dcs_ok {
                        break;
                    }
                    if self.dcs.leader.as_ref().is_some_and(|(n, _)| *n == name) {
                        self.dcs.leader = None;
                        if with_checkpoint {
                            self.dcs.optime = Some(self.agents[i].server.lsn);
                        }
                        self.wake_all();
                    }
                }
                ShutdownStep::RevokeLease => {
                    if !dcs_ok {
                        break;
                    }
                    self.dcs.member_keys.remove(&name);
                }
            }
        }
        let a = &mut self.agents[i];
        a.alive = false;
        a.down_until = now + self.rng.gen_range(1000..60_000);
    }

    fn view(&self) -> ClusterView {
        ClusterView {
            initialize: self.dcs.initialize.clone(),
            config: Some(self.cfg.clone()),
            config_raw: Some(self.cfg_json.clone()),
            leader: self.dcs.leader.as_ref().map(|(n, _)| LeaderKey {
                name: n.clone(),
                lease: 1,
                mod_revision: self.dcs.leader_rev,
            }),
            members: self
                .dcs
                .member_keys
                .iter()
                .map(|(n, (d, _))| Member {
                    name: n.clone(),
                    data: d.clone(),
                    lease: 1,
                })
                .collect(),
            failover: self.dcs.failover.clone(),
            sync: self.dcs.sync.clone(),
            optime: self.dcs.optime.map(Lsn),
            history: self.dcs.history.clone(),
            ..Default::default()
        }
    }

    /// The view agent `i` decides on: [`World::view`], with `/sync`'s quorum one lower for a
    /// voter under [`Mutant::SelfCountedTwice`].
    fn view_for(&self, i: usize) -> ClusterView {
        let mut v = self.view();
        if self.mutant == Mutant::SelfCountedTwice {
            if let Some(sync) = v.sync.as_mut() {
                let name = &self.agents[i].name;
                if sync.members().contains(name) {
                    sync.quorum = Some((sync.quorum() as i64 - 1).max(0));
                }
            }
        }
        v
    }

    fn pg_state(&self, i: usize) -> PgState {
        let s = &self.agents[i].server;
        PgState {
            running: s.running,
            starting: false,
            in_recovery: s.in_recovery,
            timeline: Some(s.timeline),
            wal_lsn: (!s.in_recovery).then_some(Lsn(s.lsn)),
            receive_lsn: s.in_recovery.then_some(Lsn(s.lsn)),
            replay_lsn: s.in_recovery.then_some(Lsn(s.lsn)),
            following: s.following.clone(),
            crashed: s.crashed,
            start_failures: s.start_failures,
            receiver_down_for: None,
            starting_for: None,
        }
    }

    fn data_dir(&self, i: usize) -> DataDir {
        let s = &self.agents[i].server;
        if !s.initialized {
            return DataDir::Empty;
        }
        DataDir::Present {
            sysid: "7000000000000000001".into(),
            state: if s.was_primary {
                "in production".into()
            } else {
                "in archive recovery".into()
            },
            timeline: s.timeline,
            checkpoint_lsn: Lsn(s.lsn),
            min_recovery: None,
            backup_label: false,
        }
    }

    fn peers(&mut self, i: usize) -> Vec<PeerStatus> {
        let now = self.now;
        let mut out = vec![];
        for j in 0..self.agents.len() {
            if j == i {
                continue;
            }
            let lost = self.rng.gen_bool(0.05);
            let a = &self.agents[j];
            let reachable = a.alive && a.paused_until <= now && !lost;
            out.push(PeerStatus {
                name: a.name.clone(),
                reachable,
                role: Some(if a.server.running && !a.server.in_recovery {
                    Role::Primary
                } else {
                    Role::Replica
                }),
                state: Some(if a.server.running {
                    MemberState::Running
                } else {
                    MemberState::Stopped
                }),
                lsn: Lsn(a.server.lsn),
                timeline: Some(a.server.timeline),
                tags: a.tags.clone(),
            });
        }
        out
    }

    fn writable(&self, i: usize) -> bool {
        let s = &self.agents[i].server;
        s.running && !s.in_recovery
    }

    fn holds_lease(&self, i: usize) -> bool {
        self.dcs
            .leader
            .as_ref()
            .is_some_and(|(n, exp)| *n == self.agents[i].name && *exp > self.now)
    }

    fn by_name(&self, n: &str) -> Option<usize> {
        self.agents.iter().position(|a| a.name == n)
    }

    /// One agent cycle: decide, execute, publish.
    fn cycle(&mut self, i: usize, seed: u64) {
        let dcs_ok = self.agents[i].dcs_down_until <= self.now;
        let mut renew_failed = false;
        let mut acquire_failed = false;
        // The runtime's own rule for when to poll the peers.
        let peers = if dcs_ok && wants_peers(&self.agents[i].name, &self.pg_state(i), &self.view())
        {
            self.peers(i)
        } else {
            vec![]
        };
        if !dcs_ok {
            // The read times out after retry_timeout — or, while a lease we hold runs down,
            // at the demotion threshold (the runtime cuts the request's budget to it).
            let mut budget = self.cfg.retry_timeout * 1000;
            if let Some(u) = self.agents[i].leader_until {
                let before = u.saturating_sub(self.now + self.lease_margin_ms());
                budget = budget.min(before.max(200));
            }
            self.agents[i].busy_until = self.now + budget;
        } else if self.agents[i].etcd_member_down_until > self.now {
            // The first attempt goes to the failed member and waits out its deadline.
            let attempt = praetor::dcs::endpoints::attempt_timeout(
                std::time::Duration::from_secs(self.cfg.retry_timeout),
                3,
            );
            self.agents[i].busy_until = self.now + attempt.as_millis() as u64;
        }
        if self.agents[i].leader_until.is_some_and(|u| u <= self.now) {
            self.agents[i].leader_until = None;
        }
        for _round in 0..4 {
            let snap = Snapshot {
                name: self.agents[i].name.clone(),
                dcs: dcs_ok.then(|| self.view_for(i)),
                config: self.cfg.clone(),
                tags: self.agents[i].tags.clone(),
                data: self.data_dir(i),
                pg: self.pg_state(i),
                peers: peers.clone(),
                use_pg_rewind: true,
                remove_data_on_diverged: self.remove_data_on_diverged,
                can_bootstrap: true,
                can_clone_without_source: false,
                renew_failed,
                lease_left: self.agents[i]
                    .leader_until
                    .map(|u| u.saturating_sub(self.now) as f64 / 1000.0),
                lease_margin: self.lease_margin_ms() as f64 / 1000.0,
                rewind_failed: self.agents[i]
                    .rewind_failed_from
                    .as_ref()
                    .is_some_and(|f| self.dcs.leader.as_ref().is_some_and(|(l, _)| l == f)),
                acquire_failed,
                now: (self.now as i64 + self.agents[i].clock_offset_ms) as f64 / 1000.0 + 1.8e9,
                failsafe_ok: false,
                failsafe_leader: None,
                watchdog_ok: true,
                pre_promote_failed_at: self.agents[i].pre_promote_failed_at,
            };
            let d = decide(&snap);
            self.log(|| format!("{}: {}", self.agents[i].name, d.reason));
            let mut redo = false;
            for action in &d.actions {
                match self.apply(i, action, seed) {
                    Step::Continue => {}
                    Step::Redecide {
                        renew_failed: rf,
                        acquire_failed: af,
                    } => {
                        renew_failed = rf;
                        acquire_failed = af;
                        redo = true;
                        break;
                    }
                    Step::Stop => return,
                }
            }
            if !redo {
                break;
            }
        }
        if dcs_ok {
            self.touch(i);
        }
        if !self.holds_lease(i) {
            self.agents[i].fence_at = None; // the agent disarms its guard
        }
    }

    fn margin_ms(&self) -> u64 {
        praetor::fence::margin(self.cfg.retry_timeout).as_millis() as u64
    }

    /// [`Snapshot::lease_margin`] as the driver computes it, in ms.
    fn lease_margin_ms(&self) -> u64 {
        (praetor::ha::lease_margin(self.margin_ms() as f64 / 1000.0) * 1000.0) as u64
    }

    /// The fence guards: independent of the agents, they stop a server whose lease was not
    /// renewed in time.
    fn fences(&mut self) {
        let now = self.now;
        for k in 0..self.agents.len() {
            if self.agents[k].fence_at.is_some_and(|t| t <= now) {
                self.agents[k].fence_at = None;
                if self.agents[k].server.running {
                    let name = self.agents[k].name.clone();
                    self.log(|| format!("{name}: fenced by its guard"));
                    let s = &mut self.agents[k].server;
                    s.running = false;
                    s.crashed = true;
                }
            }
        }
    }

    fn touch(&mut self, i: usize) {
        if self.agents[i].writes_fail_until > self.now {
            return; // the keepalive of the shared lease fails like any other write
        }
        let a = &self.agents[i];
        let s = &a.server;
        let data = MemberData {
            conn_url: format!("postgres://10.0.0.{i}:5432/postgres"),
            api_url: format!("http://10.0.0.{i}:8008/patroni"),
            state: if s.running {
                "running".into()
            } else {
                "stopped".into()
            },
            role: if s.running && !s.in_recovery {
                "primary".into()
            } else {
                "replica".into()
            },
            xlog_location: Some(Lsn(s.lsn)),
            timeline: Some(s.timeline),
            tags: Some(a.tags.clone()),
            replication_state: (s.running && s.in_recovery && s.following.is_some())
                .then(|| "streaming".into()),
            ..Default::default()
        };
        let exp = self.now + self.cfg.ttl * 1000;
        self.agents[i].lease_expiry = exp;
        if let Some((n, e)) = &mut self.dcs.leader {
            if *n == self.agents[i].name && *e > self.now {
                *e = exp.max(*e);
            }
        }
        self.dcs
            .member_keys
            .insert(self.agents[i].name.clone(), (data, exp));
        if self.holds_lease(i) && self.writable(i) {
            self.dcs.optime = Some(self.agents[i].server.lsn);
        }
    }

    fn apply(&mut self, i: usize, action: &Action, seed: u64) -> Step {
        let now = self.now;
        let name = self.agents[i].name.clone();
        match action {
            Action::RenewLeader => {
                let writes_ok = self.agents[i].writes_fail_until <= now;
                if self.holds_lease(i) && writes_ok && self.rng.gen_bool(0.98) {
                    let exp = now + self.cfg.ttl * 1000;
                    self.dcs.leader = Some((name, exp));
                    self.agents[i].fence_at = Some(exp - self.margin_ms());
                    self.agents[i].leader_until = Some(exp);
                } else {
                    if !self.holds_lease(i) {
                        // etcd says the key is not ours (another name, or gone).
                        self.agents[i].leader_until = None;
                    }
                    return Step::Redecide {
                        renew_failed: true,
                        acquire_failed: false,
                    };
                }
            }
            Action::AcquireLeader => {
                let won = self.dcs.leader.is_none() && self.agents[i].writes_fail_until <= now;
                if won {
                    // Invariant 4: automatic failover obeys nofailover and lag limits.
                    let manual = self
                        .dcs
                        .failover
                        .as_ref()
                        .is_some_and(|f| f.member.as_deref() == Some(name.as_str()));
                    let a = &self.agents[i];
                    if !manual && a.server.initialized && a.server.in_recovery {
                        if !a.tags.can_failover() {
                            fail(
                                seed,
                                format!("{name} is tagged nofailover but took the leader key"),
                            );
                        }
                        if let Some(opt) = self.dcs.optime {
                            if opt.saturating_sub(a.server.lsn) > self.cfg.maximum_lag_on_failover {
                                fail(
                                    seed,
                                    format!(
                                        "{name} lags {} bytes but took the leader key",
                                        opt - a.server.lsn
                                    ),
                                );
                            }
                        }
                    }
                    self.dcs.leader = Some((name.clone(), now + self.cfg.ttl * 1000));
                    self.dcs.leader_rev += 1;
                    self.agents[i].fence_at = Some(now + self.cfg.ttl * 1000 - self.margin_ms());
                    self.agents[i].leader_until = Some(now + self.cfg.ttl * 1000);
                    self.agents[i].rewind_failed_from = None;
                    self.log(|| format!("{name} acquired the leader key"));
                }
                return Step::Redecide {
                    renew_failed: false,
                    acquire_failed: !won,
                };
            }
            Action::ReleaseLeader => {
                self.agents[i].leader_until = None;
                if self.dcs.leader.as_ref().is_some_and(|(n, _)| *n == name) {
                    self.dcs.leader = None;
                    for a in &mut self.agents {
                        a.next_cycle = a.next_cycle.min(now + 100);
                    }
                }
            }
            Action::WriteInitialize(s) => self.dcs.initialize = Some(s.clone()),
            Action::WriteConfig | Action::SyncSlots => {}
            Action::ClearFailover => self.dcs.failover = None,
            Action::FailsafeHold => {}
            Action::Bootstrap => return self.bootstrap(i),
            // The simulated groups are never standby clusters.
            Action::BootstrapStandbyLeader => unreachable!("no standby cluster is simulated"),
            Action::CreateReplica { from: None } => return Step::Continue,
            Action::CreateReplica { from: Some(from) } | Action::Reinitialize { from } => {
                if matches!(action, Action::Reinitialize { .. })
                    && self.agents[i].server.initialized
                    && !self.remove_data_on_diverged
                {
                    fail(
                        seed,
                        format!("{} was reinitialized (data removed) by the core although remove_data_directory_on_diverged_timelines is off", self.agents[i].name),
                    );
                }
                let Some(j) = self.by_name(from) else {
                    return Step::Continue;
                };
                let src = self.agents[j].server.clone();
                self.agents[i].rewind_failed_from = None;
                let s = &mut self.agents[i].server;
                s.initialized = true;
                s.running = true;
                s.in_recovery = true;
                s.was_primary = false;
                s.crashed = false;
                s.lsn = src.lsn;
                s.timeline = src.timeline;
                s.following = Some(from.clone());
                s.guc.clear();
                self.agents[i].busy_until = now + self.rng.gen_range(200..2000);
            }
            Action::Rewind { leader } => return self.rewind(i, leader, seed),
            Action::Promote => return self.promote(i, seed),
            Action::Demote(mode) => {
                // Invariant 5: a failed renewal is not a lost lease — a primary that still holds
                // its key is not demoted for want of a renewal while more than the margin is left.
                let left = self.agents[i]
                    .leader_until
                    .map_or(0, |u| u.saturating_sub(now));
                if matches!(mode, DemoteMode::Offline | DemoteMode::ImmediateNoLock)
                    && self.holds_lease(i)
                    && left > self.lease_margin_ms()
                {
                    fail(
                        seed,
                        format!("{name} demoted ({mode:?}) with {left} ms of its lease left"),
                    );
                }
                self.agents[i].server.guc.clear();
                // The runtime's own plan, step by step.
                for step in plan_demote(*mode, false).steps {
                    let s = &mut self.agents[i].server;
                    match step {
                        DemoteStep::StopFast | DemoteStep::StopImmediate => {
                            s.running = false;
                            s.in_recovery = true;
                        }
                        DemoteStep::StartReadOnly => {
                            s.running = true;
                            s.in_recovery = true;
                            s.following = None;
                        }
                        DemoteStep::StartStandbyLeader => {
                            unreachable!("no standby cluster is simulated")
                        }
                        DemoteStep::WithdrawLease => self.agents[i].leader_until = None,
                        DemoteStep::DisarmFenceGuard => self.agents[i].fence_at = None,
                        DemoteStep::ReleaseLeaderKey => {
                            if self.dcs.leader.as_ref().is_some_and(|(n, _)| *n == name) {
                                self.dcs.leader = None;
                            }
                        }
                        DemoteStep::DisarmWatchdog
                        | DemoteStep::Checkpoint
                        | DemoteStep::NotifyCoordinatorBeforeDemote => {}
                    }
                }
                self.log(|| format!("{name} demoted ({mode:?})"));
                return if *mode == DemoteMode::Offline {
                    Step::Stop
                } else {
                    Step::Redecide {
                        renew_failed: false,
                        acquire_failed: false,
                    }
                };
            }
            Action::StartPrimary => {
                let s = &mut self.agents[i].server;
                s.running = true;
                s.in_recovery = false;
                s.crashed = false;
            }
            Action::StartReplica { leader } => {
                let s = &mut self.agents[i].server;
                s.running = true;
                s.in_recovery = true;
                s.crashed = false;
                s.following = leader.clone();
                s.guc.clear();
                s.qguc = None;
            }
            Action::Follow { leader } => self.agents[i].server.following = Some(leader.clone()),
            Action::SyncReplication if self.cfg.is_quorum() => self.quorum_replication(i),
            Action::SyncReplication => {
                let rows: Vec<ReplicationRow> = self
                    .agents
                    .iter()
                    .filter(|a| {
                        a.server.running
                            && a.server.in_recovery
                            && a.server.following.as_deref() == Some(name.as_str())
                    })
                    .map(|a| ReplicationRow {
                        name: a.name.clone(),
                        state: "streaming".into(),
                        sync_state: if self.agents[i].server.guc.contains(&a.name) {
                            "sync".into()
                        } else {
                            "async".into()
                        },
                        flush_lsn: Lsn(a.server.lsn),
                    })
                    .collect();
                let tags: BTreeMap<String, Tags> = self
                    .agents
                    .iter()
                    .map(|a| (a.name.clone(), a.tags.clone()))
                    .collect();
                let key = self
                    .dcs
                    .sync
                    .as_ref()
                    .and_then(|s| s.leader.as_deref().map(|l| (l, s.members())));
                let plan = plan_sync(
                    &name,
                    &self.cfg,
                    key,
                    &self.agents[i].server.guc.clone(),
                    &rows,
                    &|n| tags.get(n).cloned(),
                    Lsn(self.agents[i].server.lsn),
                );
                if plan.delete_sync_key {
                    self.dcs.sync = None;
                }
                if let Some(m) = plan.sync_key {
                    self.dcs.sync = Some(SyncState {
                        leader: Some(name.clone()),
                        sync_standby: (!m.is_empty()).then(|| m.join(",")),
                        quorum: None,
                    });
                }
                if let Some(g) = plan.guc {
                    self.agents[i].server.guc = g;
                }
            }
            Action::Fatal(msg) => fail(seed, format!("{name}: unexpected fatal decision: {msg}")),
        }
        Step::Continue
    }

    /// Replication and client commits.
    /// The runtime's bootstrap plan, step by step, with failing steps injected; a failure runs
    /// the plan's clean-up (the agent exits and is restarted later, as systemd would).
    fn bootstrap(&mut self, i: usize) -> Step {
        let now = self.now;
        let name = self.agents[i].name.clone();
        let writes_ok = self.agents[i].writes_fail_until <= now;
        let mut failed = None;
        for step in plan_bootstrap(BootstrapFacts {
            citus: false,
            custom: false,
            standby: false,
        })
        .steps
        {
            let ok = match step {
                BootstrapStep::InitializeRace => {
                    if self.dcs.initialize.is_some() {
                        return Step::Continue; // lost the race: quietly
                    }
                    if !writes_ok {
                        false
                    } else {
                        self.dcs.initialize = Some(String::new());
                        true
                    }
                }
                // The simulation bootstraps with initdb only.
                BootstrapStep::RunBootstrapMethod
                | BootstrapStep::CloneRemote
                | BootstrapStep::StartStandbyLeader
                | BootstrapStep::WriteConfigForRestore
                | BootstrapStep::StartRecovery
                | BootstrapStep::WaitEndOfRecovery
                | BootstrapStep::RestartAsPrimary => {
                    unreachable!("custom or standby bootstrap step {step:?} in an initdb plan")
                }
                BootstrapStep::Initdb
                | BootstrapStep::StartAndWait
                | BootstrapStep::PostBootstrap => {
                    let ok = self.rng.gen_bool(0.97);
                    if ok && step == BootstrapStep::Initdb {
                        let s = &mut self.agents[i].server;
                        s.initialized = true;
                        s.was_primary = true;
                        s.lsn = 1;
                    }
                    if ok && step == BootstrapStep::StartAndWait {
                        let s = &mut self.agents[i].server;
                        s.running = true;
                        s.in_recovery = false;
                    }
                    ok
                }
                BootstrapStep::WriteInitialize => {
                    if writes_ok {
                        self.dcs.initialize = Some("7000000000000000001".into());
                    }
                    writes_ok
                }
                BootstrapStep::TakeLeaderKey => {
                    if writes_ok && self.dcs.leader.is_none() {
                        let exp = now + self.cfg.ttl * 1000;
                        self.dcs.leader = Some((name.clone(), exp));
                        self.dcs.leader_rev += 1;
                        self.agents[i].fence_at = Some(exp - self.margin_ms());
                        self.agents[i].leader_until = Some(exp);
                        true
                    } else {
                        false
                    }
                }
                BootstrapStep::WriteConfigPrimary
                | BootstrapStep::CallbackOnStart
                | BootstrapStep::CreateRoles
                | BootstrapStep::CitusBootstrap
                | BootstrapStep::WriteConfigKey => true,
            };
            if !ok {
                failed = Some(step);
                break;
            }
        }
        let Some(failed) = failed else {
            self.log(|| format!("{name} bootstrapped"));
            return Step::Continue;
        };
        self.log(|| format!("{name}: bootstrap failed at {failed:?}"));
        for c in plan_failed_bootstrap(failed).steps {
            match c {
                BootstrapCleanupStep::StopImmediate => self.agents[i].server.running = false,
                BootstrapCleanupStep::MoveAsideDataDir => {
                    let s = &mut self.agents[i].server;
                    s.initialized = false;
                    s.was_primary = false;
                    s.in_recovery = true;
                    s.lsn = 0;
                }
                BootstrapCleanupStep::DeleteInitialize => {
                    if writes_ok {
                        self.dcs.initialize = None;
                    }
                }
                BootstrapCleanupStep::Exit => {
                    let a = &mut self.agents[i];
                    a.alive = false;
                    a.down_until = now + 5000;
                }
            }
        }
        Step::Stop
    }

    /// The runtime's rewind plan (and, when pg_rewind fails, the plan after it), step by step.
    /// Invariant 6: a failed pg_rewind removes the data directory only with
    /// `remove_data_directory_on_rewind_failure` or `remove_data_directory_on_diverged_timelines`,
    /// and the core reinitializes a member with data only with the latter.
    fn rewind(&mut self, i: usize, leader: &str, seed: u64) -> Step {
        let Some(j) = self.by_name(leader) else {
            return Step::Continue;
        };
        let name = self.agents[i].name.clone();
        let facts = RewindFacts {
            running: self.agents[i].server.running,
            remove_data_on_failure: self.remove_data_on_rewind_failure,
            remove_data_on_diverged: self.remove_data_on_diverged,
        };
        let mut steps = plan_rewind(facts).steps;
        let mut k = 0;
        while k < steps.len() {
            let src = self.agents[j].server.clone();
            match steps[k] {
                RewindStep::CheckpointSource => {
                    if !src.running {
                        return Step::Stop; // retried next cycle; nothing touched
                    }
                }
                RewindStep::StopFast => self.agents[i].server.running = false,
                RewindStep::WriteConfigForRewind => {}
                RewindStep::RunRewind => {
                    if self.rng.gen_bool(0.1) {
                        self.log(|| format!("{name}: pg_rewind from {leader} failed"));
                        if !facts.removes_data_after_failure() {
                            self.agents[i].rewind_failed_from = Some(leader.to_string());
                        }
                        steps = plan_after_failed_rewind(facts).steps;
                        k = 0;
                        continue;
                    }
                    // Rewind discards what diverged and follows the leader's timeline.
                    let s = &mut self.agents[i].server;
                    s.lsn = s.lsn.min(src.lsn);
                    s.timeline = src.timeline;
                    s.was_primary = false;
                }
                RewindStep::RemoveDataDir => {
                    if !self.remove_data_on_rewind_failure && !self.remove_data_on_diverged {
                        fail(
                            seed,
                            format!("{name} removed its data directory after a failed pg_rewind although remove_data_directory_on_rewind_failure and remove_data_directory_on_diverged_timelines are off"),
                        );
                    }
                    let s = &mut self.agents[i].server;
                    s.initialized = false;
                    s.lsn = 0;
                }
                RewindStep::CreateReplica => {
                    self.agents[i].rewind_failed_from = None;
                    let s = &mut self.agents[i].server;
                    s.initialized = true;
                    s.was_primary = false;
                    s.lsn = src.lsn;
                    s.timeline = src.timeline;
                }
                RewindStep::StartStandby => {
                    let s = &mut self.agents[i].server;
                    s.running = true;
                    s.in_recovery = true;
                    s.crashed = false;
                    s.following = Some(leader.to_string());
                    s.guc.clear();
                }
            }
            k += 1;
        }
        Step::Continue
    }

    /// The runtime's promotion plan, step by step: claiming `/sync` can lose to a concurrent
    /// change (the promotion is postponed) and arming the watchdog can fail (it is refused).
    fn promote(&mut self, i: usize, seed: u64) -> Step {
        let now = self.now;
        let name = self.agents[i].name.clone();
        let plan = plan_promote(PromoteFacts {
            synchronous: self.cfg.synchronous(),
            quorum: self.cfg.is_quorum(),
            citus_worker: false,
            pre_promote: true,
        });
        for step in plan.steps {
            match step {
                PromoteStep::ClaimSyncKey => {
                    if self.agents[i].writes_fail_until > now || self.rng.gen_bool(0.05) {
                        self.log(|| format!("{name}: postponing promotion: /sync changed"));
                        return Step::Stop;
                    }
                    self.dcs.sync = Some(SyncState {
                        leader: Some(name.clone()),
                        sync_standby: None,
                        quorum: None,
                    });
                }
                PromoteStep::ClearSyncStandbys => {
                    self.agents[i].server.guc.clear();
                    self.agents[i].server.qguc = None;
                }
                PromoteStep::SetQuorumStandbys => {
                    let key = active_key(self.dcs.sync.as_ref());
                    let g = pre_promote_guc(
                        &name,
                        key.as_ref().map(|(_, k)| k),
                        self.cfg.synchronous_mode_strict,
                    );
                    self.agents[i].server.qguc = Some(g);
                    self.agents[i].q_confirmed.clear();
                    self.agents[i].q_since = None;
                }
                PromoteStep::PrePromote => {
                    if self.rng.gen_bool(0.03) {
                        // The script failed: the runtime carries out plan_pre_promote_failed.
                        for step in plan_pre_promote_failed().steps {
                            match step {
                                DemoteStep::WithdrawLease => self.agents[i].leader_until = None,
                                DemoteStep::DisarmFenceGuard => self.agents[i].fence_at = None,
                                DemoteStep::ReleaseLeaderKey => {
                                    if self.dcs.leader.as_ref().is_some_and(|(n, _)| *n == name) {
                                        self.dcs.leader = None;
                                    }
                                }
                                _ => {}
                            }
                        }
                        self.agents[i].pre_promote_failed_at = Some(
                            (now as i64 + self.agents[i].clock_offset_ms) as f64 / 1000.0 + 1.8e9,
                        );
                        self.log(|| format!("{name}: pre_promote failed; leader key released"));
                        return Step::Stop;
                    }
                }
                PromoteStep::ArmWatchdog => {
                    if self.rng.gen_bool(0.02) {
                        self.log(|| format!("{name}: refusing to promote: watchdog"));
                        return Step::Stop;
                    }
                }
                PromoteStep::PgPromote => {
                    // Invariant 1: promotion only by the lease holder.
                    if !self.holds_lease(i) {
                        fail(
                            seed,
                            format!("{name} promoted without holding the leader lease"),
                        );
                    }
                    // Invariant 3: no acknowledged commit lost.
                    if self.cfg.synchronous() && self.agents[i].server.lsn < self.max_lsn_acked {
                        fail(
                            seed,
                            format!(
                                "{name} promoted at LSN {} but commits up to {} were acknowledged",
                                self.agents[i].server.lsn, self.max_lsn_acked
                            ),
                        );
                    }
                    let s = &mut self.agents[i].server;
                    s.in_recovery = false;
                    s.was_primary = true;
                    s.following = None;
                    // A slow promotion keeps the agent busy.
                    if self.rng.gen_bool(0.1) {
                        self.agents[i].busy_until = now + self.rng.gen_range(100..3000);
                    }
                    self.log(|| format!("{name} promoted"));
                }
                PromoteStep::RecordHistory => {
                    let s = &mut self.agents[i].server;
                    s.history_push(&mut self.dcs.history, &name);
                }
                PromoteStep::PublishMemberKey => self.touch(i),
                PromoteStep::Checkpoint
                | PromoteStep::NotifyCoordinatorBeforePromote
                | PromoteStep::NotifyCoordinatorAfterPromote
                | PromoteStep::CallbackRoleChange => {}
            }
        }
        Step::Continue
    }

    /// The runtime's quorum step ([`praetor::agent`]'s `quorum_replication`): claim `/sync` after
    /// a promotion, then the planner's writes in order, stopping after a GUC change.
    fn quorum_replication(&mut self, i: usize) {
        let name = self.agents[i].name.clone();
        let strict = self.cfg.synchronous_mode_strict;
        let wanted = self.cfg.synchronous_node_count as usize;
        let guc = self.agents[i].server.qguc.clone().unwrap_or_else(|| {
            let names = &self.agents[i].server.guc;
            QuorumGuc {
                num: if names.is_empty() {
                    0
                } else {
                    wanted.clamp(1, names.len())
                },
                members: names.iter().cloned().collect(),
            }
        });
        let write_key = |dcs: &mut Dcs, k: &QuorumKey| {
            let voters: Vec<String> = k.voters.iter().cloned().collect();
            dcs.sync = Some(SyncState {
                leader: Some(name.clone()),
                sync_standby: (!voters.is_empty()).then(|| voters.join(",")),
                quorum: Some(k.quorum as i64),
            });
        };
        let key = match active_key(self.dcs.sync.as_ref()) {
            Some((l, k)) if l == name => k,
            other => {
                let claimed = claim(&name, other.as_ref().map(|(l, k)| (l.as_str(), k)), &guc);
                write_key(&mut self.dcs, &claimed);
                return;
            }
        };
        let rows: Vec<ReplicationRow> = self
            .agents
            .iter()
            .filter(|a| {
                a.server.running
                    && a.server.in_recovery
                    && a.server.following.as_deref() == Some(name.as_str())
            })
            .map(|a| ReplicationRow {
                name: a.name.clone(),
                state: "streaming".into(),
                sync_state: if guc.members.is_empty() && guc.num > 0
                    || guc.members.contains(&a.name)
                {
                    "quorum".into()
                } else {
                    "async".into()
                },
                flush_lsn: Lsn(a.server.lsn),
            })
            .collect();
        let tags: BTreeMap<String, Tags> = self
            .dcs
            .member_keys
            .keys()
            .filter_map(|n| {
                self.by_name(n)
                    .map(|k| (n.clone(), self.agents[k].tags.clone()))
            })
            .collect();
        let active = active_members(&rows, &|n| tags.get(n).cloned(), wanted);
        let my_lsn = self.agents[i].server.lsn;
        let since = *self.agents[i].q_since.get_or_insert(my_lsn);
        let confirmed = confirmed_members(&self.agents[i].q_confirmed, &guc, &rows, Lsn(since));
        self.agents[i].q_confirmed = confirmed.clone();
        let steps = if self.mutant == Mutant::SyncBeforeGuc {
            // Broken: straight to the target, /sync first, the GUC a cycle later.
            let (k, g) = target(&active, wanted, strict);
            if k != key {
                vec![QuorumStep::Key(k)]
            } else {
                vec![QuorumStep::Guc(g)]
            }
        } else {
            plan_quorum(&QuorumFacts {
                key: &key,
                guc: &guc,
                confirmed: &confirmed,
                active: &active,
                wanted,
                strict,
            })
        };
        let mut key_written = false;
        for step in steps {
            match step {
                QuorumStep::Key(k) => {
                    if key_written && self.mutant == Mutant::None {
                        break;
                    }
                    write_key(&mut self.dcs, &k);
                    key_written = true;
                }
                QuorumStep::Guc(g) => {
                    self.log(|| format!("{name}: synchronous_standby_names '{}'", g.render()));
                    self.agents[i].server.qguc = Some(g);
                    self.agents[i].q_confirmed.clear();
                    self.agents[i].q_since = None;
                }
                QuorumStep::Wait => break,
            }
        }
    }

    fn data_plane(&mut self) {
        let n = self.agents.len();
        for i in 0..n {
            let Some(up) = self.agents[i].server.following.clone() else {
                continue;
            };
            let Some(j) = self.by_name(&up) else { continue };
            if !(self.agents[i].server.running && self.agents[i].server.in_recovery) {
                continue;
            }
            let src = &self.agents[j].server;
            if src.running
                && src.timeline >= self.agents[i].server.timeline
                && self.rng.gen_bool(0.7)
            {
                let lsn = src.lsn;
                let tl = src.timeline;
                let s = &mut self.agents[i].server;
                if lsn > s.lsn || tl > s.timeline {
                    s.lsn = s.lsn.max(lsn);
                    s.timeline = tl;
                }
            }
        }
        // A client commits on each writable server.
        for i in 0..n {
            if !self.writable(i) || !self.rng.gen_bool(0.5) {
                continue;
            }
            self.agents[i].server.lsn += 1;
            let lsn = self.agents[i].server.lsn;
            let guc = self.agents[i].server.guc.clone();
            let name = self.agents[i].name.clone();
            let sync_on = !guc.is_empty();
            // Quorum commit guarantees nothing until `/sync` is active (names a leader).
            let quorum_active = active_key(self.dcs.sync.as_ref()).is_some();
            let acked = if let Some(q) =
                self.agents[i].server.qguc.clone().filter(|_| quorum_active)
            {
                // ANY num (members): acknowledged once num of them streaming from it have the
                // commit (`*`: any standby); num 0: by the primary alone.
                let tl = self.agents[i].server.timeline;
                let ackers: Vec<usize> = (0..n)
                    .filter(|&k| {
                        k != i
                            && (q.members.is_empty() || q.members.contains(&self.agents[k].name))
                            && self.agents[k].alive_server()
                            && self.agents[k].server.following.as_deref() == Some(name.as_str())
                            && self.agents[k].server.timeline == tl
                    })
                    .collect();
                if ackers.len() >= q.num {
                    // The commit reaches just num of them (the adversary's choice).
                    let take = q.num;
                    let start = if ackers.is_empty() {
                        0
                    } else {
                        self.rng.gen_range(0..ackers.len())
                    };
                    for x in 0..take {
                        let k = ackers[(start + x) % ackers.len()];
                        self.agents[k].server.lsn = self.agents[k].server.lsn.max(lsn);
                    }
                    true
                } else {
                    false
                }
            } else if sync_on {
                // Acknowledged once a synchronous standby streaming from it has the commit.
                let standby = (0..n).find(|&k| {
                    guc.contains(&self.agents[k].name)
                        && self.agents[k].alive_server()
                        && self.agents[k].server.following.as_deref() == Some(name.as_str())
                        && self.agents[k].server.timeline == self.agents[i].server.timeline
                });
                match standby {
                    Some(k) => {
                        self.agents[k].server.lsn = self.agents[k].server.lsn.max(lsn);
                        true
                    }
                    None => false,
                }
            } else {
                !self.cfg.synchronous()
            };
            if acked && self.cfg.synchronous() {
                self.acked.push(lsn);
                self.max_lsn_acked = self.max_lsn_acked.max(lsn);
            }
        }
    }

    fn faults(&mut self) {
        let now = self.now;
        let n = self.agents.len();
        let i = self.rng.gen_range(0..n);
        let r: f64 = self.rng.gen();
        let a = &mut self.agents[i];
        if r < 0.0015 && a.alive {
            a.alive = false;
            a.server.running = false;
            a.server.crashed = true;
            a.down_until = now + self.rng.gen_range(1000..60_000);
        } else if r < 0.0025 && a.server.running {
            a.server.running = false;
            a.server.crashed = true;
        } else if r < 0.0040 {
            a.dcs_down_until = now + self.rng.gen_range(1000..40_000);
        } else if r < 0.0050 {
            a.paused_until = now + self.rng.gen_range(1000..40_000);
        } else if r < 0.0055 {
            a.clock_offset_ms += self.rng.gen_range(-60_000..60_000);
        } else if r < 0.0065 {
            // etcd answers reads but refuses writes (e.g. it lost quorum).
            a.writes_fail_until = now + self.rng.gen_range(1000..40_000);
        } else if r < 0.0075 && a.alive {
            // The agent alone is killed; PostgreSQL keeps running.
            a.alive = false;
            a.down_until = now + self.rng.gen_range(1000..60_000);
        } else if r < 0.0085 && a.alive && a.paused_until <= now && a.busy_until <= now {
            self.graceful_stop(i);
        } else if (0.0085..0.0095).contains(&r) {
            // One etcd member of its list fails; the others answer.
            self.agents[i].etcd_member_down_until = now + self.rng.gen_range(1000..60_000);
        }
        for a in &mut self.agents {
            if !a.alive && a.down_until <= now {
                a.alive = true;
                a.next_cycle = now;
                a.tags.nosync = false;
            }
        }
    }

    fn check(&self, seed: u64) {
        // Invariant 2: no two members can acknowledge a commit at the same time — whatever state
        // their agents are in (frozen, killed, cut off), because the fence guards stop a primary
        // before its lease can expire.
        let writable: Vec<&str> = (0..self.agents.len())
            .filter(|&i| self.writable(i))
            .map(|i| self.agents[i].name.as_str())
            .collect();
        if writable.len() > 1 {
            fail(
                seed,
                format!("two writable primaries at {} ms: {writable:?}", self.now),
            );
        }
    }

    fn run(&mut self, seed: u64, steps: u64) {
        for _ in 0..steps {
            self.now += STEP_MS;
            self.faults();
            self.fences();
            self.expire();
            let n = self.agents.len();
            for i in 0..n {
                let a = &self.agents[i];
                if !a.alive
                    || a.paused_until > self.now
                    || a.next_cycle > self.now
                    || a.busy_until > self.now
                {
                    continue;
                }
                self.cycle(i, seed);
                let jitter = self.rng.gen_range(0..200);
                self.agents[i].next_cycle = self.now + self.cfg.loop_wait * 1000 + jitter;
            }
            self.data_plane();
            self.check(seed);
        }
    }
}

impl Agent {
    fn alive_server(&self) -> bool {
        self.server.running && self.server.in_recovery
    }
}

impl Server {
    fn history_push(&mut self, history: &mut Vec<HistoryEntry>, name: &str) {
        history.push(HistoryEntry {
            timeline: self.timeline,
            switch_lsn: Lsn(self.lsn),
            reason: "no recovery target specified".into(),
            timestamp: None,
            new_leader: Some(name.to_string()),
        });
        self.timeline += 1;
    }
}

enum Step {
    Continue,
    Redecide {
        renew_failed: bool,
        acquire_failed: bool,
    },
    Stop,
}

#[test]
fn seeded_schedules_keep_the_invariants() {
    let steps = 1200; // two virtual minutes per schedule
    if let Ok(seed) = std::env::var("PRAETOR_SIM_SEED") {
        let seed: u64 = seed.parse().expect("PRAETOR_SIM_SEED must be a number");
        let mut w = World::new(seed);
        w.trace = true;
        println!("seed {seed}: config {:?}", w.cfg);
        w.run(seed, steps);
        return;
    }
    let schedules: u64 = std::env::var("PRAETOR_SIM_SCHEDULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let mut promotions = 0usize;
    let mut acked = 0usize;
    let (mut q_schedules, mut q_promotions, mut q_acked) = (0usize, 0usize, 0usize);
    for seed in 0..schedules {
        let mut w = World::new(seed);
        w.run(seed, steps);
        promotions += w.dcs.history.len();
        acked += w.acked.len();
        if w.cfg.is_quorum() {
            q_schedules += 1;
            q_promotions += w.dcs.history.len();
            q_acked += w.acked.len();
        }
    }
    println!("{schedules} schedules, {promotions} promotions, {acked} acknowledged synchronous commits: invariants held");
    println!("of which quorum commit: {q_schedules} schedules, {q_promotions} promotions, {q_acked} acknowledged commits");
    assert!(
        promotions > schedules as usize / 10,
        "the faults must actually cause failovers"
    );
    assert!(
        q_promotions > q_schedules / 10 && q_acked > q_schedules * 10,
        "quorum schedules must fail over and acknowledge commits"
    );
}

/// Each deliberately broken quorum rule ([`Mutant`]) loses an acknowledged commit in some
/// schedule: the invariants would catch the bug.
#[test]
fn quorum_mutants_are_caught() {
    for mutant in [Mutant::SelfCountedTwice, Mutant::SyncBeforeGuc] {
        let caught = (0..20_000u64).find(|&seed| {
            let mut w = World::new(seed);
            if !w.cfg.is_quorum() {
                return false;
            }
            w.mutant = mutant;
            let hook = std::panic::take_hook();
            std::panic::set_hook(Box::new(|_| {}));
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.run(seed, 1200)));
            std::panic::set_hook(hook);
            r.is_err()
        });
        println!("{mutant:?}: caught by seed {caught:?}");
        assert!(caught.is_some(), "{mutant:?} was not caught");
    }
}
