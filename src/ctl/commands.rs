//! The praetorctl commands that act on members: list, topology, restart, reinit, show-config,
//! history, remove, reload, dsn, query, version.

use std::io::IsTerminal as _;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use super::cli::*;
use super::context::*;
use super::render::*;
use crate::dcs::{ClusterView, Member};

/// How long `restart` waits for each member's answer.
const RESTART_WAIT: Duration = Duration::from_secs(300);
/// How long `reinit` waits for each member's answer.
const REINIT_WAIT: Duration = Duration::from_secs(3600);

/// `praetorctl list`: the members grouped by Citus group, once or every `-w` seconds.
pub(super) async fn list(ctx: &Ctx, args: ListArgs) -> Result<()> {
    let ListArgs {
        extended,
        timestamp: ts,
        format,
        watch,
        group,
        ..
    } = args;
    let every = watch.every();
    redraw(ctx, group, every, |groups| {
        if ts || every.is_some() {
            println!("{}", chrono::Local::now().format("%Y-%m-%d %H:%M:%S"));
        }
        print!("{}", render_list(&ctx.scope, &groups, format, extended)?);
        Ok(())
    })
    .await
}

/// `praetorctl topology`.
pub(super) async fn topology(ctx: &Ctx, args: TopologyArgs) -> Result<()> {
    redraw(ctx, args.group, args.watch.every(), |mut groups| {
        for (_, v) in &mut groups {
            let leader = v.leader.as_ref().map(|l| l.name.clone());
            v.members
                .sort_by_key(|m| (Some(&m.name) != leader.as_ref(), m.name.clone()));
            for m in v
                .members
                .iter_mut()
                .filter(|m| Some(&m.name) != leader.as_ref())
            {
                m.name = format!("+ {}", m.name);
            }
        }
        let out = render_list(&ctx.scope, &groups, Format::Pretty, false)?;
        // Keep the tree order (render sorts nothing further).
        print!("{out}");
        Ok(())
    })
    .await
}

/// Loads the members (of `group`, else of every group) and hands them to `show`: once, or every
/// `every` seconds on a cleared screen.
async fn redraw(
    ctx: &Ctx,
    group: Option<u32>,
    every: Option<f64>,
    mut show: impl FnMut(Vec<(Option<u32>, ClusterView)>) -> Result<()>,
) -> Result<()> {
    loop {
        let groups = load_groups(ctx, group).await?;
        if every.is_some() {
            print!("\x1b[2J\x1b[H");
        }
        show(groups)?;
        match every {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s.max(0.1))).await,
            None => return Ok(()),
        }
    }
}

/// A JSON object of the fields that have a value (a `None` leaves its field out).
pub(super) fn json_object<const N: usize>(fields: [(&str, Option<Value>); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect(),
    )
}

/// POSTs `body` to `path` on member `m`, showing a spinner that says `busy` while it waits.
async fn post_spinning(
    ctx: &Ctx,
    m: &Member,
    busy: &str,
    path: &str,
    body: Value,
    timeout: Duration,
) -> Result<(u16, String)> {
    let pb = spinner(busy);
    let r = ctx
        .request(reqwest::Method::POST, m, path, Some(body), timeout)
        .await;
    pb.finish_and_clear();
    r
}

/// Prints patronictl's line for member `m`'s answer `r` to `action`: the line `accepted` gives
/// for the status code, else `Failed: <action> for member …`. True where `accepted` gave one.
fn report(
    action: &str,
    m: &Member,
    r: Result<(u16, String)>,
    accepted: impl FnOnce(u16) -> Option<String>,
) -> bool {
    match r {
        Ok((code, text)) => match accepted(code) {
            Some(line) => {
                println!("{line}");
                true
            }
            None => {
                println!(
                    "Failed: {action} for member {}, status code={code}, ({text})",
                    m.name
                );
                false
            }
        },
        Err(e) => {
            println!("Failed: {action} for member {}: {e:#}", m.name);
            false
        }
    }
}

/// The member `-r` / `-m` pick (the leader by default): its name, host and port.
async fn pick_address(ctx: &Ctx, pick: &PickArgs) -> Result<(String, String, u16)> {
    let view = ctx.view().await?;
    let m = pick_one(&view, pick.role.as_deref(), pick.member.as_deref())?;
    let (h, p) = m
        .host_port()
        .ok_or_else(|| anyhow!("member {} has no usable conn_url", m.name))?;
    Ok((m.name.clone(), h, p))
}

/// `praetorctl restart`.
pub(super) async fn restart(ctx: &Ctx, args: RestartArgs) -> Result<()> {
    let RestartArgs {
        filter,
        pending,
        scheduled,
        pg_version,
        timeout,
        force,
        ..
    } = args;
    check_role(&filter.role)?;
    let view = ctx.view().await?;
    let targets = pick_members(&view, &filter.members, &filter.role)?;
    if targets.is_empty() {
        bail!("no member of {} matches", ctx.scope);
    }
    let mut schedule = schedule_arg(scheduled.as_deref())?;
    if schedule.is_none() && scheduled.is_none() && !force {
        let s = ask(
            "When should the restart take place (e.g. 2030-01-01T10:00+00:00)",
            Some("now"),
        )?;
        schedule = schedule_arg(Some(&s))?;
    }
    if let Some(v) = &pg_version {
        if crate::types::parse_pg_version(v).is_none() {
            bail!("--pg-version: expected a version like 15.6, got {v:?}");
        }
    }
    print!("{}", ctx.table(view.clone()).await?);
    confirm_members("restart", &targets, force)?;
    let body = json_object([
        ("restart_pending", pending.then(|| json!(true))),
        ("schedule", schedule.as_ref().map(|s| json!(s))),
        ("postgres_version", pg_version.as_ref().map(|v| json!(v))),
        ("timeout", timeout.as_ref().map(|t| json!(t))),
    ]);
    let mut failed = false;
    for m in targets {
        let busy = format!("restarting {}", m.name);
        let r = post_spinning(ctx, m, &busy, "/restart", body.clone(), RESTART_WAIT).await;
        failed |= !report("restart", m, r, |code| match code {
            200 => Some(format!("Success: restart on member {}", m.name)),
            202 => Some(format!("Success: restart scheduled on member {}", m.name)),
            _ => None,
        });
    }
    if schedule.is_none() {
        print!("{}", ctx.table(ctx.view().await?).await?);
    }
    if failed {
        bail!("restart failed on some members");
    }
    Ok(())
}

/// `praetorctl reinit`.
pub(super) async fn reinit(ctx: &Ctx, args: ReinitArgs) -> Result<()> {
    let ReinitArgs {
        members,
        force,
        wait,
        ..
    } = args;
    let view = ctx.view().await?;
    if members.is_empty() {
        bail!("name the members to reinitialize");
    }
    let targets = pick_members(&view, &members, "any")?;
    print!("{}", ctx.table(view.clone()).await?);
    let mut failed = false;
    for m in targets {
        if !force
            && !confirm(&format!(
                "Are you sure you want to reinitialize members {}?",
                m.name
            ))?
        {
            continue;
        }
        let busy = format!("reinitializing {}", m.name);
        let body = json!({"force": true});
        let r = post_spinning(ctx, m, &busy, "/reinitialize", body, REINIT_WAIT).await;
        failed |= !report("reinitialize", m, r, |code| {
            (code == 200).then(|| format!("Success: reinitialize for member {}", m.name))
        });
        if wait {
            let name = m.name.clone();
            for _ in 0..600 {
                let v = ctx.view().await?;
                if v.member(&name).is_some_and(|x| x.is_running()) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            println!("Reinitialize of {name} finished");
        }
    }
    if failed {
        bail!("reinitialize failed on some members");
    }
    Ok(())
}

/// `praetorctl show-config`.
pub(super) async fn show_config(ctx: &Ctx, _args: ShowConfigArgs) -> Result<()> {
    let view = ctx.view().await?;
    let cfg = view
        .config_raw
        .ok_or_else(|| anyhow!("no configuration in DCS for {}", ctx.scope))?;
    print!("{}", config_yaml(&cfg));
    Ok(())
}

/// `praetorctl history`.
pub(super) async fn history(ctx: &Ctx, args: HistoryArgs) -> Result<()> {
    let HistoryArgs { format, .. } = args;
    let view = ctx.view().await?;
    print!("{}", render_history(&view, format)?);
    Ok(())
}

/// `praetorctl remove`.
pub(super) async fn remove(ctx: &Ctx, args: RemoveArgs) -> Result<()> {
    let RemoveArgs { format, .. } = args;
    if ctx.group.is_none() {
        let scope_prefix = format!("{}{}/", ctx.namespace, ctx.scope);
        if ctx.citus_config || !ctx.dcs.load_groups(&scope_prefix).await?.is_empty() {
            bail!("For Citus clusters the --group must be specified");
        }
    }
    let view = ctx.view().await?;
    print!(
        "{}",
        render_list(&ctx.scope, &[(ctx.group, view.clone())], format, false)?
    );
    let name = ask("Please confirm the cluster name to remove", None)?;
    if name != ctx.scope {
        bail!("Cluster names specified do not match");
    }
    let yes = ask(
        "You are about to remove all information in DCS for {}, please type: \"Yes I am aware\""
            .replace("{}", &ctx.scope)
            .as_str(),
        None,
    )?;
    if yes != "Yes I am aware" {
        bail!("You did not exactly type \"Yes I am aware\"");
    }
    if let Some(l) = view.leader_member().filter(|m| m.is_running()) {
        let given = ask(
            "This cluster currently is healthy. Please specify the leader name to continue",
            None,
        )?;
        if given != l.name {
            bail!("You did not specify the current leader of the cluster");
        }
    }
    for k in ctx.dcs.list_keys(&ctx.prefix()).await? {
        ctx.dcs.delete_absolute(&k).await?;
    }
    Ok(())
}

/// `praetorctl reload`.
pub(super) async fn reload(ctx: &Ctx, args: ReloadArgs) -> Result<()> {
    let ReloadArgs { filter, force, .. } = args;
    check_role(&filter.role)?;
    let view = ctx.view().await?;
    let targets = pick_members(&view, &filter.members, &filter.role)?;
    print!("{}", ctx.table(view.clone()).await?);
    confirm_members("reload", &targets, force)?;
    let lw = view.config.as_ref().map(|c| c.loop_wait).unwrap_or(10);
    for m in targets {
        let r = ctx
            .request(
                reqwest::Method::POST,
                m,
                "/reload",
                None,
                Duration::from_secs(10),
            )
            .await;
        report("reload", m, r, |code| {
            matches!(code, 200 | 202).then(|| {
                format!(
                    "Reload request received for member {} and will be processed within {lw} seconds",
                    m.name
                )
            })
        });
    }
    Ok(())
}

/// `praetorctl dsn`.
pub(super) async fn dsn(ctx: &Ctx, args: DsnArgs) -> Result<()> {
    let (_, h, p) = pick_address(ctx, &args.pick).await?;
    println!("host={h} port={p}");
    Ok(())
}

/// `praetorctl query`.
pub(super) async fn query(ctx: &Ctx, args: QueryArgs) -> Result<()> {
    let QueryArgs {
        command,
        file,
        dbname,
        username,
        password,
        pick,
        delimiter,
        ..
    } = args;
    let sql = match (command, file) {
        (Some(c), None) => c,
        (None, Some(f)) => {
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?
        }
        _ => bail!("give exactly one of --command and --file"),
    };
    let (name, h, p) = pick_address(ctx, &pick).await?;
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(&h)
        .port(p)
        .dbname(&dbname)
        .connect_timeout(Duration::from_secs(5));
    cfg.user(
        username
            .as_deref()
            .or(ctx.superuser.username.as_deref())
            .unwrap_or("postgres"),
    );
    if password {
        let pw = if std::io::stdin().is_terminal() {
            dialoguer::Password::new()
                .with_prompt("Password")
                .interact()?
        } else {
            ask("Password", None)?
        };
        cfg.password(pw);
    } else if let Ok(pw) = std::env::var("PGPASSWORD") {
        cfg.password(pw);
    } else if let Some(pw) = &ctx.superuser.password {
        cfg.password(pw);
    }
    let client = crate::tls::pg_connect(
        &mut cfg,
        &ctx.superuser,
        "postgresql.authentication.superuser",
    )
    .await
    .with_context(|| format!("connecting to {name}"))?;
    for msg in client.simple_query(&sql).await? {
        match msg {
            tokio_postgres::SimpleQueryMessage::RowDescription(cols) => {
                println!(
                    "{}",
                    cols.iter()
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(&delimiter)
                );
            }
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                let cells: Vec<String> = (0..r.len())
                    .map(|i| r.get(i).unwrap_or("").to_string())
                    .collect();
                println!("{}", cells.join(&delimiter));
            }
            _ => {}
        }
    }
    Ok(())
}

/// `praetorctl version`.
pub(super) async fn version(ctx: &Ctx, args: VersionArgs) -> Result<()> {
    let VersionArgs { members, .. } = args;
    println!("praetorctl version {}", env!("CARGO_PKG_VERSION"));
    let view = ctx.view().await?;
    for m in pick_members(&view, &members, "any")? {
        match ctx
            .request(
                reqwest::Method::GET,
                m,
                "/patroni",
                None,
                Duration::from_secs(3),
            )
            .await
        {
            Ok((200, body)) => {
                let v: Value = serde_json::from_str(&body).unwrap_or_default();
                let pv = v["server_version"].as_i64().unwrap_or(0);
                let agent = match v["praetor"]["version"].as_str() {
                    Some(p) => format!("praetor {p}"),
                    None => format!(
                        "Patroni {}",
                        v["patroni"]["version"].as_str().unwrap_or("?")
                    ),
                };
                println!(
                    "{}: {agent} PostgreSQL {}.{}",
                    m.name,
                    pv / 10000,
                    pv % 10000
                );
            }
            _ => println!("{}: failed to get version", m.name),
        }
    }
    Ok(())
}
