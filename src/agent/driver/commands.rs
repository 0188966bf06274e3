//! The commands the REST API sends to the loop (restart, reinitialize, reload) and the graceful
//! stop, each carried out as the pure plans of [`crate::ha::shutdown`] say.

use super::*;

impl Driver {
    /// Graceful stop (SIGTERM): carries out [`crate::ha::shutdown::plan_shutdown`]'s steps in order; a
    /// failing step ends the list, so the leader key is never released, nor the fence guard
    /// disarmed, while PostgreSQL runs.
    ///
    /// # Errors
    /// PostgreSQL did not stop (the agent then exits with status 1, leaving the guard armed).
    pub(super) async fn shutdown(&mut self) -> Result<(), String> {
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
                                .map(|l| format!(" (shutdown checkpoint at {l})"))
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
    pub(super) async fn listed_as_sync_standby(&self) -> bool {
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
    pub(super) async fn ask_sync_release(&mut self) {
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

    pub(super) async fn handle_command(&mut self, cmd: Command) {
        match cmd {
            Command::Restart(reply) => {
                let r = self.restart().await.map_err(|e| format!("{e:#}"));
                let _ = reply.send(r);
            }
            Command::Reinitialize { from_leader, reply } => {
                // Patroni answers as soon as the reinitialize has started; what goes wrong
                // afterwards is logged (and the member's state shows it).
                match self.reinitialize_source(from_leader).await {
                    Err(e) => {
                        let _ = reply.send(Err(format!("{e:#}")));
                    }
                    Ok(up) => {
                        *self.shared.in_progress.lock().expect("not poisoned") =
                            Some("reinitialize");
                        // GET /patroni says so while it runs (`praetorctl reinit --wait` and
                        // patronictl's poll for the state to leave `creating replica`).
                        self.shared.status.write().await.state = MemberState::CreatingReplica;
                        let _ = reply.send(Ok(()));
                        if let Err(e) = self.reinitialize(&up, from_leader).await {
                            tracing::error!("reinitializing from {}: {e:#}", up.name);
                        }
                        *self.shared.in_progress.lock().expect("not poisoned") = None;
                    }
                }
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
    pub(super) fn kill_after(&self, primary: bool) -> Option<Duration> {
        crate::ha::shutdown::stop_kill_after(
            primary,
            self.dynamic.synchronous(),
            self.dynamic.primary_stop_timeout,
        )
    }

    /// The member this standby should stream from, per the last DCS view.
    pub(super) async fn current_upstream(&self) -> Option<Upstream> {
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
    pub(super) async fn restart(&mut self) -> Result<()> {
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

    pub(super) async fn restart_steps(
        &mut self,
        steps: &[crate::ha::shutdown::RestartStep],
        leading: bool,
    ) -> Result<()> {
        use crate::ha::shutdown::RestartStep;
        // A standby leader restarts as one: following the remote primary, in recovery.
        let standby_leader = leading && self.dynamic.is_standby_cluster();
        let up = if standby_leader {
            self.remote_upstream().ok()
        } else if leading {
            None
        } else {
            self.current_upstream().await
        };
        let standby = !leading || standby_leader;
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
                    self.pg.write_config(&self.dynamic, up.as_ref(), standby)?;
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

    /// Where a reinitialize (POST /reinitialize) takes its base backup from: the leader.
    ///
    /// # Errors
    /// Patroni's refusals: this member is the leader, or the group has no leader (or its address
    /// is unknown).
    pub(super) async fn reinitialize_source(&mut self, from_leader: bool) -> Result<Upstream> {
        if self.leader_until.is_some() {
            anyhow::bail!("I am the leader, can not reinitialize");
        }
        let view = self.dcs.load().await?;
        let Some(l) = view.leader.as_ref() else {
            anyhow::bail!("Cluster has no leader, can not reinitialize");
        };
        // Patroni's `_do_reinitialize`: the clone member (a running `clonefrom` member, else the
        // leader), or the leader when asked `from_leader`.
        let source = if from_leader {
            l.name.clone()
        } else {
            crate::ha::replica::clone_source(&view, &self.cfg.name)
                .unwrap_or_else(|| l.name.clone())
        };
        self.upstream(&view, &source)
    }

    /// Rebuilds this member from `up` (the leader): stop, remove the data directory, base
    /// backup, start as its standby. An operator's request (POST /reinitialize, `praetorctl
    /// reinit`), as in Patroni; the HA core never asks for it without
    /// `remove_data_directory_on_*`.
    ///
    /// # Errors
    /// Stopping, removing, the base backup or the start failed.
    pub(super) async fn reinitialize(&mut self, up: &Upstream, from_leader: bool) -> Result<()> {
        tracing::info!("reinitializing from {}", up.name);
        self.pg.stop(StopMode::Immediate).await?;
        self.create_replica(Some(up), from_leader).await?;
        // It follows the leader, not a clonefrom member it was copied from.
        let follow = self.current_upstream().await.unwrap_or_else(|| up.clone());
        self.start(Some(&follow), true).await
    }

    /// Rewrites postgresql.conf from the current configuration and reloads PostgreSQL (POST /reload).
    pub(super) async fn reload(&mut self) -> Result<()> {
        self.reload_config_file()?;
        if self.pg.postmaster_pid().is_none() {
            return Ok(());
        }
        let leader = self.leader_until.is_some();
        let up = if leader && self.dynamic.is_standby_cluster() {
            self.remote_upstream().ok()
        } else if leader {
            None
        } else {
            self.current_upstream().await
        };
        let standby = self.pg.data_dir.join("standby.signal").exists();
        self.pg.write_config(&self.dynamic, up.as_ref(), standby)?;
        self.pg.reload().await?;
        tracing::info!("reloaded PostgreSQL configuration");
        self.callback("on_reload", if leader { "primary" } else { "replica" });
        Ok(())
    }

    /// Rewrites a running server's postgresql.conf, pg_hba.conf and pg_ident.conf after the
    /// dynamic configuration's `postgresql` section changed, keeping its role and upstream, and
    /// reloads it when a file's text changed (Patroni applies a `/config` change in the next
    /// cycle: `reload_config`, then `pg_reload_conf()` and `on_reload`). A setting that needs
    /// a restart then shows as `pending_restart` (from `pg_settings`). A stopped server gets the
    /// files when it starts. A failure is logged and tried again next cycle.
    pub(super) async fn apply_dynamic_postgresql(&mut self, view: &ClusterView) {
        if self.pg.postmaster_pid().is_none() {
            return;
        }
        let leader = self.leader_until.is_some();
        let standby = self.pg.data_dir.join("standby.signal").exists();
        let up = match self.pg.following() {
            // A standby leader follows the remote primary, whose address may just have changed.
            Some(name) if !leader || name == crate::ha::REMOTE => {
                match self.upstream(view, &name) {
                    Ok(u) => Some(u),
                    Err(e) => {
                        // Its upstream's address is not known now: try again next cycle rather
                        // than write a configuration that follows nobody.
                        tracing::warn!("applying the new dynamic configuration: {e:#}; next cycle");
                        self.server_conf_stale = true;
                        return;
                    }
                }
            }
            // A standby whose upstream is not known yet (it is being decided): not now.
            None if !leader && standby => {
                self.server_conf_stale = true;
                return;
            }
            _ => None,
        };
        let files = ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"];
        let read = |d: &std::path::Path| {
            files.map(|f| std::fs::read_to_string(d.join(f)).unwrap_or_default())
        };
        let conf_dir = self.pg.conf_dir();
        let before = read(&conf_dir);
        if let Err(e) = self.pg.write_config(&self.dynamic, up.as_ref(), standby) {
            tracing::warn!("applying the new dynamic configuration: {e:#}; next cycle");
            self.server_conf_stale = true;
            return;
        }
        let after = read(&conf_dir);
        let changed: Vec<&str> = files
            .iter()
            .zip(before.iter().zip(&after))
            .filter(|(_, (b, a))| b != a)
            .map(|(f, _)| *f)
            .collect();
        if changed.is_empty() && !self.conf_reload_failed {
            return;
        }
        match self.pg.reload().await {
            Ok(()) => {
                self.conf_reload_failed = false;
                tracing::info!(
                    "reloaded PostgreSQL configuration: the dynamic configuration changed ({})",
                    changed.join(", ")
                );
                self.callback("on_reload", if leader { "primary" } else { "replica" });
            }
            Err(e) => {
                tracing::warn!("reloading PostgreSQL after the dynamic configuration changed: {e:#}; next cycle");
                self.conf_reload_failed = true;
                self.server_conf_stale = true;
            }
        }
    }

    /// Brings pg_hba.conf / pg_ident.conf of a running server to what the configuration gives
    /// and reloads PostgreSQL when one was rewritten (Patroni's `ConfigHandler.reload_config`:
    /// `replace_pg_hba` / `replace_pg_ident` when the effective `pg_hba` / `pg_ident` changed,
    /// then a reload). A stopped server gets them from `write_config` before it starts. A
    /// failure is logged and tried again next cycle.
    pub(super) async fn sync_auth_files(&mut self) {
        if self.pg.postmaster_pid().is_none() {
            self.auth_reload_failed = false;
            return;
        }
        let written = match self.pg.write_auth_files(&self.dynamic) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!("rewriting pg_hba.conf / pg_ident.conf: {e:#}");
                self.auth_files_stale = true;
                return;
            }
        };
        if written.is_empty() && !self.auth_reload_failed {
            return;
        }
        match self.pg.reload().await {
            Ok(()) => {
                self.auth_reload_failed = false;
                tracing::info!(
                    "reloaded PostgreSQL configuration (rewrote {})",
                    if written.is_empty() {
                        "nothing; an earlier reload failed".to_string()
                    } else {
                        written.join(", ")
                    }
                );
            }
            Err(e) => {
                tracing::warn!(
                    "reloading PostgreSQL after rewriting {}: {e:#}",
                    written.join(", ")
                );
                self.auth_reload_failed = true;
                self.auth_files_stale = true;
            }
        }
    }

    /// Reads the configuration file again and applies it (Patroni's reload): tags,
    /// `restapi.authentication` / `allowlist*`, the REST API's certificate files (re-read, so a
    /// renewed certificate is served to new connections), and everything under `postgresql`
    /// except where the server lives (written to the server by the caller). Settings that
    /// identify the member or where it connects are kept and logged as needing a restart.
    ///
    /// # Errors
    /// The file no longer loads, or its new certificate files cannot be used; nothing is applied.
    pub(super) fn reload_config_file(&mut self) -> Result<()> {
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
        if self.cfg.citus.as_ref().is_some_and(|c| c.group == 0) {
            if crate::citus::credential_change(
                &self.cfg.postgresql.authentication.superuser,
                &new.postgresql.authentication.superuser,
            )
            .is_some()
            {
                tracing::info!(
                    "reload: the superuser's credentials changed; the coordinator leader rotates them on every Citus node"
                );
                self.rotation_check = true;
                self.rotation_generation.0 += 1;
                self.rotation_retry_at = None;
                self.rotation_failures = 0;
            }
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

    /// Takes back the restart this member's key announced before the agent restarted (Patroni
    /// keeps it in memory only; praetor's key carries it across a restart of the agent).
    pub(super) fn restore_scheduled_restart(&mut self, view: &ClusterView) {
        let Some(v) = view
            .member(&self.cfg.name)
            .and_then(|m| m.data.other.get("scheduled_restart"))
        else {
            return;
        };
        match ScheduledRestart::from_member_json(v) {
            Some(r) => {
                let mut g = self.shared.scheduled_restart.lock().expect("not poisoned");
                if g.is_none() {
                    tracing::info!(
                        "restart scheduled at {} taken back from this member's key",
                        r.schedule
                    );
                    *g = Some(r);
                }
            }
            None => tracing::warn!(
                "this member's key announces a scheduled restart that does not read ({v}); not kept"
            ),
        }
    }

    /// Runs a scheduled restart whose time has come, if its filters match. A server started
    /// since it was scheduled cancels it (Patroni's `evaluate_scheduled_restart`: the restart
    /// already happened).
    pub(super) async fn maybe_scheduled_restart(&mut self, now: f64) {
        let due = {
            let guard = self.shared.scheduled_restart.lock().expect("not poisoned");
            guard.as_ref().filter(|r| r.at <= now).cloned()
        };
        let Some(r) = due else { return };
        *self.shared.scheduled_restart.lock().expect("not poisoned") = None;
        let started = self
            .shared
            .status
            .read()
            .await
            .info
            .postmaster_start_time
            .clone();
        if r.postmaster_start_time.is_some()
            && started.is_some()
            && r.postmaster_start_time != started
        {
            tracing::info!(
                "scheduled restart at {} cancelled: PostgreSQL was started since it was scheduled",
                r.schedule
            );
            return;
        }
        let role = if self.leader_until.is_some() {
            Role::Primary
        } else {
            Role::Replica
        };
        let (version, pending) = {
            let st = self.shared.status.read().await;
            (st.info.server_version, st.info.pending_restart)
        };
        if !crate::ha::shutdown::restart_conditions_hold(
            r.role,
            r.postgres_version,
            r.restart_pending,
            role,
            version,
            pending,
        ) {
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
}
