//! `POST /switchover`, `POST /failover` and `DELETE /switchover` (Patroni's REST API): checks
//! the request against the group, writes the `failover` key and waits for the HA loops to act on
//! it; the candidate check is the core's rule ([`fitness`]) on the candidate's `GET /patroni`.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::{body_object, load_view, opt_string, AppState};
use crate::agent::driver::Shared;
use crate::api::error::ApiError;
use crate::config::DynamicConfig;
use crate::dcs::{keys, ClusterView, Failover};
use crate::ha::candidate::fitness;
use crate::ha::{parse_schedule, PeerStatus};
use crate::peer::PeerAnswer;

/// Whether member `name` may take over from the leader: it must be a member of the group and
/// pass the core's failover-candidate rule ([`fitness`]: reachable, not tagged `nofailover`,
/// running, within `maximum_lag_on_failover` bytes of the leader's WAL position) on its
/// `GET /patroni` answer. Otherwise why not, as `candidate <name> <reason>`.
async fn check_candidate(shared: &Shared, view: &ClusterView, name: &str) -> Result<(), String> {
    let Some(m) = view.member(name) else {
        return Err(format!("candidate {name} is not a member of the cluster"));
    };
    // The member key's tags count even when its answer carries others (or none).
    if !m.tags().can_failover() {
        return Err(format!(
            "candidate {name} {}",
            crate::ha::candidate::Unfit::NoFailover
        ));
    }
    let answer = match shared.http().get(&m.data.api_url).send().await {
        Ok(r) => r.json::<Value>().await,
        Err(e) => Err(e),
    };
    let peer = match answer {
        Ok(body) => PeerAnswer::decode(&body).into_status(name.to_string(), m.tags()),
        Err(e) => {
            tracing::info!("candidate {name} at {}: {e:#}", m.data.api_url);
            PeerStatus {
                name: name.to_string(),
                reachable: false,
                role: None,
                state: None,
                lsn: Default::default(),
                timeline: None,
                tags: m.tags(),
            }
        }
    };
    let leader_lsn = view
        .leader_member()
        .and_then(|l| l.data.xlog_location)
        .or(view.optime)
        .unwrap_or_default();
    let max_lag = view.config.as_ref().map_or_else(
        || DynamicConfig::default().maximum_lag_on_failover,
        |c| c.maximum_lag_on_failover,
    );
    fitness(&peer, leader_lsn, max_lag).map_err(|unfit| format!("candidate {name} {unfit}"))
}

/// `POST /switchover`: body `{leader, candidate?, scheduled_at?}`.
pub async fn post_switchover(State(s): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let m = body_object(&body)?;
    manual_failover(&s, &m, true).await
}

/// `POST /failover`: body `{candidate, leader?}` (a body with `leader` is treated as a
/// switchover, as in Patroni).
pub async fn post_failover(State(s): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let m = body_object(&body)?;
    let switchover = m.get("leader").is_some_and(|v| !v.is_null());
    manual_failover(&s, &m, switchover).await
}

/// Checks a switchover (`switchover`) or failover request, writes the `failover` key and, unless
/// it is scheduled (202), waits up to `2 × max(loop_wait, 10)` seconds for a new leader (200).
async fn manual_failover(
    s: &Shared,
    m: &Map<String, Value>,
    switchover: bool,
) -> Result<Response, ApiError> {
    let leader = opt_string(m, "leader")?;
    let candidate = match opt_string(m, "candidate")? {
        Some(c) => Some(c),
        None => opt_string(m, "member")?,
    };
    let scheduled_at = opt_string(m, "scheduled_at")?;
    let action = if switchover { "Switchover" } else { "Failover" };
    if switchover && leader.is_none() {
        return Err(ApiError::BadRequest(
            "Switchover could be performed only from a specific leader".into(),
        ));
    }
    if !switchover && candidate.is_none() {
        return Err(ApiError::BadRequest(
            "Failover could be performed only to a specific candidate".into(),
        ));
    }
    if leader.is_some() && leader == candidate {
        return Err(ApiError::BadRequest(
            "Switchover target and source are the same".into(),
        ));
    }
    let view = load_view(s).await?;
    let paused = view.config.as_ref().is_some_and(|c| c.pause);
    let mut scheduled = None;
    if let Some(at) = &scheduled_at {
        if !switchover {
            return Err(ApiError::BadRequest("Failover can't be scheduled".into()));
        }
        if paused {
            return Err(ApiError::BadRequest(
                "Can't schedule switchover in the paused state".into(),
            ));
        }
        let has_zone = at.ends_with('Z')
            || at
                .rsplit(['T', ' '])
                .next()
                .is_some_and(|t| t.contains('+') || t.contains('-'));
        if !has_zone {
            return Err(ApiError::BadRequest(
                "Timezone information is mandatory for the scheduled switchover".into(),
            ));
        }
        let Some(t) = parse_schedule(at) else {
            return Err(ApiError::Unprocessable("Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601".into()));
        };
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        if t < now {
            return Err(ApiError::Unprocessable(
                "Cannot schedule switchover in the past".into(),
            ));
        }
        scheduled = Some(at.clone());
    }
    let current = view.leader.as_ref().map(|l| l.name.clone());
    if let Some(l) = &leader {
        if current.as_deref() != Some(l.as_str()) {
            return Err(ApiError::PreconditionFailed(format!(
                "leader name does not match: {l} is not the leader"
            )));
        }
    }
    if let Some(c) = &candidate {
        if current.as_deref() == Some(c.as_str()) {
            return Err(ApiError::PreconditionFailed(format!(
                "candidate {c} is already the leader"
            )));
        }
        // Quorum commit: any member may be named (Patroni); it wins only with the votes.
        if view
            .config
            .as_ref()
            .is_some_and(|c| c.synchronous() && !c.is_quorum())
        {
            if let Some(sync) = &view.sync {
                if switchover && !sync.members().contains(c) {
                    return Err(ApiError::PreconditionFailed(
                        "candidate name does not match with sync_standby".into(),
                    ));
                }
            }
        }
        check_candidate(s, &view, c)
            .await
            .map_err(ApiError::PreconditionFailed)?;
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
            return Err(ApiError::PreconditionFailed(format!(
                "{action} is not possible: no good candidates have been found"
            )));
        }
    }
    let value = Failover {
        leader: leader.clone(),
        member: candidate.clone(),
        scheduled_at: scheduled.clone(),
    };
    s.dcs
        .put(keys::FAILOVER, &value.encode())
        .await
        .map_err(|e| ApiError::Unavailable(format!("failed to write the failover key: {e:#}")))?;
    s.wake.notify_one();
    if scheduled.is_some() {
        return Ok((StatusCode::ACCEPTED, format!("{action} scheduled")).into_response());
    }
    let loop_wait = view
        .config
        .as_ref()
        .map_or_else(|| DynamicConfig::default().loop_wait, |c| c.loop_wait);
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
            let msg = match &candidate {
                Some(c) if *c != n => format!("Switched over to \"{n}\" instead of \"{c}\""),
                _ => format!("Successfully {verb} to \"{n}\""),
            };
            return Ok((StatusCode::OK, msg).into_response());
        }
        if v.failover.is_none() && v.leader.as_ref().map(|l| l.name.clone()) == current {
            return Err(ApiError::Unavailable(format!("{action} failed")));
        }
    }
    Err(ApiError::Unavailable(format!("{action} status unknown")))
}

/// `DELETE /switchover`: cancels a scheduled switchover (200), 404 when none is scheduled, 409
/// when the `failover` key changed since it was read.
pub async fn delete_switchover(State(s): State<AppState>) -> Result<Response, ApiError> {
    let view = load_view(&s).await?;
    if view
        .failover
        .as_ref()
        .is_none_or(|f| f.scheduled_at.is_none())
    {
        return Err(ApiError::NotFound("no switchover is scheduled".into()));
    }
    let written = s
        .dcs
        .put_if_revision(keys::FAILOVER, Failover::CLEARED, view.failover_revision)
        .await
        .map_err(|e| ApiError::Unavailable(format!("{e:#}")))?;
    if !written {
        return Err(ApiError::Conflict(
            "the failover key changed concurrently".into(),
        ));
    }
    Ok((StatusCode::OK, "scheduled switchover deleted").into_response())
}
