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
use crate::dcs::{keys, ClusterView, HistoryEntry, MemberData};
use crate::ha::{decide, Action, DataDir, Decision, DemoteMode, PeerStatus, PgState, Snapshot};
use crate::postgres::{LocalPostgres, ServerInfo, StopMode, Upstream};
use crate::types::{slot_name_for, MemberState, Role};

/// The Patroni version praetor announces in member keys and `/patroni`, so Patroni peers and tools
/// treat its fields as 4.x ones (reference §1.3).
pub const PATRONI_COMPAT_VERSION: &str = "4.1.5";

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
    /// When the last cycle finished.
    pub last_cycle: Instant,
    /// The fence guard: pid, armed, times restarted (None when it could not be started).
    pub fence: Option<(u32, bool, u32)>,
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
    Reinitialize(tokio::sync::oneshot::Sender<Result<(), String>>),
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
    /// Only if this member then has this role (`primary` or `replica`).
    pub role: Option<String>,
    /// Only if the server's version is lower than this (`server_version_num` form).
    pub postgres_version: Option<i64>,
    /// Only if a restart is pending.
    pub restart_pending: bool,
}

impl ScheduledRestart {
    /// The member key / REST form: `{schedule, role?, postgres_version?, restart_pending?}`.
    pub fn to_json(&self) -> Json {
        let mut v = serde_json::json!({"schedule": self.schedule});
        if let Some(r) = &self.role {
            v["role"] = Json::String(r.clone());
        }
        if let Some(pv) = self.postgres_version {
            v["postgres_version"] = Json::from(pv);
        }
        if self.restart_pending {
            v["restart_pending"] = Json::Bool(true);
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

/// How a failed pg_rewind is told apart from the other failures of a rewind plan.
const REWIND_FAILED: &str = "pg_rewind failed";

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
    /// When the leader lease ends by the last renewal etcd confirmed to this loop (counted from
    /// before the request, with the ttl it was renewed for); `leader_until` may run further on
    /// a failsafe extension, this never does.
    confirmed_until: Option<Instant>,
    /// Slots without a member, kept for `member_slots_ttl`: when each was first seen so
    /// (seconds since [`Driver::epoch`]).
    orphaned_slots: BTreeMap<String, f64>,
    /// `/sync` members without a member key: when each was first seen so (seconds since
    /// [`Driver::epoch`]); see [`crate::ha::sync::lapsed_sync_members`].
    sync_key_gone: BTreeMap<String, f64>,
    /// The agent's monotonic clock origin.
    epoch: Instant,
    /// A synchronous standby about to stop or restart asks the primary to release it: the member
    /// key carries `nosync: true` and `sync_priority: 0` while this is set.
    sync_release: bool,
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
                last_cycle: Instant::now(),
                fence: None,
            }),
            wake: Arc::new(Notify::new()),
            dcs: dcs.clone(),
            commands,
            scheduled_restart: std::sync::Mutex::new(None),
            http: std::sync::RwLock::new(http.clone()),
            rest_tls: std::sync::RwLock::new(rest_tls),
            failsafe_ping: std::sync::Mutex::new(None),
            citus: cfg.citus.as_ref().filter(|c| c.group == 0).map(|c| {
                crate::citus::handler::CitusHandler::start(pg.clone(), c.database.clone())
            }),
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
                failsafe_checked_at: None,
                confirmed_until: None,
                orphaned_slots: BTreeMap::new(),
                sync_key_gone: BTreeMap::new(),
                epoch: Instant::now(),
                sync_release: false,
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

    /// Graceful stop (SIGTERM): carries out [`crate::ha::shutdown::plan_shutdown`]'s steps in order; a
    /// failing step ends the list, so the leader key is never released, nor the fence guard
    /// disarmed, while PostgreSQL runs.
    ///
    /// # Errors
    /// PostgreSQL did not stop (the agent then exits with status 1, leaving the guard armed).
    async fn shutdown(&mut self) -> Result<(), String> {
        use crate::ha::shutdown::{plan_shutdown, ShutdownFacts, ShutdownStep};
        let leading = self.leader_until.is_some();
        let facts = ShutdownFacts {
            paused: self.dynamic.pause,
            leading,
            pg_running: self.pg.postmaster_pid().is_some(),
            citus_worker: self.cfg.is_citus_worker(),
            sync_standby: !leading && self.listed_as_sync_standby().await,
        };
        let plan = plan_shutdown(facts);
        tracing::info!("shutting down: {plan}");
        let role = if leading { "primary" } else { "replica" };
        for step in plan.steps {
            match step {
                ShutdownStep::Disarm => {
                    self.watchdog.disable();
                    self.keep.shutdown();
                }
                ShutdownStep::AskSyncRelease => self.ask_sync_release().await,
                ShutdownStep::NotifyCoordinatorBeforeDemote => {
                    self.notify_coordinator("before_demote", Duration::from_secs(self.dynamic.ttl))
                        .await;
                }
                ShutdownStep::ReportStopping => {
                    let mut st = self.shared.status.write().await;
                    st.state = MemberState::Stopping;
                    if st.role == Role::Primary {
                        st.role = Role::Demoted;
                    }
                }
                ShutdownStep::StopPostgresFast => {
                    let kill_after = self.kill_after(leading);
                    if let Err(e) = self.pg.stop_or_kill(StopMode::Fast, kill_after).await {
                        let msg = format!(
                            "shutting down: stopping PostgreSQL: {e:#}; the leader key, if held, is kept and the fence guard stays armed"
                        );
                        tracing::error!("{msg}");
                        return Err(msg);
                    }
                    self.shared.status.write().await.state = MemberState::Stopped;
                    tracing::info!("shutting down: PostgreSQL stopped");
                    self.callback("on_stop", role);
                }
                ShutdownStep::ReleaseLeader { with_checkpoint } => {
                    let optime = if with_checkpoint {
                        match self.pg.data_dir_state().await {
                            DataDir::Present {
                                state,
                                checkpoint_lsn,
                                ..
                            } if state == "shut down" => Some(checkpoint_lsn),
                            other => {
                                tracing::warn!(
                                    "shutting down: no clean shutdown checkpoint to publish ({other:?})"
                                );
                                None
                            }
                        }
                    } else {
                        None
                    };
                    self.set_leader_until(None);
                    match self.dcs.release_leader(optime).await {
                        Ok(true) => tracing::info!(
                            "shutting down: released the leader key{}",
                            optime
                                .map(|l| format!(
                                    " (shutdown checkpoint at {})",
                                    crate::types::Lsn(l)
                                ))
                                .unwrap_or_default()
                        ),
                        Ok(false) => {
                            tracing::info!("shutting down: the leader key no longer held our name")
                        }
                        Err(e) => {
                            tracing::warn!("shutting down: releasing the leader key: {e:#}");
                            return Ok(());
                        }
                    }
                }
                ShutdownStep::RevokeLease => {
                    if let Err(e) = self.dcs.revoke_lease().await {
                        tracing::warn!("shutting down: revoking the lease: {e:#}");
                    }
                }
            }
        }
        Ok(())
    }

    /// Synchronous mode is on and `/sync` lists this member (read now, from the watch-fed copy
    /// when it is current; the last cycle's view if etcd cannot be read).
    async fn listed_as_sync_standby(&self) -> bool {
        if !self.dynamic.synchronous() {
            return false;
        }
        let listed = |v: &ClusterView| v.lists_sync_standby(&self.cfg.name);
        match self.dcs.load().await {
            Ok(v) => listed(&v),
            Err(_) => self
                .shared
                .status
                .read()
                .await
                .view
                .as_ref()
                .is_some_and(listed),
        }
    }

    /// A synchronous standby about to stop: publishes `nosync` in its member key (the primary's
    /// watch wakes it, and its sync planner drops members tagged so) and waits up to
    /// 2 × loop_wait seconds for `/sync` to stop listing it, as Patroni does. Commits on the
    /// primary then do not wait for a standby that is going away. On time-out it only logs.
    async fn ask_sync_release(&mut self) {
        self.sync_release = true;
        let (pg, info) = self.observe_pg().await;
        if let Err(e) = self.touch_member(&pg, &info).await {
            tracing::warn!("asking the primary to release this synchronous standby: {e:#}");
            return;
        }
        let me = self.cfg.name.clone();
        let wait = Duration::from_secs(2 * self.dynamic.loop_wait.max(1));
        let released = tokio::time::timeout(wait, async {
            loop {
                match self.dcs.load().await {
                    Ok(v) if !v.lists_sync_standby(&me) => {
                        return;
                    }
                    _ => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        })
        .await;
        match released {
            Ok(()) => tracing::info!("released from synchronous duty by the primary"),
            Err(_) => tracing::warn!(
                "the primary did not release this synchronous standby within {wait:?}; going on"
            ),
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

    /// Creates the members' slots and drops those of members gone for `member_slots_ttl`, as
    /// [`crate::ha::slots::plan_slots`] plans.
    async fn sync_slots(&mut self, wanted: &[String]) -> Result<()> {
        let existing = self.pg.physical_slots().await?;
        let now = self.epoch.elapsed().as_secs_f64();
        let (plan, since) = crate::ha::slots::plan_slots(
            wanted,
            &existing,
            &self.orphaned_slots,
            now,
            self.dynamic.member_slots_ttl,
        );
        for n in plan
            .retained
            .iter()
            .filter(|n| !self.orphaned_slots.contains_key(*n))
        {
            tracing::info!(
                "keeping physical replication slot {n}: its member's key is gone, kept for \
                 member_slots_ttl ({} s)",
                self.dynamic.member_slots_ttl
            );
        }
        self.orphaned_slots = since;
        self.pg.apply_slots(&plan.create, &plan.drop).await
    }

    /// Carries out one step of a promotion ([`crate::ha::transition::plan_promote`]).
    async fn promote_step(
        &mut self,
        step: crate::ha::transition::PromoteStep,
        view: &ClusterView,
        me: &str,
    ) -> Result<()> {
        use crate::ha::transition::PromoteStep::*;
        match step {
            ClaimSyncKey => {
                let value = serde_json::json!({"leader": me, "sync_standby": null}).to_string();
                if !self
                    .dcs
                    .put_if_revision(keys::SYNC, &value, view.sync_revision)
                    .await
                    .unwrap_or(false)
                {
                    anyhow::bail!(
                        "Postponing promotion because synchronous replication state was updated by somebody else"
                    );
                }
            }
            ClearSyncStandbys => self.pg.set_sync_standbys(vec![], 1),
            ArmWatchdog => self
                .watchdog
                .activate(self.dynamic.ttl)
                .map_err(|e| anyhow!("refusing to promote: watchdog: {e}"))?,
            NotifyCoordinatorBeforePromote => {
                self.notify_coordinator("before_promote", Duration::from_secs(2))
                    .await
            }
            PgPromote => self.pg.promote().await?,
            Checkpoint => self.pg.checkpoint().await,
            RecordHistory => self.record_history(me).await,
            PublishMemberKey => {
                let (pg, info) = self.observe_pg().await;
                self.role = Role::Primary;
                self.state = MemberState::Running;
                let _ = self.touch_member(&pg, &info).await;
            }
            NotifyCoordinatorAfterPromote => {
                self.notify_coordinator("after_promote", Duration::from_secs(2))
                    .await
            }
            CallbackRoleChange => self.callback("on_role_change", "primary"),
        }
        Ok(())
    }

    /// Carries out one step of a demotion ([`crate::ha::transition::plan_demote`]).
    async fn demote_step(&mut self, step: crate::ha::transition::DemoteStep) -> Result<()> {
        use crate::ha::transition::DemoteStep::*;
        match step {
            DisarmWatchdog => self.watchdog.disable(),
            Checkpoint => self.pg.checkpoint().await,
            NotifyCoordinatorBeforeDemote => {
                // The coordinator holds writes to this group before we stop.
                self.notify_coordinator("before_demote", Duration::from_secs(self.dynamic.ttl))
                    .await
            }
            StopFast => {
                self.pg
                    .stop_or_kill(StopMode::Fast, self.kill_after(true))
                    .await?
            }
            StopImmediate => self.pg.stop(StopMode::Immediate).await?,
            WithdrawLease => self.set_leader_until(None),
            ReleaseLeaderKey => {
                self.dcs.release_leader(None).await?;
            }
            StartReadOnly => self.start(None, true).await?,
        }
        Ok(())
    }

    /// Carries out rewind steps ([`crate::ha::rewind`]) from `up`, in order; the first that fails
    /// ends them. A failed pg_rewind is reported as an error starting with [`REWIND_FAILED`].
    async fn rewind_steps(
        &mut self,
        steps: &[crate::ha::rewind::RewindStep],
        up: &Upstream,
    ) -> Result<()> {
        use crate::ha::rewind::RewindStep::*;
        for step in steps {
            match step {
                CheckpointSource => {
                    if !self.remote_checkpoint(up).await {
                        anyhow::bail!(
                            "cannot rewind from {}: it does not accept connections; retrying next cycle",
                            up.name
                        );
                    }
                }
                StopFast => self.pg.stop(StopMode::Fast).await?,
                WriteConfigForRewind => self.pg.write_config(&self.dynamic, None, false)?,
                RunRewind => match self.pg.rewind(up).await {
                    Ok(()) => tracing::info!("pg_rewind from {} succeeded", up.name),
                    Err(e) => anyhow::bail!("{REWIND_FAILED} from {}: {e:#}", up.name),
                },
                RemoveDataDir => self.pg.remove_data_dir()?,
                Basebackup => {
                    self.state = MemberState::CreatingReplica;
                    self.pg.basebackup(up).await?;
                }
                StartStandby => self.start(Some(up), true).await?,
            }
        }
        Ok(())
    }

    /// [`Snapshot::lease_margin`] for the current dynamic configuration.
    fn lease_margin(&self) -> f64 {
        crate::ha::lease_margin(
            crate::fence::margin(self.dynamic.retry_timeout).as_secs_f64(),
            self.dynamic.retry_timeout,
        )
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
            self.orphaned_slots.clear();
            self.confirmed_until = None;
        }
        self.leader_until = until;
    }

    /// Runs the `postgresql.callbacks.<action>` script, if configured, as Patroni does:
    /// `<script> <action> <role> <scope>`, in the background (never holds up the HA loop).
    fn callback(&self, action: &str, role: &str) {
        let Some(cmd) = self
            .cfg
            .postgresql
            .other
            .get("callbacks")
            .and_then(|c| c.get(action))
            .and_then(Json::as_str)
            .map(String::from)
        else {
            return;
        };
        let (action, role, scope) = (action.to_string(), role.to_string(), self.cfg.scope.clone());
        tokio::spawn(async move {
            let r = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(format!("{cmd} \"$@\""))
                .arg("sh")
                .args([&action, &role, &scope])
                .stdin(std::process::Stdio::null())
                .status()
                .await;
            match r {
                Ok(st) if st.success() => tracing::info!("callback {action} {role}: done"),
                Ok(st) => tracing::warn!("callback {action} {role}: {cmd} exited with {st}"),
                Err(e) => tracing::warn!("callback {action} {role}: running {cmd}: {e}"),
            }
        });
    }

    /// Failsafe mode with etcd unreachable: `POST /failsafe` to every other member of the last
    /// published `/failsafe` (2 s each, in parallel). True only when all of them answer 200.
    async fn failsafe_check(&self) -> bool {
        let members = {
            let st = self.shared.status.read().await;
            st.view.as_ref().and_then(|v| v.failsafe.clone())
        };
        let Some(members) = members else { return false };
        let body = serde_json::json!({
            "name": self.cfg.name,
            "conn_url": format!("postgres://{}/postgres", self.cfg.postgresql.connect_address),
            "api_url": self.api_url(),
            "slots": {},
        });
        let calls = members
            .iter()
            .filter(|(n, _)| **n != self.cfg.name)
            .map(|(n, url)| {
                let url = format!("{}/failsafe", url.trim_end_matches("/patroni"));
                let mut req = self.http.post(url).json(&body);
                if let Some(a) = &self.cfg.restapi.authentication {
                    req = req.basic_auth(&a.username, Some(&a.password));
                }
                let n = n.clone();
                async move {
                    let ok = matches!(req.send().await, Ok(r) if r.status().is_success());
                    if !ok {
                        tracing::warn!("failsafe: {n} did not accept our failsafe call");
                    }
                    ok
                }
            });
        futures::future::join_all(calls)
            .await
            .into_iter()
            .all(|ok| ok)
    }

    /// The leader publishes `/failsafe` (every member's api_url) while failsafe mode is on, and
    /// removes it when failsafe mode is turned off.
    async fn publish_failsafe(&self, view: &ClusterView) {
        if self.dynamic.failsafe_mode {
            let mut want: std::collections::BTreeMap<String, String> = view
                .members
                .iter()
                .map(|m| (m.name.clone(), m.data.api_url.clone()))
                .collect();
            want.insert(self.cfg.name.clone(), self.api_url());
            if view.failsafe.as_ref() != Some(&want) {
                let value = serde_json::to_string(&want).unwrap_or_default();
                if let Err(e) = self.dcs.put(keys::FAILSAFE, &value).await {
                    tracing::warn!("failsafe: publishing the member list: {e:#}");
                }
            }
        } else if view.failsafe.is_some() {
            let _ = self.dcs.delete(keys::FAILSAFE).await;
        }
    }

    /// The primary's synchronous replication step: plan with [`crate::ha::sync::plan_sync`], then
    /// write `/sync` before changing `synchronous_standby_names` (the plan is built so that this
    /// order keeps every `/sync` member in the GUC). `primary_lsn` (bytes) is the position observed at
    /// the start of this cycle; it only orders the candidates by lag.
    async fn sync_replication(
        &mut self,
        view: &ClusterView,
        me: &str,
        primary_lsn: u64,
    ) -> Result<()> {
        if !self.dynamic.synchronous()
            && self.pg.sync_standbys().is_empty()
            && view
                .sync
                .as_ref()
                .is_none_or(|s| s.leader.as_deref() != Some(me))
        {
            return Ok(());
        }
        let rows = self.pg.replication_rows().await?;
        let listed = view.sync.as_ref().map(|s| s.members()).unwrap_or_default();
        let (lapsed, since) = crate::ha::sync::lapsed_sync_members(
            &listed,
            &|n| view.member(n).is_some(),
            &self.sync_key_gone,
            self.epoch.elapsed().as_secs_f64(),
            2.0 * self.dynamic.ttl as f64,
        );
        self.sync_key_gone = since;
        let tags = |name: &str| {
            view.member(name).map(|m| m.tags()).or_else(|| {
                lapsed
                    .iter()
                    .any(|l| l == name)
                    .then(crate::config::Tags::default)
            })
        };
        let key = view
            .sync
            .as_ref()
            .and_then(|s| s.leader.as_deref().map(|l| (l, s.members())));
        let plan = crate::ha::sync::plan_sync(
            me,
            &self.dynamic,
            key,
            &self.pg.sync_standbys(),
            &rows,
            &tags,
            primary_lsn,
        );
        if plan.delete_sync_key {
            self.dcs.delete(keys::SYNC).await?;
            tracing::info!("synchronous mode is off: removed the sync key");
        }
        if let Some(members) = &plan.sync_key {
            let standby = if members.is_empty() {
                Json::Null
            } else {
                Json::String(members.join(","))
            };
            let value = serde_json::json!({"leader": me, "sync_standby": standby}).to_string();
            if !self
                .dcs
                .put_if_revision(keys::SYNC, &value, view.sync_revision)
                .await?
            {
                anyhow::bail!("the sync key changed concurrently; retrying next cycle");
            }
            tracing::info!(
                "synchronous standbys in /sync: {}",
                if members.is_empty() {
                    "none".to_string()
                } else {
                    members.join(", ")
                }
            );
        }
        if let Some(names) = plan.guc {
            self.pg
                .set_sync_standbys(names.clone(), self.dynamic.synchronous_node_count as usize);
            self.pg.write_config(&self.dynamic, None, false)?;
            let c = self.pg.connect().await?;
            c.batch_execute("SELECT pg_reload_conf()").await?;
            tracing::info!(
                "synchronous_standby_names: {}",
                crate::postgres::guc_value(&names, self.dynamic.synchronous_node_count as usize)
            );
        }
        Ok(())
    }

    /// On the coordinator leader: queue a reconciliation of pg_dist_node from every group's etcd
    /// state. When it stops being the leader, the handler rolls back and drops its connection.
    async fn citus_reconcile(&mut self) {
        let Some(handler) = self.shared.citus.clone() else {
            return;
        };
        let leading = self.leader_until.is_some() && self.pg.postmaster_pid().is_some();
        if !leading {
            if self.citus_active {
                handler.send(crate::citus::handler::CitusMsg::Reset).await;
                self.citus_active = false;
            }
            return;
        }
        match self.dcs.load_groups(&self.cfg.scope_prefix()).await {
            Ok(groups) => {
                self.citus_active = true;
                let desired = crate::citus::handler::desired_groups(&groups);
                handler
                    .send(crate::citus::handler::CitusMsg::Sync(desired))
                    .await;
            }
            Err(e) => tracing::warn!("citus: reading the groups from etcd: {e:#}"),
        }
    }

    /// On a worker: tells the coordinator leader about a switchover step (`POST /citus`, reference
    /// §3.5) and waits for its answer up to `wait`. Failures are logged, never fatal.
    async fn notify_coordinator(&self, kind: &str, wait: Duration) {
        let Some(c) = self.cfg.citus.as_ref().filter(|c| c.group != 0) else {
            return;
        };
        let coord = match self
            .dcs
            .load_prefix(&format!("{}0/", self.cfg.scope_prefix()))
            .await
        {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("citus: reading the coordinator group for {kind}: {e:#}");
                return;
            }
        };
        let Some(leader) = coord.leader_member() else {
            tracing::warn!("citus: the coordinator group has no leader; {kind} not sent");
            return;
        };
        let url = format!("{}/citus", leader.data.api_url.trim_end_matches("/patroni"));
        let body = serde_json::json!({
            "type": kind,
            "group": c.group,
            "leader": self.cfg.name,
            "timeout": self.dynamic.ttl,
            "cooldown": self.dynamic.retry_timeout,
        });
        let mut req = self.http.post(&url).timeout(wait).json(&body);
        if let Some(a) = &self.cfg.restapi.authentication {
            req = req.basic_auth(&a.username, Some(&a.password));
        }
        let t0 = Instant::now();
        match req.send().await {
            Ok(r) if r.status().is_success() => tracing::info!(
                "citus: {kind} acknowledged by the coordinator in {:?}",
                t0.elapsed()
            ),
            Ok(r) => tracing::warn!("citus: {kind}: the coordinator answered {}", r.status()),
            Err(e) => tracing::warn!("citus: sending {kind} to the coordinator: {e}"),
        }
    }

    async fn handle_command(&mut self, cmd: Command) {
        match cmd {
            Command::Restart(reply) => {
                let r = self.restart().await.map_err(|e| format!("{e:#}"));
                let _ = reply.send(r);
            }
            Command::Reinitialize(reply) => {
                let r = self.reinitialize().await.map_err(|e| format!("{e:#}"));
                let _ = reply.send(r);
            }
            Command::Reload(reply) => {
                let r = self.reload().await.map_err(|e| format!("{e:#}"));
                let _ = reply.send(r);
            }
        }
        self.shared.wake.notify_one();
    }

    /// How long a fast stop may run before PostgreSQL is killed: Patroni's `primary_stop_timeout`
    /// ([`crate::ha::shutdown::stop_kill_after`]).
    fn kill_after(&self, primary: bool) -> Option<Duration> {
        crate::ha::shutdown::stop_kill_after(
            primary,
            self.dynamic.synchronous(),
            self.dynamic.primary_stop_timeout,
        )
    }

    /// The member this standby should stream from, per the last DCS view.
    async fn current_upstream(&self) -> Option<Upstream> {
        let st = self.shared.status.read().await;
        let view = st.view.as_ref()?;
        let leader = view.leader.as_ref()?.name.clone();
        if leader == self.cfg.name {
            return None;
        }
        self.upstream(view, &leader).ok()
    }

    /// Restarts PostgreSQL in its current role (POST /restart): carries out
    /// [`crate::ha::shutdown::plan_restart`]'s steps in order. A leader keeps its lock: the restart
    /// waits at most a third of ttl for the server to accept connections.
    ///
    /// # Errors
    /// PostgreSQL did not stop, did not start, or did not accept connections in time. A
    /// synchronous standby's release request is withdrawn either way.
    async fn restart(&mut self) -> Result<()> {
        use crate::ha::shutdown::{plan_restart, RestartFacts};
        let leading = self.leader_until.is_some();
        let facts = RestartFacts {
            leading,
            citus_worker: self.cfg.is_citus_worker(),
            sync_standby: !leading && self.listed_as_sync_standby().await,
        };
        let plan = plan_restart(facts);
        tracing::info!("restarting PostgreSQL (requested through the REST API): {plan}");
        let done = self.restart_steps(&plan.steps, leading).await;
        self.sync_release = false;
        done
    }

    async fn restart_steps(
        &mut self,
        steps: &[crate::ha::shutdown::RestartStep],
        leading: bool,
    ) -> Result<()> {
        use crate::ha::shutdown::RestartStep;
        let up = if leading {
            None
        } else {
            self.current_upstream().await
        };
        for step in steps {
            match step {
                RestartStep::AskSyncRelease => self.ask_sync_release().await,
                RestartStep::NotifyCoordinatorBeforeDemote => {
                    self.notify_coordinator("before_demote", Duration::from_secs(self.dynamic.ttl))
                        .await;
                }
                RestartStep::StopPostgresFast => {
                    self.state = MemberState::Restarting;
                    self.pg.stop(StopMode::Fast).await?;
                }
                RestartStep::WithdrawSyncRelease => self.sync_release = false,
                RestartStep::StartPostgres => {
                    self.pg.write_config(&self.dynamic, up.as_ref(), !leading)?;
                    let wait = Duration::from_secs((self.dynamic.ttl / 3).max(2));
                    let ready = self.pg.start(wait).await?;
                    self.state = if ready {
                        MemberState::Running
                    } else {
                        MemberState::Starting
                    };
                    if !ready {
                        anyhow::bail!(
                            "PostgreSQL did not accept connections within {wait:?} after the restart"
                        );
                    }
                }
                RestartStep::NotifyCoordinatorAfterPromote => {
                    self.notify_coordinator("after_promote", Duration::from_secs(2))
                        .await;
                }
            }
        }
        self.callback("on_restart", if leading { "primary" } else { "replica" });
        Ok(())
    }

    /// Replaces the data directory with a fresh basebackup from the leader (POST /reinitialize).
    async fn reinitialize(&mut self) -> Result<()> {
        if self.leader_until.is_some() {
            anyhow::bail!("I am the leader, can not reinitialize");
        }
        let view = self.dcs.load().await?;
        let Some(l) = view.leader.as_ref() else {
            anyhow::bail!("Cluster has no leader, can not reinitialize");
        };
        let up = self.upstream(&view, &l.name)?;
        self.rewind_failed_from = None;
        tracing::info!("reinitializing: fresh basebackup from {}", up.name);
        self.pg.stop(StopMode::Immediate).await?;
        self.pg.remove_data_dir()?;
        self.state = MemberState::CreatingReplica;
        self.pg.basebackup(&up).await?;
        self.start(Some(&up), true).await
    }

    /// Rewrites postgresql.conf from the current configuration and reloads PostgreSQL (POST /reload).
    async fn reload(&mut self) -> Result<()> {
        self.reload_config_file()?;
        if self.pg.postmaster_pid().is_none() {
            return Ok(());
        }
        let leader = self.leader_until.is_some();
        let up = if leader {
            None
        } else {
            self.current_upstream().await
        };
        let standby = self.pg.data_dir.join("standby.signal").exists();
        self.pg.write_config(&self.dynamic, up.as_ref(), standby)?;
        let c = self.pg.connect().await?;
        c.batch_execute("SELECT pg_reload_conf()").await?;
        tracing::info!("reloaded PostgreSQL configuration");
        self.callback("on_reload", if leader { "primary" } else { "replica" });
        Ok(())
    }

    /// Reads the configuration file again and applies it (Patroni's reload): tags,
    /// `restapi.authentication` / `allowlist*`, the REST API's certificate files (re-read, so a
    /// renewed certificate is served to new connections), and everything under `postgresql`
    /// except where the server lives (written to the server by the caller). Settings that
    /// identify the member or where it connects are kept and logged as needing a restart.
    ///
    /// # Errors
    /// The file no longer loads, or its new certificate files cannot be used; nothing is applied.
    fn reload_config_file(&mut self) -> Result<()> {
        let path = (self.cfg.source != "PATRONI_CONFIGURATION")
            .then(|| std::path::PathBuf::from(&self.cfg.source));
        let new = Config::load(path.as_deref(), &crate::config::process_env()).map_err(|e| {
            anyhow!("the configuration no longer loads ({e}); keeping the running one")
        })?;
        let (new, kept) = reloadable(&self.cfg, new);
        let tls = match (&new.restapi.certfile, self.shared.rest_tls()) {
            (Some(certfile), Some(_)) => Some(crate::tls::server_config(&crate::tls::ServerTls {
                certfile: certfile.clone(),
                keyfile: new.restapi.keyfile.clone(),
                cafile: new.restapi.cafile.clone(),
                verify_client: new.restapi.verify_client,
            })?),
            _ => None,
        };
        let http = crate::tls::http_client(&new.http_client_tls(), Duration::from_secs(2))?;
        for k in kept {
            tracing::warn!(
                "reload: {k} changed in the file; it takes effect when praetor restarts"
            );
        }
        if new.tags != self.cfg.tags {
            tracing::info!("reload: new tags {:?}", new.tags);
        }
        let new = Arc::new(new);
        self.cfg = new.clone();
        self.pg.set_config(new.clone());
        *self.shared.cfg.write().expect("not poisoned") = new;
        if let Some(tls) = tls {
            *self.shared.rest_tls.write().expect("not poisoned") = Some(tls);
        }
        *self.shared.http.write().expect("not poisoned") = http.clone();
        self.http = http;
        if let Err(e) = self.pg.write_pgpass() {
            tracing::warn!("reload: writing the pgpass file: {e:#}");
        }
        Ok(())
    }

    /// Runs a scheduled restart whose time has come, if its filters match.
    async fn maybe_scheduled_restart(&mut self, now: f64) {
        let due = {
            let guard = self.shared.scheduled_restart.lock().expect("not poisoned");
            guard.as_ref().filter(|r| r.at <= now).cloned()
        };
        let Some(r) = due else { return };
        *self.shared.scheduled_restart.lock().expect("not poisoned") = None;
        let role = if self.leader_until.is_some() {
            "primary"
        } else {
            "replica"
        };
        let (version, pending) = {
            let st = self.shared.status.read().await;
            (st.info.server_version, st.info.pending_restart)
        };
        if r.role.as_deref().is_some_and(|want| want != role)
            || r.postgres_version.is_some_and(|v| version >= v)
            || (r.restart_pending && !pending)
        {
            tracing::info!(
                "scheduled restart at {} skipped: its conditions are not met",
                r.schedule
            );
            return;
        }
        if let Err(e) = self.restart().await {
            tracing::error!("scheduled restart: {e:#}");
        }
    }

    async fn observe_pg(&mut self) -> (PgState, ServerInfo) {
        let crashed = self.pg.check_crashed().await;
        if self.pg.postmaster_pid().is_none() {
            self.starting_since = None;
            return (
                PgState {
                    crashed,
                    starting: false,
                    start_failures: self.start_failures,
                    following: self.pg.following(),
                    ..Default::default()
                },
                ServerInfo::default(),
            );
        }
        self.pg.ensure_exit_watch();
        // Bounded: a hung server must not hold up the lease renewal that follows.
        let budget = Duration::from_secs(self.dynamic.retry_timeout.max(1));
        let state = match tokio::time::timeout(budget, self.pg.query_state()).await {
            Ok(r) => r,
            Err(_) => Err(anyhow!("no answer from PostgreSQL within {budget:?}")),
        };
        match state {
            Ok((mut s, info)) => {
                self.starting_since = None;
                s.start_failures = self.start_failures;
                if !s.in_recovery || info.receiver_status.as_deref() == Some("streaming") {
                    self.receiver_seen = None;
                    self.settle_until = None;
                } else {
                    let since = *self.receiver_seen.get_or_insert_with(Instant::now);
                    s.receiver_down_for = Some(since.elapsed().as_secs_f64());
                }
                (s, info)
            }
            Err(e) => {
                tracing::debug!("postmaster is up but not answering: {e:#}");
                let since = *self.starting_since.get_or_insert_with(Instant::now);
                (
                    PgState {
                        running: false,
                        starting: true,
                        starting_for: Some(since.elapsed().as_secs_f64()),
                        start_failures: self.start_failures,
                        following: self.pg.following(),
                        ..Default::default()
                    },
                    ServerInfo::default(),
                )
            }
        }
    }

    async fn poll_peers(&self, view: &ClusterView) -> Vec<PeerStatus> {
        let futs = view
            .members
            .iter()
            .filter(|m| m.name != self.cfg.name && !m.data.api_url.is_empty())
            .map(|m| {
                let http = self.http.clone();
                let url = m.data.api_url.clone();
                let name = m.name.clone();
                let tags = m.tags();
                async move {
                    let body: Option<Json> = match http.get(&url).send().await {
                        Ok(r) => match r.json().await {
                            Ok(b) => Some(b),
                            Err(e) => {
                                tracing::debug!("asking member {name} at {url}: {e:#}");
                                None
                            }
                        },
                        Err(e) => {
                            tracing::debug!("asking member {name} at {url}: {e:#}");
                            None
                        }
                    };
                    match body {
                        Some(b) => {
                            let xlog = &b["xlog"];
                            let lsn = xlog["location"].as_u64().unwrap_or(0).max(
                                xlog["received_location"]
                                    .as_u64()
                                    .unwrap_or(0)
                                    .max(xlog["replayed_location"].as_u64().unwrap_or(0)),
                            );
                            PeerStatus {
                                name,
                                reachable: true,
                                role: b["role"].as_str().unwrap_or("").to_string(),
                                lsn,
                                timeline: b["timeline"].as_u64().map(|t| t as u32),
                                tags: serde_json::from_value(b["tags"].clone()).unwrap_or(tags),
                            }
                        }
                        None => PeerStatus {
                            name,
                            reachable: false,
                            role: String::new(),
                            lsn: 0,
                            timeline: None,
                            tags,
                        },
                    }
                }
            });
        futures::future::join_all(futs).await
    }

    /// Takes in a DCS read: warns about bad values, adopts the dynamic configuration.
    async fn apply_view(&mut self, read: Result<ClusterView>) -> Option<ClusterView> {
        match read {
            Ok(v) => {
                for (k, problem) in &v.bad_values {
                    tracing::warn!("ignoring DCS key {}{k}: {problem}", self.dcs.prefix);
                }
                if let Some(c) = &v.config {
                    if c.ttl != self.dynamic.ttl {
                        self.dcs.forget_lease().await;
                        // The keeper would renew the new lease, which the leader key is not
                        // bound to until the next renewal re-puts it: it waits for that.
                        self.keep.withdraw();
                    }
                    self.dynamic = c.clone();
                }
                Some(v)
            }
            Err(e) => {
                tracing::warn!("reading the cluster state from etcd: {e:#}");
                None
            }
        }
    }

    /// One HA cycle. Returns `Some(exit)` to stop the agent.
    async fn cycle(&mut self) -> Result<Option<Exit>> {
        let (data, (pg, _info), mut view) = self.observe_all(false).await;
        if self.leader_until.is_some_and(|t| Instant::now() >= t) {
            self.set_leader_until(None);
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
            can_bootstrap: true,
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
            match self.execute(&decision, &mut snap).await {
                Ok(Next::Done) => break,
                Ok(Next::Redecide) => {
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
        let data = self.pg.data_dir_state().await;
        let (pg, info) = self.observe_pg().await;
        self.role = if matches!(data, DataDir::Empty) && !pg.running {
            Role::Uninitialized
        } else if pg.running && !pg.in_recovery {
            Role::Primary
        } else {
            Role::Replica
        };
        if pg.running {
            self.state = MemberState::Running;
        } else if crate::fence::marker_path(&self.cfg.postgresql.data_dir).exists() {
            self.state = MemberState::Fenced;
        } else if pg.starting {
            self.state = MemberState::Starting;
        } else if !matches!(
            self.state,
            MemberState::CreatingReplica
                | MemberState::InitializingNewCluster
                | MemberState::StartFailed
        ) {
            self.state = if pg.crashed {
                MemberState::Crashed
            } else {
                MemberState::Stopped
            };
        }
        if let (Some(_), None) = (&view, &exit) {
            if let Err(e) = self.touch_member(&pg, &info).await {
                tracing::warn!("publishing the member key: {e:#}");
            }
        }
        let mut st = self.shared.status.write().await;
        st.role = self.role;
        st.state = self.state;
        st.pg = pg;
        st.info = info;
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
        Ok(exit)
    }

    fn member_data(&self, pg: &PgState, info: &ServerInfo) -> MemberData {
        let tags = if self.sync_release {
            let mut t = self.cfg.tags.clone();
            t.nosync = true;
            t.other.insert("sync_priority".into(), Json::from(0));
            Some(t)
        } else if self.cfg.tags == Default::default() {
            None
        } else {
            Some(self.cfg.tags.clone())
        };
        let mut m = MemberData {
            conn_url: format!(
                "postgres://{}/postgres",
                self.cfg.postgresql.connect_address
            ),
            api_url: self.api_url(),
            state: self.state.as_str().to_string(),
            role: self.role.as_str().to_string(),
            version: PATRONI_COMPAT_VERSION.to_string(),
            timeline: pg.timeline,
            tags,
            pause: self.dynamic.pause.then_some(true),
            ..Default::default()
        };
        if pg.running {
            if pg.in_recovery {
                m.xlog_location = Some(pg.lsn());
                m.receive_lsn = pg.receive_lsn;
                m.replay_lsn = pg.replay_lsn;
                m.replication_state = Some(
                    if info.receiver_status.as_deref() == Some("streaming") {
                        "streaming"
                    } else {
                        "in archive recovery"
                    }
                    .into(),
                );
            } else {
                m.xlog_location = pg.wal_lsn;
            }
        }
        m.other.insert(
            "praetor_version".into(),
            Json::String(env!("CARGO_PKG_VERSION").into()),
        );
        m
    }

    async fn touch_member(&mut self, pg: &PgState, info: &ServerInfo) -> Result<()> {
        let data = self.member_data(pg, info);
        // While a lease we hold could not be renewed, this may not outlast the next decision.
        let dcs = self.cycle_dcs();
        // The leader renewed the shared lease moments ago in this cycle: no second keepalive.
        let renewed_now = self
            .lease_renewed_at
            .is_some_and(|t| t.elapsed() < Duration::from_secs(self.dynamic.loop_wait.max(1)) / 2);
        let alive = renewed_now || dcs.keepalive(self.dynamic.ttl).await?;
        let lease = dcs.ensure_lease(self.dynamic.ttl).await?;
        if alive && self.last_member.as_ref() == Some(&(data.clone(), lease)) {
            return Ok(());
        }
        dcs.touch_member(&data, self.dynamic.ttl).await?;
        self.last_member = Some((data, lease));
        // The leader publishes its WAL position for the others' lag checks.
        if self.leader_until.is_some() && pg.running && !pg.in_recovery {
            if let Some(lsn) = pg.wal_lsn {
                let _ = dcs
                    .put(
                        keys::STATUS,
                        &serde_json::json!({"optime": lsn}).to_string(),
                    )
                    .await;
            }
        }
        Ok(())
    }

    fn upstream(&self, view: &ClusterView, name: &str) -> Result<Upstream> {
        let m = view
            .member(name)
            .ok_or_else(|| anyhow!("member {name} is not in the DCS"))?;
        let (host, port) = m.host_port().ok_or_else(|| {
            anyhow!(
                "member {name} has an unusable conn_url {:?}",
                m.data.conn_url
            )
        })?;
        Ok(Upstream {
            name: name.to_string(),
            host,
            port,
        })
    }

    async fn start(&mut self, upstream: Option<&Upstream>, standby: bool) -> Result<()> {
        self.pg.write_config(&self.dynamic, upstream, standby)?;
        self.state = MemberState::Starting;
        // Never wait longer than one cycle: the loop must keep renewing the lease.
        let wait = Duration::from_secs(
            self.cfg
                .postgresql
                .pg_ctl_timeout
                .unwrap_or(60)
                .min(self.dynamic.loop_wait.max(2)),
        );
        let began = Instant::now();
        match self.pg.start(wait).await {
            Ok(ready) => {
                self.start_failures = 0;
                if standby {
                    self.settle_until = Some(Instant::now() + Duration::from_secs(10));
                }
                if !ready {
                    self.starting_since.get_or_insert(began);
                }
                if ready {
                    self.state = MemberState::Running;
                }
                let role = if standby { "replica" } else { "primary" };
                if std::mem::take(&mut self.role_change_pending) {
                    self.callback("on_role_change", role);
                } else {
                    self.callback("on_start", role);
                }
                Ok(())
            }
            Err(e) => {
                self.start_failures += 1;
                self.state = MemberState::StartFailed;
                Err(e)
            }
        }
    }

    async fn refresh(&mut self, snap: &mut Snapshot) {
        let (data, (pg, _), view) = self.observe_all(true).await;
        snap.dcs = view;
        snap.config = self.dynamic.clone();
        snap.data = data;
        snap.pg = pg;
        snap.peers.clear();
        // Decisions after a demotion or a lost race need the peers as much as the first one:
        // without them a former leader would see no healthy switchover candidate.
        if let Some(v) = snap.dcs.clone() {
            if self.wants_peers(snap, &v) {
                snap.peers = self.poll_peers(&v).await;
            }
        }
    }

    /// Whether the decision needs the other members' REST status: when there is no leader (who
    /// is healthiest?), and while a switchover is pending for its leader or without a leader
    /// (is the candidate healthy?) — even while this server is down, so a former leader
    /// restarting as a standby does not outrun the candidate.
    fn wants_peers(&self, snap: &Snapshot, v: &ClusterView) -> bool {
        let i_lead = v.leader.as_ref().is_some_and(|l| l.name == self.cfg.name);
        (snap.pg.running && v.leader.is_none())
            || (v.failover.is_some() && (v.leader.is_none() || i_lead))
    }

    /// Reads the data directory, the server's state and the DCS concurrently (the cycle's
    /// reaction time to a watch event is the slowest of them, not their sum).
    ///
    /// `fresh`: read etcd itself rather than the watch-fed copy (right after our own writes).
    async fn observe_all(
        &mut self,
        fresh: bool,
    ) -> (DataDir, (PgState, ServerInfo), Option<ClusterView>) {
        let pg = self.pg.clone();
        let dcs = self.cycle_dcs();
        let retry = dcs.budget();
        let (data, read, state) = tokio::join!(
            async move { pg.data_dir_state().await },
            read_view_retrying(&dcs, fresh, retry),
            self.observe_pg()
        );
        let view = self.apply_view(read).await;
        (data, state, view)
    }

    async fn execute(&mut self, d: &Decision, snap: &mut Snapshot) -> Result<Next> {
        let ttl = self.dynamic.ttl;
        let view = snap.dcs.clone().unwrap_or_default();
        for action in &d.actions {
            let _timer = ActionTimer(action, Instant::now());
            match action {
                Action::RenewLeader => {
                    let t0 = Instant::now();
                    let lease = view.leader.as_ref().map(|l| l.lease);
                    // Taken moments ago in this cycle (and the fresh view shows it ours): the
                    // lease was renewed with it, so go straight on to the promotion.
                    let just_taken = self
                        .acquired_at
                        .take()
                        .filter(|t| t.elapsed() < Duration::from_millis(500))
                        .filter(|_| view.leader.as_ref().is_some_and(|l| l.name == snap.name));
                    if just_taken.is_some() {
                        continue;
                    }
                    match self.cycle_dcs().update_leader(ttl, lease).await {
                        Ok(true) => {
                            self.lease_renewed_at = Some(t0);
                            self.set_leader_until(Some(t0 + Duration::from_secs(ttl)));
                            self.confirmed_until = self.leader_until;
                            self.arm_guard(t0);
                            if snap.pg.is_primary() && !self.dynamic.pause {
                                if let Err(e) = self.watchdog.activate(ttl) {
                                    tracing::error!("watchdog: {e}");
                                }
                                self.watchdog.keepalive();
                            }
                            self.publish_failsafe(&view).await;
                        }
                        Ok(false) => {
                            tracing::warn!("the leader key no longer holds my name");
                            self.set_leader_until(None);
                            snap.renew_failed = true;
                            snap.lease_left = None;
                            return Ok(Next::Redecide);
                        }
                        Err(e) => {
                            tracing::error!("renewing the leader lease: {e:#}");
                            snap.renew_failed = true;
                            snap.lease_left = self.lease_left();
                            return Ok(Next::Redecide);
                        }
                    }
                }
                Action::AcquireLeader => {
                    let t0 = Instant::now();
                    match self.dcs.acquire_leader(ttl).await {
                        Ok(true) => {
                            tracing::info!("acquired the leader lock");
                            self.acquired_at = Some(t0);
                            self.set_leader_until(Some(t0 + Duration::from_secs(ttl)));
                            self.confirmed_until = self.leader_until;
                            self.arm_guard(t0);
                        }
                        Ok(false) => {
                            tracing::info!(
                                "Could not take out TTL lock: another member got it first"
                            );
                            snap.acquire_failed = true;
                        }
                        Err(e) => {
                            tracing::warn!("taking the leader lock: {e:#}");
                            snap.acquire_failed = true;
                        }
                    }
                    self.refresh(snap).await;
                    return Ok(Next::Redecide);
                }
                Action::FailsafeHold => {
                    // Every member agreed we are still the leader and none of them will race:
                    // keep answering /primary for a ttl from the check, fenced on that basis.
                    if let Some(t0) = self.failsafe_checked_at.take() {
                        self.set_leader_until(Some(t0 + Duration::from_secs(ttl)));
                        self.arm_guard(t0);
                    }
                }
                Action::ReleaseLeader => {
                    self.set_leader_until(None);
                    self.dcs
                        .release_leader(None)
                        .await
                        .context("releasing the leader key")?;
                }
                Action::WriteInitialize(sysid) => {
                    self.dcs
                        .put(keys::INITIALIZE, sysid)
                        .await
                        .context("writing initialize")?;
                }
                Action::WriteConfig => {
                    let json = self.cfg.bootstrap_dcs.to_json().to_string();
                    self.dcs
                        .put_if_revision(keys::CONFIG, &json, 0)
                        .await
                        .context("writing config")?;
                }
                Action::Bootstrap => return self.bootstrap().await,
                Action::Basebackup { from } => {
                    let up = self.upstream(&view, from)?;
                    self.state = MemberState::CreatingReplica;
                    self.role = Role::Uninitialized;
                    let (pg, info) = self.observe_pg().await;
                    let _ = self.touch_member(&pg, &info).await;
                    self.pg.basebackup(&up).await?;
                    tracing::info!("replica has been created using basebackup from {from}");
                    self.start(Some(&up), true).await?;
                }
                Action::Promote => {
                    let plan =
                        crate::ha::transition::plan_promote(crate::ha::transition::PromoteFacts {
                            synchronous: self.dynamic.synchronous(),
                            citus_worker: self.cfg.is_citus_worker(),
                        });
                    tracing::info!("{plan}");
                    for step in &plan.steps {
                        self.promote_step(*step, &view, &snap.name).await?;
                    }
                }
                Action::Demote(mode) => {
                    self.role_change_pending = true;
                    let plan =
                        crate::ha::transition::plan_demote(*mode, self.cfg.is_citus_worker());
                    tracing::info!("{plan}");
                    for step in &plan.steps {
                        self.demote_step(*step).await?;
                    }
                    self.refresh(snap).await;
                    snap.renew_failed = false;
                    return Ok(if *mode == DemoteMode::Offline {
                        Next::Done
                    } else {
                        Next::Redecide
                    });
                }
                Action::StartPrimary => self.start(None, false).await?,
                Action::StartReplica { leader } => {
                    let up = match leader {
                        Some(l) => Some(self.upstream(&view, l)?),
                        None => None,
                    };
                    self.start(up.as_ref(), true).await?;
                }
                Action::Follow { leader } => {
                    let up = self.upstream(&view, leader)?;
                    self.settle_until = Some(Instant::now() + Duration::from_secs(10));
                    self.pg.write_config(&self.dynamic, Some(&up), true)?;
                    // primary_conninfo is reloadable since PostgreSQL 13: no restart needed.
                    let c = self.pg.connect().await?;
                    c.batch_execute("SELECT pg_reload_conf()")
                        .await
                        .context("reloading PostgreSQL")?;
                }
                Action::Rewind { leader } => {
                    let up = self.upstream(&view, leader)?;
                    let facts = crate::ha::rewind::RewindFacts {
                        running: snap.pg.running || snap.pg.starting,
                        remove_data_on_failure: self
                            .cfg
                            .remove_data_on_rewind_failure(&self.dynamic),
                    };
                    let plan = crate::ha::rewind::plan_rewind(facts);
                    tracing::info!("{plan}");
                    if let Err(e) = self.rewind_steps(&plan.steps, &up).await {
                        if !e.to_string().starts_with(REWIND_FAILED) {
                            return Err(e);
                        }
                        let after = crate::ha::rewind::plan_after_failed_rewind(facts);
                        tracing::warn!("{e:#}; {after}");
                        if !facts.remove_data_on_failure {
                            self.rewind_failed_from = Some(leader.clone());
                        }
                        self.rewind_steps(&after.steps, &up).await?;
                    }
                }
                Action::Reinitialize { from } => {
                    let up = self.upstream(&view, from)?;
                    self.rewind_failed_from = None;
                    if snap.pg.running || snap.pg.starting {
                        self.pg.stop(StopMode::Immediate).await?;
                    }
                    self.pg.remove_data_dir()?;
                    self.state = MemberState::CreatingReplica;
                    self.pg.basebackup(&up).await?;
                    self.start(Some(&up), true).await?;
                }
                Action::SyncSlots => {
                    if self.dynamic.postgresql.use_slots {
                        let wanted: Vec<String> = view
                            .members
                            .iter()
                            .filter(|m| m.name != snap.name)
                            .map(|m| slot_name_for(&m.name))
                            .collect();
                        if let Err(e) = self.sync_slots(&wanted).await {
                            tracing::warn!("syncing replication slots: {e:#}");
                        }
                    }
                }
                Action::SyncReplication => {
                    if let Err(e) = self
                        .sync_replication(&view, &snap.name, snap.pg.lsn())
                        .await
                    {
                        tracing::warn!("synchronous replication: {e:#}");
                    }
                }
                Action::ClearFailover => {
                    self.dcs
                        .put_if_revision(keys::FAILOVER, "{}", view.failover_revision)
                        .await
                        .context("clearing the failover key")?;
                }
                Action::Fatal(msg) => {
                    tracing::error!("{msg}");
                    if self.pg.postmaster_pid().is_some() {
                        let _ = self.pg.stop(StopMode::Fast).await;
                    }
                    let _ = self.dcs.revoke_lease().await;
                    return Ok(Next::Exit(Exit::Fatal(msg.clone())));
                }
            }
        }
        Ok(Next::Done)
    }

    /// Asks the rewind source for a CHECKPOINT (so pg_rewind sees its current timeline). Returns
    /// whether the source accepted a connection at all.
    async fn remote_checkpoint(&self, up: &Upstream) -> bool {
        let su = &self.cfg.postgresql.authentication.superuser;
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(&up.host)
            .port(up.port)
            .user(su.username.as_deref().unwrap_or("postgres"))
            .dbname("postgres")
            .connect_timeout(Duration::from_secs(3));
        if let Some(p) = &su.password {
            cfg.password(p);
        }
        if let Ok(Ok((c, conn))) =
            tokio::time::timeout(Duration::from_secs(3), cfg.connect(tokio_postgres::NoTls)).await
        {
            tokio::spawn(conn);
            let _ =
                tokio::time::timeout(Duration::from_secs(30), c.batch_execute("CHECKPOINT")).await;
            return true;
        }
        false
    }

    async fn record_history(&mut self, me: &str) {
        let Ok((pg, _)) = self.pg.query_state().await else {
            return;
        };
        let Some(tl) = pg.timeline else { return };
        if self.last_history_tl == Some(tl) {
            return;
        }
        let Some((parent, lsn, reason)) = self.pg.timeline_switch(tl) else {
            return;
        };
        let mut rows: Vec<Json> = match self.dcs.load().await {
            Ok(v) => v
                .history
                .iter()
                .filter(|h| h.timeline != parent)
                .map(HistoryEntry::to_json)
                .collect(),
            Err(_) => vec![],
        };
        rows.push(
            HistoryEntry {
                timeline: parent,
                switch_lsn: lsn,
                reason,
                timestamp: Some(
                    chrono::Local::now()
                        .format("%Y-%m-%dT%H:%M:%S%.6f%:z")
                        .to_string(),
                ),
                new_leader: Some(me.to_string()),
            }
            .to_json(),
        );
        if self
            .dcs
            .put(keys::HISTORY, &Json::Array(rows).to_string())
            .await
            .is_ok()
        {
            self.last_history_tl = Some(tl);
        }
    }

    async fn bootstrap(&mut self) -> Result<Next> {
        if !self.dcs.initialize_race("").await? {
            tracing::info!("failed to acquire initialize lock");
            return Ok(Next::Done);
        }
        self.state = MemberState::InitializingNewCluster;
        match self.bootstrap_steps().await {
            Ok(()) => {
                tracing::info!("initialized a new cluster");
                Ok(Next::Done)
            }
            Err(e) => {
                let msg = format!("bootstrapping a new cluster failed: {e:#}");
                let _ = self.pg.stop(StopMode::Immediate).await;
                self.pg.move_aside_failed();
                let _ = self.dcs.delete(keys::INITIALIZE).await;
                self.state = MemberState::InitdbFailed;
                Ok(Next::Exit(Exit::Fatal(msg)))
            }
        }
    }

    async fn bootstrap_steps(&mut self) -> Result<()> {
        self.pg.initdb().await?;
        // No lease is held yet, so waiting for the first start is safe.
        self.pg.write_config(&self.dynamic, None, false)?;
        let timeout = Duration::from_secs(self.cfg.postgresql.pg_ctl_timeout.unwrap_or(60));
        if !self.pg.start(timeout).await? {
            anyhow::bail!("PostgreSQL did not accept connections within {timeout:?} after initdb");
        }
        self.state = MemberState::Running;
        self.callback("on_start", "primary");
        self.pg.create_roles().await?;
        self.pg.run_post_bootstrap().await?;
        if self.cfg.citus.is_some() {
            crate::citus::handler::bootstrap_node(&self.pg, &self.cfg).await?;
        }
        let DataDir::Present { sysid, .. } = self.pg.data_dir_state().await else {
            anyhow::bail!("data directory unreadable after initdb");
        };
        self.dcs.put(keys::INITIALIZE, &sysid).await?;
        let json = self.cfg.bootstrap_dcs.to_json().to_string();
        self.dcs.put_if_revision(keys::CONFIG, &json, 0).await?;
        let t0 = Instant::now();
        self.dcs.take_leader(self.dynamic.ttl).await?;
        self.set_leader_until(Some(t0 + Duration::from_secs(self.dynamic.ttl)));
        self.confirmed_until = self.leader_until;
        Ok(())
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
