//! Read-only observation of the local server: the data directory (`pg_controldata`), the server
//! state in one query over a kept connection, `pg_stat_replication`, physical slots, timeline
//! history.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};

use super::session::Session;
use super::{parse, split_host_port, LocalPostgres, ServerInfo};
use crate::types::{DataDir, Lsn, PgState, ReplicationRow};

/// A connection configuration for the superuser `su` to database `dbname` on `port` (the host
/// is set by the caller), named `praetor`, with a 3 s connect timeout.
fn superuser_config(
    su: &crate::config::Credentials,
    port: u16,
    dbname: &str,
) -> tokio_postgres::Config {
    let mut cfg = tokio_postgres::Config::new();
    cfg.port(port)
        .user(su.username.as_deref().unwrap_or("postgres"))
        .dbname(dbname)
        .application_name("praetor")
        .connect_timeout(Duration::from_secs(3));
    if let Some(p) = &su.password {
        cfg.password(p);
    }
    cfg
}

/// A superuser connection with `su` to database `dbname` at `host:port` (TLS as
/// `postgresql.authentication.superuser` says), within 3 s.
async fn connect_remote_as(
    su: crate::config::Credentials,
    host: &str,
    port: u16,
    dbname: &str,
) -> Result<tokio_postgres::Client> {
    let mut cfg = superuser_config(&su, port, dbname);
    cfg.host(host);
    tokio::time::timeout(
        Duration::from_secs(3),
        crate::tls::pg_connect(&mut cfg, &su, "postgresql.authentication.superuser"),
    )
    .await
    .map_err(|_| anyhow!("connecting to PostgreSQL at {host}:{port}: timed out"))?
}

/// Whether `e` is the server refusing a password or role (SQLSTATE class 28).
pub fn is_auth_failure(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<tokio_postgres::Error>()
            .and_then(|e| e.code())
            .is_some_and(|code| code.code().starts_with("28"))
    })
}

impl LocalPostgres {
    /// Reads `pg_controldata`. While the same postmaster keeps running the answer is reused (its
    /// system identifier cannot change, and the other fields only matter once it has stopped), so
    /// an idle cycle starts no process; a removed data directory is still noticed at once.
    pub async fn data_dir_state(&self) -> DataDir {
        self.data_dir_state_with(self.postmaster_pid()).await
    }

    /// [`LocalPostgres::data_dir_state`] with the postmaster's pid already read this cycle
    /// ([`LocalPostgres::postmaster_pid`]), so a cycle reads `postmaster.pid` once.
    pub async fn data_dir_state_with(&self, pid: Option<i32>) -> DataDir {
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
        parse::controldata(&out, d.join("backup_label").exists())
    }

    /// The highest timeline among the WAL segment files in `pg_wal` (names of 24 hexadecimal
    /// digits, the first 8 being the timeline). A standby has such files for a timeline only once
    /// it has received WAL on it. `None` when there are none or the directory is unreadable.
    pub fn wal_timeline(&self) -> Option<u32> {
        std::fs::read_dir(self.data_dir.join("pg_wal"))
            .ok()?
            .filter_map(|e| parse::segment_timeline(e.ok()?.file_name().to_str()?))
            .max()
    }

    /// Connects to the local server as the superuser.
    ///
    /// # Errors
    /// Not reachable or authentication failed.
    pub async fn connect(&self) -> Result<tokio_postgres::Client> {
        self.connect_db("postgres").await
    }

    /// Connects to database `dbname` of the local server as the superuser. When the server
    /// refuses the configured credentials and reloads changed them, the earlier ones are tried
    /// (the role's password may not have been changed yet).
    ///
    /// # Errors
    /// Not reachable or authentication failed.
    pub async fn connect_db(&self, dbname: &str) -> Result<tokio_postgres::Client> {
        let (host, port) = split_host_port(&self.cfg().postgresql.listen);
        let su = self.cfg().postgresql.authentication.superuser.clone();
        self.with_earlier_superusers(&su, |su| self.connect_local_as(su, &host, port, dbname))
            .await
    }

    /// Runs `connect` with `su`, and when the server refuses them, with each of the superuser's
    /// earlier credentials in turn ([`LocalPostgres::earlier_superusers`]); the first error is
    /// returned when none is accepted.
    pub async fn with_earlier_superusers<'a, F, Fut>(
        &self,
        su: &'a crate::config::Credentials,
        connect: F,
    ) -> Result<tokio_postgres::Client>
    where
        F: Fn(crate::config::Credentials) -> Fut,
        Fut: std::future::Future<Output = Result<tokio_postgres::Client>>,
    {
        let first = match connect(su.clone()).await {
            Err(e) if is_auth_failure(&e) => e,
            r => return r,
        };
        for earlier in self.earlier_superusers() {
            if earlier != *su {
                if let Ok(c) = connect(earlier).await {
                    return Ok(c);
                }
            }
        }
        Err(first)
    }

    async fn connect_local_as(
        &self,
        su: crate::config::Credentials,
        host: &str,
        port: u16,
        dbname: &str,
    ) -> Result<tokio_postgres::Client> {
        let mut cfg = superuser_config(&su, port, dbname);
        if let Some(dir) = self.local_socket_dir() {
            // use_unix_socket: no TLS over the socket (libpq ignores sslmode there too).
            cfg.host_path(&dir);
            let (client, conn) = tokio::time::timeout(
                Duration::from_secs(3),
                cfg.connect(tokio_postgres::NoTls),
            )
            .await
            .map_err(|_| {
                anyhow!("connecting to local PostgreSQL through {dir}/.s.PGSQL.{port}: timed out")
            })?
            .with_context(|| {
                format!("connecting to local PostgreSQL through {dir}/.s.PGSQL.{port}")
            })?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            return Ok(client);
        }
        connect_remote_as(su, host, port, dbname).await
    }

    /// Connects to database `dbname` of another member's server at `host:port` as the
    /// superuser (TLS as `postgresql.authentication.superuser` says), falling back to earlier
    /// credentials as [`LocalPostgres::connect_db`] does.
    ///
    /// # Errors
    /// Not reachable or authentication failed.
    pub async fn connect_to(
        &self,
        host: &str,
        port: u16,
        dbname: &str,
    ) -> Result<tokio_postgres::Client> {
        let su = self.cfg().postgresql.authentication.superuser.clone();
        self.with_earlier_superusers(&su, |su| connect_remote_as(su, host, port, dbname))
            .await
    }

    /// Connects to database `dbname` of the local server (`addr` `None`) or of the server at
    /// `addr` with the configured superuser credentials only (no fallback): whether they are
    /// accepted is what the caller wants to know.
    ///
    /// # Errors
    /// Not reachable or authentication failed ([`is_auth_failure`]).
    pub async fn connect_configured(
        &self,
        addr: Option<(&str, u16)>,
        dbname: &str,
    ) -> Result<tokio_postgres::Client> {
        let su = self.cfg().postgresql.authentication.superuser.clone();
        match addr {
            None => {
                let (host, port) = split_host_port(&self.cfg().postgresql.listen);
                self.connect_local_as(su, &host, port, dbname).await
            }
            Some((host, port)) => connect_remote_as(su, host, port, dbname).await,
        }
    }

    /// The one connection the agent keeps to its server across cycles, so an idle agent makes no
    /// new session (no backend fork, no authentication, no `log_connections` line per cycle). It
    /// is taken out while in use and given back by [`LocalPostgres::keep_client`] after a
    /// success; a query cut short (the caller's timeout drops it) or a failure drops it, and the
    /// next use connects again.
    ///
    /// # Errors
    /// No kept connection and a new one cannot be made.
    pub(super) async fn kept_client(&self) -> Result<Session> {
        let cached = self.state_client.lock().await.take();
        match cached.filter(|c| !c.is_closed()) {
            Some(c) => Ok(c),
            None => Ok(Session::new(self.connect().await?)),
        }
    }

    /// Gives the connection taken by [`LocalPostgres::kept_client`] back for the next use.
    pub(super) async fn keep_client(&self, c: Session) {
        *self.state_client.lock().await = Some(c);
    }

    /// Queries role, timeline, LSNs, replay pause, the WAL receiver's status and `latest_end_lsn`
    /// of the running server, and a primary's `pg_stat_replication` rows, in one prepared query
    /// over the kept connection, and the settings
    /// waiting for a restart only when the server loaded its configuration since they were last
    /// read (`pg_conf_load_time()` or the postmaster changed): scanning `pg_settings` every
    /// cycle cost the server more than everything else the agent asks.
    ///
    /// # Errors
    /// Not running or query failed.
    pub async fn query_state(&self) -> Result<(PgState, ServerInfo)> {
        let mut c = self.kept_client().await?;
        let mut c = match self.query_state_on(&mut c).await {
            Ok(r) => {
                self.keep_client(c).await;
                return Ok(r);
            }
            // The server ended the kept session (idle_session_timeout, pg_terminate_backend):
            // that says nothing about the server, so ask once more on a new one.
            Err(_) if c.is_closed() => Session::new(self.connect().await?),
            Err(e) => return Err(e),
        };
        let r = self.query_state_on(&mut c).await?;
        self.keep_client(c).await;
        Ok(r)
    }

    async fn query_state_on(&self, c: &mut Session) -> Result<(PgState, ServerInfo)> {
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
                        pg_conf_load_time()::text,
                        CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END,
                        (SELECT latest_end_lsn FROM pg_stat_wal_receiver)::text,
                        CASE WHEN NOT pg_is_in_recovery()
                             THEN (SELECT json_agg(json_build_object(
                                       'usename', usename, 'application_name', application_name,
                                       'client_addr', client_addr::text, 'state', state,
                                       'sync_state', sync_state, 'sync_priority', sync_priority))
                                     FROM pg_stat_replication)::text END",
                &[],
            )
            .await
            .context("querying server state")?;
        let lsn = |i: usize| row.get::<_, Option<String>>(i).and_then(|s| Lsn::parse(&s));
        let mut timeline = row.get::<_, Option<i32>>(4).map(|t| t as u32);
        if row.get::<_, bool>(0) && row.get::<_, Option<String>>(7).is_none() {
            // Without a walreceiver the query falls back to the last restartpoint's timeline,
            // which lags behind a timeline switch already replayed: the WAL files tell better.
            // (With one, its received timeline is current and pg_wal is not listed.)
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
        let loaded = (
            row.get::<_, Option<String>>(9),
            row.get::<_, Option<String>>(6),
        );
        let cached = self
            .pending_cache
            .lock()
            .expect("not poisoned")
            .clone()
            .filter(|p| p.loaded == loaded);
        let pending = match cached {
            Some(p) => p,
            None => {
                let read = pending_restarts(c, loaded).await?;
                *self.pending_cache.lock().expect("not poisoned") = Some(read.clone());
                read
            }
        };
        let mut info = ServerInfo {
            server_version: row.get::<_, i32>(5) as i64,
            postmaster_start_time: row.get(6),
            receiver_status: row.get(7),
            replay_timestamp: row.get(8),
            replay_paused: row.get(10),
            latest_end_lsn: lsn(11),
            pending_restart: pending.pending,
            pending_restart_reason: pending.reason,
            replication: vec![],
        };
        // A primary's pg_stat_replication rows, asked in the same round trip.
        if let Some(rows) = row.get::<_, Option<String>>(12) {
            info.replication =
                serde_json::from_str(&rows).context("reading pg_stat_replication")?;
        }
        Ok((state, info))
    }

    /// `synchronous_standby_names` as the running server has it (`SHOW`).
    ///
    /// # Errors
    /// Query failed.
    pub async fn synchronous_standby_names(&self) -> Result<String> {
        let mut c = self.kept_client().await?;
        let v: String = c
            .query_one("SHOW synchronous_standby_names", &[])
            .await
            .context("reading synchronous_standby_names")?
            .get(0);
        self.keep_client(c).await;
        Ok(v)
    }

    /// `pg_stat_replication` as the sync planner needs it.
    ///
    /// # Errors
    /// Query failed.
    pub async fn replication_rows(&self) -> Result<Vec<ReplicationRow>> {
        let mut c = self.kept_client().await?;
        let rows = c
            .query(
                "SELECT application_name, state, sync_state, COALESCE(flush_lsn, '0/0')::text FROM pg_stat_replication",
                &[],
            )
            .await
            .context("reading pg_stat_replication")?;
        self.keep_client(c).await;
        Ok(rows
            .iter()
            .map(|r| ReplicationRow {
                name: r.get::<_, Option<String>>(0).unwrap_or_default(),
                state: r.get::<_, Option<String>>(1).unwrap_or_default(),
                sync_state: r.get::<_, Option<String>>(2).unwrap_or_default(),
                flush_lsn: r
                    .get::<_, Option<String>>(3)
                    .and_then(|l| Lsn::parse(&l))
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// Reads the `.history` file of `timeline` and returns the switch row for `/history`:
    /// `(parent timeline, switch LSN bytes, reason)`.
    pub fn timeline_switch(&self, timeline: u32) -> Option<(u32, Lsn, String)> {
        let path = self
            .data_dir
            .join("pg_wal")
            .join(format!("{timeline:08X}.history"));
        let text = std::fs::read_to_string(path).ok()?;
        parse::history_last_switch(&text)
    }
}

/// The settings waiting for a restart (`pg_settings.pending_restart`) and Patroni's
/// `pending_restart_reason` for them, read after the server loaded its configuration (`loaded`:
/// when, and the postmaster's start time).
///
/// # Errors
/// The query failed.
async fn pending_restarts(
    c: &mut Session,
    loaded: (Option<String>, Option<String>),
) -> Result<super::PendingRead> {
    let row = c
        .query_one(
            "SELECT (SELECT json_object_agg(name, current_setting(name))
                       FROM pg_settings WHERE pending_restart)::text",
            &[],
        )
        .await
        .context("reading pg_settings.pending_restart")?;
    let in_force: Option<String> = row.get(0);
    let reason = match &in_force {
        Some(text) => pending_restart_reason(c, text).await,
        None => Default::default(),
    };
    Ok(super::PendingRead {
        loaded,
        pending: in_force.is_some(),
        reason,
    })
}

/// Patroni's `pending_restart_reason` for the settings `in_force` names (a JSON object of name →
/// value in force, from the state query): each with the value the configuration files now give,
/// read from `pg_file_settings` (the last line that sets it wins; `?` when none does, or when the
/// view cannot be read). Only asked while a restart is pending, so an idle cycle stays one query.
async fn pending_restart_reason(
    c: &tokio_postgres::Client,
    in_force: &str,
) -> BTreeMap<String, (String, String)> {
    let old: BTreeMap<String, String> = serde_json::from_str(in_force).unwrap_or_default();
    let names: Vec<String> = old.keys().map(|n| n.to_lowercase()).collect();
    let mut new = BTreeMap::new();
    if let Ok(rows) = c
        .query(
            "SELECT lower(name), setting FROM pg_file_settings
             WHERE lower(name) = ANY($1) AND setting IS NOT NULL ORDER BY seqno",
            &[&names],
        )
        .await
    {
        for r in rows {
            new.insert(r.get::<_, String>(0), r.get::<_, String>(1));
        }
    }
    old.into_iter()
        .map(|(name, value)| {
            let next = new
                .get(&name.to_lowercase())
                .cloned()
                .unwrap_or_else(|| "?".into());
            (name, (value, next))
        })
        .collect()
}
