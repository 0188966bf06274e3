//! The local PostgreSQL server: data directory, initdb, pg_basebackup, pg_rewind, config files,
//! the postmaster as a child process, state queries, promote and stop.
//!
//! The agent writes `postgresql.conf` itself before every start (it includes `postgresql.base.conf`,
//! initdb's original, as Patroni does), so a config copied in by pg_basebackup or pg_rewind never
//! decides how this server runs. Standby mode is PostgreSQL 12+'s `standby.signal` plus
//! `primary_conninfo` / `primary_slot_name` (PostgreSQL docs, "Hot Standby").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value as Json;
use tokio::sync::{Mutex, Notify};

use crate::config::{Config, Credentials, DynamicConfig, InitdbOption};
use crate::types::{slot_name_for, Lsn};
use crate::types::{DataDir, PgState};

/// GUCs that must be equal on all members: taken from the dynamic config only (Patroni §6.1), with
/// Patroni's defaults.
pub const CLUSTER_WIDE_GUCS: &[(&str, &str)] = &[
    ("max_connections", "100"),
    ("max_locks_per_transaction", "64"),
    ("max_worker_processes", "8"),
    ("max_prepared_transactions", "0"),
    ("wal_level", "replica"),
    ("track_commit_timestamp", "off"),
    ("max_wal_senders", "10"),
    ("max_replication_slots", "10"),
    ("wal_keep_size", "128MB"),
    ("wal_log_hints", "on"),
];

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
    /// `replayed_timestamp` (replica), text.
    pub replay_timestamp: Option<String>,
    /// Wal receiver status (`streaming`, …) on a replica.
    pub receiver_status: Option<String>,
    /// Some changed setting needs a restart (`pg_settings.pending_restart`).
    pub pending_restart: bool,
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
    state_client: Mutex<Option<tokio_postgres::Client>>,
    /// The postmaster pid last read from `postmaster.pid`, to stop a server whose data directory
    /// was removed under it (PostgreSQL itself notices that only within a minute).
    last_pid: std::sync::atomic::AtomicI32,
    following: std::sync::Mutex<Option<String>>,
    watching: Arc<AtomicBool>,
    /// `synchronous_standby_names` members and count, written on a primary.
    sync_standbys: std::sync::Mutex<(Vec<String>, usize)>,
    /// Notified when the postmaster exits.
    pub exited: Arc<Notify>,
}

/// Marker line in postgresql.conf naming the member a standby streams from, so an agent restarted
/// under a running server knows what it follows.
const FOLLOWING_MARK: &str = "# praetor: following member ";

/// The processes whose parent is `pid` (for a postmaster: its backends, walsenders, walreceiver,
/// checkpointer and other auxiliary processes), read from `/proc/<pid>/stat`. PostgreSQL puts
/// each of them in a session and process group of its own, so a signal to the postmaster's
/// process group does not reach them.
pub fn child_processes(pid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    dir.filter_map(|e| {
        let child: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
        // After the command name in parentheses: state, then the parent's pid.
        let ppid: i32 = stat
            .rsplit(')')
            .next()?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (ppid == pid).then_some(child)
    })
    .collect()
}

/// SIGKILL to the postmaster `pid`, then to each of its child processes, so no backend or
/// walsender outlives it holding the port or shared memory.
fn kill_postmaster_and_children(pid: i32) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let children = child_processes(pid);
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    for c in children {
        let _ = kill(Pid::from_raw(c), Signal::SIGKILL);
    }
}

/// Resolves once process `pid` has exited (or is a zombie). The kernel wakes us through a pidfd
/// (Linux 5.3 and later), so a postmaster's exit is noticed at once rather than on a polling
/// tick; where pidfd is unavailable it checks every 20 ms.
pub async fn process_exited(pid: i32) {
    let dead = || {
        let gone = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err();
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(false);
        gone || zombie
    };
    if let Some(p) = rustix::process::Pid::from_raw(pid) {
        match rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) {
            Ok(fd) => {
                // SAFETY: `fd` is an OwnedFd that the AsyncFd owns and closes; nothing else
                // closes or replaces it while registered.
                let registered = unsafe {
                    tokio::io::unix::AsyncFd::register_with_interest(
                        fd,
                        tokio::io::Interest::READABLE,
                    )
                };
                if let Ok(afd) = registered {
                    // A pidfd turns readable when the process exits.
                    let _ = afd.readable().await;
                    return;
                }
            }
            Err(rustix::io::Errno::SRCH) => return,
            Err(_) => {}
        }
    }
    while !dead() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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

fn quote_guc(v: &Json) -> String {
    match v {
        Json::Bool(b) => if *b { "on" } else { "off" }.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''")),
        other => format!("'{}'", other.to_string().replace('\'', "''")),
    }
}

/// Quotes a libpq connection-string value.
pub fn conninfo_value(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `host:port` → `(host, port)`; a listen address of `0.0.0.0`/`*`/`::` maps to 127.0.0.1 for local use.
pub fn split_host_port(s: &str) -> (String, u16) {
    let (h, p) = s.rsplit_once(':').unwrap_or((s, "5432"));
    let first = h.split(',').next().unwrap_or("127.0.0.1").trim();
    let host = match first {
        "" | "*" | "0.0.0.0" | "::" => "127.0.0.1",
        x => x,
    };
    (host.to_string(), p.parse().unwrap_or(5432))
}

impl LocalPostgres {
    /// Creates the adapter.
    ///
    /// # Errors
    /// No PostgreSQL binaries (see [`find_bin_dir`]).
    pub fn new(cfg: Arc<Config>) -> Result<LocalPostgres> {
        let bin_dir = find_bin_dir(cfg.postgresql.bin_dir.as_deref())?;
        let following = std::fs::read_to_string(cfg.postgresql.data_dir.join("postgresql.conf"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix(FOLLOWING_MARK).map(|n| n.trim().to_string()))
            });
        Ok(LocalPostgres {
            data_dir: cfg.postgresql.data_dir.clone(),
            cfg: std::sync::RwLock::new(cfg),
            bin_dir,
            child: Mutex::new(None),
            stopping: AtomicBool::new(false),
            last_pid: std::sync::atomic::AtomicI32::new(0),
            controldata_cache: Default::default(),
            state_client: Default::default(),
            crashed: AtomicBool::new(false),
            following: std::sync::Mutex::new(following),
            watching: Arc::new(AtomicBool::new(false)),
            sync_standbys: std::sync::Mutex::new((Vec::new(), 1)),
            exited: Arc::new(Notify::new()),
        })
    }

    /// The configuration in force (the latest one applied by a reload).
    pub fn cfg(&self) -> Arc<Config> {
        self.cfg.read().expect("not poisoned").clone()
    }

    /// Applies a reloaded configuration: later starts, configuration writes, pgpass and
    /// connections use it. The data directory and binaries stay those the agent started with.
    pub fn set_config(&self, cfg: Arc<Config>) {
        *self.cfg.write().expect("not poisoned") = cfg;
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

    /// Writes the pgpass file (mode 0600) with every configured password, so no password is ever
    /// passed on a command line.
    ///
    /// # Errors
    /// File not writable.
    pub fn write_pgpass(&self) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let a = &self.cfg().postgresql.authentication;
        let mut lines = String::new();
        for c in [Some(&a.superuser), Some(&a.replication), a.rewind.as_ref()]
            .into_iter()
            .flatten()
        {
            if let (Some(u), Some(p)) = (&c.username, &c.password) {
                let esc = |s: &str| s.replace('\\', "\\\\").replace(':', "\\:");
                lines.push_str(&format!("*:*:*:{}:{}\n", esc(u), esc(p)));
            }
        }
        let path = self.pgpass_path();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("writing pgpass file {}", path.display()))?;
        std::io::Write::write_all(&mut f, lines.as_bytes())?;
        Ok(())
    }

    fn command(&self, bin: &str) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(self.bin(bin));
        c.env("PGPASSFILE", self.pgpass_path())
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        c
    }

    /// Reads `pg_controldata`. While the same postmaster keeps running the answer is reused (its
    /// system identifier cannot change, and the other fields only matter once it has stopped), so
    /// an idle cycle starts no process; a removed data directory is still noticed at once.
    pub async fn data_dir_state(&self) -> DataDir {
        let pid = self.postmaster_pid();
        if let Some(pid) = pid {
            if self.data_dir.join("global/pg_control").exists() {
                if let Some((p, d)) = self
                    .controldata_cache
                    .lock()
                    .expect("not poisoned")
                    .as_ref()
                {
                    if *p == pid {
                        return d.clone();
                    }
                }
            }
        }
        let state = self.read_data_dir_state().await;
        *self.controldata_cache.lock().expect("not poisoned") = match (&state, pid) {
            (DataDir::Present { .. }, Some(pid)) => Some((pid, state.clone())),
            _ => None,
        };
        state
    }

    async fn read_data_dir_state(&self) -> DataDir {
        let d = &self.data_dir;
        match std::fs::read_dir(d) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return DataDir::Empty,
            Err(e) => return DataDir::Unreadable(format!("{}: {e}", d.display())),
            Ok(mut it) => {
                if it.next().is_none() {
                    return DataDir::Empty;
                }
            }
        }
        if !d.join("PG_VERSION").exists() || !d.join("global/pg_control").exists() {
            return DataDir::Unreadable(format!(
                "{} is not empty but holds no PostgreSQL data directory",
                d.display()
            ));
        }
        let out = match self.command("pg_controldata").arg(d).output().await {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).to_string(),
            Ok(o) => {
                return DataDir::Unreadable(format!(
                    "pg_controldata failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ))
            }
            Err(e) => return DataDir::Unreadable(format!("running pg_controldata: {e}")),
        };
        let field = |name: &str| {
            out.lines().find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|r| r.strip_prefix(':'))
                    .map(|v| v.trim().to_string())
            })
        };
        DataDir::Present {
            sysid: field("Database system identifier").unwrap_or_default(),
            state: field("Database cluster state").unwrap_or_default(),
            timeline: field("Latest checkpoint's TimeLineID")
                .and_then(|t| t.parse().ok())
                .unwrap_or(0),
            checkpoint_lsn: field("Latest checkpoint location")
                .and_then(|l| Lsn::parse(&l))
                .map(|l| l.0)
                .unwrap_or(0),
            backup_label: self.data_dir.join("backup_label").exists(),
        }
    }

    /// Runs initdb with `bootstrap.initdb` options; the superuser password goes through a temporary
    /// file (`--pwfile`), never argv.
    ///
    /// # Errors
    /// initdb failed; the message has its stderr.
    pub async fn initdb(&self) -> Result<()> {
        let mut cmd = self.command("initdb");
        cmd.arg("-D").arg(&self.data_dir);
        let su = &self.cfg().postgresql.authentication.superuser;
        cmd.arg("-U")
            .arg(su.username.as_deref().unwrap_or("postgres"));
        let mut has_auth = false;
        for o in &self.cfg().bootstrap.initdb {
            match o {
                InitdbOption::Flag(f) => {
                    cmd.arg(format!("--{f}"));
                }
                InitdbOption::Pair(m) => {
                    for (k, v) in m {
                        has_auth |= k.starts_with("auth");
                        let v = match v {
                            serde_yaml::Value::String(s) => s.clone(),
                            other => serde_yaml::to_string(other)
                                .unwrap_or_default()
                                .trim()
                                .to_string(),
                        };
                        cmd.arg(format!("--{k}={v}"));
                    }
                }
            }
        }
        if !has_auth {
            cmd.arg("--auth-local=trust").arg("--auth-host=md5");
        }
        let pwfile = tempfile::NamedTempFile::new()?;
        if let Some(p) = &su.password {
            std::fs::write(pwfile.path(), p)?;
            cmd.arg(format!("--pwfile={}", pwfile.path().display()));
        }
        let out = cmd.output().await.context("running initdb")?;
        if !out.status.success() {
            bail!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// Writes postgresql.conf, pg_hba.conf and (for a standby) standby.signal.
    ///
    /// # Errors
    /// Files not writable.
    pub fn write_config(
        &self,
        dynamic: &DynamicConfig,
        upstream: Option<&Upstream>,
        standby: bool,
    ) -> Result<()> {
        let d = &self.data_dir;
        let base = d.join("postgresql.base.conf");
        let conf = d.join("postgresql.conf");
        if !base.exists() {
            if conf.exists()
                && !std::fs::read_to_string(&conf)
                    .unwrap_or_default()
                    .contains("Managed by praetor")
            {
                std::fs::rename(&conf, &base)?;
            } else {
                std::fs::write(&base, "")?;
            }
        }
        let mut params: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in CLUSTER_WIDE_GUCS {
            params.insert((*k).into(), (*v).into());
        }
        for (k, v) in &dynamic.postgresql.parameters {
            params.insert(k.clone(), quote_guc(v));
        }
        for (k, v) in &self.cfg().postgresql.parameters {
            if !CLUSTER_WIDE_GUCS.iter().any(|(n, _)| n == k) {
                params.insert(k.clone(), quote_guc(v));
            }
        }
        if self.cfg().citus.is_some() {
            self.citus_gucs(&mut params);
        }
        let listen = &self.cfg().postgresql.listen;
        let (hosts, port) = listen.rsplit_once(':').unwrap_or((listen, "5432"));
        params.insert(
            "listen_addresses".into(),
            quote_guc(&Json::String(hosts.to_string())),
        );
        params.insert("port".into(), port.to_string());
        params.insert(
            "cluster_name".into(),
            quote_guc(&Json::String(self.cfg().scope.clone())),
        );
        params.insert("hot_standby".into(), "on".into());
        // PostgreSQL's default of 5 s between WAL-receiver reconnection attempts is what a
        // synchronous-mode primary waits for after its restart (commits need a standby back);
        // 1 s unless configured.
        params
            .entry("wal_retrieve_retry_interval".into())
            .or_insert_with(|| "'1s'".into());
        if !params.contains_key("unix_socket_directories") {
            let default_dir = Path::new("/var/run/postgresql");
            let usable = default_dir.is_dir()
                && nix::unistd::access(default_dir, nix::unistd::AccessFlags::W_OK).is_ok();
            if !usable {
                let dir = d.parent().unwrap_or(Path::new("/tmp"));
                params.insert(
                    "unix_socket_directories".into(),
                    quote_guc(&Json::String(dir.display().to_string())),
                );
            }
        }
        if let Some(u) = upstream {
            let rep = &self.cfg().postgresql.authentication.replication;
            let ci = self.conninfo(&u.host, u.port, rep, "postgres");
            params.insert("primary_conninfo".into(), quote_guc(&Json::String(ci)));
            if dynamic.postgresql.use_slots {
                params.insert(
                    "primary_slot_name".into(),
                    quote_guc(&Json::String(slot_name_for(&self.cfg().name))),
                );
            }
        }
        params.insert("recovery_target_timeline".into(), "'latest'".into());
        {
            let (names, count) = self.sync_standbys.lock().expect("not poisoned").clone();
            let value = if standby {
                String::new()
            } else {
                guc_value(&names, count)
            };
            params.insert(
                "synchronous_standby_names".into(),
                quote_guc(&Json::String(value)),
            );
        }
        let mut text = String::from(
            "# Managed by praetor: rewritten before every start. Put local changes in postgresql.base.conf\n\
             # or in the postgresql.parameters section of the praetor configuration.\n\
             include_if_exists 'postgresql.base.conf'\n",
        );
        for (k, v) in &params {
            text.push_str(&format!("{k} = {v}\n"));
        }
        if let Some(u) = upstream {
            text.push_str(&format!("{FOLLOWING_MARK}{}\n", u.name));
        }
        std::fs::write(&conf, text).with_context(|| format!("writing {}", conf.display()))?;
        // postgresql.auto.conf may have come from another member (basebackup/rewind): keep only ours.
        let auto = d.join("postgresql.auto.conf");
        if auto.exists() {
            let kept: String = std::fs::read_to_string(&auto)?
                .lines()
                .filter(|l| {
                    !l.trim_start().starts_with("primary_conninfo")
                        && !l.trim_start().starts_with("primary_slot_name")
                })
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(&auto, kept)?;
        }

        let hba: &Vec<String> = if !self.cfg().postgresql.pg_hba.is_empty() {
            &self.cfg().postgresql.pg_hba
        } else {
            &self.cfg().bootstrap.pg_hba
        };
        if !hba.is_empty() {
            let mut t = String::from("# Managed by praetor (postgresql.pg_hba)\n");
            for l in hba {
                t.push_str(l);
                t.push('\n');
            }
            std::fs::write(d.join("pg_hba.conf"), t)?;
        }
        let signal = d.join("standby.signal");
        if standby {
            std::fs::write(&signal, "")?;
        } else if signal.exists() {
            std::fs::remove_file(&signal)?;
        }
        let _ = std::fs::remove_file(d.join("recovery.signal"));
        *self.following.lock().expect("not poisoned") = upstream.map(|u| u.name.clone());
        Ok(())
    }

    /// Whether the Citus library is installed for this PostgreSQL (`$pkglibdir/citus.so`).
    pub fn citus_library_installed(&self) -> bool {
        self.bin_dir
            .parent()
            .is_some_and(|p| p.join("lib").join("citus.so").exists())
    }

    /// The settings Citus needs (reference §3.2): `citus` first in shared_preload_libraries (when
    /// the library is installed: a stand-in has none), max_prepared_transactions = 2 ×
    /// max_connections when 0, wal_level logical, citus.local_hostname.
    fn citus_gucs(&self, params: &mut BTreeMap<String, String>) {
        if self.citus_library_installed() {
            let current = params
                .get("shared_preload_libraries")
                .cloned()
                .unwrap_or_default();
            let libs: Vec<String> = current
                .trim_matches('\'')
                .split(',')
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty() && l != "citus")
                .collect();
            let all = std::iter::once("citus".to_string())
                .chain(libs)
                .collect::<Vec<_>>()
                .join(",");
            params.insert(
                "shared_preload_libraries".into(),
                quote_guc(&Json::String(all)),
            );
        }
        let unquote = |v: &str| v.trim_matches('\'').to_string();
        let prepared: i64 = params
            .get("max_prepared_transactions")
            .map(|v| unquote(v))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if prepared == 0 {
            let max_conn: i64 = params
                .get("max_connections")
                .map(|v| unquote(v))
                .and_then(|v| v.parse().ok())
                .unwrap_or(100);
            params.insert(
                "max_prepared_transactions".into(),
                (2 * max_conn).to_string(),
            );
        }
        params.insert("wal_level".into(), "logical".into());
        let (host, _) = split_host_port(&self.cfg().postgresql.listen);
        params.insert(
            "citus.local_hostname".into(),
            quote_guc(&Json::String(host)),
        );
    }

    /// The `synchronous_standby_names` members currently configured.
    pub fn sync_standbys(&self) -> Vec<String> {
        self.sync_standbys.lock().expect("not poisoned").0.clone()
    }

    /// Sets `synchronous_standby_names` (written by the next [`LocalPostgres::write_config`]).
    pub fn set_sync_standbys(&self, names: Vec<String>, count: usize) {
        *self.sync_standbys.lock().expect("not poisoned") = (names, count.max(1));
    }

    /// `pg_stat_replication` as the sync planner needs it.
    ///
    /// # Errors
    /// Query failed.
    pub async fn replication_rows(&self) -> Result<Vec<crate::types::ReplicationRow>> {
        let c = self.connect().await?;
        let rows = c
            .query(
                "SELECT application_name, state, sync_state, COALESCE(flush_lsn, '0/0')::text FROM pg_stat_replication",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| crate::types::ReplicationRow {
                name: r.get::<_, Option<String>>(0).unwrap_or_default(),
                state: r.get::<_, Option<String>>(1).unwrap_or_default(),
                sync_state: r.get::<_, Option<String>>(2).unwrap_or_default(),
                flush_lsn: r
                    .get::<_, Option<String>>(3)
                    .and_then(|l| Lsn::parse(&l))
                    .map(|l| l.0)
                    .unwrap_or(0),
            })
            .collect())
    }

    /// The member this server is configured to stream from.
    pub fn following(&self) -> Option<String> {
        self.following.lock().expect("not poisoned").clone()
    }

    /// libpq connection string for `role` (password comes from the pgpass file).
    pub fn conninfo(&self, host: &str, port: u16, role: &Credentials, dbname: &str) -> String {
        let mut s = format!(
            "host={} port={port} user={} dbname={dbname} application_name={} connect_timeout=3",
            conninfo_value(host),
            conninfo_value(role.username.as_deref().unwrap_or("postgres")),
            conninfo_value(&self.cfg().name),
        );
        s.push_str(&format!(
            " passfile={}",
            conninfo_value(&self.pgpass_path().display().to_string())
        ));
        for (k, v) in [
            ("sslmode", &role.sslmode),
            ("sslcert", &role.sslcert),
            ("sslkey", &role.sslkey),
            ("sslrootcert", &role.sslrootcert),
            ("channel_binding", &role.channel_binding),
            ("gssencmode", &role.gssencmode),
        ] {
            if let Some(v) = v {
                s.push_str(&format!(" {k}={}", conninfo_value(v)));
            }
        }
        s
    }

    /// PID from `postmaster.pid` if that process is alive.
    pub fn postmaster_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        let pid: i32 = text.lines().next()?.trim().parse().ok()?;
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if alive {
            self.last_pid.store(pid, Ordering::SeqCst);
        }
        alive.then_some(pid)
    }

    /// The highest timeline among the WAL segment files in `pg_wal` (names of 24 hexadecimal
    /// digits, the first 8 being the timeline). A standby has such files for a timeline only once
    /// it has received WAL on it. `None` when there are none or the directory is unreadable.
    pub fn wal_timeline(&self) -> Option<u32> {
        std::fs::read_dir(self.data_dir.join("pg_wal"))
            .ok()?
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                (name.len() == 24 && name.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| u32::from_str_radix(&name[..8], 16).ok())
                    .flatten()
            })
            .max()
    }

    /// A postmaster we saw earlier that still runs although its `postmaster.pid` is gone (the
    /// data directory was removed or replaced under it).
    fn orphaned_postmaster(&self) -> Option<i32> {
        let pid = self.last_pid.load(Ordering::SeqCst);
        if pid <= 0 {
            return None;
        }
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (comm.trim() == "postgres").then_some(pid)
    }

    /// Starts the postmaster as our child and waits up to `wait` for it to accept connections.
    /// Returns `Ok(true)` when it does, `Ok(false)` when it is still starting (crash recovery, or a
    /// standby not yet consistent): the HA loop keeps running and observes it as `starting`, so a
    /// slow start never holds up lease renewal.
    ///
    /// # Errors
    /// The postmaster exited during start (its log is named in the message).
    pub async fn start(&self, wait: Duration) -> Result<bool> {
        if self.postmaster_pid().is_some() {
            return Ok(self.connect().await.is_ok());
        }
        // A stale pid file from a killed postmaster is handled by postgres itself.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .with_context(|| format!("opening {}", self.log_path().display()))?;
        let mut cmd = self.command("postgres");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .stdout(log.try_clone()?)
            .stderr(log);
        // Own process group: a Ctrl-C aimed at the agent does not reach the postmaster directly.
        cmd.process_group(0);
        self.stopping.store(false, Ordering::SeqCst);
        self.crashed.store(false, Ordering::SeqCst);
        let _ = std::fs::remove_file(crate::fence::marker_path(&self.data_dir));
        let child = cmd.spawn().context("spawning postgres")?;
        *self.child.lock().await = Some(child);
        let started = Instant::now();
        loop {
            {
                let mut guard = self.child.lock().await;
                if let Some(c) = guard.as_mut() {
                    if let Ok(Some(status)) = c.try_wait() {
                        *guard = None;
                        bail!(
                            "postgres exited during start ({status}); see {}",
                            self.log_path().display()
                        );
                    }
                }
            }
            if self.connect().await.is_ok() {
                self.spawn_exit_watch();
                return Ok(true);
            }
            if started.elapsed() > wait && self.postmaster_pid().is_some() {
                self.spawn_exit_watch();
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Makes sure a running postmaster (ours, or one found running when the agent started) is
    /// watched, so its exit wakes the HA loop at once.
    pub fn ensure_exit_watch(&self) {
        self.spawn_exit_watch();
    }

    fn spawn_exit_watch(&self) {
        // The watcher polls the pid so the HA loop is woken as soon as the postmaster dies.
        let exited = self.exited.clone();
        let pidfile = self.data_dir.join("postmaster.pid");
        let Some(pid) = self.postmaster_pid() else {
            return;
        };
        if self.watching.swap(true, Ordering::SeqCst) {
            return;
        }
        let watching = self.watching.clone();
        tokio::spawn(async move {
            // The exit itself wakes us (pidfd); the pid file is checked every second for a data
            // directory removed under a running server.
            let gone = async {
                while pidfile.exists() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            };
            tokio::select! {
                _ = process_exited(pid) => {}
                _ = gone => {}
            }
            watching.store(false, Ordering::SeqCst);
            exited.notify_one();
        });
    }

    /// Reaps a dead child and reports whether the postmaster died without being asked to.
    pub async fn check_crashed(&self) -> bool {
        let mut guard = self.child.lock().await;
        if let Some(c) = guard.as_mut() {
            if let Ok(Some(_)) = c.try_wait() {
                *guard = None;
                if !self.stopping.load(Ordering::SeqCst) {
                    self.crashed.store(true, Ordering::SeqCst);
                }
            }
        }
        self.crashed.load(Ordering::SeqCst)
    }

    /// Stops the postmaster and waits for it to exit.
    ///
    /// # Errors
    /// It did not exit within `pg_ctl_timeout`.
    pub async fn stop(&self, mode: StopMode) -> Result<()> {
        self.stop_or_kill(mode, None).await
    }

    /// [`Self::stop`], and when the postmaster still runs after `kill_after`, SIGKILL to it
    /// and to each of its child processes (backends, walsenders, checkpointer), so none is left
    /// holding the port or shared memory. See
    /// [`crate::ha::shutdown::stop_kill_after`] for when (Patroni's `primary_stop_timeout`).
    ///
    /// # Errors
    /// It did not exit within `pg_ctl_timeout` (twice that with the SIGQUIT escalation).
    pub async fn stop_or_kill(&self, mode: StopMode, kill_after: Option<Duration>) -> Result<()> {
        self.stopping.store(true, Ordering::SeqCst);
        let Some(pid) = self.postmaster_pid().or_else(|| self.orphaned_postmaster()) else {
            let _ = self.reap().await;
            return Ok(());
        };
        let sig = match mode {
            StopMode::Fast => nix::sys::signal::Signal::SIGINT,
            StopMode::Immediate => nix::sys::signal::Signal::SIGQUIT,
        };
        let exited = process_exited(pid);
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
        let timeout = Duration::from_secs(self.cfg().postgresql.pg_ctl_timeout.unwrap_or(60));
        tokio::pin!(exited);
        let mut gone = false;
        if let Some(after) = kill_after.filter(|a| *a < timeout) {
            gone = tokio::time::timeout(after, &mut exited).await.is_ok();
            if !gone {
                tracing::warn!(
                    "postgres (pid {pid}) did not stop within primary_stop_timeout ({} s): \
                     sending SIGKILL",
                    after.as_secs()
                );
                kill_postmaster_and_children(pid);
            }
        }
        if !gone && tokio::time::timeout(timeout, &mut exited).await.is_err() {
            if mode == StopMode::Fast {
                tracing::warn!(
                    "postgres (pid {pid}) did not stop within {timeout:?}: sending SIGQUIT"
                );
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGQUIT,
                );
            }
            if tokio::time::timeout(timeout, &mut exited).await.is_err() {
                bail!("postgres (pid {pid}) did not stop within {:?}", timeout * 2);
            }
        }
        self.reap().await;
        self.crashed.store(false, Ordering::SeqCst);
        Ok(())
    }

    async fn reap(&self) -> Option<std::process::ExitStatus> {
        let mut guard = self.child.lock().await;
        if let Some(c) = guard.as_mut() {
            if let Ok(Some(st)) = c.try_wait() {
                *guard = None;
                return Some(st);
            }
        }
        None
    }

    /// Connects to the local server as the superuser.
    ///
    /// # Errors
    /// Not reachable or authentication failed.
    pub async fn connect(&self) -> Result<tokio_postgres::Client> {
        self.connect_db("postgres").await
    }

    /// Connects to database `dbname` of the local server as the superuser.
    ///
    /// # Errors
    /// Not reachable or authentication failed.
    pub async fn connect_db(&self, dbname: &str) -> Result<tokio_postgres::Client> {
        let (host, port) = split_host_port(&self.cfg().postgresql.listen);
        let su = &self.cfg().postgresql.authentication.superuser;
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(&host)
            .port(port)
            .user(su.username.as_deref().unwrap_or("postgres"))
            .dbname(dbname)
            .application_name("praetor")
            .connect_timeout(Duration::from_secs(3));
        if let Some(p) = &su.password {
            cfg.password(p);
        }
        tokio::time::timeout(
            Duration::from_secs(3),
            crate::tls::pg_connect(&mut cfg, su, "postgresql.authentication.superuser"),
        )
        .await
        .map_err(|_| anyhow!("connecting to local PostgreSQL at {host}:{port}: timed out"))?
    }

    /// Queries role, timeline and LSNs of the running server.
    ///
    /// # Errors
    /// Not running or query failed.
    pub async fn query_state(&self) -> Result<(PgState, ServerInfo)> {
        // One connection kept across cycles (no authentication handshake every loop_wait). It is
        // taken out while in use: a query cut short by the caller's timeout drops it.
        let cached = self.state_client.lock().await.take();
        let c = match cached.filter(|c| !c.is_closed()) {
            Some(c) => c,
            None => self.connect().await?,
        };
        let r = self.query_state_on(&c).await;
        if r.is_ok() {
            *self.state_client.lock().await = Some(c);
        }
        r
    }

    async fn query_state_on(&self, c: &tokio_postgres::Client) -> Result<(PgState, ServerInfo)> {
        let row = c
            .query_one(
                "SELECT pg_is_in_recovery(),
                        CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END,
                        pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,
                        CASE WHEN pg_is_in_recovery()
                             THEN COALESCE((SELECT received_tli FROM pg_stat_wal_receiver),
                                           (SELECT timeline_id FROM pg_control_checkpoint()))
                             ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END,
                        current_setting('server_version_num')::int,
                        pg_postmaster_start_time()::text,
                        (SELECT status FROM pg_stat_wal_receiver),
                        pg_last_xact_replay_timestamp()::text,
                        EXISTS (SELECT 1 FROM pg_settings WHERE pending_restart)",
                &[],
            )
            .await
            .context("querying server state")?;
        let lsn = |i: usize| {
            row.get::<_, Option<String>>(i)
                .and_then(|s| Lsn::parse(&s))
                .map(|l| l.0)
        };
        let mut timeline = row.get::<_, Option<i32>>(4).map(|t| t as u32);
        if row.get::<_, bool>(0) {
            // Without a walreceiver the query falls back to the last restartpoint's timeline,
            // which lags behind a timeline switch already replayed: the WAL files tell better.
            timeline = timeline.max(self.wal_timeline());
        }
        let state = PgState {
            running: true,
            starting: false,
            in_recovery: row.get(0),
            wal_lsn: lsn(1),
            receive_lsn: lsn(2),
            replay_lsn: lsn(3),
            timeline,
            following: self.following(),
            crashed: false,
            start_failures: 0,
            receiver_down_for: None,
            starting_for: None,
        };
        let mut info = ServerInfo {
            server_version: row.get::<_, i32>(5) as i64,
            postmaster_start_time: row.get(6),
            receiver_status: row.get(7),
            replay_timestamp: row.get(8),
            pending_restart: row.get(9),
            replication: vec![],
        };
        if !state.in_recovery {
            for r in c
                .query(
                    "SELECT usename::text, application_name, client_addr::text, state, sync_state, sync_priority
                     FROM pg_stat_replication",
                    &[],
                )
                .await
                .unwrap_or_default()
            {
                info.replication.push(serde_json::json!({
                    "usename": r.get::<_, Option<String>>(0),
                    "application_name": r.get::<_, Option<String>>(1),
                    "client_addr": r.get::<_, Option<String>>(2),
                    "state": r.get::<_, Option<String>>(3),
                    "sync_state": r.get::<_, Option<String>>(4),
                    "sync_priority": r.get::<_, Option<i32>>(5),
                }));
            }
        }
        Ok((state, info))
    }

    /// Promotes the standby (`pg_promote(wait => true)`), waiting up to 60 s.
    ///
    /// # Errors
    /// Promotion failed or timed out.
    pub async fn promote(&self) -> Result<()> {
        let c = self.connect().await?;
        // pg_promote(wait => true) checks for the end of recovery only every 100 ms; asking
        // without waiting and polling every 5 ms makes the primary writable sooner.
        c.query_one("SELECT pg_promote(false)", &[])
            .await
            .context("running pg_promote()")?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let in_recovery: bool = c
                .query_one("SELECT pg_is_in_recovery()", &[])
                .await
                .context("waiting for the promotion to finish")?
                .get(0);
            if !in_recovery {
                break;
            }
            if Instant::now() > deadline {
                bail!("the promotion did not finish within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let signal = self.data_dir.join("standby.signal");
        let _ = std::fs::remove_file(signal);
        *self.following.lock().expect("not poisoned") = None;
        Ok(())
    }

    /// Creates or updates the superuser, replication and rewind roles (after bootstrap).
    ///
    /// # Errors
    /// SQL failed.
    pub async fn create_roles(&self) -> Result<()> {
        let c = self.connect().await?;
        let a = &self.cfg().postgresql.authentication;
        let ident = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let lit = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let su = a.superuser.username.as_deref().unwrap_or("postgres");
        if let Some(p) = &a.superuser.password {
            c.batch_execute(&format!(
                "ALTER ROLE {} WITH SUPERUSER LOGIN PASSWORD {}",
                ident(su),
                lit(p)
            ))
            .await
            .context("setting the superuser password")?;
        }
        let mut roles = vec![(&a.replication, "REPLICATION LOGIN")];
        if let Some(r) = &a.rewind {
            roles.push((r, "LOGIN"));
        }
        for (cred, attrs) in roles {
            let Some(user) = cred.username.as_deref() else {
                continue;
            };
            if user == su {
                continue;
            }
            let pw = cred
                .password
                .as_deref()
                .map(|p| format!(" PASSWORD {}", lit(p)))
                .unwrap_or_default();
            let sql = format!(
                "DO $$BEGIN
                   IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {l}) THEN
                     EXECUTE {alter};
                   ELSE
                     EXECUTE {create};
                   END IF;
                 END$$",
                l = lit(user),
                alter = lit(&format!("ALTER ROLE {} WITH {attrs}{pw}", ident(user))),
                create = lit(&format!("CREATE ROLE {} WITH {attrs}{pw}", ident(user))),
            );
            c.batch_execute(&sql)
                .await
                .with_context(|| format!("creating role {user}"))?;
        }
        if let Some(r) = &a.rewind {
            if let Some(user) = r.username.as_deref().filter(|u| *u != su) {
                for f in [
                    "pg_catalog.pg_ls_dir(text, boolean, boolean)",
                    "pg_catalog.pg_stat_file(text, boolean)",
                    "pg_catalog.pg_read_binary_file(text)",
                    "pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)",
                ] {
                    c.batch_execute(&format!("GRANT EXECUTE ON FUNCTION {f} TO {}", ident(user)))
                        .await
                        .with_context(|| format!("granting {f} to {user}"))?;
                }
            }
        }
        Ok(())
    }

    /// Runs `bootstrap.post_bootstrap` (or its older name `post_init`) with a connection URL to
    /// the new primary as its argument, as Patroni does; passwords come from the pgpass file.
    ///
    /// # Errors
    /// The script failed.
    pub async fn run_post_bootstrap(&self) -> Result<()> {
        let other = &self.cfg().bootstrap.other;
        let Some(cmd) = other
            .get("post_bootstrap")
            .or_else(|| other.get("post_init"))
            .and_then(Json::as_str)
        else {
            return Ok(());
        };
        let (host, port) = split_host_port(&self.cfg().postgresql.listen);
        let cfg = self.cfg();
        let user = cfg
            .postgresql
            .authentication
            .superuser
            .username
            .as_deref()
            .unwrap_or("postgres");
        let url = format!("postgres://{user}@{host}:{port}/postgres");
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{cmd} \"$1\""))
            .arg("sh")
            .arg(&url)
            .env("PGPASSFILE", self.pgpass_path())
            .stdin(Stdio::null())
            .output()
            .await
            .context("running bootstrap.post_bootstrap")?;
        if !out.status.success() {
            bail!(
                "bootstrap.post_bootstrap {cmd:?} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        tracing::info!("ran bootstrap.post_bootstrap");
        Ok(())
    }

    /// Takes a base backup from `from` into the (empty) data directory.
    ///
    /// # Errors
    /// pg_basebackup failed; the partial directory is removed.
    pub async fn basebackup(&self, from: &Upstream) -> Result<()> {
        let rep = &self.cfg().postgresql.authentication.replication;
        let mut cmd = self.command("pg_basebackup");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .arg("-X")
            .arg("stream")
            .arg("-c")
            .arg("fast")
            .arg("-d")
            .arg(self.conninfo(&from.host, from.port, rep, "postgres"));
        if let Some(Json::Object(m)) = &self.cfg().postgresql.basebackup {
            for (k, v) in m {
                if k != "checkpoint" {
                    cmd.arg(format!(
                        "--{k}={}",
                        v.as_str()
                            .map(String::from)
                            .unwrap_or_else(|| v.to_string())
                    ));
                }
            }
        }
        let out = cmd.output().await.context("running pg_basebackup")?;
        if !out.status.success() {
            let _ = self.remove_data_dir();
            bail!(
                "pg_basebackup from {} failed: {}",
                from.name,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// Rewinds the stopped data directory to `from`'s timeline with pg_rewind (which runs crash
    /// recovery in single-user mode first when the server was not shut down cleanly, PostgreSQL 13+).
    ///
    /// # Errors
    /// pg_rewind failed.
    pub async fn rewind(&self, from: &Upstream) -> Result<()> {
        let a = &self.cfg().postgresql.authentication;
        let role = a.rewind.as_ref().unwrap_or(&a.superuser);
        let out = self
            .command("pg_rewind")
            .arg("-D")
            .arg(&self.data_dir)
            .arg(format!(
                "--source-server={}",
                self.conninfo(&from.host, from.port, role, "postgres")
            ))
            .output()
            .await
            .context("running pg_rewind")?;
        if !out.status.success() {
            bail!(
                "pg_rewind from {} failed: {}{}",
                from.name,
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            );
        }
        Ok(())
    }

    /// Removes the data directory (before a fresh basebackup).
    ///
    /// # Errors
    /// Not removable.
    pub fn remove_data_dir(&self) -> Result<()> {
        if self.data_dir.exists() {
            std::fs::remove_dir_all(&self.data_dir)
                .with_context(|| format!("removing {}", self.data_dir.display()))?;
        }
        Ok(())
    }

    /// Moves a failed bootstrap's data directory aside to `<data_dir>.failed`.
    pub fn move_aside_failed(&self) {
        let mut p = self.data_dir.clone().into_os_string();
        p.push(".failed");
        let _ = std::fs::remove_dir_all(&p);
        let _ = std::fs::rename(&self.data_dir, &p);
    }

    /// The physical replication slots, with whether a walsender uses each (`active`).
    ///
    /// # Errors
    /// SQL failed.
    pub async fn physical_slots(&self) -> Result<Vec<(String, bool)>> {
        let c = self.connect().await?;
        let rows = c
            .query("SELECT slot_name::text, active FROM pg_replication_slots WHERE slot_type = 'physical'", &[])
            .await
            .context("reading pg_replication_slots")?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Creates the physical slots `create` (reserving WAL at once) and drops the slots `drop`,
    /// as the primary's slot plan says.
    ///
    /// # Errors
    /// A creation failed (a failed drop is logged: the slot may have become active meanwhile).
    pub async fn apply_slots(&self, create: &[String], drop: &[String]) -> Result<()> {
        if create.is_empty() && drop.is_empty() {
            return Ok(());
        }
        let c = self.connect().await?;
        for w in create {
            c.execute("SELECT pg_create_physical_replication_slot($1, true)", &[w])
                .await
                .with_context(|| format!("creating replication slot {w}"))?;
            tracing::info!("created physical replication slot {w}");
        }
        for n in drop {
            match c.execute("SELECT pg_drop_replication_slot($1)", &[n]).await {
                Ok(_) => tracing::info!(
                    "dropped physical replication slot {n} of a member gone for member_slots_ttl"
                ),
                Err(e) => tracing::warn!("dropping replication slot {n}: {e}"),
            }
        }
        Ok(())
    }

    /// CHECKPOINT (before a graceful demote, to shorten the shutdown checkpoint).
    pub async fn checkpoint(&self) {
        if let Ok(c) = self.connect().await {
            let _ = c.batch_execute("CHECKPOINT").await;
        }
    }

    /// Reads the `.history` file of `timeline` and returns the switch row for `/history`:
    /// `(parent timeline, switch LSN bytes, reason)`.
    pub fn timeline_switch(&self, timeline: u32) -> Option<(u32, u64, String)> {
        let path = self
            .data_dir
            .join("pg_wal")
            .join(format!("{timeline:08X}.history"));
        let text = std::fs::read_to_string(path).ok()?;
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty() && !l.starts_with('#'))?;
        let mut parts = last.split('\t');
        let tl: u32 = parts.next()?.trim().parse().ok()?;
        let lsn = Lsn::parse(parts.next()?.trim())?.0;
        let reason = parts.next().unwrap_or("").trim().to_string();
        Some((tl, lsn, reason))
    }
}

/// `synchronous_standby_names` text for `names` with `count` synchronous standbys (FIRST
/// semantics): `a`, or `2 (a,b)`; names that are not plain lower-case identifiers are double-quoted.
pub fn guc_value(names: &[String], count: usize) -> String {
    let quote = |n: &String| {
        let plain = n
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n != "first"
            && n != "any";
        if plain {
            n.clone()
        } else {
            format!("\"{}\"", n.replace('"', "\"\""))
        }
    };
    let mut sorted: Vec<String> = names.iter().map(quote).collect();
    sorted.sort();
    match sorted.len() {
        0 => String::new(),
        1 => sorted[0].clone(),
        _ => format!("{} ({})", count.min(sorted.len()), sorted.join(",")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn synchronous_standby_names_text() {
        assert_eq!(guc_value(&v(&["c", "b"]), 2), "2 (b,c)");
        assert_eq!(guc_value(&v(&["node-1"]), 1), "\"node-1\"");
        assert_eq!(guc_value(&[], 1), "");
    }
}
