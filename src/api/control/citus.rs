//! `POST /citus` (alias `/mpp`, Patroni's REST API): a Citus worker group's switchover events,
//! applied by the coordinator leader to the `pg_dist_node` metadata (reference §3.5).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::api::error::ApiError;

/// `POST /citus` (alias `/mpp`): a worker's switchover event (reference §3.5). Acted on only by the
/// coordinator leader and only when `leader` holds its group's leader key; the answer comes once
/// the event is applied (for `before_demote`: once writes to the group are held). Always 200 `OK`
/// for well-formed events, as in Patroni; 400 for a malformed body.
pub async fn post_citus(State(s): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let ev: crate::citus::handler::CitusEvent = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "expected {{type, group, leader, timeout, cooldown}}: {e}"
        ))
    })?;
    if !matches!(
        ev.kind.as_str(),
        "before_demote" | "before_promote" | "after_promote"
    ) {
        return Err(ApiError::BadRequest(format!(
            "type: expected before_demote, before_promote or after_promote, got {:?}",
            ev.kind
        )));
    }
    let Some(handler) = s.citus.clone() else {
        return Ok(ok());
    };
    if !s.status.read().await.holds_lock() {
        return Ok(ok());
    }
    let view = s
        .dcs
        .load_prefix(&format!("{}{}/", s.cfg().scope_prefix(), ev.group))
        .await
        .map_err(|e| ApiError::dcs(&e))?;
    if view.leader.as_ref().map(|l| l.name.as_str()) != Some(ev.leader.as_str()) {
        tracing::info!("citus: discarding event {} from {} (group {}): it does not hold the group's leader key", ev.kind, ev.leader, ev.group);
        return Ok(ok());
    }
    // The group as it should be with the sender as its primary (it may still be promoting).
    let primary = view.member(&ev.leader).and_then(|m| m.host_port());
    let secondaries = view
        .members
        .iter()
        .filter(|m| m.name != ev.leader && m.is_running() && !m.tags().noloadbalance)
        .filter_map(|m| m.host_port())
        .collect();
    let poolers = view
        .members
        .iter()
        .filter_map(|m| Some((m.host_port()?, m.pooler()?)))
        .collect();
    let desired = crate::citus::DesiredGroup {
        group: ev.group,
        primary,
        secondaries,
        poolers,
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let wait = Duration::from_secs_f64(ev.timeout.max(1.0));
    handler
        .send(crate::citus::handler::CitusMsg::Event(ev, desired, tx))
        .await;
    if let Ok(Ok(Err(e))) = tokio::time::timeout(wait, rx).await {
        tracing::warn!("citus: event not applied: {e}");
    }
    Ok(ok())
}

/// Patroni's answer to every well-formed event: 200 `OK`.
fn ok() -> Response {
    (StatusCode::OK, "OK").into_response()
}
