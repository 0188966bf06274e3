//! Running the backup tools Patroni integrates: a replica creation method's command and a custom
//! bootstrap's command, with Patroni's arguments and environment, and the wait for a restored
//! backup's recovery to end. What runs, in which order, and what happens to the data directory
//! around it are the core's plans ([`crate::ha::replica`], [`crate::ha::bootstrap`]).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::{LocalPostgres, Upstream};
use crate::config::backup::{CustomBootstrap, ReplicaMethod};

impl LocalPostgres {
    /// Runs replica creation method `m` (not `basebackup`) into the data directory, created empty
    /// (mode 0700) first if missing: its command with Patroni's arguments (`--scope`,
    /// `--role=replica`, `--datadir`, `--connstring` to `from` as the replication user, empty
    /// without a source; none with `no_params`), `PGPASSFILE` set to the agent's pgpass file.
    /// Its output goes to the agent's log.
    ///
    /// # Errors
    /// The command could not start or exited with a non-zero status.
    pub async fn run_replica_method(
        &self,
        m: &ReplicaMethod,
        from: Option<&Upstream>,
    ) -> Result<()> {
        let cfg = self.cfg();
        let rep = &cfg.postgresql.authentication.replication;
        let connstring = from
            .map(|u| self.conninfo(&u.host, u.port, rep, "postgres"))
            .unwrap_or_default();
        self.ensure_data_dir()?;
        let args = m.arguments(
            &cfg.scope,
            &self.data_dir.display().to_string(),
            &connstring,
        );
        self.run_tool(
            &format!("replica creation method {}", m.name),
            &m.command,
            &args,
        )
        .await
    }

    /// Runs the custom bootstrap method `b`'s command (Patroni's `_custom_bootstrap`: `--scope`,
    /// `--datadir` and the section's other keys unless `no_params`) into the empty data
    /// directory.
    ///
    /// # Errors
    /// The command could not start or exited with a non-zero status.
    pub async fn run_custom_bootstrap(&self, b: &CustomBootstrap) -> Result<()> {
        let cfg = self.cfg();
        self.ensure_data_dir()?;
        let args = b.arguments(&cfg.scope, &self.data_dir.display().to_string());
        self.run_tool(
            &format!("custom bootstrap method {}", b.name),
            &b.command,
            &args,
        )
        .await
    }

    fn ensure_data_dir(&self) -> Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        if !self.data_dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.data_dir)
                .with_context(|| format!("creating {}", self.data_dir.display()))?;
        }
        Ok(())
    }

    async fn run_tool(&self, what: &str, command: &[String], args: &[String]) -> Result<()> {
        let (program, rest) = command
            .split_first()
            .with_context(|| format!("{what} has no command"))?;
        tracing::info!("running {what}: {}", command.join(" "));
        let mut child = tokio::process::Command::new(program)
            .args(rest)
            .args(args)
            .env("PGPASSFILE", self.pgpass_path())
            .env("PGSERVICEFILE", self.service_file_path())
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {what} ({program})"))?;
        // A stop request (SIGTERM) ends the tool, as Patroni cancels it, rather than leave the
        // agent deaf until it finishes.
        let status = tokio::select! {
            s = child.wait() => s.with_context(|| format!("waiting for {what}"))?,
            () = self.stop_requested() => {
                if let Some(pid) = child.id() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid as i32),
                        nix::sys::signal::Signal::SIGTERM,
                    );
                }
                let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                bail!("{what} was stopped: the agent is shutting down");
            }
        };
        if !status.success() {
            bail!("{what}: {} exited with {status}", command.join(" "));
        }
        Ok(())
    }

    /// Waits until the started server has finished recovering a restored backup and runs as a
    /// primary (Patroni waits as long as that takes: "waiting for end of recovery after
    /// bootstrap"), logging the wait once a minute.
    ///
    /// # Errors
    /// The postmaster exited (a recovery target with the action `shutdown`, or `pause` with
    /// `hot_standby` off, or a failed recovery: see the server log).
    pub async fn wait_end_of_recovery(&self) -> Result<()> {
        let started = Instant::now();
        let mut logged = Instant::now();
        loop {
            let exited = {
                let mut guard = self.child.lock().await;
                match guard.as_mut().map(|c| c.try_wait()) {
                    Some(Ok(Some(_))) | Some(Err(_)) => {
                        *guard = None;
                        true
                    }
                    Some(Ok(None)) => false,
                    None => self.postmaster_pid().is_none(),
                }
            };
            if exited {
                bail!(
                    "PostgreSQL stopped while recovering the restored backup; see {}",
                    self.log_path().display()
                );
            }
            let asked = match self.connect().await {
                Ok(c) => c
                    .query_one("SELECT pg_catalog.pg_is_in_recovery()", &[])
                    .await
                    .map(|row| row.get::<_, bool>(0))
                    .map_err(anyhow::Error::from),
                Err(e) => Err(e),
            };
            if let Ok(false) = asked {
                return Ok(());
            }
            if logged.elapsed() >= Duration::from_secs(60) {
                logged = Instant::now();
                // A refused connection (the restored cluster's pg_hba or passwords) shows here.
                let last = match &asked {
                    Ok(_) => "still in recovery".to_string(),
                    Err(e) => format!("not answering yet: {e:#}"),
                };
                tracing::info!(
                    "waiting for end of recovery after bootstrap ({} s so far; {last})",
                    started.elapsed().as_secs()
                );
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = self.stop_requested() => {
                    bail!("stopped waiting for the end of recovery: the agent is shutting down")
                }
            }
        }
    }
}
