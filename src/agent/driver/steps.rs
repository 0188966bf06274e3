//! Carrying out the core's actions: one arm per [`crate::ha::Action`], and the step runners of
//! the pure plans (promotion, demotion, rewind, bootstrap). Nothing here decides an outcome.

use super::*;

impl Driver {
    /// Carries out one step of a promotion ([`crate::ha::transition::plan_promote`]).
    pub(super) async fn promote_step(
        &mut self,
        step: crate::ha::transition::PromoteStep,
        view: &ClusterView,
        me: &str,
    ) -> Result<()> {
        use crate::ha::transition::PromoteStep::*;
        match step {
            ClaimSyncKey => {
                let value = SyncState::encode(me, &[], 0);
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
            ClearSyncStandbys => {
                self.pg.set_sync_standbys(vec![], 1);
                self.pg.set_quorum_standbys(None);
                self.quorum_confirmed.clear();
                self.quorum_since = None;
            }
            SetQuorumStandbys => {
                let key = crate::ha::quorum::active_key(view.sync.as_ref());
                let guc = crate::ha::quorum::pre_promote_guc(
                    me,
                    key.as_ref().map(|(_, k)| k),
                    self.dynamic.synchronous_mode_strict,
                );
                tracing::info!(
                    "before promoting: synchronous_standby_names '{}'",
                    guc.render()
                );
                self.quorum_confirmed.clear();
                self.quorum_since = None;
                let up = self
                    .pg
                    .following()
                    .and_then(|n| self.upstream(view, &n).ok());
                let want = guc.render();
                self.pg.set_quorum_standbys(Some(guc));
                self.pg.write_config(&self.dynamic, up.as_ref(), true)?;
                self.pg.reload().await?;
                // The reload only signals: promote only once the server runs the new value.
                let deadline = Instant::now() + Duration::from_secs(3);
                loop {
                    match self.pg.synchronous_standby_names().await {
                        Ok(v) if v == want => break,
                        _ if Instant::now() < deadline => {
                            tokio::time::sleep(Duration::from_millis(50)).await
                        }
                        other => anyhow::bail!(
                            "postponing promotion: synchronous_standby_names is {:?}, not '{want}' yet",
                            other.ok()
                        ),
                    }
                }
            }
            ArmWatchdog => self
                .watchdog
                .activate(self.dynamic.ttl)
                .map_err(|e| anyhow!("refusing to promote: watchdog: {e}"))?,
            PrePromote => self.pre_promote().await?,
            NotifyCoordinatorBeforePromote => {
                self.notify_coordinator("before_promote", Duration::from_secs(2))
                    .await
            }
            PgPromote => {
                self.pg.promote().await?;
                self.promoted_at = Some(Instant::now());
            }
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

    /// Runs `postgresql.pre_promote` (split into words as a shell would, no shell run) and waits
    /// for it, as Patroni does once the leader lock is held.
    ///
    /// # Errors
    /// [`PrePromoteFailed`]: it exited non-zero or could not be started.
    async fn pre_promote(&self) -> Result<()> {
        let Some(argv) = self.cfg.postgresql.script("pre_promote") else {
            return Ok(());
        };
        let command = argv.join(" ");
        let outcome = match tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .status()
            .await
        {
            Ok(st) if st.success() => {
                tracing::info!("pre_promote script {command:?} exited with 0");
                return Ok(());
            }
            Ok(st) => format!("exited with {st}"),
            Err(e) => format!("could not be run: {e}"),
        };
        Err(PrePromoteFailed { command, outcome }.into())
    }

    /// Carries out one step of a demotion ([`crate::ha::transition::plan_demote`]).
    pub(super) async fn demote_step(
        &mut self,
        step: crate::ha::transition::DemoteStep,
    ) -> Result<()> {
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
            DisarmFenceGuard => self.keep.disarm(),
            ReleaseLeaderKey => {
                self.dcs.release_leader(None).await?;
            }
            StartReadOnly => self.start(None, true).await?,
            StartStandbyLeader => {
                let up = self.remote_upstream()?;
                self.start(Some(&up), true).await?
            }
        }
        Ok(())
    }

    /// Carries out rewind steps ([`crate::ha::rewind`]) from `up`, in order; the first that fails
    /// ends them. A failed pg_rewind is reported as [`RewindFailed`].
    pub(super) async fn rewind_steps(
        &mut self,
        steps: &[crate::ha::rewind::RewindStep],
        up: &Upstream,
    ) -> Result<()> {
        use crate::ha::rewind::RewindStep::*;
        for step in steps {
            match step {
                CheckpointSource => {
                    if !self.pg.checkpoint_remote(up).await {
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
                    // A source that stopped answering meanwhile says nothing about the data:
                    // try again next cycle rather than count the rewind as failed.
                    Err(e) if !self.pg.checkpoint_remote(up).await => anyhow::bail!(
                        "pg_rewind from {} did not finish and it no longer accepts connections: \
                         retrying next cycle ({e:#})",
                        up.name
                    ),
                    Err(cause) => {
                        return Err(RewindFailed {
                            source_member: up.name.clone(),
                            cause,
                        }
                        .into())
                    }
                },
                RemoveDataDir => self.pg.remove_data_dir()?,
                CreateReplica => self.create_replica(Some(up), false).await?,
                StartStandby => self.start(Some(up), true).await?,
            }
        }
        Ok(())
    }

    pub(super) async fn execute(&mut self, d: &Decision, snap: &mut Snapshot) -> Result<Next> {
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
                            self.rewind_failed_from = None;
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
                Action::BootstrapStandbyLeader => return self.bootstrap().await,
                Action::CreateReplica { from } => {
                    let up = match from {
                        Some(f) => Some(self.upstream(&view, f)?),
                        None => None,
                    };
                    self.state = MemberState::CreatingReplica;
                    self.role = Role::Uninitialized;
                    let (pg, info) = self.observe_pg().await;
                    let _ = self.touch_member(&pg, &info).await;
                    self.create_replica(up.as_ref(), false).await?;
                    // It follows the leader (or its replicatefrom member), not a clonefrom
                    // source; without a leader it replays what the archive gives.
                    let follow = match view.leader.as_ref() {
                        Some(l) => self
                            .upstream(&view, &crate::ha::upstream_of(snap, &view, &l.name))
                            .ok()
                            .or(up),
                        None => up,
                    };
                    self.start(follow.as_ref(), true).await?;
                }
                Action::Promote => {
                    let plan =
                        crate::ha::transition::plan_promote(crate::ha::transition::PromoteFacts {
                            synchronous: self.dynamic.synchronous(),
                            quorum: self.dynamic.is_quorum(),
                            citus_worker: self.cfg.is_citus_worker(),
                            pre_promote: self.cfg.postgresql.script("pre_promote").is_some(),
                        });
                    tracing::info!("{plan}");
                    for step in &plan.steps {
                        match self.promote_step(*step, &view, &snap.name).await {
                            Ok(()) => {}
                            Err(e) if e.downcast_ref::<PrePromoteFailed>().is_some() => {
                                let after = crate::ha::transition::plan_pre_promote_failed();
                                tracing::warn!("{e:#}; {after}");
                                for step in &after.steps {
                                    self.demote_step(*step).await?;
                                }
                                self.pre_promote_failed_at = Some(snap.now);
                                return Ok(Next::Done);
                            }
                            Err(e) => return Err(e),
                        }
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
                    self.pg.reload().await?;
                }
                Action::Rewind { leader } => {
                    let up = self.upstream(&view, leader)?;
                    let facts = crate::ha::rewind::RewindFacts {
                        running: snap.pg.running || snap.pg.starting,
                        remove_data_on_failure: self
                            .cfg
                            .remove_data_on_rewind_failure(&self.dynamic),
                        remove_data_on_diverged: self
                            .cfg
                            .remove_data_on_diverged_timelines(&self.dynamic),
                    };
                    let plan = crate::ha::rewind::plan_rewind(facts);
                    tracing::info!("{plan}");
                    if let Err(e) = self.rewind_steps(&plan.steps, &up).await {
                        if e.downcast_ref::<RewindFailed>().is_none() {
                            return Err(e);
                        }
                        let after = crate::ha::rewind::plan_after_failed_rewind(facts);
                        tracing::warn!("{e:#}; {after}");
                        if !facts.removes_data_after_failure() {
                            self.rewind_failed_from = Some(leader.clone());
                        }
                        self.rewind_steps(&after.steps, &up).await?;
                    }
                }
                Action::Reinitialize { from } => {
                    let up = self.upstream(&view, from)?;
                    if snap.pg.running || snap.pg.starting {
                        self.pg.stop(StopMode::Immediate).await?;
                    }
                    self.create_replica(Some(&up), false).await?;
                    self.start(Some(&up), true).await?;
                }
                Action::SyncSlots => {
                    if self.dynamic.postgresql.use_slots {
                        if let Err(e) = self.sync_slots(snap).await {
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
                    let cleared = self
                        .dcs
                        .put_if_revision(keys::FAILOVER, Failover::CLEARED, view.failover_revision)
                        .await
                        .context("clearing the failover key")?;
                    if !cleared {
                        tracing::info!(
                            "the failover key changed since it was read: not cleared; looking again next cycle"
                        );
                    }
                }
                Action::Fatal(msg) => {
                    tracing::error!("{msg}");
                    // Also a postmaster whose pid file went with a half-removed data directory
                    // (`stop` finds our child): a primary must not outlive the lease we give up.
                    match self.pg.stop(StopMode::Fast).await {
                        Ok(()) => {
                            let _ = self.dcs.revoke_lease().await;
                        }
                        Err(e) => tracing::error!(
                            "stopping PostgreSQL before exiting: {e:#}; leaving the lease to \
                             expire and the fence guard to act"
                        ),
                    }
                    return Ok(Next::Exit(Exit::Fatal(msg.clone())));
                }
            }
        }
        Ok(Next::Done)
    }

    pub(super) async fn record_history(&mut self, me: &str) {
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
        let mut rows: Vec<HistoryEntry> = match self.dcs.load().await {
            Ok(v) => v
                .history
                .into_iter()
                .filter(|h| h.timeline != parent)
                .collect(),
            Err(_) => vec![],
        };
        rows.push(HistoryEntry {
            timeline: parent,
            switch_lsn: lsn,
            reason,
            timestamp: Some(
                chrono::Local::now()
                    .format("%Y-%m-%dT%H:%M:%S%.6f%:z")
                    .to_string(),
            ),
            new_leader: Some(me.to_string()),
        });
        if self
            .dcs
            .put(keys::HISTORY, &HistoryEntry::encode_list(&rows))
            .await
            .is_ok()
        {
            self.last_history_tl = Some(tl);
        }
    }

    /// Carries out [`crate::ha::bootstrap::plan_bootstrap`] step by step; when a step fails,
    /// carries out [`crate::ha::bootstrap::plan_failed_bootstrap`] for it.
    pub(super) async fn bootstrap(&mut self) -> Result<Next> {
        use crate::ha::bootstrap::BootstrapCleanupStep as Cleanup;
        use crate::ha::bootstrap::{plan_bootstrap, plan_failed_bootstrap, BootstrapFacts};
        let _alive = super::clone::keep_systemd_alive();
        let plan = plan_bootstrap(BootstrapFacts {
            citus: self.cfg.citus.is_some(),
            custom: self.cfg.custom_bootstrap.is_some(),
            standby: self.dynamic.is_standby_cluster(),
        });
        tracing::info!("{plan}");
        for step in plan.steps {
            match self.bootstrap_step(step).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!("failed to acquire initialize lock");
                    return Ok(Next::Done);
                }
                Err(e) => {
                    let msg = format!("bootstrapping a new cluster failed at {step:?}: {e:#}");
                    let cleanup = plan_failed_bootstrap(step);
                    if !cleanup.steps.is_empty() {
                        tracing::error!("{msg}; {cleanup}");
                    }
                    for c in cleanup.steps {
                        match c {
                            Cleanup::StopImmediate => {
                                if let Err(e) = self.pg.stop(StopMode::Immediate).await {
                                    tracing::warn!(
                                        "stopping PostgreSQL after the failed bootstrap: {e:#}"
                                    );
                                }
                            }
                            Cleanup::MoveAsideDataDir => self.pg.move_aside_failed(),
                            Cleanup::DeleteInitialize => {
                                if let Err(e) = self.dcs.delete(keys::INITIALIZE).await {
                                    tracing::warn!("deleting the initialize key after the failed bootstrap: {e:#}");
                                }
                            }
                            Cleanup::Exit => {
                                self.state = if self.cfg.custom_bootstrap.is_some() {
                                    MemberState::CustomBootstrapFailed
                                } else {
                                    MemberState::InitdbFailed
                                };
                                return Ok(Next::Exit(Exit::Fatal(msg)));
                            }
                        }
                    }
                    return Err(e);
                }
            }
        }
        tracing::info!("initialized a new cluster");
        Ok(Next::Done)
    }

    /// Carries out one bootstrap step; `Ok(false)` when the race for `/initialize` was lost.
    async fn bootstrap_step(&mut self, step: crate::ha::bootstrap::BootstrapStep) -> Result<bool> {
        use crate::ha::bootstrap::BootstrapStep::*;
        match step {
            InitializeRace => {
                if !self.dcs.initialize_race("").await? {
                    return Ok(false);
                }
                self.state = MemberState::InitializingNewCluster;
            }
            Initdb => self.pg.initdb().await?,
            CloneRemote => {
                let up = self.remote_upstream()?;
                let names = up
                    .remote
                    .as_ref()
                    .and_then(|sc| sc.create_replica_methods.clone())
                    .unwrap_or_default();
                let methods =
                    crate::config::backup::methods_named(&self.cfg.postgresql.other, &names)
                        .map_err(|(k, m)| {
                            anyhow!("standby_cluster.create_replica_methods: {k}: {m}")
                        })?;
                let source = (!up.host.trim().is_empty()).then_some(&up);
                self.create_replica_with(source, false, &methods).await?;
            }
            StartStandbyLeader => {
                let up = self.remote_upstream()?;
                self.pg.write_config(&self.dynamic, Some(&up), true)?;
                let timeout = Duration::from_secs(self.cfg.postgresql.pg_ctl_timeout.unwrap_or(60));
                if !self.pg.start(timeout).await? {
                    anyhow::bail!(
                        "PostgreSQL did not accept connections within {timeout:?} as the standby leader"
                    );
                }
                self.state = MemberState::Running;
            }
            RunBootstrapMethod => {
                let method = self.custom_bootstrap()?;
                self.state = MemberState::CustomBootstrap;
                self.shared.status.write().await.state = MemberState::CustomBootstrap;
                self.pg.run_custom_bootstrap(&method).await?;
            }
            WriteConfigForRestore => {
                let method = self.custom_bootstrap()?;
                self.pg.write_config_for_restore(&self.dynamic, &method)?
            }
            StartRecovery => {
                self.state = MemberState::BootstrapStarting;
                self.shared.status.write().await.state = MemberState::BootstrapStarting;
                self.pg.start(Duration::from_secs(1)).await?;
            }
            WaitEndOfRecovery => {
                self.pg.wait_end_of_recovery().await?;
                tracing::info!("the restored cluster finished its recovery and runs as a primary");
            }
            RestartAsPrimary => {
                self.pg.stop(StopMode::Fast).await?;
                self.pg.write_config(&self.dynamic, None, false)?;
                let timeout = Duration::from_secs(self.cfg.postgresql.pg_ctl_timeout.unwrap_or(60));
                if !self.pg.start(timeout).await? {
                    anyhow::bail!(
                        "PostgreSQL did not accept connections within {timeout:?} after its restart as a primary"
                    );
                }
                self.state = MemberState::Running;
            }
            // No lease is held yet, so waiting for the first start is safe.
            WriteConfigPrimary => self.pg.write_config(&self.dynamic, None, false)?,
            StartAndWait => {
                let timeout = Duration::from_secs(self.cfg.postgresql.pg_ctl_timeout.unwrap_or(60));
                if !self.pg.start(timeout).await? {
                    anyhow::bail!(
                        "PostgreSQL did not accept connections within {timeout:?} after initdb"
                    );
                }
                self.state = MemberState::Running;
            }
            CallbackOnStart => self.callback("on_start", "primary"),
            CreateRoles => self.pg.create_roles().await?,
            PostBootstrap => self.pg.run_post_bootstrap().await?,
            CitusBootstrap => crate::citus::handler::bootstrap_node(&self.pg, &self.cfg).await?,
            WriteInitialize => {
                let DataDir::Present { sysid, .. } = self.pg.data_dir_state().await else {
                    anyhow::bail!("data directory unreadable after initdb");
                };
                self.dcs.put(keys::INITIALIZE, &sysid).await?;
            }
            WriteConfigKey => {
                let json = self.cfg.bootstrap_dcs.to_json().to_string();
                self.dcs.put_if_revision(keys::CONFIG, &json, 0).await?;
            }
            TakeLeaderKey => {
                let t0 = Instant::now();
                self.dcs.take_leader(self.dynamic.ttl).await?;
                self.set_leader_until(Some(t0 + Duration::from_secs(self.dynamic.ttl)));
                self.confirmed_until = self.leader_until;
            }
        }
        Ok(true)
    }

    /// The custom bootstrap method (the plan has its steps only when one is configured).
    fn custom_bootstrap(&self) -> Result<crate::config::backup::CustomBootstrap> {
        self.cfg
            .custom_bootstrap
            .clone()
            .ok_or_else(|| anyhow!("bootstrap.method names no custom method"))
    }

    pub(super) async fn start(&mut self, upstream: Option<&Upstream>, standby: bool) -> Result<()> {
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

    pub(super) fn upstream(&self, view: &ClusterView, name: &str) -> Result<Upstream> {
        if name == crate::ha::REMOTE {
            return self.remote_upstream();
        }
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
            remote: None,
        })
    }

    /// The remote primary of this standby cluster (`standby_cluster` host and port; an empty
    /// host when it replicates from the archive alone).
    ///
    /// # Errors
    /// This group is not a standby cluster (any more).
    pub(super) fn remote_upstream(&self) -> Result<Upstream> {
        let sc =
            self.dynamic.standby_cluster.clone().ok_or_else(|| {
                anyhow!("standby_cluster is not set in the dynamic configuration")
            })?;
        Ok(Upstream {
            name: crate::ha::REMOTE.to_string(),
            host: sc.host.clone().unwrap_or_default(),
            port: sc.port.unwrap_or(5432),
            remote: Some(sc),
        })
    }
}
