//! The REST API (axum): Patroni's health and information endpoints with Patroni's status codes
//! (reference §4.1–4.2), so HAProxy `httpchk` checks and monitoring keep working unchanged.
//!
//! [`router`] builds the app from the shared driver state. The control endpoints live in
//! [`control`], the unsafe-method guard in [`access`], the accept loop in [`server`]; every
//! error answer is an [`error::ApiError`].

pub mod access;
pub mod control;
pub mod error;
pub mod server;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::agent::driver::{NodeStatus, Shared, PATRONI_COMPAT_VERSION};
use crate::dcs::ClusterView;
use crate::types::{Lsn, MemberState, Role};

type AppState = Arc<Shared>;

/// Builds the router.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(primary).options(primary))
        .route("/primary", get(primary).options(primary))
        .route("/master", get(primary).options(primary))
        .route("/read-write", get(primary).options(primary))
        .route("/leader", get(leader).options(leader))
        .route("/replica", get(replica::<false>).options(replica::<false>))
        .route("/read-only", get(replica::<true>).options(replica::<true>))
        .route("/health", get(health).options(health))
        .route("/liveness", get(liveness).options(liveness))
        .route("/readiness", get(readiness).options(readiness))
        .route("/patroni", get(patroni))
        .route("/cluster", get(cluster))
        .route("/history", get(history))
        .route(
            "/config",
            get(control::get_config)
                .patch(control::patch_config)
                .put(control::put_config),
        )
        .route(
            "/switchover",
            post(control::post_switchover).delete(control::delete_switchover),
        )
        .route("/failover", post(control::post_failover))
        .route(
            "/restart",
            post(control::post_restart).delete(control::delete_restart),
        )
        .route("/reinitialize", post(control::post_reinitialize))
        .route("/reload", post(control::post_reload))
        .route("/metrics", get(control::metrics))
        .route("/citus", post(control::post_citus))
        .route(
            "/failsafe",
            post(control::post_failsafe).get(control::get_failsafe),
        )
        .route("/mpp", post(control::post_citus))
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            access::guard,
        ))
        .with_state(shared)
}

fn code(ok: bool) -> StatusCode {
    if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// Parses Patroni's `lag` parameter: bytes, or a number with `kB`, `MB`, `GB` (1024-based).
pub fn parse_lag(s: &str) -> Option<u64> {
    let s = s.trim();
    let idx = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(idx);
    let n: u64 = num.parse().ok()?;
    let mult = match unit.trim() {
        "" | "B" => 1,
        "kB" | "KB" | "k" => 1024,
        "MB" | "M" => 1024 * 1024,
        "GB" | "G" => 1024 * 1024 * 1024,
        "TB" => 1024u64.pow(4),
        _ => return None,
    };
    n.checked_mul(mult)
}

/// The `/patroni` body.
pub fn patroni_json(shared: &Shared, st: &NodeStatus) -> Value {
    let cfg = shared.cfg();
    let role = match st.role {
        Role::Primary => "primary",
        Role::Uninitialized => "uninitialized",
        _ => "replica",
    };
    let mut v = json!({
        "state": st.state.as_str(),
        "role": role,
        "patroni": {"version": PATRONI_COMPAT_VERSION, "scope": cfg.scope, "name": cfg.name},
        "praetor": {"version": env!("CARGO_PKG_VERSION")},
    });
    let o = v.as_object_mut().expect("object");
    if st.pg.running {
        o.insert("server_version".into(), json!(st.info.server_version));
        if let Some(t) = &st.info.postmaster_start_time {
            o.insert("postmaster_start_time".into(), json!(t));
        }
        if let Some(t) = st.pg.timeline {
            o.insert("timeline".into(), json!(t));
        }
        if st.pg.in_recovery {
            o.insert(
                "xlog".into(),
                json!({
                    "received_location": st.pg.receive_lsn.or(st.pg.replay_lsn),
                    "replayed_location": st.pg.replay_lsn,
                    "replayed_timestamp": st.info.replay_timestamp,
                    "paused": false,
                }),
            );
            let rs = if st.info.receiver_status.as_deref() == Some("streaming") {
                "streaming"
            } else {
                "in archive recovery"
            };
            o.insert("replication_state".into(), json!(rs));
        } else {
            o.insert("xlog".into(), json!({"location": st.pg.wal_lsn}));
            if !st.info.replication.is_empty() {
                o.insert("replication".into(), json!(st.info.replication));
            }
        }
    }
    if st.dynamic.pause {
        o.insert("pause".into(), json!(true));
    }
    if st.view.as_ref().is_some_and(|v| v.leader.is_none()) {
        o.insert("cluster_unlocked".into(), json!(true));
    }
    if let Some(t) = st.dcs_last_seen {
        o.insert("dcs_last_seen".into(), json!(t));
    }
    if cfg.tags != Default::default() {
        o.insert(
            "tags".into(),
            serde_json::to_value(&cfg.tags).unwrap_or_default(),
        );
    }
    if let Some(s) = &st.sysid {
        o.insert("database_system_identifier".into(), json!(s));
    }
    if let Some((pid, armed, restarts)) = st.fence {
        o.insert(
            "fence_guard".into(),
            json!({"pid": pid, "armed": armed, "restarts": restarts}),
        );
    }
    if st.state == MemberState::Fenced {
        o.insert("fenced".into(), json!(true));
    }
    v
}

/// The `/cluster` body for a group view (reference §4.2). `ttl`-independent; lag in bytes vs
/// `status.optime`, LSNs as `X/Y` text, `"unknown"` when a member published none.
pub fn cluster_json(scope: &str, view: &ClusterView) -> Value {
    let members: Vec<Value> = view
        .members
        .iter()
        .map(|m| {
            let (role, state) = view.cluster_role_and_state(m);
            let is_leader = role == "leader";
            let mut o =
                json!({"name": m.name, "role": role, "state": state, "api_url": m.data.api_url});
            let obj = o.as_object_mut().expect("object");
            if let Some((h, p)) = m.host_port() {
                obj.insert("host".into(), json!(h));
                obj.insert("port".into(), json!(p));
            }
            if let Some(t) = m.data.timeline {
                obj.insert("timeline".into(), json!(t));
            }
            if let Some(t) = &m.data.tags {
                if *t != Default::default() {
                    obj.insert("tags".into(), serde_json::to_value(t).unwrap_or_default());
                }
            }
            if !is_leader {
                let lag = |lsn: Option<Lsn>| match (lsn, view.optime) {
                    (Some(l), Some(o)) => json!(o.saturating_sub(l)),
                    (Some(_), None) => json!(0),
                    _ => json!("unknown"),
                };
                let text = |lsn: Option<Lsn>| {
                    lsn.map(|l| json!(l.to_string()))
                        .unwrap_or(json!("unknown"))
                };
                obj.insert("lsn".into(), text(m.lsn()));
                obj.insert("lag".into(), lag(m.lsn()));
                obj.insert("receive_lsn".into(), text(m.data.receive_lsn));
                obj.insert("receive_lag".into(), lag(m.data.receive_lsn));
                obj.insert("replay_lsn".into(), text(m.data.replay_lsn));
                obj.insert("replay_lag".into(), lag(m.data.replay_lsn));
            }
            o
        })
        .collect();
    let mut out = json!({"members": members, "scope": scope});
    if view.config.as_ref().is_some_and(|c| c.pause) {
        out["pause"] = json!(true);
    }
    if let Some(f) = &view.failover {
        if let Some(at) = &f.scheduled_at {
            out["scheduled_switchover"] = json!({"at": at, "from": f.leader, "to": f.member});
        }
    }
    out
}

async fn respond(shared: &Shared, method: &Method, ok: bool) -> Response {
    let st = shared.status.read().await;
    if *method == Method::OPTIONS {
        return code(ok).into_response();
    }
    (code(ok), Json(patroni_json(shared, &st))).into_response()
}

async fn primary(State(s): State<AppState>, method: Method) -> Response {
    let ok = s.status.read().await.holds_lock();
    respond(&s, &method, ok).await
}

async fn leader(State(s): State<AppState>, method: Method) -> Response {
    let ok = s.status.read().await.holds_lock();
    respond(&s, &method, ok).await
}

fn replica_ok(shared: &Shared, st: &NodeStatus, q: &HashMap<String, String>) -> bool {
    if st.role != Role::Replica
        || st.state != MemberState::Running
        || !st.pg.running
        || st.holds_lock()
    {
        return false;
    }
    if shared.cfg().tags.noloadbalance {
        return false;
    }
    if let Some(lag) = q.get("lag") {
        let Some(max) = parse_lag(lag) else {
            return false;
        };
        let optime = st.view.as_ref().and_then(|v| v.optime).unwrap_or_default();
        let replay = st.pg.replay_lsn.unwrap_or_default();
        if optime.saturating_sub(replay) > max {
            return false;
        }
    }
    if let Some(want) = q.get("replication_state") {
        let rs = if st.info.receiver_status.as_deref() == Some("streaming") {
            "streaming"
        } else {
            "in archive recovery"
        };
        if want != rs {
            return false;
        }
    }
    tags_match(shared, q)
}

fn tags_match(shared: &Shared, q: &HashMap<String, String>) -> bool {
    let tags = serde_json::to_value(&shared.cfg().tags).unwrap_or_default();
    for (k, want) in q {
        let Some(tag) = k.strip_prefix("tag_") else {
            continue;
        };
        let have = match tags.get(tag) {
            None => match tag {
                "nofailover" | "noloadbalance" | "clonefrom" | "nosync" => "false".to_string(),
                _ => return false,
            },
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(other) => other.to_string(),
        };
        if have.to_lowercase() != want.to_lowercase() {
            return false;
        }
    }
    true
}

/// `/replica`, and with `OR_LEADER` `/read-only`, which also answers 200 on the leader.
async fn replica<const OR_LEADER: bool>(
    State(s): State<AppState>,
    method: Method,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ok = {
        let st = s.status.read().await;
        (OR_LEADER && st.holds_lock()) || replica_ok(&s, &st, &q)
    };
    respond(&s, &method, ok).await
}

async fn health(State(s): State<AppState>, method: Method) -> Response {
    let ok = s.status.read().await.state == MemberState::Running;
    respond(&s, &method, ok).await
}

async fn liveness(State(s): State<AppState>) -> Response {
    let st = s.status.read().await;
    let ttl = st.dynamic.ttl;
    let limit = if st.holds_lock() { ttl } else { 2 * ttl } + st.dynamic.loop_wait;
    let ok = st.dynamic.pause || Instant::now().duration_since(st.last_cycle).as_secs() <= limit;
    code(ok).into_response()
}

async fn readiness(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let st = s.status.read().await;
    let ok = if st.holds_lock() {
        true
    } else if st.state == MemberState::Running
        && st.pg.running
        && st.info.receiver_status.as_deref() == Some("streaming")
    {
        let max = q
            .get("lag")
            .and_then(|l| parse_lag(l))
            .unwrap_or(st.dynamic.maximum_lag_on_failover);
        let optime = st.view.as_ref().and_then(|v| v.optime).unwrap_or_default();
        let pos = if q.get("mode").map(String::as_str) == Some("write") {
            st.pg.receive_lsn
        } else {
            st.pg.replay_lsn
        };
        optime.saturating_sub(pos.unwrap_or_default()) <= max
    } else {
        false
    };
    code(ok).into_response()
}

async fn patroni(State(s): State<AppState>) -> Response {
    let st = s.status.read().await;
    (StatusCode::OK, Json(patroni_json(&s, &st))).into_response()
}

/// GET /cluster reads etcd (one range read) rather than the watch-fed copy, so a client sees its
/// own write at once (a scheduled switchover); with etcd unreachable it answers from the last
/// view the HA loop saw. (GET /config does the same: [`control::get_config`].)
async fn cluster(State(s): State<AppState>) -> Response {
    let view = match s.dcs.load_fresh().await {
        Ok(v) => v,
        Err(_) => s.status.read().await.view.clone().unwrap_or_default(),
    };
    (StatusCode::OK, Json(cluster_json(&s.cfg().scope, &view))).into_response()
}

async fn history(State(s): State<AppState>) -> Response {
    let view = s.status.read().await.view.clone().unwrap_or_default();
    let rows: Vec<Value> = view.history.iter().map(|h| h.to_json()).collect();
    (StatusCode::OK, Json(Value::Array(rows))).into_response()
}

async fn fallback(State(s): State<AppState>, method: Method) -> Response {
    respond(&s, &method, false).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_units() {
        assert_eq!(parse_lag("1024"), Some(1024));
        assert_eq!(parse_lag("16kB"), Some(16384));
        assert_eq!(parse_lag("64MB"), Some(64 * 1024 * 1024));
        assert_eq!(parse_lag("1GB"), Some(1 << 30));
        assert_eq!(parse_lag("x"), None);
    }
}
