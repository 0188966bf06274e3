//! Pure rendering of praetorctl's output: patronictl's `list` table (a PrettyTable-style box whose
//! top border carries `Cluster: <scope> (<system identifier>)`, reference §5.1), `history`,
//! configuration YAML and diffs, `--set` values and `--dcs-url` parsing.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use comfy_table::{CellAlignment, ContentArrangement, Table};
use serde_json::{json, Value};

use crate::dcs::ClusterView;

/// Output format of `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Boxed table.
    Pretty,
    /// Tab-separated with a header row.
    Tsv,
    /// JSON list of objects.
    Json,
    /// YAML list of objects.
    Yaml,
}

/// PrettyTable's look: `+---+` borders, `|` columns, one rule under the header.
const PRETTY: &str = "||--+-++|    ++++++";

struct Row {
    group: Option<u32>,
    member: String,
    host: String,
    role: String,
    state: String,
    tl: String,
    lag: String,
    tags: String,
}

fn rows_for(group: Option<u32>, view: &ClusterView) -> Vec<Row> {
    view.members
        .iter()
        .map(|m| {
            let (role, state) = view.cluster_role_and_state(m);
            let is_leader = role == "leader";
            let role = match role {
                "leader" => "Leader",
                "sync_standby" => "Sync Standby",
                _ => "Replica",
            };
            let lag = if is_leader {
                String::new()
            } else {
                match (m.lsn(), view.optime) {
                    (Some(l), Some(o)) => format!(
                        "{}",
                        (o.saturating_sub(l) as f64 / 1048576.0).round() as u64
                    ),
                    (Some(_), None) => "0".into(),
                    _ => "unknown".into(),
                }
            };
            let tags = m
                .data
                .tags
                .as_ref()
                .filter(|t| **t != Default::default())
                .map(|t| {
                    serde_yaml::to_string(t)
                        .unwrap_or_default()
                        .trim()
                        .lines()
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            Row {
                group,
                member: m.name.clone(),
                host: m
                    .host_port()
                    .map(|(h, p)| format!("{h}:{p}"))
                    .unwrap_or_default(),
                role: role.into(),
                state,
                tl: m.data.timeline.map(|t| t.to_string()).unwrap_or_default(),
                lag,
                tags,
            }
        })
        .collect()
}

/// Renders `list` for one plain cluster (`groups` has one entry with `None`) or for the groups of a
/// Citus cluster (`Some(group)` each).
///
/// # Errors
/// Never for valid input; kept fallible for serialisation.
pub fn render_list(
    scope: &str,
    groups: &[(Option<u32>, ClusterView)],
    format: Format,
    extended: bool,
) -> Result<String> {
    let citus = groups.iter().any(|(g, _)| g.is_some());
    // One Citus group (`--group N`): its number goes into the title and the Group column goes away.
    let one_group = match groups {
        [(Some(g), _)] => Some(*g),
        _ => None,
    };
    let group_column = citus && one_group.is_none();
    let mut rows: Vec<Row> = groups.iter().flat_map(|(g, v)| rows_for(*g, v)).collect();
    // Host shows host:port only if any port differs from 5432 or two members share a host.
    let mut hosts: BTreeMap<String, usize> = BTreeMap::new();
    let mut odd_port = false;
    for r in &rows {
        let (h, p) = r.host.rsplit_once(':').unwrap_or((&r.host, "5432"));
        *hosts.entry(h.to_string()).or_default() += 1;
        odd_port |= p != "5432";
    }
    if !odd_port && hosts.values().all(|n| *n <= 1) {
        for r in &mut rows {
            if let Some((h, _)) = r.host.rsplit_once(':') {
                r.host = h.to_string();
            }
        }
    }
    let show_tags = extended || rows.iter().any(|r| !r.tags.is_empty());
    let mut headers: Vec<&str> = Vec::new();
    if group_column {
        headers.push("Group");
    }
    headers.extend(["Member", "Host", "Role", "State", "TL", "Lag in MB"]);
    if show_tags {
        headers.push("Tags");
    }
    let cells = |r: &Row| -> Vec<String> {
        let mut c = Vec::new();
        if group_column {
            c.push(r.group.map(|g| g.to_string()).unwrap_or_default());
        }
        c.extend([
            r.member.clone(),
            r.host.clone(),
            r.role.clone(),
            r.state.clone(),
            r.tl.clone(),
            r.lag.clone(),
        ]);
        if show_tags {
            c.push(r.tags.clone());
        }
        c
    };
    match format {
        Format::Pretty => {
            let sysid = match groups.first().and_then(|(_, v)| v.initialize.as_deref()) {
                None => "uninitialized".to_string(),
                Some("") => "initializing".to_string(),
                Some(s) => s.to_string(),
            };
            let title = match (citus, one_group) {
                (true, Some(g)) => format!(" Citus cluster: {scope} (group: {g}, {sysid}) "),
                (true, None) => format!(" Citus cluster: {scope} "),
                _ => format!(" Cluster: {scope} ({sysid}) "),
            };
            let body: Vec<Vec<String>> = rows.iter().map(cells).collect();
            let mut out =
                pretty_table(Some(&title), &headers, &body, &["Group", "TL", "Lag in MB"]);
            for (g, v) in groups {
                if v.config.as_ref().is_some_and(|c| c.pause) {
                    if let Some(g) = g {
                        out.push_str(&format!(" Citus group: {g}\n"));
                    }
                    out.push_str(" Maintenance mode: on\n");
                }
            }
            Ok(out)
        }
        Format::Tsv => {
            let mut out = String::new();
            let mut h = vec!["Cluster"];
            h.extend(headers.iter());
            out.push_str(&h.join("\t"));
            out.push('\n');
            for r in &rows {
                let mut c = vec![scope.to_string()];
                c.extend(cells(r));
                out.push_str(&c.join("\t"));
                out.push('\n');
            }
            Ok(out)
        }
        Format::Json | Format::Yaml => {
            let list: Vec<Value> = rows
                .iter()
                .map(|r| {
                    let mut o = serde_json::Map::new();
                    o.insert("Cluster".into(), json!(scope));
                    for (h, c) in headers.iter().zip(cells(r)) {
                        if c.is_empty() {
                            continue;
                        }
                        let v = match *h {
                            "TL" | "Group" => {
                                c.parse::<u64>().map(|n| json!(n)).unwrap_or(json!(c))
                            }
                            "Lag in MB" => c.parse::<u64>().map(|n| json!(n)).unwrap_or(json!(c)),
                            _ => json!(c),
                        };
                        o.insert((*h).to_string(), v);
                    }
                    Value::Object(o)
                })
                .collect();
            if format == Format::Json {
                Ok(format!("{}\n", serde_json::to_string(&list)?))
            } else {
                Ok(serde_yaml::to_string(&list)?)
            }
        }
    }
}

/// Draws a PrettyTable-style box (patronictl's look) with `title` injected into the top border.
pub fn pretty_table(
    title: Option<&str>,
    headers: &[&str],
    rows: &[Vec<String>],
    right: &[&str],
) -> String {
    let mut t = Table::new();
    t.load_preset(PRETTY)
        .set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(headers.to_vec());
    for r in rows {
        t.add_row(r.clone());
    }
    for (i, h) in headers.iter().enumerate() {
        if right.contains(h) {
            if let Some(col) = t.column_mut(i) {
                col.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    let text = t.to_string();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    if let (Some(title), Some(top)) = (title, lines.first_mut()) {
        let width = top.chars().count();
        let mut new_top = format!("+{title}");
        let rest: String = top.chars().skip(new_top.chars().count()).collect();
        new_top.push_str(&rest);
        *top = new_top.chars().take(width).collect();
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// `praetorctl history`: `TL | LSN | Reason | Timestamp | New Leader`, LSN in bytes as patronictl.
pub fn render_history(view: &ClusterView, format: Format) -> Result<String> {
    let headers = ["TL", "LSN", "Reason", "Timestamp", "New Leader"];
    let rows: Vec<Vec<String>> = view
        .history
        .iter()
        .map(|h| {
            vec![
                h.timeline.to_string(),
                h.switch_lsn.0.to_string(),
                h.reason.clone(),
                h.timestamp.clone().unwrap_or_default(),
                h.new_leader.clone().unwrap_or_default(),
            ]
        })
        .collect();
    Ok(match format {
        Format::Pretty => pretty_table(None, &headers, &rows, &["TL", "LSN"]),
        Format::Tsv => {
            let mut out = headers.join("\t") + "\n";
            for r in &rows {
                out.push_str(&r.join("\t"));
                out.push('\n');
            }
            out
        }
        Format::Json | Format::Yaml => {
            let list: Vec<Value> = view
                .history
                .iter()
                .map(|h| json!({"TL": h.timeline, "LSN": h.switch_lsn, "Reason": h.reason, "Timestamp": h.timestamp, "New Leader": h.new_leader}))
                .collect();
            if format == Format::Json {
                format!("{}\n", serde_json::to_string(&list)?)
            } else {
                serde_yaml::to_string(&list)?
            }
        }
    })
}

/// Applies `-s key.path=value` to a dynamic configuration: the value is parsed as YAML (so `true`,
/// `10` and `null` get their types); `null` deletes the key.
///
/// # Errors
/// No `=` in the argument.
pub fn apply_set(config: &mut Value, arg: &str) -> Result<()> {
    let Some((path, raw)) = arg.split_once('=') else {
        bail!("--set: expected key.path=value, got {arg:?}");
    };
    let value: Value = serde_yaml::from_str::<serde_yaml::Value>(raw)
        .ok()
        .and_then(|y| serde_json::to_value(y).ok())
        .unwrap_or_else(|| Value::String(raw.to_string()));
    let keys: Vec<&str> = path.split('.').filter(|k| !k.is_empty()).collect();
    if keys.is_empty() {
        bail!("--set: empty key in {arg:?}");
    }
    let mut cur = config;
    for k in &keys[..keys.len() - 1] {
        if !cur.is_object() {
            *cur = json!({});
        }
        cur = cur
            .as_object_mut()
            .expect("object")
            .entry(k.to_string())
            .or_insert_with(|| json!({}));
    }
    if !cur.is_object() {
        *cur = json!({});
    }
    let obj = cur.as_object_mut().expect("object");
    let last = keys[keys.len() - 1].to_string();
    if value.is_null() {
        obj.remove(&last);
    } else {
        obj.insert(last, value);
    }
    Ok(())
}

/// YAML text of a configuration, keys sorted (as patronictl shows it).
pub fn config_yaml(v: &Value) -> String {
    serde_yaml::to_string(v).unwrap_or_default()
}

/// A unified diff between two configurations' YAML forms; empty when equal.
pub fn config_diff(old: &Value, new: &Value) -> String {
    let (a, b) = (config_yaml(old), config_yaml(new));
    if a == b {
        return String::new();
    }
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header("", "")
        .to_string()
}

/// Parses `--dcs-url etcd3://host:port[/namespace]` into (endpoint URL, namespace).
///
/// # Errors
/// Wrong scheme or missing host.
pub fn parse_dcs_url(url: &str) -> Result<(String, Option<String>)> {
    let Some(rest) = url
        .strip_prefix("etcd3://")
        .or_else(|| url.strip_prefix("etcd://"))
    else {
        bail!("--dcs-url: expected etcd3://host:port[/namespace], got {url:?}");
    };
    let (hostport, ns) = match rest.split_once('/') {
        Some((h, n)) if !n.is_empty() => (h, Some(crate::config::normalise_namespace(n))),
        Some((h, _)) => (h, None),
        None => (rest, None),
    };
    if hostport.is_empty() {
        bail!("--dcs-url: no host in {url:?}");
    }
    let hostport = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:2379")
    };
    Ok((format!("http://{hostport}"), ns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dcs::{LeaderKey, Member, MemberData};
    use crate::types::Lsn;

    fn m(name: &str, port: u16, state: &str, lsn: u64) -> Member {
        Member {
            name: name.into(),
            data: MemberData {
                conn_url: format!("postgres://127.0.0.1:{port}/postgres"),
                state: "running".into(),
                replication_state: (state != "running").then(|| state.to_string()),
                timeline: Some(1),
                xlog_location: Some(Lsn(lsn)),
                ..Default::default()
            },
            lease: 0,
        }
    }

    #[test]
    fn pretty_layout_matches_patronictl() {
        let view = ClusterView {
            initialize: Some("7179854923881963547".into()),
            leader: Some(LeaderKey {
                name: "a".into(),
                lease: 1,
                mod_revision: 1,
            }),
            members: vec![
                m("a", 5432, "running", 100 << 20),
                m("b", 5433, "streaming", 99 << 20),
            ],
            optime: Some(Lsn(100 << 20)),
            ..Default::default()
        };
        let out = render_list("demo", &[(None, view)], Format::Pretty, false).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].starts_with("+ Cluster: demo (7179854923881963547) "),
            "{out}"
        );
        assert_eq!(
            lines[1],
            "| Member | Host           | Role    | State     | TL | Lag in MB |"
        );
        assert_eq!(
            lines[3],
            "| a      | 127.0.0.1:5432 | Leader  | running   |  1 |           |"
        );
        assert_eq!(
            lines[4],
            "| b      | 127.0.0.1:5433 | Replica | streaming |  1 |         1 |"
        );
        assert_eq!(lines[0].len(), lines[1].len());
    }

    #[test]
    fn set_paths() {
        let mut c = json!({"ttl": 30, "postgresql": {"parameters": {"a": 1}}});
        apply_set(&mut c, "loop_wait=5").unwrap();
        apply_set(&mut c, "postgresql.parameters.max_connections=200").unwrap();
        apply_set(&mut c, "postgresql.parameters.a=null").unwrap();
        apply_set(&mut c, "pause=true").unwrap();
        assert_eq!(
            c,
            json!({"ttl": 30, "loop_wait": 5, "pause": true, "postgresql": {"parameters": {"max_connections": 200}}})
        );
        assert!(apply_set(&mut c, "novalue").is_err());
        let d = config_diff(&json!({"ttl": 30}), &json!({"ttl": 20}));
        assert!(d.contains("-ttl: 30") && d.contains("+ttl: 20"), "{d}");
        assert_eq!(config_diff(&json!({"a": 1}), &json!({"a": 1})), "");
    }

    #[test]
    fn dcs_url() {
        assert_eq!(
            parse_dcs_url("etcd3://127.0.0.1:2379/svc").unwrap(),
            ("http://127.0.0.1:2379".into(), Some("/svc/".into()))
        );
        assert!(parse_dcs_url("zk://x").is_err());
    }
}
