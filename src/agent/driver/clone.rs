//! Creating a replica with the configured replica creation methods: the steps of
//! [`crate::ha::replica::plan_create_replica`] carried out in order (the first method that
//! succeeds ends them), and after every method failed those of
//! [`crate::ha::replica::plan_after_failed_replica`].

use super::*;
use crate::config::backup::ReplicaMethod;
use crate::ha::replica::{
    plan_after_failed_replica, plan_create_replica, FailedReplicaStep, MethodFacts, ReplicaStep,
};

impl Driver {
    /// The configured methods as the core plans with them.
    pub(super) fn replica_method_facts(&self) -> Vec<MethodFacts> {
        self.cfg
            .replica_methods
            .iter()
            .map(MethodFacts::from)
            .collect()
    }

    /// Creates this member's data directory as a replica: from `from` (`None`: only methods that
    /// need no source run), with basebackup alone when `from_leader`. Logs which method made it,
    /// and each failure with the method tried next.
    ///
    /// # Errors
    /// Every method failed (the partial copy has been removed), or the data directory could not
    /// be emptied between methods.
    pub(super) async fn create_replica(
        &mut self,
        from: Option<&Upstream>,
        from_leader: bool,
    ) -> Result<()> {
        let methods = self.cfg.replica_methods.clone();
        self.create_replica_with(from, from_leader, &methods).await
    }

    /// [`Driver::create_replica`] with `methods` (a standby cluster's first member uses
    /// `standby_cluster.create_replica_methods`).
    pub(super) async fn create_replica_with(
        &mut self,
        from: Option<&Upstream>,
        from_leader: bool,
        methods: &[ReplicaMethod],
    ) -> Result<()> {
        let _alive = keep_systemd_alive();
        self.rewind_failed_from = None;
        self.state = MemberState::CreatingReplica;
        self.role = Role::Uninitialized;
        self.shared.status.write().await.state = MemberState::CreatingReplica;
        let facts: Vec<MethodFacts> = methods.iter().map(MethodFacts::from).collect();
        let plan = plan_create_replica(&facts, from.is_some(), from_leader);
        tracing::info!(
            "{plan}{}",
            from.map(|u| format!(", from {}", u.name))
                .unwrap_or_default()
        );
        let runs: Vec<&str> = plan
            .steps
            .iter()
            .filter_map(|s| match s {
                ReplicaStep::Run { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        let mut failed: Option<anyhow::Error> = None;
        let mut tried = 0;
        for step in &plan.steps {
            match step {
                ReplicaStep::ClearDataDir | ReplicaStep::ClearAfterFailure => {
                    self.pg.clear_data_dir()?
                }
                ReplicaStep::Run { name, .. } => {
                    tried += 1;
                    let method = methods
                        .iter()
                        .find(|m| &m.name == name)
                        .cloned()
                        .unwrap_or_else(ReplicaMethod::basebackup);
                    let result = match (method.is_basebackup(), from) {
                        (true, Some(up)) => self.pg.basebackup(up).await,
                        (true, None) => Err(anyhow!("basebackup needs a member to copy from")),
                        (false, _) => self.pg.run_replica_method(&method, from).await,
                    };
                    match result {
                        Ok(()) => {
                            tracing::info!(
                                "replica has been created using {name}{}",
                                from.map(|u| format!(" (source {})", u.name))
                                    .unwrap_or_default()
                            );
                            return Ok(());
                        }
                        Err(e) => {
                            match runs.get(tried) {
                                Some(next) => tracing::error!(
                                    "Error creating replica using method {name}: {e:#}; trying {next} next"
                                ),
                                None => tracing::error!(
                                    "Error creating replica using method {name}: {e:#}"
                                ),
                            }
                            failed = Some(e);
                        }
                    }
                }
            }
        }
        let after = plan_after_failed_replica();
        tracing::warn!("{after}");
        for step in after.steps {
            match step {
                FailedReplicaStep::RemoveDataDir => self.pg.clear_data_dir()?,
            }
        }
        Err(failed
            .unwrap_or_else(|| {
                anyhow!("no replica creation method can run without a source member")
            })
            .context("creating the replica"))
    }
}

/// Feeds systemd's watchdog (`WATCHDOG=1`) and extends its start timeout every 10 s while a long
/// step holds the HA loop (a restore, a base backup, a restored backup's recovery), so the unit's
/// `WatchdogSec` does not kill the agent in the middle of it; stops when dropped. Without
/// `NOTIFY_SOCKET` it sends nothing.
pub(super) fn keep_systemd_alive() -> KeepAlive {
    KeepAlive(tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            let _ = sd_notify::notify(
                false,
                &[
                    sd_notify::NotifyState::Watchdog,
                    sd_notify::NotifyState::ExtendTimeoutUsec(30_000_000),
                ],
            );
        }
    }))
}

/// See [`keep_systemd_alive`].
pub(super) struct KeepAlive(tokio::task::JoinHandle<()>);

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.0.abort();
    }
}
