//! `POST /restart`, `DELETE /restart`, `POST /reinitialize` and `POST /reload` (Patroni's REST
//! API): requests handed to the HA loop over the driver's command channel, or a restart
//! scheduled for it.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{body_object, opt_string, AppState};
use crate::agent::driver::{Command, ScheduledRestart};
use crate::api::error::ApiError;
use crate::ha::parse_schedule;
use crate::types::{parse_pg_version, Role};

/// How long `POST /restart` waits for the restart when the body gives no `timeout`, seconds.
const RESTART_TIMEOUT_SECS: f64 = 120.0;

/// `POST /restart`: body `{schedule?, role?, postgres_version?, timeout?, restart_pending?}`.
/// Restarts PostgreSQL now (200 once done, waiting up to `timeout` seconds, default 120) when
/// the conditions hold (503 otherwise), or schedules the restart (202).
pub async fn post_restart(State(s): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let m = body_object(&body)?;
    for k in m.keys() {
        if !matches!(
            k.as_str(),
            "schedule" | "role" | "postgres_version" | "timeout" | "restart_pending"
        ) {
            return Err(ApiError::BadRequest(format!(
                "Unknown filter for the scheduled restart: {k}"
            )));
        }
    }
    let role = match opt_string(&m, "role")?.as_deref() {
        None => None,
        Some("primary" | "master" | "standby_leader") => Some(Role::Primary),
        Some("replica") => Some(Role::Replica),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "PostgreSQL role should be either primary, standby_leader or replica".into(),
            ))
        }
    };
    let postgres_version = match opt_string(&m, "postgres_version")? {
        None => None,
        Some(v) => Some(parse_pg_version(&v).ok_or_else(|| {
            ApiError::BadRequest(
                "PostgreSQL version should be in the first.major.minor format".into(),
            )
        })?),
    };
    let restart_pending = match m.get("restart_pending") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "restart_pending: expected true or false".into(),
            ))
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
                return Err(ApiError::BadRequest(
                    "timeout: expected a positive number of seconds".into(),
                ))
            }
        },
    };
    let (paused, my_role, version, pending, started) = {
        let st = s.status.read().await;
        let r = if st.holds_lock() {
            Role::Primary
        } else {
            Role::Replica
        };
        (
            st.dynamic.pause,
            r,
            st.info.server_version,
            st.info.pending_restart,
            st.info.postmaster_start_time.clone(),
        )
    };
    let schedule = match opt_string(&m, "schedule")? {
        Some(at) => Some(at),
        None => opt_string(&m, "scheduled_at")?,
    };
    if let Some(at) = schedule {
        if paused {
            return Err(ApiError::Internal(
                "Can't schedule restart in the paused state".into(),
            ));
        }
        let Some(t) = parse_schedule(&at) else {
            return Err(ApiError::BadRequest(
                "Unable to parse scheduled timestamp: expected ISO 8601 with a time zone".into(),
            ));
        };
        let mut guard = s.scheduled_restart.lock().expect("not poisoned");
        if guard.is_some() {
            return Err(ApiError::Conflict(
                "Cannot modify a scheduled restart: another restart is already scheduled".into(),
            ));
        }
        *guard = Some(ScheduledRestart {
            at: t,
            schedule: at,
            role,
            postgres_version,
            restart_pending,
            postmaster_start_time: started,
        });
        drop(guard);
        s.wake.notify_one();
        return Ok((StatusCode::ACCEPTED, "Restart scheduled").into_response());
    }
    if !crate::ha::shutdown::restart_conditions_hold(
        role,
        postgres_version,
        restart_pending,
        my_role,
        version,
        pending,
    ) {
        return Err(ApiError::Unavailable(
            "restart conditions are not satisfied".into(),
        ));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    if s.commands.send(Command::Restart(tx)).await.is_err() {
        return Err(ApiError::Unavailable(
            "restart failed: the HA loop is not running".into(),
        ));
    }
    let wait = Duration::from_secs_f64(timeout.unwrap_or(RESTART_TIMEOUT_SECS));
    match tokio::time::timeout(wait, rx).await {
        Ok(Ok(Ok(()))) => Ok((StatusCode::OK, "restarted successfully").into_response()),
        Ok(Ok(Err(e))) => Err(ApiError::Unavailable(format!("restart failed: {e}"))),
        _ => Err(ApiError::Unavailable("restart failed: timed out".into())),
    }
}

/// `DELETE /restart`: cancels a scheduled restart (200), 404 when none is scheduled.
pub async fn delete_restart(State(s): State<AppState>) -> Result<Response, ApiError> {
    let had = s
        .scheduled_restart
        .lock()
        .expect("not poisoned")
        .take()
        .is_some();
    s.wake.notify_one();
    if !had {
        return Err(ApiError::NotFound("no restarts are scheduled".into()));
    }
    Ok((StatusCode::OK, "scheduled restart deleted").into_response())
}

/// `POST /reinitialize`: body `{force?, from_leader?}` (booleans as Patroni's `parse_bool`
/// reads them). Asks the HA loop to rebuild this replica from the leader and answers 200
/// `reinitialize started` as soon as it has started (Patroni); 503 on the leader, when the group
/// has no leader, or while a reinitialize is already running (`reinitialize already in
/// progress`). With `force` the request is queued behind the running one instead (Patroni
/// cancels the running task; praetor does not interrupt a base backup). `from_leader`: a
/// basebackup from the leader instead of the configured replica creation methods from the clone
/// member (a running `clonefrom` member, else the leader), as in Patroni.
pub async fn post_reinitialize(
    State(s): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let m = body_object(&body)?;
    let flag = |key: &str| -> Result<bool, ApiError> {
        match m.get(key) {
            None | Some(serde_json::Value::Null) => Ok(false),
            Some(v) => crate::config::dynamic::parse_patroni_bool(v)
                .map_err(|e| ApiError::BadRequest(format!("{key}: {e}"))),
        }
    };
    let force = flag("force")?;
    let from_leader = flag("from_leader")?;
    if !force {
        if let Some(action) = *s.in_progress.lock().expect("not poisoned") {
            return Err(ApiError::Unavailable(format!(
                "{action} already in progress"
            )));
        }
    }
    {
        let st = s.status.read().await;
        if st.holds_lock() {
            return Err(ApiError::Unavailable(
                "I am the leader, can not reinitialize".into(),
            ));
        }
        if st.view.as_ref().is_some_and(|v| v.leader.is_none()) {
            return Err(ApiError::Unavailable(
                "Cluster has no leader, can not reinitialize".into(),
            ));
        }
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    if s.commands
        .send(Command::Reinitialize {
            from_leader,
            reply: tx,
        })
        .await
        .is_err()
    {
        return Err(ApiError::Unavailable("the HA loop is not running".into()));
    }
    match rx.await {
        Ok(Ok(())) => Ok((StatusCode::OK, "reinitialize started").into_response()),
        Ok(Err(e)) => Err(ApiError::Unavailable(format!("reinitialize failed: {e}"))),
        Err(_) => Err(ApiError::Unavailable("reinitialize failed".into())),
    }
}

/// `POST /reload`: asks the HA loop to re-read the configuration file (202).
pub async fn post_reload(State(s): State<AppState>) -> Result<Response, ApiError> {
    let (tx, _rx) = tokio::sync::oneshot::channel();
    if s.commands.send(Command::Reload(tx)).await.is_err() {
        return Err(ApiError::Unavailable("the HA loop is not running".into()));
    }
    Ok((StatusCode::ACCEPTED, "reload scheduled").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_pg_version("15.4"), Some(150004));
        assert_eq!(parse_pg_version("15"), Some(150000));
        assert_eq!(parse_pg_version("9.6.24"), Some(90624));
        assert_eq!(parse_pg_version("x"), None);
    }
}
