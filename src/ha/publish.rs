//! What a member says about itself at the end of a cycle: the role and state published in its
//! member key, `/patroni` and `praetorctl list` (Patroni's words, [`crate::types`]).

use serde_json::Value as Json;

use crate::config::Tags;
use crate::dcs::MemberData;
use crate::types::{DataDir, Lsn, MemberState, PgState, Role};

/// The agent version a member publishes: Patroni 4.x's, so Patroni peers and tools trust its
/// fields (praetor's own version goes in `praetor_version`).
pub const PATRONI_COMPAT_VERSION: &str = "4.1.5";

/// What a member's key is made of (see [`member_data`]).
#[derive(Debug, Clone)]
pub struct MemberFacts<'a> {
    /// The configured tags.
    pub tags: &'a Tags,
    /// A synchronous standby asking the primary to release it (before a stop or restart):
    /// publish `nosync` and `sync_priority: 0`.
    pub sync_release: bool,
    /// `postgresql.connect_address` (`host:port`).
    pub connect_address: &'a str,
    /// `postgresql.proxy_address` (`host:port`), published as `proxy_url`.
    pub proxy_address: Option<&'a str>,
    /// This member's `GET /patroni` URL.
    pub api_url: String,
    /// The state to publish.
    pub state: MemberState,
    /// The role to publish.
    pub role: Role,
    /// What was observed of the server.
    pub pg: &'a PgState,
    /// The WAL receiver streams (a standby's `replication_state`).
    pub streaming: bool,
    /// Maintenance mode is on.
    pub pause: bool,
    /// Settings changed since the server started that only a restart applies
    /// (`pg_settings.pending_restart`): name → (running value, configured value).
    pub pending_restart: Option<&'a std::collections::BTreeMap<String, (String, String)>>,
    /// A restart scheduled through `POST /restart` (`{schedule, postmaster_start_time, …}`),
    /// published as Patroni does so `list` shows it on every member's screen.
    pub scheduled_restart: Option<Json>,
}

/// The member key's value (Patroni's fields, reference §1.3): connection and API URLs, state,
/// role, timeline, tags, `pause`; a running standby's WAL positions (`xlog_location` the larger
/// of received and replayed, bytes) and `replication_state`; a primary's current WAL position;
/// `pending_restart` (and `pending_restart_reason`, name → old and new value) while a changed
/// setting waits for a restart, as Patroni 4 publishes it; `scheduled_restart` while one is
/// scheduled.
pub fn member_data(f: &MemberFacts) -> MemberData {
    let tags = if f.sync_release {
        let mut t = f.tags.clone();
        t.nosync = true;
        t.other.insert("sync_priority".into(), Json::from(0));
        Some(t)
    } else if *f.tags == Tags::default() {
        None
    } else {
        Some(f.tags.clone())
    };
    let pg = f.pg;
    let mut m = MemberData {
        conn_url: format!("postgres://{}/postgres", f.connect_address),
        proxy_url: f.proxy_address.map(|p| format!("postgres://{p}/postgres")),
        api_url: f.api_url.clone(),
        state: f.state.as_str().to_string(),
        role: f.role.as_str().to_string(),
        version: PATRONI_COMPAT_VERSION.to_string(),
        timeline: pg.timeline,
        tags,
        pause: f.pause.then_some(true),
        ..Default::default()
    };
    if pg.running {
        if pg.in_recovery {
            m.xlog_location = Some(pg.lsn());
            m.receive_lsn = pg.receive_lsn;
            m.replay_lsn = pg.replay_lsn;
            m.replication_state = Some(
                if f.streaming {
                    "streaming"
                } else {
                    "in archive recovery"
                }
                .into(),
            );
        } else {
            m.xlog_location = pg.wal_lsn;
        }
    }
    if let Some(reason) = f.pending_restart {
        // Patroni 4's member key: `pending_restart: true` and, per setting, its old and new value.
        m.other.insert("pending_restart".into(), Json::Bool(true));
        if !reason.is_empty() {
            let r: serde_json::Map<String, Json> = reason
                .iter()
                .map(|(name, (old, new))| {
                    (
                        name.clone(),
                        serde_json::json!({"old_value": old, "new_value": new}),
                    )
                })
                .collect();
            m.other
                .insert("pending_restart_reason".into(), Json::Object(r));
        }
    }
    if let Some(r) = &f.scheduled_restart {
        m.other.insert("scheduled_restart".into(), r.clone());
    }
    m.other.insert(
        "praetor_version".into(),
        Json::String(env!("CARGO_PKG_VERSION").into()),
    );
    m
}

/// The WAL position (bytes) the leader publishes in `/status` for the others' lag checks: its
/// current position while it holds the lease and runs out of recovery; a standby cluster's
/// leader (`standby_cluster`) publishes the furthest it received or replayed (Patroni's
/// `last_operation`); else nothing.
pub fn published_optime(leading: bool, standby_cluster: bool, pg: &PgState) -> Option<Lsn> {
    if !(leading && pg.running) {
        return None;
    }
    if !pg.in_recovery {
        return pg.wal_lsn;
    }
    standby_cluster.then(|| pg.lsn())
}

/// The role to publish: `uninitialized` with no data directory and nothing running, `primary`
/// for a running server out of recovery, `standby_leader` for the holder of a standby cluster's
/// leader key (`standby_leader`), else `replica`.
pub fn published_role(data: &DataDir, pg: &PgState, standby_leader: bool) -> Role {
    if matches!(data, DataDir::Empty) && !pg.running {
        Role::Uninitialized
    } else if pg.is_primary() {
        Role::Primary
    } else if standby_leader {
        Role::StandbyLeader
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
            | MemberState::CustomBootstrap
            | MemberState::CustomBootstrapFailed
            | MemberState::BootstrapStarting
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
    fn member_data_per_role() {
        let tags = Tags::default();
        let standby = PgState {
            running: true,
            in_recovery: true,
            timeline: Some(2),
            receive_lsn: Some(Lsn(120)),
            replay_lsn: Some(Lsn(100)),
            ..Default::default()
        };
        let f = MemberFacts {
            tags: &tags,
            sync_release: false,
            connect_address: "10.0.0.2:5432",
            proxy_address: None,
            api_url: "http://10.0.0.2:8008/patroni".into(),
            state: MemberState::Running,
            role: Role::Replica,
            pg: &standby,
            streaming: true,
            pause: false,
            pending_restart: None,
            scheduled_restart: None,
        };
        let m = member_data(&f);
        assert!(!m.other.contains_key("pending_restart"));
        assert_eq!(m.conn_url, "postgres://10.0.0.2:5432/postgres");
        assert_eq!((m.state.as_str(), m.role.as_str()), ("running", "replica"));
        assert_eq!(m.version, PATRONI_COMPAT_VERSION);
        assert_eq!(
            (m.xlog_location, m.receive_lsn, m.replay_lsn),
            (Some(Lsn(120)), Some(Lsn(120)), Some(Lsn(100)))
        );
        assert_eq!(m.replication_state.as_deref(), Some("streaming"));
        assert_eq!((m.tags, m.pause, m.timeline), (None, None, Some(2)));
        let m = member_data(&MemberFacts {
            streaming: false,
            sync_release: true,
            pause: true,
            ..f.clone()
        });
        assert_eq!(m.replication_state.as_deref(), Some("in archive recovery"));
        let t = m.tags.expect("tags while asking for release");
        assert!(t.nosync);
        assert_eq!(t.other["sync_priority"], Json::from(0));
        assert_eq!(m.pause, Some(true));

        let primary = PgState {
            running: true,
            in_recovery: false,
            wal_lsn: Some(Lsn(500)),
            ..Default::default()
        };
        let m = member_data(&MemberFacts {
            pg: &primary,
            role: Role::Primary,
            ..f.clone()
        });
        assert_eq!(
            (m.xlog_location, m.replication_state),
            (Some(Lsn(500)), None)
        );
        let reason: std::collections::BTreeMap<String, (String, String)> = [(
            "shared_buffers".to_string(),
            ("16MB".to_string(), "32MB".to_string()),
        )]
        .into();
        let m = member_data(&MemberFacts {
            pending_restart: Some(&reason),
            scheduled_restart: Some(serde_json::json!({"schedule": "2026-12-06T12:00:00+00:00"})),
            ..f.clone()
        });
        assert_eq!(m.other["pending_restart"], Json::Bool(true));
        assert_eq!(
            m.other["scheduled_restart"],
            serde_json::json!({"schedule": "2026-12-06T12:00:00+00:00"})
        );
        assert_eq!(
            m.other["pending_restart_reason"],
            serde_json::json!({"shared_buffers": {"old_value": "16MB", "new_value": "32MB"}})
        );
        let stopped = PgState::default();
        let m = member_data(&MemberFacts { pg: &stopped, ..f });
        assert_eq!(m.xlog_location, None);
    }

    #[test]
    fn only_a_running_leader_publishes_its_optime() {
        let mut pg = PgState {
            running: true,
            in_recovery: false,
            wal_lsn: Some(Lsn(7)),
            ..Default::default()
        };
        assert_eq!(published_optime(true, false, &pg), Some(Lsn(7)));
        assert_eq!(published_optime(false, false, &pg), None);
        pg.in_recovery = true;
        assert_eq!(published_optime(true, false, &pg), None);
        // A standby leader publishes what it received or replayed.
        pg.receive_lsn = Some(Lsn(9));
        pg.replay_lsn = Some(Lsn(8));
        assert_eq!(published_optime(true, true, &pg), Some(Lsn(9)));
        assert_eq!(published_optime(false, true, &pg), None);
        pg.in_recovery = false;
        pg.running = false;
        assert_eq!(published_optime(true, false, &pg), None);
    }

    #[test]
    fn roles() {
        let present = DataDir::Present {
            sysid: "1".into(),
            state: "in production".into(),
            timeline: 1,
            checkpoint_lsn: Lsn(0),
            min_recovery: None,
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
            assert_eq!(published_role(&data, &pg, false), want, "{data:?} {pg:?}");
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
