//! `GET /metrics` (Patroni's REST API): the member's status in Prometheus text format with
//! Patroni's metric names (reference §4.2), so dashboards and alerts built for Patroni keep
//! working.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::types::{MemberState, Role};

/// GET /metrics: Prometheus text format with Patroni's metric names (reference §4.2).
pub async fn metrics(State(s): State<AppState>) -> Response {
    let st = s.status.read().await;
    let labels = format!("{{scope=\"{}\",name=\"{}\"}}", s.cfg().scope, s.cfg().name);
    let mut out = String::new();
    let mut metric = |name: &str, help: &str, value: String| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{labels} {value}\n"
        ));
    };
    let b = |x: bool| if x { "1".to_string() } else { "0".to_string() };
    let running = st.pg.running;
    let primary = running && !st.pg.in_recovery && st.holds_lock();
    let replica = running && st.pg.in_recovery;
    metric(
        "patroni_version",
        "Patroni semver without periods.",
        "040105".into(),
    );
    metric(
        "patroni_postgres_running",
        "Value is 1 if Postgres is running, 0 otherwise.",
        b(running),
    );
    let start = st
        .info
        .postmaster_start_time
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f%#z").ok())
        .map(|t| format!("{:.3}", t.timestamp_millis() as f64 / 1000.0))
        .unwrap_or_else(|| "0".into());
    metric(
        "patroni_postmaster_start_time",
        "Epoch seconds since Postgres started.",
        start,
    );
    metric(
        "patroni_primary",
        "Value is 1 if this node is the leader, 0 otherwise.",
        b(primary),
    );
    metric(
        "patroni_xlog_location",
        "Current location of the Postgres transaction log, 0 if this node is not the leader.",
        if primary {
            st.pg.wal_lsn.unwrap_or_default().0.to_string()
        } else {
            "0".into()
        },
    );
    metric(
        "patroni_standby_leader",
        "Value is 1 if this node is the standby_leader, 0 otherwise.",
        "0".into(),
    );
    metric(
        "patroni_replica",
        "Value is 1 if this node is a replica, 0 otherwise.",
        b(replica),
    );
    let sync = st
        .view
        .as_ref()
        .is_some_and(|v| v.lists_sync_standby(&s.cfg().name));
    metric(
        "patroni_sync_standby",
        "Value is 1 if this node is a sync standby replica, 0 otherwise.",
        b(replica && sync),
    );
    metric(
        "patroni_quorum_standby",
        "Value is 1 if this node is a quorum standby replica, 0 otherwise.",
        "0".into(),
    );
    metric("patroni_xlog_received_location", "Current location of the received Postgres transaction log, 0 if this node is not a replica.", if replica { st.pg.receive_lsn.unwrap_or_default().0.to_string() } else { "0".into() });
    metric("patroni_xlog_replayed_location", "Current location of the replayed Postgres transaction log, 0 if this node is not a replica.", if replica { st.pg.replay_lsn.unwrap_or_default().0.to_string() } else { "0".into() });
    metric(
        "patroni_xlog_replayed_timestamp",
        "Current timestamp of the replayed Postgres transaction log, 0 if null.",
        "0".into(),
    );
    metric(
        "patroni_xlog_paused",
        "Value is 1 if the Postgres xlog is paused, 0 otherwise.",
        "0".into(),
    );
    metric(
        "patroni_postgres_server_version",
        "Version of Postgres (if running), 0 otherwise.",
        st.info.server_version.to_string(),
    );
    metric(
        "patroni_cluster_unlocked",
        "Value is 1 if the cluster is unlocked, 0 if locked.",
        b(st.view.as_ref().is_some_and(|v| v.leader.is_none())),
    );
    metric(
        "patroni_failsafe_mode_is_active",
        "Value is 1 if failsafe mode is active, 0 if inactive.",
        "0".into(),
    );
    metric(
        "patroni_postgres_timeline",
        "Postgres timeline of this node (if running), 0 otherwise.",
        st.pg.timeline.unwrap_or(0).to_string(),
    );
    metric(
        "patroni_dcs_last_seen",
        "Epoch timestamp when DCS was last contacted successfully by Patroni.",
        st.dcs_last_seen.unwrap_or(0).to_string(),
    );
    metric(
        "patroni_pending_restart",
        "Value is 1 if the node needs a restart, 0 otherwise.",
        b(st.info.pending_restart),
    );
    metric(
        "patroni_is_paused",
        "Value is 1 if auto failover is disabled, 0 otherwise.",
        b(st.dynamic.pause),
    );
    metric(
        "patroni_postgres_streaming",
        "Value is 1 if Postgres is streaming, 0 otherwise.",
        b(replica && st.info.receiver_status.as_deref() == Some("streaming")),
    );
    metric(
        "patroni_postgres_in_archive_recovery",
        "Value is 1 if Postgres is replicating from archive, 0 otherwise.",
        b(replica && st.info.receiver_status.as_deref() != Some("streaming")),
    );
    let state = if st.role == Role::Uninitialized && st.state == MemberState::Stopped {
        -1
    } else {
        st.state.metric_index()
    };
    metric(
        "patroni_postgres_state",
        "Numeric representation of Postgres state.",
        state.to_string(),
    );
    drop(st);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
