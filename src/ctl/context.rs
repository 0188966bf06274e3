//! What every praetorctl command needs: the configuration, etcd, the REST client, the groups of a
//! cluster, click-style prompts, and the choice of members by name and role (patronictl's
//! `get_all_members`, `get_any_member`, `get_members`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use super::cli::{Cli, Cmd, Role};
use super::render::{parse_dcs_url, render_members, ListSpec, Style};
use crate::config::{process_env, BasicAuth, Credentials, CtlConfig};
use crate::dcs::etcd::EtcdDcs;
use crate::dcs::{ClusterView, Member};

/// Everything a command needs: etcd, the scope, REST credentials.
pub(super) struct Ctx {
    pub(super) dcs: EtcdDcs,
    pub(super) namespace: String,
    /// The cluster name: the CLUSTER_NAME argument, `--scope`, or the file's `scope` (empty when
    /// none; only `list` and `topology` get that far without one).
    pub(super) scope: String,
    /// `--group`, or for the commands whose group defaults to it, the file's `citus.group`.
    pub(super) group: Option<u32>,
    /// The configuration file's `citus.group`.
    pub(super) config_group: Option<u32>,
    /// The configuration file has a `citus` section (patronictl's `is_citus_cluster`).
    pub(super) citus_config: bool,
    /// The configuration file's Citus databases.
    pub(super) citus_databases: Vec<String>,
    pub(super) auth: Option<BasicAuth>,
    pub(super) superuser: Credentials,
    pub(super) http: reqwest::Client,
}

/// A cluster's groups as read from etcd: one view for a plain cluster (group 0), the selected
/// group or every group of a Citus cluster.
#[derive(Debug, Clone)]
pub(super) struct Pool {
    pub(super) scope: String,
    /// A Citus cluster (the file has a `citus` section, `--group` was given, or the scope's keys
    /// sit under numeric group directories).
    pub(super) citus: bool,
    /// The group asked for (`None`: all groups).
    pub(super) group: Option<u32>,
    /// Each group and its view, ascending.
    pub(super) groups: Vec<(u32, ClusterView)>,
    /// The group writes go to when none was asked for (the file's `citus.group`, else 0).
    pub(super) home: u32,
    /// The Citus databases the configuration file names (shown under `list`).
    pub(super) databases: Vec<String>,
}

impl Pool {
    /// The group commands act on: the one asked for, else the home group (the coordinator).
    pub(super) fn main_group(&self) -> u32 {
        self.group.unwrap_or(self.home)
    }

    /// The view of [`Pool::main_group`] (an empty view when etcd has nothing there).
    pub(super) fn main(&self) -> &ClusterView {
        static EMPTY: std::sync::OnceLock<ClusterView> = std::sync::OnceLock::new();
        let g = self.main_group();
        self.groups
            .iter()
            .find(|(n, _)| *n == g)
            .or(self.groups.first())
            .map(|(_, v)| v)
            .unwrap_or_else(|| EMPTY.get_or_init(ClusterView::default))
    }

    /// The members table as patronictl's `output_members` prints it.
    pub(super) fn table(&self, style: Style, extended: bool) -> String {
        render_members(&ListSpec {
            name: &self.scope,
            citus: self.citus,
            group: self.group,
            groups: &self.groups,
            style,
            extended,
            databases: &self.databases,
        })
    }

    /// patronictl's `get_all_members`: for the leader roles, each group's leader (`primary`: not a
    /// standby leader; `standby-leader`: not a primary); `replica`/`standby`: every member but
    /// the leaders; `any`: everyone.
    pub(super) fn members_with_role(&self, role: Role) -> Vec<&Member> {
        let mut out = Vec::new();
        for (_, v) in &self.groups {
            let leader = v
                .leader
                .as_ref()
                .map(|l| l.name.as_str())
                .filter(|n| !n.is_empty());
            match role {
                Role::Leader | Role::Primary | Role::Master | Role::StandbyLeader => {
                    let Some(m) = leader.and_then(|n| v.member(n)) else {
                        continue;
                    };
                    let published = m.data.role.as_str();
                    let fits = match role {
                        Role::Leader => true,
                        Role::StandbyLeader => !matches!(published, "primary" | "master"),
                        _ => published != "standby_leader",
                    };
                    if fits {
                        out.push(m);
                    }
                }
                Role::Replica | Role::Standby => {
                    out.extend(v.members.iter().filter(|m| Some(m.name.as_str()) != leader))
                }
                Role::Any => out.extend(v.members.iter()),
            }
        }
        out
    }

    /// patronictl's `get_any_member`: the first member with `role` (default: the leader), or the
    /// member named `member`.
    ///
    /// # Errors
    /// Both given: `--role and --member are mutually exclusive options`.
    pub(super) fn any_member(
        &self,
        role: Option<Role>,
        member: Option<&str>,
    ) -> Result<Option<&Member>> {
        let role = match (role, member) {
            (Some(_), Some(_)) => bail!("--role and --member are mutually exclusive options"),
            (_, Some(_)) => Role::Any,
            (r, None) => r.unwrap_or(Role::Leader),
        };
        Ok(self
            .members_with_role(role)
            .into_iter()
            .find(|m| member.is_none_or(|n| m.name == n)))
    }
}

/// The members of `view` that have a REST API, its leader first (patronictl's
/// `get_all_members_leader_first`).
pub(super) fn leader_first(view: &ClusterView) -> Vec<&Member> {
    let leader = view.leader_member().filter(|m| !m.data.api_url.is_empty());
    let mut out: Vec<&Member> = leader.into_iter().collect();
    out.extend(view.members.iter().filter(|m| {
        !m.data.api_url.is_empty() && Some(m.name.as_str()) != leader.map(|l| l.name.as_str())
    }));
    out
}

impl Ctx {
    /// `/<namespace>/<scope>/`.
    pub(super) fn scope_prefix(&self, scope: &str) -> String {
        format!("{}{scope}/", self.namespace)
    }

    /// The key prefix of group `g` of `pool` (the scope's own prefix for a plain cluster).
    pub(super) fn group_prefix(&self, pool: &Pool, g: u32) -> String {
        if pool.citus {
            format!("{}{g}/", self.scope_prefix(&pool.scope))
        } else {
            self.scope_prefix(&pool.scope)
        }
    }

    /// The key prefix commands write to (`config`, `failover`): the pool's main group's.
    pub(super) fn main_prefix(&self, pool: &Pool) -> String {
        self.group_prefix(pool, pool.main_group())
    }

    /// Reads the command's cluster ([`Ctx::scope`], [`Ctx::group`]).
    pub(super) async fn pool(&self) -> Result<Pool> {
        self.pool_of(&self.scope, self.group).await
    }

    /// Reads cluster `scope`: group `group`, or every group of a Citus cluster, or the plain
    /// cluster.
    pub(super) async fn pool_of(&self, scope: &str, group: Option<u32>) -> Result<Pool> {
        let prefix = self.scope_prefix(scope);
        let home = self.config_group.unwrap_or(0);
        let (citus, groups) = match group {
            Some(g) => (
                true,
                vec![(g, self.dcs.load_prefix(&format!("{prefix}{g}/")).await?)],
            ),
            None => {
                let by_group = self.dcs.load_groups(&prefix).await?;
                if !by_group.is_empty() {
                    (true, by_group.into_iter().collect())
                } else if self.citus_config {
                    (true, vec![(home, ClusterView::default())])
                } else {
                    (false, vec![(0, self.dcs.load_prefix(&prefix).await?)])
                }
            }
        };
        Ok(Pool {
            scope: scope.to_string(),
            citus,
            group,
            groups,
            home,
            databases: self.citus_databases.clone(),
        })
    }

    /// The REST API base of member `m` with `path` (patronictl calls `api_url` without its
    /// `/patroni` for the control endpoints).
    pub(super) fn url(m: &Member, path: &str) -> String {
        let base = m.data.api_url.trim_end_matches('/');
        let base = base.strip_suffix("/patroni").unwrap_or(base);
        format!("{base}{path}")
    }

    /// One REST call to member `m`: (status code, body).
    ///
    /// # Errors
    /// The member did not answer.
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

    /// Reads the configuration file (`-c`, `PATRONICTL_CONFIG_FILE` or
    /// `~/.config/patroni/patronictl.yaml`) and the global options, and connects to etcd.
    ///
    /// # Errors
    /// A bad configuration file or `--dcs-url`, no scope (except for `list`/`topology`), or etcd
    /// not reachable.
    pub(super) async fn connect(cli: &Cli) -> Result<Ctx> {
        let env = process_env();
        let file = match &cli.config {
            Some(p) => {
                if !p.exists() {
                    bail!(
                        "Provided config file {} not existing or no read rights. Check the -c/--config-file parameter",
                        p.display()
                    );
                }
                Some(CtlConfig::load(p, &env).map_err(|e| anyhow!("{e}"))?)
            }
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
        let scope = cli
            .command
            .cluster()
            .or_else(|| cli.scope.clone())
            .or_else(|| file.as_ref().and_then(|f| f.scope.clone()));
        let scope = match scope {
            Some(s) => s,
            None if matches!(cli.command, Cmd::List(_) | Cmd::Topology(_)) => String::new(),
            None => bail!("name the cluster: no scope in the configuration"),
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
        let http = crate::tls::http_client(&http_tls, Duration::from_secs(60))?;
        let config_group = file.as_ref().and_then(|f| f.citus_group);
        let group = cli
            .command
            .group()
            .or(if cli.command.group_defaults_to_config() {
                config_group
            } else {
                None
            });
        Ok(Ctx {
            dcs,
            namespace,
            scope,
            group,
            config_group,
            citus_config: config_group.is_some(),
            citus_databases: file
                .as_ref()
                .map(|f| f.citus_databases.clone())
                .unwrap_or_default(),
            auth: file.as_ref().and_then(|f| f.auth.clone()),
            superuser: file
                .as_ref()
                .map(|f| f.superuser.clone())
                .unwrap_or_default(),
            http,
        })
    }
}

// ---- prompts, as click asks them ----

/// The user ended the input (end of file or Ctrl-C) at a prompt: click's `Aborted!`, exit 1.
#[derive(Debug)]
pub(super) struct Aborted;

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Aborted!")
    }
}

impl std::error::Error for Aborted {}

fn read_line(prompt: &str) -> Result<String> {
    print!("{prompt}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        // click prints nothing more than `Aborted!` (on stderr) when the input ends.
        return Err(Aborted.into());
    }
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// `click.prompt(text, default=…)`: `text [default]: `; an empty answer takes the default, and
/// without one the question is asked again.
///
/// # Errors
/// [`Aborted`] when the input ends.
pub(super) fn prompt(text: &str, default: Option<&str>) -> Result<String> {
    let shown = match default {
        Some(d) => format!("{text} [{d}]: "),
        None => format!("{text}: "),
    };
    loop {
        let v = read_line(&shown)?;
        if !v.is_empty() {
            return Ok(v);
        }
        if let Some(d) = default {
            return Ok(d.to_string());
        }
    }
}

/// `click.prompt(text, type=int)`.
///
/// # Errors
/// [`Aborted`] when the input ends.
pub(super) fn prompt_int(text: &str) -> Result<u32> {
    loop {
        let v = prompt(text, None)?;
        match v.trim().parse::<u32>() {
            Ok(n) => return Ok(n),
            Err(_) => println!("Error: '{v}' is not a valid integer."),
        }
    }
}

/// `click.confirm(text)`: `text [y/N]: `, yes or no (default no), asked again on other answers.
///
/// # Errors
/// [`Aborted`] when the input ends.
pub(super) fn confirm(text: &str) -> Result<bool> {
    loop {
        let v = read_line(&format!("{text} [y/N]: "))?.trim().to_lowercase();
        match v.as_str() {
            "y" | "yes" => return Ok(true),
            "n" | "no" | "" => return Ok(false),
            _ => println!("Error: invalid input"),
        }
    }
}

/// `click.prompt('Password', hide_input=True)`: not echoed on a terminal.
///
/// # Errors
/// [`Aborted`] when the input ends.
pub(super) fn password() -> Result<String> {
    if std::io::stdin().is_terminal() {
        return dialoguer::Password::new()
            .with_prompt("Password")
            .allow_empty_password(true)
            .interact()
            .map_err(|_| Aborted.into());
    }
    read_line("Password: ")
}

/// A spinner on stderr while waiting (a praetor addition; hidden when stderr is not a terminal).
pub(super) fn spinner(msg: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// patronictl's `timestamp(precision)`: `%Y-%m-%d %H:%M:%S.%f` cut by `7 - precision` characters
/// (6 → five decimals, 0 → whole seconds).
pub(super) fn timestamp(precision: usize) -> String {
    let full = chrono::Local::now()
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string();
    let cut = full.len() - (7 - precision.min(6));
    full[..cut].to_string()
}

/// click's `clear()`: only on a terminal.
pub(super) fn clear_screen() {
    if std::io::stdout().is_terminal() {
        print!("\x1b[2J\x1b[1;1H");
        let _ = std::io::stdout().flush();
    }
}

/// patronictl's `watching`: runs `step` once, or (every `every` seconds) until it fails,
/// clearing the screen first when `clear`.
///
/// # Errors
/// The first error of `step`.
pub(super) async fn watching<F>(every: Option<f64>, clear: bool, mut step: F) -> Result<()>
where
    F: AsyncFnMut() -> Result<()>,
{
    if every.is_some() && clear {
        clear_screen();
    }
    step().await?;
    let Some(secs) = every else { return Ok(()) };
    let mut last = std::time::Instant::now();
    loop {
        let wait = Duration::from_secs_f64(secs.max(0.0)).saturating_sub(last.elapsed());
        tokio::time::sleep(wait).await;
        if clear {
            clear_screen();
        }
        last = std::time::Instant::now();
        step().await?;
    }
}

/// `repr()` of a role as patronictl prints it in `No 'replica' among provided members`.
pub(super) fn role_repr(role: Role) -> String {
    format!("'{}'", role.as_str())
}

/// patronictl's `get_members`: prints the table, then picks the members by `names` and `role`
/// (all of that role when no names are given, except for `reinitialize`, which asks which), and
/// asks `Are you sure you want to <action> members …?` when `confirm_now`.
///
/// # Errors
/// patronictl's messages: `<cluster> cluster doesn't have any members`, `No <role> among provided
/// members`, `<name> is not a member of cluster`, `Aborted <action>`.
#[allow(clippy::too_many_arguments)]
pub(super) fn get_members<'a>(
    pool: &'a Pool,
    names: &[String],
    role: Role,
    role_shown: &str,
    force: bool,
    action: &str,
    confirm_now: bool,
) -> Result<Vec<&'a Member>> {
    let members = pool.members_with_role(role);
    let candidates: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    if names.is_empty() && candidates.is_empty() {
        bail!("{} cluster doesn't have any members", pool.scope);
    }
    print!("{}", pool.table(Style::Pretty, false));
    let mut chosen: Vec<String> = if names.is_empty() {
        if action == "reinitialize" {
            Vec::new()
        } else {
            candidates.iter().map(|c| c.to_string()).collect()
        }
    } else {
        let picked: Vec<String> = candidates
            .iter()
            .filter(|c| names.iter().any(|n| n == *c))
            .map(|c| c.to_string())
            .collect();
        if picked.is_empty() {
            bail!("No {role_shown} among provided members");
        }
        picked
    };
    if chosen.is_empty() && !force {
        chosen = vec![prompt(
            &format!(
                "Which member do you want to {action} [{}]?",
                candidates.join(", ")
            ),
            Some(""),
        )?];
    }
    for name in &chosen {
        if !candidates.contains(&name.as_str()) {
            bail!("{name} is not a member of cluster");
        }
    }
    let picked: Vec<&Member> = members
        .into_iter()
        .filter(|m| chosen.contains(&m.name))
        .collect();
    if confirm_now {
        confirm_members(&picked, force, action, None, false)?;
    }
    Ok(picked)
}

/// patronictl's `confirm_members_action`: `Are you sure you want to <action> members a, b?`, or
/// for a scheduled action `… schedule <action> of members a, b at <time>?` (with `--pending`, the
/// warning that the members are chosen at that time). Nothing with `--force`.
///
/// # Errors
/// `Aborted <action>` / `Aborted scheduled <action>` on a no.
pub(super) fn confirm_members(
    members: &[&Member],
    force: bool,
    action: &str,
    scheduled_at: Option<&str>,
    pending: bool,
) -> Result<()> {
    if force {
        return Ok(());
    }
    let names = members
        .iter()
        .map(|m| m.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    match scheduled_at {
        Some(at) => {
            let q = if pending {
                "The nodes needing a restart will be identified at the scheduled time, and might be different from the ones showing pending restart right now. Is this fine?".to_string()
            } else {
                format!("Are you sure you want to schedule {action} of members {names} at {at}?")
            };
            if !confirm(&q)? {
                bail!("Aborted scheduled {action}");
            }
        }
        None => {
            if !confirm(&format!(
                "Are you sure you want to {action} members {names}?"
            ))? {
                bail!("Aborted {action}");
            }
        }
    }
    Ok(())
}

/// patronictl's `check_response`: `Success: <action> for member <name>` (unless `silent`) or
/// `Failed: <action> for member <name>, status code=<code>, (<body>)`. True on success.
pub(super) fn check_response(
    code: u16,
    body: &str,
    name: &str,
    action: &str,
    silent: bool,
) -> bool {
    if code >= 400 {
        println!("Failed: {action} for member {name}, status code={code}, ({body})");
        false
    } else {
        if !silent {
            println!("Success: {action} for member {name}");
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(leader: &str, members: &[(&str, &str)]) -> ClusterView {
        let mut kvs: Vec<(String, Vec<u8>, i64, i64)> =
            vec![("leader".into(), leader.as_bytes().to_vec(), 1, 1)];
        for (name, role) in members {
            let v = serde_json::json!({"conn_url": format!("postgres://{name}:5432/postgres"),
                "api_url": format!("http://{name}:8008/patroni"), "state": "running", "role": role});
            kvs.push((format!("members/{name}"), v.to_string().into_bytes(), 1, 1));
        }
        ClusterView::decode(&kvs, 1)
    }

    fn pool(groups: Vec<(u32, ClusterView)>) -> Pool {
        Pool {
            scope: "demo".into(),
            citus: groups.len() > 1,
            group: None,
            groups,
            home: 0,
            databases: Vec::new(),
        }
    }

    fn names(ms: Vec<&Member>) -> Vec<&str> {
        ms.into_iter().map(|m| m.name.as_str()).collect()
    }

    #[test]
    fn members_by_role_as_get_all_members() {
        let p = pool(vec![
            (0, view("c1", &[("c1", "primary"), ("c2", "replica")])),
            (
                1,
                view("w2", &[("w1", "replica"), ("w2", "standby_leader")]),
            ),
        ]);
        assert_eq!(names(p.members_with_role(Role::Leader)), ["c1", "w2"]);
        assert_eq!(names(p.members_with_role(Role::Primary)), ["c1"]);
        assert_eq!(names(p.members_with_role(Role::StandbyLeader)), ["w2"]);
        assert_eq!(names(p.members_with_role(Role::Replica)), ["c2", "w1"]);
        assert_eq!(
            names(p.members_with_role(Role::Any)),
            ["c1", "c2", "w1", "w2"]
        );
        assert_eq!(p.any_member(None, None).unwrap().unwrap().name, "c1");
        assert_eq!(
            p.any_member(Some(Role::Replica), None)
                .unwrap()
                .unwrap()
                .name,
            "c2"
        );
        assert_eq!(p.any_member(None, Some("w1")).unwrap().unwrap().name, "w1");
        assert!(p.any_member(None, Some("ghost")).unwrap().is_none());
        assert_eq!(
            p.any_member(Some(Role::Leader), Some("w1"))
                .unwrap_err()
                .to_string(),
            "--role and --member are mutually exclusive options"
        );
        assert_eq!(names(leader_first(&p.groups[1].1)), ["w2", "w1"]);
    }

    #[test]
    fn timestamps_as_patronictl() {
        // `%Y-%m-%d %H:%M:%S.%f` cut by one character, or to whole seconds.
        assert_eq!(timestamp(6).len(), "2023-09-13 14:18:11.20661".len());
        assert_eq!(timestamp(0).len(), "2023-09-13 14:18:11".len());
        assert_eq!(role_repr(Role::StandbyLeader), "'standby-leader'");
    }
}
