//! The steps of bootstrapping a new cluster ([`super::Action::Bootstrap`]) and of the clean-up
//! after a failed bootstrap, as pure plans the runtime carries out one step at a time.
//!
//! The order follows Patroni's `Ha.bootstrap` / `post_bootstrap`: the member that wins the race
//! for `/initialize` runs initdb (or the custom bootstrap method, and waits for the restored
//! server's recovery to end), starts the server as a primary, creates the roles, runs
//! `post_bootstrap`, and only then writes the system identifier into `/initialize`, the
//! bootstrap `dcs` section into `/config` (create-only) and takes the leader key. A failure after
//! the race was won undoes the bootstrap as Patroni's `cancel_initialization` does (immediate
//! stop, the data directory moved aside rather than removed, `/initialize` deleted so another
//! member may try) and the agent exits; a failure before the race was won touches nothing.

use super::shutdown::Plan;

/// One step of a bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootstrapStep {
    /// Create `/initialize` (empty value) if absent. Losing the race ends the plan quietly:
    /// another member bootstraps and this one clones from it later.
    InitializeRace,
    /// Run initdb (`bootstrap.initdb` options).
    Initdb,
    /// A standby cluster's first member: copy the remote primary with
    /// `standby_cluster.create_replica_methods` (Patroni's `bootstrap_standby_leader`).
    CloneRemote,
    /// Start as the standby leader, following the remote primary, and wait for connections.
    StartStandbyLeader,
    /// Run the custom bootstrap method's command (`bootstrap.method`: a restore from a backup).
    RunBootstrapMethod,
    /// Write the configuration the restored backup recovers with (its `recovery_conf` and
    /// `recovery.signal`, or what the restore left with `keep_existing_recovery_conf`).
    WriteConfigForRestore,
    /// Start the restored server (it recovers; no wait for connections).
    StartRecovery,
    /// Wait, as long as it takes, until the restored server has left recovery and runs as a
    /// primary; its postmaster exiting fails the bootstrap.
    WaitEndOfRecovery,
    /// Fast stop, write the primary's configuration (recovery settings gone), start and wait for
    /// connections.
    RestartAsPrimary,
    /// Write `postgresql.conf` and `pg_hba.conf` for a primary (no `standby.signal`).
    WriteConfigPrimary,
    /// Start PostgreSQL and wait, up to `pg_ctl_timeout`, until it accepts connections.
    StartAndWait,
    /// Run the `on_start` callback (in the background).
    CallbackOnStart,
    /// Create the superuser, replication and rewind roles from `postgresql.authentication`.
    CreateRoles,
    /// Run `bootstrap.post_bootstrap` (Patroni's `post_init`), if set.
    PostBootstrap,
    /// Citus: create the extension and register this node (coordinator or worker).
    CitusBootstrap,
    /// Write the new system identifier into `/initialize`.
    WriteInitialize,
    /// Write `bootstrap.dcs` into `/config`, only if no one wrote it yet.
    WriteConfigKey,
    /// Take the leader key on this member's lease.
    TakeLeaderKey,
}

/// What a bootstrap's plan depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootstrapFacts {
    /// The configuration has a `citus` section.
    pub citus: bool,
    /// `bootstrap.method` names a custom method (Patroni's custom bootstrap): its command makes
    /// the data directory instead of initdb, and the restored server recovers before anything
    /// is published.
    pub custom: bool,
    /// `standby_cluster` is set: the first member copies the remote primary and follows it.
    pub standby: bool,
}

/// The steps of a bootstrap. A custom bootstrap (Patroni's `_custom_bootstrap` and
/// `post_bootstrap`) runs the method, lets the restored server recover (to its target) until it
/// runs as a primary, restarts it with the primary's configuration and then goes on as after
/// initdb: the roles are created or updated to the configured passwords, and only then is the
/// system identifier published.
pub fn plan_bootstrap(f: BootstrapFacts) -> Plan<BootstrapStep> {
    use BootstrapStep::*;
    if f.standby {
        return Plan::new(
            vec![
                InitializeRace,
                CloneRemote,
                StartStandbyLeader,
                WriteInitialize,
                WriteConfigKey,
                TakeLeaderKey,
            ],
            "bootstrapping a new standby leader from the remote primary",
        );
    }
    let mut steps = if f.custom {
        vec![
            InitializeRace,
            RunBootstrapMethod,
            WriteConfigForRestore,
            StartRecovery,
            WaitEndOfRecovery,
            RestartAsPrimary,
        ]
    } else {
        vec![InitializeRace, Initdb, WriteConfigPrimary, StartAndWait]
    };
    steps.extend([CallbackOnStart, CreateRoles, PostBootstrap]);
    if f.citus {
        steps.push(CitusBootstrap);
    }
    steps.extend([WriteInitialize, WriteConfigKey, TakeLeaderKey]);
    Plan::new(
        steps,
        if f.custom {
            "bootstrapping a new cluster with the custom bootstrap method"
        } else {
            "bootstrapping a new cluster"
        },
    )
}

/// One step of the clean-up after a failed bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootstrapCleanupStep {
    /// Immediate stop of whatever server the bootstrap started.
    StopImmediate,
    /// Rename the data directory aside (`<data_dir>_<timestamp>`); nothing is deleted.
    MoveAsideDataDir,
    /// Delete `/initialize`, so another member may bootstrap.
    DeleteInitialize,
    /// Exit the agent with the failure (Patroni: "Failed to bootstrap cluster").
    Exit,
}

/// The clean-up after `failed` (a step of [`plan_bootstrap`]) failed. Before the race was won
/// nothing was touched and nothing is undone (the next cycle tries again); after it, the
/// bootstrap is cancelled and the agent exits.
pub fn plan_failed_bootstrap(failed: BootstrapStep) -> Plan<BootstrapCleanupStep> {
    use BootstrapCleanupStep::*;
    if failed == BootstrapStep::InitializeRace {
        return Plan {
            steps: vec![],
            reason: "could not race for the initialize key; trying again next cycle",
        };
    }
    Plan {
        steps: vec![StopImmediate, MoveAsideDataDir, DeleteInitialize, Exit],
        reason: "bootstrap failed: cancelling the initialization",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BootstrapCleanupStep as C;
    use BootstrapStep::*;

    #[test]
    fn every_case_has_its_exact_steps() {
        let plan = |citus| {
            plan_bootstrap(BootstrapFacts {
                citus,
                custom: false,
                standby: false,
            })
            .steps
        };
        // Up to a ready server, then publishing it in the DCS.
        let mut plain = vec![InitializeRace, Initdb, WriteConfigPrimary, StartAndWait];
        plain.extend([CallbackOnStart, CreateRoles, PostBootstrap]);
        plain.extend([WriteInitialize, WriteConfigKey, TakeLeaderKey]);
        assert_eq!(plan(false), plain);
        // Citus registers the node just before the system identifier is published.
        let mut citus = plain.clone();
        let at = plain.iter().position(|s| *s == WriteInitialize).unwrap();
        citus.insert(at, CitusBootstrap);
        assert_eq!(plan(true), citus);
        // A standby cluster copies the remote primary and follows it: no roles, no scripts.
        assert_eq!(
            plan_bootstrap(BootstrapFacts {
                citus: false,
                custom: false,
                standby: true,
            })
            .steps,
            vec![
                InitializeRace,
                CloneRemote,
                StartStandbyLeader,
                WriteInitialize,
                WriteConfigKey,
                TakeLeaderKey
            ]
        );
        // A custom method restores, lets the server recover, restarts it as a primary.
        let mut custom = vec![
            InitializeRace,
            RunBootstrapMethod,
            WriteConfigForRestore,
            StartRecovery,
            WaitEndOfRecovery,
            RestartAsPrimary,
        ];
        custom.extend([CallbackOnStart, CreateRoles, PostBootstrap]);
        custom.extend([WriteInitialize, WriteConfigKey, TakeLeaderKey]);
        assert_eq!(
            plan_bootstrap(BootstrapFacts {
                citus: false,
                custom: true,
                standby: false,
            })
            .steps,
            custom
        );
    }

    #[test]
    fn the_clean_up_never_deletes_data_and_touches_nothing_before_the_race_is_won() {
        assert_eq!(plan_failed_bootstrap(InitializeRace).steps, vec![]);
        for (citus, custom) in [(false, false), (true, false), (false, true), (true, true)] {
            for failed in plan_bootstrap(BootstrapFacts {
                citus,
                custom,
                standby: false,
            })
            .steps
            {
                if failed == InitializeRace {
                    continue;
                }
                assert_eq!(
                    plan_failed_bootstrap(failed).steps,
                    vec![
                        C::StopImmediate,
                        C::MoveAsideDataDir,
                        C::DeleteInitialize,
                        C::Exit
                    ],
                    "{failed:?}"
                );
            }
        }
    }

    #[test]
    fn the_system_identifier_is_published_only_after_the_server_is_ready() {
        let steps = plan_bootstrap(BootstrapFacts {
            citus: true,
            custom: false,
            standby: false,
        })
        .steps;
        let at = |s| steps.iter().position(|x| *x == s).unwrap();
        assert!(at(StartAndWait) < at(WriteInitialize));
        assert!(at(PostBootstrap) < at(WriteInitialize));
        assert!(at(CitusBootstrap) < at(WriteInitialize));
        assert_eq!(steps.last(), Some(&TakeLeaderKey));
        let custom = plan_bootstrap(BootstrapFacts {
            citus: false,
            custom: true,
            standby: false,
        })
        .steps;
        let at = |s| custom.iter().position(|x| *x == s).unwrap();
        assert!(at(WaitEndOfRecovery) < at(CreateRoles));
        assert!(at(RestartAsPrimary) < at(WriteInitialize));
    }
}
