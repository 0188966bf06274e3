//! Patroni's `PATRONI_*` environment variables, read as Patroni 4.1 reads them and merged over the
//! YAML document before it is typed.
//!
//! Everything here follows Patroni 4.1's `Config._build_environment_configuration`
//! (`patroni/config.py`): which variables are read, the section and key each lands on, how a value
//! is typed (Patroni's `parse_bool`, `parse_int` and `parse_real` from `patroni/utils.py`, its list
//! and mapping forms), which variable wins when two name the same key, and the order of it all.
//! The configuration built from the environment is then merged over the file's the way Patroni's
//! `patch_config` does it (`Config._load_config_file`). What the resulting keys mean to praetor
//! (implemented, refused, warned) is not decided here: [`super::keys`] walks the merged document,
//! so a variable of a store praetor does not speak (`PATRONI_CONSUL_HOST` → `consul.host`) is
//! mapped like any other and refused there.
//!
//! Values that are lists or mappings are parsed with `serde_yaml` (the parser of the file itself)
//! where Patroni uses PyYAML's `safe_load`; the two differ only on YAML 1.1 scalars (`yes`/`on`
//! as booleans, `010` as octal, `1:20` as base 60), which `serde_yaml` reads as YAML 1.2 does.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value as Yaml};

/// Sets `doc[path...] = value`, creating mappings on the way (a non-mapping on the way is
/// replaced by one). An existing key keeps its place; a new key goes last.
pub(super) fn set_path(doc: &mut Yaml, path: &[&str], value: Yaml) {
    let mut cur = doc;
    for (i, key) in path.iter().enumerate() {
        if !cur.is_mapping() {
            *cur = Yaml::Mapping(Default::default());
        }
        let map = cur.as_mapping_mut().expect("just made a mapping");
        let k = Yaml::String((*key).to_string());
        if i == path.len() - 1 {
            map.insert(k, value);
            return;
        }
        if !map.contains_key(&k) {
            map.insert(k.clone(), Yaml::Mapping(Default::default()));
        }
        cur = map.get_mut(&k).expect("just inserted");
    }
}

// ---- Patroni's lists (patroni/config.py, 4.1) ---------------------------------------------------

/// What every variable's name starts with (Patroni's `PATRONI_ENV_PREFIX`).
const PREFIX: &str = "PATRONI_";

/// Top-level settings, kept as strings (`PATRONI_NAME`, …).
const TOP_LEVEL: &[&str] = &[
    "name",
    "namespace",
    "scope",
    "thread_pool_size",
    "thread_stack_size",
];

/// Legacy log variables: (key under `log`, old variable). The old one counts only when the new
/// one (`PATRONI_LOG_<key>`) is absent from the environment.
const LEGACY_LOG: &[(&str, &str)] = &[
    ("level", "LOGLEVEL"),
    ("format", "LOGFORMAT"),
    ("dateformat", "LOG_DATEFMT"),
];

/// The sections read key by key: `PATRONI_<SECTION>_<KEY>` → `<section>.<key>`.
const SECTIONS: &[(&str, &[&str])] = &[
    (
        "restapi",
        &[
            "listen",
            "connect_address",
            "certfile",
            "keyfile",
            "keyfile_password",
            "cafile",
            "ciphers",
            "verify_client",
            "http_extra_headers",
            "https_extra_headers",
            "allowlist",
            "allowlist_include_members",
            "request_queue_size",
            "server_tokens",
        ],
    ),
    (
        "ctl",
        &[
            "insecure",
            "cacert",
            "certfile",
            "keyfile",
            "keyfile_password",
        ],
    ),
    (
        "postgresql",
        &[
            "listen",
            "connect_address",
            "proxy_address",
            "config_dir",
            "data_dir",
            "pgpass",
            "bin_dir",
        ],
    ),
    (
        "log",
        &[
            "type",
            "level",
            "traceback_level",
            "format",
            "dateformat",
            "static_fields",
            "max_queue_size",
            "dir",
            "mode",
            "file_size",
            "file_num",
            "loggers",
            "deduplicate_heartbeat_logs",
        ],
    ),
    (
        "raft",
        &[
            "data_dir",
            "self_addr",
            "partner_addrs",
            "password",
            "bind_addr",
            "min_timeout",
            "max_timeout",
            "connection_timeout",
            "append_entries_period",
            "connection_retry_time",
            "leader_fallback_timeout",
        ],
    ),
];

/// `PATRONI_POSTGRESQL_BIN_<PROGRAM>` → `postgresql.bin_name.<program>`.
const BINARIES: &[&str] = &[
    "pg_ctl",
    "initdb",
    "pg_controldata",
    "pg_basebackup",
    "postgres",
    "pg_isready",
    "pg_rewind",
];

/// Section keys typed as booleans ([`parse_bool`]; a value it cannot read drops the key).
const BOOLS: &[(&str, &str)] = &[
    ("restapi", "allowlist_include_members"),
    ("ctl", "insecure"),
    ("log", "deduplicate_heartbeat_logs"),
];

/// Section keys typed as integers ([`parse_int`]; a value it cannot read drops the key).
/// Patroni lists `restapi.thread_pool_size` here but reads no `PATRONI_RESTAPI_THREAD_POOL_SIZE`
/// (it is not among the restapi variables), so that entry never finds a value.
const INTS: &[(&str, &[&str])] = &[
    ("restapi", &["request_queue_size", "thread_pool_size"]),
    // log.mode stays text: "0600" is octal as Patroni's strtol reads it (LogFiles::from_section).
    ("log", &["max_queue_size", "file_size", "file_num"]),
];

/// `raft` keys typed as reals ([`parse_real`]).
const REALS: &[&str] = &[
    "min_timeout",
    "max_timeout",
    "connection_timeout",
    "append_entries_period",
    "connection_retry_time",
    "leader_fallback_timeout",
];

/// Section keys read as YAML lists ([`parse_list`]); an empty or unreadable list drops the key.
const LISTS: &[(&str, &str)] = &[("raft", "partner_addrs"), ("restapi", "allowlist")];

/// Section keys read as YAML mappings ([`parse_dict`]); an empty or unreadable one drops the key.
const DICTS: &[(&str, &[&str])] = &[
    ("restapi", &["http_extra_headers", "https_extra_headers"]),
    ("log", &["static_fields", "loggers"]),
];

/// Patroni's `_AUTH_ALLOWED_PARAMETERS`: what `PATRONI_{REPLICATION,SUPERUSER,REWIND}_<PARAM>`
/// may set under `postgresql.authentication.<role>`. The first two (`username`, `password`) are
/// also read for `ctl`, `restapi`, `etcd` and `etcd3`.
pub(super) const AUTH_PARAMETERS: &[&str] = &[
    "username",
    "password",
    "sslmode",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "gssencmode",
    "channel_binding",
    "sslnegotiation",
];

/// The roles of `postgresql.authentication`, in Patroni's order.
const AUTH_ROLES: &[&str] = &["replication", "superuser", "rewind"];

/// The suffixes of the generic store rule: `PATRONI_<NAME>_<SUFFIX>` → `<name>.<suffix>`
/// (lower case) for any `<NAME>` without `_` whose variable no rule above read.
const DCS_SUFFIXES: &[&str] = &[
    "HOST",
    "HOSTS",
    "PORT",
    "USE_PROXIES",
    "PROTOCOL",
    "SRV",
    "SRV_SUFFIX",
    "URL",
    "PROXY",
    "CACERT",
    "CERT",
    "KEY",
    "VERIFY",
    "TOKEN",
    "CHECKS",
    "DC",
    "CONSISTENCY",
    "REGISTER_SERVICE",
    "SERVICE_CHECK_INTERVAL",
    "SERVICE_CHECK_TLS_SERVER_NAME",
    "SERVICE_TAGS",
    "NAMESPACE",
    "CONTEXT",
    "USE_ENDPOINTS",
    "SCOPE_LABEL",
    "ROLE_LABEL",
    "POD_IP",
    "PORTS",
    "LABELS",
    "BYPASS_API_SERVICE",
    "RETRIABLE_HTTP_CODES",
    "KEY_PASSWORD",
    "USE_SSL",
    "SET_ACLS",
    "GROUP",
    "DATABASE",
    "LEADER_LABEL_VALUE",
    "FOLLOWER_LABEL_VALUE",
    "STANDBY_LEADER_LABEL_VALUE",
    "TMP_ROLE_LABEL",
    "AUTH_DATA",
    "BOOTSTRAP_LABELS",
];

/// Store suffixes read as YAML lists (an empty value stays `""`).
const DCS_LISTS: &[&str] = &[
    "HOSTS",
    "PORTS",
    "CHECKS",
    "SERVICE_TAGS",
    "RETRIABLE_HTTP_CODES",
];

/// Store suffixes read as YAML mappings (an empty value is `{}`).
const DCS_DICTS: &[&str] = &["LABELS", "SET_ACLS", "AUTH_DATA", "BOOTSTRAP_LABELS"];

/// Store suffixes read as booleans (a value [`parse_bool`] cannot read is dropped).
const DCS_BOOLS: &[&str] = &[
    "USE_PROXIES",
    "REGISTER_SERVICE",
    "USE_ENDPOINTS",
    "BYPASS_API_SERVICE",
    "VERIFY",
];

// ---- reading the environment ----------------------------------------------------------------------

/// The environment as Patroni consumes it: each variable read is removed, so no later rule sees
/// it (Patroni's `_popenv` and `os.environ.pop`).
struct Environ(BTreeMap<String, String>);

impl Environ {
    /// Removes and returns `PATRONI_<NAME>` (`name` upper-cased).
    fn pop(&mut self, name: &str) -> Option<String> {
        self.0.remove(&format!("{PREFIX}{}", name.to_uppercase()))
    }

    /// [`Environ::pop`], counting a non-empty value only (Patroni's `if value:`).
    fn pop_set(&mut self, name: &str) -> Option<String> {
        self.pop(name).filter(|v| !v.is_empty())
    }
}

/// Patroni's `_get_auth`: the non-empty `PATRONI_<SECTION>_<PARAM>` for each of `params`.
fn get_auth(env: &mut Environ, section: &str, params: &[&str]) -> Mapping {
    let mut auth = Mapping::new();
    for p in params {
        if let Some(v) = env.pop_set(&format!("{section}_{p}")) {
            auth.insert(Yaml::from(*p), Yaml::String(v));
        }
    }
    auth
}

/// Removes `section.key` from the configuration being built and returns its value (Patroni's
/// `ret.get(section, {}).pop(key, None)`: the section itself stays, even if it is now empty).
fn take(ret: &mut Yaml, section: &str, key: &str) -> Option<Yaml> {
    ret.get_mut(section)
        .and_then(Yaml::as_mapping_mut)
        .and_then(|m| m.shift_remove(key))
}

/// A string value taken with [`take`] (every value is still a string when it is typed).
fn take_str(ret: &mut Yaml, section: &str, key: &str) -> Option<String> {
    match take(ret, section, key)? {
        Yaml::String(s) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// Applies Patroni 4.1's `PATRONI_*` environment variables to the YAML document: the
/// configuration they make (Patroni's `Config._build_environment_configuration`) is merged over
/// the document (Patroni's `patch_config`), so a variable overrides the file's key, a mapping
/// value is merged into the file's mapping, and a `null` inside one removes that key. The
/// variables and their keys, in the order Patroni reads them:
///
/// - `PATRONI_NAME`, `_NAMESPACE`, `_SCOPE`, `_THREAD_POOL_SIZE`, `_THREAD_STACK_SIZE` → the
///   top-level key, as a string;
/// - `PATRONI_LOGLEVEL`, `PATRONI_LOGFORMAT`, `PATRONI_LOG_DATEFMT` → `log.level`, `log.format`,
///   `log.dateformat` when `PATRONI_LOG_LEVEL` (`_FORMAT`, `_DATEFORMAT`) is absent from the
///   environment (set but empty, it still wins, and neither is read);
/// - `PATRONI_<SECTION>_<KEY>` for the restapi, ctl, postgresql, log and raft keys Patroni lists,
///   typed where Patroni types them (booleans, integers, reals, YAML lists, YAML mappings, and
///   `log.format` as a list when it has no `%(name)` placeholder);
/// - `PATRONI_POSTGRESQL_BIN_<PROGRAM>` → `postgresql.bin_name.<program>`;
/// - `PATRONI_{CTL,RESTAPI}_{USERNAME,PASSWORD}` → `<section>.authentication.*`;
/// - `PATRONI_{REPLICATION,SUPERUSER,REWIND}_<PARAM>` → `postgresql.authentication.<role>.<param>`
///   for every parameter of [`AUTH_PARAMETERS`];
/// - any other `PATRONI_<NAME>_<SUFFIX>` whose suffix is one of Patroni's store suffixes →
///   `<name>.<suffix>` (`PORT` an integer, `HOSTS` … lists, `LABELS` … mappings, `USE_PROXIES` …
///   booleans; here an empty value counts, as `""`, as in Patroni); for `CITUS` only `GROUP` (an
///   integer) and `DATABASE`;
/// - `PATRONI_ETCD{,3}_{USERNAME,PASSWORD}` → `etcd{,3}.*`, only when a variable of the rule
///   above made that section.
///
/// Except where said, an empty value is not read.
pub(super) fn apply_env(doc: &mut Yaml, env: &BTreeMap<String, String>) {
    let ret = environment_configuration(env);
    let Yaml::Mapping(data) = ret else {
        return;
    };
    if data.is_empty() {
        return;
    }
    if !doc.is_mapping() {
        *doc = Yaml::Mapping(Mapping::new());
    }
    if let Yaml::Mapping(config) = doc {
        patch(config, data);
    }
}

/// The configuration the environment makes on its own (Patroni's
/// `_build_environment_configuration`), a mapping; the steps and their order are Patroni's.
fn environment_configuration(env: &BTreeMap<String, String>) -> Yaml {
    let mut env = Environ(env.clone());
    let mut ret = Yaml::Mapping(Mapping::new());
    let s = Yaml::String;

    for &param in TOP_LEVEL {
        if let Some(v) = env.pop_set(param) {
            set_path(&mut ret, &[param], s(v));
        }
    }

    for &(name, old) in LEGACY_LOG {
        let new = format!("{PREFIX}LOG_{}", name.to_uppercase());
        if let Some(v) = env.pop_set(old) {
            if !env.0.contains_key(&new) {
                env.0.insert(new, v);
            }
        }
    }

    for &(section, params) in SECTIONS {
        for &param in params {
            if let Some(v) = env.pop_set(&format!("{section}_{param}")) {
                set_path(&mut ret, &[section, param], s(v));
            }
        }
    }

    for &binary in BINARIES {
        if let Some(v) = env.pop_set(&format!("POSTGRESQL_BIN_{binary}")) {
            set_path(&mut ret, &["postgresql", "bin_name", binary], s(v));
        }
    }

    for &(section, key) in BOOLS {
        if let Some(b) = take_str(&mut ret, section, key).and_then(|v| parse_bool(&v)) {
            set_path(&mut ret, &[section, key], Yaml::Bool(b));
        }
    }

    for &(section, keys) in INTS {
        for &key in keys {
            if let Some(n) = take_str(&mut ret, section, key).and_then(|v| parse_int(&v)) {
                set_path(&mut ret, &[section, key], Yaml::Number(n.into()));
            }
        }
    }

    for &key in REALS {
        if let Some(x) = take_str(&mut ret, "raft", key).and_then(|v| parse_real(&v)) {
            set_path(&mut ret, &["raft", key], Yaml::Number(x.into()));
        }
    }

    for &(section, key) in LISTS {
        if let Some(list) = take_str(&mut ret, section, key)
            .and_then(|v| parse_list(&v))
            .filter(truthy)
        {
            set_path(&mut ret, &[section, key], list);
        }
    }

    let format = ret
        .get("log")
        .and_then(|l| l.get("format"))
        .and_then(Yaml::as_str)
        .filter(|f| !f.is_empty() && !has_placeholder(f))
        .map(str::to_string);
    if let Some(list) = format.and_then(|f| parse_list(&f)).filter(truthy) {
        set_path(&mut ret, &["log", "format"], list);
    }

    for &(section, keys) in DICTS {
        for &key in keys {
            if let Some(map) = take_str(&mut ret, section, key)
                .and_then(|v| parse_dict(&v))
                .filter(truthy)
            {
                set_path(&mut ret, &[section, key], map);
            }
        }
    }

    for section in ["ctl", "restapi"] {
        let auth = get_auth(&mut env, section, &AUTH_PARAMETERS[..2]);
        if !auth.is_empty() {
            set_path(&mut ret, &[section, "authentication"], Yaml::Mapping(auth));
        }
    }

    let mut authentication = Mapping::new();
    for &role in AUTH_ROLES {
        let entry = get_auth(&mut env, role, AUTH_PARAMETERS);
        if !entry.is_empty() {
            authentication.insert(Yaml::from(role), Yaml::Mapping(entry));
        }
    }
    if !authentication.is_empty() {
        set_path(
            &mut ret,
            &["postgresql", "authentication"],
            Yaml::Mapping(authentication),
        );
    }

    let remaining: Vec<String> = env.0.keys().cloned().collect();
    for var in remaining {
        let Some(rest) = var.strip_prefix(PREFIX) else {
            continue;
        };
        let (name, suffix) = rest.split_once('_').unwrap_or((rest, ""));
        if name.is_empty() || !DCS_SUFFIXES.contains(&suffix) {
            continue;
        }
        let value = env.0.remove(&var).unwrap_or_default();
        let value = if name == "CITUS" {
            match suffix {
                "GROUP" => parse_int(&value).map(|n| Yaml::Number(n.into())),
                "DATABASE" => Some(s(value)),
                _ => continue,
            }
        } else if value.is_empty() && (suffix == "PORT" || DCS_LISTS.contains(&suffix)) {
            Some(s(value))
        } else if suffix == "PORT" {
            parse_int(&value).map(|n| Yaml::Number(n.into()))
        } else if DCS_LISTS.contains(&suffix) {
            parse_list(&value)
        } else if DCS_DICTS.contains(&suffix) {
            parse_dict(&value)
        } else if DCS_BOOLS.contains(&suffix) {
            parse_bool(&value).map(Yaml::Bool)
        } else {
            Some(s(value))
        };
        let Some(value) = value else {
            continue;
        };
        let section = name.to_lowercase();
        // `PATRONI_NAME_HOST` next to `PATRONI_NAME`: Patroni fails on the string `name`; the
        // string is kept here.
        if ret.get(section.as_str()).is_some_and(|v| !v.is_mapping()) {
            continue;
        }
        set_path(&mut ret, &[&section, &suffix.to_lowercase()], value);
    }

    for dcs in ["etcd", "etcd3"] {
        if ret.get(dcs).is_some_and(Yaml::is_mapping) {
            for (k, v) in get_auth(&mut env, dcs, &AUTH_PARAMETERS[..2]) {
                if let Yaml::String(k) = k {
                    set_path(&mut ret, &[dcs, &k], v);
                }
            }
        }
    }

    ret
}

// ---- Patroni's value parsers ------------------------------------------------------------------

/// Patroni's `parse_bool` (`patroni/utils.py`): `on`, `true`, `yes`, `1` are true and `off`,
/// `false`, `no`, `0` false, in any case and without surrounding blanks; anything else is not a
/// boolean.
pub(super) fn parse_bool(value: &str) -> Option<bool> {
    match value.to_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Some(true),
        "off" | "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// Patroni's `parse_int` without a base unit (`patroni/utils.py`): the number C's `strtol` would
/// read (`0x1F` hexadecimal, a leading `0` octal: `0644` is 420, `08` is not a number), or a
/// decimal fraction or exponent rounded half to even (`2.5` → 2, `1e3` → 1000); surrounding blanks
/// are ignored. A unit (`10s`, `1MB`) or any other trailing text makes it no number, as Patroni
/// converts units only for a setting that has a base unit and these have none. A value outside
/// 64 bits is no number (Patroni's would be a Python big integer).
pub(super) fn parse_int(value: &str) -> Option<i64> {
    let (int, rest) = strtol(value);
    if (int.is_none() && rest.starts_with('.')) || rest.starts_with(['.', 'e', 'E']) {
        let (x, rest) = strtod(value);
        let r = x?.round_ties_even();
        let fits = r.is_finite() && r >= i64::MIN as f64 && r < i64::MAX as f64;
        return (rest.trim().is_empty() && fits).then_some(r as i64);
    }
    let n = int?;
    if !rest.trim().is_empty() {
        return None;
    }
    i64::try_from(n).ok()
}

/// Patroni's `parse_real` without a base unit (`patroni/utils.py`): the decimal number C's
/// `strtod` would read (`1.5`, `.5`, `2`, `1e-3`, an optional sign), surrounding blanks ignored;
/// a unit or any other trailing text makes it no number.
pub(super) fn parse_real(value: &str) -> Option<f64> {
    let (x, rest) = strtod(value);
    if rest.trim().is_empty() {
        x
    } else {
        None
    }
}

/// Patroni's `strtol` (`patroni/utils.py`): the leading integer of the trimmed text (hexadecimal
/// after `0x`, octal after `0`, else decimal) and the text after it; `None` and the trimmed text
/// when it does not start with one (or it does not fit in 128 bits).
fn strtol(value: &str) -> (Option<i128>, &str) {
    let v = value.trim();
    let b = v.as_bytes();
    let sign = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let negative = b.first() == Some(&b'-');
    let run =
        |from: usize, ok: fn(&u8) -> bool| from + b[from..].iter().take_while(|c| ok(c)).count();
    let (digits, end, radix) =
        if b[sign..].starts_with(b"0x") && b.get(sign + 2).is_some_and(u8::is_ascii_hexdigit) {
            let end = run(sign + 2, u8::is_ascii_hexdigit);
            (&v[sign + 2..end], end, 16)
        } else if b.get(sign) == Some(&b'0') {
            let end = run(sign + 1, |c| (b'0'..=b'7').contains(c));
            (&v[sign..end], end, 8)
        } else if b.get(sign).is_some_and(|c| (b'1'..=b'9').contains(c)) {
            let end = run(sign, u8::is_ascii_digit);
            (&v[sign..end], end, 10)
        } else {
            return (None, v);
        };
    match i128::from_str_radix(digits, radix) {
        Ok(n) => (Some(if negative { -n } else { n }), &v[end..]),
        // Too long even for 128 bits: read as no number.
        Err(_) => (None, v),
    }
}

/// Patroni's `strtod` (`patroni/utils.py`): the leading decimal number of the trimmed text
/// (`[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?`) and the text after it; `None` and the trimmed text
/// when it does not start with one.
fn strtod(value: &str) -> (Option<f64>, &str) {
    let v = value.trim();
    let b = v.as_bytes();
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int = digits(i);
    if b.get(i + int) == Some(&b'.') && digits(i + int + 1) > 0 {
        i += int + 1 + digits(i + int + 1);
    } else if int > 0 {
        i += int;
    } else {
        return (None, v);
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let j = i + 1 + usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
        let exp = digits(j);
        if exp > 0 {
            i = j + exp;
        }
    }
    match v[..i].parse::<f64>() {
        Ok(x) => (Some(x), &v[i..]),
        Err(_) => (None, v),
    }
}

/// Patroni's `_parse_list`: the value as YAML, wrapped in `[...]` unless it starts with `-` (a
/// block list) or holds a `[`; `None` when it is not valid YAML. The result need not be a list
/// (`a[1]` stays a string), as in Patroni.
fn parse_list(value: &str) -> Option<Yaml> {
    if value.trim().starts_with('-') || value.contains('[') {
        load(value)
    } else {
        load(&format!("[{value}]"))
    }
}

/// Patroni's `_parse_dict`: the value as YAML, wrapped in `{...}` unless it starts with `{`;
/// `None` when it is not valid YAML.
fn parse_dict(value: &str) -> Option<Yaml> {
    if value.trim().starts_with('{') {
        load(value)
    } else {
        load(&format!("{{{value}}}"))
    }
}

/// One YAML document, or `None` when the text is not one. What PyYAML's `safe_load` refuses is
/// refused too: a custom tag (`!x`) and a list or mapping as a mapping's key (`{[]}`).
fn load(text: &str) -> Option<Yaml> {
    fn refused(v: &Yaml) -> bool {
        match v {
            Yaml::Tagged(_) => true,
            Yaml::Sequence(s) => s.iter().any(refused),
            Yaml::Mapping(m) => m.iter().any(|(k, v)| {
                matches!(k, Yaml::Sequence(_) | Yaml::Mapping(_)) || refused(k) || refused(v)
            }),
            _ => false,
        }
    }
    serde_yaml::from_str::<Yaml>(text)
        .ok()
        .filter(|v| !refused(v))
}

/// Python's truth value of a parsed value (Patroni's `if value:`).
fn truthy(v: &Yaml) -> bool {
    match v {
        Yaml::Null => false,
        Yaml::Bool(b) => *b,
        Yaml::Number(n) => n.as_f64() != Some(0.0),
        Yaml::String(s) => !s.is_empty(),
        Yaml::Sequence(s) => !s.is_empty(),
        Yaml::Mapping(m) => !m.is_empty(),
        Yaml::Tagged(_) => true,
    }
}

/// Whether a log format has a `%(name)` placeholder (Patroni's `%\(\w+\)`): then it is a format
/// string, else a list of fields.
fn has_placeholder(format: &str) -> bool {
    format.match_indices("%(").any(|(i, _)| {
        let rest = &format[i + 2..];
        let word = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .map(char::len_utf8)
            .sum::<usize>();
        word > 0 && rest[word..].starts_with(')')
    })
}

// ---- Patroni's merge --------------------------------------------------------------------------

/// Patroni's `patch_config`: merges `data` over `config`. A `null` removes the key; a mapping
/// over a mapping is merged key by key; any other value replaces the file's unless both print
/// the same in Python (`"2379"` and `2379`), when the file's stays; a new key goes last.
fn patch(config: &mut Mapping, data: Mapping) {
    for (name, value) in data {
        if value.is_null() {
            config.shift_remove(&name);
            continue;
        }
        match config.get_mut(&name) {
            Some(Yaml::Mapping(old)) if value.is_mapping() => {
                let Yaml::Mapping(new) = value else {
                    unreachable!("checked to be a mapping")
                };
                patch(old, new);
            }
            Some(old) => {
                let same = match (py_str(old), py_str(&value)) {
                    (Some(a), Some(b)) => a == b,
                    _ => *old == value,
                };
                if !same {
                    *old = value;
                }
            }
            None => {
                config.insert(name, value);
            }
        }
    }
}

/// Python's `str()` of a scalar (`None`, `True`, `2379`, `1.5`, `1e+16`); `None` for lists and
/// mappings.
fn py_str(v: &Yaml) -> Option<String> {
    Some(match v {
        Yaml::Null => "None".into(),
        Yaml::Bool(true) => "True".into(),
        Yaml::Bool(false) => "False".into(),
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) if n.is_f64() => py_float(n.as_f64()?),
        Yaml::Number(n) => n.to_string(),
        _ => return None,
    })
}

/// Python's `repr()` of a float: the shortest digits that read back, positional for exponents
/// -4 to 15 (always with a fraction, `2.0`), else `d.ddde+XX`.
fn py_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is a number");
    let sign = if mantissa.starts_with('-') { "-" } else { "" };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exp) {
        if exp < 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize))
        } else {
            let point = exp as usize + 1;
            let int = format!("{digits:0<point$}");
            let frac = digits.get(point..).filter(|f| !f.is_empty()).unwrap_or("0");
            format!("{sign}{}.{frac}", &int[..point])
        }
    } else {
        let (first, more) = digits.split_at(1);
        let more = if more.is_empty() {
            String::new()
        } else {
            format!(".{more}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{more}e{esign}{:02}", exp.abs())
    }
}

/// The process environment as a sorted map (for [`Config::load`]).
pub fn process_env() -> BTreeMap<String, String> {
    std::env::vars().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Yaml {
        serde_yaml::from_str(text).unwrap()
    }

    /// The document `file` becomes with `vars` in the environment.
    fn applied(file: &str, vars: &[(&str, &str)]) -> Yaml {
        let mut doc = yaml(file);
        if doc.is_null() {
            doc = Yaml::Mapping(Mapping::new());
        }
        let env = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        apply_env(&mut doc, &env);
        doc
    }

    /// The value at a dotted path.
    fn at<'a>(doc: &'a Yaml, path: &str) -> Option<&'a Yaml> {
        path.split('.').try_fold(doc, |v, k| v.get(k))
    }

    /// (environment, path, the YAML value expected there or `None` for no key).
    type Row = (
        &'static [(&'static str, &'static str)],
        &'static str,
        Option<&'static str>,
    );

    fn check_rows(file: &str, rows: &[Row]) {
        for (vars, path, want) in rows {
            let doc = applied(file, vars);
            assert_eq!(
                at(&doc, path),
                want.map(yaml).as_ref(),
                "{vars:?} → {path} in {doc:?}"
            );
        }
    }

    #[test]
    fn each_variable_family_lands_on_patronis_key_with_patronis_type() {
        #[rustfmt::skip]
        let rows: &[Row] = &[
            // Top level: strings, a non-empty value only.
            (&[("PATRONI_NAME", "pg1")], "name", Some("pg1")),
            (&[("PATRONI_NAMESPACE", "/db/")], "namespace", Some("/db/")),
            (&[("PATRONI_SCOPE", "batman")], "scope", Some("batman")),
            (&[("PATRONI_SCOPE", "")], "scope", None),
            (&[("PATRONI_THREAD_POOL_SIZE", "8")], "thread_pool_size", Some("'8'")),
            (&[("PATRONI_THREAD_STACK_SIZE", "1048576")], "thread_stack_size", Some("'1048576'")),
            // Legacy log names: only while the new name is absent.
            (&[("PATRONI_LOGLEVEL", "DEBUG")], "log.level", Some("DEBUG")),
            (&[("PATRONI_LOGLEVEL", "DEBUG"), ("PATRONI_LOG_LEVEL", "ERROR")], "log.level", Some("ERROR")),
            (&[("PATRONI_LOGLEVEL", "DEBUG"), ("PATRONI_LOG_LEVEL", "")], "log.level", None),
            (&[("PATRONI_LOGLEVEL", "")], "log", None),
            (&[("PATRONI_LOGFORMAT", "%(asctime)s %(message)s")], "log.format", Some("'%(asctime)s %(message)s'")),
            (&[("PATRONI_LOG_DATEFMT", "%H:%M:%S")], "log.dateformat", Some("'%H:%M:%S'")),
            (&[("PATRONI_LOG_DATEFMT", "%H"), ("PATRONI_LOG_DATEFORMAT", "%M")], "log.dateformat", Some("'%M'")),
            // restapi
            (&[("PATRONI_RESTAPI_LISTEN", "0.0.0.0:8008")], "restapi.listen", Some("'0.0.0.0:8008'")),
            (&[("PATRONI_RESTAPI_VERIFY_CLIENT", "required")], "restapi.verify_client", Some("required")),
            (&[("PATRONI_RESTAPI_KEYFILE_PASSWORD", "k")], "restapi.keyfile_password", Some("k")),
            (&[("PATRONI_RESTAPI_ALLOWLIST", "10.0.0.0/8, host1")], "restapi.allowlist", Some("['10.0.0.0/8', host1]")),
            (&[("PATRONI_RESTAPI_ALLOWLIST", "- a\n- b")], "restapi.allowlist", Some("[a, b]")),
            (&[("PATRONI_RESTAPI_ALLOWLIST", "[a, 'b']")], "restapi.allowlist", Some("[a, b]")),
            (&[("PATRONI_RESTAPI_ALLOWLIST", "[]")], "restapi.allowlist", None),
            (&[("PATRONI_RESTAPI_ALLOWLIST", "[a")], "restapi.allowlist", None),
            (&[("PATRONI_RESTAPI_ALLOWLIST_INCLUDE_MEMBERS", "on")], "restapi.allowlist_include_members", Some("true")),
            (&[("PATRONI_RESTAPI_ALLOWLIST_INCLUDE_MEMBERS", "No")], "restapi.allowlist_include_members", Some("false")),
            (&[("PATRONI_RESTAPI_ALLOWLIST_INCLUDE_MEMBERS", "maybe")], "restapi.allowlist_include_members", None),
            (&[("PATRONI_RESTAPI_REQUEST_QUEUE_SIZE", "10")], "restapi.request_queue_size", Some("10")),
            (&[("PATRONI_RESTAPI_REQUEST_QUEUE_SIZE", "10s")], "restapi.request_queue_size", None),
            (&[("PATRONI_RESTAPI_SERVER_TOKENS", "Minimal")], "restapi.server_tokens", Some("Minimal")),
            (&[("PATRONI_RESTAPI_HTTP_EXTRA_HEADERS", "X-Frame-Options: SAMEORIGIN")], "restapi.http_extra_headers", Some("{X-Frame-Options: SAMEORIGIN}")),
            (&[("PATRONI_RESTAPI_HTTPS_EXTRA_HEADERS", "{Strict-Transport-Security: max-age=31536000}")], "restapi.https_extra_headers", Some("{Strict-Transport-Security: max-age=31536000}")),
            (&[("PATRONI_RESTAPI_HTTP_EXTRA_HEADERS", "{}")], "restapi.http_extra_headers", None),
            (&[("PATRONI_RESTAPI_USERNAME", "admin")], "restapi.authentication.username", Some("admin")),
            (&[("PATRONI_RESTAPI_PASSWORD", "pw")], "restapi.authentication.password", Some("pw")),
            // Patroni types restapi.thread_pool_size but reads no variable for it.
            (&[("PATRONI_RESTAPI_THREAD_POOL_SIZE", "4")], "restapi", None),
            // ctl
            (&[("PATRONI_CTL_USERNAME", "u")], "ctl.authentication.username", Some("u")),
            (&[("PATRONI_CTL_USERNAME", "u")], "ctl.username", None),
            (&[("PATRONI_CTL_PASSWORD", "p")], "ctl.authentication.password", Some("p")),
            (&[("PATRONI_CTL_INSECURE", "TRUE")], "ctl.insecure", Some("true")),
            (&[("PATRONI_CTL_CACERT", "/ca.pem")], "ctl.cacert", Some("/ca.pem")),
            (&[("PATRONI_CTL_KEYFILE_PASSWORD", "k")], "ctl.keyfile_password", Some("k")),
            // postgresql
            (&[("PATRONI_POSTGRESQL_DATA_DIR", "/data")], "postgresql.data_dir", Some("/data")),
            (&[("PATRONI_POSTGRESQL_PROXY_ADDRESS", "p:5000")], "postgresql.proxy_address", Some("'p:5000'")),
            (&[("PATRONI_POSTGRESQL_BIN_DIR", "/usr/lib/postgresql/16/bin")], "postgresql.bin_dir", Some("/usr/lib/postgresql/16/bin")),
            (&[("PATRONI_POSTGRESQL_BIN_PG_CTL", "pg_ctl16")], "postgresql.bin_name.pg_ctl", Some("pg_ctl16")),
            (&[("PATRONI_POSTGRESQL_BIN_PG_REWIND", "rw")], "postgresql.bin_name.pg_rewind", Some("rw")),
            (&[("PATRONI_POSTGRESQL_BIN_PSQL", "psql16")], "postgresql", None),
            (&[("PATRONI_POSTGRESQL_PARAMETERS", "x")], "postgresql", None),
            // The store rule reaches any section name: PATRONI_POSTGRESQL_PORT is postgresql.port.
            (&[("PATRONI_POSTGRESQL_PORT", "5433")], "postgresql.port", Some("5433")),
            // log
            (&[("PATRONI_LOG_TYPE", "json")], "log.type", Some("json")),
            (&[("PATRONI_LOG_TRACEBACK_LEVEL", "DEBUG")], "log.traceback_level", Some("DEBUG")),
            (&[("PATRONI_LOG_FORMAT", "%(message)s")], "log.format", Some("'%(message)s'")),
            (&[("PATRONI_LOG_FORMAT", "message, levelname")], "log.format", Some("[message, levelname]")),
            (&[("PATRONI_LOG_FORMAT", "json")], "log.format", Some("[json]")),
            (&[("PATRONI_LOG_FORMAT", "[a")], "log.format", Some("'[a'")),
            (&[("PATRONI_LOG_STATIC_FIELDS", "app: patroni")], "log.static_fields", Some("{app: patroni}")),
            (&[("PATRONI_LOG_MAX_QUEUE_SIZE", "1000")], "log.max_queue_size", Some("1000")),
            (&[("PATRONI_LOG_DIR", "/var/log/x")], "log.dir", Some("/var/log/x")),
            (&[("PATRONI_LOG_MODE", "0600")], "log.mode", Some("'0600'")),
            (&[("PATRONI_LOG_FILE_SIZE", "1e6")], "log.file_size", Some("1000000")),
            (&[("PATRONI_LOG_FILE_NUM", "4")], "log.file_num", Some("4")),
            (&[("PATRONI_LOG_LOGGERS", "patroni.postmaster: WARNING, urllib3: DEBUG")], "log.loggers", Some("{patroni.postmaster: WARNING, urllib3: DEBUG}")),
            (&[("PATRONI_LOG_DEDUPLICATE_HEARTBEAT_LOGS", "1")], "log.deduplicate_heartbeat_logs", Some("true")),
            // raft
            (&[("PATRONI_RAFT_SELF_ADDR", "h:1234")], "raft.self_addr", Some("'h:1234'")),
            (&[("PATRONI_RAFT_PARTNER_ADDRS", "'h1:1234','h2:1234'")], "raft.partner_addrs", Some("['h1:1234', 'h2:1234']")),
            (&[("PATRONI_RAFT_MIN_TIMEOUT", "1.5")], "raft.min_timeout", Some("1.5")),
            (&[("PATRONI_RAFT_MAX_TIMEOUT", "2")], "raft.max_timeout", Some("2.0")),
            (&[("PATRONI_RAFT_CONNECTION_TIMEOUT", ".5")], "raft.connection_timeout", Some("0.5")),
            (&[("PATRONI_RAFT_APPEND_ENTRIES_PERIOD", "1e-1")], "raft.append_entries_period", Some("0.1")),
            (&[("PATRONI_RAFT_CONNECTION_RETRY_TIME", "10ms")], "raft.connection_retry_time", None),
            // A value that does not parse leaves its section behind, empty (Patroni pops the key).
            (&[("PATRONI_RAFT_LEADER_FALLBACK_TIMEOUT", "soon")], "raft", Some("{}")),
            (&[("PATRONI_CTL_INSECURE", "maybe")], "ctl", Some("{}")),
            // postgresql.authentication: every parameter of _AUTH_ALLOWED_PARAMETERS.
            (&[("PATRONI_SUPERUSER_SSLPASSWORD", "pw")], "postgresql.authentication.superuser.sslpassword", Some("pw")),
            (&[("PATRONI_REPLICATION_USERNAME", "rep")], "postgresql.authentication.replication.username", Some("rep")),
            (&[("PATRONI_REWIND_SSLNEGOTIATION", "direct")], "postgresql.authentication.rewind.sslnegotiation", Some("direct")),
            (&[("PATRONI_SUPERUSER_SSLMODE", "")], "postgresql", None),
            // Not an authentication parameter: the store rule takes it (a top-level `superuser`).
            (&[("PATRONI_SUPERUSER_HOST", "h")], "superuser.host", Some("h")),
            // etcd / etcd3 credentials: only beside another variable of that section.
            (&[("PATRONI_ETCD_HOST", "h:2379"), ("PATRONI_ETCD_USERNAME", "u")], "etcd.username", Some("u")),
            (&[("PATRONI_ETCD_USERNAME", "u")], "etcd", None),
            (&[("PATRONI_ETCD3_HOSTS", "a:2379"), ("PATRONI_ETCD3_PASSWORD", "p")], "etcd3.password", Some("p")),
            (&[("PATRONI_ETCD3_PASSWORD", "p")], "etcd3", None),
            // The store rule.
            (&[("PATRONI_ETCD3_HOSTS", "'a:2379','b:2379'")], "etcd3.hosts", Some("['a:2379', 'b:2379']")),
            (&[("PATRONI_ETCD3_HOSTS", "a:2379,b:2379")], "etcd3.hosts", Some("['a:2379', 'b:2379']")),
            (&[("PATRONI_ETCD3_HOSTS", "")], "etcd3.hosts", Some("''")),
            (&[("PATRONI_ETCD3_HOST", "a:2379")], "etcd3.host", Some("'a:2379'")),
            (&[("PATRONI_ETCD3_HOST", "")], "etcd3.host", Some("''")),
            (&[("PATRONI_ETCD3_PORT", "2379")], "etcd3.port", Some("2379")),
            (&[("PATRONI_ETCD3_PORT", "")], "etcd3.port", Some("''")),
            (&[("PATRONI_ETCD3_PORT", "x")], "etcd3", None),
            (&[("PATRONI_ETCD3_USE_PROXIES", "true")], "etcd3.use_proxies", Some("true")),
            (&[("PATRONI_ETCD3_USE_PROXIES", "maybe")], "etcd3", None),
            (&[("PATRONI_ETCD3_PROTOCOL", "https")], "etcd3.protocol", Some("https")),
            (&[("PATRONI_ETCD3_SRV_SUFFIX", "s")], "etcd3.srv_suffix", Some("s")),
            (&[("PATRONI_ETCD3_KEY_PASSWORD", "k")], "etcd3.key_password", Some("k")),
            (&[("PATRONI_ETCD3_CACERT", "/ca.pem")], "etcd3.cacert", Some("/ca.pem")),
            (&[("PATRONI_ETCD3_VERIFY", "off")], "etcd3.verify", Some("false")),
            (&[("PATRONI_CONSUL_HOST", "c:8500")], "consul.host", Some("'c:8500'")),
            (&[("PATRONI_CONSUL_CHECKS", "serfHealth, x")], "consul.checks", Some("[serfHealth, x]")),
            (&[("PATRONI_CONSUL_REGISTER_SERVICE", "yes")], "consul.register_service", Some("true")),
            (&[("PATRONI_CONSUL_SERVICE_TAGS", "a,b")], "consul.service_tags", Some("[a, b]")),
            (&[("PATRONI_CONSUL_SERVICE_CHECK_INTERVAL", "5s")], "consul.service_check_interval", Some("5s")),
            (&[("PATRONI_KUBERNETES_PORTS", "[{name: postgresql, port: 5432}]")], "kubernetes.ports", Some("[{name: postgresql, port: 5432}]")),
            (&[("PATRONI_KUBERNETES_LABELS", "application: patroni")], "kubernetes.labels", Some("{application: patroni}")),
            (&[("PATRONI_KUBERNETES_LABELS", "")], "kubernetes.labels", Some("{}")),
            // What PyYAML's safe_load refuses: a custom tag, a list as a key.
            (&[("PATRONI_KUBERNETES_LABELS", "a: !custom b")], "kubernetes", None),
            (&[("PATRONI_RESTAPI_HTTP_EXTRA_HEADERS", "[]")], "restapi", Some("{}")),
            (&[("PATRONI_KUBERNETES_LABELS", "a: !!str 1")], "kubernetes.labels", Some("{a: '1'}")),
            (&[("PATRONI_ETCD3_HOSTS", "!!str 1, b")], "etcd3.hosts", Some("['1', b]")),
            (&[("PATRONI_KUBERNETES_BYPASS_API_SERVICE", "on")], "kubernetes.bypass_api_service", Some("true")),
            (&[("PATRONI_KUBERNETES_RETRIABLE_HTTP_CODES", "401")], "kubernetes.retriable_http_codes", Some("[401]")),
            (&[("PATRONI_KUBERNETES_BOOTSTRAP_LABELS", "{a: b}")], "kubernetes.bootstrap_labels", Some("{a: b}")),
            (&[("PATRONI_KUBERNETES_STANDBY_LEADER_LABEL_VALUE", "sl")], "kubernetes.standby_leader_label_value", Some("sl")),
            (&[("PATRONI_ZOOKEEPER_USE_SSL", "true")], "zookeeper.use_ssl", Some("'true'")),
            (&[("PATRONI_ZOOKEEPER_SET_ACLS", "CN=p: [ALL]")], "zookeeper.set_acls", Some("{CN=p: [ALL]}")),
            (&[("PATRONI_ZOOKEEPER_AUTH_DATA", "digest: 'u:p'")], "zookeeper.auth_data", Some("{digest: 'u:p'}")),
            (&[("PATRONI_EXHIBITOR_PORT", "8181")], "exhibitor.port", Some("8181")),
            // citus: GROUP (an integer) and DATABASE only.
            (&[("PATRONI_CITUS_GROUP", "2")], "citus.group", Some("2")),
            (&[("PATRONI_CITUS_GROUP", "two")], "citus", None),
            (&[("PATRONI_CITUS_GROUP", "")], "citus", None),
            (&[("PATRONI_CITUS_DATABASE", "citus")], "citus.database", Some("citus")),
            (&[("PATRONI_CITUS_HOST", "h")], "citus", None),
            // Names: any case for the section, upper case for the suffix.
            (&[("PATRONI_etcd3_HOSTS", "a:1")], "etcd3.hosts", Some("['a:1']")),
            (&[("PATRONI_ETCD3_hosts", "a:1")], "etcd3", None),
            (&[("PATRONI_NAME_HOST", "h"), ("PATRONI_NAME", "n")], "name", Some("n")),
        ];
        check_rows("", rows);
    }

    #[test]
    fn variables_patroni_does_not_read_change_nothing() {
        for vars in [
            &[("PATRONI_FOO_BAR", "x")][..],
            &[("PATRONI__HOST", "x")],
            &[("PATRONI_", "x")],
            &[("PATRONI_CONFIGURATION", "scope: x")],
            &[("PATRONI_ETCD3", "x")],
            &[("PATRONI_BOOTSTRAP_DCS", "{ttl: 5}")],
            &[("PATRONI_TAGS_NOFAILOVER", "true")],
            &[("PATRONI_RESTAPI_THREAD_POOL_SIZE", "4")],
            &[("ETCD3_HOSTS", "x")],
        ] {
            assert_eq!(applied("{name: n}", vars), yaml("{name: n}"), "{vars:?}");
        }
    }

    #[test]
    fn environment_values_are_merged_over_the_file_as_patroni_does() {
        #[rustfmt::skip]
        let cases: &[(&str, Row)] = &[
            ("name: a", (&[("PATRONI_NAME", "")], "name", Some("a"))),
            ("name: a", (&[("PATRONI_NAME", "b")], "name", Some("b"))),
            ("log: {level: INFO}", (&[("PATRONI_LOGLEVEL", "DEBUG")], "log.level", Some("DEBUG"))),
            (
                "restapi: {authentication: {username: u, password: p}}",
                (&[("PATRONI_RESTAPI_PASSWORD", "q")], "restapi.authentication", Some("{username: u, password: q}")),
            ),
            (
                "postgresql: {authentication: {superuser: {username: postgres, password: a}}}",
                (&[("PATRONI_SUPERUSER_PASSWORD", "b")], "postgresql.authentication.superuser", Some("{username: postgres, password: b}")),
            ),
            (
                "restapi: {http_extra_headers: {A: '1'}}",
                (&[("PATRONI_RESTAPI_HTTP_EXTRA_HEADERS", "B: '2'")], "restapi.http_extra_headers", Some("{A: '1', B: '2'}")),
            ),
            // A list replaces the file's list.
            (
                "restapi: {allowlist: [x]}",
                (&[("PATRONI_RESTAPI_ALLOWLIST", "a, b")], "restapi.allowlist", Some("[a, b]")),
            ),
            // A null inside a mapping removes the file's key.
            (
                "kubernetes: {labels: {a: x, b: y}}",
                (&[("PATRONI_KUBERNETES_LABELS", "a: null")], "kubernetes.labels", Some("{b: y}")),
            ),
            ("etcd3: {port: 2380}", (&[("PATRONI_ETCD3_PORT", "2379")], "etcd3.port", Some("2379"))),
            // Same in Python's str(): the file's value stays.
            ("etcd3: {port: '2379'}", (&[("PATRONI_ETCD3_PORT", "2379")], "etcd3.port", Some("'2379'"))),
            ("raft: {min_timeout: '1.5'}", (&[("PATRONI_RAFT_MIN_TIMEOUT", "1.5")], "raft.min_timeout", Some("'1.5'"))),
            // A section of the file does not let PATRONI_ETCD3_USERNAME in.
            ("etcd3: {hosts: 'a:2379'}", (&[("PATRONI_ETCD3_USERNAME", "u")], "etcd3", Some("{hosts: 'a:2379'}"))),
            // An unreadable value leaves the file's alone.
            ("ctl: {insecure: true}", (&[("PATRONI_CTL_INSECURE", "maybe")], "ctl", Some("{insecure: true}"))),
            ("citus: {group: 1, database: c}", (&[("PATRONI_CITUS_GROUP", "x")], "citus.group", Some("1"))),
            // A scalar of the file under a section name is replaced by the mapping.
            ("etcd3: x", (&[("PATRONI_ETCD3_HOST", "h")], "etcd3", Some("{host: h}"))),
        ];
        for (file, row) in cases {
            check_rows(file, std::slice::from_ref(row));
        }
        // New keys go after the file's, in the order Patroni builds them.
        let doc = applied(
            "postgresql: {listen: x}\nscope: s",
            &[
                ("PATRONI_POSTGRESQL_DATA_DIR", "/d"),
                ("PATRONI_NAME", "n"),
                ("PATRONI_RESTAPI_LISTEN", "l"),
            ],
        );
        assert_eq!(
            doc,
            yaml(
                "{postgresql: {listen: x, data_dir: /d}, scope: s, name: n, restapi: {listen: l}}"
            )
        );
    }

    #[test]
    fn every_variable_patroni_lists_is_read() {
        // (variable, path, a value of the key's type)
        let mut expected: Vec<(String, String, &str)> = Vec::new();
        let sample = |section: &str, key: &str| -> &'static str {
            if BOOLS.contains(&(section, key)) {
                "true"
            } else if INTS.iter().any(|(s, k)| *s == section && k.contains(&key))
                || (section == "raft" && REALS.contains(&key))
            {
                "1"
            } else if LISTS.contains(&(section, key)) {
                "a"
            } else if DICTS.iter().any(|(s, k)| *s == section && k.contains(&key)) {
                "a: b"
            } else {
                "x"
            }
        };
        for &p in TOP_LEVEL {
            expected.push((format!("PATRONI_{}", p.to_uppercase()), p.into(), "x"));
        }
        for &(section, params) in SECTIONS {
            for &p in params {
                expected.push((
                    format!("PATRONI_{}_{}", section.to_uppercase(), p.to_uppercase()),
                    format!("{section}.{p}"),
                    sample(section, p),
                ));
            }
        }
        for &b in BINARIES {
            expected.push((
                format!("PATRONI_POSTGRESQL_BIN_{}", b.to_uppercase()),
                format!("postgresql.bin_name.{b}"),
                "x",
            ));
        }
        for section in ["ctl", "restapi"] {
            for &p in &AUTH_PARAMETERS[..2] {
                expected.push((
                    format!("PATRONI_{}_{}", section.to_uppercase(), p.to_uppercase()),
                    format!("{section}.authentication.{p}"),
                    "x",
                ));
            }
        }
        for &role in AUTH_ROLES {
            for &p in AUTH_PARAMETERS {
                expected.push((
                    format!("PATRONI_{}_{}", role.to_uppercase(), p.to_uppercase()),
                    format!("postgresql.authentication.{role}.{p}"),
                    "x",
                ));
            }
        }
        for &suffix in DCS_SUFFIXES {
            let value = if DCS_BOOLS.contains(&suffix) {
                "true"
            } else if suffix == "PORT" {
                "1"
            } else if DCS_DICTS.contains(&suffix) {
                "a: b"
            } else {
                "x"
            };
            expected.push((
                format!("PATRONI_CONSUL_{suffix}"),
                format!("consul.{}", suffix.to_lowercase()),
                value,
            ));
        }
        assert_eq!(AUTH_PARAMETERS.len(), 12);
        assert_eq!(DCS_SUFFIXES.len(), 42);
        for (var, path, value) in &expected {
            let doc = applied("", &[(var, value)]);
            assert!(
                at(&doc, path).is_some_and(|v| !v.is_null()),
                "{var} → {path}: {doc:?}"
            );
            // The keys table gives the key a fate (raft's section is refused whole, so its
            // timeouts have no entries; other stores' suffixes are checked in the report).
            let whole_section_refused = path.starts_with("raft.") || path.starts_with("consul.");
            assert!(
                whole_section_refused || super::super::keys::lookup(path).is_some(),
                "{var} → {path} is not in config::keys"
            );
        }
        // All at once: each lands, and nothing else appears.
        let all: Vec<(&str, &str)> = expected.iter().map(|(k, _, v)| (k.as_str(), *v)).collect();
        let doc = applied("", &all);
        for (var, path, _) in &expected {
            assert!(at(&doc, path).is_some(), "{var} → {path}");
        }
    }

    #[test]
    fn patronis_number_and_boolean_parsers() {
        for (text, want) in [
            ("on", Some(true)),
            ("TRUE", Some(true)),
            ("Yes", Some(true)),
            ("1", Some(true)),
            ("off", Some(false)),
            ("False", Some(false)),
            ("NO", Some(false)),
            ("0", Some(false)),
            ("maybe", None),
            (" true", None),
            ("", None),
        ] {
            assert_eq!(parse_bool(text), want, "{text:?}");
        }
        for (text, want) in [
            ("10", Some(10)),
            (" 42 ", Some(42)),
            ("+7", Some(7)),
            ("-7", Some(-7)),
            ("0", Some(0)),
            ("0x1F", Some(31)),
            ("-0x10", Some(-16)),
            ("0X10", None),
            ("0644", Some(420)),
            ("08", None),
            ("1.5", Some(2)),
            ("2.5", Some(2)),
            ("3.5", Some(4)),
            (".5", Some(0)),
            ("-.5", None),
            ("1e3", Some(1000)),
            ("1.5E1", Some(15)),
            ("1.", None),
            ("10s", None),
            ("1 MB", None),
            ("abc", None),
            ("", None),
            ("1e400", None),
            ("99999999999999999999", None),
        ] {
            assert_eq!(parse_int(text), want, "{text:?}");
        }
        for (text, want) in [
            ("1.5", Some(1.5)),
            (" +0.0005 ", Some(0.0005)),
            ("2", Some(2.0)),
            (".5", Some(0.5)),
            ("1e-1", Some(0.1)),
            ("-3", Some(-3.0)),
            ("1.5A", None),
            ("10ms", None),
            ("1.", None),
            ("x", None),
            ("", None),
        ] {
            assert_eq!(parse_real(text), want, "{text:?}");
        }
    }

    #[test]
    fn log_format_placeholders_and_python_printing() {
        for (text, want) in [
            ("%(asctime)s %(levelname)s: %(message)s", true),
            ("%(message)s", true),
            ("%()s", false),
            ("%(a b)s", false),
            ("100% (sure)", false),
            ("message, levelname", false),
        ] {
            assert_eq!(has_placeholder(text), want, "{text:?}");
        }
        for (x, want) in [
            (1.0, "1.0"),
            (0.0, "0.0"),
            (1.5, "1.5"),
            (-2.5, "-2.5"),
            (123.456, "123.456"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.25e22, "1.25e+22"),
        ] {
            assert_eq!(py_float(x), want, "{x}");
        }
    }
}
