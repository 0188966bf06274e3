//! The steps of a pg_rewind ([`super::Action::Rewind`]) and what follows a failed one, as pure
//! plans the runtime carries out one step at a time.
//!
//! What may delete data is decided here, not by the runtime: the data directory is removed and a
//! fresh base backup taken after a failed pg_rewind only with Patroni's
//! `postgresql.remove_data_directory_on_rewind_failure` or
//! `postgresql.remove_data_directory_on_diverged_timelines` (both default off; Patroni's
//! `Rewind.execute` honours either). Otherwise the data stays,
//! the member starts as a standby of the leader as it is (Patroni: "it will try to follow the new
//! leader"), and the core does not try the rewind again from the same leader
//! ([`super::Snapshot::rewind_failed`]) until an operator reinitializes the member.

use super::shutdown::Plan;

/// One step of a rewind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewindStep {
    /// CHECKPOINT on the source, which must accept connections: if it does not, the plan ends
    /// here, before any data is touched (a fallback base backup would fail too).
    CheckpointSource,
    /// Fast stop of the local server (a running standby stuck past the leader's switch point).
    StopFast,
    /// Rewrite `postgresql.conf` without `standby.signal`: pg_rewind's single-user crash recovery
    /// refuses to run with it.
    WriteConfigForRewind,
    /// Run pg_rewind from the source.
    RunRewind,
    /// Remove the data directory (only after a failed rewind, and only when allowed).
    RemoveDataDir,
    /// Create the replica again from the source with the configured replica creation methods
    /// ([`super::replica::plan_create_replica`]).
    CreateReplica,
    /// Start as a standby of the source.
    StartStandby,
}

/// What the plan depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RewindFacts {
    /// The local postmaster runs (or is starting).
    pub running: bool,
    /// `postgresql.remove_data_directory_on_rewind_failure`.
    pub remove_data_on_failure: bool,
    /// `postgresql.remove_data_directory_on_diverged_timelines`.
    pub remove_data_on_diverged: bool,
}

impl RewindFacts {
    /// Whether a failed pg_rewind is followed by removing the data directory: either key allows it.
    pub fn removes_data_after_failure(&self) -> bool {
        self.remove_data_on_failure || self.remove_data_on_diverged
    }
}

/// The steps of a rewind from a source that has not failed one yet.
pub fn plan_rewind(f: RewindFacts) -> Plan<RewindStep> {
    use RewindStep::*;
    let mut steps = vec![CheckpointSource];
    if f.running {
        steps.push(StopFast);
    }
    steps.extend([WriteConfigForRewind, RunRewind, StartStandby]);
    Plan::new(steps, "rewinding from the leader")
}

/// The steps after [`RewindStep::RunRewind`] failed: re-clone only when the configuration allows
/// removing the data directory, else keep the data and start as the leader's standby.
pub fn plan_after_failed_rewind(f: RewindFacts) -> Plan<RewindStep> {
    use RewindStep::*;
    if f.remove_data_on_failure {
        Plan {
            steps: vec![RemoveDataDir, CreateReplica, StartStandby],
            reason: "pg_rewind failed and remove_data_directory_on_rewind_failure is on: \
                     removing the data directory and taking a fresh base backup",
        }
    } else if f.remove_data_on_diverged {
        Plan {
            steps: vec![RemoveDataDir, CreateReplica, StartStandby],
            reason: "pg_rewind failed and remove_data_directory_on_diverged_timelines is on: \
                     removing the data directory and taking a fresh base backup",
        }
    } else {
        Plan {
            steps: vec![StartStandby],
            reason: "pg_rewind failed and neither remove_data_directory_on_rewind_failure nor \
                     remove_data_directory_on_diverged_timelines is on: keeping the data \
                     directory and starting as a standby; reinitialize this member to recover",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RewindStep::*;

    #[test]
    fn every_case_has_its_exact_steps() {
        let cases = [
            (
                RewindFacts {
                    running: false,
                    remove_data_on_failure: false,
                    remove_data_on_diverged: false,
                },
                vec![
                    CheckpointSource,
                    WriteConfigForRewind,
                    RunRewind,
                    StartStandby,
                ],
                vec![StartStandby],
            ),
            (
                RewindFacts {
                    running: true,
                    remove_data_on_failure: false,
                    remove_data_on_diverged: false,
                },
                vec![
                    CheckpointSource,
                    StopFast,
                    WriteConfigForRewind,
                    RunRewind,
                    StartStandby,
                ],
                vec![StartStandby],
            ),
            (
                RewindFacts {
                    running: false,
                    remove_data_on_failure: true,
                    remove_data_on_diverged: false,
                },
                vec![
                    CheckpointSource,
                    WriteConfigForRewind,
                    RunRewind,
                    StartStandby,
                ],
                vec![RemoveDataDir, CreateReplica, StartStandby],
            ),
            (
                RewindFacts {
                    running: false,
                    remove_data_on_failure: false,
                    remove_data_on_diverged: true,
                },
                vec![
                    CheckpointSource,
                    WriteConfigForRewind,
                    RunRewind,
                    StartStandby,
                ],
                vec![RemoveDataDir, CreateReplica, StartStandby],
            ),
        ];
        for (f, steps, after) in cases {
            assert_eq!(plan_rewind(f).steps, steps, "{f:?}");
            assert_eq!(plan_after_failed_rewind(f).steps, after, "{f:?}");
        }
    }

    #[test]
    fn data_is_removed_only_when_allowed_and_never_before_the_source_answered() {
        for running in [false, true] {
            for remove in [false, true] {
                for diverged in [false, true] {
                    let f = RewindFacts {
                        running,
                        remove_data_on_failure: remove,
                        remove_data_on_diverged: diverged,
                    };
                    let p = plan_rewind(f);
                    assert_eq!(p.steps[0], CheckpointSource);
                    assert!(!p.steps.contains(&RemoveDataDir));
                    assert_eq!(
                        plan_after_failed_rewind(f).steps.contains(&RemoveDataDir),
                        remove || diverged
                    );
                    assert_eq!(f.removes_data_after_failure(), remove || diverged);
                }
            }
        }
    }
}
