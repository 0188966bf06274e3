//! The agent's configuration: Patroni's YAML schema (`patroni.yml`), its `PATRONI_*` environment
//! overrides, and the dynamic configuration kept in the DCS `config` key.
//!
//! Loading goes YAML text → `serde_yaml::Value` → environment overrides applied onto that value →
//! typed structs (through `serde_path_to_error`, so a wrong type names its dotted key) → semantic
//! validation. Every failure is a [`ConfigError`] naming the file, the key and what was expected.
//! Key names and defaults follow Patroni's documentation (§6 of the compatibility reference).
//!
//! Before the typed parse, every key of the document is looked up in one table, [`keys::KEYS`],
//! that gives each key of Patroni's configuration its fate in praetor: implemented, refused (an
//! error: ignoring it could change what happens to data or roles) or ignored with a warning; a
//! key not in the table is reported with the nearest known one. [`Config::check`] returns every
//! problem at once (`praetor --validate-config`); [`Config::parse`] the first error.

pub mod backup;
mod ctl;
pub mod dynamic;
mod env;
mod etcd;
pub mod keys;
mod sections;
pub mod tls;
pub mod watchdog;

pub use ctl::CtlConfig;
pub use dynamic::{merge_patch, parse_seconds, DynamicConfig, DynamicPostgresql, MIN_TTL};
pub use env::process_env;
pub use etcd::normalise_namespace;
pub use sections::*;

use env::apply_env;
use etcd::parse_etcd;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

/// A configuration problem; `Display` gives one line: `FILE: KEY: what was expected`.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {message}")]
pub struct ConfigError {
    /// The file (or `PATRONI_CONFIGURATION`) the configuration came from.
    pub file: String,
    /// The dotted key, e.g. `postgresql.data_dir`; `(file)` for problems with the file as a whole.
    pub key: String,
    /// What was wrong and what was expected.
    pub message: String,
}

/// A key the configuration loads with but praetor does not honour (ignored, or unknown: most
/// likely a typo); `Display` gives one line: `FILE: KEY: what praetor does with it`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The file (or `PATRONI_CONFIGURATION`) the configuration came from.
    pub file: String,
    /// The dotted key, e.g. `restapi.server_tokens`.
    pub key: String,
    /// Why it is ignored, or the nearest known key.
    pub message: String,
}

impl std::fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.key, self.message)
    }
}

/// Everything [`Config::check`] found in one configuration: every error and every warning, in
/// document order (the table's findings first, then what the typed parse and the semantic checks
/// found), and the configuration when there is no error. `Debug` output hides passwords.
pub struct Report {
    /// Where the configuration came from (path or `PATRONI_CONFIGURATION`).
    pub source: String,
    /// Refused keys and invalid values; the configuration does not load when there is one.
    pub errors: Vec<ConfigError>,
    /// Ignored and unknown keys; the agent logs each once at start.
    pub warnings: Vec<ConfigWarning>,
    /// The validated configuration, when `errors` is empty.
    pub config: Option<Config>,
    /// The YAML document after the `PATRONI_*` overrides (what `--print` shows), when the text
    /// parsed as a YAML mapping.
    pub document: Option<Yaml>,
}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Report")
            .field("source", &self.source)
            .field("errors", &self.errors)
            .field("warnings", &self.warnings)
            .field("config", &self.config)
            .field("document", &self.document.as_ref().map(redact_passwords))
            .finish()
    }
}

impl Report {
    /// The configuration, or the first error.
    ///
    /// # Errors
    /// The first of [`Report::errors`].
    pub fn into_result(self) -> Result<Config, ConfigError> {
        let source = self.source;
        match (self.errors.into_iter().next(), self.config) {
            (Some(e), _) => Err(e),
            (None, Some(c)) => Ok(c),
            (None, None) => Err(ConfigError {
                file: source,
                key: "(file)".into(),
                message: "the configuration did not load".into(),
            }),
        }
    }
}

/// Key names whose values [`redact_passwords`] hides.
const SECRET_KEYS: &[&str] = &[
    "password",
    "sslpassword",
    "keyfile_password",
    "key_password",
];

/// `doc` with every password-like value (keys `password`, `sslpassword`, `keyfile_password`,
/// `key_password`) replaced by `<redacted>`: what `praetor --validate-config --print` shows, so
/// the printed configuration never carries a secret (see ARCHITECTURE.md, invariants).
pub fn redact_passwords(doc: &Yaml) -> Yaml {
    match doc {
        Yaml::Mapping(m) => Yaml::Mapping(
            m.iter()
                .map(|(k, v)| {
                    let secret = k.as_str().is_some_and(|k| SECRET_KEYS.contains(&k))
                        && !matches!(v, Yaml::Null | Yaml::Mapping(_) | Yaml::Sequence(_));
                    let v = if secret {
                        Yaml::String("<redacted>".into())
                    } else {
                        redact_passwords(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Yaml::Sequence(s) => Yaml::Sequence(s.iter().map(redact_passwords).collect()),
        other => other.clone(),
    }
}

/// The whole local configuration after validation.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from (path or `PATRONI_CONFIGURATION`).
    pub source: String,
    /// Cluster name.
    pub scope: String,
    /// Key prefix, normalised to `/service/` form (leading and trailing slash).
    pub namespace: String,
    /// This member's name, unique in the scope.
    pub name: String,
    /// REST API.
    pub restapi: RestApi,
    /// etcd access.
    pub etcd: EtcdConfig,
    /// Bootstrap section.
    pub bootstrap: Bootstrap,
    /// Local PostgreSQL.
    pub postgresql: Postgresql,
    /// Tags.
    pub tags: Tags,
    /// Citus settings, when the cluster is a Citus cluster.
    pub citus: Option<Citus>,
    /// Logging.
    pub log: LogConfig,
    /// Dynamic configuration from `bootstrap.dcs`, validated (used until `/config` exists).
    pub bootstrap_dcs: DynamicConfig,
    /// The `watchdog` section.
    pub watchdog: watchdog::WatchdogConfig,
    /// `postgresql.create_replica_methods` with each method's section, in order (`[basebackup]`
    /// when none are listed).
    pub replica_methods: Vec<backup::ReplicaMethod>,
    /// `bootstrap.method` when it names a custom method (not initdb).
    pub custom_bootstrap: Option<backup::CustomBootstrap>,
    /// The local `postgresql.recovery_conf` (it replaces the dynamic one when given, as in
    /// Patroni), name → value.
    pub recovery_conf: Option<BTreeMap<String, String>>,
}

/// Raw top-level shape; required keys are `Option` so their absence is reported by name.
#[derive(Deserialize)]
struct RawConfig {
    scope: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    restapi: Option<Yaml>,
    etcd3: Option<Yaml>,
    #[serde(default)]
    bootstrap: Option<Bootstrap>,
    postgresql: Option<Yaml>,
    #[serde(default)]
    tags: Option<Tags>,
    citus: Option<Yaml>,
    #[serde(default)]
    log: Option<LogConfig>,
    #[serde(flatten)]
    _other: BTreeMap<String, Yaml>,
}

impl Config {
    /// Loads the configuration file at `path` (or `PATRONI_CONFIGURATION` when `path` is `None`),
    /// applies `PATRONI_*` overrides from `env`, and validates it.
    ///
    /// # Errors
    /// The first [`ConfigError`] of [`Config::check_load`]: naming the file, the key and what was
    /// expected (a refused key says why praetor does not support it).
    pub fn load(
        path: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        Self::check_load(path, env).into_result()
    }

    /// [`Config::check`] of the file at `path` (or of `PATRONI_CONFIGURATION` when `path` is
    /// `None`); a file that cannot be read is the report's one error.
    pub fn check_load(path: Option<&Path>, env: &BTreeMap<String, String>) -> Report {
        let failed = |file: String, message: String| Report {
            source: file.clone(),
            errors: vec![ConfigError {
                file,
                key: "(file)".into(),
                message,
            }],
            warnings: Vec::new(),
            config: None,
            document: None,
        };
        match path {
            Some(p) => match std::fs::read_to_string(p) {
                Ok(text) => Self::check(&p.display().to_string(), &text, env),
                Err(e) => failed(
                    p.display().to_string(),
                    format!("cannot read the file: {e}"),
                ),
            },
            // Patroni's order without a file: PATRONI_CONFIGURATION's YAML alone (the other
            // PATRONI_* variables do not apply to it), else the PATRONI_* variables alone.
            None => match env
                .get("PATRONI_CONFIGURATION")
                .filter(|t| !t.trim().is_empty())
            {
                Some(t) => Self::check("PATRONI_CONFIGURATION", t, &BTreeMap::new()),
                None => Self::check("(environment)", "", env),
            },
        }
    }

    /// Parses configuration text; `source` is used in error messages.
    ///
    /// # Errors
    /// The first [`ConfigError`] of [`Config::check`].
    pub fn parse(
        source: &str,
        text: &str,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        Self::check(source, text, env).into_result()
    }

    /// Every problem of configuration text at once: the text is parsed as YAML, the `PATRONI_*`
    /// overrides from `env` are applied, every key is looked up in [`keys::KEYS`] (refused keys
    /// and values are errors; ignored and unknown keys warnings), then the typed parse and the
    /// semantic checks run (their error is added unless a refused key already named the same
    /// key). `source` names the file in every message. Never panics.
    pub fn check(source: &str, text: &str, env: &BTreeMap<String, String>) -> Report {
        let mut report = Report {
            source: source.to_string(),
            errors: Vec::new(),
            warnings: Vec::new(),
            config: None,
            document: None,
        };
        let err = |key: &str, message: String| ConfigError {
            file: source.to_string(),
            key: key.to_string(),
            message,
        };
        let mut doc: Yaml = match serde_yaml::from_str(text) {
            Ok(d) => d,
            Err(e) => {
                report
                    .errors
                    .push(err("(file)", format!("not valid YAML: {e}")));
                return report;
            }
        };
        if doc.is_null() {
            doc = Yaml::Mapping(Default::default());
        }
        if !doc.is_mapping() {
            report.errors.push(err(
                "(file)",
                "expected a YAML mapping at the top level".into(),
            ));
            return report;
        }
        apply_env(&mut doc, env);
        convert_legacy_authentication(&mut doc);
        for f in keys::check(&doc) {
            match f.severity {
                keys::Severity::Error => report.errors.push(err(&f.key, f.message)),
                keys::Severity::Warning => report.warnings.push(ConfigWarning {
                    file: source.to_string(),
                    key: f.key,
                    message: f.message,
                }),
            }
        }
        match Self::from_document(source, &doc) {
            Ok(c) if report.errors.is_empty() => {
                // The timing rule adjusts as Patroni does, with a warning naming the section.
                if let Ok((_, adjusted)) = DynamicConfig::from_json_adjusting(&c.bootstrap.dcs) {
                    for message in adjusted {
                        report.warnings.push(ConfigWarning {
                            file: source.to_string(),
                            key: "bootstrap.dcs".into(),
                            message,
                        });
                    }
                }
                if let Some(ct) = c
                    .citus
                    .as_ref()
                    .filter(|ct| !ct.databases.is_empty() && !ct.database.is_empty())
                    .filter(|ct| !ct.databases.contains(&ct.database))
                {
                    report.warnings.push(ConfigWarning {
                        file: source.to_string(),
                        key: "citus.database".into(),
                        message: format!(
                            "ignored: citus.databases lists the Citus databases ({}), and {} is \
                             not among them",
                            ct.databases.join(", "),
                            ct.database
                        ),
                    });
                }
                report.config = Some(c)
            }
            Ok(_) => {}
            Err(e) => {
                if !report.errors.iter().any(|r| r.key == e.key) {
                    report.errors.push(e);
                }
            }
        }
        report.document = Some(doc);
        report
    }

    /// The typed parse and the semantic checks of a document (after the `PATRONI_*` overrides).
    fn from_document(source: &str, doc: &Yaml) -> Result<Config, ConfigError> {
        let err = |key: &str, message: String| ConfigError {
            file: source.to_string(),
            key: key.to_string(),
            message,
        };
        let raw: RawConfig = serde_path_to_error::deserialize(doc.clone()).map_err(|e| {
            let p = e.path().to_string();
            err(if p == "." { "(file)" } else { &p }, e.inner().to_string())
        })?;
        let required = |v: Option<String>, key: &str| -> Result<String, ConfigError> {
            match v {
                Some(s) if !s.trim().is_empty() => Ok(s),
                Some(_) => Err(err(key, "expected a non-empty string".into())),
                None => Err(err(key, "required key is missing".into())),
            }
        };
        let scope = required(raw.scope, "scope")?;
        let name = required(raw.name, "name")?;
        let namespace = normalise_namespace(raw.namespace.as_deref().unwrap_or("/service/"));

        let restapi_v = raw
            .restapi
            .ok_or_else(|| err("restapi", "required section is missing".into()))?;
        let restapi: RestApi = typed(&restapi_v, "restapi", source)?;
        if restapi.other.contains_key("keyfile_password") {
            return Err(err(
                "restapi.keyfile_password",
                "encrypted keys are not supported; give an unencrypted key file with mode 0600"
                    .into(),
            ));
        }
        if restapi.verify_client != VerifyClient::None && restapi.certfile.is_none() {
            return Err(err(
                "restapi.verify_client",
                "needs restapi.certfile: client certificates are only asked for over HTTPS".into(),
            ));
        }
        if restapi.verify_client != VerifyClient::None && restapi.cafile.is_none() {
            return Err(err(
                "restapi.cafile",
                "required when restapi.verify_client is optional or required".into(),
            ));
        }
        for (i, a) in restapi.allowlist.iter().enumerate() {
            if a.trim().is_empty() || a.contains(' ') {
                return Err(err(
                    &format!("restapi.allowlist[{i}]"),
                    format!("expected a host name, an IP address or a CIDR network, got {a:?}"),
                ));
            }
            if a.contains('/') && a.parse::<ipnet::IpNet>().is_err() {
                return Err(err(
                    &format!("restapi.allowlist[{i}]"),
                    format!("expected a CIDR network such as 10.0.0.0/8, got {a:?}"),
                ));
            }
        }
        check_listen(&restapi.listen, "restapi.listen", source)?;
        check_host_port(&restapi.connect_address, "restapi.connect_address", source)?;

        // An `etcd:` (v2) section is refused by the key table; only etcd3 is read.
        let etcd = match raw.etcd3 {
            Some(v) => parse_etcd(&v, "etcd3", source)?,
            None => {
                return Err(err(
                    "etcd3",
                    "required section is missing (praetor uses etcd v3)".into(),
                ))
            }
        };

        let pg_v = raw
            .postgresql
            .ok_or_else(|| err("postgresql", "required section is missing".into()))?;
        for k in ["listen", "connect_address", "data_dir"] {
            if pg_v.get(k).is_none() {
                return Err(err(
                    &format!("postgresql.{k}"),
                    "required key is missing".into(),
                ));
            }
        }
        let mut postgresql: Postgresql = typed(&pg_v, "postgresql", source)?;
        check_host_port(&postgresql.listen, "postgresql.listen", source)?;
        check_host_port(
            &postgresql.connect_address,
            "postgresql.connect_address",
            source,
        )?;
        if let Some(p) = &postgresql.proxy_address {
            check_host_port(p, "postgresql.proxy_address", source)?;
        }
        if postgresql.authentication.superuser.username.is_none() {
            postgresql.authentication.superuser.username = Some("postgres".into());
        }
        if postgresql.authentication.replication.username.is_none() {
            postgresql.authentication.replication.username = Some("replicator".into());
        }
        // An sslpassword travels in libpq's service file, one `key=value` line: a line break
        // would end it and libpq trims surrounding blanks.
        let a = &postgresql.authentication;
        for (role, c) in [
            ("superuser", Some(&a.superuser)),
            ("replication", Some(&a.replication)),
            ("rewind", a.rewind.as_ref()),
        ] {
            if let Some(p) = c.and_then(|c| c.sslpassword.as_deref()) {
                if p.contains(['\n', '\r']) || p.trim() != p {
                    return Err(err(
                        &format!("postgresql.authentication.{role}.sslpassword"),
                        "expected a passphrase without line breaks or surrounding blanks".into(),
                    ));
                }
            }
        }

        let mut bootstrap = raw
            .bootstrap
            .map(|b| Bootstrap { present: true, ..b })
            .unwrap_or_default();
        // A Citus group bootstraps with quorum commit unless the file says otherwise (Patroni 4
        // sets `bootstrap.dcs.synchronous_mode: quorum` by default when `citus` is present).
        if raw.citus.is_some() {
            if bootstrap.dcs.is_null() {
                bootstrap.dcs = serde_json::json!({});
            }
            if let Some(dcs) = bootstrap.dcs.as_object_mut() {
                dcs.entry("synchronous_mode")
                    .or_insert_with(|| serde_json::json!("quorum"));
            }
        }
        let bootstrap_dcs = DynamicConfig::from_json(&bootstrap.dcs).map_err(|(k, m)| {
            err(
                &if k.is_empty() {
                    "bootstrap.dcs".to_string()
                } else {
                    format!("bootstrap.dcs.{k}")
                },
                m,
            )
        })?;

        let tags = raw.tags.unwrap_or_default();
        let citus = match raw.citus {
            None => None,
            Some(v) => {
                let c = typed::<Citus>(&v, "citus", source)?;
                if c.databases.is_empty() && c.database.is_empty() {
                    return Err(err(
                        "citus.database",
                        "expected the Citus database's name (or citus.databases, a list of names)"
                            .into(),
                    ));
                }
                if c.databases.iter().any(String::is_empty) {
                    return Err(err(
                        "citus.databases",
                        "expected a list of database names; found an empty one".into(),
                    ));
                }
                Some(c)
            }
        };
        let watchdog_json = doc
            .get("watchdog")
            .map(|w| serde_json::to_value(w).unwrap_or(Json::Null));
        let watchdog = watchdog::WatchdogConfig::from_json(watchdog_json.as_ref())
            .map_err(|(k, m)| err(&k, m))?;
        let mut log = raw.log.unwrap_or_default();
        log.files = sections::LogFiles::from_section(&log.other).map_err(|(k, m)| err(&k, m))?;
        if let Some(level) = &log.level {
            if !matches!(
                level.to_uppercase().as_str(),
                "DEBUG" | "INFO" | "WARNING" | "WARN" | "ERROR" | "CRITICAL"
            ) {
                return Err(err(
                    "log.level",
                    format!("expected DEBUG, INFO, WARNING or ERROR, got {level:?}"),
                ));
            }
        }
        // `log.format` is only ever `plain` or `json` here (see `plain_or_json`); `type` is checked
        // on its own, so Patroni's `{type: json, format: [...]}` loads as JSON lines.
        if let Some(t) = &log.kind {
            if t != "plain" && t != "json" {
                return Err(err(
                    "log.type",
                    format!("expected plain or json, got {t:?}"),
                ));
            }
        }

        let replica_methods =
            backup::replica_methods(&postgresql.other).map_err(|(k, m)| err(&k, m))?;
        let custom_bootstrap =
            backup::custom_bootstrap(&bootstrap.other).map_err(|(k, m)| err(&k, m))?;
        let recovery_conf = match postgresql.other.get("recovery_conf") {
            None | Some(Json::Null) => None,
            Some(v) => Some(
                backup::recovery_params(v, "postgresql.recovery_conf")
                    .map_err(|(k, m)| err(&k, m))?,
            ),
        };

        Ok(Config {
            source: source.to_string(),
            scope,
            namespace,
            name,
            restapi,
            etcd,
            bootstrap,
            postgresql,
            tags,
            citus,
            log,
            bootstrap_dcs,
            watchdog,
            replica_methods,
            custom_bootstrap,
            recovery_conf,
        })
    }

    /// The DCS prefix of this member's group: `/<namespace>/<scope>/` (plus `<group>/` with Citus).
    pub fn group_prefix(&self) -> String {
        match &self.citus {
            Some(c) => format!("{}{}/{}/", self.namespace, self.scope, c.group),
            None => format!("{}{}/", self.namespace, self.scope),
        }
    }

    /// This member belongs to a Citus worker group (`citus.group` ≥ 1), whose coordinator holds
    /// the group's writes while its primary changes.
    pub fn is_citus_worker(&self) -> bool {
        self.citus.as_ref().is_some_and(|c| c.group != 0)
    }

    /// The scope's prefix, `/<namespace>/<scope>/` (all Citus groups below it).
    pub fn scope_prefix(&self) -> String {
        format!("{}{}/", self.namespace, self.scope)
    }

    /// TLS for the agent's own calls to other members' REST APIs: `restapi.cafile` verifies them
    /// (without it their certificates are not checked, as the agent has no other trust anchor),
    /// `restapi.certfile` / `keyfile` is presented where peers ask for a client certificate.
    pub fn http_client_tls(&self) -> tls::HttpClientTls {
        tls::HttpClientTls {
            cacert: self.restapi.cafile.clone(),
            certfile: self.restapi.certfile.clone(),
            keyfile: self.restapi.keyfile.clone(),
            insecure: self.restapi.cafile.is_none(),
        }
    }

    /// Effective `recovery_conf` (name → value): the local `postgresql.recovery_conf` when given,
    /// else the dynamic configuration's (Patroni: a local `postgresql` key replaces the dynamic
    /// one). A dynamic value that does not parse was refused when it was read.
    pub fn recovery_conf(&self, dynamic: &DynamicConfig) -> BTreeMap<String, String> {
        if let Some(local) = &self.recovery_conf {
            return local.clone();
        }
        dynamic
            .postgresql
            .other
            .get("recovery_conf")
            .and_then(|v| backup::recovery_params(v, "postgresql.recovery_conf").ok())
            .unwrap_or_default()
    }

    /// Effective `use_pg_rewind`: the local setting when present, else the dynamic one.
    pub fn use_pg_rewind(&self, dynamic: &DynamicConfig) -> bool {
        self.postgresql
            .use_pg_rewind
            .unwrap_or(dynamic.postgresql.use_pg_rewind)
    }

    /// Effective `remove_data_directory_on_rewind_failure`: the local setting when present, else
    /// the dynamic `postgresql` one, else false (Patroni's default).
    pub fn remove_data_on_rewind_failure(&self, dynamic: &DynamicConfig) -> bool {
        self.postgresql
            .remove_data_directory_on_rewind_failure
            .or(dynamic.postgresql.remove_data_directory_on_rewind_failure)
            .unwrap_or(false)
    }

    /// Effective `remove_data_directory_on_diverged_timelines`: the local setting when present,
    /// else the dynamic `postgresql` one, else false (Patroni's default).
    pub fn remove_data_on_diverged_timelines(&self, dynamic: &DynamicConfig) -> bool {
        self.postgresql
            .remove_data_directory_on_diverged_timelines
            .or(dynamic
                .postgresql
                .remove_data_directory_on_diverged_timelines)
            .unwrap_or(false)
    }
}

/// Patroni's oldest credentials layout, which Patroni 4.1 still converts
/// (`Config._build_effective_configuration`): without a `postgresql.authentication` section,
/// `postgresql.superuser` and `postgresql.replication` are the roles, a `postgresql.pg_rewind`
/// section is the superuser when none is given, and `use_pg_rewind` is on exactly when
/// `pg_rewind` is there. Applied after the `PATRONI_*` overrides (which write the new layout, so
/// an override makes the file's old layout moot, as in Patroni). A file with neither layout is
/// left alone.
fn convert_legacy_authentication(doc: &mut Yaml) {
    let Some(pg) = doc.get_mut("postgresql").and_then(Yaml::as_mapping_mut) else {
        return;
    };
    let key = |k: &str| Yaml::String(k.to_string());
    if pg.contains_key(key("authentication"))
        || !["superuser", "replication", "pg_rewind"]
            .iter()
            .any(|k| pg.contains_key(key(k)))
    {
        return;
    }
    let mut auth = serde_yaml::Mapping::new();
    for role in ["replication", "superuser"] {
        if let Some(v) = pg.remove(key(role)) {
            auth.insert(key(role), v);
        }
    }
    let rewind = pg.remove(key("pg_rewind"));
    let has_rewind = rewind.is_some();
    if let Some(r) = rewind {
        if !auth.contains_key(key("superuser")) {
            auth.insert(key("superuser"), r);
        }
    }
    pg.insert(key("authentication"), Yaml::Mapping(auth));
    pg.insert(key("use_pg_rewind"), Yaml::Bool(has_rewind));
}

fn typed<T: serde::de::DeserializeOwned>(
    v: &Yaml,
    section: &str,
    source: &str,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(v.clone()).map_err(|e| {
        let p = e.path().to_string();
        ConfigError {
            file: source.into(),
            key: if p == "." {
                section.to_string()
            } else {
                format!("{section}.{p}")
            },
            message: e.inner().to_string(),
        }
    })
}

/// `restapi.listen`: `host:port`, where an empty host or `*` (`:8008`, `*:8008`) means every
/// interface, as in Patroni (the REST API's bind, `api::server::bind`, reads it so).
fn check_listen(v: &str, key: &str, source: &str) -> Result<(), ConfigError> {
    match v.rsplit_once(':') {
        Some(("" | "*", p)) if p.parse::<u16>().is_ok() => Ok(()),
        _ => check_host_port(v, key, source),
    }
}

fn check_host_port(v: &str, key: &str, source: &str) -> Result<(), ConfigError> {
    let ok = v
        .rsplit_once(':')
        .map(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(ConfigError {
            file: source.into(),
            key: key.into(),
            message: format!("expected host:port, got {v:?}"),
        })
    }
}

#[cfg(test)]
mod tests;
