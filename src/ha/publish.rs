//! What a member says about itself at the end of a cycle: the role and state published in its
//! member key, `/patroni` and `praetorctl list` (Patroni's words, [`crate::types`]).

use crate::types::{DataDir, MemberState, PgState, Role};

/// The role to publish: `uninitialized` with no data directory and nothing running, `primary`
/// for a running server out of recovery, else `replica`.
pub fn published_role(data: &DataDir, pg: &PgState) -> Role {
    if matches!(data, DataDir::Empty) && !pg.running {
        Role::Uninitialized
    } else if pg.is_primary() {
        Role::Primary
    } else {
        Role::Replica
    }
}

/// The state to publish, given the state the runtime last set (`previous`, e.g. while a base
/// backup or initdb runs) and whether the fence guard left its marker (`fenced`): `running`
/// while the server accepts connections, `fenced` after the guard stopped it, `starting` while
/// it comes up; a stopped server keeps a state that explains why (creating a replica,
/// initialising, a failed start), else `crashed` or `stopped`.
pub fn published_state(pg: &PgState, fenced: bool, previous: MemberState) -> MemberState {
    if pg.running {
        MemberState::Running
    } else if fenced {
        MemberState::Fenced
    } else if pg.starting {
        MemberState::Starting
    } else if matches!(
        previous,
        MemberState::CreatingReplica
            | MemberState::InitializingNewCluster
            | MemberState::StartFailed
    ) {
        previous
    } else if pg.crashed {
        MemberState::Crashed
    } else {
        MemberState::Stopped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(running: bool, in_recovery: bool, starting: bool, crashed: bool) -> PgState {
        PgState {
            running,
            in_recovery,
            starting,
            crashed,
            ..Default::default()
        }
    }

    #[test]
    fn roles() {
        let present = DataDir::Present {
            sysid: "1".into(),
            state: "in production".into(),
            timeline: 1,
            checkpoint_lsn: 0,
            backup_label: false,
        };
        let cases = [
            (
                DataDir::Empty,
                pg(false, true, false, false),
                Role::Uninitialized,
            ),
            (DataDir::Empty, pg(true, false, false, false), Role::Primary),
            (
                present.clone(),
                pg(true, false, false, false),
                Role::Primary,
            ),
            (present.clone(), pg(true, true, false, false), Role::Replica),
            (present, pg(false, false, false, false), Role::Replica),
        ];
        for (data, pg, want) in cases {
            assert_eq!(published_role(&data, &pg), want, "{data:?} {pg:?}");
        }
    }

    #[test]
    fn states() {
        use MemberState::*;
        let cases = [
            (pg(true, true, false, false), true, Stopped, Running),
            (pg(false, true, false, false), true, Running, Fenced),
            (pg(false, true, true, false), false, Stopped, Starting),
            (
                pg(false, true, false, false),
                false,
                CreatingReplica,
                CreatingReplica,
            ),
            (
                pg(false, true, false, true),
                false,
                InitializingNewCluster,
                InitializingNewCluster,
            ),
            (
                pg(false, true, false, true),
                false,
                StartFailed,
                StartFailed,
            ),
            (pg(false, true, false, true), false, Running, Crashed),
            (pg(false, true, false, false), false, Running, Stopped),
        ];
        for (pg, fenced, previous, want) in cases {
            assert_eq!(
                published_state(&pg, fenced, previous),
                want,
                "{pg:?} fenced {fenced} after {previous:?}"
            );
        }
    }
}
