//! Pure rendering of the files and command lines the agent hands to PostgreSQL:
//! `postgresql.conf`, `pg_hba.conf`, the pgpass file, libpq connection strings, initdb's
//! arguments and `synchronous_standby_names`. Nothing here reads a file or a clock, so every
//! function is tested by its output.
//!
//! Formats: PostgreSQL docs "Setting Parameters" (quoting), "libpq Connection Strings",
//! "The Password File"; which settings are cluster-wide is Patroni's rule (§6.1 of the
//! reference).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::config::{Authentication, Config, Credentials, DynamicConfig, InitdbOption};
use crate::types::slot_name_for;

/// GUCs that must be equal on all members: taken from the dynamic config only (Patroni §6.1), with
/// Patroni's defaults.
pub const CLUSTER_WIDE_GUCS: &[(&str, &str)] = &[
    ("max_connections", "100"),
    ("max_locks_per_transaction", "64"),
    ("max_worker_processes", "8"),
    ("max_prepared_transactions", "0"),
    ("wal_level", "replica"),
    ("track_commit_timestamp", "off"),
    ("max_wal_senders", "10"),
    ("max_replication_slots", "10"),
    ("wal_keep_size", "128MB"),
    ("wal_log_hints", "on"),
];

/// Marker line in postgresql.conf naming the member a standby streams from, so an agent restarted
/// under a running server knows what it follows.
pub const FOLLOWING_MARK: &str = "# praetor: following member ";

/// First line of every `postgresql.conf` the agent writes; a file without it is the user's own
/// and is kept as `postgresql.base.conf`.
pub const MANAGED_MARK: &str = "Managed by praetor";

/// A value as it is written in postgresql.conf: booleans as `on`/`off`, numbers bare, anything else
/// single-quoted with `\` and `'` escaped.
pub fn quote_guc(v: &Json) -> String {
    match v {
        Json::Bool(b) => if *b { "on" } else { "off" }.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => quote_text(s),
        other => format!("'{}'", other.to_string().replace('\'', "''")),
    }
}

/// A text value single-quoted for postgresql.conf.
fn quote_text(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// Quotes a libpq connection-string value.
pub fn conninfo_value(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `host:port` → `(host, port)`; a listen address of `0.0.0.0`/`*`/`::` maps to 127.0.0.1 for local
/// use, a missing or bad port to 5432.
pub fn split_host_port(s: &str) -> (String, u16) {
    let (h, p) = s.rsplit_once(':').unwrap_or((s, "5432"));
    let first = h.split(',').next().unwrap_or("127.0.0.1").trim();
    let host = match first {
        "" | "*" | "0.0.0.0" | "::" => "127.0.0.1",
        x => x,
    };
    (host.to_string(), p.parse().unwrap_or(5432))
}

/// `synchronous_standby_names` text for `names` with `count` synchronous standbys (FIRST
/// semantics): `a`, or `2 (a,b)`; names that are not plain lower-case identifiers are double-quoted.
pub fn guc_value(names: &[String], count: usize) -> String {
    let quote = |n: &String| {
        let plain = n
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n != "first"
            && n != "any";
        if plain {
            n.clone()
        } else {
            format!("\"{}\"", n.replace('"', "\"\""))
        }
    };
    let mut sorted: Vec<String> = names.iter().map(quote).collect();
    sorted.sort();
    match sorted.len() {
        0 => String::new(),
        1 => sorted[0].clone(),
        _ => format!("{} ({})", count.min(sorted.len()), sorted.join(",")),
    }
}

/// libpq connection string for `role` at `host:port`, naming this member (`application_name`,
/// which is what a primary's `pg_stat_replication` and `synchronous_standby_names` match) and the
/// pgpass file that holds the password: no password ever appears in it.
pub fn conninfo(
    member: &str,
    passfile: &str,
    host: &str,
    port: u16,
    role: &Credentials,
    dbname: &str,
) -> String {
    let mut s = format!(
        "host={} port={port} user={} dbname={dbname} application_name={} connect_timeout=3",
        conninfo_value(host),
        conninfo_value(role.username.as_deref().unwrap_or("postgres")),
        conninfo_value(member),
    );
    s.push_str(&format!(" passfile={}", conninfo_value(passfile)));
    for (k, v) in [
        ("sslmode", &role.sslmode),
        ("sslcert", &role.sslcert),
        ("sslkey", &role.sslkey),
        ("sslrootcert", &role.sslrootcert),
        ("channel_binding", &role.channel_binding),
        ("gssencmode", &role.gssencmode),
    ] {
        if let Some(v) = v {
            s.push_str(&format!(" {k}={}", conninfo_value(v)));
        }
    }
    s
}

/// The pgpass file's text: one `*:*:*:user:password` line per configured role with both a user
/// name and a password (superuser, replication, rewind), `\` and `:` escaped.
pub fn pgpass_text(a: &Authentication) -> String {
    let mut lines = String::new();
    for c in [Some(&a.superuser), Some(&a.replication), a.rewind.as_ref()]
        .into_iter()
        .flatten()
    {
        if let (Some(u), Some(p)) = (&c.username, &c.password) {
            let esc = |s: &str| s.replace('\\', "\\\\").replace(':', "\\:");
            lines.push_str(&format!("*:*:*:{}:{}\n", esc(u), esc(p)));
        }
    }
    lines
}

/// initdb's arguments after `-D <data_dir>`: the superuser's name, `bootstrap.initdb`'s options
/// (`- flag` → `--flag`, `- key: value` → `--key=value`), and the default authentication methods
/// when no `auth*` option is given: local `trust`, host `scram-sha-256`. initdb sets
/// `password_encryption` from the host method, so the roles' passwords are stored as SCRAM
/// secrets, which both `md5` and `scram-sha-256` lines of `pg_hba` accept (PostgreSQL's
/// "Password Authentication"); with `md5` here a `scram-sha-256` line could never log in.
pub fn initdb_args(cfg: &Config) -> Vec<String> {
    let su = &cfg.postgresql.authentication.superuser;
    let mut args = vec![
        "-U".to_string(),
        su.username.as_deref().unwrap_or("postgres").to_string(),
    ];
    let mut has_auth = false;
    for o in &cfg.bootstrap.initdb {
        match o {
            InitdbOption::Flag(f) => args.push(format!("--{f}")),
            InitdbOption::Pair(m) => {
                for (k, v) in m {
                    has_auth |= k.starts_with("auth");
                    let v = match v {
                        serde_yaml::Value::String(s) => s.clone(),
                        other => serde_yaml::to_string(other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    };
                    args.push(format!("--{k}={v}"));
                }
            }
        }
    }
    if !has_auth {
        args.push("--auth-local=trust".into());
        args.push("--auth-host=scram-sha-256".into());
    }
    args
}

/// What `postgresql.conf` depends on besides the configuration.
#[derive(Debug, Clone, Default)]
pub struct ConfInputs<'a> {
    /// The member streamed from and the connection string to it (a standby).
    pub upstream: Option<(&'a str, String)>,
    /// Whether the server runs as a standby (`synchronous_standby_names` is then empty).
    pub standby: bool,
    /// `synchronous_standby_names`' members and count (a primary).
    pub sync_standbys: (&'a [String], usize),
    /// Whether `citus.so` is installed (a stand-in has none: it is then not preloaded).
    pub citus_library: bool,
    /// The socket directory to use when the configuration names none and the default one
    /// (`/var/run/postgresql`) is not writable.
    pub socket_dir: Option<String>,
}

/// The settings written to `postgresql.conf`, as `name → written value`. Cluster-wide settings
/// come from the dynamic configuration only (Patroni's rule), the others from the dynamic and then
/// the local `postgresql.parameters`; then what the agent itself owns: listen address and port,
/// `cluster_name`, `hot_standby`, the standby's `primary_conninfo` / `primary_slot_name`,
/// `recovery_target_timeline`, `synchronous_standby_names` and Citus's settings.
pub fn conf_params(
    cfg: &Config,
    dynamic: &DynamicConfig,
    i: &ConfInputs<'_>,
) -> BTreeMap<String, String> {
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in CLUSTER_WIDE_GUCS {
        params.insert((*k).into(), (*v).into());
    }
    for (k, v) in &dynamic.postgresql.parameters {
        params.insert(k.clone(), quote_guc(v));
    }
    for (k, v) in &cfg.postgresql.parameters {
        if !CLUSTER_WIDE_GUCS.iter().any(|(n, _)| n == k) {
            params.insert(k.clone(), quote_guc(v));
        }
    }
    if cfg.citus.is_some() {
        citus_gucs(&mut params, i.citus_library, &cfg.postgresql.listen);
    }
    let listen = &cfg.postgresql.listen;
    let (hosts, port) = listen.rsplit_once(':').unwrap_or((listen, "5432"));
    params.insert("listen_addresses".into(), quote_text(hosts));
    params.insert("port".into(), port.to_string());
    params.insert("cluster_name".into(), quote_text(&cfg.scope));
    params.insert("hot_standby".into(), "on".into());
    // PostgreSQL's default of 5 s between WAL-receiver reconnection attempts is what a
    // synchronous-mode primary waits for after its restart (commits need a standby back);
    // 1 s unless configured.
    params
        .entry("wal_retrieve_retry_interval".into())
        .or_insert_with(|| "'1s'".into());
    if let Some(dir) = &i.socket_dir {
        params
            .entry("unix_socket_directories".into())
            .or_insert_with(|| quote_text(dir));
    }
    if let Some((_, ci)) = &i.upstream {
        params.insert("primary_conninfo".into(), quote_text(ci));
        if dynamic.postgresql.use_slots {
            params.insert(
                "primary_slot_name".into(),
                quote_text(&slot_name_for(&cfg.name)),
            );
        }
    }
    params.insert("recovery_target_timeline".into(), "'latest'".into());
    let (names, count) = i.sync_standbys;
    let value = if i.standby {
        String::new()
    } else {
        guc_value(names, count)
    };
    params.insert("synchronous_standby_names".into(), quote_text(&value));
    params
}

/// `postgresql.conf`'s text: the managed header, the include of `postgresql.base.conf`, one line
/// per setting and, on a standby, the [`FOLLOWING_MARK`] line.
pub fn postgresql_conf(cfg: &Config, dynamic: &DynamicConfig, i: &ConfInputs<'_>) -> String {
    let mut text = format!(
        "# {MANAGED_MARK}: rewritten before every start. Put local changes in postgresql.base.conf\n\
         # or in the postgresql.parameters section of the praetor configuration.\n\
         include_if_exists 'postgresql.base.conf'\n",
    );
    for (k, v) in &conf_params(cfg, dynamic, i) {
        text.push_str(&format!("{k} = {v}\n"));
    }
    if let Some((name, _)) = &i.upstream {
        text.push_str(&format!("{FOLLOWING_MARK}{name}\n"));
    }
    text
}

/// The member a `postgresql.conf` written by [`postgresql_conf`] says it follows.
pub fn following_in(conf: &str) -> Option<String> {
    conf.lines()
        .find_map(|l| l.strip_prefix(FOLLOWING_MARK).map(|n| n.trim().to_string()))
}

/// `postgresql.auto.conf` without `primary_conninfo` / `primary_slot_name` (a copy from another
/// member by pg_basebackup or pg_rewind must not point this server anywhere).
pub fn strip_auto_conf(text: &str) -> String {
    text.lines()
        .filter(|l| {
            !l.trim_start().starts_with("primary_conninfo")
                && !l.trim_start().starts_with("primary_slot_name")
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `pg_hba.conf`'s text from `postgresql.pg_hba` (or `bootstrap.pg_hba`); `None` when neither has
/// lines and initdb's file stays.
pub fn pg_hba_conf(cfg: &Config) -> Option<String> {
    let hba: &Vec<String> = if !cfg.postgresql.pg_hba.is_empty() {
        &cfg.postgresql.pg_hba
    } else {
        &cfg.bootstrap.pg_hba
    };
    (!hba.is_empty()).then(|| {
        let mut t = String::from("# Managed by praetor (postgresql.pg_hba)\n");
        for l in hba {
            t.push_str(l);
            t.push('\n');
        }
        t
    })
}

/// The settings Citus needs (reference §3.2): `citus` first in shared_preload_libraries (when
/// the library is installed: a stand-in has none), max_prepared_transactions = 2 ×
/// max_connections when 0, wal_level logical, citus.local_hostname.
fn citus_gucs(params: &mut BTreeMap<String, String>, library: bool, listen: &str) {
    if library {
        let current = params
            .get("shared_preload_libraries")
            .cloned()
            .unwrap_or_default();
        let libs: Vec<String> = current
            .trim_matches('\'')
            .split(',')
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty() && l != "citus")
            .collect();
        let all = std::iter::once("citus".to_string())
            .chain(libs)
            .collect::<Vec<_>>()
            .join(",");
        params.insert("shared_preload_libraries".into(), quote_text(&all));
    }
    let number = |name: &str, default: i64| {
        params
            .get(name)
            .map(|v| v.trim_matches('\''))
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(default)
    };
    if number("max_prepared_transactions", 0) == 0 {
        let prepared = 2 * number("max_connections", 100);
        params.insert("max_prepared_transactions".into(), prepared.to_string());
    }
    params.insert("wal_level".into(), "logical".into());
    let (host, _) = split_host_port(listen);
    params.insert("citus.local_hostname".into(), quote_text(&host));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn config(extra: &str) -> Config {
        let text = format!(
            "scope: s\nname: m1\nrestapi: {{listen: 127.0.0.1:8008, connect_address: 127.0.0.1:8008}}\netcd3: {{hosts: 127.0.0.1:2379}}\n\
             postgresql:\n  listen: 127.0.0.1:5433\n  connect_address: 127.0.0.1:5433\n  data_dir: /tmp/d\n  authentication:\n    \
             superuser: {{username: postgres, password: 'a:b'}}\n    replication: {{username: rep, password: r}}\n{extra}"
        );
        Config::parse("test", &text, &Default::default()).expect("test config")
    }

    #[test]
    fn synchronous_standby_names_text() {
        assert_eq!(guc_value(&v(&["c", "b"]), 2), "2 (b,c)");
        assert_eq!(guc_value(&v(&["node-1"]), 1), "\"node-1\"");
        assert_eq!(guc_value(&[], 1), "");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_guc(&Json::Bool(true)), "on");
        assert_eq!(quote_guc(&serde_json::json!(5)), "5");
        assert_eq!(quote_guc(&serde_json::json!("it's")), "'it''s'");
        assert_eq!(conninfo_value("a'b\\"), "'a\\'b\\\\'");
        assert_eq!(split_host_port("0.0.0.0:6000"), ("127.0.0.1".into(), 6000));
        assert_eq!(split_host_port("db1,db2:x"), ("db1".into(), 5432));
    }

    #[test]
    fn pgpass_escapes_and_skips_roles_without_password() {
        let cfg = config("");
        assert_eq!(
            pgpass_text(&cfg.postgresql.authentication),
            "*:*:*:postgres:a\\:b\n*:*:*:rep:r\n"
        );
    }

    #[test]
    fn initdb_defaults_and_options() {
        assert_eq!(
            initdb_args(&config("")),
            [
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256"
            ]
        );
        let cfg = config("bootstrap:\n  initdb: [data-checksums, {auth-host: scram-sha-256}]\n");
        assert_eq!(
            initdb_args(&cfg),
            [
                "-U",
                "postgres",
                "--data-checksums",
                "--auth-host=scram-sha-256"
            ]
        );
    }

    #[test]
    fn standby_conf_names_its_upstream_and_slot() {
        let cfg = config("");
        let dynamic = DynamicConfig::default();
        let i = ConfInputs {
            upstream: Some(("m2", "host=x".into())),
            standby: true,
            sync_standbys: (&[], 1),
            ..Default::default()
        };
        let p = conf_params(&cfg, &dynamic, &i);
        assert_eq!(p["primary_conninfo"], "'host=x'");
        assert_eq!(p["primary_slot_name"], "'m1'");
        assert_eq!(p["synchronous_standby_names"], "''");
        assert_eq!(p["listen_addresses"], "'127.0.0.1'");
        assert_eq!(p["port"], "5433");
        assert_eq!(p["cluster_name"], "'s'");
        let text = postgresql_conf(&cfg, &dynamic, &i);
        assert!(text.starts_with(&format!("# {MANAGED_MARK}")));
        assert_eq!(following_in(&text).as_deref(), Some("m2"));
    }

    #[test]
    fn primary_conf_has_sync_standbys_and_no_conninfo() {
        let cfg = config("  parameters: {max_connections: 5, work_mem: 4MB}\n");
        let names = v(&["m2", "m3"]);
        let i = ConfInputs {
            sync_standbys: (&names, 1),
            socket_dir: Some("/tmp".into()),
            ..Default::default()
        };
        let p = conf_params(&cfg, &DynamicConfig::default(), &i);
        assert_eq!(p["synchronous_standby_names"], "'1 (m2,m3)'");
        assert!(!p.contains_key("primary_conninfo"));
        // max_connections is cluster-wide: the local value does not count.
        assert_eq!(p["max_connections"], "100");
        assert_eq!(p["work_mem"], "'4MB'");
        assert_eq!(p["unix_socket_directories"], "'/tmp'");
    }

    #[test]
    fn citus_settings() {
        let mut p = BTreeMap::from([
            (
                "shared_preload_libraries".to_string(),
                "'pg_stat_statements,citus'".to_string(),
            ),
            ("max_connections".to_string(), "50".to_string()),
            ("max_prepared_transactions".to_string(), "0".to_string()),
        ]);
        citus_gucs(&mut p, true, "10.0.0.1:5432");
        assert_eq!(p["shared_preload_libraries"], "'citus,pg_stat_statements'");
        assert_eq!(p["max_prepared_transactions"], "100");
        assert_eq!(p["wal_level"], "logical");
        assert_eq!(p["citus.local_hostname"], "'10.0.0.1'");
    }

    #[test]
    fn auto_conf_loses_the_upstream() {
        assert_eq!(
            strip_auto_conf("a = 1\nprimary_conninfo = 'x'\n primary_slot_name = 'y'\n"),
            "a = 1\n"
        );
    }
}
