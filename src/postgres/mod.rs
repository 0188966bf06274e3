//! The local PostgreSQL server: data directory, initdb, pg_basebackup, pg_rewind, config files,
//! the postmaster as a child process, state queries, promote and stop.
//!
//! Files: [`render`] (pure: postgresql.conf, pg_hba.conf, pg_ident.conf, pgpass, connection
//! strings, initdb's arguments), [`parse`] (pure: pg_controldata, WAL names, history files),
//! `process` (the postmaster as a child: start, exit watch, stop and kill), `observe` (read-only: data directory
//! state, server state, replication rows, slots) and `ops` (what changes the server: write the
//! configuration, initdb, promote, roles, base backup, rewind, slots, reload, checkpoint). This
//! adapter decides nothing: what to write (`synchronous_standby_names`, the upstream) comes from
//! the core's plans.
//!
//! The agent writes `postgresql.conf` itself before every start (it includes `postgresql.base.conf`,
//! initdb's original, as Patroni does), so a config copied in by pg_basebackup or pg_rewind never
//! decides how this server runs. Standby mode is PostgreSQL 12+'s `standby.signal` plus
//! `primary_conninfo` / `primary_slot_name` (PostgreSQL docs, "Hot Standby").

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicI32};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde_json::Value as Json;
use tokio::sync::{Mutex, Notify};

use crate::config::{Config, Credentials};
use crate::types::DataDir;

mod backup;
mod observe;
mod ops;
pub mod parse;
mod process;
pub mod render;
mod session;

pub use observe::is_auth_failure;
pub use process::{child_processes, process_exited, process_running};
pub use render::{conninfo_value, guc_value, split_host_port, CLUSTER_WIDE_GUCS};

/// How to stop the postmaster (PostgreSQL's shutdown modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// SIGINT: roll back sessions, checkpoint, exit.
    Fast,
    /// SIGQUIT: exit at once; crash recovery at next start.
    Immediate,
}

/// Where a standby streams from.
#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    /// Member name (for logs and `following`).
    pub name: String,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Set when this is a standby cluster's remote primary ([`crate::ha::REMOTE`]): its
    /// `standby_cluster` settings (slot, archive commands, apply delay).
    pub remote: Option<crate::config::dynamic::StandbyCluster>,
}

/// Facts about the running server for GET /patroni.
#[derive(Debug, Clone, Default)]
pub struct ServerInfo {
    /// `server_version_num`, e.g. 150004.
    pub server_version: i64,
    /// Postmaster start time, text.
    pub postmaster_start_time: Option<String>,
    /// Rows of pg_stat_replication: `{usename, application_name, client_addr, state, sync_state, sync_priority}`.
    pub replication: Vec<Json>,
    /// `pg_last_xact_replay_timestamp()` (replica), as PostgreSQL's `timestamptz` text.
    pub replay_timestamp: Option<String>,
    /// Wal receiver status (`streaming`, …) on a replica.
    pub receiver_status: Option<String>,
    /// `pg_is_wal_replay_paused()` on a standby (`pg_wal_replay_pause()` was called, or a
    /// recovery target paused it); always false on a primary.
    pub replay_paused: bool,
    /// `pg_stat_wal_receiver.latest_end_lsn` on a standby: the primary's WAL position its last
    /// message reported (Patroni takes the larger of this and `/status` as the leader's position
    /// in the `lag` checks of the health endpoints).
    pub latest_end_lsn: Option<crate::types::Lsn>,
    /// Some changed setting needs a restart (`pg_settings.pending_restart`).
    pub pending_restart: bool,
    /// The settings that need a restart: name → (value in force, value the configuration files
    /// now give, `?` when they give none), Patroni's `pending_restart_reason`.
    pub pending_restart_reason: std::collections::BTreeMap<String, (String, String)>,
}

/// `pg_settings`' pending restarts as read at one configuration load of one postmaster.
#[derive(Debug, Clone, Default, PartialEq)]
struct PendingRead {
    /// `pg_conf_load_time()` and `pg_postmaster_start_time()`, text.
    loaded: (Option<String>, Option<String>),
    /// [`ServerInfo::pending_restart`].
    pending: bool,
    /// [`ServerInfo::pending_restart_reason`].
    reason: std::collections::BTreeMap<String, (String, String)>,
}

/// One local PostgreSQL server managed by this agent.
pub struct LocalPostgres {
    /// Replaced on a configuration reload ([`LocalPostgres::set_config`]).
    cfg: std::sync::RwLock<Arc<Config>>,
    /// Directory of the PostgreSQL binaries.
    pub bin_dir: PathBuf,
    /// Data directory.
    pub data_dir: PathBuf,
    child: Mutex<Option<tokio::process::Child>>,
    stopping: AtomicBool,
    crashed: AtomicBool,
    /// `pg_controldata`'s answer for the postmaster with this pid.
    controldata_cache: std::sync::Mutex<Option<(i32, DataDir)>>,
    /// The connection [`LocalPostgres::query_state`] reuses.
    state_client: Mutex<Option<session::Session>>,
    /// The settings waiting for a restart as last read, with the `pg_conf_load_time()` and
    /// postmaster start time they were read at: they change only when the server loads its
    /// configuration, so an idle cycle does not scan `pg_settings`.
    pending_cache: std::sync::Mutex<Option<PendingRead>>,
    /// The postmaster pid last read from `postmaster.pid`, to stop a server whose data directory
    /// was removed under it (PostgreSQL itself notices that only within a minute).
    last_pid: std::sync::atomic::AtomicI32,
    following: std::sync::Mutex<Option<String>>,
    /// The postmaster pid whose exit is being watched (0: none).
    watching: Arc<AtomicI32>,
    /// `synchronous_standby_names` members and count, written on a primary.
    sync_standbys: std::sync::Mutex<(Vec<String>, usize)>,
    /// Quorum commit's `synchronous_standby_names` (`ANY k (…)`), written in every role when set
    /// (a member about to promote sets it while still a standby).
    quorum_standbys: std::sync::Mutex<Option<crate::types::QuorumGuc>>,
    /// Notified when the postmaster exits.
    pub exited: Arc<Notify>,
    /// The agent's stop request, for the long-running tools ([`LocalPostgres::set_stop_request`]).
    stop_request: std::sync::Mutex<Option<tokio::sync::watch::Receiver<bool>>>,
    /// The superuser's earlier credentials (newest first, at most three), from reloads that
    /// changed them: the agent's own connections fall back to them when the server refuses the
    /// configured ones, until the role's password is changed (a Citus credential rotation, or the
    /// operator).
    earlier_superusers: std::sync::Mutex<Vec<crate::config::Credentials>>,
}

/// Finds the PostgreSQL binaries: `bin_dir` if given, else the newest `/usr/lib/postgresql/*/bin`,
/// else the directory of `postgres` on PATH.
///
/// # Errors
/// None found: the message names the Debian package to install.
pub fn find_bin_dir(configured: Option<&Path>) -> Result<PathBuf> {
    if let Some(d) = configured {
        if d.join("postgres").exists() {
            return Ok(d.to_path_buf());
        }
        bail!("postgresql.bin_dir: {} has no postgres binary", d.display());
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, p)) = versions.pop() {
        return Ok(p);
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir);
        if p.join("postgres").exists() && p.join("initdb").exists() {
            return Ok(p.to_path_buf());
        }
    }
    bail!("PostgreSQL server binaries not found: install them with `apt-get install postgresql-15` or set postgresql.bin_dir")
}

/// Writes `text` to `path` readable by its owner only: mode 0600 before anything is written,
/// also when the file existed with another mode. `what` names the file in errors.
fn write_private(path: &Path, text: &str, what: &str) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {what} {}", path.display()))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("making {what} {} private", path.display()))?;
    std::io::Write::write_all(&mut f, text.as_bytes())
        .with_context(|| format!("writing {what} {}", path.display()))?;
    Ok(())
}

impl LocalPostgres {
    /// Creates the adapter.
    ///
    /// # Errors
    /// No PostgreSQL binaries (see [`find_bin_dir`]).
    pub fn new(cfg: Arc<Config>) -> Result<LocalPostgres> {
        let bin_dir = find_bin_dir(cfg.postgresql.bin_dir.as_deref())?;
        let conf_dir = cfg.postgresql.config_dir.as_ref();
        let following = std::fs::read_to_string(
            conf_dir
                .unwrap_or(&cfg.postgresql.data_dir)
                .join("postgresql.conf"),
        )
        .ok()
        .and_then(|t| render::following_in(&t));
        Ok(LocalPostgres {
            data_dir: cfg.postgresql.data_dir.clone(),
            cfg: std::sync::RwLock::new(cfg),
            bin_dir,
            child: Mutex::new(None),
            stopping: AtomicBool::new(false),
            last_pid: std::sync::atomic::AtomicI32::new(0),
            controldata_cache: Default::default(),
            state_client: Default::default(),
            pending_cache: Default::default(),
            crashed: AtomicBool::new(false),
            following: std::sync::Mutex::new(following),
            watching: Arc::new(AtomicI32::new(0)),
            sync_standbys: std::sync::Mutex::new((Vec::new(), 1)),
            quorum_standbys: std::sync::Mutex::new(None),
            exited: Arc::new(Notify::new()),
            stop_request: std::sync::Mutex::new(None),
            earlier_superusers: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Makes the long-running tools (replica creation methods, a custom bootstrap's command, the
    /// wait for a restored backup's recovery) stop when `stop` turns true (the agent's SIGTERM).
    pub fn set_stop_request(&self, stop: tokio::sync::watch::Receiver<bool>) {
        *self.stop_request.lock().expect("not poisoned") = Some(stop);
    }

    /// Resolves when a stop was requested ([`LocalPostgres::set_stop_request`]); never without
    /// one.
    pub(crate) async fn stop_requested(&self) {
        let rx = self.stop_request.lock().expect("not poisoned").clone();
        match rx {
            Some(mut rx) => {
                if rx.wait_for(|v| *v).await.is_err() {
                    std::future::pending::<()>().await
                }
            }
            None => std::future::pending::<()>().await,
        }
    }

    /// The configuration in force (the latest one applied by a reload).
    pub fn cfg(&self) -> Arc<Config> {
        self.cfg.read().expect("not poisoned").clone()
    }

    /// Applies a reloaded configuration: later starts, configuration writes, pgpass and
    /// connections use it. The data directory and binaries stay those the agent started with.
    pub fn set_config(&self, cfg: Arc<Config>) {
        let old = std::mem::replace(&mut *self.cfg.write().expect("not poisoned"), cfg.clone());
        let (was, now) = (
            &old.postgresql.authentication.superuser,
            &cfg.postgresql.authentication.superuser,
        );
        if was != now {
            let mut earlier = self.earlier_superusers.lock().expect("not poisoned");
            earlier.retain(|c| c != was && c != now);
            earlier.insert(0, was.clone());
            earlier.truncate(3);
        }
    }

    /// The superuser's earlier credentials, newest first ([`LocalPostgres::set_config`]).
    pub fn earlier_superusers(&self) -> Vec<crate::config::Credentials> {
        self.earlier_superusers
            .lock()
            .expect("not poisoned")
            .clone()
    }

    fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    fn pgpass_path(&self) -> PathBuf {
        self.cfg().postgresql.pgpass.clone().unwrap_or_else(|| {
            let mut p = self.data_dir.clone().into_os_string();
            p.push(".pgpass");
            PathBuf::from(p)
        })
    }

    /// Path of the server log (stdout/stderr of the postmaster): `<data_dir>.log`.
    pub fn log_path(&self) -> PathBuf {
        let mut p = self.data_dir.clone().into_os_string();
        p.push(".log");
        PathBuf::from(p)
    }

    /// Writes the pgpass file (mode 0600) with every configured password, and the service file
    /// `<pgpass>.service` (mode 0600) with the roles' `sslpassword`s, so no password or
    /// passphrase is ever passed on a command line.
    ///
    /// # Errors
    /// File not writable.
    pub fn write_pgpass(&self) -> Result<()> {
        let auth = &self.cfg().postgresql.authentication;
        write_private(
            &self.pgpass_path(),
            &render::pgpass_text(auth),
            "pgpass file",
        )?;
        let service = self.service_file_path();
        match render::pg_service_text(auth) {
            Some(text) => write_private(&service, &text, "service file")?,
            None => {
                let _ = std::fs::remove_file(&service);
            }
        }
        Ok(())
    }

    /// The libpq service file holding the roles' `sslpassword`s: `<pgpass>.service`.
    fn service_file_path(&self) -> PathBuf {
        let mut p = self.pgpass_path().into_os_string();
        p.push(".service");
        PathBuf::from(p)
    }

    fn command(&self, bin: &str) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(self.bin(bin));
        c.env("PGPASSFILE", self.pgpass_path())
            .env("PGSERVICEFILE", self.service_file_path())
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        c
    }

    /// libpq connection string for `role` (password comes from the pgpass file).
    pub fn conninfo(&self, host: &str, port: u16, role: &Credentials, dbname: &str) -> String {
        let passfile = self.pgpass_path().display().to_string();
        render::conninfo(&self.cfg().name, &passfile, host, port, role, dbname)
    }

    /// The Unix socket directory the agent's own connections go through
    /// (`postgresql.use_unix_socket`, [`render::unix_socket_dir`]), or `None` for TCP.
    pub fn local_socket_dir(&self) -> Option<String> {
        let cfg = self.cfg();
        let dirs = cfg
            .postgresql
            .parameters
            .get("unix_socket_directories")
            .map(|v| {
                v.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| v.to_string())
            });
        render::unix_socket_dir(
            cfg.postgresql.use_unix_socket.unwrap_or(false),
            dirs.as_deref(),
        )
    }

    /// The member this server is configured to stream from.
    pub fn following(&self) -> Option<String> {
        self.following.lock().expect("not poisoned").clone()
    }

    /// The `synchronous_standby_names` members currently configured.
    pub fn sync_standbys(&self) -> Vec<String> {
        self.sync_standbys.lock().expect("not poisoned").0.clone()
    }

    /// Sets `synchronous_standby_names` (written by the next [`LocalPostgres::write_config`]).
    pub fn set_sync_standbys(&self, names: Vec<String>, count: usize) {
        *self.sync_standbys.lock().expect("not poisoned") = (names, count.max(1));
    }

    /// Quorum commit's `synchronous_standby_names`, when set ([`LocalPostgres::set_quorum_standbys`]).
    pub fn quorum_standbys(&self) -> Option<crate::types::QuorumGuc> {
        self.quorum_standbys.lock().expect("not poisoned").clone()
    }

    /// Sets quorum commit's `synchronous_standby_names` (written by the next
    /// [`LocalPostgres::write_config`], in place of the priority-mode names, whatever the role);
    /// `None` goes back to the priority-mode names.
    pub fn set_quorum_standbys(&self, guc: Option<crate::types::QuorumGuc>) {
        *self.quorum_standbys.lock().expect("not poisoned") = guc;
    }

    /// Whether the Citus library is installed for this PostgreSQL (`$pkglibdir/citus.so`).
    pub fn citus_library_installed(&self) -> bool {
        self.bin_dir
            .parent()
            .is_some_and(|p| p.join("lib").join("citus.so").exists())
    }
}
