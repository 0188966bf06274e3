//! Operations that change the local server: write its configuration files, initdb, promote,
//! roles, post_bootstrap, pg_basebackup, pg_rewind, slots, reload, checkpoint. Each carries out one
//! step the core planned.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value as Json;

use super::{render, split_host_port, LocalPostgres, Upstream};
use crate::config::DynamicConfig;

impl LocalPostgres {
    /// Writes postgresql.conf, pg_hba.conf and pg_ident.conf (when the configuration gives
    /// their lines: [`render::pg_hba_lines`], [`render::pg_ident_lines`]) and (for a standby)
    /// standby.signal.
    ///
    /// # Errors
    /// Files not writable.
    pub fn write_config(
        &self,
        dynamic: &DynamicConfig,
        upstream: Option<&Upstream>,
        standby: bool,
    ) -> Result<()> {
        self.write_config_as(dynamic, upstream, standby, None)
    }

    /// Writes the configuration a restored backup recovers with during a custom bootstrap
    /// (Patroni's `_custom_bootstrap`): with `recovery_conf` its settings and `recovery.signal`
    /// (`standby.signal` with `standby_mode`); with `keep_existing_recovery_conf` what the
    /// restore left (signal files, `postgresql.auto.conf`) untouched; otherwise no recovery
    /// settings at all. `hot_standby` is off while keeping the restore's settings or when the
    /// recovery promotes at its target, as Patroni runs it.
    ///
    /// # Errors
    /// Files not writable.
    pub fn write_config_for_restore(
        &self,
        dynamic: &DynamicConfig,
        method: &crate::config::backup::CustomBootstrap,
    ) -> Result<()> {
        self.write_config_as(dynamic, None, false, Some(method))
    }

    fn write_config_as(
        &self,
        dynamic: &DynamicConfig,
        upstream: Option<&Upstream>,
        standby: bool,
        restore: Option<&crate::config::backup::CustomBootstrap>,
    ) -> Result<()> {
        let d = &self.data_dir;
        let dir = self.conf_dir();
        let conf = dir.join("postgresql.conf");
        let custom_conf = self.cfg().postgresql.custom_conf.clone();
        if let Some(custom) = &custom_conf {
            // Patroni includes it with `include`, which fails the start when it is missing.
            let path = dir.join(custom);
            if !path.is_file() {
                bail!(
                    "postgresql.custom_conf: {} is not a file PostgreSQL can include",
                    path.display()
                );
            }
        } else {
            let base = dir.join("postgresql.base.conf");
            if !base.exists() {
                let unmanaged = |p: &Path| {
                    std::fs::read_to_string(p).is_ok_and(|t| !t.contains(render::MANAGED_MARK))
                };
                if unmanaged(&conf) {
                    // The server's own settings (initdb's, or the package's in config_dir) are
                    // kept and included, as Patroni keeps them.
                    std::fs::rename(&conf, &base)?;
                } else if dir != *d && unmanaged(&d.join("postgresql.conf")) {
                    // A fresh config_dir: initdb's settings from the data directory.
                    std::fs::copy(d.join("postgresql.conf"), &base)?;
                } else {
                    std::fs::write(&base, "")?;
                }
            }
        }
        let cfg = self.cfg();
        let default_dir = Path::new("/var/run/postgresql");
        let socket_dir = (!default_dir.is_dir()
            || nix::unistd::access(default_dir, nix::unistd::AccessFlags::W_OK).is_err())
        .then(|| {
            d.parent()
                .unwrap_or(Path::new("/tmp"))
                .display()
                .to_string()
        });
        // The recovery settings, the signal file and whether postgresql.auto.conf keeps what
        // a restore wrote into it.
        let keep_existing =
            restore.is_some_and(|b| b.keep_existing_recovery_conf && b.recovery_conf.is_none());
        let (recovery, signal, hot_standby_off) = match restore {
            None if standby => (
                self.standby_recovery(dynamic, upstream),
                Some("standby.signal"),
                false,
            ),
            None => (Default::default(), None, false),
            Some(b) => match &b.recovery_conf {
                Some(conf) => {
                    let (params, standby_mode, promotes) = render::bootstrap_recovery_params(conf);
                    let signal = if standby_mode {
                        "standby.signal"
                    } else {
                        "recovery.signal"
                    };
                    (
                        params,
                        Some(signal),
                        promotes || b.keep_existing_recovery_conf,
                    )
                }
                None => (Default::default(), None, keep_existing),
            },
        };
        let mut recovery = recovery;
        // PostgreSQL 16 removed promote_trigger_file: Patroni leaves it out there.
        if self.data_major_version().is_some_and(|v| v >= 16)
            && recovery.remove("promote_trigger_file").is_some()
        {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "recovery_conf: promote_trigger_file (trigger_file) is not written: PostgreSQL 16 and later have no such setting"
                )
            });
        }
        let sync = self.sync_standbys.lock().expect("not poisoned").clone();
        let rep = &cfg.postgresql.authentication.replication;
        let inputs = render::ConfInputs {
            upstream: upstream.map(|u| {
                let ci = match &u.remote {
                    // Only the archive: no connection string.
                    Some(_) if u.host.trim().is_empty() => String::new(),
                    // Several hosts: the one that accepts writes (Patroni).
                    Some(_) if u.host.contains(',') => format!(
                        "{} target_session_attrs=read-write",
                        self.conninfo(&u.host, u.port, rep, "postgres")
                    ),
                    _ => self.conninfo(&u.host, u.port, rep, "postgres"),
                };
                (u.name.as_str(), ci)
            }),
            remote_slot: upstream
                .and_then(|u| u.remote.as_ref())
                .map(|sc| sc.primary_slot_name.clone()),
            standby,
            sync_standbys: (&sync.0, sync.1),
            quorum_standbys: self.quorum_standbys().map(|q| q.render()),
            citus_library: self.citus_library_installed(),
            socket_dir,
            config_dir: self.config_dir(),
            custom_conf: custom_conf.as_deref().map(|p| p.display().to_string()),
            recovery,
            hot_standby_off,
        };
        let text = render::postgresql_conf(&cfg, dynamic, &inputs);
        std::fs::write(&conf, text).with_context(|| format!("writing {}", conf.display()))?;
        self.write_auth_files(dynamic)?;
        if !keep_existing {
            // postgresql.auto.conf may have come from another member (basebackup/rewind) or a
            // restore tool: recovery settings are the agent's alone.
            let auto = d.join("postgresql.auto.conf");
            if auto.exists() {
                let text = std::fs::read_to_string(&auto)?;
                let kept = render::strip_auto_conf(&text);
                if kept != text {
                    std::fs::write(&auto, kept)?;
                }
            }
            for name in ["standby.signal", "recovery.signal"] {
                let path = d.join(name);
                if Some(name) == signal {
                    std::fs::write(&path, "")?;
                } else if path.exists() {
                    std::fs::remove_file(&path)?;
                }
            }
        }
        *self.following.lock().expect("not poisoned") = upstream.map(|u| u.name.clone());
        Ok(())
    }

    /// A standby's recovery settings: `recovery_conf`, and in a standby cluster the
    /// `standby_cluster` archive commands (and, on the standby leader, its apply delay) over
    /// them, as Patroni's `build_recovery_params` writes them.
    fn standby_recovery(
        &self,
        dynamic: &DynamicConfig,
        upstream: Option<&Upstream>,
    ) -> std::collections::BTreeMap<String, String> {
        let mut conf = self.cfg().recovery_conf(dynamic);
        if let Some(sc) = &dynamic.standby_cluster {
            let remote = upstream.is_some_and(|u| u.remote.is_some());
            for (k, v) in [
                ("restore_command", &sc.restore_command),
                ("archive_cleanup_command", &sc.archive_cleanup_command),
                (
                    "recovery_min_apply_delay",
                    if remote {
                        &sc.recovery_min_apply_delay
                    } else {
                        &None
                    },
                ),
            ] {
                if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                    conf.insert(k.to_string(), v.to_string());
                }
            }
        }
        render::standby_recovery_params(&conf)
    }

    /// The directory of `postgresql.conf`, `postgresql.base.conf`, `pg_hba.conf` and
    /// `pg_ident.conf`: `postgresql.config_dir`, else the data directory (Patroni's default).
    pub fn conf_dir(&self) -> std::path::PathBuf {
        self.cfg()
            .postgresql
            .config_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.clone())
    }

    /// [`LocalPostgres::conf_dir`] as an absolute path, as the postmaster (started from this
    /// process's working directory) and Patroni (`os.path.abspath`) name it
    /// ([`render::absolute_dir`]).
    fn config_dir(&self) -> Option<String> {
        let cwd = std::env::current_dir().unwrap_or_default();
        render::absolute_dir(&cwd, &self.conf_dir())
    }

    /// The major version of the data directory (`PG_VERSION`), if it can be read.
    fn data_major_version(&self) -> Option<u32> {
        std::fs::read_to_string(self.data_dir.join("PG_VERSION"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// `--config-file=<config_dir>/postgresql.conf` for the server programs (postgres, pg_rewind)
    /// when the configuration lives outside the data directory, as Patroni starts the server.
    pub(super) fn config_file_arg(&self) -> Option<String> {
        let dir = self.conf_dir();
        (dir != self.data_dir)
            .then(|| format!("--config-file={}", dir.join("postgresql.conf").display()))
    }

    /// Brings `pg_hba.conf` and `pg_ident.conf` in the data directory to what the local and
    /// `dynamic` configuration give ([`render::pg_hba_conf`], [`render::pg_ident_conf`]),
    /// writing only a file whose text differs; a file the configuration gives no lines for (or
    /// that `hba_file`/`ident_file` place elsewhere) is left alone. Returns the names of the
    /// files written: PostgreSQL reads them on its next reload (Patroni's `replace_pg_hba` /
    /// `replace_pg_ident`, followed by a reload when they changed).
    ///
    /// # Errors
    /// A file not writable.
    pub fn write_auth_files(&self, dynamic: &DynamicConfig) -> Result<Vec<&'static str>> {
        let cfg = self.cfg();
        let dir = self
            .config_dir()
            .unwrap_or_else(|| self.data_dir.display().to_string());
        let mut written = Vec::new();
        let conf_dir = self.conf_dir();
        for (name, text) in [
            ("pg_hba.conf", render::pg_hba_conf(&cfg, dynamic, &dir)),
            ("pg_ident.conf", render::pg_ident_conf(&cfg, dynamic, &dir)),
        ] {
            let path = conf_dir.join(name);
            let Some(text) = text else {
                // A fresh config_dir and no lines configured: the data directory's file
                // (initdb's, or the copy from the primary) serves, as Patroni restores it.
                let own = self.data_dir.join(name);
                if conf_dir != self.data_dir && !path.exists() && own.is_file() {
                    std::fs::copy(&own, &path).with_context(|| {
                        format!("copying {} to {}", own.display(), path.display())
                    })?;
                }
                continue;
            };
            if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
                continue;
            }
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            written.push(name);
        }
        Ok(written)
    }

    /// Runs initdb with `bootstrap.initdb` options; the superuser password goes through a temporary
    /// file (`--pwfile`), never argv.
    ///
    /// # Errors
    /// initdb failed; the message has its stderr.
    pub async fn initdb(&self) -> Result<()> {
        let mut cmd = self.command("initdb");
        cmd.arg("-D").arg(&self.data_dir);
        let cfg = self.cfg();
        cmd.args(render::initdb_args(&cfg));
        let su = &cfg.postgresql.authentication.superuser;
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
        // Through the socket with use_unix_socket (its directory percent-encoded as the host).
        let host = match self.local_socket_dir() {
            Some(dir) => dir.replace('/', "%2F"),
            None => host,
        };
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
    /// pg_basebackup failed; the partial copy is removed (the directory itself stays).
    pub async fn basebackup(&self, from: &Upstream) -> Result<()> {
        let rep = &self.cfg().postgresql.authentication.replication;
        let mut cmd = self.command("pg_basebackup");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .arg("-X")
            .arg("stream")
            .arg("-d")
            .arg(self.conninfo(&from.host, from.port, rep, "postgres"));
        // Exactly the configured options, as Patroni passes them (the key table refused a
        // malformed value and warned about skipped options at start).
        if let Some(v) = &self.cfg().postgresql.basebackup {
            if let Ok((args, _)) = crate::config::basebackup_options(v) {
                cmd.args(args);
            }
        }
        let out = cmd.output().await.context("running pg_basebackup")?;
        if !out.status.success() {
            let _ = self.clear_data_dir();
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
            // pg_rewind has --config-file from PostgreSQL 15 on.
            .args(
                self.config_file_arg()
                    .filter(|_| self.data_major_version() >= Some(15)),
            )
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

    /// Empties the data directory, keeping the directory itself (Patroni removes a data
    /// directory before a replica creation method only when it is not empty): a symbolic link to
    /// a volume stays a link, a mount point stays mounted. Nothing to do when it is missing or
    /// empty.
    ///
    /// # Errors
    /// An entry could not be removed.
    pub fn clear_data_dir(&self) -> Result<()> {
        let entries = match std::fs::read_dir(&self.data_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(e).with_context(|| format!("reading {}", self.data_dir.display()))
            }
        };
        for entry in entries {
            let path = entry?.path();
            let is_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
            let removed = if is_dir {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.with_context(|| format!("removing {}", path.display()))?;
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

    /// Moves a failed bootstrap's data directory aside to `<data_dir>_<YYYY-MM-DD-HH-MM-SS>`
    /// (Patroni's `move_data_directory`), never deleting anything: a name already taken gets a
    /// numbered suffix.
    pub fn move_aside_failed(&self) {
        if !self.data_dir.exists() {
            return;
        }
        let stamp = chrono::Local::now().format("%Y-%m-%d-%H-%M-%S").to_string();
        let base = format!("{}_{stamp}", self.data_dir.display());
        let target = std::iter::once(base.clone())
            .chain((1..).map(|n| format!("{base}.{n}")))
            .find(|p| !std::path::Path::new(p).exists())
            .unwrap_or(base);
        match std::fs::rename(&self.data_dir, &target) {
            Ok(()) => tracing::info!("moved the data directory aside to {target}"),
            Err(e) => tracing::error!(
                "moving the data directory {} aside to {target}: {e}",
                self.data_dir.display()
            ),
        }
    }

    /// Reads the replication slots (`pg_replication_slots`, sorted by name) and, with them,
    /// whether the server is in recovery and its replay position: the facts a slot plan is made
    /// from. Temporary slots (a session's, e.g. pg_basebackup's) are left out, and so are
    /// PostgreSQL 17's failover slots (`failover = true`; PostgreSQL 15 has no such column, and
    /// the row's JSON form is asked so that one query serves both).
    ///
    /// # Errors
    /// Not reachable or the query failed.
    pub async fn replication_slots(&self) -> Result<SlotsRead> {
        let mut c = self.kept_client().await?;
        // One round trip: the recovery state on every row, and one row without a slot when
        // there is none.
        let rows = c
            .query(
                "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,
                        s.slot_name::text, s.slot_type::text, s.database::text, s.plugin::text,
                        s.active, s.restart_lsn::text, s.wal_status::text,
                        s.confirmed_flush_lsn::text
                   FROM (SELECT 1) AS one
                   LEFT JOIN pg_replication_slots s
                     ON NOT s.temporary
                    AND NOT COALESCE((to_jsonb(s) ->> 'failover')::boolean, false)
                  ORDER BY s.slot_name",
                &[],
            )
            .await
            .context("reading pg_replication_slots")?;
        self.keep_client(c).await;
        let lsn = |v: Option<String>| v.and_then(|l| crate::types::Lsn::parse(&l));
        let first = rows
            .first()
            .ok_or_else(|| anyhow::anyhow!("reading pg_replication_slots: no row"))?;
        Ok(SlotsRead {
            in_recovery: first.get(0),
            replay_lsn: lsn(first.get(1)),
            slots: rows
                .iter()
                .filter_map(|r| {
                    Some(SlotRow {
                        name: r.get::<_, Option<String>>(2)?,
                        slot_type: r.get::<_, Option<String>>(3).unwrap_or_default(),
                        database: r.get(4),
                        plugin: r.get(5),
                        active: r.get::<_, Option<bool>>(6).unwrap_or(false),
                        restart_lsn: lsn(r.get(7)),
                        wal_status: r.get(8),
                        confirmed_flush_lsn: lsn(r.get(9)),
                    })
                })
                .collect(),
        })
    }

    /// Creates the physical slots `names`, reserving WAL at once (on a standby from its replay
    /// position). Each failure is logged and the others are still created.
    ///
    /// # Errors
    /// Not reachable.
    pub async fn create_physical_slots(&self, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let c = self.kept_client().await?;
        for n in names {
            match c
                .execute(
                    "SELECT pg_create_physical_replication_slot($1, true)
                      WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
                    &[n],
                )
                .await
            {
                Ok(_) => tracing::info!("created physical replication slot {n}"),
                Err(e) => tracing::warn!("creating physical replication slot {n}: {e}"),
            }
        }
        self.keep_client(c).await;
        Ok(())
    }

    /// Moves each physical slot of `to` forward to its position
    /// (`pg_replication_slot_advance`, which never goes past what this server has replayed).
    /// Each failure is logged and the others are still advanced.
    ///
    /// # Errors
    /// Not reachable.
    pub async fn advance_slots(&self, to: &[(String, crate::types::Lsn)]) -> Result<()> {
        if to.is_empty() {
            return Ok(());
        }
        let c = self.kept_client().await?;
        for (n, lsn) in to {
            let target = lsn.to_string();
            if let Err(e) = c
                .execute(
                    "SELECT pg_replication_slot_advance($1, ($2::text)::pg_lsn)",
                    &[n, &target],
                )
                .await
            {
                tracing::warn!("advancing replication slot {n} to {target}: {e}");
            }
        }
        self.keep_client(c).await;
        Ok(())
    }

    /// Moves logical slot `name` of `database` forward to `lsn` on this server
    /// (`pg_replication_slot_advance`, over a session in that database; on a replica this is how
    /// Patroni keeps a copied slot up with the primary's position).
    ///
    /// # Errors
    /// The database cannot be reached or PostgreSQL refused the advance.
    pub async fn advance_logical_slot(
        &self,
        name: &str,
        database: &str,
        lsn: crate::types::Lsn,
    ) -> Result<()> {
        let c = self
            .connect_db(database)
            .await
            .with_context(|| format!("connecting to database {database}"))?;
        let target = lsn.to_string();
        // Decoding up to the target can take long; the next cycle goes on from where it got.
        c.batch_execute("SET statement_timeout = 5000")
            .await
            .context("setting statement_timeout")?;
        c.execute(
            "SELECT pg_replication_slot_advance($1, ($2::text)::pg_lsn)",
            &[&name, &target],
        )
        .await
        .with_context(|| format!("advancing logical replication slot {name} to {target}"))?;
        Ok(())
    }

    /// Reads the on-disk state of the logical slots `names` from the primary at `from`
    /// (`pg_read_binary_file('pg_replslot/<name>/state')` as the superuser, the query Patroni's
    /// `copy_logical_slots` makes). PostgreSQL 17 failover slots are left out.
    ///
    /// # Errors
    /// The primary cannot be reached or refused the query.
    pub async fn read_slot_states(
        &self,
        from: &Upstream,
        names: &[String],
    ) -> Result<Vec<SlotState>> {
        let c = self.connect_to(&from.host, from.port, "postgres").await?;
        // A primary that accepts the connection but does not answer must not hold the cycle.
        c.batch_execute("SET statement_timeout = 2000")
            .await
            .with_context(|| format!("reading logical slot states from {}", from.name))?;
        let rows = c
            .query(
                "SELECT s.slot_name::text, d.datname::text, s.plugin::text,
                        pg_read_binary_file('pg_replslot/' || s.slot_name || '/state')
                   FROM pg_replication_slots s JOIN pg_database d ON s.datoid = d.oid
                  WHERE s.slot_type = 'logical' AND NOT pg_is_in_recovery()
                    AND NOT COALESCE((to_jsonb(s) ->> 'failover')::boolean, false)
                    AND s.slot_name = ANY($1)",
                &[&names],
            )
            .await
            .with_context(|| format!("reading logical slot states from {}", from.name))?;
        Ok(rows
            .iter()
            .map(|r| SlotState {
                name: r.get(0),
                database: r.get(1),
                plugin: r.get(2),
                state: r.get(3),
            })
            .collect())
    }

    /// Writes each slot of `slots` into `pg_replslot/<name>/state` of the stopped data directory
    /// (through `<name>.tmp`, fsynced, then renamed, with the data directory's permissions), as
    /// Patroni's `copy_logical_slots` does: PostgreSQL reads slots from disk when it starts.
    ///
    /// # Errors
    /// A file could not be written.
    pub fn write_slot_states(&self, slots: &[SlotState]) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let group = std::fs::metadata(&self.data_dir)
            .map(|m| m.permissions().mode() & 0o070 != 0)
            .unwrap_or(false);
        let (dir_mode, file_mode) = if group {
            (0o750, 0o640)
        } else {
            (0o700, 0o600)
        };
        let root = self.data_dir.join("pg_replslot");
        let fsync_dir = |d: &Path| std::fs::File::open(d).and_then(|f| f.sync_all());
        for s in slots {
            let dir = root.join(&s.name);
            let tmp = root.join(format!("{}.tmp", s.name));
            if tmp.exists() {
                std::fs::remove_dir_all(&tmp)?;
            }
            std::fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(dir_mode))?;
            let file = tmp.join("state");
            std::fs::write(&file, &s.state)
                .with_context(|| format!("writing {}", file.display()))?;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(file_mode))?;
            std::fs::File::open(&file)?.sync_all()?;
            fsync_dir(&tmp)?;
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
            std::fs::rename(&tmp, &dir)?;
            fsync_dir(&dir)?;
        }
        fsync_dir(&root)?;
        Ok(())
    }

    /// Creates the logical slot `name` in `database` with `plugin`, over a session of its own
    /// in that database. PostgreSQL waits for the transactions running at that moment to end
    /// before the slot exists, so the wait is cut to `limit` (the cycle goes on; the next one
    /// tries again).
    ///
    /// # Errors
    /// The database cannot be reached, the creation failed (`wal_level` below `logical`, an
    /// unknown plugin, …) or took longer than `limit`.
    pub async fn create_logical_slot(
        &self,
        name: &str,
        database: &str,
        plugin: &str,
        limit: Duration,
    ) -> Result<()> {
        let c = self
            .connect_db(database)
            .await
            .with_context(|| format!("connecting to database {database}"))?;
        c.batch_execute(&format!(
            "SET statement_timeout = {}",
            limit.as_millis().max(1)
        ))
        .await
        .context("setting statement_timeout")?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&name, &plugin];
        let create = c.execute(
            "SELECT pg_create_logical_replication_slot($1, $2)
              WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
            &params,
        );
        match tokio::time::timeout(limit + Duration::from_secs(1), create).await {
            Ok(Ok(_)) => {
                tracing::info!(
                    "created logical replication slot {name} in database {database} with plugin {plugin}"
                );
                Ok(())
            }
            Ok(Err(e)) => Err(anyhow::Error::new(e).context(format!(
                "creating logical replication slot {name} in database {database} with plugin {plugin}"
            ))),
            Err(_) => bail!(
                "creating logical replication slot {name} in database {database}: not done within {} s (it waits for the transactions running to end)",
                limit.as_secs_f64()
            ),
        }
    }

    /// Drops each slot of `names` that no session uses at that moment (a slot that became
    /// active since it was read is kept). `why` ends the log line. Each failure is logged and
    /// the others are still dropped.
    ///
    /// # Errors
    /// Not reachable.
    pub async fn drop_slots(&self, names: &[String], why: &str) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let c = self.kept_client().await?;
        for n in names {
            match c
                .execute(
                    "SELECT pg_drop_replication_slot(slot_name)
                       FROM pg_replication_slots WHERE slot_name = $1 AND NOT active",
                    &[n],
                )
                .await
            {
                Ok(0) => {
                    tracing::info!("replication slot {n} is in use (or gone): not dropped")
                }
                Ok(_) => tracing::info!("dropped replication slot {n}: {why}"),
                Err(e) => tracing::warn!("dropping replication slot {n}: {e}"),
            }
        }
        self.keep_client(c).await;
        Ok(())
    }

    /// `pg_reload_conf()`: the server rereads its configuration files (after
    /// [`LocalPostgres::write_config`]; `primary_conninfo` and `synchronous_standby_names` are
    /// reloadable since PostgreSQL 13).
    ///
    /// # Errors
    /// Not reachable or the call failed.
    pub async fn reload(&self) -> Result<()> {
        let c = self.kept_client().await?;
        c.batch_execute("SELECT pg_reload_conf()")
            .await
            .context("reloading PostgreSQL's configuration")?;
        self.keep_client(c).await;
        Ok(())
    }

    /// Asks the server at `up` for a CHECKPOINT as the superuser (so pg_rewind sees its current
    /// timeline), waiting up to 30 s for it. Returns whether that server accepted a connection at
    /// all (within 3 s), which the rewind plan needs.
    pub async fn checkpoint_remote(&self, up: &Upstream) -> bool {
        let su = &self.cfg().postgresql.authentication.superuser;
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(&up.host)
            .port(up.port)
            .user(su.username.as_deref().unwrap_or("postgres"))
            .dbname("postgres")
            .application_name("praetor")
            .connect_timeout(Duration::from_secs(3));
        if let Some(p) = &su.password {
            cfg.password(p);
        }
        let connect = crate::tls::pg_connect(&mut cfg, su, "postgresql.authentication.superuser");
        match tokio::time::timeout(Duration::from_secs(3), connect).await {
            Ok(Ok(c)) => {
                let _ =
                    tokio::time::timeout(Duration::from_secs(30), c.batch_execute("CHECKPOINT"))
                        .await;
                true
            }
            _ => false,
        }
    }

    /// CHECKPOINT (before a graceful demote, to shorten the shutdown checkpoint).
    pub async fn checkpoint(&self) {
        if let Ok(c) = self.kept_client().await {
            if c.batch_execute("CHECKPOINT").await.is_ok() {
                self.keep_client(c).await;
            }
        }
    }
}

/// One row of `pg_replication_slots`, as [`LocalPostgres::replication_slots`] reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotRow {
    /// `slot_name`.
    pub name: String,
    /// `slot_type`: `physical` or `logical`.
    pub slot_type: String,
    /// `database` (logical slots).
    pub database: Option<String>,
    /// `plugin` (logical slots).
    pub plugin: Option<String>,
    /// A session uses the slot.
    pub active: bool,
    /// `restart_lsn` (none for a physical slot created without reserving WAL).
    pub restart_lsn: Option<crate::types::Lsn>,
    /// `wal_status` (`reserved`, `extended`, `unreserved` or `lost`).
    pub wal_status: Option<String>,
    /// `confirmed_flush_lsn` (logical slots).
    pub confirmed_flush_lsn: Option<crate::types::Lsn>,
}

/// A logical slot's on-disk state as read from the primary (`pg_replslot/<name>/state`).
#[derive(Debug, Clone, PartialEq)]
pub struct SlotState {
    /// `slot_name`.
    pub name: String,
    /// The database the slot decodes.
    pub database: String,
    /// Its output plugin.
    pub plugin: String,
    /// The `state` file's bytes.
    pub state: Vec<u8>,
}

/// What [`LocalPostgres::replication_slots`] read.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotsRead {
    /// `pg_is_in_recovery()`.
    pub in_recovery: bool,
    /// `pg_last_wal_replay_lsn()` (none on a primary).
    pub replay_lsn: Option<crate::types::Lsn>,
    /// The slots, by name.
    pub slots: Vec<SlotRow>,
}
