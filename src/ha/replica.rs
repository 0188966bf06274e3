//! **Pure** the creation of a replica (a member with an empty data directory, or one being
//! reinitialized): where its data comes from and which replica creation methods are tried, in
//! which order, with which data-directory handling — Patroni 4.1's `Cluster.get_clone_member`,
//! `Bootstrap.create_replica` and `Ha.clone`.
//!
//! - The source is a running member tagged `clonefrom` (not this one, not the leader), else the
//!   leader ([`clone_source`]).
//! - Methods run in `create_replica_methods` order until one succeeds. Without a source only the
//!   methods marked `no_leader` run (a restore from a backup needs no primary); `basebackup`
//!   (pg_basebackup from the source) never does. A reinitialize asked `from_leader` runs
//!   `basebackup` alone.
//! - Before a method runs the data directory is emptied unless the method keeps data
//!   (`keep_data`: a `--delta` restore reuses it); `basebackup` always starts empty. After a
//!   failed method the directory is emptied again unless it keeps data.
//! - When every method failed the data directory is removed ([`plan_after_failed_replica`]): what
//!   is left is a partial copy, never a member's own data — a replica is only created into an
//!   empty directory or, for a reinitialize an operator asked for, over one it gave up.

use super::shutdown::Plan;
use crate::dcs::ClusterView;

/// What the plan needs of one configured method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodFacts {
    /// The method's name (`basebackup` is praetor's pg_basebackup).
    pub name: String,
    /// `keep_data`.
    pub keep_data: bool,
    /// `no_leader` / `no_master`: works without a source member.
    pub no_leader: bool,
}

impl MethodFacts {
    fn is_basebackup(&self) -> bool {
        self.name == crate::config::backup::BASEBACKUP
    }

    /// Whether this method can build a replica with no member to copy from.
    pub fn works_without_source(&self) -> bool {
        !self.is_basebackup() && self.no_leader
    }
}

impl From<&crate::config::backup::ReplicaMethod> for MethodFacts {
    fn from(m: &crate::config::backup::ReplicaMethod) -> MethodFacts {
        MethodFacts {
            name: m.name.clone(),
            keep_data: m.keep_data,
            no_leader: m.no_leader,
        }
    }
}

/// One step of creating a replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaStep {
    /// Remove whatever the data directory holds, keeping the directory (nothing to do when it is
    /// empty or missing).
    ClearDataDir,
    /// Run the named method (its index in `create_replica_methods` order). Success ends the plan;
    /// a failure goes on with the next step.
    Run {
        /// Index of the method in the configured list.
        index: usize,
        /// Its name, for the log.
        name: String,
    },
    /// After a failed method that does not keep data: empty the directory for the next one.
    ClearAfterFailure,
}

/// Whether some configured method builds a replica with no member to copy from.
pub fn can_create_without_source(methods: &[MethodFacts]) -> bool {
    methods.iter().any(MethodFacts::works_without_source)
}

/// The member a new replica copies its data from: a running member tagged `clonefrom` other
/// than `me` and the leader (the first by name: Patroni picks one at random), else the leader,
/// whatever its state (`None` without a leader).
pub fn clone_source(view: &ClusterView, me: &str) -> Option<String> {
    let leader = view.leader.as_ref().map(|l| l.name.as_str());
    view.members
        .iter()
        .filter(|m| m.name != me && Some(m.name.as_str()) != leader)
        .filter(|m| m.tags().clonefrom && m.is_running())
        .map(|m| m.name.clone())
        .next()
        .or_else(|| leader.map(str::to_string))
}

/// The steps of creating a replica with `methods` (in order), from a source member when
/// `has_source`, basebackup alone when `from_leader` (a reinitialize asked for it).
pub fn plan_create_replica(
    methods: &[MethodFacts],
    has_source: bool,
    from_leader: bool,
) -> Plan<ReplicaStep> {
    let basebackup_only = [MethodFacts {
        name: crate::config::backup::BASEBACKUP.into(),
        keep_data: false,
        no_leader: false,
    }];
    let methods: &[MethodFacts] = if from_leader || methods.is_empty() {
        &basebackup_only
    } else {
        methods
    };
    let mut steps = Vec::new();
    for (index, m) in methods.iter().enumerate() {
        if !has_source && !m.works_without_source() {
            continue;
        }
        if !m.keep_data {
            steps.push(ReplicaStep::ClearDataDir);
        }
        steps.push(ReplicaStep::Run {
            index,
            name: m.name.clone(),
        });
        if !m.keep_data {
            steps.push(ReplicaStep::ClearAfterFailure);
        }
    }
    let reason = match (has_source, from_leader) {
        (_, true) => "creating the replica with basebackup from the leader",
        (true, false) => "creating the replica with the configured methods, in order",
        (false, false) => "creating the replica without a source member (methods with no_leader)",
    };
    Plan::new(steps, reason)
}

/// One step after every method failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedReplicaStep {
    /// Remove the partial copy (Patroni's `remove_data_directory` after a failed clone), also
    /// one a `keep_data` method left; the directory itself stays.
    RemoveDataDir,
}

/// What follows when no method created the replica: the partial copy is removed and the member
/// tries again on a later cycle.
pub fn plan_after_failed_replica() -> Plan<FailedReplicaStep> {
    Plan::new(
        vec![FailedReplicaStep::RemoveDataDir],
        "every replica creation method failed: removing the partial copy",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReplicaStep::*;

    fn m(name: &str, keep_data: bool, no_leader: bool) -> MethodFacts {
        MethodFacts {
            name: name.into(),
            keep_data,
            no_leader,
        }
    }

    fn run(index: usize, name: &str) -> ReplicaStep {
        Run {
            index,
            name: name.into(),
        }
    }

    #[test]
    fn methods_run_in_order_with_their_data_handling() {
        let methods = [
            m("pgbackrest", true, true),
            m("wal_g", false, false),
            m("basebackup", false, false),
        ];
        assert_eq!(
            plan_create_replica(&methods, true, false).steps,
            vec![
                run(0, "pgbackrest"),
                ClearDataDir,
                run(1, "wal_g"),
                ClearAfterFailure,
                ClearDataDir,
                run(2, "basebackup"),
                ClearAfterFailure,
            ]
        );
    }

    #[test]
    fn without_a_source_only_no_leader_methods_run() {
        let methods = [m("basebackup", false, true), m("restore", false, true)];
        assert_eq!(
            plan_create_replica(&methods, false, false).steps,
            vec![ClearDataDir, run(1, "restore"), ClearAfterFailure]
        );
        assert!(can_create_without_source(&methods));
        assert!(!can_create_without_source(&[m("basebackup", false, true)]));
        assert!(!can_create_without_source(&[m("x", true, false)]));
        assert_eq!(
            plan_create_replica(&[m("x", true, false)], false, false).steps,
            vec![]
        );
    }

    #[test]
    fn from_leader_and_no_methods_mean_basebackup() {
        let basebackup = vec![ClearDataDir, run(0, "basebackup"), ClearAfterFailure];
        assert_eq!(
            plan_create_replica(&[m("restore", true, true)], true, true).steps,
            basebackup
        );
        assert_eq!(plan_create_replica(&[], true, false).steps, basebackup);
    }

    #[test]
    fn a_failed_creation_removes_only_the_copy() {
        assert_eq!(
            plan_after_failed_replica().steps,
            vec![FailedReplicaStep::RemoveDataDir]
        );
    }
}
