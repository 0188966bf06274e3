//! `GET /metrics` (Patroni's REST API): the member's status in Prometheus text format with
//! Patroni's metric names, types, labels and order (Patroni 4.1's `do_GET_metrics`, reference
//! §4.2), so dashboards and alerts built for Patroni keep working.
//!
//! As in Patroni, every value is read from the `/patroni` body ([`crate::api::patroni_json`]),
//! so the two never disagree; [`render`] is the pure part.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::AppState;
use crate::types::{MemberState, Role};

/// Patroni 4.1's `patroni_postgres_state` values (`PostgresqlState` indexes), and praetor's
/// `fenced` after them.
const STATE_VALUES: &str = "0=initdb, 1=initdb_failed, 2=custom_bootstrap, \
    3=custom_bootstrap_failed, 4=creating_replica, 5=running, 6=starting, 7=bootstrap_starting, \
    8=start_failed, 9=restarting, 10=restart_failed, 11=stopping, 12=stopped, 13=stop_failed, \
    14=crashed, 15=fenced";

/// GET /metrics: [`render`] over this member's `/patroni` body.
pub async fn metrics(State(s): State<AppState>) -> Response {
    let st = s.status.read().await;
    let status = crate::api::patroni_json(&s, &st);
    let state = if st.role == Role::Uninitialized && st.state == MemberState::Stopped {
        -1
    } else {
        st.state.metric_index()
    };
    drop(st);
    let cfg = s.cfg();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&status, &cfg.scope, &cfg.name, state),
    )
        .into_response()
}

/// The metrics text for a `/patroni` body: every series Patroni 4.1 serves, labelled
/// `{scope="…",name="…"}`, in Patroni's order, with Patroni's TYPE lines and HELP lines of our own (the three WAL
/// positions are counters, the rest gauges). Values as Patroni derives them: flags are 0 or 1;
/// WAL positions are bytes (0 when not applicable); timestamps are epoch seconds (0 when
/// unknown); `patroni_postgres_streaming` and `patroni_postgres_in_archive_recovery` are
/// served only while the server answers (it has a `server_version`); `state_index` is
/// `patroni_postgres_state` (−1 unknown).
pub fn render(status: &Value, scope: &str, name: &str, state_index: i32) -> String {
    let labels = format!("{{scope=\"{scope}\",name=\"{name}\"}}");
    let mut out = String::new();
    let mut metric = |name: &str, help: &str, kind: &str, value: String| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{labels} {value}\n"
        ));
    };
    let flag = |key: &str| u8::from(status.get(key).is_some_and(truthy)).to_string();
    let xlog = |key: &str| {
        status
            .get("xlog")
            .and_then(|x| x.get(key))
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .to_string()
    };
    let role = status.get("role").and_then(Value::as_str);
    let server_version = status
        .get("server_version")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let replication_state = status.get("replication_state").and_then(Value::as_str);
    let version = status
        .pointer("/patroni/version")
        .and_then(Value::as_str)
        .unwrap_or("0")
        .split('.')
        .map(|p| format!("{p:0>2}"))
        .collect::<String>();
    metric(
        "patroni_version",
        "Patroni-compatible version as one number, two digits per part (4.1.5 is 40105).",
        "gauge",
        version,
    );
    metric(
        "patroni_postgres_running",
        "1 while PostgreSQL runs, else 0.",
        "gauge",
        u8::from(status.get("state").and_then(Value::as_str) == Some("running")).to_string(),
    );
    metric(
        "patroni_postmaster_start_time",
        "When the postmaster started, in Unix epoch seconds.",
        "gauge",
        epoch_seconds(status.get("postmaster_start_time")),
    );
    metric(
        "patroni_primary",
        "1 on the primary, else 0.",
        "gauge",
        u8::from(role == Some("primary")).to_string(),
    );
    metric(
        "patroni_xlog_location",
        "The primary's current WAL position in bytes (LSN); 0 on other members.",
        "counter",
        xlog("location"),
    );
    metric(
        "patroni_standby_leader",
        "1 on a standby cluster's standby leader, else 0.",
        "gauge",
        u8::from(role == Some("standby_leader")).to_string(),
    );
    metric(
        "patroni_replica",
        "1 on a replica, else 0.",
        "gauge",
        u8::from(role == Some("replica")).to_string(),
    );
    metric(
        "patroni_sync_standby",
        "1 on a synchronous standby, else 0.",
        "gauge",
        flag("sync_standby"),
    );
    metric(
        "patroni_quorum_standby",
        "1 on a quorum standby, else 0.",
        "gauge",
        flag("quorum_standby"),
    );
    metric(
        "patroni_xlog_received_location",
        "WAL received by this replica, in bytes (LSN); 0 on other members.",
        "counter",
        xlog("received_location"),
    );
    metric(
        "patroni_xlog_replayed_location",
        "WAL replayed by this replica, in bytes (LSN); 0 on other members.",
        "counter",
        xlog("replayed_location"),
    );
    metric(
        "patroni_xlog_replayed_timestamp",
        "Commit time of the last replayed transaction, in Unix epoch seconds; 0 when unknown.",
        "gauge",
        epoch_seconds(status.pointer("/xlog/replayed_timestamp")),
    );
    metric(
        "patroni_xlog_paused",
        "1 while WAL replay is paused, else 0.",
        "gauge",
        u8::from(status.pointer("/xlog/paused") == Some(&Value::Bool(true))).to_string(),
    );
    if server_version >= 90600 {
        metric(
            "patroni_postgres_streaming",
            "1 while this replica streams from its upstream, else 0.",
            "gauge",
            u8::from(replication_state == Some("streaming")).to_string(),
        );
        metric(
            "patroni_postgres_in_archive_recovery",
            "1 while this replica recovers from the WAL archive, else 0.",
            "gauge",
            u8::from(replication_state == Some("in archive recovery")).to_string(),
        );
    }
    metric(
        "patroni_postgres_server_version",
        "PostgreSQL's server_version_num while it runs, else 0.",
        "gauge",
        server_version.to_string(),
    );
    metric(
        "patroni_cluster_unlocked",
        "1 when no member holds the leader key, else 0.",
        "gauge",
        flag("cluster_unlocked"),
    );
    metric(
        "patroni_failsafe_mode_is_active",
        "1 while failsafe mode keeps this primary running without etcd, else 0.",
        "gauge",
        flag("failsafe_mode_is_active"),
    );
    metric(
        "patroni_postgres_timeline",
        "This member's timeline while PostgreSQL runs, else 0.",
        "gauge",
        status
            .get("timeline")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .to_string(),
    );
    metric(
        "patroni_dcs_last_seen",
        "When etcd last answered this agent, in Unix epoch seconds.",
        "gauge",
        status
            .get("dcs_last_seen")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .to_string(),
    );
    metric(
        "patroni_pending_restart",
        "1 when a changed setting waits for a restart, else 0.",
        "gauge",
        flag("pending_restart"),
    );
    metric(
        "patroni_is_paused",
        "1 while the cluster is paused (no automatic failover), else 0.",
        "gauge",
        flag("pause"),
    );
    out.push_str(&format!(
        "# HELP patroni_postgres_state The member's state as a number (see Values).\n\
         # Values: {STATE_VALUES}\n\
         # TYPE patroni_postgres_state gauge\n\
         patroni_postgres_state{labels} {state_index}\n"
    ));
    out
}

/// A flag of the `/patroni` body is set (Patroni's `int(value)`: `true`, or a non-zero number).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => false,
    }
}

/// A PostgreSQL `timestamptz` text (`2024-05-01 10:00:00.123456+00`) as epoch seconds in
/// Python's float notation (`1714557600.123456`, `1714557600.0`); `0` when absent or unreadable.
fn epoch_seconds(v: Option<&Value>) -> String {
    let Some(t) = v
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f%#z").ok())
    else {
        return "0".into();
    };
    let s = (t.timestamp_micros() as f64 / 1e6).to_string();
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line<'a>(text: &'a str, name: &str) -> Option<&'a str> {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}{{")))
            .and_then(|l| l.rsplit(' ').next())
    }

    #[test]
    fn a_paused_sync_standby() {
        let status = json!({
            "state": "running",
            "role": "replica",
            "server_version": 160004,
            "timeline": 3,
            "xlog": {
                "received_location": 5000,
                "replayed_location": 4000,
                "replayed_timestamp": "2024-05-01 10:00:00.25+00",
                "paused": true,
            },
            "replication_state": "streaming",
            "sync_standby": true,
            "failsafe_mode_is_active": true,
            "pending_restart": true,
            "dcs_last_seen": 1714557600u64,
            "patroni": {"version": "4.1.5", "scope": "s", "name": "m2"},
        });
        let text = render(&status, "s", "m2", 5);
        for (name, value) in [
            ("patroni_version", "040105"),
            ("patroni_postgres_running", "1"),
            ("patroni_primary", "0"),
            ("patroni_replica", "1"),
            ("patroni_standby_leader", "0"),
            ("patroni_sync_standby", "1"),
            ("patroni_quorum_standby", "0"),
            ("patroni_xlog_location", "0"),
            ("patroni_xlog_received_location", "5000"),
            ("patroni_xlog_replayed_location", "4000"),
            ("patroni_xlog_replayed_timestamp", "1714557600.25"),
            ("patroni_xlog_paused", "1"),
            ("patroni_postgres_streaming", "1"),
            ("patroni_postgres_in_archive_recovery", "0"),
            ("patroni_postgres_server_version", "160004"),
            ("patroni_cluster_unlocked", "0"),
            ("patroni_failsafe_mode_is_active", "1"),
            ("patroni_postgres_timeline", "3"),
            ("patroni_dcs_last_seen", "1714557600"),
            ("patroni_pending_restart", "1"),
            ("patroni_is_paused", "0"),
            ("patroni_postgres_state", "5"),
            ("patroni_postmaster_start_time", "0"),
        ] {
            assert_eq!(line(&text, name), Some(value), "{name}\n{text}");
        }
        assert!(text.contains("{scope=\"s\",name=\"m2\"}"));
        assert!(text.contains("# TYPE patroni_xlog_replayed_location counter\n"));
        assert!(text.contains("# TYPE patroni_xlog_paused gauge\n"));
        assert!(text.contains("# Values: 0=initdb, "));
    }

    #[test]
    fn a_stopped_member_has_no_streaming_series() {
        let status = json!({
            "state": "stopped",
            "role": "replica",
            "cluster_unlocked": true,
            "patroni": {"version": "4.1.5", "scope": "s", "name": "m3"},
        });
        let text = render(&status, "s", "m3", 12);
        assert_eq!(line(&text, "patroni_postgres_running"), Some("0"));
        assert_eq!(line(&text, "patroni_cluster_unlocked"), Some("1"));
        assert_eq!(line(&text, "patroni_xlog_replayed_timestamp"), Some("0"));
        assert_eq!(line(&text, "patroni_postgres_streaming"), None);
        assert_eq!(line(&text, "patroni_postgres_in_archive_recovery"), None);
    }

    /// Patroni 4.1.4's series, in its order.
    #[test]
    fn every_patroni_series_in_order() {
        let status = json!({"state": "running", "role": "primary", "server_version": 160004});
        let text = render(&status, "s", "m1", 5);
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap_or(""))
            .collect();
        assert_eq!(
            names,
            [
                "patroni_version",
                "patroni_postgres_running",
                "patroni_postmaster_start_time",
                "patroni_primary",
                "patroni_xlog_location",
                "patroni_standby_leader",
                "patroni_replica",
                "patroni_sync_standby",
                "patroni_quorum_standby",
                "patroni_xlog_received_location",
                "patroni_xlog_replayed_location",
                "patroni_xlog_replayed_timestamp",
                "patroni_xlog_paused",
                "patroni_postgres_streaming",
                "patroni_postgres_in_archive_recovery",
                "patroni_postgres_server_version",
                "patroni_cluster_unlocked",
                "patroni_failsafe_mode_is_active",
                "patroni_postgres_timeline",
                "patroni_dcs_last_seen",
                "patroni_pending_restart",
                "patroni_is_paused",
                "patroni_postgres_state",
            ]
        );
    }

    #[test]
    fn timestamps_in_python_float_notation() {
        assert_eq!(
            epoch_seconds(Some(&json!("2024-05-01 10:00:00+00"))),
            "1714557600.0"
        );
        assert_eq!(
            epoch_seconds(Some(&json!("2024-05-01 12:00:00.123456+02"))),
            "1714557600.123456"
        );
        assert_eq!(epoch_seconds(Some(&json!("soon"))), "0");
        assert_eq!(epoch_seconds(None), "0");
    }
}
