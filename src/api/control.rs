//! Patroni's control endpoints (reference §4.3): switchover, failover, restart, reinitialize,
//! reload, dynamic configuration, and the Prometheus metrics. The state-changing ("unsafe")
//! endpoints pass [`super::access::guard`] first (allowlist, client certificate, basic auth).
//! Bodies are plain text as in Patroni, so patronictl prints them unchanged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{Map, Value};

use crate::agent::driver::{Command, ScheduledRestart, Shared};
use crate::config::merge_patch;
use crate::config::DynamicConfig;
use crate::dcs::{keys, ClusterView, Failover};
use crate::ha::parse_schedule;
use crate::types::parse_pg_version;
use crate::types::{MemberState, Role};

type AppState = Arc<Shared>;

fn text(code: StatusCode, body: impl Into<String>) -> Response {
    (code, body.into()).into_response()
}

/// Parses a JSON object body; an empty body is an empty object.
fn body_object(body: &Bytes) -> Result<Map<String, Value>, Response> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(text(StatusCode::BAD_REQUEST, "expected a JSON object")),
        Err(e) => Err(text(
            StatusCode::BAD_REQUEST,
            format!("invalid JSON body: {e}"),
        )),
    }
}

fn opt_string(m: &Map<String, Value>, key: &str) -> Result<Option<String>, Response> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(text(
            StatusCode::BAD_REQUEST,
            format!("{key}: expected a string, got {other}"),
        )),
    }
}

/// The group as etcd holds it now (one range read), not the watch-fed copy: the control
/// endpoints make conditional writes on the revisions they read, and the copy may not have seen a
/// write made a moment ago (a second `DELETE /switchover` would then answer 409, not 404).
async fn load_view(shared: &Shared) -> Result<ClusterView, Response> {
    shared.dcs.load_fresh().await.map_err(|e| {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("DCS is not accessible: {e:#}"),
        )
    })
}

/// What a candidate's `GET /patroni` says about its fitness, or why it is unfit.
async fn check_candidate(shared: &Shared, view: &ClusterView, name: &str) -> Result<(), String> {
    let Some(m) = view.member(name) else {
        return Err(format!("candidate {name} is not a member of the cluster"));
    };
    if !m.tags().can_failover() {
        return Err(format!("candidate {name} is tagged nofailover"));
    }
    let body: Value = match shared.http().get(&m.data.api_url).send().await {
        Ok(r) => r
            .json()
            .await
            .map_err(|e| format!("candidate {name} answered unreadably: {e}"))?,
        Err(e) => return Err(format!("candidate {name} is not reachable: {e}")),
    };
    let answer = crate::peer::PeerAnswer::decode(&body);
    if answer.state != "running" {
        return Err(format!(
            "candidate {name} is not running (state {})",
            body["state"]
        ));
    }
    if !answer.tags.unwrap_or_default().can_failover() {
        return Err(format!("candidate {name} is tagged nofailover"));
    }
    let lsn = answer.lsn;
    let leader_lsn = view
        .leader_member()
        .and_then(|l| l.data.xlog_location)
        .or(view.optime)
        .unwrap_or(0);
    let max_lag = view
        .config
        .as_ref()
        .map(|c| c.maximum_lag_on_failover)
        .unwrap_or(1_048_576);
    let lag = leader_lsn.saturating_sub(lsn);
    if lag > max_lag {
        return Err(format!(
            "candidate {name} is lagging {lag} bytes behind the leader, more than maximum_lag_on_failover ({max_lag})"
        ));
    }
    Ok(())
}

/// POST /switchover.
pub async fn post_switchover(State(s): State<AppState>, body: Bytes) -> Response {
    let m = match body_object(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    manual_failover(&s, &m, true).await
}

/// POST /failover (a body with `leader` is treated as a switchover, as in Patroni).
pub async fn post_failover(State(s): State<AppState>, body: Bytes) -> Response {
    let m = match body_object(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let switchover = m.get("leader").is_some_and(|v| !v.is_null());
    manual_failover(&s, &m, switchover).await
}

async fn manual_failover(s: &Shared, m: &Map<String, Value>, switchover: bool) -> Response {
    let (leader, candidate, scheduled_at) = match (
        opt_string(m, "leader"),
        opt_string(m, "candidate").and_then(|c| {
            if c.is_some() {
                Ok(c)
            } else {
                opt_string(m, "member")
            }
        }),
        opt_string(m, "scheduled_at"),
    ) {
        (Ok(l), Ok(c), Ok(at)) => (l, c, at),
        (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
    };
    let action = if switchover { "Switchover" } else { "Failover" };
    if switchover && leader.is_none() {
        return text(
            StatusCode::BAD_REQUEST,
            "Switchover could be performed only from a specific leader",
        );
    }
    if !switchover && candidate.is_none() {
        return text(
            StatusCode::BAD_REQUEST,
            "Failover could be performed only to a specific candidate",
        );
    }
    if leader.is_some() && leader == candidate {
        return text(
            StatusCode::BAD_REQUEST,
            "Switchover target and source are the same",
        );
    }
    let view = match load_view(s).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let paused = view.config.as_ref().is_some_and(|c| c.pause);
    let mut scheduled = None;
    if let Some(at) = &scheduled_at {
        if !switchover {
            return text(StatusCode::BAD_REQUEST, "Failover can't be scheduled");
        }
        if paused {
            return text(
                StatusCode::BAD_REQUEST,
                "Can't schedule switchover in the paused state",
            );
        }
        let has_zone = at.ends_with('Z')
            || at
                .rsplit(['T', ' '])
                .next()
                .is_some_and(|t| t.contains('+') || t.contains('-'));
        if !has_zone {
            return text(
                StatusCode::BAD_REQUEST,
                "Timezone information is mandatory for the scheduled switchover",
            );
        }
        let Some(t) = parse_schedule(at) else {
            return text(StatusCode::UNPROCESSABLE_ENTITY, "Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601");
        };
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        if t < now {
            return text(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Cannot schedule switchover in the past",
            );
        }
        scheduled = Some(at.clone());
    }
    let current = view.leader.as_ref().map(|l| l.name.clone());
    if let Some(l) = &leader {
        if current.as_deref() != Some(l.as_str()) {
            return text(
                StatusCode::PRECONDITION_FAILED,
                format!("leader name does not match: {l} is not the leader"),
            );
        }
    }
    if let Some(c) = &candidate {
        if current.as_deref() == Some(c.as_str()) {
            return text(
                StatusCode::PRECONDITION_FAILED,
                format!("candidate {c} is already the leader"),
            );
        }
        if view.config.as_ref().is_some_and(|c| c.synchronous()) {
            if let Some(sync) = &view.sync {
                if switchover && !sync.members().contains(c) {
                    return text(
                        StatusCode::PRECONDITION_FAILED,
                        "candidate name does not match with sync_standby",
                    );
                }
            }
        }
        if let Err(why) = check_candidate(s, &view, c).await {
            return text(StatusCode::PRECONDITION_FAILED, why);
        }
    } else {
        // Any healthy member will do; there must be one.
        let mut ok = false;
        for mem in view
            .members
            .iter()
            .filter(|m| Some(&m.name) != current.as_ref())
        {
            if check_candidate(s, &view, &mem.name).await.is_ok() {
                ok = true;
                break;
            }
        }
        if !ok {
            return text(
                StatusCode::PRECONDITION_FAILED,
                format!("{action} is not possible: no good candidates have been found"),
            );
        }
    }
    let value = Failover {
        leader: leader.clone(),
        member: candidate.clone(),
        scheduled_at: scheduled.clone(),
    };
    let value = serde_json::to_string(&value).unwrap_or_default();
    if let Err(e) = s.dcs.put(keys::FAILOVER, &value).await {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("failed to write the failover key: {e:#}"),
        );
    }
    s.wake.notify_one();
    if scheduled.is_some() {
        return text(StatusCode::ACCEPTED, format!("{action} scheduled"));
    }
    let loop_wait = view.config.as_ref().map(|c| c.loop_wait).unwrap_or(10);
    let deadline = Instant::now() + Duration::from_secs(2 * loop_wait.max(10));
    let verb = if switchover {
        "switched over"
    } else {
        "failed over"
    };
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Read etcd itself: the watch-fed copy may not have seen the key written above yet, and
        // would then look like a switchover that was already given up.
        let Ok(v) = s.dcs.load_fresh().await else {
            continue;
        };
        let now_leader = v.leader.as_ref().map(|l| l.name.clone());
        if let Some(n) = now_leader.filter(|n| Some(n) != current.as_ref()) {
            return match &candidate {
                Some(c) if *c != n => text(
                    StatusCode::OK,
                    format!("Switched over to \"{n}\" instead of \"{c}\""),
                ),
                _ => text(StatusCode::OK, format!("Successfully {verb} to \"{n}\"")),
            };
        }
        if v.failover.is_none() && v.leader.as_ref().map(|l| l.name.clone()) == current {
            return text(StatusCode::SERVICE_UNAVAILABLE, format!("{action} failed"));
        }
    }
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("{action} status unknown"),
    )
}

/// DELETE /switchover: cancels a scheduled switchover.
pub async fn delete_switchover(State(s): State<AppState>) -> Response {
    let view = match load_view(&s).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match &view.failover {
        Some(f) if f.scheduled_at.is_some() => {
            match s
                .dcs
                .put_if_revision(keys::FAILOVER, "{}", view.failover_revision)
                .await
            {
                Ok(true) => text(StatusCode::OK, "scheduled switchover deleted"),
                Ok(false) => text(
                    StatusCode::CONFLICT,
                    "the failover key changed concurrently",
                ),
                Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{e:#}")),
            }
        }
        _ => text(StatusCode::NOT_FOUND, "no switchover is scheduled"),
    }
}

/// POST /restart.
pub async fn post_restart(State(s): State<AppState>, body: Bytes) -> Response {
    let m = match body_object(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    for k in m.keys() {
        if !matches!(
            k.as_str(),
            "schedule" | "role" | "postgres_version" | "timeout" | "restart_pending"
        ) {
            return text(
                StatusCode::BAD_REQUEST,
                format!("Unknown filter for the scheduled restart: {k}"),
            );
        }
    }
    let role = match opt_string(&m, "role") {
        Ok(Some(r)) => match r.as_str() {
            "primary" | "master" | "standby_leader" => Some("primary".to_string()),
            "replica" => Some("replica".to_string()),
            _ => {
                return text(
                    StatusCode::BAD_REQUEST,
                    "PostgreSQL role should be either primary, standby_leader or replica",
                )
            }
        },
        Ok(None) => None,
        Err(r) => return r,
    };
    let postgres_version = match opt_string(&m, "postgres_version") {
        Ok(Some(v)) => match parse_pg_version(&v) {
            Some(n) => Some(n),
            None => {
                return text(
                    StatusCode::BAD_REQUEST,
                    "PostgreSQL version should be in the first.major.minor format",
                )
            }
        },
        Ok(None) => None,
        Err(r) => return r,
    };
    let restart_pending = match m.get("restart_pending") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return text(
                StatusCode::BAD_REQUEST,
                "restart_pending: expected true or false",
            )
        }
    };
    let timeout = match m.get("timeout") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_f64().or_else(|| {
            v.as_str()
                .and_then(|s| s.trim_end_matches('s').parse().ok())
        }) {
            Some(t) if t > 0.0 => Some(t),
            _ => {
                return text(
                    StatusCode::BAD_REQUEST,
                    "timeout: expected a positive number of seconds",
                )
            }
        },
    };
    let (paused, my_role, version, pending) = {
        let st = s.status.read().await;
        let r = if st.holds_lock() {
            "primary"
        } else {
            "replica"
        };
        (
            st.dynamic.pause,
            r,
            st.info.server_version,
            st.info.pending_restart,
        )
    };
    let schedule = opt_string(&m, "schedule").and_then(|s| {
        if s.is_some() {
            Ok(s)
        } else {
            opt_string(&m, "scheduled_at")
        }
    });
    match schedule {
        Ok(Some(at)) => {
            if paused {
                return text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Can't schedule restart in the paused state",
                );
            }
            let Some(t) = parse_schedule(&at) else {
                return text(
                    StatusCode::BAD_REQUEST,
                    "Unable to parse scheduled timestamp: expected ISO 8601 with a time zone",
                );
            };
            let mut guard = s.scheduled_restart.lock().expect("not poisoned");
            if guard.is_some() {
                return text(
                    StatusCode::CONFLICT,
                    "Cannot modify a scheduled restart: another restart is already scheduled",
                );
            }
            *guard = Some(ScheduledRestart {
                at: t,
                schedule: at,
                role,
                postgres_version,
                restart_pending,
            });
            drop(guard);
            s.wake.notify_one();
            return text(StatusCode::ACCEPTED, "Restart scheduled");
        }
        Ok(None) => {}
        Err(r) => return r,
    }
    if !crate::ha::shutdown::restart_conditions_hold(
        role.as_deref(),
        postgres_version,
        restart_pending,
        my_role,
        version,
        pending,
    ) {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "restart conditions are not satisfied",
        );
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    if s.commands.send(Command::Restart(tx)).await.is_err() {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "restart failed: the HA loop is not running",
        );
    }
    let wait = Duration::from_secs_f64(timeout.unwrap_or(120.0));
    match tokio::time::timeout(wait, rx).await {
        Ok(Ok(Ok(()))) => text(StatusCode::OK, "restarted successfully"),
        Ok(Ok(Err(e))) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("restart failed: {e}"),
        ),
        _ => text(StatusCode::SERVICE_UNAVAILABLE, "restart failed: timed out"),
    }
}

/// DELETE /restart: cancels a scheduled restart.
pub async fn delete_restart(State(s): State<AppState>) -> Response {
    let had = s
        .scheduled_restart
        .lock()
        .expect("not poisoned")
        .take()
        .is_some();
    s.wake.notify_one();
    if had {
        text(StatusCode::OK, "scheduled restart deleted")
    } else {
        text(StatusCode::NOT_FOUND, "no restarts are scheduled")
    }
}

/// POST /reinitialize.
pub async fn post_reinitialize(State(s): State<AppState>, body: Bytes) -> Response {
    let m = match body_object(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    if m.get("force")
        .is_some_and(|v| !v.is_boolean() && !v.is_null())
    {
        return text(StatusCode::BAD_REQUEST, "force: expected true or false");
    }
    {
        let st = s.status.read().await;
        if st.holds_lock() {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "I am the leader, can not reinitialize",
            );
        }
        if st.view.as_ref().is_some_and(|v| v.leader.is_none()) {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "Cluster has no leader, can not reinitialize",
            );
        }
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    if s.commands.send(Command::Reinitialize(tx)).await.is_err() {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the HA loop is not running",
        );
    }
    match rx.await {
        Ok(Ok(())) => text(StatusCode::OK, "reinitialize started"),
        Ok(Err(e)) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("reinitialize failed: {e}"),
        ),
        Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "reinitialize failed"),
    }
}

/// POST /reload.
pub async fn post_reload(State(s): State<AppState>) -> Response {
    let (tx, _rx) = tokio::sync::oneshot::channel();
    if s.commands.send(Command::Reload(tx)).await.is_err() {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the HA loop is not running",
        );
    }
    text(StatusCode::ACCEPTED, "reload scheduled")
}

fn validate_config(v: &Value) -> Result<(), Response> {
    DynamicConfig::from_json(v).map(|_| ()).map_err(|(k, m)| {
        text(
            StatusCode::BAD_REQUEST,
            format!(
                "invalid configuration: {}{m}",
                if k.is_empty() {
                    String::new()
                } else {
                    format!("{k}: ")
                }
            ),
        )
    })
}

/// PATCH /config.
pub async fn patch_config(State(s): State<AppState>, body: Bytes) -> Response {
    let patch = match body_object(&body) {
        Ok(m) => Value::Object(m),
        Err(r) => return r,
    };
    let view = match load_view(&s).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(mut cfg) = view.config_raw.clone() else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "no configuration in DCS");
    };
    merge_patch(&mut cfg, &patch);
    if let Err(r) = validate_config(&cfg) {
        return r;
    }
    match s
        .dcs
        .put_if_revision(keys::CONFIG, &cfg.to_string(), view.config_revision)
        .await
    {
        Ok(true) => {
            s.wake.notify_one();
            (StatusCode::OK, Json(cfg)).into_response()
        }
        Ok(false) => text(
            StatusCode::CONFLICT,
            "the configuration was changed concurrently; retry",
        ),
        Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{e:#}")),
    }
}

/// PUT /config.
pub async fn put_config(State(s): State<AppState>, body: Bytes) -> Response {
    let cfg = match body_object(&body) {
        Ok(m) => Value::Object(m),
        Err(r) => return r,
    };
    if let Err(r) = validate_config(&cfg) {
        return r;
    }
    match s.dcs.put(keys::CONFIG, &cfg.to_string()).await {
        Ok(()) => {
            s.wake.notify_one();
            (StatusCode::OK, Json(cfg)).into_response()
        }
        Err(e) => text(StatusCode::BAD_GATEWAY, format!("{e:#}")),
    }
}

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
            st.pg.wal_lsn.unwrap_or(0).to_string()
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
    metric("patroni_xlog_received_location", "Current location of the received Postgres transaction log, 0 if this node is not a replica.", if replica { st.pg.receive_lsn.unwrap_or(0).to_string() } else { "0".into() });
    metric("patroni_xlog_replayed_location", "Current location of the replayed Postgres transaction log, 0 if this node is not a replica.", if replica { st.pg.replay_lsn.unwrap_or(0).to_string() } else { "0".into() });
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

/// POST /citus (alias /mpp): a worker's switchover event (reference §3.5). Acted on only by the
/// coordinator leader and only when `leader` holds its group's leader key; the answer comes once
/// the event is applied (for `before_demote`: once writes to the group are held). Always 200 `OK`
/// for well-formed events, as in Patroni; 400 for a malformed body.
pub async fn post_citus(State(s): State<AppState>, body: Bytes) -> Response {
    let ev: crate::citus::handler::CitusEvent = match serde_json::from_slice(&body) {
        Ok(ev) => ev,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("expected {{type, group, leader, timeout, cooldown}}: {e}"),
            )
        }
    };
    if !matches!(
        ev.kind.as_str(),
        "before_demote" | "before_promote" | "after_promote"
    ) {
        return text(
            StatusCode::BAD_REQUEST,
            format!(
                "type: expected before_demote, before_promote or after_promote, got {:?}",
                ev.kind
            ),
        );
    }
    let Some(handler) = s.citus.clone() else {
        return text(StatusCode::OK, "OK");
    };
    if !s.status.read().await.holds_lock() {
        return text(StatusCode::OK, "OK");
    }
    let view = match s
        .dcs
        .load_prefix(&format!("{}{}/", s.cfg().scope_prefix(), ev.group))
        .await
    {
        Ok(v) => v,
        Err(e) => {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("DCS is not accessible: {e:#}"),
            )
        }
    };
    if view.leader.as_ref().map(|l| l.name.as_str()) != Some(ev.leader.as_str()) {
        tracing::info!("citus: discarding event {} from {} (group {}): it does not hold the group's leader key", ev.kind, ev.leader, ev.group);
        return text(StatusCode::OK, "OK");
    }
    // The group as it should be with the sender as its primary (it may still be promoting).
    let primary = view.member(&ev.leader).and_then(|m| m.host_port());
    let secondaries = view
        .members
        .iter()
        .filter(|m| m.name != ev.leader && m.data.state == "running" && !m.tags().noloadbalance)
        .filter_map(|m| m.host_port())
        .collect();
    let desired = crate::citus::DesiredGroup {
        group: ev.group,
        primary,
        secondaries,
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let wait = Duration::from_secs_f64(ev.timeout.max(1.0));
    handler
        .send(crate::citus::handler::CitusMsg::Event(ev, desired, tx))
        .await;
    match tokio::time::timeout(wait, rx).await {
        Ok(Ok(Ok(()))) => text(StatusCode::OK, "OK"),
        Ok(Ok(Err(e))) => {
            tracing::warn!("citus: event not applied: {e}");
            text(StatusCode::OK, "OK")
        }
        _ => text(StatusCode::OK, "OK"),
    }
}

/// POST /failsafe: a leader running without etcd in failsafe mode checks that it may go on
/// (reference §2.5). A standby records the caller as the leader for one ttl (it will not race for
/// the key meanwhile) and answers 200 `Accepted` with its WAL position in an `lsn` header; a member
/// that runs as a primary itself answers 500; without failsafe mode, 502.
pub async fn post_failsafe(State(s): State<AppState>, body: Bytes) -> Response {
    let m = match body_object(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let Some(name) = m.get("name").and_then(Value::as_str).map(String::from) else {
        return text(StatusCode::BAD_REQUEST, "name: required");
    };
    let st = s.status.read().await;
    if !st.dynamic.failsafe_mode {
        return text(StatusCode::BAD_GATEWAY, "Failsafe mode is not enabled");
    }
    if st.pg.running && !st.pg.in_recovery {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "Running as a leader");
    }
    let lsn = st.pg.lsn();
    drop(st);
    *s.failsafe_ping.lock().expect("not poisoned") = Some((name, Instant::now()));
    (StatusCode::OK, [("lsn", lsn.to_string())], "Accepted").into_response()
}

/// GET /failsafe: the `/failsafe` member list (502 when failsafe mode is off).
pub async fn get_failsafe(State(s): State<AppState>) -> Response {
    let st = s.status.read().await;
    if !st.dynamic.failsafe_mode {
        return text(StatusCode::BAD_GATEWAY, "Failsafe mode is not enabled");
    }
    let list = st
        .view
        .as_ref()
        .and_then(|v| v.failsafe.clone())
        .unwrap_or_default();
    (StatusCode::OK, Json(list)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_merges_and_deletes() {
        let mut base =
            json!({"ttl": 30, "postgresql": {"parameters": {"a": 1, "b": 2}}, "pause": true});
        merge_patch(
            &mut base,
            &json!({"ttl": 20, "postgresql": {"parameters": {"a": null, "c": 3}}, "pause": null}),
        );
        assert_eq!(
            base,
            json!({"ttl": 20, "postgresql": {"parameters": {"b": 2, "c": 3}}})
        );
    }

    #[test]
    fn versions() {
        assert_eq!(parse_pg_version("15.4"), Some(150004));
        assert_eq!(parse_pg_version("15"), Some(150000));
        assert_eq!(parse_pg_version("9.6.24"), Some(90624));
        assert_eq!(parse_pg_version("x"), None);
    }
}
