//! What every praetorctl command needs: the configuration, etcd, the REST client, prompts and the
//! choice of members by name and role.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use super::cli::{Cli, Cmd};
use super::render::{parse_dcs_url, render_list, Format};
use crate::config::{process_env, BasicAuth, Credentials, CtlConfig};
use crate::dcs::etcd::EtcdDcs;
use crate::dcs::{ClusterView, Member};

/// Everything a command needs: etcd, the scope, REST credentials.
pub(super) struct Ctx {
    pub(super) dcs: EtcdDcs,
    pub(super) namespace: String,
    pub(super) scope: String,
    pub(super) group: Option<u32>,
    /// The configuration file has a `citus` section (patronictl's `is_citus_cluster`).
    pub(super) citus_config: bool,
    pub(super) auth: Option<BasicAuth>,
    pub(super) superuser: Credentials,
    pub(super) http: reqwest::Client,
}

impl Ctx {
    pub(super) fn prefix(&self) -> String {
        match self.group {
            Some(g) => format!("{}{}/{g}/", self.namespace, self.scope),
            None => format!("{}{}/", self.namespace, self.scope),
        }
    }

    pub(super) async fn view(&self) -> Result<ClusterView> {
        self.dcs.load_prefix(&self.prefix()).await
    }

    pub(super) fn url(m: &Member, path: &str) -> String {
        let base = m.data.api_url.trim_end_matches('/');
        let base = base.strip_suffix("/patroni").unwrap_or(base);
        format!("{base}{path}")
    }

    pub(super) async fn request(
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

    pub(super) async fn table(&self, view: ClusterView) -> Result<String> {
        render_list(&self.scope, &[(self.group, view)], Format::Pretty, false)
    }
}

impl Ctx {
    /// Reads the configuration file (`-c`, `PATRONICTL_CONFIG_FILE` or
    /// `~/.config/patroni/patronictl.yaml`) and the global options, and connects to etcd.
    ///
    /// # Errors
    /// A bad configuration file or `--dcs-url`, no scope, or etcd not reachable.
    pub(super) async fn connect(cli: &Cli) -> Result<Ctx> {
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
        let cluster_arg = cli.command.cluster();
        let scope = cluster_arg
            .or_else(|| cli.scope.clone())
            .or_else(|| file.as_ref().and_then(|f| f.scope.clone()))
            .ok_or_else(|| anyhow!("name the cluster: no scope in the configuration"))?;
        let group_arg = cli.command.group();
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
        let http = crate::tls::http_client(&http_tls, Duration::from_secs(60))?;
        let mut ctx = Ctx {
            dcs,
            namespace,
            scope,
            group: group_arg,
            citus_config: file.as_ref().is_some_and(|f| f.citus_group.is_some()),
            auth: file.as_ref().and_then(|f| f.auth.clone()),
            superuser: file
                .as_ref()
                .map(|f| f.superuser.clone())
                .unwrap_or_default(),
            http,
        };
        // Commands other than list/topology act on one group: default to the configuration's.
        // `remove` never defaults: on a Citus scope it needs an explicit --group (patronictl).
        if ctx.group.is_none()
            && !matches!(
                cli.command,
                Cmd::List(_) | Cmd::Topology(_) | Cmd::Remove(_)
            )
        {
            ctx.group = file.as_ref().and_then(|f| f.citus_group);
        }
        Ok(ctx)
    }
}

/// Reads the scope; when its keys sit under numeric group directories (Citus), each group.
pub(super) async fn load_groups(
    ctx: &Ctx,
    only: Option<u32>,
) -> Result<Vec<(Option<u32>, ClusterView)>> {
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

/// Asks a question on the terminal (dialoguer), or reads a line from non-terminal stdin (scripts).
pub(super) fn ask(prompt: &str, default: Option<&str>) -> Result<String> {
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

pub(super) fn confirm(prompt: &str) -> Result<bool> {
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
pub(super) fn confirm_members(action: &str, targets: &[&Member], force: bool) -> Result<()> {
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

pub(super) fn spinner(msg: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

pub(super) fn timestamp() -> String {
    chrono::Local::now()
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string()
}

pub(super) fn role_matches(view: &ClusterView, m: &Member, role: &str) -> bool {
    let is_leader = view.leader.as_ref().is_some_and(|l| l.name == m.name);
    match role {
        "any" => true,
        "leader" | "primary" | "master" | "standby-leader" => is_leader,
        "replica" | "standby" => !is_leader,
        _ => false,
    }
}

pub(super) fn check_role(role: &str) -> Result<()> {
    if matches!(
        role,
        "any" | "leader" | "primary" | "master" | "standby-leader" | "replica" | "standby"
    ) {
        Ok(())
    } else {
        bail!("--role: expected one of leader, primary, standby-leader, replica, standby, any; got {role:?}")
    }
}

pub(super) fn pick_members<'a>(
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

pub(super) fn pick_one<'a>(
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
        .find(|m| role_matches(view, m, role) && m.is_running())
        .ok_or_else(|| anyhow!("no running member with role {role}"))
}

/// `now` → None; otherwise the text must carry a time zone.
pub(super) fn schedule_arg(s: Option<&str>) -> Result<Option<String>> {
    match s.map(str::trim) {
        None | Some("") | Some("now") => Ok(None),
        Some(t) => {
            if crate::ha::parse_schedule(t).is_none() {
                bail!("--scheduled: expected ISO 8601 with a time zone (e.g. 2030-01-01T10:00+00:00) or now, got {t:?}");
            }
            Ok(Some(t.to_string()))
        }
    }
}
