//! `praetorctl switchover`, `failover`, `pause`, `resume`, `demote-cluster` and
//! `promote-cluster`: the commands that change who leads or whether anyone may take over,
//! following patronictl 4.1 (its prompts, messages and exit codes).

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use serde_json::{json, Map, Value};

use super::commands::warn;
use super::context::*;
use super::render::*;
use crate::dcs::ClusterView;

/// What `switchover` and `failover` were asked.
pub(super) struct Handover {
    /// `switchover` (true) or `failover`.
    pub(super) switchover: bool,
    /// `--leader` / `--primary`.
    pub(super) leader: Option<String>,
    /// `--candidate`.
    pub(super) candidate: Option<String>,
    /// `--scheduled` (switchover only).
    pub(super) scheduled: Option<String>,
    /// `--force`.
    pub(super) force: bool,
}

/// `switchover` / `failover` (patronictl's `_do_failover_or_switchover`): shows the cluster, asks
/// what was not given, then `POST /switchover` or `/failover` on the leader (the candidate when
/// there is no leader); when that member cannot be reached, writes the `failover` key itself.
pub(super) async fn switchover(ctx: &Ctx, h: Handover) -> Result<()> {
    let action = if h.switchover {
        "switchover"
    } else {
        "failover"
    };
    let mut pool = ctx.pool().await?;
    println!("Current cluster topology");
    print!("{}", pool.table(Style::Pretty, false));
    if pool.citus && pool.group.is_none() {
        if h.force {
            // patronictl's words, typo included.
            bail!("For Citus clusters the --group must me specified");
        }
        let g = prompt_int("Citus group")?;
        pool = ctx.pool_of(&pool.scope, Some(g)).await?;
    }
    let scope = pool.scope.clone();
    let view = pool.main().clone();
    let gc = GlobalConfig::of(&view);
    let current = view
        .leader
        .as_ref()
        .map(|l| l.name.clone())
        .filter(|n| !n.is_empty());
    let mut leader = h.leader.clone();
    if h.switchover {
        let Some(cur) = &current else {
            bail!("This cluster has no leader");
        };
        if leader.is_none() {
            leader = Some(if h.force {
                cur.clone()
            } else {
                let title = if gc.is_standby_cluster() {
                    "Standby Leader"
                } else {
                    "Primary"
                };
                prompt(title, Some(cur))?
            });
        }
    }
    if let Some(l) = &leader {
        if Some(l) != current.as_ref() {
            bail!("Member {l} is not the leader of cluster {scope}");
        }
    }
    let mut candidates: Vec<String> = view
        .members
        .iter()
        .filter(|m| Some(&m.name) != current.as_ref() && m.tags().can_failover())
        .map(|m| m.name.clone())
        .collect();
    candidates.sort();
    if candidates.is_empty() {
        bail!("No candidates found to {action} to");
    }
    let mut candidate = h.candidate.clone();
    if candidate.is_none() && !h.force {
        let listed = Doc::List(candidates.iter().map(Doc::str).collect()).py_repr();
        candidate = Some(prompt(&format!("Candidate {listed}"), Some(""))?);
    }
    let candidate = candidate.filter(|c| !c.is_empty());
    if !h.switchover && candidate.is_none() {
        bail!("Failover could be performed only to a specific candidate");
    }
    if let Some(c) = &candidate {
        if !candidates.contains(c) {
            if Some(c) == current.as_ref() {
                bail!("Member {c} is already the leader of cluster {scope}");
            }
            bail!("Member {c} does not exist in cluster {scope} or is tagged as nofailover");
        }
        let sync_set = view
            .sync
            .as_ref()
            .is_some_and(|s| s.leader.as_deref().is_some_and(|l| !l.is_empty()));
        if !h.force
            && !h.switchover
            && gc.is_synchronous_mode()
            && sync_set
            && !sync_matches(&view, c, true)
            && !confirm(&format!(
                "Are you sure you want to failover to the asynchronous node {c}?"
            ))?
        {
            bail!("Aborting {action}");
        }
    }
    let mut scheduled_at = None;
    if h.switchover {
        let text = match h.scheduled.clone() {
            None if !h.force => {
                let next_hour =
                    (chrono::Local::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M");
                Some(prompt(
                    &format!("When should the switchover take place (e.g. {next_hour} ) "),
                    Some("now"),
                )?)
            }
            s => s,
        };
        scheduled_at = parse_scheduled(text.as_deref(), &chrono::Local)?;
        if scheduled_at.is_some() && gc.is_paused() {
            bail!("Can't schedule switchover in the paused state");
        }
    }
    let scheduled_iso = scheduled_at.map(|d| d.isoformat('T'));
    let mut body = Map::new();
    body.insert("candidate".into(), json!(candidate));
    if h.switchover {
        body.insert("leader".into(), json!(leader));
    }
    if let Some(at) = &scheduled_iso {
        body.insert("scheduled_at".into(), json!(at));
    }
    if !h.force {
        let demoting = current
            .as_ref()
            .map(|l| format!(", demoting current leader {l}"))
            .unwrap_or_default();
        if let Some(at) = &scheduled_iso {
            if !confirm(&format!(
                "Are you sure you want to schedule switchover of cluster {scope} at {at}{demoting}?"
            ))? {
                bail!("Aborting scheduled {action}");
            }
        } else if !confirm(&format!(
            "Are you sure you want to {action} cluster {scope}{demoting}?"
        ))? {
            bail!("Aborting {action}");
        }
    }
    let target = view
        .leader_member()
        .or_else(|| candidate.as_ref().and_then(|c| view.member(c)));
    let pb = spinner(&format!("waiting for the {action}"));
    let answer = match target {
        Some(m) => {
            ctx.request(
                reqwest::Method::POST,
                m,
                &format!("/{action}"),
                Some(Value::Object(body)),
                Duration::from_secs(120),
            )
            .await
        }
        None => Err(anyhow!("no member to call")),
    };
    pb.finish_and_clear();
    match answer {
        Ok((200 | 202, text)) => {
            pool = ctx.pool_of(&scope, pool.group).await?;
            println!("{} {text}", timestamp(6));
        }
        Ok((code, text)) => {
            let mut title = action.to_string();
            title[..1].make_ascii_uppercase();
            println!("{title} failed, details: {code}, {text}");
            return Ok(());
        }
        Err(e) => {
            warn(&format!("{e:#}"));
            warn("Failing over to DCS");
            println!(
                "{} Could not {action} using Patroni api, falling back to DCS",
                timestamp(6)
            );
            let mut value = Map::new();
            if let Some(l) = leader.filter(|l| !l.is_empty()) {
                value.insert("leader".into(), json!(l));
            }
            if let Some(c) = &candidate {
                value.insert("member".into(), json!(c));
            }
            if let Some(at) = &scheduled_iso {
                value.insert("scheduled_at".into(), json!(at));
            }
            let key = format!("{}failover", ctx.main_prefix(&pool));
            ctx.dcs
                .put_absolute(&key, &Value::Object(value).to_string())
                .await?;
        }
    }
    print!("{}", pool.table(Style::Pretty, false));
    Ok(())
}

/// `pause` / `resume` (patronictl's `toggle_pause`): `PATCH /config` `{"pause": true|null}` on
/// the first member that answers, the leader first; with `--wait`, until every member reports it
/// (for up to `loop_wait` + 1 seconds).
pub(super) async fn set_pause(ctx: &Ctx, pause: bool, wait: bool) -> Result<()> {
    let pool = ctx.pool().await?;
    let view = pool.main();
    if GlobalConfig::of(view).is_paused() == pause {
        bail!(
            "Cluster is {} paused",
            if pause { "already" } else { "not" }
        );
    }
    let (verb, done) = if pause {
        ("pause", "paused")
    } else {
        ("resume", "resumed")
    };
    let body = json!({"pause": if pause { json!(true) } else { Value::Null }});
    for m in leader_first(view) {
        let answer = ctx
            .request(
                reqwest::Method::PATCH,
                m,
                "/config",
                Some(body.clone()),
                Duration::from_secs(10),
            )
            .await;
        let (code, text) = match answer {
            Ok(a) => a,
            Err(e) => {
                warn(&format!("{e:#}"));
                warn(&format!("Member {} is not accessible", m.name));
                continue;
            }
        };
        if code == 200 {
            if wait {
                wait_for_pause(ctx, &pool, view, pause).await?;
            } else {
                println!("Success: cluster management is {done}");
            }
        } else {
            println!("Failed: {verb} cluster management status code={code}, ({text})");
        }
        return Ok(());
    }
    bail!("Can not find accessible cluster member")
}

/// patronictl's `wait_until_pause_is_applied`.
async fn wait_for_pause(ctx: &Ctx, pool: &Pool, old: &ClusterView, pause: bool) -> Result<()> {
    let (verb, done) = if pause {
        ("pause", "paused")
    } else {
        ("resume", "resumed")
    };
    println!("'{verb}' request sent, waiting until it is recognized by all nodes");
    let known: Vec<String> = old
        .members
        .iter()
        .filter(|m| !m.data.api_url.is_empty())
        .map(|m| m.name.clone())
        .collect();
    let loop_wait = GlobalConfig::of(old).loop_wait();
    let g = pool.main_group();
    let deadline = std::time::Instant::now() + Duration::from_secs(loop_wait + 1);
    let mut remaining: Vec<String> = Vec::new();
    while std::time::Instant::now() < deadline {
        let fresh = ctx
            .pool_of(&pool.scope, Some(g).filter(|_| pool.citus))
            .await?;
        remaining = fresh
            .main()
            .members
            .iter()
            .filter(|m| known.contains(&m.name) && m.data.pause.unwrap_or(false) != pause)
            .map(|m| m.name.clone())
            .collect();
        if remaining.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    if !remaining.is_empty() {
        println!(
            "{} members didn't recognized pause state after {loop_wait} seconds",
            remaining.join(", ")
        );
        return Ok(());
    }
    println!("Success: cluster management is {done}");
    Ok(())
}

/// `demote-cluster` (with the standby settings) and `promote-cluster` (without): `PATCH /config`
/// `{"standby_cluster": …}` on the leader, then a status line every second until the leader runs
/// in the new role (patronictl's `change_cluster_role`).
pub(super) async fn change_cluster_role(
    ctx: &Ctx,
    force: bool,
    standby: Option<Map<String, Value>>,
) -> Result<()> {
    let demote = standby.is_some();
    let (name, target) = if demote {
        ("demot", "standby_leader")
    } else {
        ("promot", "primary")
    };
    let pool = ctx.pool().await?;
    let scope = pool.scope.clone();
    let view = pool.main();
    let Some(leader_name) = view
        .leader
        .as_ref()
        .map(|l| l.name.clone())
        .filter(|n| !n.is_empty())
    else {
        bail!("Cluster has no leader, {name}ion is not possible");
    };
    let leader = view.leader_member();
    if leader.is_some_and(|m| m.data.role == target) {
        bail!("Cluster is already in the required state");
    }
    println!("Current cluster topology");
    print!("{}", pool.table(Style::Pretty, false));
    if !force
        && !confirm(&format!(
            "Are you sure you want to {name}e {scope} cluster?"
        ))?
    {
        bail!("Aborted cluster {name}ion");
    }
    let body = json!({"standby_cluster": standby.map_or(Value::Null, Value::Object)});
    let Some(leader) = leader else {
        bail!("Failed to {name}e {scope} cluster: the leader {leader_name} has no member key");
    };
    match ctx
        .request(reqwest::Method::PATCH, leader, "/config", Some(body), Duration::from_secs(30))
        .await
    {
        Ok((200, _)) => {}
        // patronictl wraps its own message once more on the way out.
        Ok((code, text)) => bail!(
            "Failed to {name}e {scope} cluster: Failed to {name}e {scope} cluster: /config PATCH status code={code}, ({text})"
        ),
        Err(e) => bail!("Failed to {name}e {scope} cluster: {e:#}"),
    }
    let py = |v: Option<&str>| v.map_or("None".to_string(), String::from);
    let mut last = pool.clone();
    watching(Some(1.0), false, async || {
        let fresh = ctx.pool_of(&scope, pool.group).await?;
        let v = fresh.main();
        let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S");
        let unlocked = v.leader.as_ref().is_none_or(|l| l.name.is_empty());
        let lm = v.leader_member();
        let role = lm.map(|m| m.data.role.as_str());
        let state = lm.map(|m| m.data.state.as_str());
        let old_state = v.member(&leader_name).map(|m| m.data.state.as_str());
        if !unlocked
            && role == Some(target)
            && state == Some("running")
            && (!demote || old_state == Some("running"))
        {
            println!("{now} cluster is successfully {name}ed");
            last = fresh.clone();
            return Err(anyhow!(Done));
        }
        let mut parts = vec![
            format!(
                "{now} cluster is unlocked: {}",
                if unlocked { "True" } else { "False" }
            ),
            format!("leader role: {}", py(role)),
            format!("leader state: {}", py(state)),
        ];
        let moved = v.leader.as_ref().is_some_and(|l| l.name != leader_name);
        if demote && moved {
            if let Some(s) = old_state {
                parts.push(format!("previous leader state: {}", Doc::str(s).py_repr()));
            }
        }
        println!("{}", parts.join(", "));
        last = fresh;
        Ok(())
    })
    .await
    .or_else(|e| if e.is::<Done>() { Ok(()) } else { Err(e) })?;
    print!("{}", last.table(Style::Pretty, false));
    Ok(())
}

/// Ends a [`watching`] loop that reached its goal.
#[derive(Debug)]
struct Done;

impl std::fmt::Display for Done {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("done")
    }
}

impl std::error::Error for Done {}

/// `demote-cluster`: at least one of `--host`, `--port`, `--restore-command`.
///
/// # Errors
/// `At least --host, --port or --restore-command should be specified`, or the role change's.
pub(super) async fn demote_cluster(ctx: &Ctx, a: super::cli::DemoteClusterArgs) -> Result<()> {
    if a.host.is_none() && a.port.is_none() && a.restore_command.is_none() {
        bail!("At least --host, --port or --restore-command should be specified");
    }
    let mut standby = Map::new();
    if let Some(h) = a.host.filter(|h| !h.is_empty()) {
        standby.insert("host".into(), json!(h));
    }
    if let Some(p) = a.port.filter(|p| *p != 0) {
        standby.insert("port".into(), json!(p));
    }
    if let Some(s) = a.primary_slot_name.filter(|s| !s.is_empty()) {
        standby.insert("primary_slot_name".into(), json!(s));
    }
    if let Some(r) = a.restore_command.filter(|r| !r.is_empty()) {
        standby.insert("restore_command".into(), json!(r));
    }
    change_cluster_role(ctx, a.force, Some(standby)).await
}
