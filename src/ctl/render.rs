//! Pure rendering of praetorctl's output, as patronictl 4.1 prints it: the members table of `list`
//! and `topology` (a PrettyTable box whose top border carries the cluster's title, reference §5.1),
//! its TSV, JSON and YAML forms, `history`, query results, the dynamic configuration as YAML and its
//! diff, `-s`/`-p`/`--apply` edits, `--dcs-url` and `--scheduled` parsing.
//!
//! Python's own printing (PyYAML, `json.dumps`, `str()`, `difflib`) is reproduced in [`pyfmt`] and
//! `difflib`, so scripts that parse patronictl's text parse praetorctl's.

mod difflib;
pub mod pyfmt;

use anyhow::{bail, Result};
use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone};
use serde_json::{json, Value};

use crate::dcs::{parse_conn_url, ClusterView, Member};

pub use pyfmt::Doc;

/// `-f/--format` of `list`, `history` and `remove`, `--format` of `query` (patronictl's choices;
/// `yml` is `yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Boxed table.
    Pretty,
    /// Tab-separated with a header row.
    Tsv,
    /// JSON list of objects.
    Json,
    /// YAML list of objects.
    #[value(alias = "yml")]
    Yaml,
}

/// How a table is printed: a [`Format`], or `topology` (the pretty table with the members as a
/// replication tree and the tags in YAML flow style).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Boxed table.
    Pretty,
    /// Boxed table, members as a tree.
    Topology,
    /// Tab-separated values.
    Tsv,
    /// `json.dumps` of a list of objects.
    Json,
    /// `yaml.safe_dump` of a list of objects.
    Yaml,
}

impl From<Format> for Style {
    fn from(f: Format) -> Style {
        match f {
            Format::Pretty => Style::Pretty,
            Format::Tsv => Style::Tsv,
            Format::Json => Style::Json,
            Format::Yaml => Style::Yaml,
        }
    }
}

impl Style {
    fn boxed(self) -> bool {
        matches!(self, Style::Pretty | Style::Topology)
    }
}

// ---- the PrettyTable box ----

/// Draws a PrettyTable box as patronictl does: `+---+` rules, cells padded by one space, columns
/// left-aligned except those named in `right`, one rule under the header, a rule between rows
/// when `all_rules` (patronictl asks for it when a cell has several lines), and `title` written
/// over the top border after its first `+` (cut to fit). Rows without headers get PrettyTable's
/// `Field 1`, `Field 2`… Ends with a newline.
pub fn table_box(
    title: &str,
    headers: &[String],
    rows: &[Vec<String>],
    right: &[&str],
    all_rules: bool,
) -> String {
    let ncols = if headers.is_empty() {
        rows.first().map_or(0, Vec::len)
    } else {
        headers.len()
    };
    let headers: Vec<String> = if headers.is_empty() {
        (1..=ncols).map(|n| format!("Field {n}")).collect()
    } else {
        headers.to_vec()
    };
    let width = |s: &str| s.split('\n').map(|l| l.chars().count()).max().unwrap_or(0);
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(ncols) {
            widths[i] = widths[i].max(width(c));
        }
    }
    let rule: String = std::iter::once("+".to_string())
        .chain(widths.iter().map(|w| format!("{}+", "-".repeat(w + 2))))
        .collect();
    let right_aligned: Vec<bool> = headers
        .iter()
        .map(|h| right.contains(&h.as_str()))
        .collect();
    let render_row = |cells: &[String]| -> Vec<String> {
        let split: Vec<Vec<&str>> = (0..ncols)
            .map(|i| cells.get(i).map_or(vec![""], |c| c.split('\n').collect()))
            .collect();
        let height = split.iter().map(Vec::len).max().unwrap_or(1).max(1);
        (0..height)
            .map(|line| {
                let mut s = String::from("|");
                for (i, w) in widths.iter().enumerate() {
                    let text = split[i].get(line).copied().unwrap_or("");
                    let pad = w - text.chars().count();
                    if right_aligned[i] {
                        s.push_str(&format!(" {}{text} |", " ".repeat(pad)));
                    } else {
                        s.push_str(&format!(" {text}{} |", " ".repeat(pad)));
                    }
                }
                s
            })
            .collect()
    };
    let mut top = rule.clone();
    if !title.is_empty() {
        let n = top.chars().count();
        let cut: String = title.chars().take(n.saturating_sub(2)).collect();
        let rest: String = top.chars().skip(1 + cut.chars().count()).collect();
        top = format!("+{cut}{rest}");
    }
    let mut lines = vec![top];
    lines.extend(render_row(&headers));
    lines.push(rule.clone());
    for r in rows {
        lines.extend(render_row(r));
        if all_rules {
            lines.push(rule.clone());
        }
    }
    if !all_rules || rows.is_empty() {
        lines.push(rule);
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Draws a PrettyTable-style box (patronictl's look) with `title` injected into the top border.
/// Kept for callers outside praetorctl (the demo); see [`table_box`].
pub fn pretty_table(
    title: Option<&str>,
    headers: &[&str],
    rows: &[Vec<String>],
    right: &[&str],
) -> String {
    let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    table_box(title.unwrap_or(""), &headers, rows, right, false)
}

/// patronictl's `print_output`: a table of `columns` × `rows` in `style`. `title` (non-empty only
/// for the members table) goes into the box's top border; with it, JSON and YAML leave out empty
/// values, Tags cells become YAML (block style in pretty, flow style in TSV and topology), and the
/// boxed forms drop the `Cluster` column (and `Group` when the title names the group). Returns
/// the printed text, final newline included.
pub fn print_output(
    columns: Option<&[&str]>,
    rows: Vec<Vec<Doc>>,
    right: &[&str],
    style: Style,
    title: &str,
    delimiter: &str,
) -> String {
    let columns: Vec<&str> = columns.unwrap_or(&[]).to_vec();
    if matches!(style, Style::Json | Style::Yaml) {
        let list = Doc::List(
            rows.into_iter()
                .map(|r| {
                    Doc::Map(
                        columns
                            .iter()
                            .zip(r)
                            .filter(|(_, v)| title.is_empty() || !v.py_str().is_empty())
                            .map(|(k, v)| (k.to_string(), v))
                            .collect(),
                    )
                })
                .collect(),
        );
        return match style {
            Style::Json => format!("{}\n", pyfmt::py_json(&list)),
            _ => format!("{}\n", pyfmt::py_yaml(&list, false)),
        };
    }
    let mut rows = rows;
    let mut columns = columns;
    let members_table = !title.is_empty() && columns.first() == Some(&"Cluster");
    if members_table {
        if let Some(i) = columns.iter().position(|c| *c == "Tags") {
            for r in &mut rows {
                if r[i].truthy() {
                    let yaml = pyfmt::py_yaml(&r[i], style != Style::Pretty);
                    r[i] = Doc::Str(yaml.trim().to_string());
                }
            }
        }
        if style != Style::Tsv {
            let skip = if title.contains(" (group: ") { 2 } else { 1 };
            columns.drain(..skip.min(columns.len()));
            for r in &mut rows {
                r.drain(..skip.min(r.len()));
            }
        }
    }
    if style == Style::Tsv {
        let mut out = String::new();
        if !columns.is_empty() {
            out.push_str(&columns.join(delimiter));
            out.push('\n');
        }
        for r in &rows {
            out.push_str(
                &r.iter()
                    .map(Doc::py_str)
                    .collect::<Vec<_>>()
                    .join(delimiter),
            );
            out.push('\n');
        }
        return out;
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(Doc::py_str).collect())
        .collect();
    let multiline = rows.iter().any(|r| {
        r.iter()
            .any(|c| matches!(c, Doc::Str(s) if s.contains('\n')))
    });
    let headers: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    format!(
        "{}\n",
        table_box(title, &headers, &cells, right, multiline).trim_end_matches('\n')
    )
}

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

/// Python's `datetime.isoformat()` of a timestamp as `dateutil` parses it (`2030-01-01T10:00Z` →
/// `2030-01-01T10:00:00+00:00`); `None` when it does not parse.
pub fn py_isoformat(text: &str) -> Option<String> {
    parse_datetime(text).map(|d| d.isoformat('T'))
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
    }))
}

/// `history`: `TL | LSN | Reason | Timestamp | New Leader`, the LSN in bytes, as patronictl.
///
/// # Errors
/// Never; kept fallible for callers written against the earlier signature.
pub fn render_history(view: &ClusterView, format: Format) -> Result<String> {
    let rows: Vec<Vec<Doc>> = view
        .history
        .iter()
        .map(|h| {
            vec![
                Doc::Int(i128::from(h.timeline)),
                Doc::Int(i128::from(h.switch_lsn.0)),
                Doc::str(&h.reason),
                Doc::str(h.timestamp.clone().unwrap_or_default()),
                Doc::str(h.new_leader.clone().unwrap_or_default()),
            ]
        })
        .collect();
    Ok(print_output(
        Some(&["TL", "LSN", "Reason", "Timestamp", "New Leader"]),
        rows,
        &["TL", "LSN"],
        format.into(),
        "",
        "\t",
    ))
}

// ---- the dynamic configuration ----

/// YAML text of a configuration as patronictl shows it (`show-config`, the editor's file, the
/// diff): PyYAML block style, keys sorted.
pub fn config_yaml(v: &Value) -> String {
    pyfmt::py_yaml(&Doc::from(v), false)
}

/// `difflib.unified_diff` of two texts, one printed line per element (`--- `, `+++ `, hunks);
/// empty when the texts are equal.
pub fn text_diff(before: &str, after: &str) -> Vec<String> {
    let a: Vec<&str> = before.trim_end_matches('\n').split('\n').collect();
    let b: Vec<&str> = after.trim_end_matches('\n').split('\n').collect();
    difflib::unified_diff(&a, &b)
}

/// The diff patronictl shows between two configurations' YAML forms, as one text; empty when equal.
pub fn config_diff(old: &Value, new: &Value) -> String {
    text_diff(&config_yaml(old), &config_yaml(new))
        .into_iter()
        .map(|l| l + "\n")
        .collect()
}

impl Doc {
    /// The JSON value (what is written to etcd); NaN and infinities become null.
    pub fn to_value(&self) -> Value {
        match self {
            Doc::Null => Value::Null,
            Doc::Bool(b) => json!(b),
            Doc::Int(i) => i64::try_from(*i)
                .map(|n| json!(n))
                .or_else(|_| u64::try_from(*i).map(|n| json!(n)))
                .unwrap_or_else(|_| json!(*i as f64)),
            Doc::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Doc::Str(s) => json!(s),
            Doc::List(l) => Value::Array(l.iter().map(Doc::to_value).collect()),
            Doc::Map(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_value())).collect())
            }
        }
    }
}

fn yaml_to_json(y: serde_yaml::Value) -> Value {
    serde_json::to_value(y).unwrap_or(Value::Null)
}

/// `yaml.safe_load` of a `-s`/`-p` value: plain scalars with YAML 1.1's types (`on` is true,
/// empty is null), quoted scalars as text, flow collections as such.
///
/// # Errors
/// Text that is not YAML.
pub fn parse_set_value(raw: &str) -> Result<Value> {
    let t = raw.trim();
    let plain = !t.starts_with(['\'', '"', '[', '{', '|', '>', '&', '*', '!']);
    let parsed: serde_yaml::Value = match serde_yaml::from_str(t) {
        Ok(v) => v,
        Err(e) => bail!("{raw:?} is not a YAML value: {e}"),
    };
    match parsed {
        serde_yaml::Value::Null
        | serde_yaml::Value::Bool(_)
        | serde_yaml::Value::Number(_)
        | serde_yaml::Value::String(_)
            if plain =>
        {
            let text = t.split(" #").next().unwrap_or("").trim_end();
            Ok(pyfmt::yaml11_plain(text).to_value())
        }
        other => Ok(yaml_to_json(other)),
    }
}

/// Applies `-s key.path=value` to a dynamic configuration as patronictl does: the path is split
/// on dots (below `postgresql.parameters` the rest is one name, so GUCs with dots work), the value
/// is YAML (`null` or nothing deletes the key), a non-mapping on the way is replaced by one, and
/// mappings left empty by a deletion are removed.
///
/// # Errors
/// No `=` in the argument (`Invalid parameter setting …`), or a value that is not YAML.
pub fn apply_set(config: &mut Value, arg: &str) -> Result<()> {
    let Some((path, raw)) = arg.split_once('=') else {
        bail!("Invalid parameter setting {arg}");
    };
    let value = parse_set_value(raw)?;
    let keys: Vec<String> = path.trim().split('.').map(String::from).collect();
    if !config.is_object() {
        *config = json!({});
    }
    set_path(config, &keys, value, 0);
    Ok(())
}

fn set_path(config: &mut Value, path: &[String], value: Value, depth: usize) {
    let Some(obj) = config.as_object_mut() else {
        return;
    };
    let joined;
    let path: &[String] = if depth == 2 && path.len() > 1 {
        joined = [path.join(".")];
        &joined
    } else {
        path
    };
    let key = &path[0];
    if path.len() == 1 {
        if value.is_null() {
            obj.remove(key);
        } else {
            obj.insert(key.clone(), value);
        }
        return;
    }
    if !obj.get(key).is_some_and(Value::is_object) {
        obj.insert(key.clone(), json!({}));
    }
    let below_parameters = depth == 1 && key == "parameters";
    let next_depth = match depth {
        0 if key == "postgresql" => 1,
        1 if below_parameters => 2,
        _ => 3,
    };
    let child = obj.get_mut(key).expect("inserted above");
    set_path(child, &path[1..], value, next_depth);
    if child.as_object().is_some_and(serde_json::Map::is_empty) {
        obj.remove(key);
    }
}

/// Patroni's `patch_config`: merges `patch` into `config`; a null deletes, mappings merge, other
/// values replace when their text differs (so `1` does not replace `"1"`).
pub fn patch_config(config: &mut Value, patch: &Value) {
    let (Some(c), Some(p)) = (config.as_object_mut(), patch.as_object()) else {
        return;
    };
    for (k, v) in p {
        if v.is_null() {
            c.remove(k);
        } else if let Some(old) = c.get_mut(k) {
            if v.is_object() {
                if old.is_object() {
                    patch_config(old, v);
                } else {
                    *old = v.clone();
                }
            } else if Doc::from(&*old).py_str() != Doc::from(v).py_str() {
                *old = v.clone();
            }
        } else {
            c.insert(k.clone(), v.clone());
        }
    }
}

// ---- command-line values ----

/// Parses `--dcs-url` as patronictl does (`[scheme://]host[:port][/namespace]`; no scheme means
/// etcd, localhost and port 2379 are the defaults) into (endpoint URL, namespace). praetor speaks
/// etcd v3 only, so `etcd://` is read as `etcd3://`.
///
/// # Errors
/// An unknown scheme (`Unknown dcs scheme: …`), or one of the stores praetor does not speak.
pub fn parse_dcs_url(url: &str) -> Result<(String, Option<String>)> {
    let (scheme, rest) = match url.split_once("//") {
        Some((s, r)) => (s.strip_suffix(':').unwrap_or(s), r),
        None => ("", url),
    };
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let hostport = hostport.rsplit('@').next().unwrap_or("");
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, p) = v6.split_once(']').unwrap_or((v6, ""));
        (format!("[{h}]"), p.strip_prefix(':').unwrap_or(""))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (hostport.to_string(), ""),
        }
    };
    let port: Option<u16> = if port.is_empty() {
        None
    } else {
        match port.parse() {
            Ok(p) => Some(p),
            Err(_) => bail!("Port could not be cast to integer value as {port:?}"),
        }
    };
    let scheme = match scheme {
        "" => match port {
            Some(2181) => "zookeeper",
            Some(8181) => "exhibitor",
            Some(8500) => "consul",
            _ => "etcd",
        },
        s => s,
    };
    match scheme {
        "etcd" | "etcd3" => {}
        "zookeeper" | "exhibitor" | "consul" => {
            bail!("praetorctl speaks etcd v3 only: {scheme} is not supported (--dcs-url {url})")
        }
        other => bail!("Unknown dcs scheme: {other}"),
    }
    let host = if host.is_empty() {
        "localhost".to_string()
    } else {
        host.to_lowercase()
    };
    let path = path.trim();
    let ns = (!path.is_empty() && path != "/").then(|| crate::config::normalise_namespace(path));
    Ok((format!("http://{host}:{}", port.unwrap_or(2379)), ns))
}

/// A date and time as `dateutil` parses it: with its UTC offset when the text has one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PyDateTime {
    /// Wall-clock date and time.
    pub naive: NaiveDateTime,
    /// Its UTC offset, when given.
    pub offset: Option<FixedOffset>,
}

impl PyDateTime {
    /// Python's `isoformat(sep)`: `2030-01-01T10:00:00+00:00`, microseconds only when not zero.
    pub fn isoformat(&self, sep: char) -> String {
        let mut s = self
            .naive
            .format(&format!("%Y-%m-%d{sep}%H:%M:%S"))
            .to_string();
        let micros = self.naive.and_utc().timestamp_subsec_micros();
        if micros != 0 {
            s.push_str(&format!(".{micros:06}"));
        }
        if let Some(o) = self.offset {
            let secs = o.local_minus_utc();
            let sign = if secs < 0 { '-' } else { '+' };
            let a = secs.abs();
            s.push_str(&format!("{sign}{:02}:{:02}", a / 3600, a % 3600 / 60));
            if a % 60 != 0 {
                s.push_str(&format!(":{:02}", a % 60));
            }
        }
        s
    }
}

/// Parses the timestamps patronictl's users give (`2030-01-01T10:00`, `2030-01-01 10:00:00+02:00`,
/// `…Z`, `…-3`, a date alone); `None` for anything else.
pub fn parse_datetime(text: &str) -> Option<PyDateTime> {
    let t = text.trim();
    if t.len() < 10 || !t.is_char_boundary(10) {
        return None;
    }
    let date = NaiveDate::parse_from_str(&t[..10], "%Y-%m-%d").ok()?;
    let rest = &t[10..];
    if rest.is_empty() {
        return Some(PyDateTime {
            naive: date.and_hms_opt(0, 0, 0)?,
            offset: None,
        });
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?.trim_start();
    // Split the time from a zone suffix: Z, UTC, or a sign.
    let (time, zone) = match rest
        .find(['Z', 'z', '+', '-', ' '])
        .or_else(|| rest.find("UTC"))
    {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let time = NaiveTime::parse_from_str(time, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(time, "%H:%M"))
        .ok()?;
    let offset = match zone {
        "" => None,
        "Z" | "z" | "UTC" | "GMT" => Some(FixedOffset::east_opt(0)?),
        z => {
            let sign = match z.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits = z[1..].replace(':', "");
            if digits.is_empty() || digits.len() > 4 || !digits.chars().all(|c| c.is_ascii_digit())
            {
                return None;
            }
            let (h, m): (i32, i32) = if digits.len() <= 2 {
                (digits.parse().ok()?, 0)
            } else {
                let split = digits.len() - 2;
                (digits[..split].parse().ok()?, digits[split..].parse().ok()?)
            };
            Some(FixedOffset::east_opt(sign * (h * 3600 + m * 60))?)
        }
    };
    Some(PyDateTime {
        naive: date.and_time(time),
        offset,
    })
}

/// patronictl's `--scheduled`: `None` for nothing or `now`, else the time with its zone (the
/// local one, `local`, when the text names none).
///
/// # Errors
/// `Unable to parse scheduled timestamp (…). It should be in an unambiguous format (e.g. ISO 8601)`.
pub fn parse_scheduled<Tz: TimeZone>(text: Option<&str>, local: &Tz) -> Result<Option<PyDateTime>> {
    let Some(t) = text.filter(|t| !t.is_empty() && *t != "now") else {
        return Ok(None);
    };
    let Some(mut d) = parse_datetime(t) else {
        bail!("Unable to parse scheduled timestamp ({t}). It should be in an unambiguous format (e.g. ISO 8601)");
    };
    if d.offset.is_none() {
        d.offset = local
            .offset_from_local_datetime(&d.naive)
            .earliest()
            .map(|o| o.fix());
    }
    Ok(Some(d))
}

/// Patroni's `format_pg_version`: 90624 → `9.6.24`, 140008 → `14.8`.
pub fn format_pg_version(v: i64) -> String {
    if v < 100000 {
        format!("{}.{}.{}", v / 10000, v / 100 % 100, v % 100)
    } else {
        format!("{}.{}", v / 10000, v % 100)
    }
}

/// Patroni's `postgres_version_to_int` check of `--pg-version`.
///
/// # Errors
/// Patroni's messages: `Invalid PostgreSQL version: …`, `Invalid PostgreSQL version format: X.Y or
/// X.Y.Z is accepted: …`.
pub fn check_pg_version(v: &str) -> Result<i64> {
    let Ok(parts) = v
        .split('.')
        .map(|p| p.trim().parse::<i64>())
        .collect::<Result<Vec<_>, _>>()
    else {
        bail!("Invalid PostgreSQL version: {v}");
    };
    if parts.len() < 2 || (parts.len() == 2 && parts[0] < 10) || parts.len() > 3 {
        bail!("Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: {v}");
    }
    Ok(match parts.as_slice() {
        [a, b] => a * 10000 + b,
        [a, b, c] => a * 10000 + b * 100 + c,
        _ => 0,
    })
}

#[cfg(test)]
mod tests;
