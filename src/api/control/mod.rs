//! Patroni's control endpoints (reference §4.3), one file per concern: [`switchover`]
//! (`/switchover`, `/failover`), [`restart`] (`/restart`, `/reinitialize`, `/reload`),
//! [`config`] (`/config`), [`metrics`] (`/metrics`), [`failsafe`] (`/failsafe`) and [`citus`]
//! (`/citus`, `/mpp`). The state-changing ("unsafe") endpoints pass [`super::access::guard`]
//! first (allowlist, client certificate, basic auth). Errors are [`ApiError`]s: plain-text
//! bodies as in Patroni, so patronictl prints them unchanged.

pub mod citus;
pub mod config;
pub mod failsafe;
pub mod metrics;
pub mod restart;
pub mod switchover;

pub use citus::post_citus;
pub use config::{get_config, patch_config, put_config};
pub use failsafe::{get_failsafe, post_failsafe};
pub use metrics::metrics;
pub use restart::{delete_restart, post_reinitialize, post_reload, post_restart};
pub use switchover::{delete_switchover, post_failover, post_switchover};

use std::sync::Arc;

use axum::body::Bytes;
use serde_json::{Map, Value};

use super::error::ApiError;
use crate::agent::driver::Shared;
use crate::dcs::ClusterView;

type AppState = Arc<Shared>;

/// Parses a JSON object body; an empty body is an empty object.
fn body_object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::BadRequest("expected a JSON object".into())),
        Err(e) => Err(ApiError::BadRequest(format!("invalid JSON body: {e}"))),
    }
}

/// The string at `key`; missing, null and empty read as `None`.
fn opt_string(m: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::BadRequest(format!(
            "{key}: expected a string, got {other}"
        ))),
    }
}

/// The group as etcd holds it now (one range read), not the watch-fed copy: the control
/// endpoints make conditional writes on the revisions they read, and the copy may not have seen a
/// write made a moment ago (a second `DELETE /switchover` would then answer 409, not 404).
async fn load_view(shared: &Shared) -> Result<ClusterView, ApiError> {
    shared.dcs.load_fresh().await.map_err(|e| ApiError::dcs(&e))
}
