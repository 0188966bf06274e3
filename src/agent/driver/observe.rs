//! What one HA cycle observes: the local server, the data directory and the group's view of
//! etcd (read with the retry budget), and when to poll the peers.

use super::*;

impl Driver {
    pub(super) async fn observe_pg(&mut self) -> (PgState, ServerInfo) {
        let (crashed, pid) = self.reap_and_read_pid().await;
        self.observe_pg_with(crashed, pid).await
    }

    /// Reaps our postmaster if it died ([`LocalPostgres::check_crashed`]: whether it crashed),
    /// then reads its pid. In this order: a dead child stays a zombie until reaped, and a zombie
    /// still answers `kill(pid, 0)`, so reading first would take a crashed server for a running
    /// one that does not answer, and its restart would wait a cycle.
    async fn reap_and_read_pid(&self) -> (bool, Option<i32>) {
        let crashed = self.pg.check_crashed().await;
        (crashed, self.pg.postmaster_pid())
    }

    /// [`Driver::observe_pg`] with the crash check and the postmaster's pid already read this
    /// cycle ([`Driver::reap_and_read_pid`]).
    async fn observe_pg_with(&mut self, crashed: bool, pid: Option<i32>) -> (PgState, ServerInfo) {
        let Some(pid) = pid else {
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
        };
        self.pg.ensure_exit_watch(pid);
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

    /// Takes in a DCS read: warns about bad values, adopts the dynamic configuration.
    pub(super) async fn apply_view(&mut self, read: Result<ClusterView>) -> Option<ClusterView> {
        match read {
            Ok(v) => {
                for change in self.bad_values.update(&v.bad_values) {
                    match change {
                        crate::dcs::BadValueChange::Bad { key, problem } => {
                            tracing::warn!("ignoring DCS key {}{key}: {problem}", self.dcs.prefix)
                        }
                        crate::dcs::BadValueChange::Readable { key } => tracing::info!(
                            "DCS key {}{key} is readable again (or gone)",
                            self.dcs.prefix
                        ),
                    }
                }
                if !std::mem::replace(&mut self.schedule_restored, true) {
                    self.restore_scheduled_restart(&v);
                }
                if let Some(c) = &v.config {
                    if c.ttl != self.dynamic.ttl {
                        self.dcs.forget_lease().await;
                        // The keeper would renew the new lease, which the leader key is not
                        // bound to until the next renewal re-puts it: it waits for that.
                        self.keep.withdraw();
                    }
                    // A new `standby_cluster` host, port or archive command repoints the
                    // standby leader (and its replicas' archive settings) like a parameter change.
                    if c.postgresql != self.dynamic.postgresql
                        || c.standby_cluster != self.dynamic.standby_cluster
                    {
                        if self.dcs_config_seen {
                            self.server_conf_stale = true;
                        } else {
                            self.auth_files_stale = true;
                        }
                    }
                    self.dcs_config_seen = true;
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

    pub(super) async fn refresh(&mut self, snap: &mut Snapshot) {
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
    pub(super) fn wants_peers(&self, snap: &Snapshot, v: &ClusterView) -> bool {
        crate::ha::wants_peers(&self.cfg.name, &snap.pg, v)
    }

    /// Reads the data directory, the server's state and the DCS concurrently (the cycle's
    /// reaction time to a watch event is the slowest of them, not their sum).
    ///
    /// `fresh`: read etcd itself rather than the watch-fed copy (right after our own writes).
    pub(super) async fn observe_all(
        &mut self,
        fresh: bool,
    ) -> (DataDir, (PgState, ServerInfo), Option<ClusterView>) {
        let pg = self.pg.clone();
        let dcs = self.cycle_dcs();
        let retry = dcs.budget();
        let (crashed, pid) = self.reap_and_read_pid().await;
        let (data, read, state) = tokio::join!(
            async move { pg.data_dir_state_with(pid).await },
            read_view_retrying(&dcs, fresh, retry),
            self.observe_pg_with(crashed, pid)
        );
        let view = self.apply_view(read).await;
        (data, state, view)
    }
}
