//! The typed sections of Patroni's YAML configuration (`patroni.yml`): the PostgreSQL role
//! credentials, `restapi`, the etcd settings, `tags`, `bootstrap`, `postgresql`, `citus` and
//! `log`, with the serde helpers they need (passwords read as strings and hidden from `Debug`
//! output). [`Config`](super::Config) holds them once loaded and validated.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

use super::dynamic;

/// Reads a password given as a YAML string or a bare number (`password: 12345`), so a typo in its
/// type never ends up quoting the value in an error message.
pub(super) fn password_opt<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    match Option::<Yaml>::deserialize(d)? {
        None | Some(Yaml::Null) => Ok(None),
        Some(Yaml::String(s)) => Ok(Some(s)),
        Some(Yaml::Number(n)) => Ok(Some(n.to_string())),
        Some(Yaml::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(serde::de::Error::custom(
            "expected a password string (value not shown)",
        )),
    }
}

fn password<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    password_opt(d)?.ok_or_else(|| serde::de::Error::custom("expected a password string"))
}

/// `Some("<redacted>")` for a set password: what `Debug` output shows instead of it.
fn redacted(p: &Option<String>) -> Option<&'static str> {
    p.as_ref().map(|_| "<redacted>")
}

/// Credentials of one PostgreSQL role (`postgresql.authentication.{superuser,replication,rewind}`).
/// `Debug` output hides the passwords. Which of these keys praetor honours is decided in
/// [`keys::KEYS`](super::keys::KEYS); unknown keys are reported there too.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Credentials {
    /// Role name.
    pub username: Option<String>,
    /// Password; written only to the pgpass file (mode 0600), never to logs or argv.
    #[serde(default, deserialize_with = "password_opt")]
    pub password: Option<String>,
    /// libpq `sslmode` for connections made with this role.
    pub sslmode: Option<String>,
    /// libpq `sslcert`.
    pub sslcert: Option<String>,
    /// libpq `sslkey`.
    pub sslkey: Option<String>,
    /// libpq `sslpassword`: the passphrase of an `sslkey` encrypted as PKCS#8; the agent's own
    /// connections decrypt the key with it (`crate::tls::load_key_with`), and the tools and the
    /// server's WAL receiver get it from the service file praetor writes
    /// (`crate::postgres::render::pg_service_text`), never from a command line.
    #[serde(default, deserialize_with = "password_opt")]
    pub sslpassword: Option<String>,
    /// libpq `sslrootcert`.
    pub sslrootcert: Option<String>,
    /// libpq `sslcrl`: a file of certificate revocation lists, checked when the server's
    /// certificate is verified (`crate::tls::load_crls`) and passed on in the connection strings
    /// praetor writes.
    pub sslcrl: Option<String>,
    /// libpq `sslcrldir`: a directory of revocation lists, used as `sslcrl`.
    pub sslcrldir: Option<String>,
    /// libpq `channel_binding`.
    pub channel_binding: Option<String>,
    /// libpq `gssencmode`.
    pub gssencmode: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("sslmode", &self.sslmode)
            .field("sslcert", &self.sslcert)
            .field("sslkey", &self.sslkey)
            .field("sslpassword", &redacted(&self.sslpassword))
            .field("sslrootcert", &self.sslrootcert)
            .finish_non_exhaustive()
    }
}

/// `postgresql.authentication` (unknown keys are reported by [`keys::check`](super::keys::check)).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Authentication {
    /// Superuser the agent connects as (default `postgres`).
    #[serde(default)]
    pub superuser: Credentials,
    /// Role standbys stream with and pg_basebackup uses (default `replicator`).
    #[serde(default)]
    pub replication: Credentials,
    /// Role pg_rewind connects as; the superuser when absent.
    pub rewind: Option<Credentials>,
}

/// HTTP basic credentials (`restapi.authentication`, `ctl.authentication`); `Debug` hides the
/// password.
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password.
    #[serde(deserialize_with = "password")]
    pub password: String,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// `restapi`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RestApi {
    /// `host:port` the REST API binds to.
    pub listen: String,
    /// `host:port` other members and tools use to reach it (published in `api_url`).
    pub connect_address: String,
    /// Basic auth for the unsafe (state-changing) endpoints.
    pub authentication: Option<BasicAuth>,
    /// Server certificate (PEM); when set the REST API speaks HTTPS only.
    #[serde(default)]
    pub certfile: Option<PathBuf>,
    /// Private key (PEM, unencrypted); the certificate file when absent.
    #[serde(default)]
    pub keyfile: Option<PathBuf>,
    /// CA bundle client certificates must chain to (needed by `verify_client`).
    #[serde(default)]
    pub cafile: Option<PathBuf>,
    /// Client certificates: `none` (default), `optional` (required for unsafe endpoints) or
    /// `required` (for every request; refused during the TLS handshake). Patroni's semantics.
    #[serde(default)]
    pub verify_client: VerifyClient,
    /// Hosts, IP addresses or CIDR networks allowed to call unsafe endpoints; empty allows all
    /// unless `allowlist_include_members` is set (Patroni's `restapi.allowlist`).
    #[serde(default)]
    pub allowlist: Vec<String>,
    /// Also allow the hosts of the members' `api_url`s registered in the DCS.
    #[serde(default)]
    pub allowlist_include_members: bool,
    /// Remaining Patroni keys (`http_extra_headers`, …), accepted and ignored.
    #[serde(flatten)]
    pub other: BTreeMap<String, Json>,
}

/// `restapi.verify_client`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VerifyClient {
    /// Client certificates are not asked for.
    #[default]
    None,
    /// Asked for; unsafe endpoints refuse clients without one (403).
    Optional,
    /// Required for every connection.
    Required,
}

/// One etcd endpoint and the settings to reach the etcd cluster (`etcd3:` or `etcd:`).
#[derive(Clone, Default, Serialize)]
pub struct EtcdConfig {
    /// Endpoint URLs, e.g. `http://127.0.0.1:2379`.
    pub endpoints: Vec<String>,
    /// etcd user for etcd's own auth.
    pub username: Option<String>,
    /// etcd password.
    pub password: Option<String>,
    /// CA bundle to verify etcd's certificate (`cacert`); required with `protocol: https`.
    pub cacert: Option<PathBuf>,
    /// Client certificate for etcd's `--client-cert-auth` (`cert`).
    pub cert: Option<PathBuf>,
    /// Its private key (`key`).
    pub key: Option<PathBuf>,
    /// `use_proxies` (Patroni's meaning): the endpoints are proxies in front of etcd, so the
    /// members etcd lists are not added to them. Default false: etcd's member list is read and
    /// its client URLs are used as well.
    pub use_proxies: bool,
}

impl std::fmt::Debug for EtcdConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdConfig")
            .field("endpoints", &self.endpoints)
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("cacert", &self.cacert)
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("use_proxies", &self.use_proxies)
            .finish()
    }
}

/// `tags`: per-member flags published in the member key (Patroni §2.14).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Tags {
    /// Never take the leader key automatically.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nofailover: bool,
    /// Excluded from GET /replica (503) and from Citus secondaries.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub noloadbalance: bool,
    /// Preferred basebackup source for new members.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clonefrom: bool,
    /// Never chosen as synchronous standby.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nosync: bool,
    /// Tie-break on equal LSN in the leader race; higher wins; 0 behaves as `nofailover` (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_priority: Option<i64>,
    /// Preference as synchronous standby: higher first (default 1); 0 or less behaves as
    /// `nosync` (Patroni's `sync_priority`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_priority: Option<i64>,
    /// Patroni's `nostream`: this standby does not stream; it replays WAL from the archive
    /// (`restore_command` in `recovery_conf`) and pg_wal only. The primary keeps no slot for it
    /// and it gets no copies of permanent logical slots.
    #[serde(
        default,
        skip_serializing_if = "std::ops::Not::not",
        deserialize_with = "dynamic::patroni_bool_default"
    )]
    pub nostream: bool,
    /// Cascading replication: stream from this member rather than the leader, while it has a
    /// member key (Patroni's `replicatefrom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicatefrom: Option<String>,
    /// Any custom tag (queryable with `?tag_NAME=VALUE`).
    #[serde(flatten)]
    pub other: BTreeMap<String, Json>,
}

impl Tags {
    /// Whether this member may become leader by an automatic failover: not `nofailover` and
    /// `failover_priority` not 0 (Patroni: `nofailover` ⇔ priority 0; `nofailover` wins a conflict).
    pub fn can_failover(&self) -> bool {
        !self.nofailover && self.failover_priority.unwrap_or(1) > 0
    }

    /// Whether this member is kept out of synchronous replication: `nosync`, or a
    /// `sync_priority` of 0 or less (Patroni).
    pub fn excluded_from_sync(&self) -> bool {
        self.nosync || self.sync_priority.is_some_and(|p| p <= 0)
    }

    /// Effective synchronous-standby priority (default 1, 0 when `nosync`); higher is preferred.
    pub fn sync_rank(&self) -> i64 {
        if self.nosync {
            0
        } else {
            self.sync_priority.unwrap_or(1)
        }
    }

    /// Effective failover priority (default 1, 0 when `nofailover`).
    pub fn priority(&self) -> i64 {
        if self.nofailover {
            0
        } else {
            self.failover_priority.unwrap_or(1)
        }
    }
}

/// One `bootstrap.initdb` entry: a bare flag (`data-checksums`) or `{option: value}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum InitdbOption {
    /// `--flag`.
    Flag(String),
    /// `--key=value`.
    Pair(BTreeMap<String, Yaml>),
}

/// `bootstrap`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Bootstrap {
    /// Seed of the dynamic configuration, written to `/config` by the bootstrap winner.
    #[serde(default)]
    pub dcs: Json,
    /// initdb options.
    #[serde(default)]
    pub initdb: Vec<InitdbOption>,
    /// Legacy location of pg_hba lines.
    #[serde(default)]
    pub pg_hba: Vec<String>,
    /// Other keys (method, post_bootstrap, …).
    #[serde(flatten)]
    pub other: BTreeMap<String, Json>,
    /// The file has a `bootstrap` section. Without one this member never initialises a new
    /// cluster; it waits for another member to (Patroni's `'bootstrap' in config` check).
    #[serde(skip)]
    pub present: bool,
}

/// `postgresql`: the local server.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Postgresql {
    /// `host[,host2]:port` the postmaster listens on.
    pub listen: String,
    /// `host:port` the others use to reach this server (published in `conn_url`).
    pub connect_address: String,
    /// `host:port` of a connection pooler in front of this server (Patroni's `proxy_address`),
    /// published as `proxy_url`; a Citus coordinator points pg_dist_poolinfo at it.
    #[serde(default)]
    pub proxy_address: Option<String>,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Patroni's `config_dir`: where `postgresql.conf`, `postgresql.base.conf`, `pg_hba.conf` and
    /// `pg_ident.conf` live (the Debian layout keeps them in `/etc/postgresql/<version>/<name>`);
    /// the data directory when absent. The server is started with `--config-file` in it.
    pub config_dir: Option<PathBuf>,
    /// Patroni's `custom_conf`: a file `postgresql.conf` includes instead of
    /// `postgresql.base.conf` (relative to `config_dir`); praetor then never renames or writes it.
    pub custom_conf: Option<PathBuf>,
    /// Directory of initdb, postgres, pg_basebackup, pg_rewind, pg_controldata; found on PATH and in
    /// `/usr/lib/postgresql/*/bin` when absent.
    pub bin_dir: Option<PathBuf>,
    /// Path of the pgpass file the agent writes (mode 0600) for its libpq-based tools.
    pub pgpass: Option<PathBuf>,
    /// Role credentials.
    #[serde(default)]
    pub authentication: Authentication,
    /// Local GUCs; override the dynamic ones except the cluster-wide ones (Patroni §6.1).
    #[serde(default)]
    pub parameters: BTreeMap<String, Json>,
    /// pg_hba.conf lines.
    #[serde(default)]
    pub pg_hba: Vec<String>,
    /// pg_ident.conf lines (Patroni's `postgresql.pg_ident`); when given they win over the
    /// dynamic `postgresql.pg_ident` (see `postgres::render::pg_ident_lines`).
    #[serde(default)]
    pub pg_ident: Vec<String>,
    /// Local override of the dynamic `postgresql.use_pg_rewind`.
    pub use_pg_rewind: Option<bool>,
    /// Patroni's `use_unix_socket` (default false): the agent's own connections to its server
    /// go through the Unix socket (see [`crate::postgres::render::unix_socket_dir`]).
    #[serde(default, deserialize_with = "dynamic::patroni_bool_opt")]
    pub use_unix_socket: Option<bool>,
    /// Patroni's `remove_data_directory_on_rewind_failure` (default false): after a failed
    /// pg_rewind, remove the data directory and take a fresh base backup; when off the data is
    /// kept and the member waits to be reinitialized. Also read from the dynamic `postgresql`.
    #[serde(default, deserialize_with = "dynamic::patroni_bool_opt")]
    pub remove_data_directory_on_rewind_failure: Option<bool>,
    /// Patroni's `remove_data_directory_on_diverged_timelines` (default false): reinitialize a
    /// member whose timeline diverged from the leader's when pg_rewind is off or failed; when off
    /// its data is kept and it waits to be reinitialized. Also read from the dynamic `postgresql`.
    #[serde(default, deserialize_with = "dynamic::patroni_bool_opt")]
    pub remove_data_directory_on_diverged_timelines: Option<bool>,
    /// Seconds to wait for the postmaster to start or stop (default 60).
    pub pg_ctl_timeout: Option<u64>,
    /// pg_basebackup options (`[verbose, {max-rate: 100M}]` or a map), read by
    /// [`basebackup_options`].
    pub basebackup: Option<Json>,
    /// Other keys kept for later features (callbacks, config_dir, …).
    #[serde(flatten)]
    pub other: BTreeMap<String, Json>,
}

/// pg_basebackup options praetor sets itself (or that would break the clone), skipped as
/// Patroni skips them (`compress` only when client-side: server-side compression is allowed).
const BASEBACKUP_NOT_ALLOWED: &[&str] = &[
    "pgdata",
    "format",
    "wal-method",
    "xlog-method",
    "gzip",
    "version",
    "dbname",
    "host",
    "port",
    "username",
    "password",
];

/// The command-line options of `postgresql.basebackup` as Patroni builds them: a map gives
/// `--key=value` each; a list gives `--flag` for a string and `--key=value` for a one-key map.
/// Surrounding quotes of a value are removed. Options praetor passes itself (pgdata, dbname,
/// wal-method, …) and client-side `compress` are skipped: each is named in the second list.
///
/// # Errors
/// The value is neither a map nor a list of strings and one-key maps (the message says which
/// entry).
pub fn basebackup_options(v: &Json) -> Result<(Vec<String>, Vec<String>), String> {
    fn unquote(s: &str) -> String {
        shlex::split(s)
            .filter(|w| w.len() == 1)
            .map(|mut w| w.remove(0))
            .unwrap_or_else(|| s.to_string())
    }
    fn text(v: &Json) -> String {
        v.as_str().map(unquote).unwrap_or_else(|| v.to_string())
    }
    let mut pairs: Vec<(String, Option<String>)> = Vec::new();
    match v {
        Json::Null => {}
        Json::Object(m) => {
            for (k, val) in m {
                // Patroni skips an empty key or value.
                if !k.is_empty() && !val.is_null() && val.as_str() != Some("") {
                    pairs.push((k.clone(), Some(text(val))));
                }
            }
        }
        Json::Array(items) => {
            for item in items {
                match item {
                    Json::String(flag) => pairs.push((flag.clone(), None)),
                    Json::Object(m) if m.len() == 1 => {
                        let (k, val) = m.iter().next().expect("one key");
                        pairs.push((k.clone(), Some(text(val))));
                    }
                    other => {
                        return Err(format!(
                            "expected an option name or a one-key mapping in the list, got {other}"
                        ))
                    }
                }
            }
        }
        other => {
            return Err(format!(
                "expected a mapping or a list of options, got {other}"
            ))
        }
    }
    let (mut args, mut skipped) = (Vec::new(), Vec::new());
    for (k, val) in pairs {
        let client_compress =
            k == "compress" && !val.as_deref().is_some_and(|c| c.starts_with("server"));
        if BASEBACKUP_NOT_ALLOWED.contains(&k.as_str()) || client_compress {
            skipped.push(k);
            continue;
        }
        args.push(match val {
            Some(val) => format!("--{k}={val}"),
            None => format!("--{k}"),
        });
    }
    Ok((args, skipped))
}

impl Postgresql {
    /// The command line of the script under `key` (`pre_promote`, `before_stop`), split into
    /// words as Patroni splits it (`shlex`; no shell runs it), or `None` when unset or empty.
    /// A value that does not split (an unclosed quote) is refused by the key table
    /// ([`crate::config::keys`]) before this is asked.
    pub fn script(&self, key: &str) -> Option<Vec<String>> {
        let line = self.other.get(key)?.as_str()?;
        shlex::split(line).filter(|w| !w.is_empty())
    }
}

/// `citus`: present on Citus clusters (group 0 = coordinator).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Citus {
    /// Citus group of this member.
    pub group: u32,
    /// Database holding the Citus extension (when `databases` is empty).
    #[serde(default)]
    pub database: String,
    /// Several Citus databases (the key of Patroni's multi-database Citus work): each gets the
    /// extension, its metadata upkeep and the switchover pause. Overrides `database` when set.
    #[serde(default)]
    pub databases: Vec<String>,
}

impl Citus {
    /// The Citus databases: `databases`, or `database` alone.
    pub fn databases(&self) -> Vec<String> {
        if self.databases.is_empty() {
            vec![self.database.clone()]
        } else {
            self.databases.clone()
        }
    }
}

/// `log`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LogConfig {
    /// `DEBUG`, `INFO` (default), `WARNING`, `ERROR`.
    pub level: Option<String>,
    /// `plain` (default) or `json` (also accepted under Patroni's `type` key). Patroni's own
    /// `format` (a Python format string or a list of fields) is not used: it is read as `None`,
    /// so `type` decides, and [`keys::KEYS`](super::keys::KEYS) warns about it.
    #[serde(default, deserialize_with = "plain_or_json")]
    pub format: Option<String>,
    /// Patroni's name for `format`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Lines go to files in this directory instead of stderr (see [`LogConfig::files`]).
    #[serde(skip)]
    pub files: Option<LogFiles>,
    /// Other keys.
    #[serde(flatten)]
    pub other: BTreeMap<String, Json>,
}

/// Where lines go with `log.dir` set, as Patroni's rotating file handler writes them: to
/// `{dir}/patroni.log` (the name Patroni uses, so log shippers and logrotate rules keep finding
/// it), renamed to `patroni.log.1` … `patroni.log.{file_num}` when it reaches `file_size` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFiles {
    /// `log.dir`.
    pub dir: std::path::PathBuf,
    /// `log.file_size`, bytes (default 25000000).
    pub file_size: u64,
    /// `log.file_num`: rotated files kept (default 4).
    pub file_num: usize,
    /// `log.mode`: permission bits of the files (default: 0666 less the umask).
    pub mode: Option<u32>,
}

impl LogFiles {
    /// Reads `log.dir`, `log.file_size`, `log.file_num` and `log.mode` from the `log` section
    /// (`None` without `dir`). Numbers are read as Patroni reads them: integers or strings
    /// (`"25e6"`, `"0o600"`, `"0600"` octal as C's `strtol` reads it); an integer mode whose
    /// digits are all 0–7 is the octal number written (a YAML 1.1 reader, as Patroni's, reads
    /// `mode: 0600` as octal; praetor's YAML 1.2 reader sees 600).
    ///
    /// # Errors
    /// `(key, message)` naming the key and what was expected.
    pub fn from_section(
        other: &BTreeMap<String, Json>,
    ) -> Result<Option<LogFiles>, (String, String)> {
        let Some(dir) = other.get("dir").filter(|d| !d.is_null()) else {
            return Ok(None);
        };
        let dir = match dir.as_str() {
            Some(d) if !d.trim().is_empty() => std::path::PathBuf::from(d),
            _ => {
                return Err((
                    "log.dir".into(),
                    format!("expected a directory path, got {dir}"),
                ))
            }
        };
        let number = |key: &str, default: i64| -> Result<i64, (String, String)> {
            match other.get(key) {
                None | Some(Json::Null) => Ok(default),
                Some(Json::Number(n)) if n.as_i64().is_some_and(|v| v > 0) => {
                    Ok(n.as_i64().unwrap_or(default))
                }
                Some(Json::String(s)) => crate::config::env::parse_int(s)
                    .filter(|v| *v > 0)
                    .ok_or_else(|| {
                        (
                            format!("log.{key}"),
                            format!("expected a positive integer, got {s:?}"),
                        )
                    }),
                Some(v) => Err((
                    format!("log.{key}"),
                    format!("expected a positive integer, got {v}"),
                )),
            }
        };
        let file_size = number("file_size", 25_000_000)? as u64;
        let file_num = number("file_num", 4)? as usize;
        let mode = match other.get("mode") {
            None | Some(Json::Null) => None,
            Some(Json::Number(n)) if n.as_u64().is_some() => {
                let v = n.as_u64().unwrap_or_default();
                let digits = v.to_string();
                Some(if digits.chars().all(|c| ('0'..='7').contains(&c)) {
                    u32::from_str_radix(&digits, 8).unwrap_or_default()
                } else {
                    v as u32
                })
            }
            Some(Json::String(s)) => Some(
                crate::config::env::parse_int(s)
                    .filter(|v| (0..=0o7777).contains(v))
                    .ok_or_else(|| {
                        (
                            "log.mode".to_string(),
                            format!("expected file permissions such as 0640, got {s:?}"),
                        )
                    })? as u32,
            ),
            Some(v) => {
                return Err((
                    "log.mode".into(),
                    format!("expected file permissions such as 0640, got {v}"),
                ))
            }
        };
        if mode.is_some_and(|m| m > 0o7777) {
            return Err((
                "log.mode".into(),
                "expected file permissions such as 0640".into(),
            ));
        }
        Ok(Some(LogFiles {
            dir,
            file_size,
            file_num,
            mode,
        }))
    }
}

/// `log.format` when it is praetor's `plain` or `json`; any other value (Patroni's format string
/// or field list) is `None`.
fn plain_or_json<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Yaml>::deserialize(d)? {
        Some(Yaml::String(s)) if s == "plain" || s == "json" => Some(s),
        _ => None,
    })
}
