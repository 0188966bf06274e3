//! The members table of `list` and `topology` (patronictl 4.1's `output_members`) and what it is
//! drawn from: what patronictl reads from a group's dynamic configuration ([`GlobalConfig`]), the
//! group's members as `cluster_as_json` describes them ([`ClusterMember`]), `topology`'s
//! replication-tree order, each cell, and the lines under the table (maintenance mode, a scheduled
//! switchover).

use anyhow::Result;
use serde_json::{json, Value};

use crate::dcs::{parse_conn_url, ClusterView, Member};

use super::{print_output, py_isoformat, pyfmt, Doc, Format, Style};

// ---- the dynamic configuration as patronictl's global_config reads it ----

/// Patroni's `parse_bool`: `on`, `true`, `yes`, `1` (any case) are true.
fn parse_bool(v: &Value) -> bool {
    let s = Doc::from(v).py_str().to_lowercase();
    matches!(s.as_str(), "on" | "true" | "yes" | "1")
}

/// What patronictl reads from a group's dynamic configuration (`global_config.from_cluster`).
#[derive(Debug, Clone, Copy)]
pub struct GlobalConfig<'a>(Option<&'a Value>);

impl<'a> GlobalConfig<'a> {
    /// The group's `config` key, as stored.
    pub fn of(view: &'a ClusterView) -> Self {
        GlobalConfig(view.config_raw.as_ref())
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.0.and_then(|c| c.get(key))
    }

    /// Maintenance mode (`pause`).
    pub fn is_paused(&self) -> bool {
        self.get("pause").is_some_and(parse_bool)
    }

    /// `standby_cluster` with a host, port or restore_command.
    pub fn is_standby_cluster(&self) -> bool {
        self.get("standby_cluster")
            .and_then(Value::as_object)
            .is_some_and(|o| {
                ["host", "port", "restore_command"]
                    .iter()
                    .any(|k| o.get(*k).is_some_and(|v| Doc::from(v).truthy()))
            })
    }

    /// `synchronous_mode: quorum`.
    pub fn is_quorum_commit_mode(&self) -> bool {
        self.get("synchronous_mode")
            .is_some_and(|v| Doc::from(v).py_str().to_lowercase() == "quorum")
    }

    /// Synchronous replication on (and not a standby cluster).
    pub fn is_synchronous_mode(&self) -> bool {
        (self.get("synchronous_mode").is_some_and(parse_bool) || self.is_quorum_commit_mode())
            && !self.is_standby_cluster()
    }

    /// `loop_wait`, when set to a positive number (patronictl then falls back to 10).
    pub fn loop_wait(&self) -> u64 {
        self.get("loop_wait")
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            })
            .filter(|n| *n > 0)
            .unwrap_or(10)
    }
}

/// Whether `/sync` names `name` (case-insensitively, as PostgreSQL compares
/// `synchronous_standby_names`); with `check_leader`, its leader counts too.
pub fn sync_matches(view: &ClusterView, name: &str, check_leader: bool) -> bool {
    let Some(s) = &view.sync else { return false };
    let Some(leader) = s.leader.as_deref().filter(|l| !l.is_empty()) else {
        return false;
    };
    if name.is_empty() {
        return false;
    }
    let mut search = s.sync_standby.clone().unwrap_or_default();
    if check_leader {
        search.push(',');
        search.push_str(leader);
    }
    let name = name.to_lowercase();
    search
        .to_lowercase()
        .split(',')
        .map(str::trim)
        .any(|n| !n.is_empty() && n == name)
}

// ---- a group's members as patronictl's `cluster_as_json` sees them ----

/// One member of a group as `GET /cluster` (Patroni's `cluster_as_json`) describes it.
#[derive(Debug, Clone)]
pub struct ClusterMember {
    /// Member name.
    pub name: String,
    /// `leader`, `standby_leader`, `sync_standby`, `quorum_standby` or `replica`.
    pub role: &'static str,
    /// Replication state for non-leaders when published, else the member state.
    pub state: String,
    /// PostgreSQL host from `conn_url` (or `conn_kwargs`).
    pub host: Option<String>,
    /// PostgreSQL port, when the address has one.
    pub port: Option<u16>,
    /// `timeline`, `pending_restart`, `pending_restart_reason`, `scheduled_restart`, `tags` as
    /// published (absent ones left out).
    pub extra: Vec<(&'static str, Doc)>,
    /// Non-leaders: `(receive, replay, xlog_location)`, each `(LSN text, lag in bytes)`, or
    /// `"unknown"` twice when not published.
    pub positions: Option<[(Doc, Doc); 3]>,
}

impl ClusterMember {
    fn extra(&self, key: &str) -> Option<&Doc> {
        self.extra.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    fn replicatefrom(&self) -> Option<&str> {
        match self.extra("tags") {
            Some(Doc::Map(m)) => m
                .iter()
                .find(|(k, _)| k == "replicatefrom")
                .and_then(|(_, v)| match v {
                    Doc::Str(s) if !s.is_empty() => Some(s.as_str()),
                    _ => None,
                }),
            _ => None,
        }
    }
}

/// `postgres://host:port/db` → host (lower-cased, IPv6 brackets removed, as Python's `urlparse`)
/// and port; a member's `conn_kwargs` win when published.
pub fn member_address(m: &Member) -> (Option<String>, Option<u16>) {
    if let Some(kw) = m.data.other.get("conn_kwargs").and_then(Value::as_object) {
        let host = kw
            .get("host")
            .and_then(Value::as_str)
            .filter(|h| !h.is_empty());
        let port = kw
            .get("port")
            .and_then(|p| {
                p.as_u64()
                    .or_else(|| p.as_str().and_then(|s| s.parse().ok()))
            })
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0);
        return (host.map(String::from), host.and(port));
    }
    match parse_conn_url(&m.data.conn_url) {
        Some((h, p)) => {
            let h = h
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_lowercase();
            if h.is_empty() {
                (None, None)
            } else {
                (Some(h), Some(p))
            }
        }
        None => (None, None),
    }
}

/// The members of one group, sorted by name, as `cluster_as_json` describes them.
pub fn cluster_members(view: &ClusterView) -> Vec<ClusterMember> {
    let gc = GlobalConfig::of(view);
    let leader = view.leader.as_ref().map(|l| l.name.as_str());
    let optime = view.optime.map_or(0, |o| o.0);
    let mut out: Vec<ClusterMember> = view
        .members
        .iter()
        .map(|m| {
            let is_leader = Some(m.name.as_str()) == leader;
            let role = if is_leader {
                if gc.is_standby_cluster() {
                    "standby_leader"
                } else {
                    "leader"
                }
            } else if gc.is_synchronous_mode() && sync_matches(view, &m.name, false) {
                if gc.is_quorum_commit_mode() {
                    "quorum_standby"
                } else {
                    "sync_standby"
                }
            } else {
                "replica"
            };
            let replication_state = if role == "leader" {
                None
            } else {
                m.data.replication_state.clone().filter(|s| !s.is_empty())
            };
            let state = replication_state.unwrap_or_else(|| m.data.state.clone());
            let (host, port) = member_address(m);
            let mut extra: Vec<(&'static str, Doc)> = Vec::new();
            if let Some(t) = m.data.timeline {
                extra.push(("timeline", Doc::Int(i128::from(t))));
            }
            for key in [
                "pending_restart",
                "pending_restart_reason",
                "scheduled_restart",
            ] {
                if let Some(v) = m.data.other.get(key) {
                    extra.push((key, Doc::from(v)));
                }
            }
            if let Some((h, p)) = m.pooler() {
                extra.push(("pooler", Doc::Str(format!("{h}:{p}"))));
            }
            if let Some(t) = &m.data.tags {
                extra.push((
                    "tags",
                    Doc::from(&serde_json::to_value(t).unwrap_or(json!({}))),
                ));
            }
            let positions = (!is_leader).then(|| {
                [m.data.receive_lsn, m.data.replay_lsn, m.data.xlog_location].map(|lsn| match lsn {
                    Some(l) if l.0 != 0 => (
                        Doc::Str(l.to_string()),
                        Doc::Int(i128::from(optime.saturating_sub(l.0))),
                    ),
                    _ => (Doc::str("unknown"), Doc::str("unknown")),
                })
            });
            ClusterMember {
                name: m.name.clone(),
                role,
                state,
                host,
                port,
                extra,
                positions,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Python's `str.title()` of a role with `_` as spaces: `sync_standby` → `Sync Standby`.
fn role_title(role: &str) -> String {
    role.split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f
                    .to_uppercase()
                    .chain(c.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

/// The members in replication-tree order with their names indented (`+ b`, `  + c`): the leader,
/// then each member under the one its `replicatefrom` tag names (when that is another non-leader),
/// else under the leader. Members caught in a `replicatefrom` cycle are not shown (as patronictl).
pub fn topology_order(members: Vec<ClusterMember>) -> Vec<ClusterMember> {
    let leader = members
        .iter()
        .find(|m| m.role.ends_with("leader"))
        .map(|m| m.name.clone());
    let replicas: Vec<String> = members
        .iter()
        .filter(|m| !m.role.ends_with("leader"))
        .map(|m| m.name.clone())
        .collect();
    let mut children: Vec<(Option<String>, ClusterMember)> = Vec::new();
    let mut root: Option<ClusterMember> = None;
    for m in members {
        if m.role.ends_with("leader") {
            if root.is_none() {
                root = Some(m);
            }
            continue;
        }
        let parent = m
            .replicatefrom()
            .filter(|p| *p != m.name && replicas.iter().any(|r| r == p))
            .map(String::from)
            .or_else(|| leader.clone());
        children.push((parent, m));
    }
    let mut out = Vec::new();
    fn walk(
        level: usize,
        name: Option<String>,
        node: Option<ClusterMember>,
        children: &mut Vec<(Option<String>, ClusterMember)>,
        out: &mut Vec<ClusterMember>,
    ) {
        if let Some(mut n) = node {
            if level > 0 {
                n.name = format!("{}+ {}", " ".repeat((level - 1) * 2), n.name);
            }
            if !n.name.is_empty() {
                out.push(n);
            }
        }
        let mine: Vec<ClusterMember> = {
            let mut taken = Vec::new();
            let mut rest = Vec::new();
            for (p, m) in children.drain(..) {
                if p == name {
                    taken.push(m);
                } else {
                    rest.push((p, m));
                }
            }
            *children = rest;
            taken
        };
        for m in mine {
            let n = Some(m.name.clone());
            walk(level + 1, n, Some(m), children, out);
        }
    }
    let root_name = root.as_ref().map(|r| r.name.clone());
    walk(0, root_name, root, &mut children, &mut out);
    out
}

/// Lines patronictl prints under a group's table: maintenance mode, a scheduled switchover.
pub fn service_info(view: &ClusterView) -> Vec<String> {
    let mut info = Vec::new();
    if GlobalConfig::of(view).is_paused() {
        info.push("Maintenance mode: on".to_string());
    }
    if let Some(f) = &view.failover {
        if let Some(at) = f.scheduled_at.as_deref().filter(|s| !s.is_empty()) {
            let mut s = format!(
                "Switchover scheduled at: {}",
                py_isoformat(at).unwrap_or_else(|| at.to_string())
            );
            if let Some(l) = f.leader.as_deref().filter(|l| !l.is_empty()) {
                s.push_str(&format!("\n{:>24}: {l}", "from"));
            }
            if let Some(c) = f.member.as_deref().filter(|c| !c.is_empty()) {
                s.push_str(&format!("\n{:>24}: {c}", "to"));
            }
            info.push(s);
        }
    }
    info
}

/// What `list`, `topology` and the tables other commands print first are drawn from.
#[derive(Debug, Clone, Copy)]
pub struct ListSpec<'a> {
    /// Cluster name (scope).
    pub name: &'a str,
    /// A Citus cluster: a `Group` column, a `Citus cluster` title.
    pub citus: bool,
    /// `--group`: only this group, named in the title.
    pub group: Option<u32>,
    /// Each group shown and its view, ascending (a plain cluster is group 0).
    pub groups: &'a [(u32, ClusterView)],
    /// Output style.
    pub style: Style,
    /// `-e`: always the Pending restart, Pending restart reason, Scheduled restart and Tags
    /// columns (otherwise each only when some member has a value).
    pub extended: bool,
    /// The Citus databases the configuration file names: a `Citus databases:` line under the
    /// boxed table when there are several (praetor's; patronictl has no such line).
    pub databases: &'a [String],
}

/// The table of `list` / `topology` (patronictl 4.1's `output_members`) and, in the boxed styles,
/// the lines under it (maintenance mode, a scheduled switchover; per group in a Citus cluster).
pub fn render_members(spec: &ListSpec) -> String {
    let mut columns: Vec<&str> = vec![
        "Cluster",
        "Member",
        "Host",
        "Role",
        "State",
        "TL",
        "Receive LSN",
        "Receive Lag",
        "Replay LSN",
        "Replay Lag",
    ];
    if spec.citus {
        columns.insert(1, "Group");
    }
    let groups: Vec<(u32, Vec<ClusterMember>)> = spec
        .groups
        .iter()
        .map(|(g, v)| (*g, cluster_members(v)))
        .collect();
    let addressed: Vec<&ClusterMember> = groups
        .iter()
        .flat_map(|(_, ms)| ms.iter())
        .filter(|m| m.host.is_some())
        .collect();
    // praetor's: where a member runs a connection pooler (`proxy_url`, shown as host:port), only
    // when some member does, so a cluster without poolers looks as under patronictl.
    if addressed.iter().any(|m| m.extra("pooler").is_some()) {
        columns.insert(
            columns.iter().position(|c| *c == "Host").unwrap_or(0) + 1,
            "Pooler",
        );
    }
    for (col, key) in [
        ("Pending restart", "pending_restart"),
        ("Pending restart reason", "pending_restart_reason"),
        ("Scheduled restart", "scheduled_restart"),
        ("Tags", "tags"),
    ] {
        if spec.extended
            || addressed
                .iter()
                .any(|m| m.extra(key).is_some_and(Doc::truthy))
        {
            columns.push(col);
        }
    }
    let mut hosts: Vec<&str> = addressed.iter().filter_map(|m| m.host.as_deref()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    let append_port = addressed.iter().any(|m| m.port.is_some_and(|p| p != 5432))
        || hosts.len() < addressed.len();
    let hide_long = spec.style.boxed();
    let mut rows: Vec<Vec<Doc>> = Vec::new();
    for (g, members) in groups {
        let members = if spec.style == Style::Topology {
            topology_order(members)
        } else {
            members
        };
        for m in members {
            rows.push(
                columns
                    .iter()
                    .map(|c| member_cell(spec.name, g, &m, c, append_port, hide_long))
                    .collect(),
            );
        }
    }
    let main = spec
        .groups
        .iter()
        .find(|(g, _)| *g == spec.group.unwrap_or(0))
        .or(spec.groups.first())
        .map(|(_, v)| v);
    let initialize = match main.and_then(|v| v.initialize.as_deref()) {
        None => "uninitialized",
        Some("") => "initializing",
        Some(s) => s,
    };
    let title = match (spec.citus, spec.group) {
        (true, Some(g)) => format!(" Citus cluster: {} (group: {g}, {initialize}) ", spec.name),
        (true, None) => format!(" Citus cluster: {} ", spec.name),
        _ => format!(" Cluster: {} ({initialize}) ", spec.name),
    };
    if spec.style.boxed() {
        for c in &mut columns {
            if *c == "Receive Lag" || *c == "Replay Lag" {
                *c = "Lag";
            }
        }
    }
    let mut out = print_output(
        Some(&columns),
        rows,
        &["Group", "Receive LSN", "Replay LSN", "Lag", "TL"],
        spec.style,
        &title,
        "\t",
    );
    if spec.style.boxed() {
        for (g, v) in spec.groups {
            let info = service_info(v);
            if info.is_empty() {
                continue;
            }
            if spec.citus && spec.group.is_none() {
                out.push_str(&format!("Citus group: {g}\n"));
            }
            out.push_str(&format!(" {}\n", info.join("\n ")));
        }
        if spec.citus && spec.databases.len() > 1 {
            out.push_str(&format!(
                " Citus databases: {}\n",
                spec.databases.join(", ")
            ));
        }
    }
    out
}

fn member_cell(
    cluster: &str,
    group: u32,
    m: &ClusterMember,
    column: &str,
    append_port: bool,
    hide_long: bool,
) -> Doc {
    let empty = || Doc::str("");
    // Lag in MB, rounded as Python's round(); blank when unknown.
    let lag_mb = |d: &Doc| match d {
        Doc::Int(b) => Doc::Int(pyfmt::round_half_even(*b as f64 / 1024.0 / 1024.0)),
        Doc::Str(s) if s == "unknown" => empty(),
        other => other.clone(),
    };
    // Members that published only xlog_location (older agents): it stands for the receive
    // position when streaming, else for the replay position.
    let positions = m.positions.as_ref().map(|[recv, replay, lsn]| {
        let unknown = |d: &Doc| matches!(d, Doc::Str(s) if s == "unknown");
        if unknown(&recv.0) && unknown(&replay.0) && !unknown(&lsn.0) {
            if m.state == "streaming" {
                (lsn.clone(), replay.clone())
            } else {
                (recv.clone(), lsn.clone())
            }
        } else {
            (recv.clone(), replay.clone())
        }
    });
    match column {
        "Cluster" => Doc::str(cluster),
        "Group" => Doc::Int(i128::from(group)),
        "Member" => Doc::str(&m.name),
        "Host" => match (&m.host, m.port) {
            (Some(h), Some(p)) if append_port => Doc::Str(format!("{h}:{p}")),
            (Some(h), _) => Doc::str(h),
            (None, _) => empty(),
        },
        "Pooler" => m.extra("pooler").cloned().unwrap_or_else(empty),
        "Role" => Doc::Str(role_title(m.role)),
        "State" => Doc::str(&m.state),
        "TL" => m.extra("timeline").cloned().unwrap_or_else(empty),
        "Receive LSN" => positions.map_or_else(empty, |p| p.0 .0),
        "Receive Lag" => positions.map_or_else(empty, |p| lag_mb(&p.0 .1)),
        "Replay LSN" => positions.map_or_else(empty, |p| p.1 .0),
        "Replay Lag" => positions.map_or_else(empty, |p| lag_mb(&p.1 .1)),
        "Pending restart" => Doc::str(if m.extra("pending_restart").is_some_and(Doc::truthy) {
            "*"
        } else {
            ""
        }),
        "Pending restart reason" => match m.extra("pending_restart_reason") {
            Some(Doc::Map(params)) => Doc::Str(
                params
                    .iter()
                    .map(|(param, v)| {
                        let field = |k: &str| match v {
                            Doc::Map(f) => f
                                .iter()
                                .find(|(n, _)| n == k)
                                .map_or(String::new(), |(_, x)| x.py_str()),
                            _ => String::new(),
                        };
                        let full =
                            format!("{param}: {}->{}", field("old_value"), field("new_value"));
                        if hide_long && full.chars().count() > 50 {
                            format!("{param}: [hidden - too long]")
                        } else {
                            full
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            _ => empty(),
        },
        "Scheduled restart" => match m.extra("scheduled_restart") {
            Some(Doc::Map(s)) => {
                let get = |k: &str| s.iter().find(|(n, _)| n == k).map(|(_, v)| v.py_str());
                let mut v = get("schedule").unwrap_or_default();
                if let Some(pv) = get("postgres_version") {
                    v.push_str(&format!(" if version < {pv}"));
                }
                Doc::Str(v)
            }
            Some(other) => other.clone(),
            None => empty(),
        },
        "Tags" => m.extra("tags").cloned().unwrap_or_else(empty),
        _ => empty(),
    }
}

/// Renders `list` for one plain cluster (`groups` has one entry with `None`) or for the groups of a
/// Citus cluster (`Some(group)` each, all groups shown).
///
/// # Errors
/// Never; kept fallible for callers written against the earlier signature.
pub fn render_list(
    scope: &str,
    groups: &[(Option<u32>, ClusterView)],
    format: Format,
    extended: bool,
) -> Result<String> {
    let citus = groups.iter().any(|(g, _)| g.is_some());
    let groups: Vec<(u32, ClusterView)> = groups
        .iter()
        .map(|(g, v)| (g.unwrap_or(0), v.clone()))
        .collect();
    Ok(render_members(&ListSpec {
        name: scope,
        citus,
        group: None,
        groups: &groups,
        style: format.into(),
        extended,
        databases: &[],
    }))
}
