//! The HA driver: one cycle = observe (local server, DCS, peers) → [`decide`] → execute the actions
//! with timeouts → publish the member key and the status the REST API serves. Woken early by etcd
//! watch events and by the postmaster exiting; otherwise every `loop_wait` seconds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use serde_json::Value as Json;
use tokio::sync::{Notify, RwLock};

use crate::config::{Config, DynamicConfig};
use crate::dcs::etcd::EtcdDcs;
use crate::dcs::{keys, ClusterView, Failover, HistoryEntry, MemberData, SyncState};
use crate::ha::{decide, Action, DataDir, Decision, DemoteMode, PeerStatus, PgState, Snapshot};
use crate::postgres::{LocalPostgres, ServerInfo, StopMode, Upstream};
use crate::types::{Lsn, MemberState, Role};

mod clone;
mod commands;
mod observe;
mod publish;
mod replication;
mod steps;

/// The Patroni version praetor announces in member keys and `/patroni` (reference §1.3).
pub use crate::ha::publish::PATRONI_COMPAT_VERSION;

/// What the agent knows about itself, published after every cycle for the REST API.
#[derive(Debug, Clone)]
pub struct NodeStatus {
    /// Member role.
    pub role: Role,
    /// Member state.
    pub state: MemberState,
    /// Local server observation.
    pub pg: PgState,
    /// Extra server facts.
    pub info: ServerInfo,
    /// Last DCS view (None before the first successful read).
    pub view: Option<ClusterView>,
    /// Effective dynamic config.
    pub dynamic: DynamicConfig,
    /// In-memory expiry of our leader lease: we hold the leader lock while `now < leader_until`.
    pub leader_until: Option<Instant>,
    /// Data directory system identifier.
    pub sysid: Option<String>,
    /// Epoch seconds of the last successful DCS read.
    pub dcs_last_seen: Option<u64>,
    /// The last cycle could not read etcd (its `view` is older than that cycle).
    pub dcs_failed: bool,
    /// When the last cycle finished.
    pub last_cycle: Instant,
    /// The fence guard: pid, armed, times restarted (None when it could not be started).
    pub fence: Option<(u32, bool, u32)>,
    /// While this primary runs without etcd in failsafe mode (every member confirmed it in this
    /// cycle's failsafe check), until when that confirmation holds: the check's start plus
    /// `ttl`, as Patroni's `Failsafe.set_is_active`. `None` otherwise, and as soon as a cycle
    /// reads etcd again. (A standby's side of failsafe mode is [`Shared::failsafe_ping`].)
    pub failsafe_until: Option<Instant>,
}

impl NodeStatus {
    /// Whether this member holds the leader lock now (Patroni decides /primary from this, not from
    /// `pg_is_in_recovery()`).
    pub fn holds_lock(&self) -> bool {
        self.leader_until.is_some_and(|t| Instant::now() < t)
    }
}

/// State shared between the driver and the REST API.
pub struct Shared {
    /// Local configuration; replaced by a reload (read it with [`Shared::cfg`]).
    pub cfg: std::sync::RwLock<Arc<Config>>,
    /// Latest status.
    pub status: RwLock<NodeStatus>,
    /// Wakes the HA loop early.
    pub wake: Arc<Notify>,
    /// DCS handle (GET /cluster reads fresh).
    pub dcs: EtcdDcs,
    /// Requests from the REST API to the driver.
    pub commands: tokio::sync::mpsc::Sender<Command>,
    /// A restart scheduled through POST /restart.
    pub scheduled_restart: std::sync::Mutex<Option<ScheduledRestart>>,
    /// HTTP client for calls to peers (2 s timeout); replaced by a reload.
    pub http: std::sync::RwLock<reqwest::Client>,
    /// The REST API's TLS configuration (`None`: plain HTTP); replaced by a reload, so renewed
    /// certificate files serve new connections.
    pub rest_tls: std::sync::RwLock<Option<Arc<rustls::ServerConfig>>>,
    /// The Citus metadata handler, on coordinator (group 0) members.
    pub citus: Option<crate::citus::handler::CitusHandler>,
    /// The last `POST /failsafe` received: the calling leader's name and when.
    pub failsafe_ping: std::sync::Mutex<Option<(String, Instant)>>,
    /// The long operation the HA loop is carrying out for a REST request (`reinitialize`), so
    /// another request is answered "… already in progress" at once, as Patroni does.
    pub in_progress: std::sync::Mutex<Option<&'static str>>,
}

impl Shared {
    /// The configuration in force.
    pub fn cfg(&self) -> Arc<Config> {
        self.cfg.read().expect("not poisoned").clone()
    }

    /// The HTTP client for peers' REST APIs.
    pub fn http(&self) -> reqwest::Client {
        self.http.read().expect("not poisoned").clone()
    }

    /// The REST API's current TLS configuration.
    pub fn rest_tls(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.rest_tls.read().expect("not poisoned").clone()
    }
}

/// `new` with every setting that cannot change while the agent runs put back to its value in
/// `old`, and the names of those that differed.
pub fn reloadable(old: &Config, mut new: Config) -> (Config, Vec<&'static str>) {
    let mut kept = Vec::new();
    macro_rules! keep {
        ($name:literal, $($field:tt)+) => {
            if old.$($field)+ != new.$($field)+ {
                kept.push($name);
                new.$($field)+ = old.$($field)+.clone();
            }
        };
    }
    keep!("scope", scope);
    keep!("namespace", namespace);
    keep!("name", name);
    keep!("restapi.listen", restapi.listen);
    keep!("restapi.connect_address", restapi.connect_address);
    if old.restapi.certfile.is_some() != new.restapi.certfile.is_some() {
        kept.push("restapi.certfile (switching between HTTP and HTTPS)");
        new.restapi.certfile = old.restapi.certfile.clone();
        new.restapi.keyfile = old.restapi.keyfile.clone();
        new.restapi.cafile = old.restapi.cafile.clone();
        new.restapi.verify_client = old.restapi.verify_client;
    }
    let json = |v: &dyn erased::Ser| v.json();
    if json(&old.etcd) != json(&new.etcd) {
        kept.push("etcd3");
        new.etcd = old.etcd.clone();
    }
    if json(&old.citus) != json(&new.citus) {
        kept.push("citus");
        new.citus = old.citus.clone();
    }
    keep!("postgresql.data_dir", postgresql.data_dir);
    keep!("postgresql.bin_dir", postgresql.bin_dir);
    keep!("postgresql.listen", postgresql.listen);
    keep!("postgresql.connect_address", postgresql.connect_address);
    keep!("watchdog", watchdog);
    (new, kept)
}

/// Comparing configuration sections by their JSON form (some have no `PartialEq`).
mod erased {
    pub trait Ser {
        fn json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or_default()
        }
    }
}

/// A request the REST API hands to the driver; the driver runs it between cycles and replies.
#[derive(Debug)]
pub enum Command {
    /// Restart PostgreSQL in its current role.
    Restart(tokio::sync::oneshot::Sender<Result<(), String>>),
    /// Replace the data directory with a fresh basebackup from the leader (standbys only).
    Reinitialize {
        /// `from_leader`: basebackup from the leader alone, not the configured methods.
        from_leader: bool,
        /// Answered once the reinitialize has started (or was refused).
        reply: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
    /// Rewrite postgresql.conf from the current configuration and reload PostgreSQL.
    Reload(tokio::sync::oneshot::Sender<Result<(), String>>),
}

/// A restart scheduled for later (POST /restart with `schedule`), with Patroni's filters.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledRestart {
    /// When, Unix epoch seconds.
    pub at: f64,
    /// The `schedule` text as given.
    pub schedule: String,
    /// Only if this member then has this role ([`Role::Primary`] or [`Role::Replica`]).
    pub role: Option<Role>,
    /// Only if the server's version is lower than this (`server_version_num` form).
    pub postgres_version: Option<i64>,
    /// Only if a restart is pending.
    pub restart_pending: bool,
    /// `pg_postmaster_start_time()` when the restart was scheduled: a server started since (the
    /// restart already happened, say before the agent was restarted) cancels it, as in Patroni.
    pub postmaster_start_time: Option<String>,
}

impl ScheduledRestart {
    /// The restart this member's own key still announces (`scheduled_restart`, as
    /// [`ScheduledRestart::to_json`] wrote it before the agent restarted), so a scheduled restart
    /// outlives the agent. None when the key has none or it does not read.
    pub fn from_member_json(v: &Json) -> Option<ScheduledRestart> {
        let schedule = v.get("schedule")?.as_str()?.to_string();
        let role = match v.get("role").and_then(Json::as_str) {
            None => None,
            Some("primary") | Some("master") => Some(Role::Primary),
            Some("replica") => Some(Role::Replica),
            Some(_) => return None,
        };
        Some(ScheduledRestart {
            at: crate::ha::switchover::parse_schedule(&schedule)?,
            schedule,
            role,
            postgres_version: v.get("postgres_version").and_then(Json::as_i64),
            restart_pending: v.get("restart_pending").and_then(Json::as_bool) == Some(true),
            postmaster_start_time: v
                .get("postmaster_start_time")
                .and_then(Json::as_str)
                .map(String::from),
        })
    }

    /// The member key / REST form: `{schedule, role?, postgres_version?, restart_pending?}`.
    pub fn to_json(&self) -> Json {
        let mut v = serde_json::json!({"schedule": self.schedule});
        if let Some(r) = &self.role {
            v["role"] = Json::String(r.as_str().to_string());
        }
        if let Some(pv) = self.postgres_version {
            v["postgres_version"] = Json::from(pv);
        }
        if self.restart_pending {
            v["restart_pending"] = Json::Bool(true);
        }
        if let Some(t) = &self.postmaster_start_time {
            v["postmaster_start_time"] = Json::String(t.clone());
        }
        v
    }
}

/// How the driver loop ended.
#[derive(Debug)]
pub enum Exit {
    /// Asked to stop (signal).
    Shutdown,
    /// A fatal condition; the message says what.
    Fatal(String),
}

/// Reads the group from etcd, retrying failed reads (refused connections, an etcd restart, an
/// auth token etcd forgot) until `retry` has passed since the first attempt, as Patroni's etcd
/// client retries within `retry_timeout` before the HA loop treats etcd as unreachable.
/// Retries always read etcd itself, not the watch-fed copy.
///
/// # Errors
/// The last read's error once `retry` is spent.
async fn read_view_retrying(dcs: &EtcdDcs, fresh: bool, retry: Duration) -> Result<ClusterView> {
    let deadline = tokio::time::Instant::now() + retry;
    let first = if fresh {
        dcs.load_fresh().await
    } else {
        dcs.load().await
    };
    let mut err = match first {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let mut delay = Duration::from_millis(50);
    while tokio::time::Instant::now() + delay < deadline {
        tracing::debug!("reading the cluster state from etcd: {err:#}; retrying");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
        match tokio::time::timeout_at(deadline, dcs.load_fresh()).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => err = e,
            Err(_) => break,
        }
    }
    Err(err)
}

/// pg_rewind itself failed (its source still answers), as opposed to the other failures of a
/// rewind plan (the source unreachable, a stop or start failing): only this one leads to
/// [`crate::ha::rewind::plan_after_failed_rewind`].
#[derive(Debug, thiserror::Error)]
#[error("pg_rewind failed from {source_member}: {cause:#}")]
pub(super) struct RewindFailed {
    /// The member rewound from.
    source_member: String,
    /// pg_rewind's error.
    cause: anyhow::Error,
}

/// `postgresql.pre_promote` exited non-zero (or could not run): the promotion is cancelled and
/// [`crate::ha::transition::plan_pre_promote_failed`] follows.
#[derive(Debug, thiserror::Error)]
#[error("the pre_promote script {command:?} {outcome}")]
pub(super) struct PrePromoteFailed {
    /// The command as configured.
    command: String,
    /// How it ended.
    outcome: String,
}

/// The driver of one member.
pub struct Driver {
    cfg: Arc<Config>,
    dcs: EtcdDcs,
    pg: Arc<LocalPostgres>,
    shared: Arc<Shared>,
    http: reqwest::Client,
    dynamic: DynamicConfig,
    leader_until: Option<Instant>,
    start_failures: u32,
    state: MemberState,
    role: Role,
    last_member: Option<(MemberData, i64)>,
    last_history_tl: Option<u32>,
    commands_rx: tokio::sync::mpsc::Receiver<Command>,
    citus_active: bool,
    /// On a coordinator member: a reload changed the superuser's credentials, or an interrupted
    /// rotation was found, and the Citus nodes have not yet been seen holding the configured ones;
    /// the coordinator leader checks them and rotates when they differ
    /// ([`crate::citus::handler::ensure_credentials`]).
    rotation_check: bool,
    /// Bumped by each reload that sets `rotation_check`; the check task records the value it
    /// started under, and only a task of the current generation may clear the flag.
    rotation_generation: (u64, u64),
    /// The task under way: a sweep of leftover prepared transactions (run once each time this
    /// member becomes the coordinator leader) or a check-and-rotate.
    rotation:
        Option<tokio::task::JoinHandle<anyhow::Result<crate::citus::handler::RotationOutcome>>>,
    /// When a failed rotation may be tried again, and how many failed in a row.
    rotation_retry_at: Option<Instant>,
    rotation_failures: u32,
    /// The sweep ran since this member last became the coordinator leader.
    rotation_swept: bool,
    /// Set by a demotion: the next start announces `on_role_change` instead of `on_start`.
    role_change_pending: bool,
    watchdog: crate::watchdog::Watchdog,
    /// The lease keeper and the fence guard it arms.
    keep: super::lease::LeaseKeep,
    /// A running standby's WAL receiver was first seen not streaming at this time.
    receiver_seen: Option<Instant>,
    /// The postmaster was first seen up but not accepting connections at this time.
    starting_since: Option<Instant>,
    /// When this cycle's [`Action::AcquireLeader`] sent its request (it renewed the lease too).
    acquired_at: Option<Instant>,
    /// When the HA loop last renewed the lease through [`Action::RenewLeader`].
    lease_renewed_at: Option<Instant>,
    /// Until then, cycles run every 200 ms: a standby was started or repointed and is not yet
    /// seen streaming.
    settle_until: Option<Instant>,
    /// The last cycle could not renew the lease it still holds (see [`Snapshot::lease_left`]).
    renewal_failing: bool,
    /// When this cycle's failsafe check (every member answered `POST /failsafe`) started.
    failsafe_checked_at: Option<Instant>,
    /// The leader a pg_rewind from failed while the data was kept ([`Snapshot::rewind_failed`]).
    rewind_failed_from: Option<String>,
    /// When (UNIX seconds, the snapshot's clock) `pre_promote` last failed
    /// ([`Snapshot::pre_promote_failed_at`]).
    pre_promote_failed_at: Option<f64>,
    /// The DCS values that did not decode, as last reported (each is logged once).
    bad_values: crate::dcs::BadValues,
    /// When the leader lease ends by the last renewal etcd confirmed to this loop (counted from
    /// before the request, with the ttl it was renewed for); `leader_until` may run further on
    /// a failsafe extension, this never does.
    confirmed_until: Option<Instant>,
    /// Slots without a member, kept for `member_slots_ttl`: when each was first seen so
    /// (seconds since [`Driver::epoch`]).
    orphaned_slots: BTreeMap<String, f64>,
    /// The positions of this primary's permanent slots for `/status` (from the last slot plan).
    slot_positions: BTreeMap<String, Lsn>,
    /// The slot positions last written to `/status`.
    published_slot_positions: BTreeMap<String, Lsn>,
    /// This cycle restarted the server to copy logical slots into it.
    slots_restarted: bool,
    /// `/sync` members without a member key: when each was first seen so (seconds since
    /// [`Driver::epoch`]); see [`crate::ha::sync::lapsed_sync_members`].
    sync_key_gone: BTreeMap<String, f64>,
    /// Quorum commit: the GUC members confirmed since `synchronous_standby_names` last changed
    /// ([`crate::ha::quorum::confirmed_members`]).
    quorum_confirmed: crate::ha::quorum::Names,
    /// Quorum commit: the primary's WAL position (bytes) members must reach to be confirmed,
    /// taken at the first cycle after the GUC changed (later than the change: only safer).
    quorum_since: Option<Lsn>,
    /// When this member last promoted: quorum commit waits `loop_wait` before changing the
    /// voters, so standbys can reconnect first (Patroni's `_promote_timestamp`).
    promoted_at: Option<Instant>,
    /// The agent's monotonic clock origin.
    epoch: Instant,
    /// A synchronous standby about to stop or restart asks the primary to release it: the member
    /// key carries `nosync: true` and `sync_priority: 0` while this is set.
    sync_release: bool,
    /// pg_hba.conf / pg_ident.conf may differ from what the configuration gives: the dynamic
    /// `postgresql` section changed, or the agent just started beside a running server (Patroni
    /// rewrites both files then too). Checked by the next cycle that reads the DCS
    /// ([`Driver::sync_auth_files`]).
    auth_files_stale: bool,
    /// The dynamic configuration's `postgresql` section changed since the running server's
    /// files were written ([`Driver::apply_dynamic_postgresql`]).
    server_conf_stale: bool,
    /// The last reload after a dynamic configuration change failed: the next one reloads even
    /// when the files are already as written.
    conf_reload_failed: bool,
    /// A `/config` has been read since the agent started: only a change after that is applied
    /// to a running server (the first one replaces the bootstrap defaults the agent started
    /// with, before its role and synchronous standbys are known again).
    dcs_config_seen: bool,
    /// The first view was read: a restart our member key still announces has been taken back.
    schedule_restored: bool,
    /// The last reload after rewriting pg_hba.conf / pg_ident.conf failed: reload again even if
    /// the files now match.
    auth_reload_failed: bool,
}

fn epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Driver {
    /// Builds the driver and its shared state; connects to etcd lazily.
    ///
    /// # Errors
    /// No PostgreSQL binaries, or invalid etcd endpoints.
    pub async fn new(cfg: Arc<Config>) -> Result<(Driver, Arc<Shared>)> {
        let dynamic = cfg.bootstrap_dcs.clone();
        let dcs = EtcdDcs::connect(
            &cfg.etcd,
            &cfg.group_prefix(),
            &cfg.name,
            Duration::from_secs(dynamic.retry_timeout.max(1)),
        )
        .await?;
        let pg = Arc::new(LocalPostgres::new(cfg.clone())?);
        let http = crate::tls::http_client(&cfg.http_client_tls(), Duration::from_secs(2))?;
        let rest_tls = match &cfg.restapi.certfile {
            Some(certfile) => Some(crate::tls::server_config(&crate::tls::ServerTls {
                certfile: certfile.clone(),
                keyfile: cfg.restapi.keyfile.clone(),
                cafile: cfg.restapi.cafile.clone(),
                verify_client: cfg.restapi.verify_client,
            })?),
            None => None,
        };
        let (commands, commands_rx) = tokio::sync::mpsc::channel(8);
        let watchdog_cfg = cfg.watchdog.clone();
        let shared = Arc::new(Shared {
            cfg: std::sync::RwLock::new(cfg.clone()),
            status: RwLock::new(NodeStatus {
                role: Role::Uninitialized,
                state: MemberState::Stopped,
                pg: PgState::default(),
                info: ServerInfo::default(),
                view: None,
                dynamic: dynamic.clone(),
                leader_until: None,
                sysid: None,
                dcs_last_seen: None,
                dcs_failed: false,
                last_cycle: Instant::now(),
                fence: None,
                failsafe_until: None,
            }),
            wake: Arc::new(Notify::new()),
            dcs: dcs.clone(),
            commands,
            scheduled_restart: std::sync::Mutex::new(None),
            http: std::sync::RwLock::new(http.clone()),
            rest_tls: std::sync::RwLock::new(rest_tls),
            failsafe_ping: std::sync::Mutex::new(None),
            in_progress: std::sync::Mutex::new(None),
            citus: cfg
                .citus
                .as_ref()
                .filter(|c| c.group == 0)
                .map(|c| crate::citus::handler::CitusHandler::start(pg.clone(), c.databases())),
        });
        Ok((
            Driver {
                cfg,
                dcs,
                pg,
                shared: shared.clone(),
                http,
                dynamic,
                leader_until: None,
                start_failures: 0,
                state: MemberState::Stopped,
                role: Role::Uninitialized,
                last_member: None,
                last_history_tl: None,
                commands_rx,
                citus_active: false,
                rotation_check: false,
                rotation_generation: (0, 0),
                rotation: None,
                rotation_retry_at: None,
                rotation_failures: 0,
                rotation_swept: false,
                role_change_pending: false,
                watchdog: crate::watchdog::Watchdog::new(watchdog_cfg),
                keep: Default::default(),
                receiver_seen: None,
                starting_since: None,
                acquired_at: None,
                lease_renewed_at: None,
                settle_until: None,
                renewal_failing: false,
                rewind_failed_from: None,
                pre_promote_failed_at: None,
                bad_values: Default::default(),
                failsafe_checked_at: None,
                confirmed_until: None,
                orphaned_slots: BTreeMap::new(),
                slot_positions: BTreeMap::new(),
                published_slot_positions: BTreeMap::new(),
                slots_restarted: false,
                sync_key_gone: BTreeMap::new(),
                quorum_confirmed: Default::default(),
                quorum_since: None,
                promoted_at: None,
                epoch: Instant::now(),
                sync_release: false,
                auth_files_stale: true,
                server_conf_stale: false,
                conf_reload_failed: false,
                dcs_config_seen: false,
                schedule_restored: false,
                auth_reload_failed: false,
            },
            shared,
        ))
    }

    /// Refuses to start when another live agent already uses our member name (Patroni §2.16).
    async fn check_duplicate_name(&self) -> Result<()> {
        let Ok(view) = self.dcs.load().await else {
            return Ok(());
        };
        if let Some(m) = view.member(&self.cfg.name) {
            let url = m.data.api_url.replace("/patroni", "/liveness");
            if !url.is_empty() && url != self.api_url().replace("/patroni", "/liveness") {
                if let Ok(r) = self
                    .http
                    .get(&url)
                    .timeout(Duration::from_secs(3))
                    .send()
                    .await
                {
                    if r.status().is_success() {
                        anyhow::bail!(
                            "Can't start; there is already a node named '{}' running",
                            self.cfg.name
                        );
                    }
                }
            }
        }
        Ok(())
    }

    fn api_url(&self) -> String {
        let scheme = if self.cfg.restapi.certfile.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}/patroni", self.cfg.restapi.connect_address)
    }

    /// Runs the HA loop until a shutdown signal or a fatal condition.
    pub async fn run(mut self, mut shutdown: tokio::sync::watch::Receiver<bool>) -> Exit {
        self.pg.set_stop_request(shutdown.clone());
        if let Err(e) = self.check_duplicate_name().await {
            return Exit::Fatal(format!("{e:#}"));
        }
        if let Err(e) = self.pg.write_pgpass() {
            return Exit::Fatal(format!("{e:#}"));
        }
        match crate::fence::Guard::start(
            &self.cfg.postgresql.data_dir,
            crate::fence::margin(self.dynamic.retry_timeout),
        ) {
            Ok(g) => {
                tracing::info!("fence guard running (pid {})", g.pid());
                self.keep = super::lease::LeaseKeep::new(Some(g));
            }
            Err(e) => tracing::error!("starting the fence guard: {e}; this primary is not fenced"),
        }
        let _watch = self.dcs.spawn_watch(self.shared.wake.clone());
        let keeper = self
            .keep
            .spawn_keeper(self.dcs.clone(), self.shared.wake.clone());
        let _keeper = AbortOnDrop(keeper);
        // The coordinator reacts at once to any group's leader or member changes.
        let _scope_watch = self.shared.citus.is_some().then(|| {
            self.dcs
                .spawn_watch_on(self.cfg.scope_prefix(), true, self.shared.wake.clone())
        });
        // systemd (Type=notify): ready after the first cycle, and a watchdog keep-alive after each
        // one when WatchdogSec= is set. Both are no-ops outside systemd.
        // As sd_watchdog_enabled(3): WATCHDOG_USEC set, and WATCHDOG_PID unset or ours.
        let sd_watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|us| us > 0)
            && std::env::var("WATCHDOG_PID")
                .map(|p| p == std::process::id().to_string())
                .unwrap_or(true);
        let mut first = true;
        loop {
            let started = Instant::now();
            match self.cycle().await {
                Ok(None) => {}
                Ok(Some(exit)) => {
                    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
                    return exit;
                }
                Err(e) => tracing::error!("HA cycle failed: {e:#}"),
            }
            if std::mem::take(&mut first) {
                if let Err(e) = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]) {
                    tracing::warn!("telling systemd we are ready (NOTIFY_SOCKET): {e}");
                }
            }
            if sd_watchdog {
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
            }
            // A standby just (re)started or repointed: look again soon, so its member key says
            // `streaming` as soon as it does, not a whole loop_wait later.
            let wait = if self.settle_until.is_some_and(|t| Instant::now() < t) {
                Duration::from_millis(200)
            } else if self.renewal_failing {
                Duration::from_millis(500)
            } else {
                Duration::from_secs(self.dynamic.loop_wait).saturating_sub(started.elapsed())
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.shared.wake.notified() => {}
                _ = self.pg.exited.notified() => {}
                Some(cmd) = self.commands_rx.recv() => self.handle_command(cmd).await,
                _ = shutdown.changed() => {
                    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
                    return match self.shutdown().await {
                        Ok(()) => Exit::Shutdown,
                        Err(e) => Exit::Fatal(e),
                    };
                }
            }
        }
    }

    /// Arms the fence guard with the time left on a lease renewed (or taken) at `t0`.
    /// Also endorses the lease for the keeper ([`super::lease`]) to renew between cycles.
    fn arm_guard(&mut self, t0: Instant) {
        self.keep.endorse(
            t0,
            Duration::from_secs(self.dynamic.ttl),
            self.dynamic.pause,
        );
    }

    /// Seconds left on the leader lease we hold, as etcd confirmed it: from the later of this
    /// loop's last renewal ([`Driver::confirmed_until`]) and the keeper's
    /// ([`super::lease::LeaseKeep::renewed_until`]); `None` when not leading. A failsafe
    /// extension of `leader_until` does not count: etcd never saw it.
    fn lease_left(&self) -> Option<f64> {
        self.leader_until?;
        let until = self.confirmed_until?;
        let until = self.keep.renewed_until().map_or(until, |r| until.max(r));
        Some(
            until
                .saturating_duration_since(Instant::now())
                .as_secs_f64(),
        )
    }

    /// [`Snapshot::lease_margin`] for the current dynamic configuration.
    fn lease_margin(&self) -> f64 {
        crate::ha::lease_margin(crate::fence::margin(self.dynamic.retry_timeout).as_secs_f64())
    }

    /// The etcd client for this cycle's reads and renewal. While a lease we hold could not be
    /// renewed, a request may not run past the moment the core must decide to demote (the lease
    /// less [`Snapshot::lease_margin`]): its budget is cut to what is left before it, so the next
    /// decision comes in time.
    fn cycle_dcs(&self) -> EtcdDcs {
        let retry = Duration::from_secs(self.dynamic.retry_timeout.max(1));
        match self.lease_left().filter(|_| self.renewal_failing) {
            Some(left) => {
                let before = Duration::from_secs_f64((left - self.lease_margin()).max(0.0));
                self.dcs
                    .with_budget(retry.min(before).max(Duration::from_millis(200)))
            }
            None => self.dcs.clone(),
        }
    }

    /// Sets the in-memory lease expiry; `None` (not leading) also stops the keeper renewing.
    fn set_leader_until(&mut self, until: Option<Instant>) {
        if until.is_none() {
            self.keep.withdraw();
            self.stop_rotation();
            self.orphaned_slots.clear();
            // Another leader may write /status meanwhile: publish ours afresh when leading again.
            self.slot_positions.clear();
            self.published_slot_positions.clear();
            self.confirmed_until = None;
        }
        self.leader_until = until;
    }

    /// One HA cycle. Returns `Some(exit)` to stop the agent.
    async fn cycle(&mut self) -> Result<Option<Exit>> {
        let (data, (pg, observed_info), mut view) = self.observe_all(false).await;
        // Whether this cycle may change the server; if not, what it observed is what it publishes
        // (one state query per idle cycle, not two).
        let mut server_touched = false;
        let sync_standbys_before = (self.pg.sync_standbys(), self.pg.quorum_standbys());
        if self.leader_until.is_some_and(|t| Instant::now() >= t) {
            self.set_leader_until(None);
        }
        // A dynamic `postgresql` section just read (parameters, pg_hba, pg_ident) reaches the
        // files and the running server in this cycle, as Patroni reloads on a /config change.
        if let Some(v) = view.as_ref() {
            if std::mem::take(&mut self.server_conf_stale) {
                self.apply_dynamic_postgresql(v).await;
                server_touched = true;
            } else if std::mem::take(&mut self.auth_files_stale) {
                self.sync_auth_files().await;
                server_touched = true;
            }
        }
        let mut snap = Snapshot {
            name: self.cfg.name.clone(),
            dcs: view.clone(),
            config: self.dynamic.clone(),
            tags: self.cfg.tags.clone(),
            data,
            pg,
            peers: vec![],
            use_pg_rewind: self.cfg.use_pg_rewind(&self.dynamic),
            remove_data_on_diverged: self.cfg.remove_data_on_diverged_timelines(&self.dynamic),
            can_bootstrap: self.cfg.bootstrap.present,
            can_clone_without_source: crate::ha::replica::can_create_without_source(
                &self.replica_method_facts(),
            ),
            renew_failed: false,
            lease_left: self.lease_left(),
            lease_margin: self.lease_margin(),
            rewind_failed: self.rewind_failed_from.as_ref().is_some_and(|f| {
                view.as_ref()
                    .and_then(|v| v.leader.as_ref())
                    .is_some_and(|l| l.name == *f)
            }),
            acquire_failed: false,
            now: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
            failsafe_ok: false,
            failsafe_leader: None,
            watchdog_ok: crate::watchdog::usable(&self.cfg.watchdog),
            pre_promote_failed_at: self.pre_promote_failed_at,
        };
        if self.dynamic.failsafe_mode {
            let ttl = Duration::from_secs(self.dynamic.ttl);
            snap.failsafe_leader = self
                .shared
                .failsafe_ping
                .lock()
                .expect("not poisoned")
                .as_ref()
                .filter(|(_, at)| at.elapsed() < ttl)
                .map(|(n, _)| n.clone());
            if view.is_none() && snap.pg.is_primary() {
                let t0 = Instant::now();
                snap.failsafe_ok = self.failsafe_check().await;
                self.failsafe_checked_at = snap.failsafe_ok.then_some(t0);
            }
        }
        if let Some(v) = &view {
            if v.member(&self.cfg.name).is_none() {
                // Announce ourselves before any long action, so the leader creates our slot.
                let (pg, info) = (snap.pg.clone(), ServerInfo::default());
                if let Err(e) = self.touch_member(&pg, &info).await {
                    tracing::warn!("publishing the member key: {e:#}");
                }
            }
            if self.wants_peers(&snap, v) {
                snap.peers = self.poll_peers(v).await;
            }
        }
        let mut exit = None;
        for _round in 0..4 {
            let decision = decide(&snap);
            let prefix = if self.dynamic.pause { "PAUSE: " } else { "" };
            let reason = decision
                .reason
                .strip_prefix("PAUSE: ")
                .unwrap_or(&decision.reason);
            tracing::info!("{prefix}{reason}");
            server_touched |= decision.actions.iter().any(Action::changes_server);
            match self.execute(&decision, &mut snap).await {
                Ok(Next::Done) => break,
                Ok(Next::Redecide) => {
                    server_touched = true;
                    view = snap.dcs.clone();
                    continue;
                }
                Ok(Next::Exit(e)) => {
                    exit = Some(e);
                    break;
                }
                Err(e) => {
                    tracing::error!("carrying out '{}': {e:#}", decision.reason);
                    break;
                }
            }
        }
        // Still leading on a lease this cycle could not renew: try again soon, not a loop_wait
        // later (the lease keeper retries too).
        self.renewal_failing =
            (snap.renew_failed || snap.dcs.is_none()) && self.leader_until.is_some();
        if exit.is_none() && view.is_some() && !self.dynamic.pause {
            server_touched |= self
                .shared
                .scheduled_restart
                .lock()
                .expect("not poisoned")
                .is_some();
            self.maybe_scheduled_restart(snap.now).await;
        }
        if exit.is_none() {
            self.citus_reconcile().await;
        }
        if self.leader_until.is_none() || self.dynamic.pause {
            self.watchdog.disable();
            self.keep.disarm();
        }
        self.keep.check_guard();
        // Publish.
        server_touched |=
            (self.pg.sync_standbys(), self.pg.quorum_standbys()) != sync_standbys_before;
        server_touched |= std::mem::take(&mut self.slots_restarted);
        let (data, pg, info) = if server_touched {
            let data = self.pg.data_dir_state().await;
            let (pg, info) = self.observe_pg().await;
            (data, pg, info)
        } else {
            (snap.data.clone(), snap.pg.clone(), observed_info)
        };
        // A standby cluster's leader publishes `standby_leader` (Patroni).
        let standby_leader = self.dynamic.is_standby_cluster() && self.leader_until.is_some();
        self.role = crate::ha::publish::published_role(&data, &pg, standby_leader);
        let fenced =
            !pg.running && crate::fence::marker_path(&self.cfg.postgresql.data_dir).exists();
        self.state = crate::ha::publish::published_state(&pg, fenced, self.state);
        if let (Some(_), None) = (&view, &exit) {
            if let Err(e) = self.touch_member(&pg, &info).await {
                tracing::warn!("publishing the member key: {e:#}");
            }
        }
        let failsafe_until = if view.is_none() && snap.failsafe_ok {
            self.leader_until
        } else {
            None
        };
        let mut st = self.shared.status.write().await;
        st.role = self.role;
        st.state = self.state;
        st.pg = pg;
        st.info = info;
        st.dcs_failed = view.is_none();
        if view.is_some() {
            st.view = view;
            st.dcs_last_seen = Some(epoch());
        }
        st.dynamic = self.dynamic.clone();
        st.leader_until = self.leader_until;
        st.sysid = match &data {
            DataDir::Present { sysid, .. } => Some(sysid.clone()),
            _ => None,
        };
        st.last_cycle = Instant::now();
        st.fence = self.keep.guard_status();
        st.failsafe_until = failsafe_until;
        Ok(exit)
    }
}

/// What the cycle does after executing a decision.
enum Next {
    Done,
    Redecide,
    Exit(Exit),
}

/// Aborts a background task when dropped (the HA loop returned).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Logs (at debug level) how long an action took, when dropped.
struct ActionTimer<'a>(&'a Action, Instant);

impl Drop for ActionTimer<'_> {
    fn drop(&mut self) {
        tracing::debug!("{:?} took {} ms", self.0, self.1.elapsed().as_millis());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scheduled_restart_reads_back_from_the_member_key() {
        let r = ScheduledRestart {
            at: 0.0,
            schedule: "2026-12-06T12:00:00+00:00".into(),
            role: Some(Role::Replica),
            postgres_version: Some(150000),
            restart_pending: true,
            postmaster_start_time: Some("2026-12-06 10:00:00+00".into()),
        };
        let published = r.to_json();
        let back = ScheduledRestart::from_member_json(&published).unwrap();
        assert_eq!(back.schedule, r.schedule);
        assert_eq!(back.at, 1796558400.0);
        assert_eq!(back.role, Some(Role::Replica));
        assert_eq!(back.postgres_version, Some(150000));
        assert!(back.restart_pending);
        assert_eq!(back.postmaster_start_time, r.postmaster_start_time);
        for bad in [
            serde_json::json!({}),
            serde_json::json!({"schedule": "tomorrow"}),
            serde_json::json!({"schedule": "2026-12-06T12:00:00+00:00", "role": "witness"}),
        ] {
            assert!(ScheduledRestart::from_member_json(&bad).is_none(), "{bad}");
        }
    }
}
