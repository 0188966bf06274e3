//! `praetorctl`: control a praetor (or Patroni) cluster through etcd and the members' REST APIs.
//! Commands, options, prompts and output follow patronictl's, so scripts written for it keep working.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use praetor::config::{process_env, BasicAuth, Credentials, CtlConfig};
use praetor::ctl::{
    apply_set, config_diff, config_yaml, parse_dcs_url, render_history, render_list, Format,
};
use praetor::dcs::etcd::EtcdDcs;
use praetor::dcs::{ClusterView, Member};
use serde_json::{json, Value};

/// Control a praetor / Patroni cluster.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (an agent's, or one with scope, etcd3 and ctl).
    #[arg(short = 'c', long = "config-file", env = "PATRONICTL_CONFIG_FILE")]
    config: Option<PathBuf>,
    /// etcd3://host:port[/namespace] instead of (or overriding) the file's etcd section.
    #[arg(short = 'd', long = "dcs-url", alias = "dcs", env = "DCS_URL")]
    dcs_url: Option<String>,
    /// Cluster name, for use with --dcs-url instead of a configuration file (a positional
    /// CLUSTER argument wins).
    #[arg(long)]
    scope: Option<String>,
    /// Do not verify the REST APIs' TLS certificates.
    #[arg(short = 'k', long)]
    insecure: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List the members of a cluster.
    List {
        /// Cluster name (default: scope from the configuration).
        cluster: Option<String>,
        /// Only this Citus group.
        #[arg(long)]
        group: Option<u32>,
        /// Show all columns.
        #[arg(short = 'e', long)]
        extended: bool,
        /// Print a timestamp before the table.
        #[arg(short = 't', long)]
        timestamp: bool,
        /// Output format.
        #[arg(short = 'f', long, value_enum, default_value_t = Format::Pretty)]
        format: Format,
        /// Refresh every 2 seconds.
        #[arg(short = 'W')]
        watch_default: bool,
        /// Refresh every N seconds.
        #[arg(short = 'w', long = "watch")]
        watch: Option<f64>,
    },
    /// The cluster as a tree: the leader, then its standbys.
    Topology {
        /// Cluster name.
        cluster: Option<String>,
        /// Only this Citus group.
        #[arg(long)]
        group: Option<u32>,
        /// Refresh every 2 seconds.
        #[arg(short = 'W')]
        watch_default: bool,
        /// Refresh every N seconds.
        #[arg(short = 'w', long = "watch")]
        watch: Option<f64>,
    },
    /// Planned switchover: the leader hands over to a standby.
    Switchover {
        /// Cluster name.
        cluster: Option<String>,
        /// Citus group.
        #[arg(long)]
        group: Option<u32>,
        /// Current leader.
        #[arg(long, alias = "master", alias = "primary")]
        leader: Option<String>,
        /// The member to switch over to (default: the healthiest).
        #[arg(long)]
        candidate: Option<String>,
        /// When: ISO 8601 with a time zone, or `now`.
        #[arg(long)]
        scheduled: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        force: bool,
    },
    /// Manual failover to a named candidate (also when the cluster has no leader).
    Failover {
        /// Cluster name.
        cluster: Option<String>,
        /// Citus group.
        #[arg(long)]
        group: Option<u32>,
        /// Deprecated in patronictl; accepted and must match the leader.
        #[arg(long, alias = "master", alias = "primary")]
        leader: Option<String>,
        /// The member to fail over to.
        #[arg(long)]
        candidate: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        force: bool,
    },
    /// Restart PostgreSQL on members.
    Restart {
        /// Cluster name.
        cluster: String,
        /// Members (default: all).
        members: Vec<String>,
        /// Citus group.
        #[arg(long)]
        group: Option<u32>,
        /// Only members with this role.
        #[arg(short = 'r', long, default_value = "any")]
        role: String,
        /// Only members with a pending restart.
        #[arg(long)]
        pending: bool,
        /// When: ISO 8601 with a time zone, or `now`.
        #[arg(long)]
        scheduled: Option<String>,
        /// Only if the running version is older than this (e.g. 15.6).
        #[arg(long = "pg-version")]
        pg_version: Option<String>,
        /// Seconds to wait for the restart.
        #[arg(long)]
        timeout: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        force: bool,
    },
    /// Rebuild standbys from the leader (fresh basebackup).
    Reinit {
        /// Cluster name.
        cluster: String,
        /// Members.
        members: Vec<String>,
        /// Citus group.
        #[arg(long)]
        group: Option<u32>,
        /// Do not ask for confirmation.
        #[arg(long)]
        force: bool,
        /// Wait until each member runs again.
        #[arg(long)]
        wait: bool,
    },
    /// Maintenance mode on: no automatic failover.
    Pause {
        /// Cluster name.
        cluster: Option<String>,
        /// Citus group.
        #[arg(long)]
        group: Option<u32>,
        /// Wait until every member reports it.
        #[arg(long)]
        wait: bool,
    },
    /// Maintenance mode off.
    Resume {
        /// Cluster name.
        cluster: Option<String>,
        /// Citus group.
        #[arg(long)]
        group: Option<u32>,
        /// Wait until every member reports it.
        #[arg(long)]
        wait: bool,
    },
    /// Edit the dynamic configuration (in $EDITOR, or with --set / --pg / --apply / --replace).
    EditConfig {
        /// Cluster name.
        cluster: Option<String>,
        /// Citus group.
        #[arg(long)]
        group: Option<u32>,
        /// Do not show the diff.
        #[arg(short = 'q', long)]
        quiet: bool,
        /// key.path=value (YAML value; null deletes).
        #[arg(short = 's', long = "set")]
        set: Vec<String>,
        /// PostgreSQL parameter=value.
        #[arg(short = 'p', long = "pg")]
        pg: Vec<String>,
        /// Apply the changes in this YAML file (- for stdin).
        #[arg(long)]
        apply: Option<String>,
        /// Replace the whole configuration with this YAML file (- for stdin).
        #[arg(long)]
        replace: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        force: bool,
    },
    /// Show the dynamic configuration.
    ShowConfig {
        /// Cluster name.
        cluster: Option<String>,
        /// Citus group.
        #[arg(long)]
        group: Option<u32>,
    },
    /// Timeline history.
    History {
        /// Cluster name.
        cluster: Option<String>,
        /// Citus group.
        #[arg(long)]
        group: Option<u32>,
        /// Output format.
        #[arg(short = 'f', long, value_enum, default_value_t = Format::Pretty)]
        format: Format,
    },
    /// Remove the cluster's keys from etcd (asks for confirmation).
    Remove {
        /// Cluster name.
        cluster: String,
        /// Citus group.
        #[arg(long)]
        group: Option<u32>,
        /// Output format of the table shown first.
        #[arg(short = 'f', long, value_enum, default_value_t = Format::Pretty)]
        format: Format,
    },
    /// Reload the configuration on members.
    Reload {
        /// Cluster name.
        cluster: String,
        /// Members (default: all).
        members: Vec<String>,
        /// Citus group.
        #[arg(long)]
        group: Option<u32>,
        /// Only members with this role.
        #[arg(short = 'r', long, default_value = "any")]
        role: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        force: bool,
    },
    /// libpq connection string of a member (the leader by default).
    Dsn {
        /// Cluster name.
        cluster: Option<String>,
        /// Citus group.
        #[arg(long)]
        group: Option<u32>,
        /// Role to pick.
        #[arg(short = 'r', long)]
        role: Option<String>,
        /// Member to pick.
        #[arg(short = 'm', long)]
        member: Option<String>,
    },
    /// Run SQL on a member.
    Query {
        /// Cluster name.
        cluster: Option<String>,
        /// Citus group.
        #[arg(long)]
        group: Option<u32>,
        /// SQL to run.
        #[arg(short = 'c', long = "command")]
        command: Option<String>,
        /// File with SQL to run.
        #[arg(short = 'f', long = "file")]
        file: Option<PathBuf>,
        /// Database.
        #[arg(short = 'd', long, default_value = "postgres")]
        dbname: String,
        /// User (default: the configuration's superuser).
        #[arg(short = 'U', long)]
        username: Option<String>,
        /// Ask for the password.
        #[arg(long)]
        password: bool,
        /// Role to pick.
        #[arg(short = 'r', long)]
        role: Option<String>,
        /// Member to pick.
        #[arg(short = 'm', long)]
        member: Option<String>,
        /// Column delimiter.
        #[arg(long, default_value = "\t")]
        delimiter: String,
    },
    /// praetorctl's version and each member's.
    Version {
        /// Cluster name.
        cluster: Option<String>,
        /// Members.
        members: Vec<String>,
        /// Citus group.
        #[arg(long)]
        group: Option<u32>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Everything a command needs: etcd, the scope, REST credentials.
struct Ctx {
    dcs: EtcdDcs,
    namespace: String,
    scope: String,
    group: Option<u32>,
    auth: Option<BasicAuth>,
    superuser: Credentials,
    http: reqwest::Client,
}

impl Ctx {
    fn prefix(&self) -> String {
        match self.group {
            Some(g) => format!("{}{}/{g}/", self.namespace, self.scope),
            None => format!("{}{}/", self.namespace, self.scope),
        }
    }

    async fn view(&self) -> Result<ClusterView> {
        self.dcs.load_prefix(&self.prefix()).await
    }

    fn url(m: &Member, path: &str) -> String {
        let base = m.data.api_url.trim_end_matches('/');
        let base = base.strip_suffix("/patroni").unwrap_or(base);
        format!("{base}{path}")
    }

    async fn request(
        &self,
        method: reqwest::Method,
        m: &Member,
        path: &str,
        body: Option<Value>,
        timeout: Duration,
    ) -> Result<(u16, String)> {
        let mut r = self
            .http
            .request(method, Self::url(m, path))
            .timeout(timeout);
        if let Some(a) = &self.auth {
            r = r.basic_auth(&a.username, Some(&a.password));
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r
            .send()
            .await
            .with_context(|| format!("calling {} of member {}", path, m.name))?;
        let code = resp.status().as_u16();
        Ok((code, resp.text().await.unwrap_or_default()))
    }

    async fn table(&self, view: ClusterView) -> Result<String> {
        render_list(&self.scope, &[(self.group, view)], Format::Pretty, false)
    }
}

/// Asks a question on the terminal (dialoguer), or reads a line from non-terminal stdin (scripts).
fn ask(prompt: &str, default: Option<&str>) -> Result<String> {
    if std::io::stdin().is_terminal() {
        let mut input = dialoguer::Input::<String>::new()
            .with_prompt(prompt)
            .allow_empty(true);
        if let Some(d) = default {
            input = input.default(d.to_string());
        }
        return Ok(input.interact_text()?.trim().to_string());
    }
    match default {
        Some(d) => print!("{prompt} [{d}]: "),
        None => print!("{prompt}: "),
    }
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    println!();
    let line = line.trim().to_string();
    Ok(if line.is_empty() {
        default.unwrap_or("").to_string()
    } else {
        line
    })
}

fn confirm(prompt: &str) -> Result<bool> {
    if std::io::stdin().is_terminal() {
        return Ok(dialoguer::Confirm::new()
            .with_prompt(prompt)
            .default(false)
            .interact()?);
    }
    let a = ask(&format!("{prompt} [y/N]"), None)?;
    Ok(matches!(a.to_lowercase().as_str(), "y" | "yes"))
}

/// patronictl's "Are you sure you want to <action> members a, b?" unless `--force`.
fn confirm_members(action: &str, targets: &[&Member], force: bool) -> Result<()> {
    let names = targets
        .iter()
        .map(|m| m.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if !force
        && !confirm(&format!(
            "Are you sure you want to {action} members {names}?"
        ))?
    {
        bail!("Aborted {action}");
    }
    Ok(())
}

fn spinner(msg: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

fn timestamp() -> String {
    chrono::Local::now()
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string()
}

fn role_matches(view: &ClusterView, m: &Member, role: &str) -> bool {
    let is_leader = view.leader.as_ref().is_some_and(|l| l.name == m.name);
    match role {
        "any" => true,
        "leader" | "primary" | "master" | "standby-leader" => is_leader,
        "replica" | "standby" => !is_leader,
        _ => false,
    }
}

fn check_role(role: &str) -> Result<()> {
    if matches!(
        role,
        "any" | "leader" | "primary" | "master" | "standby-leader" | "replica" | "standby"
    ) {
        Ok(())
    } else {
        bail!("--role: expected one of leader, primary, standby-leader, replica, standby, any; got {role:?}")
    }
}

fn pick_members<'a>(
    view: &'a ClusterView,
    names: &[String],
    role: &str,
) -> Result<Vec<&'a Member>> {
    for n in names {
        if view.member(n).is_none() {
            bail!("{n} is not a member of the cluster");
        }
    }
    Ok(view
        .members
        .iter()
        .filter(|m| names.is_empty() || names.contains(&m.name))
        .filter(|m| role_matches(view, m, role))
        .collect())
}

/// `now` → None; otherwise the text must carry a time zone.
fn schedule_arg(s: Option<&str>) -> Result<Option<String>> {
    match s.map(str::trim) {
        None | Some("") | Some("now") => Ok(None),
        Some(t) => {
            if praetor::ha::parse_schedule(t).is_none() {
                bail!("--scheduled: expected ISO 8601 with a time zone (e.g. 2030-01-01T10:00+00:00) or now, got {t:?}");
            }
            Ok(Some(t.to_string()))
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let env = process_env();
    let file = match &cli.config {
        Some(p) => Some(CtlConfig::load(p, &env).map_err(|e| anyhow!("{e}"))?),
        None => {
            let default = std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".config/patroni/patronictl.yaml"));
            match default.filter(|p| p.exists()) {
                Some(p) if cli.dcs_url.is_none() => {
                    Some(CtlConfig::load(&p, &env).map_err(|e| anyhow!("{e}"))?)
                }
                _ => None,
            }
        }
    };
    let (etcd, namespace) = match (&cli.dcs_url, &file) {
        (Some(url), f) => {
            let (ep, ns) = parse_dcs_url(url)?;
            let ns = ns
                .or_else(|| f.as_ref().map(|f| f.namespace.clone()))
                .unwrap_or_else(|| "/service/".into());
            // The file's credentials and TLS files still apply to the endpoint given by URL.
            let mut etcd = f.as_ref().map(|f| f.etcd.clone()).unwrap_or_default();
            etcd.endpoints = vec![if etcd.cacert.is_some() {
                ep.replacen("http://", "https://", 1)
            } else {
                ep
            }];
            (etcd, ns)
        }
        (None, Some(f)) => (f.etcd.clone(), f.namespace.clone()),
        (None, None) => bail!("give -c CONFIG or --dcs-url etcd3://host:port"),
    };
    let cluster_arg = match &cli.command {
        Cmd::List { cluster, .. }
        | Cmd::Topology { cluster, .. }
        | Cmd::Switchover { cluster, .. }
        | Cmd::Failover { cluster, .. }
        | Cmd::Pause { cluster, .. }
        | Cmd::Resume { cluster, .. }
        | Cmd::EditConfig { cluster, .. }
        | Cmd::ShowConfig { cluster, .. }
        | Cmd::History { cluster, .. }
        | Cmd::Dsn { cluster, .. }
        | Cmd::Query { cluster, .. }
        | Cmd::Version { cluster, .. } => cluster.clone(),
        Cmd::Restart { cluster, .. }
        | Cmd::Reinit { cluster, .. }
        | Cmd::Remove { cluster, .. }
        | Cmd::Reload { cluster, .. } => Some(cluster.clone()),
    };
    let scope = cluster_arg
        .or_else(|| cli.scope.clone())
        .or_else(|| file.as_ref().and_then(|f| f.scope.clone()))
        .ok_or_else(|| anyhow!("name the cluster: no scope in the configuration"))?;
    let group_arg = match &cli.command {
        Cmd::List { group, .. }
        | Cmd::Topology { group, .. }
        | Cmd::Switchover { group, .. }
        | Cmd::Failover { group, .. }
        | Cmd::Restart { group, .. }
        | Cmd::Reinit { group, .. }
        | Cmd::Pause { group, .. }
        | Cmd::Resume { group, .. }
        | Cmd::EditConfig { group, .. }
        | Cmd::ShowConfig { group, .. }
        | Cmd::History { group, .. }
        | Cmd::Remove { group, .. }
        | Cmd::Reload { group, .. }
        | Cmd::Dsn { group, .. }
        | Cmd::Query { group, .. }
        | Cmd::Version { group, .. } => *group,
    };
    let dcs = EtcdDcs::connect(
        &etcd,
        &format!("{namespace}{scope}/"),
        "praetorctl",
        Duration::from_secs(5),
    )
    .await?;
    let mut http_tls = file
        .as_ref()
        .map(|f| f.http_tls.clone())
        .unwrap_or_default();
    http_tls.insecure |= cli.insecure;
    let http = praetor::tls::http_client(&http_tls, Duration::from_secs(60))?;
    let mut ctx = Ctx {
        dcs,
        namespace,
        scope,
        group: group_arg,
        auth: file.as_ref().and_then(|f| f.auth.clone()),
        superuser: file
            .as_ref()
            .map(|f| f.superuser.clone())
            .unwrap_or_default(),
        http,
    };
    // Commands other than list/topology act on one group: default to the configuration's.
    if ctx.group.is_none() && !matches!(cli.command, Cmd::List { .. } | Cmd::Topology { .. }) {
        ctx.group = file.as_ref().and_then(|f| f.citus_group);
    }
    match cli.command {
        Cmd::List {
            extended,
            timestamp: ts,
            format,
            watch_default,
            watch,
            group,
            ..
        } => {
            let every = watch.or(watch_default.then_some(2.0));
            loop {
                let groups = load_groups(&ctx, group).await?;
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
        Cmd::Topology {
            watch_default,
            watch,
            group,
            ..
        } => {
            let every = watch.or(watch_default.then_some(2.0));
            loop {
                let mut groups = load_groups(&ctx, group).await?;
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
        Cmd::Switchover {
            leader,
            candidate,
            scheduled,
            force,
            ..
        } => switchover(&ctx, leader, candidate, scheduled, force, true).await,
        Cmd::Failover {
            leader,
            candidate,
            force,
            ..
        } => switchover(&ctx, leader, candidate, None, force, false).await,
        Cmd::Restart {
            members,
            role,
            pending,
            scheduled,
            pg_version,
            timeout,
            force,
            ..
        } => {
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
                if praetor::types::parse_pg_version(v).is_none() {
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
        Cmd::Reinit {
            members,
            force,
            wait,
            ..
        } => {
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
                        if v.member(&name).is_some_and(|x| x.data.state == "running") {
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
        Cmd::Pause { wait, .. } => set_pause(&ctx, true, wait).await,
        Cmd::Resume { wait, .. } => set_pause(&ctx, false, wait).await,
        Cmd::EditConfig {
            quiet,
            set,
            pg,
            apply,
            replace,
            force,
            ..
        } => edit_config(&ctx, quiet, set, pg, apply, replace, force).await,
        Cmd::ShowConfig { .. } => {
            let view = ctx.view().await?;
            let cfg = view
                .config_raw
                .ok_or_else(|| anyhow!("no configuration in DCS for {}", ctx.scope))?;
            print!("{}", config_yaml(&cfg));
            Ok(())
        }
        Cmd::History { format, .. } => {
            let view = ctx.view().await?;
            print!("{}", render_history(&view, format)?);
            Ok(())
        }
        Cmd::Remove { format, .. } => {
            let view = ctx.view().await?;
            print!(
                "{}",
                render_list(&ctx.scope, &[(ctx.group, view.clone())], format, false)?
            );
            let name = ask("Please confirm the cluster name to remove", None)?;
            if name != ctx.scope {
                bail!("Cluster names specified do not match");
            }
            let yes = ask("You are about to remove all information in DCS for {}, please type: \"Yes I am aware\"".replace("{}", &ctx.scope).as_str(), None)?;
            if yes != "Yes I am aware" {
                bail!("You did not exactly type \"Yes I am aware\"");
            }
            if let Some(l) = view.leader_member().filter(|m| m.data.state == "running") {
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
        Cmd::Reload {
            members,
            role,
            force,
            ..
        } => {
            check_role(&role)?;
            let view = ctx.view().await?;
            let targets = pick_members(&view, &members, &role)?;
            print!("{}", ctx.table(view.clone()).await?);
            confirm_members("reload", &targets, force)?;
            let lw = view.config.as_ref().map(|c| c.loop_wait).unwrap_or(10);
            for m in targets {
                match ctx.request(reqwest::Method::POST, m, "/reload", None, Duration::from_secs(10)).await {
                    Ok((202, _)) | Ok((200, _)) => println!("Reload request received for member {} and will be processed within {lw} seconds", m.name),
                    Ok((code, text)) => println!("Failed: reload for member {}, status code={code}, ({text})", m.name),
                    Err(e) => println!("Failed: reload for member {}: {e:#}", m.name),
                }
            }
            Ok(())
        }
        Cmd::Dsn { role, member, .. } => {
            let view = ctx.view().await?;
            let m = pick_one(&view, role.as_deref(), member.as_deref())?;
            let (h, p) = m
                .host_port()
                .ok_or_else(|| anyhow!("member {} has no usable conn_url", m.name))?;
            println!("host={h} port={p}");
            Ok(())
        }
        Cmd::Query {
            command,
            file,
            dbname,
            username,
            password,
            role,
            member,
            delimiter,
            ..
        } => {
            let sql = match (command, file) {
                (Some(c), None) => c,
                (None, Some(f)) => std::fs::read_to_string(&f)
                    .with_context(|| format!("reading {}", f.display()))?,
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
            let client = praetor::tls::pg_connect(
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
        Cmd::Version { members, .. } => {
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
    }
}

fn pick_one<'a>(
    view: &'a ClusterView,
    role: Option<&str>,
    member: Option<&str>,
) -> Result<&'a Member> {
    if let Some(n) = member {
        return view
            .member(n)
            .ok_or_else(|| anyhow!("{n} is not a member of the cluster"));
    }
    let role = role.unwrap_or("leader");
    check_role(role)?;
    view.members
        .iter()
        .find(|m| role_matches(view, m, role) && m.data.state == "running")
        .ok_or_else(|| anyhow!("no running member with role {role}"))
}

/// Reads the scope; when its keys sit under numeric group directories (Citus), each group.
async fn load_groups(ctx: &Ctx, only: Option<u32>) -> Result<Vec<(Option<u32>, ClusterView)>> {
    let prefix = format!("{}{}/", ctx.namespace, ctx.scope);
    let groups = ctx.dcs.load_groups(&prefix).await?;
    if groups.is_empty() {
        return Ok(vec![(None, ctx.dcs.load_prefix(&prefix).await?)]);
    }
    Ok(groups
        .into_iter()
        .filter(|(g, _)| only.is_none_or(|o| o == *g))
        .map(|(g, v)| (Some(g), v))
        .collect())
}

async fn switchover(
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
    let mut body = json!({});
    if is_switchover {
        body["leader"] = json!(leader);
    }
    if let Some(c) = &candidate {
        body["candidate"] = json!(c);
    }
    if let Some(s) = &scheduled {
        body["scheduled_at"] = json!(s);
    }
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

async fn set_pause(ctx: &Ctx, pause: bool, wait: bool) -> Result<()> {
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

fn read_yaml_source(src: &str) -> Result<Value> {
    let text = if src == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        std::fs::read_to_string(src).with_context(|| format!("reading {src}"))?
    };
    let y: serde_yaml::Value =
        serde_yaml::from_str(&text).with_context(|| format!("{src}: not valid YAML"))?;
    Ok(serde_json::to_value(y)?)
}

async fn edit_config(
    ctx: &Ctx,
    quiet: bool,
    set: Vec<String>,
    pg: Vec<String>,
    apply: Option<String>,
    replace: Option<String>,
    force: bool,
) -> Result<()> {
    let view = ctx.view().await?;
    let old = view
        .config_raw
        .clone()
        .ok_or_else(|| anyhow!("no configuration in DCS for {}", ctx.scope))?;
    let mut new = old.clone();
    let interactive = set.is_empty() && pg.is_empty() && apply.is_none() && replace.is_none();
    if let Some(r) = &replace {
        new = read_yaml_source(r)?;
    }
    if let Some(a) = &apply {
        praetor::config::merge_patch(&mut new, &read_yaml_source(a)?);
    }
    for s in &set {
        apply_set(&mut new, s)?;
    }
    for p in &pg {
        apply_set(&mut new, &format!("postgresql.parameters.{p}"))?;
    }
    if interactive {
        let editor = std::env::var("EDITOR").unwrap_or_else(|_| "vi".into());
        let tmp = tempfile::Builder::new()
            .prefix(&format!("{}-config-", ctx.scope))
            .suffix(".yaml")
            .tempfile()?;
        std::fs::write(tmp.path(), config_yaml(&old))?;
        let st = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{editor} \"$1\""))
            .arg("sh")
            .arg(tmp.path())
            .status()
            .with_context(|| format!("running the editor {editor}"))?;
        if !st.success() {
            bail!("the editor {editor} exited with {st}");
        }
        new = read_yaml_source(&tmp.path().display().to_string())?;
    }
    if new.is_null() {
        new = json!({});
    }
    if let Err((k, m)) = praetor::config::DynamicConfig::from_json(&new) {
        bail!(
            "the new configuration is invalid: {}{m}",
            if k.is_empty() {
                String::new()
            } else {
                format!("{k}: ")
            }
        );
    }
    let diff = config_diff(&old, &new);
    if diff.is_empty() {
        println!("Not changed");
        return Ok(());
    }
    if !quiet {
        println!("---");
        println!("+++");
        print!(
            "{}",
            diff.lines()
                .filter(|l| !l.starts_with("---") && !l.starts_with("+++"))
                .map(|l| format!("{l}\n"))
                .collect::<String>()
        );
        println!();
    }
    if !force && !confirm("Apply these changes?")? {
        bail!("Aborted: configuration not changed");
    }
    if !ctx
        .dcs
        .put_absolute_if_revision(
            &format!("{}config", ctx.prefix()),
            &new.to_string(),
            view.config_revision,
        )
        .await?
    {
        bail!("The config key was changed concurrently; nothing written. Run edit-config again");
    }
    println!("Configuration changed");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
