//! The primary's replication duties (slots, synchronous standbys), failsafe calls, peer polling,
//! Citus notifications and callbacks: I/O around the pure planners.

use super::*;

impl Driver {
    /// Reads the server's replication slots, plans with [`crate::ha::slots::plan_slots`] over
    /// the cycle's snapshot `snap`, and carries the plan out: drops first, then creations and
    /// advances (each failure is logged and the rest goes on).
    pub(super) async fn sync_slots(&mut self, snap: &Snapshot) -> Result<()> {
        use crate::ha::slots::{ExistingSlot, Observed, SlotKind};
        let read = self.pg.replication_slots().await?;
        let seen = Observed {
            in_recovery: read.in_recovery,
            replay_lsn: read.replay_lsn,
            slots: read
                .slots
                .into_iter()
                .map(|r| ExistingSlot {
                    kind: if r.slot_type == "logical" {
                        SlotKind::Logical {
                            database: r.database.unwrap_or_default(),
                            plugin: r.plugin.unwrap_or_default(),
                        }
                    } else {
                        SlotKind::Physical
                    },
                    name: r.name,
                    active: r.active,
                    restart_lsn: r.restart_lsn,
                    wal_lost: r.wal_status.as_deref() == Some("lost"),
                    confirmed_flush: r.confirmed_flush_lsn,
                })
                .collect(),
        };
        let now = self.epoch.elapsed().as_secs_f64();
        let citus = self
            .cfg
            .citus
            .as_ref()
            .map(|c| c.databases())
            .unwrap_or_default();
        let (plan, since) =
            crate::ha::slots::plan_slots(snap, &seen, &citus, &self.orphaned_slots, now);
        for n in plan
            .retained
            .iter()
            .filter(|n| !self.orphaned_slots.contains_key(*n))
        {
            tracing::info!(
                "keeping replication slot {n}: it belongs to no member and is not permanent; it \
                 is dropped once unused for member_slots_ttl ({} s) unless ignore_slots matches it",
                self.dynamic.member_slots_ttl
            );
        }
        self.orphaned_slots = since;
        log_slot_notes(&plan.notes, &plan.ignored);
        self.pg
            .drop_slots(
                &plan.drop,
                "it belongs to no member, is not permanent and was unused for member_slots_ttl",
            )
            .await?;
        self.pg
            .drop_slots(
                &plan.recreate,
                "a member's slot whose WAL is lost (wal_status lost); created again next cycle",
            )
            .await?;
        self.pg.create_physical_slots(&plan.create).await?;
        self.pg.advance_slots(&plan.advance).await?;
        if !seen.in_recovery {
            self.slot_positions = plan.positions.clone();
        }
        for (l, to) in &plan.advance_logical {
            if let Err(e) = self
                .pg
                .advance_logical_slot(&l.name, &l.database, *to)
                .await
            {
                tracing::warn!("{e:#}");
            }
        }
        if !plan.copy_logical.is_empty() {
            if let Err(e) = self.copy_logical_slots(snap, &plan.copy_logical).await {
                tracing::warn!("copying logical replication slots from the primary: {e:#}");
            }
        }
        let limit = Duration::from_secs(self.dynamic.retry_timeout.clamp(1, 5));
        for l in &plan.create_logical {
            if let Err(e) = self
                .pg
                .create_logical_slot(&l.name, &l.database, &l.plugin, limit)
                .await
            {
                tracing::warn!("{e:#}");
            }
        }
        Ok(())
    }

    /// A replica's copy of the primary's permanent logical slots `slots` (Patroni's
    /// `copy_logical_slots`): their on-disk state is read from the leader, the server is stopped
    /// (fast), the state files are written into `pg_replslot` and the server is started again
    /// following the same upstream. A slot whose database or plugin on the primary differs from
    /// the configuration is not copied.
    ///
    /// # Errors
    /// The leader cannot be reached, or the restart failed.
    async fn copy_logical_slots(
        &mut self,
        snap: &Snapshot,
        slots: &[crate::ha::slots::LogicalSlot],
    ) -> Result<()> {
        let Some(view) = snap.dcs.as_ref() else {
            return Ok(());
        };
        let Some(leader) = view.leader.as_ref().map(|l| l.name.clone()) else {
            return Ok(());
        };
        let from = self.upstream(view, &leader)?;
        let names: Vec<String> = slots.iter().map(|l| l.name.clone()).collect();
        let states: Vec<_> = self
            .pg
            .read_slot_states(&from, &names)
            .await?
            .into_iter()
            .filter(|st| {
                let same = slots
                    .iter()
                    .any(|l| l.name == st.name && l.database == st.database && l.plugin == st.plugin);
                if !same {
                    tracing::warn!(
                        "not copying logical replication slot {}: on {leader} it decodes database {} with plugin {}, not what the configuration says",
                        st.name, st.database, st.plugin
                    );
                }
                same
            })
            .collect();
        if states.is_empty() {
            return Ok(());
        }
        let following = match self.pg.following() {
            Some(name) => Some(self.upstream(view, &name)?),
            None => None,
        };
        let copied: Vec<&str> = states.iter().map(|s| s.name.as_str()).collect();
        tracing::info!(
            "copying logical replication slots {} from {leader}: restarting PostgreSQL",
            copied.join(", ")
        );
        self.slots_restarted = true;
        self.pg.stop(StopMode::Fast).await?;
        // Started again whatever the write did: a failed copy must not leave the server down.
        let written = self.pg.write_slot_states(&states);
        let started = self.start(following.as_ref(), true).await;
        written.context("writing the copied slots into pg_replslot")?;
        started
    }

    /// The primary's synchronous replication step: plan with [`crate::ha::sync::plan_sync`], then
    /// write `/sync` before changing `synchronous_standby_names` (the plan is built so that this
    /// order keeps every `/sync` member in the GUC). `primary_lsn` (bytes) is the position observed at
    /// the start of this cycle; it only orders the candidates by lag.
    pub(super) async fn sync_replication(
        &mut self,
        view: &ClusterView,
        me: &str,
        primary_lsn: Lsn,
    ) -> Result<()> {
        if self.dynamic.is_quorum() {
            return self.quorum_replication(view, me, primary_lsn).await;
        }
        let from_quorum = self.pg.quorum_standbys().is_some()
            || view.sync.as_ref().is_some_and(|s| s.quorum() > 0);
        if from_quorum {
            // Quorum commit was turned off. `/sync` names nobody first (its voters are no
            // priority-mode synchronous standbys), then the GUC goes back to the priority-mode
            // names, planned below from scratch.
            let listed = view.sync.as_ref().is_some_and(|s| {
                s.leader.as_deref() == Some(me) && (!s.members().is_empty() || s.quorum() > 0)
            });
            if listed {
                let value = SyncState::encode(me, &[], 0);
                if !self
                    .dcs
                    .put_if_revision(keys::SYNC, &value, view.sync_revision)
                    .await?
                {
                    anyhow::bail!("the sync key changed concurrently; retrying next cycle");
                }
                tracing::info!("leaving quorum commit: /sync names nobody until the synchronous standbys are chosen again");
                return Ok(());
            }
            if self.pg.quorum_standbys().is_some() {
                self.pg.set_quorum_standbys(None);
                self.quorum_confirmed.clear();
                self.quorum_since = None;
                self.pg.write_config(&self.dynamic, None, false)?;
                self.pg.reload().await?;
            }
        }
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
        let tags = self.tags_with_lapsed(view);
        let tags = |n: &str| tags.get(n).cloned();
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
            let value = SyncState::encode(me, members, 0);
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
            self.pg.reload().await?;
            tracing::info!(
                "synchronous_standby_names: {}",
                crate::postgres::guc_value(&names, self.dynamic.synchronous_node_count as usize)
            );
        }
        Ok(())
    }

    /// Members streaming from this primary (`pg_stat_replication`) with their tags: a member key's
    /// tags, or default tags for a `/sync` member whose key lapsed less than two ttls ago
    /// ([`crate::ha::sync::lapsed_sync_members`]).
    fn tags_with_lapsed(&mut self, view: &ClusterView) -> BTreeMap<String, crate::config::Tags> {
        let listed = view.sync.as_ref().map(|s| s.members()).unwrap_or_default();
        let (lapsed, since) = crate::ha::sync::lapsed_sync_members(
            &listed,
            &|n| view.member(n).is_some(),
            &self.sync_key_gone,
            self.epoch.elapsed().as_secs_f64(),
            2.0 * self.dynamic.ttl as f64,
        );
        self.sync_key_gone = since;
        view.members
            .iter()
            .map(|m| (m.name.clone(), m.tags()))
            .chain(
                lapsed
                    .into_iter()
                    .map(|l| (l, crate::config::Tags::default())),
            )
            .collect()
    }

    /// Quorum commit on the primary ([`crate::ha::quorum`]): claim `/sync` after a promotion,
    /// then carry out [`crate::ha::quorum::plan_quorum`]'s writes in order (`/sync` by
    /// compare-and-set, the GUC by a reload), stopping at the first failure. `primary_lsn`
    /// (bytes, observed at the start of this cycle) is where members must be to count as
    /// confirmed after a GUC change.
    async fn quorum_replication(
        &mut self,
        view: &ClusterView,
        me: &str,
        primary_lsn: Lsn,
    ) -> Result<()> {
        use crate::ha::quorum::{self, QuorumStep};
        let strict = self.dynamic.synchronous_mode_strict;
        // The GUC in force: ours, or (the first quorum cycle since the agent started or the mode
        // changed) what the server runs, read back.
        let guc = match self.pg.quorum_standbys() {
            Some(g) => g,
            None => {
                self.quorum_confirmed.clear();
                self.quorum_since = None;
                let text = self.pg.synchronous_standby_names().await?;
                let (g, any) = quorum::parse_guc(&text).ok_or_else(|| {
                    anyhow!("synchronous_standby_names: cannot read {text:?} as a list of standbys")
                })?;
                if !any && g.num > 0 {
                    // Under FIRST nobody reports `quorum` in pg_stat_replication, so nobody
                    // could confirm: the same members as ANY (k of them either way).
                    return self.set_quorum_guc(g).await;
                }
                self.pg.set_quorum_standbys(Some(g.clone()));
                g
            }
        };
        let active_key = quorum::active_key(view.sync.as_ref());
        let key = match &active_key {
            Some((leader, key)) if leader == me => key.clone(),
            other => {
                let claimed = quorum::claim(me, other.as_ref().map(|(l, k)| (l.as_str(), k)), &guc);
                self.write_quorum_key(view, me, &claimed).await?;
                return Ok(());
            }
        };
        if self
            .promoted_at
            .is_some_and(|t| t.elapsed() < Duration::from_secs(self.dynamic.loop_wait))
        {
            return Ok(());
        }
        let rows = self.pg.replication_rows().await?;
        let wanted = self.dynamic.synchronous_node_count as usize;
        let tags = self.tags_with_lapsed(view);
        let active = quorum::active_members(&rows, &|n| tags.get(n).cloned(), wanted);
        let since = *self.quorum_since.get_or_insert(primary_lsn);
        self.quorum_confirmed =
            quorum::confirmed_members(&self.quorum_confirmed, &guc, &rows, since);
        let steps = quorum::plan_quorum(&quorum::QuorumFacts {
            key: &key,
            guc: &guc,
            confirmed: &self.quorum_confirmed,
            active: &active,
            wanted,
            strict,
        });
        let mut key_written = false;
        for step in steps {
            match step {
                QuorumStep::Key(k) => {
                    if key_written {
                        // The next write needs the revision this one made: next cycle.
                        break;
                    }
                    self.write_quorum_key(view, me, &k).await?;
                    key_written = true;
                }
                QuorumStep::Guc(g) => self.set_quorum_guc(g).await?,
                QuorumStep::Wait => break,
            }
        }
        Ok(())
    }

    /// Sets quorum commit's `synchronous_standby_names` to `g` and reloads. The confirmations
    /// start over first; if the write or the reload fails the previous value is restored (and
    /// written back), so the planner never believes in a GUC the server does not run.
    async fn set_quorum_guc(&mut self, g: crate::ha::quorum::QuorumGuc) -> Result<()> {
        self.quorum_confirmed.clear();
        self.quorum_since = None;
        let before = self.pg.quorum_standbys();
        let text = g.render();
        self.pg.set_quorum_standbys(Some(g.clone()));
        let applied = match self.pg.write_config(&self.dynamic, None, false) {
            Ok(()) => self.pg.reload().await,
            Err(e) => Err(e),
        };
        if let Err(e) = applied {
            self.pg.set_quorum_standbys(before);
            let _ = self.pg.write_config(&self.dynamic, None, false);
            return Err(e.context(format!("setting synchronous_standby_names to '{text}'")));
        }
        tracing::info!(
            "quorum commit: synchronous_standby_names '{text}' ({} of {})",
            g.num,
            g.members.len()
        );
        Ok(())
    }

    /// Writes `/sync` as this primary's quorum key (compare-and-set on the revision read).
    async fn write_quorum_key(
        &mut self,
        view: &ClusterView,
        me: &str,
        k: &crate::ha::quorum::QuorumKey,
    ) -> Result<()> {
        let voters: Vec<String> = k.voters.iter().cloned().collect();
        let value = SyncState::encode(me, &voters, k.quorum);
        if !self
            .dcs
            .put_if_revision(keys::SYNC, &value, view.sync_revision)
            .await?
        {
            anyhow::bail!("the sync key changed concurrently; retrying next cycle");
        }
        tracing::info!(
            "quorum commit: /sync leader {me}, quorum {} of {} ({})",
            k.quorum,
            voters.len(),
            if voters.is_empty() {
                "nobody".to_string()
            } else {
                voters.join(", ")
            }
        );
        Ok(())
    }

    /// On the coordinator leader: queue a reconciliation of pg_dist_node from every group's etcd
    /// state. When it stops being the leader, the handler rolls back and drops its connection.
    pub(super) async fn citus_reconcile(&mut self) {
        let Some(handler) = self.shared.citus.clone() else {
            return;
        };
        let leading = self.leader_until.is_some() && self.pg.postmaster_pid().is_some();
        if !leading {
            if self.citus_active {
                handler.send(crate::citus::handler::CitusMsg::Reset).await;
                self.citus_active = false;
                self.stop_rotation();
            }
            return;
        }
        match self.dcs.load_groups(&self.cfg.scope_prefix()).await {
            Ok(groups) => {
                self.citus_active = true;
                let desired = crate::citus::handler::desired_groups(&groups);
                self.drive_rotation(&desired);
                handler
                    .send(crate::citus::handler::CitusMsg::Sync(desired))
                    .await;
            }
            Err(e) => tracing::warn!("citus: reading the groups from etcd: {e:#}"),
        }
    }

    /// On the coordinator leader: first rolls back what an interrupted rotation left prepared
    /// ([`crate::citus::handler::sweep_rotations`]; finding some asks for a check), then, when a
    /// reload changed the superuser's credentials, checks that every Citus node holds the
    /// configured ones and rotates them when not ([`crate::citus::handler::ensure_credentials`]),
    /// in a task of its own bounded to 60 s so the HA loop never waits on the workers. A failed
    /// or not yet possible step is tried again after 5 s, doubling up to 80 s.
    fn drive_rotation(&mut self, desired: &[crate::citus::DesiredGroup]) {
        use crate::citus::handler::RotationOutcome;
        if let Some(task) = self.rotation.take_if(|t| t.is_finished()) {
            let result = match futures::FutureExt::now_or_never(task) {
                Some(Ok(r)) => r,
                _ => Err(anyhow!("the task ended abnormally")),
            };
            match result {
                Ok(outcome) => {
                    self.rotation_failures = 0;
                    match outcome {
                        RotationOutcome::Swept(n) => {
                            self.rotation_swept = true;
                            self.rotation_check |= n > 0;
                        }
                        RotationOutcome::InStep | RotationOutcome::Rotated => {
                            tracing::info!(
                                "citus: {}",
                                if outcome == RotationOutcome::Rotated {
                                    "the superuser's credentials were rotated on every Citus node"
                                } else {
                                    "every Citus node holds the configured superuser credentials"
                                }
                            );
                            // A reload since the task started asks for another check.
                            let (now, task) = self.rotation_generation;
                            self.rotation_check = now != task;
                        }
                    }
                }
                Err(e) => {
                    self.rotation_failures += 1;
                    let wait = 5u64 << self.rotation_failures.min(5).saturating_sub(1);
                    tracing::warn!(
                        "citus: {}: {e:#}; trying again in {wait} s",
                        if self.rotation_swept {
                            "rotating the superuser's credentials"
                        } else {
                            "rolling back an interrupted credential rotation"
                        }
                    );
                    self.rotation_retry_at = Some(Instant::now() + Duration::from_secs(wait));
                }
            }
        }
        if self.rotation.is_some()
            || (self.rotation_swept && !self.rotation_check)
            || self.rotation_retry_at.is_some_and(|t| Instant::now() < t)
        {
            return;
        }
        let nodes = match crate::citus::rotation_nodes(desired) {
            Ok(n) => n,
            Err(why) => {
                if self.rotation_check {
                    tracing::info!("citus: the credential rotation waits: {why}");
                }
                self.rotation_retry_at = Some(Instant::now() + Duration::from_secs(5));
                return;
            }
        };
        let pg = self.pg.clone();
        let bounded = |f: std::pin::Pin<
            Box<dyn std::future::Future<Output = anyhow::Result<RotationOutcome>> + Send>,
        >| async move {
            tokio::time::timeout(Duration::from_secs(60), f)
                .await
                .map_err(|_| anyhow!("timed out after 60 s"))?
        };
        if !self.rotation_swept {
            self.rotation = Some(tokio::spawn(bounded(Box::pin(async move {
                crate::citus::handler::sweep_rotations(&pg, &nodes)
                    .await
                    .map(RotationOutcome::Swept)
            }))));
            return;
        }
        let target = self.cfg.postgresql.authentication.superuser.clone();
        let databases = self
            .cfg
            .citus
            .as_ref()
            .map(|c| c.databases())
            .unwrap_or_default();
        let change = crate::citus::target_change(&target);
        let plan = match crate::citus::plan_rotation(&change, &databases, desired) {
            Ok(p) => p,
            Err(why) => {
                tracing::info!("citus: the credential rotation waits: {why}");
                self.rotation_retry_at = Some(Instant::now() + Duration::from_secs(5));
                return;
            }
        };
        self.rotation_generation.1 = self.rotation_generation.0;
        self.rotation = Some(tokio::spawn(bounded(Box::pin(async move {
            crate::citus::handler::ensure_credentials(&pg, &change, &plan).await
        }))));
    }

    /// Stops the rotation task (this member is no longer the coordinator leader): its open
    /// transactions roll back with their connections; prepared ones are swept by the next leader.
    pub(super) fn stop_rotation(&mut self) {
        if let Some(task) = self.rotation.take() {
            task.abort();
        }
        self.rotation_swept = false;
        self.rotation_retry_at = None;
    }

    /// On a worker: tells the coordinator leader about a switchover step (`POST /citus`, reference
    /// §3.5) and waits for its answer up to `wait`. Failures are logged, never fatal.
    pub(super) async fn notify_coordinator(&self, kind: &str, wait: Duration) {
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

    /// Failsafe mode with etcd unreachable: `POST /failsafe` to every other member of the last
    /// published `/failsafe` (2 s each, in parallel). True only when all of them answer 200.
    pub(super) async fn failsafe_check(&self) -> bool {
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
    pub(super) async fn publish_failsafe(&self, view: &ClusterView) {
        if self.dynamic.failsafe_mode {
            let mut want: std::collections::BTreeMap<String, String> = view
                .members
                .iter()
                .map(|m| (m.name.clone(), m.data.api_url.clone()))
                .collect();
            want.insert(self.cfg.name.clone(), self.api_url());
            if view.failsafe.as_ref() != Some(&want) {
                let value = crate::dcs::encode_failsafe(&want);
                if let Err(e) = self.dcs.put(keys::FAILSAFE, &value).await {
                    tracing::warn!("failsafe: publishing the member list: {e:#}");
                }
            }
        } else if view.failsafe.is_some() {
            let _ = self.dcs.delete(keys::FAILSAFE).await;
        }
    }

    pub(super) async fn poll_peers(&self, view: &ClusterView) -> Vec<PeerStatus> {
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
                        Some(b) => crate::peer::PeerAnswer::decode(&b).into_status(name, tags),
                        None => PeerStatus {
                            name,
                            reachable: false,
                            role: None,
                            state: None,
                            lsn: Lsn::default(),
                            timeline: None,
                            tags,
                        },
                    }
                }
            });
        futures::future::join_all(futs).await
    }

    /// Runs the `postgresql.callbacks.<action>` script, if configured, as Patroni does:
    /// `<script> <action> <role> <scope>`, in the background (never holds up the HA loop).
    pub(super) fn callback(&self, action: &str, role: &str) {
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
}

/// Logs each slot note (a warning) and each slot left alone for `ignore_slots` (information)
/// once, when it first appears (and again after it went away and came back), not every cycle.
/// One agent runs per process, so what was last logged is kept here rather than in the
/// driver's state.
fn log_slot_notes(notes: &[String], ignored: &[String]) {
    static LOGGED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let ignored: Vec<String> = ignored
        .iter()
        .map(|n| {
            format!(
                "replication slot {n} matches ignore_slots: never dropped or advanced by praetor"
            )
        })
        .collect();
    let mut logged = LOGGED.lock().expect("not poisoned");
    for line in notes.iter().filter(|l| !logged.contains(l)) {
        tracing::warn!("{line}");
    }
    for line in ignored.iter().filter(|l| !logged.contains(l)) {
        tracing::info!("{line}");
    }
    *logged = notes.iter().cloned().chain(ignored).collect();
}
