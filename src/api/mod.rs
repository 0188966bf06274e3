//! The REST API (axum): Patroni's health and information endpoints with Patroni's status codes
//! (reference §4.1–4.2), so HAProxy `httpchk` checks and monitoring keep working unchanged.
//!
//! [`router`] builds the app from the shared driver state. The health checks' rules live in
//! [`health`], the control endpoints in [`control`], the unsafe-method guard in [`access`], the
//! accept loop in [`server`]; every error answer is an [`error::ApiError`].

pub mod access;
pub mod control;
pub mod error;
pub mod health;
pub mod server;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::agent::driver::{NodeStatus, Shared, PATRONI_COMPAT_VERSION};
use crate::config::Config;
use crate::dcs::ClusterView;
use crate::types::{Lsn, MemberState, Role};

pub use health::parse_lag;

type AppState = Arc<Shared>;

/// The health-check paths ([`health::Check`]), each answering GET (status and the `/patroni`
/// body), HEAD and OPTIONS (the status alone, for HAProxy's `httpchk`).
pub const HEALTH_PATHS: [&str; 18] = [
    "/",
    "/primary",
    "/master",
    "/read-write",
    "/leader",
    "/standby-leader",
    "/standby_leader",
    "/replica",
    "/read-only",
    "/health",
    "/sync",
    "/synchronous",
    "/async",
    "/asynchronous",
    "/read-only-sync",
    "/read-only-synchronous",
    "/quorum",
    "/read-only-quorum",
];

/// Builds the router.
pub fn router(shared: Arc<Shared>) -> Router {
    let mut app = Router::new();
    for path in HEALTH_PATHS {
        app = app.route(path, get(health_check).options(health_check));
    }
    app.route("/liveness", get(liveness).options(liveness))
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

/// What the health rules and `/patroni` derive from the node status at the moment of a request.
struct Derived<'a> {
    /// The view of etcd while usable (Patroni's `dcs.cluster`): the last cycle read it, or the
    /// last successful read is less than `ttl` old (counted from the end of the cycle that made
    /// it, in whole seconds). A loop busy with one long step (a restart) does not count as etcd
    /// being gone.
    view: Option<&'a ClusterView>,
    /// Holds the leader lock now.
    holds_lock: bool,
    /// `sync_standby`, `quorum_standby` ([`health::sync_flags`]).
    sync: (bool, bool),
    /// Failsafe mode is active (Patroni's `Failsafe.is_active`): this primary runs on its
    /// members' confirmation ([`NodeStatus::failsafe_until`]), or, not holding the lock, this
    /// member accepted a leader's `POST /failsafe` within the last `ttl`.
    failsafe_active: bool,
    /// The tags as `/patroni` shows them.
    tags: Map<String, Value>,
}

fn derive<'a>(shared: &Shared, cfg: &Config, st: &'a NodeStatus) -> Derived<'a> {
    let ttl = st.dynamic.ttl;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let view = st
        .view
        .as_ref()
        .filter(|_| !st.dcs_failed || st.dcs_last_seen.is_some_and(|t| now < (t + ttl) as f64));
    let holds_lock = st.holds_lock();
    let sync = health::sync_flags(
        &cfg.name,
        st.pg.running && st.pg.in_recovery,
        st.dynamic.synchronous(),
        st.dynamic.is_quorum(),
        view.and_then(|v| v.sync.as_ref()),
    );
    let pinged = shared
        .failsafe_ping
        .lock()
        .expect("not poisoned")
        .as_ref()
        .is_some_and(|(_, at)| at.elapsed() < Duration::from_secs(ttl));
    let failsafe_active =
        st.failsafe_until.is_some_and(|t| Instant::now() < t) || (pinged && !holds_lock);
    let tags = match serde_json::to_value(&cfg.tags) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    Derived {
        view,
        holds_lock,
        sync,
        failsafe_active,
        tags,
    }
}

/// `/patroni`'s `replication_state` of a running standby: `streaming` while its WAL receiver
/// streams, else `in archive recovery`; `None` on a primary or a stopped server.
fn replication_state(st: &NodeStatus) -> Option<&'static str> {
    (st.pg.running && st.pg.in_recovery).then(|| {
        if st.info.receiver_status.as_deref() == Some("streaming") {
            "streaming"
        } else {
            "in archive recovery"
        }
    })
}

/// Patroni's `watchdog_failed`: `watchdog.mode: required`, and the device is missing or not
/// writable, or its timeout (`ttl - safety_margin`, `ttl / 2` for -1) is shorter than `loop_wait`.
fn watchdog_failed(cfg: &Config, st: &NodeStatus) -> bool {
    let w = &cfg.watchdog;
    if w.mode != crate::watchdog::Mode::Required {
        return false;
    }
    let ttl = st.dynamic.ttl as i64;
    let timeout = if w.safety_margin < 0 {
        ttl / 2
    } else {
        ttl - w.safety_margin
    };
    !crate::watchdog::usable(w) || timeout < st.dynamic.loop_wait as i64
}

/// The facts [`health::status`] decides on.
fn facts<'a>(st: &'a NodeStatus, cfg: &Config, d: &'a Derived<'_>) -> health::Facts<'a> {
    let optime = d.view.and_then(|v| v.optime).unwrap_or_default();
    let latest_end = st.info.latest_end_lsn.unwrap_or_default();
    let replica = st.pg.running && st.pg.in_recovery;
    health::Facts {
        holds_lock: d.holds_lock,
        standby_cluster: st.dynamic.is_standby_cluster(),
        role: st.role,
        running: st.state == MemberState::Running,
        dcs: d.view.is_some(),
        paused: st.dynamic.pause,
        sync_standby: d.sync.0,
        quorum_standby: d.sync.1,
        noloadbalance: cfg.tags.noloadbalance,
        leader_optime: optime.max(latest_end).0,
        replayed: if replica {
            st.pg.replay_lsn.unwrap_or_default().0
        } else {
            0
        },
        replication_state: replication_state(st),
        tags: &d.tags,
    }
}

/// The `/patroni` body (Patroni's `get_postgresql_status` and `_write_status_response`, reference
/// §4.2): the server's state, role, version, WAL positions (`xlog`: `location` on a primary;
/// `received_location`, `replayed_location`, `replayed_timestamp` and `paused` on a standby),
/// timeline, replication; and when they apply `sync_standby` / `quorum_standby`, `pause`,
/// `cluster_unlocked` (also while etcd is not usable), `failsafe_mode_is_active`, `tags`,
/// `pending_restart` with `pending_restart_reason` (`{name: {old_value, new_value}}`),
/// `scheduled_restart`, `watchdog_failed`; praetor adds `praetor`, `fence_guard` and `fenced`.
pub fn patroni_json(shared: &Shared, st: &NodeStatus) -> Value {
    let cfg = shared.cfg();
    let d = derive(shared, &cfg, st);
    patroni_body(shared, &cfg, st, &d)
}

fn patroni_body(shared: &Shared, cfg: &Config, st: &NodeStatus, d: &Derived<'_>) -> Value {
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
                    "paused": st.info.replay_paused,
                }),
            );
            if let Some(rs) = replication_state(st) {
                o.insert("replication_state".into(), json!(rs));
            }
        } else {
            o.insert("xlog".into(), json!({"location": st.pg.wal_lsn}));
            if !st.info.replication.is_empty() {
                o.insert("replication".into(), json!(st.info.replication));
            }
        }
        if d.sync.0 {
            o.insert("sync_standby".into(), json!(true));
        }
        if d.sync.1 {
            o.insert("quorum_standby".into(), json!(true));
        }
    }
    if st.dynamic.pause {
        o.insert("pause".into(), json!(true));
    }
    if d.view.is_none_or(|v| v.leader.is_none()) {
        o.insert("cluster_unlocked".into(), json!(true));
    }
    if d.failsafe_active {
        o.insert("failsafe_mode_is_active".into(), json!(true));
    }
    if let Some(t) = st.dcs_last_seen {
        o.insert("dcs_last_seen".into(), json!(t));
    }
    if !d.tags.is_empty() {
        o.insert("tags".into(), Value::Object(d.tags.clone()));
    }
    if let Some(s) = &st.sysid {
        o.insert("database_system_identifier".into(), json!(s));
    }
    if st.info.pending_restart {
        o.insert("pending_restart".into(), json!(true));
        if !st.info.pending_restart_reason.is_empty() {
            let reason: Map<String, Value> = st
                .info
                .pending_restart_reason
                .iter()
                .map(|(name, (old, new))| {
                    (name.clone(), json!({"old_value": old, "new_value": new}))
                })
                .collect();
            o.insert("pending_restart_reason".into(), Value::Object(reason));
        }
    }
    if let Some(r) = shared
        .scheduled_restart
        .lock()
        .expect("not poisoned")
        .as_ref()
    {
        o.insert("scheduled_restart".into(), r.to_json());
    }
    if watchdog_failed(cfg, st) {
        o.insert("watchdog_failed".into(), json!(true));
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
    if *method == Method::OPTIONS || *method == Method::HEAD {
        return code(ok).into_response();
    }
    (code(ok), Json(patroni_json(shared, &st))).into_response()
}

/// Every health-check path ([`HEALTH_PATHS`], and any other path a GET, HEAD or OPTIONS reaches
/// through the fallback): [`health::status`] over the request's path and query; GET answers the
/// `/patroni` body too, HEAD and OPTIONS the status alone, as Patroni.
async fn health_check(State(s): State<AppState>, method: Method, uri: Uri) -> Response {
    let check = health::Check::from_path(uri.path());
    let pairs = Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let params = health::Params::from_pairs(&pairs);
    let cfg = s.cfg();
    let st = s.status.read().await;
    let d = derive(&s, &cfg, &st);
    let status = health::status(check, &facts(&st, &cfg, &d), &params);
    if method != Method::GET {
        return status.into_response();
    }
    (status, Json(patroni_body(&s, &cfg, &st, &d))).into_response()
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
            .map_or(i128::from(st.dynamic.maximum_lag_on_failover), i128::from);
        // The leader's position: the larger of `/status` and what the WAL receiver last heard.
        let optime = st
            .view
            .as_ref()
            .and_then(|v| v.optime)
            .unwrap_or_default()
            .max(st.info.latest_end_lsn.unwrap_or_default());
        let pos = if q.get("mode").map(String::as_str) == Some("write") {
            st.pg.receive_lsn
        } else {
            st.pg.replay_lsn
        };
        i128::from(optime.saturating_sub(pos.unwrap_or_default())) <= max
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

/// Any other path: a GET, HEAD or OPTIONS is a health check by Patroni's substring rules
/// ([`health::Check::from_path`]: `/replica-zone-a` asks `/replica`, an unknown path 503s); any
/// other method 503s with the `/patroni` body.
async fn fallback(State(s): State<AppState>, method: Method, uri: Uri) -> Response {
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return health_check(State(s), method, uri).await;
    }
    respond(&s, &method, false).await
}
