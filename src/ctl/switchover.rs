//! `praetorctl switchover`, `failover`, `pause` and `resume`.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value};

use super::commands::json_object;
use super::context::*;
use crate::dcs::Member;

pub(super) async fn switchover(
    ctx: &Ctx,
    leader: Option<String>,
    candidate: Option<String>,
    scheduled: Option<String>,
    force: bool,
    is_switchover: bool,
) -> Result<()> {
    let view = ctx.view().await?;
    let current = view.leader.as_ref().map(|l| l.name.clone());
    let action = if is_switchover {
        "switchover"
    } else {
        "failover"
    };
    if is_switchover && current.is_none() {
        bail!("This cluster has no leader");
    }
    println!("Current cluster topology");
    print!("{}", ctx.table(view.clone()).await?);
    let leader = match leader {
        Some(l) => Some(l),
        None if is_switchover && !force => Some(ask("Primary", current.as_deref())?),
        None => current.clone(),
    };
    if is_switchover && leader != current {
        bail!(
            "Member {} is not the leader of cluster {}",
            leader.unwrap_or_default(),
            ctx.scope
        );
    }
    let others: Vec<String> = view
        .members
        .iter()
        .filter(|m| Some(&m.name) != current.as_ref())
        .map(|m| m.name.clone())
        .collect();
    let candidate = match candidate {
        Some(c) => Some(c),
        None if !is_switchover && force => {
            bail!("Failover could be performed only to a specific candidate")
        }
        None if !force => {
            let listed = others
                .iter()
                .map(|o| format!("'{o}'"))
                .collect::<Vec<_>>()
                .join(", ");
            let c = ask(&format!("Candidate [{listed}]"), Some(""))?;
            (!c.is_empty()).then_some(c)
        }
        None => None,
    };
    if !is_switchover && candidate.is_none() {
        bail!("Failover could be performed only to a specific candidate");
    }
    if let Some(c) = &candidate {
        if !others.contains(c) {
            bail!(
                "{c} is not a member of cluster {} or is its leader",
                ctx.scope
            );
        }
    }
    let scheduled = match scheduled {
        Some(s) => schedule_arg(Some(&s))?,
        None if is_switchover && !force => {
            let s = ask(
                &format!(
                    "When should the switchover take place (e.g. {} ) ",
                    chrono::Local::now().format("%Y-%m-%dT%H:%M")
                ),
                Some("now"),
            )?;
            schedule_arg(Some(&s))?
        }
        None => None,
    };
    if !force {
        let q = match (&current, is_switchover) {
            (Some(l), true) => format!(
                "Are you sure you want to switchover cluster {}, demoting current leader {l}?",
                ctx.scope
            ),
            (Some(l), false) => format!(
                "Are you sure you want to failover cluster {}, demoting current leader {l}?",
                ctx.scope
            ),
            (None, _) => format!("Are you sure you want to failover cluster {}?", ctx.scope),
        };
        if !confirm(&q)? {
            bail!("Aborting {action}");
        }
    }
    let body = json_object([
        ("leader", is_switchover.then(|| json!(leader))),
        ("candidate", candidate.as_ref().map(|c| json!(c))),
        ("scheduled_at", scheduled.as_ref().map(|s| json!(s))),
    ]);
    let target = view
        .leader_member()
        .or_else(|| candidate.as_ref().and_then(|c| view.member(c)));
    let path = if is_switchover {
        "/switchover"
    } else {
        "/failover"
    };
    let pb = spinner(&format!("waiting for the {action}"));
    let r = match target {
        Some(m) => {
            ctx.request(
                reqwest::Method::POST,
                m,
                path,
                Some(body.clone()),
                Duration::from_secs(120),
            )
            .await
        }
        None => Err(anyhow!("no member to call")),
    };
    pb.finish_and_clear();
    match r {
        Ok((code, text)) if code == 200 || code == 202 => println!("{} {text}", timestamp()),
        Ok((code, text)) => bail!("{action} failed, status code={code}, ({text})"),
        Err(e) => {
            eprintln!("Could not {action} using Patroni api ({e:#}), falling back to DCS");
            let value = json!({"leader": if is_switchover { leader } else { None }, "member": candidate, "scheduled_at": scheduled});
            ctx.dcs
                .put_absolute(&format!("{}failover", ctx.prefix()), &value.to_string())
                .await?;
            println!("{} {action} request written to DCS", timestamp());
        }
    }
    if scheduled.is_none() {
        tokio::time::sleep(Duration::from_millis(500)).await;
        print!("{}", ctx.table(ctx.view().await?).await?);
    }
    Ok(())
}

pub(super) async fn set_pause(ctx: &Ctx, pause: bool, wait: bool) -> Result<()> {
    let view = ctx.view().await?;
    let paused = view.config.as_ref().is_some_and(|c| c.pause);
    if pause && paused {
        bail!("Cluster is already paused");
    }
    if !pause && !paused {
        bail!("Cluster is not paused");
    }
    let body = json!({"pause": if pause { json!(true) } else { Value::Null }});
    let mut done = false;
    let mut members: Vec<&Member> = view.leader_member().into_iter().collect();
    members.extend(
        view.members
            .iter()
            .filter(|m| Some(m.name.as_str()) != view.leader.as_ref().map(|l| l.name.as_str())),
    );
    for m in members {
        if let Ok((200, _)) = ctx
            .request(
                reqwest::Method::PATCH,
                m,
                "/config",
                Some(body.clone()),
                Duration::from_secs(10),
            )
            .await
        {
            done = true;
            break;
        }
    }
    if !done {
        bail!(
            "Failed to {} cluster management: no member accepted the change",
            if pause { "pause" } else { "resume" }
        );
    }
    if wait {
        println!(
            "Waiting for {} to be {}",
            ctx.scope,
            if pause { "paused" } else { "resumed" }
        );
        for _ in 0..600 {
            let v = ctx.view().await?;
            if v.members
                .iter()
                .all(|m| m.data.pause.unwrap_or(false) == pause)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    println!(
        "Success: cluster management is {}",
        if pause { "paused" } else { "resumed" }
    );
    Ok(())
}
