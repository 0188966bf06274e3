//! The praetorctl commands that act on members: list, topology, restart, reinit, show-config,
//! history, remove, reload, dsn, query, version.

use std::io::IsTerminal as _;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use super::cli::*;
use super::context::*;
use super::render::*;

/// `praetorctl list`: the members grouped by Citus group, once or every `-w` seconds.
pub(super) async fn list(ctx: &Ctx, args: ListArgs) -> Result<()> {
    let ListArgs {
        extended,
        timestamp: ts,
        format,
        watch_default,
        watch,
        group,
        ..
    } = args;
    let every = watch.or(watch_default.then_some(2.0));
    loop {
        let groups = load_groups(ctx, group).await?;
        if every.is_some() {
            print!("\x1b[2J\x1b[H");
        }
        if ts || every.is_some() {
            println!("{}", chrono::Local::now().format("%Y-%m-%d %H:%M:%S"));
        }
        print!("{}", render_list(&ctx.scope, &groups, format, extended)?);
        match every {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s.max(0.1))).await,
            None => return Ok(()),
        }
    }
}

/// `praetorctl topology`.
pub(super) async fn topology(ctx: &Ctx, args: TopologyArgs) -> Result<()> {
    let TopologyArgs {
        watch_default,
        watch,
        group,
        ..
    } = args;
    let every = watch.or(watch_default.then_some(2.0));
    loop {
        let mut groups = load_groups(ctx, group).await?;
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
        if every.is_some() {
            print!("\x1b[2J\x1b[H");
        }
        let out = render_list(&ctx.scope, &groups, Format::Pretty, false)?;
        // Keep the tree order (render sorts nothing further).
        print!("{out}");
        match every {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s.max(0.1))).await,
            None => return Ok(()),
        }
    }
}

/// `praetorctl restart`.
pub(super) async fn restart(ctx: &Ctx, args: RestartArgs) -> Result<()> {
    let RestartArgs {
        members,
        role,
        pending,
        scheduled,
        pg_version,
        timeout,
        force,
        ..
    } = args;
    check_role(&role)?;
    let view = ctx.view().await?;
    let targets = pick_members(&view, &members, &role)?;
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
    let mut body = json!({});
    if pending {
        body["restart_pending"] = json!(true);
    }
    if let Some(s) = &schedule {
        body["schedule"] = json!(s);
    }
    if let Some(v) = &pg_version {
        body["postgres_version"] = json!(v);
    }
    if let Some(t) = &timeout {
        body["timeout"] = json!(t);
    }
    let mut failed = false;
    for m in targets {
        let pb = spinner(&format!("restarting {}", m.name));
        let r = ctx
            .request(
                reqwest::Method::POST,
                m,
                "/restart",
                Some(body.clone()),
                Duration::from_secs(300),
            )
            .await;
        pb.finish_and_clear();
        match r {
            Ok((200, _)) => println!("Success: restart on member {}", m.name),
            Ok((202, _)) => println!("Success: restart scheduled on member {}", m.name),
            Ok((code, text)) => {
                failed = true;
                println!(
                    "Failed: restart for member {}, status code={code}, ({text})",
                    m.name
                );
            }
            Err(e) => {
                failed = true;
                println!("Failed: restart for member {}: {e:#}", m.name);
            }
        }
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
        let pb = spinner(&format!("reinitializing {}", m.name));
        let r = ctx
            .request(
                reqwest::Method::POST,
                m,
                "/reinitialize",
                Some(json!({"force": true})),
                Duration::from_secs(3600),
            )
            .await;
        pb.finish_and_clear();
        match r {
            Ok((200, _)) => println!("Success: reinitialize for member {}", m.name),
            Ok((code, text)) => {
                failed = true;
                println!(
                    "Failed: reinitialize for member {}, status code={code}, ({text})",
                    m.name
                );
            }
            Err(e) => {
                failed = true;
                println!("Failed: reinitialize for member {}: {e:#}", m.name);
            }
        }
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
    let ReloadArgs {
        members,
        role,
        force,
        ..
    } = args;
    check_role(&role)?;
    let view = ctx.view().await?;
    let targets = pick_members(&view, &members, &role)?;
    print!("{}", ctx.table(view.clone()).await?);
    confirm_members("reload", &targets, force)?;
    let lw = view.config.as_ref().map(|c| c.loop_wait).unwrap_or(10);
    for m in targets {
        match ctx
            .request(
                reqwest::Method::POST,
                m,
                "/reload",
                None,
                Duration::from_secs(10),
            )
            .await
        {
            Ok((202, _)) | Ok((200, _)) => println!(
                "Reload request received for member {} and will be processed within {lw} seconds",
                m.name
            ),
            Ok((code, text)) => println!(
                "Failed: reload for member {}, status code={code}, ({text})",
                m.name
            ),
            Err(e) => println!("Failed: reload for member {}: {e:#}", m.name),
        }
    }
    Ok(())
}

/// `praetorctl dsn`.
pub(super) async fn dsn(ctx: &Ctx, args: DsnArgs) -> Result<()> {
    let DsnArgs { role, member, .. } = args;
    let view = ctx.view().await?;
    let m = pick_one(&view, role.as_deref(), member.as_deref())?;
    let (h, p) = m
        .host_port()
        .ok_or_else(|| anyhow!("member {} has no usable conn_url", m.name))?;
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
        role,
        member,
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
    let view = ctx.view().await?;
    let m = pick_one(&view, role.as_deref(), member.as_deref())?;
    let (h, p) = m
        .host_port()
        .ok_or_else(|| anyhow!("member {} has no usable conn_url", m.name))?;
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
    .with_context(|| format!("connecting to {}", m.name))?;
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
