//! Pure rendering of the files and command lines the agent hands to PostgreSQL:
//! `postgresql.conf`, `pg_hba.conf` and `pg_ident.conf`, the pgpass file, libpq connection strings, initdb's
//! arguments and `synchronous_standby_names`. Nothing here reads a file or a clock, so every
//! function is tested by its output.
//!
//! Formats: PostgreSQL docs "Setting Parameters" (quoting), "libpq Connection Strings",
//! "The Password File"; which settings are cluster-wide is Patroni's rule (§6.1 of the
//! reference).

use std::collections::BTreeMap;
use std::path::{Component, Path};

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

pub use crate::types::conninfo_value;

/// The socket directory the agent's own connections use with `postgresql.use_unix_socket`
/// (Patroni's rule): the first absolute path among `unix_socket_directories`, none (TCP to the
/// listen address) when no entry is one, and without the parameter libpq's default directory,
/// which is `/var/run/postgresql` in Debian's and PGDG's packages. `None` when the key is off.
pub fn unix_socket_dir(
    use_unix_socket: bool,
    unix_socket_directories: Option<&str>,
) -> Option<String> {
    if !use_unix_socket {
        return None;
    }
    match unix_socket_directories {
        None => Some("/var/run/postgresql".to_string()),
        Some(dirs) => dirs
            .split(',')
            .map(str::trim)
            .find(|d| d.starts_with('/'))
            .map(String::from),
    }
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
    let mut sorted: Vec<String> = names
        .iter()
        .map(|n| crate::types::quote_standby_name(n))
        .collect();
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
        ("sslcrl", &role.sslcrl),
        ("sslcrldir", &role.sslcrldir),
        ("channel_binding", &role.channel_binding),
        ("gssencmode", &role.gssencmode),
    ] {
        if let Some(v) = v {
            s.push_str(&format!(" {k}={}", conninfo_value(v)));
        }
    }
    if role.sslpassword.is_some() {
        // The passphrase stays off command lines: libpq takes it from the service file
        // (`PGSERVICEFILE`, [`pg_service_text`]).
        s.push_str(&format!(" service={}", service_name(role)));
    }
    s
}

/// The libpq service (`pg_service.conf` section) that carries `role`'s `sslpassword`.
pub fn service_name(role: &Credentials) -> String {
    // Hexadecimal: distinct user names give distinct sections, whatever characters they hold.
    let user: String = role
        .username
        .as_deref()
        .unwrap_or("postgres")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("praetor_{user}")
}

/// The libpq service file praetor's tools and its server (through `PGSERVICEFILE`) read: one
/// section per role with an `sslpassword`, holding it, so connection strings name the service
/// instead of carrying the passphrase (PostgreSQL docs §34.17 "The Connection Service File").
/// `None` when no role has one.
pub fn pg_service_text(a: &Authentication) -> Option<String> {
    let mut text = String::new();
    for c in [Some(&a.superuser), Some(&a.replication), a.rewind.as_ref()]
        .into_iter()
        .flatten()
    {
        if let Some(p) = &c.sslpassword {
            let section = format!("[{}]\n", service_name(c));
            if !text.contains(&section) {
                text.push_str(&section);
                text.push_str(&format!("sslpassword={p}\n"));
            }
        }
    }
    (!text.is_empty()).then_some(text)
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
    /// Quorum commit's `synchronous_standby_names` text (`ANY k (…)`), written in place of
    /// `sync_standbys` in every role (set just before a promotion, while still a standby).
    pub quorum_standbys: Option<String>,
    /// Whether `citus.so` is installed (a stand-in has none: it is then not preloaded).
    pub citus_library: bool,
    /// The socket directory to use when the configuration names none and the default one
    /// (`/var/run/postgresql`) is not writable.
    pub socket_dir: Option<String>,
    /// The absolute configuration directory (the data directory: praetor has no separate
    /// `config_dir`, see [`absolute_dir`]). When given, `hba_file` and `ident_file` point at its
    /// `pg_hba.conf` and `pg_ident.conf` unless `postgresql.parameters` set them, as Patroni's
    /// `ConfigHandler.write_postgresql_conf` writes them (4.1.4 `patroni/postgresql/config.py`
    /// lines 576–579), so an `hba_file` in `postgresql.base.conf` does not take the server away
    /// from the file praetor writes.
    pub config_dir: Option<String>,
    /// `postgresql.custom_conf`: included instead of `postgresql.base.conf` (Patroni's
    /// `write_postgresql_conf`).
    pub custom_conf: Option<String>,
    /// Recovery settings written last, name → value as written ([`standby_recovery_params`] for
    /// a standby, [`bootstrap_recovery_params`] while a restored backup recovers).
    pub recovery: BTreeMap<String, String>,
    /// `hot_standby = off` (a restored backup recovering to its target, as Patroni runs it).
    pub hot_standby_off: bool,
    /// The upstream is a standby cluster's remote primary: `Some(slot)` streams through
    /// `standby_cluster.primary_slot_name` (`Some(None)`: no slot); `None` for a member upstream
    /// (the slot named after this member).
    pub remote_slot: Option<Option<String>>,
}

/// The recovery settings of a standby from the effective `recovery_conf` (Patroni's
/// `build_recovery_params`): its settings but the recovery target and the upstream (the agent's
/// own), with every recovery target set empty so one in an included file cannot stop, pause or
/// promote the standby; `trigger_file` written under its PostgreSQL 12+ name, `standby_mode` and
/// `pause_at_recovery_target` left out (the signal file decides). Values quoted.
pub fn standby_recovery_params(conf: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in conf {
        if crate::config::backup::standby_drops(k)
            || k == "standby_mode"
            || k == "pause_at_recovery_target"
        {
            continue;
        }
        let name = if k == "trigger_file" {
            "promote_trigger_file"
        } else {
            k
        };
        out.insert(name.to_string(), quote_text(v));
    }
    for target in [
        "recovery_target",
        "recovery_target_name",
        "recovery_target_time",
        "recovery_target_xid",
        "recovery_target_lsn",
    ] {
        out.insert(target.into(), "''".into());
    }
    out
}

/// The recovery settings of a restored backup from a custom bootstrap's `recovery_conf`, and
/// whether it recovers as a standby (`standby_mode` on: `standby.signal`, else
/// `recovery.signal`) and whether it promotes at the target (Patroni's `_write_recovery_params`:
/// `pause_at_recovery_target` gives `recovery_target_action`; PostgreSQL's default action is
/// pause). Values quoted.
pub fn bootstrap_recovery_params(
    conf: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, bool, bool) {
    let truthy = |v: &str| matches!(v.to_lowercase().as_str(), "on" | "true" | "yes" | "1");
    let standby = conf.get("standby_mode").is_some_and(|v| truthy(v));
    let mut out = BTreeMap::new();
    for (k, v) in conf {
        if k == "standby_mode" || k == "pause_at_recovery_target" {
            continue;
        }
        let name = if k == "trigger_file" {
            "promote_trigger_file"
        } else {
            k
        };
        out.insert(name.to_string(), quote_text(v));
    }
    if let Some(pause) = conf.get("pause_at_recovery_target") {
        out.entry("recovery_target_action".into())
            .or_insert_with(|| quote_text(if truthy(pause) { "pause" } else { "promote" }));
    }
    let promotes = out
        .get("recovery_target_action")
        .is_some_and(|a| a.trim_matches('\'') == "promote");
    (out, standby, promotes)
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
    renamed_settings(&mut params, dynamic, cfg);
    // A replica's copies of permanent logical slots are only usable after a failover if the
    // primary kept the catalog rows they need: Patroni turns hot_standby_feedback on then
    // (`enforce_hot_standby_feedback`), whatever the parameters say.
    let logical_slots = dynamic
        .permanent_slot_specs()
        .values()
        .any(|s| matches!(s, crate::config::dynamic::SlotSpec::Logical { .. }));
    if dynamic.postgresql.use_slots
        && logical_slots
        && cfg.tags.can_failover()
        && !cfg.tags.nostream
    {
        params.insert("hot_standby_feedback".into(), "on".into());
    }
    if let Some(dir) = &i.config_dir {
        for (guc, file) in [("hba_file", "pg_hba.conf"), ("ident_file", "pg_ident.conf")] {
            if !params.keys().any(|k| k.eq_ignore_ascii_case(guc)) {
                params.insert(guc.into(), quote_text(&format!("{dir}/{file}")));
            }
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
    // `nostream` (Patroni): the standby replays only what the archive and pg_wal give it.
    if let Some((_, ci)) = i.upstream.as_ref().filter(|_| !cfg.tags.nostream) {
        // A standby leader following only the remote's archive has no connection string.
        if !ci.is_empty() {
            params.insert("primary_conninfo".into(), quote_text(ci));
        }
        // A standby leader streams through `standby_cluster.primary_slot_name` (none if unset).
        let slot = match &i.remote_slot {
            Some(remote) => remote.clone(),
            None => Some(slot_name_for(&cfg.name)),
        };
        if let Some(slot) = slot.filter(|_| dynamic.postgresql.use_slots && !ci.is_empty()) {
            params.insert("primary_slot_name".into(), quote_text(&slot));
        }
    }
    params.insert("recovery_target_timeline".into(), "'latest'".into());
    let (names, count) = i.sync_standbys;
    let value = match &i.quorum_standbys {
        Some(q) => q.clone(),
        None if i.standby => String::new(),
        None => guc_value(names, count),
    };
    params.insert("synchronous_standby_names".into(), quote_text(&value));
    for (k, v) in &i.recovery {
        params.insert(k.clone(), v.clone());
    }
    if i.hot_standby_off {
        params.insert("hot_standby".into(), "off".into());
    }
    params
}

/// Settings of older PostgreSQL versions written under their current names, as Patroni 4.1
/// writes them (`ConfigHandler.get_server_parameters`): `wal_keep_segments` (removed in
/// PostgreSQL 13) becomes `wal_keep_size` of 16 MB per segment unless `wal_keep_size` is set too,
/// and `wal_level = hot_standby` (renamed in 9.6) becomes `replica`. praetor runs PostgreSQL 13
/// and later, where the old names stop the server from starting.
fn renamed_settings(params: &mut BTreeMap<String, String>, dynamic: &DynamicConfig, cfg: &Config) {
    if let Some(segments) = params.remove("wal_keep_segments") {
        let size_given = dynamic.postgresql.parameters.contains_key("wal_keep_size")
            || cfg.postgresql.parameters.contains_key("wal_keep_size");
        if let (false, Ok(n)) = (size_given, segments.trim_matches('\'').parse::<u64>()) {
            params.insert("wal_keep_size".into(), format!("'{}MB'", n * 16));
        }
    }
    if params
        .get("wal_level")
        .is_some_and(|v| v.trim_matches('\'') == "hot_standby")
    {
        params.insert("wal_level".into(), "'replica'".into());
    }
}

/// `postgresql.conf`'s text: the managed header, the include of `postgresql.base.conf`, one line
/// per setting and, on a standby, the [`FOLLOWING_MARK`] line.
pub fn postgresql_conf(cfg: &Config, dynamic: &DynamicConfig, i: &ConfInputs<'_>) -> String {
    let include = match &i.custom_conf {
        Some(file) => format!("include {}", quote_text(file)),
        None => "include_if_exists 'postgresql.base.conf'".to_string(),
    };
    let mut text = format!(
        "# {MANAGED_MARK}: rewritten before every start. Put local changes in postgresql.base.conf\n\
         # or in the postgresql.parameters section of the praetor configuration.\n\
         {include}\n",
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

/// `postgresql.auto.conf` without recovery settings (Patroni's `_sanitize_auto_conf`): a copy
/// from another member by pg_basebackup or pg_rewind must not point this server anywhere, and a
/// restore tool's `restore_command` or recovery target must not outlive the restore (it would
/// stop, pause or promote a later standby, as postgresql.auto.conf overrides postgresql.conf).
pub fn strip_auto_conf(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let name: String = l
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
                .to_lowercase();
            !crate::config::backup::RECOVERY_PARAMETERS.contains(&name.as_str())
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `dir` as PostgreSQL (`make_absolute_path`) and Patroni (`os.path.abspath` of `config_dir`,
/// which defaults to the data directory) name it: joined to `cwd` when relative, then `.`
/// and `..` resolved and repeated or trailing slashes dropped, without looking at the file
/// system (symbolic links stay). `None` when the result is not absolute (`cwd` unknown).
pub fn absolute_dir(cwd: &Path, dir: &Path) -> Option<String> {
    let joined = cwd.join(dir);
    let mut parts: Vec<String> = Vec::new();
    let mut rooted = false;
    for c in joined.components() {
        match c {
            Component::RootDir => rooted = true,
            Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
        }
    }
    rooted.then(|| format!("/{}", parts.join("/")))
}

/// Whether praetor writes `file` (`pg_hba.conf` or `pg_ident.conf`) in `config_dir`: the
/// parameter `guc` (`hba_file` or `ident_file`; names compared case-insensitively, the local
/// `postgresql.parameters` before the dynamic ones) is not set, or names that very file. A
/// relative value is taken from `config_dir` and the two paths are compared as text.
///
/// Patroni 4.1.4 `patroni/postgresql/config.py`: `get_server_parameters` joins a relative
/// `hba_file`/`ident_file` with `config_dir` (line 1105); the `hba_file`/`ident_file` properties
/// are `None` when unset or equal to `<config_dir>/pg_hba.conf` / `pg_ident.conf` (lines
/// 1416–1424); `replace_pg_hba` and `replace_pg_ident` write only when they are `None` (lines
/// 620, 633): a file named elsewhere is the user's, never overwritten.
pub fn writes_own_file(
    cfg: &Config,
    dynamic: &DynamicConfig,
    guc: &str,
    file: &str,
    config_dir: &str,
) -> bool {
    let find = |m: &BTreeMap<String, Json>| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(guc))
            .map(|(_, v)| v.clone())
    };
    let value = find(&cfg.postgresql.parameters).or_else(|| find(&dynamic.postgresql.parameters));
    let value = match value {
        None | Some(Json::Null) => return true,
        Some(Json::String(s)) => s,
        Some(other) => other.to_string(),
    };
    let named = if value.starts_with('/') {
        value
    } else {
        format!("{config_dir}/{value}")
    };
    named == format!("{config_dir}/{file}")
}

/// The first non-empty list: the local `postgresql.<key>`, else the dynamic one (`/config`, or
/// `bootstrap.dcs` until `/config` is read). Patroni 4.1.4 `patroni/config.py`
/// `_build_effective_configuration` (lines 692, 714–715): a key of the local `postgresql` section
/// replaces the dynamic one; `replace_pg_hba`/`replace_pg_ident` then write only a non-empty
/// list (`self._config.get('pg_hba')`, config.py lines 620, 633).
pub fn effective_lines<'a>(
    local: &'a [String],
    dynamic: Option<&'a [String]>,
) -> Option<&'a [String]> {
    if !local.is_empty() {
        return Some(local);
    }
    dynamic.filter(|d| !d.is_empty())
}

/// The lines praetor writes to `pg_hba.conf`, `None` when it leaves the file as it is:
///
/// 1. `hba_file` names another file ([`writes_own_file`]): `None`;
/// 2. else the local `postgresql.pg_hba`, else the dynamic `postgresql.pg_hba`
///    ([`effective_lines`]);
/// 3. else `bootstrap.pg_hba` (praetor's existing rule for Patroni's legacy key, which Patroni
///    appends to initdb's file only while neither list is set: `append_pg_hba`, line 589);
/// 4. else `None`: initdb's (or the copied) file stays, as in Patroni.
pub fn pg_hba_lines<'a>(
    cfg: &'a Config,
    dynamic: &'a DynamicConfig,
    config_dir: &str,
) -> Option<&'a [String]> {
    if !writes_own_file(cfg, dynamic, "hba_file", "pg_hba.conf", config_dir) {
        return None;
    }
    effective_lines(&cfg.postgresql.pg_hba, dynamic.postgresql.pg_hba.as_deref())
        .or_else(|| Some(&cfg.bootstrap.pg_hba[..]).filter(|b| !b.is_empty()))
}

/// The local `postgresql.pg_ident` lines (a list of strings; another type is a configuration
/// error naming the key).
pub fn local_pg_ident(cfg: &Config) -> Vec<String> {
    cfg.postgresql.pg_ident.clone()
}

/// The lines praetor writes to `pg_ident.conf`, `None` when it leaves the file as it is:
/// `ident_file` names another file ([`writes_own_file`]) or neither the local nor the dynamic
/// `postgresql.pg_ident` has lines ([`effective_lines`]; Patroni 4.1.4 `replace_pg_ident`,
/// `patroni/postgresql/config.py` line 625).
pub fn pg_ident_lines(
    cfg: &Config,
    dynamic: &DynamicConfig,
    config_dir: &str,
) -> Option<Vec<String>> {
    if !writes_own_file(cfg, dynamic, "ident_file", "pg_ident.conf", config_dir) {
        return None;
    }
    let local = local_pg_ident(cfg);
    effective_lines(&local, dynamic.postgresql.pg_ident.as_deref()).map(<[String]>::to_vec)
}

/// A managed file's text: a header naming the setting, then one line per item.
fn lines_text(setting: &str, lines: &[String]) -> String {
    let mut t = format!("# Managed by praetor ({setting})\n");
    for l in lines {
        t.push_str(l);
        t.push('\n');
    }
    t
}

/// `pg_hba.conf`'s text from [`pg_hba_lines`]; `None` when the file is left as it is.
pub fn pg_hba_conf(cfg: &Config, dynamic: &DynamicConfig, config_dir: &str) -> Option<String> {
    pg_hba_lines(cfg, dynamic, config_dir).map(|l| lines_text("postgresql.pg_hba", l))
}

/// `pg_ident.conf`'s text from [`pg_ident_lines`]; `None` when the file is left as it is.
pub fn pg_ident_conf(cfg: &Config, dynamic: &DynamicConfig, config_dir: &str) -> Option<String> {
    pg_ident_lines(cfg, dynamic, config_dir).map(|l| lines_text("postgresql.pg_ident", &l))
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
mod socket_tests {
    use super::unix_socket_dir;

    #[test]
    fn the_socket_directory_follows_patroni_s_rule() {
        assert_eq!(unix_socket_dir(false, Some("/tmp")), None);
        assert_eq!(
            unix_socket_dir(true, None).as_deref(),
            Some("/var/run/postgresql")
        );
        assert_eq!(
            unix_socket_dir(true, Some("@abstract, /run/pg , /tmp")).as_deref(),
            Some("/run/pg")
        );
        assert_eq!(unix_socket_dir(true, Some("")), None);
        assert_eq!(unix_socket_dir(true, Some("relative")), None);
    }
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
            quorum_standbys: None,
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

    fn dynamic(v: serde_json::Value) -> DynamicConfig {
        DynamicConfig::from_json(&v).expect("test dynamic config")
    }

    const DIR: &str = "/srv/pg/data";

    #[test]
    fn the_local_list_wins_over_the_dynamic_one() {
        let (l, d) = (v(&["local"]), v(&["dynamic"]));
        assert_eq!(effective_lines(&l, Some(&d)), Some(&l[..]));
        assert_eq!(effective_lines(&[], Some(&d)), Some(&d[..]));
        // An empty list is not set (Patroni writes only a non-empty one).
        assert_eq!(effective_lines(&[], Some(&[])), None);
        assert_eq!(effective_lines(&[], None), None);
    }

    #[test]
    fn pg_hba_lines_come_from_local_then_dynamic_then_bootstrap() {
        let dynamic_hba = dynamic(serde_json::json!({"postgresql": {
            "pg_hba": ["host replication rep 10.0.0.0/8 scram-sha-256", "host all all 0.0.0.0/0 scram-sha-256"]}}));
        // Dynamic only.
        assert_eq!(
            pg_hba_conf(&config(""), &dynamic_hba, DIR).as_deref(),
            Some(
                "# Managed by praetor (postgresql.pg_hba)\n\
                 host replication rep 10.0.0.0/8 scram-sha-256\n\
                 host all all 0.0.0.0/0 scram-sha-256\n"
            )
        );
        // Local and dynamic: the local list, whole.
        let local = config("  pg_hba: [local all all trust]\n");
        assert_eq!(
            pg_hba_conf(&local, &dynamic_hba, DIR).as_deref(),
            Some("# Managed by praetor (postgresql.pg_hba)\nlocal all all trust\n")
        );
        // Neither: bootstrap.pg_hba, as praetor wrote before; then nothing (initdb's file stays).
        let legacy = config("bootstrap:\n  pg_hba: [host all all 127.0.0.1/32 md5]\n");
        assert_eq!(
            pg_hba_conf(&legacy, &DynamicConfig::default(), DIR).as_deref(),
            Some("# Managed by praetor (postgresql.pg_hba)\nhost all all 127.0.0.1/32 md5\n")
        );
        assert_eq!(
            pg_hba_conf(&legacy, &dynamic_hba, DIR).as_deref(),
            pg_hba_conf(&config(""), &dynamic_hba, DIR).as_deref()
        );
        assert_eq!(
            pg_hba_conf(&config(""), &DynamicConfig::default(), DIR),
            None
        );
        let empty = dynamic(serde_json::json!({"postgresql": {"pg_hba": []}}));
        assert_eq!(pg_hba_conf(&config(""), &empty, DIR), None);
    }

    #[test]
    fn pg_ident_lines_come_from_local_then_dynamic() {
        let d = dynamic(
            serde_json::json!({"postgresql": {"pg_ident": ["krb alice@EXAMPLE.COM alice"]}}),
        );
        assert_eq!(
            pg_ident_conf(&config(""), &d, DIR).as_deref(),
            Some("# Managed by praetor (postgresql.pg_ident)\nkrb alice@EXAMPLE.COM alice\n")
        );
        let local = config("  pg_ident: ['office alice alice', 'office robert bob']\n");
        let text =
            "# Managed by praetor (postgresql.pg_ident)\noffice alice alice\noffice robert bob\n";
        assert_eq!(pg_ident_conf(&local, &d, DIR).as_deref(), Some(text));
        assert_eq!(
            pg_ident_conf(&local, &DynamicConfig::default(), DIR).as_deref(),
            Some(text)
        );
        assert_eq!(
            pg_ident_conf(&config(""), &DynamicConfig::default(), DIR),
            None
        );
        // pg_hba lines do not leak into pg_ident.conf and the other way round.
        assert_eq!(pg_hba_conf(&local, &d, DIR), None);
    }

    #[test]
    fn files_named_elsewhere_by_hba_file_or_ident_file_are_not_written() {
        let d = dynamic(serde_json::json!({"postgresql": {
            "pg_hba": ["host all all 0.0.0.0/0 md5"], "pg_ident": ["m a b"]}}));
        // Another file, locally, dynamically, or relative to the configuration directory.
        for extra in [
            "  parameters: {hba_file: /etc/postgresql/pg_hba.conf, ident_file: /etc/postgresql/pg_ident.conf}\n",
            "  parameters: {HBA_FILE: other_hba.conf, Ident_File: other_ident.conf}\n",
        ] {
            let cfg = config(extra);
            assert_eq!(pg_hba_conf(&cfg, &d, DIR), None, "{extra}");
            assert_eq!(pg_ident_conf(&cfg, &d, DIR), None, "{extra}");
        }
        let elsewhere = dynamic(serde_json::json!({"postgresql": {
            "pg_hba": ["host all all 0.0.0.0/0 md5"],
            "parameters": {"hba_file": "/etc/hba.conf"}}}));
        assert_eq!(pg_hba_conf(&config(""), &elsewhere, DIR), None);
        // Naming the very file praetor writes is as good as not naming one.
        for extra in [
            "  parameters: {hba_file: pg_hba.conf, ident_file: pg_ident.conf}\n",
            "  parameters: {hba_file: /srv/pg/data/pg_hba.conf, ident_file: /srv/pg/data/pg_ident.conf}\n",
        ] {
            let cfg = config(extra);
            assert!(pg_hba_conf(&cfg, &d, DIR).is_some(), "{extra}");
            assert!(pg_ident_conf(&cfg, &d, DIR).is_some(), "{extra}");
        }
        // The local value wins over the dynamic one.
        let cfg = config("  parameters: {hba_file: pg_hba.conf}\n");
        assert!(pg_hba_conf(&cfg, &elsewhere, DIR).is_some());
    }

    #[test]
    fn an_sslpassword_goes_to_the_service_file_never_into_a_connection_string() {
        let mut a = Authentication::default();
        a.replication.username = Some("repl user".into());
        a.replication.sslpassword = Some("s3cret".into());
        a.replication.sslcrl = Some("/etc/crl.pem".into());
        let ci = conninfo("m1", "/pgpass", "h", 5432, &a.replication, "postgres");
        assert!(!ci.contains("s3cret"), "{ci}");
        assert!(
            ci.ends_with(" sslcrl='/etc/crl.pem' service=praetor_7265706c2075736572"),
            "{ci}"
        );
        assert_eq!(
            pg_service_text(&a).as_deref(),
            Some("[praetor_7265706c2075736572]\nsslpassword=s3cret\n")
        );
        assert_eq!(pg_service_text(&Authentication::default()), None);
    }

    #[test]
    fn custom_conf_is_included_instead_of_the_base_file() {
        let cfg = config("");
        let dynamic = DynamicConfig::default();
        let plain = postgresql_conf(&cfg, &dynamic, &ConfInputs::default());
        assert!(
            plain.contains("\ninclude_if_exists 'postgresql.base.conf'\n"),
            "{plain}"
        );
        let i = ConfInputs {
            custom_conf: Some("/etc/pg/it's.conf".into()),
            ..Default::default()
        };
        let custom = postgresql_conf(&cfg, &dynamic, &i);
        assert!(
            custom.contains("\ninclude '/etc/pg/it''s.conf'\n"),
            "{custom}"
        );
        assert!(!custom.contains("postgresql.base.conf'\n"), "{custom}");
    }

    #[test]
    fn old_setting_names_are_written_under_their_current_names() {
        let cfg = config("");
        let mut dynamic = DynamicConfig::default();
        let p = &mut dynamic.postgresql.parameters;
        p.insert("wal_keep_segments".into(), Json::from(64));
        p.insert("wal_level".into(), Json::from("hot_standby"));
        let got = conf_params(&cfg, &dynamic, &ConfInputs::default());
        assert!(!got.contains_key("wal_keep_segments"));
        assert_eq!(got["wal_keep_size"], "'1024MB'");
        assert_eq!(got["wal_level"], "'replica'");
        // An explicit wal_keep_size wins (Patroni's `setdefault`).
        dynamic
            .postgresql
            .parameters
            .insert("wal_keep_size".into(), Json::from("2GB"));
        let got = conf_params(&cfg, &dynamic, &ConfInputs::default());
        assert_eq!(got["wal_keep_size"], "'2GB'");
        assert!(!got.contains_key("wal_keep_segments"));
    }

    #[test]
    fn postgresql_conf_points_at_the_files_praetor_writes() {
        let i = ConfInputs {
            config_dir: Some(DIR.into()),
            ..Default::default()
        };
        let p = conf_params(&config(""), &DynamicConfig::default(), &i);
        assert_eq!(p["hba_file"], "'/srv/pg/data/pg_hba.conf'");
        assert_eq!(p["ident_file"], "'/srv/pg/data/pg_ident.conf'");
        // A configured value is kept, under its own spelling.
        let cfg = config("  parameters: {HBA_FILE: /etc/hba.conf}\n");
        let p = conf_params(&cfg, &DynamicConfig::default(), &i);
        assert_eq!(p["HBA_FILE"], "'/etc/hba.conf'");
        assert!(!p.contains_key("hba_file"));
        assert_eq!(p["ident_file"], "'/srv/pg/data/pg_ident.conf'");
        // Without a known directory, PostgreSQL's defaults (the same files) apply.
        let p = conf_params(
            &config(""),
            &DynamicConfig::default(),
            &ConfInputs::default(),
        );
        assert!(!p.contains_key("hba_file") && !p.contains_key("ident_file"));
    }

    #[test]
    fn absolute_dir_is_lexical() {
        let cwd = Path::new("/home/pg");
        assert_eq!(
            absolute_dir(cwd, Path::new("data")).as_deref(),
            Some("/home/pg/data")
        );
        assert_eq!(
            absolute_dir(cwd, Path::new("./a//b/../data/")).as_deref(),
            Some("/home/pg/a/data")
        );
        assert_eq!(
            absolute_dir(cwd, Path::new("/srv/x/.")).as_deref(),
            Some("/srv/x")
        );
        assert_eq!(absolute_dir(cwd, Path::new("/../..")).as_deref(), Some("/"));
        assert_eq!(absolute_dir(Path::new(""), Path::new("data")), None);
    }

    #[test]
    fn auto_conf_loses_the_upstream() {
        assert_eq!(
            strip_auto_conf("a = 1\nprimary_conninfo = 'x'\n primary_slot_name = 'y'\n"),
            "a = 1\n"
        );
        // What pgBackRest's restore writes goes too; other settings stay.
        assert_eq!(
            strip_auto_conf(
                "# Recovery settings generated by pgBackRest restore\nrestore_command = 'x'\n\
                 recovery_target_time = '2026-12-06'\nRecovery_Target_Action = 'promote'\n\
                 restore_command_extra = 1\nwork_mem = '8MB'\n"
            ),
            "# Recovery settings generated by pgBackRest restore\nrestore_command_extra = 1\nwork_mem = '8MB'\n"
        );
    }

    #[test]
    fn recovery_conf_for_a_standby_and_for_a_restore() {
        let conf: BTreeMap<String, String> = [
            ("restore_command", "cp /a/%f %p"),
            ("recovery_min_apply_delay", "1h"),
            ("recovery_target_time", "2026-01-01"),
            ("primary_conninfo", "host=x"),
            ("standby_mode", "on"),
            ("trigger_file", "/t"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let standby = standby_recovery_params(&conf);
        assert_eq!(standby["restore_command"], "'cp /a/%f %p'");
        assert_eq!(standby["recovery_min_apply_delay"], "'1h'");
        assert_eq!(standby["promote_trigger_file"], "'/t'");
        // The recovery target is the agent's: every target empty, the upstream its own.
        assert_eq!(standby["recovery_target_time"], "''");
        assert_eq!(standby["recovery_target"], "''");
        assert!(!standby.contains_key("primary_conninfo"));
        assert!(!standby.contains_key("standby_mode"));
        let (restore, as_standby, promotes) = bootstrap_recovery_params(&conf);
        assert!(as_standby && !promotes);
        assert_eq!(restore["recovery_target_time"], "'2026-01-01'");
        let mut conf = conf;
        conf.remove("standby_mode");
        conf.insert("pause_at_recovery_target".into(), "false".into());
        let (restore, as_standby, promotes) = bootstrap_recovery_params(&conf);
        assert!(!as_standby && promotes);
        assert_eq!(restore["recovery_target_action"], "'promote'");
    }
}
