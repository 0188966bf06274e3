//! Patroni's backup integration settings, typed and checked: the replica creation methods
//! (`postgresql.create_replica_methods` and one section per method), a custom bootstrap method
//! (`bootstrap.method` and its section) and `recovery_conf` (the local `postgresql` section's, or
//! the dynamic configuration's).
//!
//! Meanings and calling conventions are Patroni 4.1's (`postgresql/bootstrap.py`
//! `create_replica` / `_custom_bootstrap`, `postgresql/config.py` `build_recovery_params`); the
//! runtime runs what these describe, in the order the pure core plans ([`crate::ha::replica`]).
//! Where Patroni would quietly do something else, this module refuses with the key named: a
//! method without `command` (Patroni would run the method's name), a command that is not an
//! executable file, a `recovery_conf` setting PostgreSQL does not know.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;

/// The name of praetor's built-in replica creation method (pg_basebackup from the source member).
pub const BASEBACKUP: &str = "basebackup";

/// One replica creation method, in `create_replica_methods` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaMethod {
    /// The name listed in `create_replica_methods` (and of its section under `postgresql`).
    pub name: String,
    /// The command line split into words as Patroni splits it (`shlex`, no shell); empty for
    /// [`BASEBACKUP`].
    pub command: Vec<String>,
    /// `keep_data`: the data directory is not emptied before the command runs (a `--delta`
    /// restore reuses it).
    pub keep_data: bool,
    /// `no_params`: the command gets none of Patroni's arguments (`--scope`, `--role`,
    /// `--datadir`, `--connstring`); the section's other keys are still passed, as Patroni
    /// passes them.
    pub no_params: bool,
    /// `no_leader` (or the older `no_master`): the method builds a replica without a running
    /// primary (a restore from a backup), so it may run while the group has no leader.
    pub no_leader: bool,
    /// The section's other keys as Patroni passes them, `--key=value`, in name order (Patroni
    /// keeps the file's order; the arguments are named, so only a script reading them by position
    /// could tell), with `no_params` off the flags `keep_data`, `no_leader`, `no_master` among
    /// them, as Patroni passes them.
    pub extra: Vec<(String, String)>,
}

impl ReplicaMethod {
    /// Whether this is praetor's built-in pg_basebackup.
    pub fn is_basebackup(&self) -> bool {
        self.name == BASEBACKUP
    }

    /// The built-in method alone: what runs when `create_replica_methods` is absent or empty.
    pub fn basebackup() -> ReplicaMethod {
        ReplicaMethod {
            name: BASEBACKUP.into(),
            command: Vec::new(),
            keep_data: false,
            no_params: false,
            no_leader: false,
            extra: Vec::new(),
        }
    }

    /// The command's arguments after the command itself, as Patroni builds them: the section's
    /// other keys as `--key=value`, then, with `no_params` off, `--scope`, `--role=replica`,
    /// `--datadir` and `--connstring` (empty when no member is the source).
    pub fn arguments(&self, scope: &str, data_dir: &str, connstring: &str) -> Vec<String> {
        if self.no_params {
            return self
                .extra
                .iter()
                .map(|(k, v)| format!("--{k}={v}"))
                .collect();
        }
        let mut args: Vec<String> = self
            .extra
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "scope" | "role" | "datadir" | "connstring"))
            .map(|(k, v)| format!("--{k}={v}"))
            .collect();
        args.extend([
            format!("--scope={scope}"),
            "--role=replica".to_string(),
            format!("--datadir={data_dir}"),
            format!("--connstring={connstring}"),
        ]);
        args
    }
}

/// `bootstrap.method` naming a section with a `command`: the new cluster is made by that command
/// (a restore from a backup) instead of initdb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomBootstrap {
    /// The method's name (`bootstrap.method`).
    pub name: String,
    /// The command line, split as Patroni splits it.
    pub command: Vec<String>,
    /// `no_params`: no `--scope` / `--datadir` (the other keys are still passed, as Patroni
    /// passes them).
    pub no_params: bool,
    /// `keep_existing_recovery_conf`: the recovery settings and `recovery.signal` the command left
    /// (pgBackRest writes them) are kept; otherwise they are removed unless `recovery_conf` is
    /// given.
    pub keep_existing_recovery_conf: bool,
    /// `recovery_conf`: recovery settings written for the restored server's recovery (with
    /// `recovery.signal`), name → value as written to `postgresql.conf`.
    pub recovery_conf: Option<BTreeMap<String, String>>,
    /// The section's other keys as `--key=value`.
    pub extra: Vec<(String, String)>,
}

impl CustomBootstrap {
    /// The command's arguments after the command itself: `--scope` and `--datadir` unless
    /// `no_params`, then the other keys (Patroni's `_custom_bootstrap`).
    pub fn arguments(&self, scope: &str, data_dir: &str) -> Vec<String> {
        let mut args = if self.no_params {
            Vec::new()
        } else {
            vec![format!("--scope={scope}"), format!("--datadir={data_dir}")]
        };
        args.extend(self.extra.iter().map(|(k, v)| format!("--{k}={v}")));
        args
    }
}

/// The recovery settings PostgreSQL 13+ knows (and the older names Patroni translates:
/// `standby_mode`, `trigger_file`, `pause_at_recovery_target`), lower case.
pub const RECOVERY_PARAMETERS: &[&str] = &[
    "archive_cleanup_command",
    "pause_at_recovery_target",
    "primary_conninfo",
    "primary_slot_name",
    "promote_trigger_file",
    "recovery_end_command",
    "recovery_min_apply_delay",
    "recovery_target",
    "recovery_target_action",
    "recovery_target_inclusive",
    "recovery_target_lsn",
    "recovery_target_name",
    "recovery_target_time",
    "recovery_target_timeline",
    "recovery_target_xid",
    "restore_command",
    "standby_mode",
    "trigger_file",
];

/// `(key, message)` for a configuration problem; the caller adds the file.
pub type Problem = (String, String);

/// A scalar as Python's `str()` prints it (what Patroni puts after `--key=`): `True`/`False`,
/// numbers as written, strings as they are.
fn python_str(v: &Json) -> Option<String> {
    match v {
        Json::Bool(true) => Some("True".into()),
        Json::Bool(false) => Some("False".into()),
        Json::Number(n) => Some(n.to_string()),
        Json::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// A flag as Patroni's truthiness reads it (`bool(value)`): false, 0, "" and null are off.
fn truthy(v: Option<&Json>) -> bool {
    match v {
        None | Some(Json::Null) => false,
        Some(Json::Bool(b)) => *b,
        Some(Json::Number(n)) => n.as_f64() != Some(0.0),
        Some(Json::String(s)) => !s.is_empty(),
        Some(Json::Array(a)) => !a.is_empty(),
        Some(Json::Object(o)) => !o.is_empty(),
    }
}

/// Splits `command` at `key` and checks that its program is an executable file (a path, or a
/// name found on `PATH`).
///
/// # Errors
/// Empty, an unclosed quote, or a program that is not an executable file.
pub fn command_words(key: &str, v: Option<&Json>) -> Result<Vec<String>, Problem> {
    let line = match v {
        Some(Json::String(s)) => s,
        None | Some(Json::Null) => return Err((
            key.into(),
            "required: the command to run (praetor does not run the method's name as a command)"
                .into(),
        )),
        Some(other) => return Err((key.into(), format!("expected a command line, got {other}"))),
    };
    let words = shlex::split(line)
        .filter(|w| !w.is_empty())
        .ok_or_else(|| {
            (
                key.to_string(),
                format!("expected a command line that splits into words, got {line:?}"),
            )
        })?;
    let program = &words[0];
    if !is_executable(program) {
        return Err((
            key.into(),
            format!(
                "{program:?} is not an executable file{}",
                if program.contains('/') {
                    ""
                } else {
                    " on PATH"
                }
            ),
        ));
    }
    Ok(words)
}

/// Whether `program` (a path, or a name looked up on `PATH`) is a regular file with an execute
/// bit.
fn is_executable(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let ok = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return ok(Path::new(program));
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| ok(&d.join(program))))
        .unwrap_or(false)
}

/// The names in `create_replica_methods` (a list, or a comma-separated string), in order.
fn method_names(v: Option<&Json>) -> Result<Vec<String>, Problem> {
    let key = "postgresql.create_replica_methods";
    let names: Vec<String> = match v {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::String(s)) => s
            .split(',')
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect(),
        Some(Json::Array(items)) => items
            .iter()
            .map(|m| match m {
                Json::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                other => Err((
                    key.to_string(),
                    format!("expected a list of method names, got {other} in it"),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err((
                key.into(),
                format!("expected a list of method names, got {other}"),
            ))
        }
    };
    Ok(names)
}

/// The other keys of a method's section as `--key=value` pairs.
fn extra_keys(
    section: &serde_json::Map<String, Json>,
    prefix: &str,
    reserved: &[&str],
) -> Result<Vec<(String, String)>, Problem> {
    let mut out = Vec::new();
    for (k, v) in section {
        if reserved.contains(&k.as_str()) {
            continue;
        }
        let text = python_str(v).ok_or_else(|| {
            (
                format!("{prefix}.{k}"),
                format!("expected a string, number or boolean (passed as --{k}=VALUE), got {v}"),
            )
        })?;
        out.push((k.clone(), text));
    }
    Ok(out)
}

/// The replica creation methods of the local `postgresql` section's other keys, in order;
/// `[basebackup]` when none are listed.
///
/// # Errors
/// A listed method without a section or a `command`, a command that is not executable, a key
/// whose value is not a scalar.
pub fn replica_methods(pg_other: &BTreeMap<String, Json>) -> Result<Vec<ReplicaMethod>, Problem> {
    let names = method_names(pg_other.get("create_replica_methods"))?;
    methods_named(pg_other, &names)
}

/// The replica creation methods `names` (in order) with their sections from the local
/// `postgresql` section's other keys (`standby_cluster.create_replica_methods` names them in
/// the dynamic configuration); `[basebackup]` for no names.
///
/// # Errors
/// As [`replica_methods`].
pub fn methods_named(
    pg_other: &BTreeMap<String, Json>,
    names: &[String],
) -> Result<Vec<ReplicaMethod>, Problem> {
    let names = names.to_vec();
    if names.is_empty() {
        return Ok(vec![ReplicaMethod::basebackup()]);
    }
    let mut out = Vec::new();
    for name in names {
        if name == BASEBACKUP {
            out.push(ReplicaMethod::basebackup());
            continue;
        }
        let prefix = format!("postgresql.{name}");
        let section = match pg_other.get(&name) {
            Some(Json::Object(m)) => m,
            None | Some(Json::Null) => {
                return Err((
                    prefix,
                    "required: create_replica_methods lists this method, so its section must give its command".into(),
                ))
            }
            Some(other) => {
                return Err((
                    prefix,
                    format!("expected a mapping with the method's command, got {other}"),
                ))
            }
        };
        let command = command_words(&format!("{prefix}.command"), section.get("command"))?;
        let no_params = truthy(section.get("no_params"));
        // Patroni passes every other key of the section, the flags too; with no_params it
        // removes only no_params, no_leader and keep_data (no_master is still passed).
        let mut reserved = vec!["command"];
        if no_params {
            reserved.extend(["no_params", "no_leader", "keep_data"]);
        }
        out.push(ReplicaMethod {
            command,
            keep_data: truthy(section.get("keep_data")),
            no_params,
            no_leader: truthy(section.get("no_leader")) || truthy(section.get("no_master")),
            extra: extra_keys(section, &prefix, &reserved)?,
            name,
        });
    }
    Ok(out)
}

/// The custom bootstrap method of the `bootstrap` section's other keys: `None` for initdb
/// (`method` absent, empty or `initdb`).
///
/// # Errors
/// A method without a section or a `command` (Patroni would quietly run initdb instead), a
/// command that is not executable, a bad `recovery_conf`.
pub fn custom_bootstrap(
    bootstrap_other: &BTreeMap<String, Json>,
) -> Result<Option<CustomBootstrap>, Problem> {
    let name = match bootstrap_other.get("method") {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::String(s)) if s.trim().is_empty() || s == "initdb" => return Ok(None),
        Some(Json::String(s)) => s.clone(),
        Some(other) => {
            return Err((
                "bootstrap.method".into(),
                format!("expected the name of a section under bootstrap, got {other}"),
            ))
        }
    };
    let prefix = format!("bootstrap.{name}");
    let section = match bootstrap_other.get(&name) {
        Some(Json::Object(m)) => m,
        _ => {
            return Err((
                prefix,
                "required: bootstrap.method names this section, which must give the command that creates the cluster (Patroni would run initdb instead)".into(),
            ))
        }
    };
    let command = command_words(&format!("{prefix}.command"), section.get("command"))?;
    let recovery_conf = match section.get("recovery_conf") {
        None | Some(Json::Null) => None,
        Some(v) => Some(recovery_params(v, &format!("{prefix}.recovery_conf"))?),
    };
    let no_params = truthy(section.get("no_params"));
    let extra = extra_keys(
        section,
        &prefix,
        &[
            "command",
            "no_params",
            "keep_existing_recovery_conf",
            "recovery_conf",
            "scope",
            "datadir",
        ],
    )?;
    Ok(Some(CustomBootstrap {
        name,
        command,
        no_params,
        keep_existing_recovery_conf: truthy(section.get("keep_existing_recovery_conf")),
        recovery_conf,
        extra,
    }))
}

/// A `recovery_conf` mapping as `name → value written to postgresql.conf` (names lower case,
/// values quoted as PostgreSQL reads them).
///
/// # Errors
/// Not a mapping, a name PostgreSQL does not know as a recovery setting ([`RECOVERY_PARAMETERS`]),
/// or a value that is not a scalar.
pub fn recovery_params(v: &Json, key: &str) -> Result<BTreeMap<String, String>, Problem> {
    let map = match v {
        Json::Null => return Ok(BTreeMap::new()),
        Json::Object(m) => m,
        other => {
            return Err((
                key.into(),
                format!("expected a mapping of recovery settings, got {other}"),
            ))
        }
    };
    let mut out = BTreeMap::new();
    for (name, value) in map {
        let lower = name.to_lowercase();
        if !RECOVERY_PARAMETERS.contains(&lower.as_str()) {
            return Err((
                format!("{key}.{name}"),
                format!(
                    "not a recovery setting of PostgreSQL; expected one of {}",
                    RECOVERY_PARAMETERS.join(", ")
                ),
            ));
        }
        let text = match value {
            Json::Bool(b) => (if *b { "on" } else { "off" }).to_string(),
            Json::Number(n) => n.to_string(),
            Json::String(s) => s.clone(),
            other => {
                return Err((
                    format!("{key}.{name}"),
                    format!("expected a string, number or boolean, got {other}"),
                ))
            }
        };
        out.insert(lower, text);
    }
    Ok(out)
}

/// Whether a setting of a restored cluster's recovery is one a standby never takes from
/// `recovery_conf` (Patroni's `build_recovery_params`: the recovery target and the upstream are
/// its own).
pub fn standby_drops(name: &str) -> bool {
    name.starts_with("recovery_target") || name == "primary_conninfo" || name == "primary_slot_name"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn other(v: Json) -> BTreeMap<String, Json> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn methods_in_order_with_patronis_arguments() {
        let m = replica_methods(&other(json!({
            "create_replica_methods": ["wal_g", "pgbackrest", "basebackup"],
            "wal_g": {"command": "/bin/true --x", "keep_data": true, "threads": 4},
            "pgbackrest": {"command": "sh -c true", "no_params": true, "keep_data": true, "no_leader": 1},
        })))
        .unwrap();
        assert_eq!(
            m.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
            ["wal_g", "pgbackrest", "basebackup"]
        );
        assert_eq!(m[0].command, ["/bin/true", "--x"]);
        assert_eq!(
            m[0].arguments("demo", "/d", "host=h"),
            [
                "--keep_data=True",
                "--threads=4",
                "--scope=demo",
                "--role=replica",
                "--datadir=/d",
                "--connstring=host=h"
            ]
        );
        assert!(m[1].no_leader && m[1].keep_data && m[1].arguments("s", "/d", "").is_empty());
        assert_eq!(
            m[0].arguments("demo", "/d", "").last().unwrap(),
            "--connstring="
        );
        assert!(m[2].is_basebackup());
        assert_eq!(
            replica_methods(&BTreeMap::new()).unwrap(),
            [ReplicaMethod::basebackup()]
        );
    }

    #[test]
    fn bad_methods_are_refused_by_name() {
        let err = |v| replica_methods(&other(v)).unwrap_err().0;
        assert_eq!(
            err(json!({"create_replica_methods": ["x"]})),
            "postgresql.x"
        );
        assert_eq!(
            err(json!({"create_replica_methods": ["x"], "x": {"keep_data": true}})),
            "postgresql.x.command"
        );
        let (k, m) = replica_methods(&other(json!({
            "create_replica_methods": ["x"], "x": {"command": "/nonexistent/restore --a"}
        })))
        .unwrap_err();
        assert_eq!(k, "postgresql.x.command");
        assert!(m.contains("not an executable file"), "{m}");
        assert_eq!(
            err(json!({"create_replica_methods": ["x"], "x": {"command": "no-such-program-here"}})),
            "postgresql.x.command"
        );
        assert_eq!(
            err(json!({"create_replica_methods": ["x"], "x": {"command": "true", "opts": [1]}})),
            "postgresql.x.opts"
        );
        assert_eq!(
            err(json!({"create_replica_methods": "x, 7"})),
            "postgresql.x"
        );
    }

    #[test]
    fn custom_bootstrap_and_recovery_conf() {
        assert_eq!(
            custom_bootstrap(&other(json!({"method": "initdb"}))).unwrap(),
            None
        );
        let b = custom_bootstrap(&other(json!({
            "method": "restore",
            "restore": {
                "command": "true",
                "keep_existing_recovery_conf": true,
                "recovery_conf": {"restore_command": "cp /a/%f %p", "recovery_target_action": "promote"},
                "target": "x"
            }
        })))
        .unwrap()
        .unwrap();
        assert!(b.keep_existing_recovery_conf);
        assert_eq!(
            b.arguments("s", "/d"),
            ["--scope=s", "--datadir=/d", "--target=x"]
        );
        assert_eq!(
            b.recovery_conf.unwrap()["restore_command"],
            "cp /a/%f %p".to_string()
        );
        assert_eq!(
            custom_bootstrap(&other(json!({"method": "restore"})))
                .unwrap_err()
                .0,
            "bootstrap.restore"
        );
        assert_eq!(
            custom_bootstrap(&other(
                json!({"method": "restore", "restore": {"no_params": true}})
            ))
            .unwrap_err()
            .0,
            "bootstrap.restore.command"
        );
        let (k, m) = recovery_params(
            &json!({"restore_command": "x", "recovery_min_apply_dela": "1s"}),
            "postgresql.recovery_conf",
        )
        .unwrap_err();
        assert_eq!(k, "postgresql.recovery_conf.recovery_min_apply_dela");
        assert!(m.contains("recovery_min_apply_delay"), "{m}");
    }
}
