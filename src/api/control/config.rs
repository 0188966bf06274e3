//! `GET`, `PATCH` and `PUT /config` (Patroni's REST API): the dynamic configuration in etcd's
//! `config` key. Edits are validated as a [`DynamicConfig`] before they are written; `PATCH` is a
//! JSON merge patch (a `null` deletes) written only if the key did not change since it was read.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::{body_object, load_view, AppState};
use crate::api::error::ApiError;
use crate::config::{merge_patch, DynamicConfig};
use crate::dcs::keys;

/// 400 with the first problem when `v` is not a valid dynamic configuration or has a key
/// praetor refuses ([`DynamicConfig::check_edit`]).
fn validate_config(v: &Value) -> Result<(), ApiError> {
    DynamicConfig::check_edit(v).map(|_| ()).map_err(|(k, m)| {
        ApiError::BadRequest(format!(
            "invalid configuration: {}{m}",
            if k.is_empty() {
                String::new()
            } else {
                format!("{k}: ")
            }
        ))
    })
}

/// `GET /config`: the `config` key as stored. Reads etcd (one range read) rather than the
/// watch-fed copy, so a client sees its own `PATCH` at once; with etcd unreachable, the last view
/// the HA loop saw. 502 when there is none.
pub async fn get_config(State(s): State<AppState>) -> Result<Response, ApiError> {
    let view = match s.dcs.load_fresh().await {
        Ok(v) => Some(v),
        Err(_) => s.status.read().await.view.clone(),
    };
    match view.and_then(|v| v.config_raw) {
        Some(c) => Ok((StatusCode::OK, Json(c)).into_response()),
        None => Err(ApiError::BadGateway("no configuration in DCS".into())),
    }
}

/// `PATCH /config`: merges the body into the stored configuration and answers the result (200);
/// 409 when the key changed concurrently, 503 when etcd is not accessible or holds none.
pub async fn patch_config(State(s): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let patch = Value::Object(body_object(&body)?);
    let view = load_view(&s).await?;
    let Some(mut cfg) = view.config_raw.clone() else {
        return Err(ApiError::Unavailable("no configuration in DCS".into()));
    };
    merge_patch(&mut cfg, &patch);
    validate_config(&cfg)?;
    let written = s
        .dcs
        .put_if_revision(keys::CONFIG, &cfg.to_string(), view.config_revision)
        .await
        .map_err(|e| ApiError::Unavailable(format!("{e:#}")))?;
    if !written {
        return Err(ApiError::Conflict(
            "the configuration was changed concurrently; retry".into(),
        ));
    }
    s.wake.notify_one();
    Ok((StatusCode::OK, Json(cfg)).into_response())
}

/// `PUT /config`: replaces the stored configuration with the body and answers it (200); 502
/// when the write fails.
pub async fn put_config(State(s): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let cfg = Value::Object(body_object(&body)?);
    validate_config(&cfg)?;
    s.dcs
        .put(keys::CONFIG, &cfg.to_string())
        .await
        .map_err(|e| ApiError::BadGateway(format!("{e:#}")))?;
    s.wake.notify_one();
    Ok((StatusCode::OK, Json(cfg)).into_response())
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
}
