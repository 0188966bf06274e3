//! `POST /failsafe` and `GET /failsafe` (Patroni's REST API): the members' side of failsafe
//! mode, in which a leader that lost etcd keeps its role while every member confirms it
//! (reference §2.5).

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::{body_object, AppState};
use crate::api::error::ApiError;

/// `POST /failsafe`: a leader running without etcd in failsafe mode checks that it may go on
/// (reference §2.5). A standby records the caller as the leader for one ttl (it will not race for
/// the key meanwhile) and answers 200 `Accepted` with its WAL position in an `lsn` header; a member
/// that runs as a primary itself answers 500; without failsafe mode, 502.
pub async fn post_failsafe(State(s): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let m = body_object(&body)?;
    let Some(name) = m.get("name").and_then(Value::as_str).map(String::from) else {
        return Err(ApiError::BadRequest("name: required".into()));
    };
    let st = s.status.read().await;
    if !st.dynamic.failsafe_mode {
        return Err(not_enabled());
    }
    if st.pg.running && !st.pg.in_recovery {
        return Err(ApiError::Internal("Running as a leader".into()));
    }
    let lsn = st.pg.lsn();
    drop(st);
    *s.failsafe_ping.lock().expect("not poisoned") = Some((name, Instant::now()));
    // Patroni reads the header as an integer (bytes).
    Ok((StatusCode::OK, [("lsn", lsn.0.to_string())], "Accepted").into_response())
}

/// `GET /failsafe`: the `/failsafe` member list (502 when failsafe mode is off).
pub async fn get_failsafe(State(s): State<AppState>) -> Result<Response, ApiError> {
    let st = s.status.read().await;
    if !st.dynamic.failsafe_mode {
        return Err(not_enabled());
    }
    let list = st
        .view
        .as_ref()
        .and_then(|v| v.failsafe.clone())
        .unwrap_or_default();
    Ok((StatusCode::OK, Json(list)).into_response())
}

/// 502: failsafe mode is off (`failsafe_mode` unset in the dynamic configuration).
fn not_enabled() -> ApiError {
    ApiError::BadGateway("Failsafe mode is not enabled".into())
}
