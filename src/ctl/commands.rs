//! The praetorctl commands that read the cluster or act on members: list, topology, restart,
//! reinit, reload, flush, show-config, history, remove, dsn, query, version. Each follows
//! patronictl 4.1's command of the same name (its prompts, messages and exit codes).

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Map, Value};

use super::cli::*;
use super::context::*;
use super::render::*;
use crate::dcs::{Member, MemberData};

/// How long `restart` waits for each member's answer.
const RESTART_WAIT: Duration = Duration::from_secs(300);
/// How long `reinit` waits for each member's answer.
const REINIT_WAIT: Duration = Duration::from_secs(3600);
/// How long the other REST calls wait.
const CALL_WAIT: Duration = Duration::from_secs(30);

/// A log line as patronictl's logging prints a warning (on stderr; `LOGLEVEL=ERROR` hides it).
pub(super) fn warn(msg: &str) {
    let level = ["LOGLEVEL", "PATRONI_LOGLEVEL", "PATRONI_LOG_LEVEL"]
        .iter()
        .rev()
        .find_map(|k| std::env::var(k).ok())
        .unwrap_or_default()
        .to_uppercase();
    if matches!(level.as_str(), "ERROR" | "CRITICAL" | "FATAL") {
        return;
    }
    eprintln!(
        "{} - WARNING - {msg}",
        chrono::Local::now().format("%Y-%m-%d %H:%M:%S,%3f")
    );
}

/// A member-key field praetor's typed view keeps in `other` (`pending_restart`, …), when truthy.
fn published(data: &MemberData, key: &str) -> bool {
    data.other.get(key).is_some_and(|v| Doc::from(v).truthy())
}

/// `list` and `topology`: each named cluster (default: the configured scope), once or every
/// `-w` seconds on a cleared screen.
async fn show_members(
    ctx: &Ctx,
    clusters: Vec<String>,
    style: Style,
    extended: bool,
    ts: bool,
    every: Option<f64>,
) -> Result<()> {
    let clusters = if clusters.is_empty() {
        if ctx.scope.is_empty() {
            warn("Listing members: No cluster names were provided");
            return Ok(());
        }
        vec![ctx.scope.clone()]
    } else {
        clusters
    };
    watching(every, true, async || {
        if ts {
            println!("{}", timestamp(0));
        }
        for name in &clusters {
            let pool = ctx.pool_of(name, ctx.group).await?;
            print!("{}", pool.table(style, extended));
        }
        Ok(())
    })
    .await
}

/// `praetorctl list`.
pub(super) async fn list(ctx: &Ctx, args: ListArgs) -> Result<()> {
    let every = args.watch.every();
    show_members(
        ctx,
        args.clusters,
        args.format.into(),
        args.extended,
        args.timestamp,
        every,
    )
    .await
}

/// `praetorctl topology`: `list` as a replication tree.
pub(super) async fn topology(ctx: &Ctx, args: TopologyArgs) -> Result<()> {
    let every = args.watch.every();
    show_members(ctx, args.clusters, Style::Topology, false, false, every).await
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

/// `praetorctl restart`.
pub(super) async fn restart(ctx: &Ctx, args: RestartArgs) -> Result<()> {
    let RestartArgs {
        members: names,
        role,
        any,
        scheduled,
        pg_version,
        pending,
        timeout,
        force,
        ..
    } = args;
    let pool = ctx.pool().await?;
    let mut members = get_members(
        &pool,
        &names,
        role,
        &role_repr(role),
        force,
        "restart",
        false,
    )?;
    let scheduled = match scheduled {
        None if !force => {
            let next_hour =
                (chrono::Local::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M");
            Some(prompt(
                &format!("When should the restart take place (e.g. {next_hour}) "),
                Some("now"),
            )?)
        }
        s => s,
    };
    let scheduled_at = parse_scheduled(scheduled.as_deref(), &chrono::Local)?;
    let mut body = Map::new();
    if pending {
        body.insert("restart_pending".into(), json!(true));
        // A scheduled restart picks the members that need it when it runs.
        if scheduled_at.is_none() {
            members.retain(|m| published(&m.data, "pending_restart"));
        }
    }
    if any {
        use rand::seq::SliceRandom;
        members.shuffle(&mut rand::thread_rng());
        members.truncate(1);
    }
    confirm_members(
        &members,
        force,
        "restart",
        scheduled_at.map(|d| d.isoformat(' ')).as_deref(),
        pending,
    )?;
    let pg_version = match pg_version {
        None if !force => Some(prompt(
            "Restart if the PostgreSQL version is less than provided (e.g. 9.5.2) ",
            Some(""),
        )?),
        v => v,
    };
    if let Some(v) = pg_version.filter(|v| !v.is_empty()) {
        check_pg_version(&v)?;
        body.insert("postgres_version".into(), json!(v));
    }
    if let Some(at) = &scheduled_at {
        if GlobalConfig::of(pool.main()).is_paused() {
            bail!("Can't schedule restart in the paused state");
        }
        body.insert("schedule".into(), json!(at.isoformat('T')));
    }
    if let Some(t) = timeout {
        body.insert("timeout".into(), json!(t));
    }
    let body = Value::Object(body);
    for m in members {
        if body.get("schedule").is_some() && force && published(&m.data, "scheduled_restart") {
            let (code, text) = ctx
                .request(reqwest::Method::DELETE, m, "/restart", None, CALL_WAIT)
                .await?;
            check_response(code, &text, &m.name, "flush scheduled restart", true);
        }
        let busy = format!("restarting {}", m.name);
        let (code, text) =
            post_spinning(ctx, m, &busy, "/restart", body.clone(), RESTART_WAIT).await?;
        match code {
            200 => println!("Success: restart on member {}", m.name),
            202 => println!("Success: restart scheduled on member {}", m.name),
            409 => println!(
                "Failed: another restart is already scheduled on member {}",
                m.name
            ),
            _ => println!(
                "Failed: restart for member {}, status code={code}, ({text})",
                m.name
            ),
        }
    }
    Ok(())
}

/// `praetorctl reinit`.
pub(super) async fn reinit(ctx: &Ctx, args: ReinitArgs) -> Result<()> {
    let ReinitArgs {
        members: names,
        force,
        from_leader,
        wait,
        ..
    } = args;
    let pool = ctx.pool().await?;
    let members = get_members(
        &pool,
        &names,
        Role::Replica,
        "replica",
        force,
        "reinitialize",
        true,
    )?;
    let mut waiting: Vec<&Member> = Vec::new();
    for m in members {
        let mut body = json!({"force": force, "from_leader": from_leader});
        let started = loop {
            let busy = format!("reinitializing {}", m.name);
            let (code, text) =
                post_spinning(ctx, m, &busy, "/reinitialize", body.clone(), REINIT_WAIT).await?;
            let started = check_response(code, &text, &m.name, "reinitialize", false);
            if !started
                && text.ends_with(" already in progress")
                && !force
                && confirm("Do you want to cancel it and reinitialize anyway?")?
            {
                body["force"] = json!(true);
                continue;
            }
            break started;
        };
        if started && wait {
            waiting.push(m);
        }
    }
    let mut shown: Vec<String> = Vec::new();
    while !waiting.is_empty() {
        let names: Vec<String> = waiting.iter().map(|m| m.name.clone()).collect();
        if names != shown {
            println!(
                "Waiting for reinitialize to complete on: {}",
                names.join(", ")
            );
            shown = names;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut still = Vec::new();
        for m in waiting {
            let (_, text) = ctx
                .request(reqwest::Method::GET, m, "/patroni", None, CALL_WAIT)
                .await?;
            let state: Value = serde_json::from_str(&text).unwrap_or_default();
            if state["state"].as_str() != Some("creating replica") {
                println!("Reinitialize is completed on: {}", m.name);
            } else {
                still.push(m);
            }
        }
        waiting = still;
    }
    Ok(())
}

/// `praetorctl reload`.
pub(super) async fn reload(ctx: &Ctx, args: ReloadArgs) -> Result<()> {
    let ReloadArgs {
        members: names,
        role,
        force,
        ..
    } = args;
    let pool = ctx.pool().await?;
    let members = get_members(&pool, &names, role, &role_repr(role), force, "reload", true)?;
    let loop_wait = GlobalConfig::of(pool.main()).loop_wait();
    for m in members {
        let (code, text) = ctx
            .request(reqwest::Method::POST, m, "/reload", None, CALL_WAIT)
            .await?;
        match code {
            200 => println!("No changes to apply on member {}", m.name),
            202 => println!(
                "Reload request received for member {} and will be processed within {loop_wait} seconds",
                m.name
            ),
            _ => println!(
                "Failed: reload for member {}, status code={code}, ({text})",
                m.name
            ),
        }
    }
    Ok(())
}

/// `praetorctl flush`: discards scheduled restarts (`DELETE /restart` on each member that has
/// one) or the scheduled switchover (`DELETE /switchover` on the first member that answers, the
/// leader first; when none does, the `failover` key is cleared in etcd).
pub(super) async fn flush(ctx: &Ctx, args: FlushArgs) -> Result<()> {
    let target = args.target().map_err(|e| anyhow!(e))?;
    let pool = ctx.pool().await?;
    match target {
        FlushTarget::Restart => {
            let members = get_members(
                &pool,
                args.members(),
                args.role,
                &role_repr(args.role),
                args.force,
                "flush",
                true,
            )?;
            for m in members {
                if published(&m.data, "scheduled_restart") {
                    let (code, text) = ctx
                        .request(reqwest::Method::DELETE, m, "/restart", None, CALL_WAIT)
                        .await?;
                    check_response(code, &text, &m.name, "flush scheduled restart", false);
                } else {
                    println!("No scheduled restart for member {}", m.name);
                }
            }
        }
        FlushTarget::Switchover => {
            let view = pool.main();
            if !view
                .failover
                .as_ref()
                .is_some_and(|f| f.scheduled_at.as_deref().is_some_and(|s| !s.is_empty()))
            {
                println!("No pending scheduled switchover");
                return Ok(());
            }
            for m in leader_first(view) {
                match ctx
                    .request(reqwest::Method::DELETE, m, "/switchover", None, CALL_WAIT)
                    .await
                {
                    Ok((code @ (200 | 404), text)) => {
                        let prefix = if code == 200 { "Success" } else { "Failed" };
                        println!("{prefix}: {text}");
                        return Ok(());
                    }
                    Ok((code, text)) => {
                        println!("Failed: member={}, status_code={code}, ({text})", m.name)
                    }
                    Err(e) => {
                        warn(&format!("{e:#}"));
                        warn(&format!("Member {} is not accessible", m.name));
                    }
                }
            }
            warn("Failing over to DCS");
            println!(
                "{} Could not find any accessible member of cluster {}",
                timestamp(6),
                pool.scope
            );
            let key = format!("{}failover", ctx.main_prefix(&pool));
            ctx.dcs
                .put_absolute_if_revision(&key, "{}", view.failover_revision)
                .await?;
        }
    }
    Ok(())
}

/// `praetorctl show-config`: the dynamic configuration as YAML (nothing when there is none).
pub(super) async fn show_config(ctx: &Ctx, _args: ShowConfigArgs) -> Result<()> {
    let pool = ctx.pool().await?;
    if let Some(cfg) = &pool.main().config_raw {
        println!("{}", config_yaml(cfg));
    }
    Ok(())
}

/// `praetorctl history`.
pub(super) async fn history(ctx: &Ctx, args: HistoryArgs) -> Result<()> {
    let pool = ctx.pool().await?;
    print!("{}", render_history(pool.main(), args.format)?);
    Ok(())
}

/// `praetorctl remove`: after three answers (the cluster name, `Yes I am aware`, and the leader's
/// name when there is one), deletes every key of the cluster (of the group, in a Citus cluster).
pub(super) async fn remove(ctx: &Ctx, args: RemoveArgs) -> Result<()> {
    let pool = ctx.pool().await?;
    if pool.citus && pool.group.is_none() {
        bail!("For Citus clusters the --group must be specified");
    }
    // patronictl shows this table without the group in its title.
    print!(
        "{}",
        render_members(&ListSpec {
            name: &pool.scope,
            citus: pool.citus,
            group: None,
            groups: &pool.groups,
            style: args.format.into(),
            extended: false,
            databases: &pool.databases,
        })
    );
    let scope = &pool.scope;
    if &prompt("Please confirm the cluster name to remove", None)? != scope {
        bail!("Cluster names specified do not match");
    }
    let aware = "Yes I am aware";
    let typed = prompt(
        &format!(
            "You are about to remove all information in DCS for {scope}, please type: \"{aware}\""
        ),
        None,
    )?;
    if typed != aware {
        bail!("You did not exactly type \"{aware}\"");
    }
    if let Some(l) = pool.main().leader.as_ref().filter(|l| !l.name.is_empty()) {
        let given = prompt(
            "This cluster currently is healthy. Please specify the leader name to continue",
            None,
        )?;
        if given != l.name {
            bail!("You did not specify the current leader of the cluster");
        }
    }
    for k in ctx.dcs.list_keys(&ctx.main_prefix(&pool)).await? {
        ctx.dcs.delete_absolute(&k).await?;
    }
    Ok(())
}

/// `praetorctl dsn`: `host=… port=…` of the leader, or of the member `-r`/`-m` pick.
pub(super) async fn dsn(ctx: &Ctx, args: DsnArgs) -> Result<()> {
    let pool = ctx.pool().await?;
    let m = pool
        .any_member(args.role, args.member.as_deref())?
        .ok_or_else(|| anyhow!("Can not find a suitable member"))?;
    let (host, port) = member_address(m);
    let (Some(h), Some(p)) = (host, port) else {
        bail!("Can not find a suitable member");
    };
    println!("host={h} port={p}");
    Ok(())
}

/// A query's outcome as patronictl prints it: the columns and rows of the last statement, or one
/// row `[timestamp, message]` without columns when there is no connection or an error.
type QueryOutput = (Option<Vec<String>>, Vec<Vec<Doc>>);

fn query_failure(message: String) -> QueryOutput {
    (None, vec![vec![Doc::Str(timestamp(0)), Doc::Str(message)]])
}

/// Runs `sql` on the member `-r`/`-m` pick (patronictl's `query_member`).
async fn query_member(
    ctx: &Ctx,
    pool: &Pool,
    args: &QueryArgs,
    password: Option<&str>,
    sql: &str,
) -> Result<QueryOutput> {
    let Some(m) = pool.any_member(args.role, args.member.as_deref())? else {
        return Ok(query_failure(no_connection(args)));
    };
    let (Some(host), Some(port)) = member_address(m) else {
        return Ok(query_failure(no_connection(args)));
    };
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(&host)
        .port(port)
        .connect_timeout(Duration::from_secs(5));
    if std::env::var_os("PGAPPNAME").is_none() {
        cfg.application_name("Patroni ctl");
    }
    // libpq's defaults, and the configuration's superuser (a praetor addition) before the OS user.
    let user = args
        .username
        .clone()
        .or_else(|| std::env::var("PGUSER").ok())
        .or_else(|| ctx.superuser.username.clone())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "postgres".into());
    cfg.user(&user);
    if let Some(db) = args
        .dbname
        .as_deref()
        .or(std::env::var("PGDATABASE").ok().as_deref())
    {
        cfg.dbname(db);
    }
    if let Some(pw) = password {
        cfg.password(pw);
    } else if let Ok(pw) = std::env::var("PGPASSWORD") {
        cfg.password(pw);
    } else if let Some(pw) = ctx
        .superuser
        .password
        .as_ref()
        .filter(|_| ctx.superuser.username.as_deref().unwrap_or("postgres") == user)
    {
        cfg.password(pw);
    }
    let db_error = |e: &dyn std::fmt::Display, code: Option<&str>| {
        let msg = code
            .map_or_else(|| e.to_string(), String::from)
            .replace('\n', " ");
        query_failure(format!("ERROR, SQLSTATE: {msg}"))
    };
    let client = match crate::tls::pg_connect(
        &mut cfg,
        &ctx.superuser,
        "postgresql.authentication.superuser",
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            let code = e
                .downcast_ref::<tokio_postgres::Error>()
                .and_then(|p| p.code())
                .map(|c| c.code().to_string());
            return Ok(db_error(&format!("{e:#}"), code.as_deref()));
        }
    };
    // Other roles than leader and any are checked against the server itself.
    let wanted = args.role.filter(|r| !matches!(r, Role::Any | Role::Leader));
    if let Some(role) = wanted {
        let in_recovery = match client
            .query_opt("SELECT pg_catalog.pg_is_in_recovery()", &[])
            .await
        {
            Ok(row) => row.is_none_or(|r| r.get::<_, bool>(0)),
            Err(e) => {
                let code = e.code().map(|c| c.code().to_string());
                return Ok(db_error(&e, code.as_deref()));
            }
        };
        let fits = match role {
            Role::Replica | Role::Standby | Role::StandbyLeader => in_recovery,
            _ => !in_recovery,
        };
        if !fits {
            return Ok(query_failure(no_connection(args)));
        }
    }
    match client.simple_query(sql).await {
        Ok(messages) => {
            // patronictl shows the result of the last statement.
            let mut last: QueryOutput = (None, Vec::new());
            let mut current: Option<QueryOutput> = None;
            for msg in messages {
                match msg {
                    tokio_postgres::SimpleQueryMessage::RowDescription(cols) => {
                        current = Some((
                            Some(cols.iter().map(|c| c.name().to_string()).collect()),
                            Vec::new(),
                        ));
                    }
                    tokio_postgres::SimpleQueryMessage::Row(r) => {
                        if let Some((_, rows)) = current.as_mut() {
                            rows.push(
                                (0..r.len())
                                    .map(|i| r.get(i).map_or(Doc::Null, Doc::str))
                                    .collect(),
                            );
                        }
                    }
                    tokio_postgres::SimpleQueryMessage::CommandComplete(_) => {
                        last = current.take().unwrap_or((None, Vec::new()));
                    }
                    _ => {}
                }
            }
            Ok(last)
        }
        Err(e) => {
            let code = e.code().map(|c| c.code().to_string());
            Ok(db_error(&e, code.as_deref()))
        }
    }
}

fn no_connection(args: &QueryArgs) -> String {
    match (&args.member, args.role) {
        (Some(m), _) => format!("No connection to member {m} is available"),
        (None, Some(r)) => format!("No connection to role {} is available", role_repr(r)),
        _ => "No connection is available".into(),
    }
}

/// `praetorctl query`.
pub(super) async fn query(ctx: &Ctx, args: QueryArgs) -> Result<()> {
    let sql = match (&args.file, &args.command) {
        (Some(_), Some(_)) => bail!("--file and --command are mutually exclusive options"),
        (Some(f), None) => {
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?
        }
        (None, Some(c)) => c.clone(),
        (None, None) => bail!("You need to specify either --command or --file"),
    };
    let password = if args.password {
        Some(password()?)
    } else {
        None
    };
    let pool = ctx.pool().await?;
    watching(args.watch.every(), false, async || {
        let (columns, rows) = query_member(ctx, &pool, &args, password.as_deref(), &sql).await?;
        let cols: Option<Vec<&str>> = columns
            .as_ref()
            .map(|c| c.iter().map(String::as_str).collect());
        print!(
            "{}",
            print_output(
                cols.as_deref(),
                rows,
                &[],
                args.format.into(),
                "",
                &args.delimiter
            )
        );
        Ok(())
    })
    .await
}

/// `praetorctl version`: praetorctl's version, then (for a named cluster) each member's agent and
/// PostgreSQL versions from its `GET /patroni`.
pub(super) async fn version(ctx: &Ctx, args: VersionArgs) -> Result<()> {
    println!("praetorctl version {}", env!("CARGO_PKG_VERSION"));
    println!();
    let pool = ctx.pool().await?;
    for m in pool.members_with_role(Role::Any) {
        if m.data.api_url.is_empty() || !(args.members.is_empty() || args.members.contains(&m.name))
        {
            continue;
        }
        let answer = ctx
            .request(
                reqwest::Method::GET,
                m,
                "/patroni",
                None,
                Duration::from_secs(3),
            )
            .await
            .and_then(|(_, body)| serde_json::from_str::<Value>(&body).map_err(|e| anyhow!("{e}")));
        match answer {
            Ok(v) => {
                // A praetor agent says so; any other is shown as Patroni shows itself.
                let agent = match v["praetor"]["version"].as_str() {
                    Some(p) => format!("praetor {p}"),
                    None => format!("Patroni {}", Doc::from(&v["patroni"]["version"]).py_str()),
                };
                let pg = v["server_version"]
                    .as_i64()
                    .filter(|n| *n != 0)
                    .map(|n| format!(" PostgreSQL {}", format_pg_version(n)))
                    .unwrap_or_default();
                println!("{}: {agent}{pg}", m.name);
            }
            Err(e) => println!("{}: failed to get version: {e:#}", m.name),
        }
    }
    Ok(())
}
