//! The fate of every key of Patroni 4.1's YAML configuration, decided in one table ([`KEYS`]),
//! and the walk over a configuration document that reports every key whose fate is not
//! "implemented".
//!
//! Each key praetor meets is in one of four states:
//!
//! - **implemented**: praetor gives it Patroni's meaning (it is read where it matters, not only
//!   parsed);
//! - **refused**: praetor cannot honour it, and running as if it were absent could change what
//!   happens to the data or to which member is primary (a standby cluster run as an independent
//!   primary, initdb instead of a restore, a replica made by basebackup instead of the configured
//!   method, …): the configuration does
//!   not load;
//! - **warned**: praetor does not honour it, but nothing a member decides depends on it (thread
//!   pools, log files, extra HTTP headers, …): one warning line, and the configuration loads;
//! - **unknown**: not a key of Patroni's configuration (a typo, most likely): one warning naming
//!   the nearest known key.
//!
//! Some keys are decided by their value ([`Fate::ByValue`]): `synchronous_mode: quorum` is refused
//! while `on` is implemented, `bootstrap.method: initdb` is what praetor does anyway, and so on.
//! A warned or refused key whose value asks for nothing (null, `""`, `[]`, `{}` or `false`, e.g.
//! Patroni's own example's `nostream: false`) is not reported: Patroni does nothing with it either.
//!
//! Key names come from Patroni's documentation (`docs/yaml_configuration.rst`,
//! `docs/dynamic_configuration.rst`) and its schema (`patroni/validator.py`) at v4.1.4; a few keys
//! of Patroni's development branch after 4.1 are listed too, so a file written for it is not
//! silently half-read. The dynamic configuration's keys are listed under `bootstrap.dcs.`, the
//! place a local file gives them; [`check_dynamic`] walks a `/config` document with the same
//! entries.

use serde_yaml::{Mapping, Value as Yaml};

/// What praetor does with one key.
#[derive(Clone, Copy)]
pub enum Fate {
    /// Read and given Patroni's meaning.
    Implemented,
    /// Not honoured, and harmless to ignore: one warning with this reason (none for a value that
    /// asks for nothing: null, `""`, `[]`, `{}`, `false`).
    Warned(&'static str),
    /// Not honoured, and ignoring it could change what happens to data or roles: a configuration
    /// error with this reason (none for a value that asks for nothing, as for `Warned`).
    Refused(&'static str),
    /// Decided by the value alone: the function returns one of the three fates above for it (the
    /// "asks for nothing" rule does not apply; the function decides).
    ByValue(fn(&Yaml) -> Fate),
}

impl std::fmt::Debug for Fate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fate::Implemented => f.write_str("Implemented"),
            Fate::Warned(r) => f.debug_tuple("Warned").field(r).finish(),
            Fate::Refused(r) => f.debug_tuple("Refused").field(r).finish(),
            Fate::ByValue(_) => f.write_str("ByValue(..)"),
        }
    }
}

impl Fate {
    /// The fate for `value`: a [`Fate::ByValue`] asks its function; a warned or refused key
    /// whose value asks for nothing (null, `""`, `[]`, `{}`, `false`) is implemented (nothing to
    /// honour); the others are themselves. A function that answers `ByValue` again counts as
    /// implemented (none in the table does).
    pub fn resolve(self, value: &Yaml) -> Fate {
        match self {
            Fate::ByValue(f) => match f(value) {
                Fate::ByValue(_) => Fate::Implemented,
                other => other,
            },
            Fate::Warned(_) | Fate::Refused(_) if asks_nothing(value) => Fate::Implemented,
            other => other,
        }
    }
}

/// One key of Patroni's configuration and its fate.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// Dotted path from the top of the file. `*` stands for any one name (a GUC under
    /// `postgresql.parameters`, a custom tag); `<method>` for the section named by
    /// `bootstrap.method`, `<replica_method>` for a section named in
    /// `postgresql.create_replica_methods`.
    pub path: &'static str,
    /// What praetor does with it.
    pub fate: Fate,
}

/// Whether a finding stops the configuration from loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// A refused key: the configuration does not load.
    Error,
    /// An ignored or unknown key: the configuration loads; the agent logs the line once at start.
    Warning,
}

/// One problem with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// Dotted path of the key, as in the file (`postgresql.parameters.max_connections`).
    pub key: String,
    /// What is wrong, starting with [`REFUSED`], [`IGNORED`] or [`UNKNOWN`].
    pub message: String,
}

/// How the message of a refused key begins; the table's reason follows.
pub const REFUSED: &str = "not supported by praetor: ";
/// How the message of a warned key begins; the table's reason follows.
pub const IGNORED: &str = "ignored by praetor: ";
/// How the message of an unknown key begins; the nearest known key follows.
pub const UNKNOWN: &str = "unknown key, ignored; the nearest known key is ";

const fn k(path: &'static str, fate: Fate) -> Key {
    Key { path, fate }
}

use Fate::{ByValue, Implemented, Refused, Warned};

// ---- reasons -------------------------------------------------------------------------------

const NO_THREADS: &str =
    "praetor does not run on a thread pool this setting could size (one async runtime serves the HA loop and the REST API)";
const LOG_LAYOUT: &str = "praetor keeps its own line layout (log.type chooses plain or JSON lines)";
const LOG_FILES: &str =
    "praetor logs to stderr only (journald under systemd); it writes and rotates no log files";
const CUSTOM_BOOTSTRAP: &str =
    "custom bootstrap methods are not implemented: praetor would run initdb instead of this method (a restore from a backup, say) and create a new, empty cluster";
const STANDBY_CLUSTER: &str =
    "standby clusters are not implemented: praetor would run this cluster as an independent primary instead of following the remote one";
const STANDBY_INACTIVE: &str =
    "without standby_cluster host, port or restore_command this setting has no effect (in Patroni as well), and praetor does not implement standby clusters";
const SYNC_QUORUM: &str =
    "quorum commit is not implemented: praetor runs priority synchronous replication (FIRST n in synchronous_standby_names) and keeps no quorum in /sync; use on";
const SYNC_VALUE: &str =
    "praetor reads on, off, true or false here (quorum is not implemented); any other value would be taken as off";
const ETCD_V2: &str =
    "this section selects etcd's v2 API, and praetor speaks only the v3 API (the etcd3 section). Rename it to etcd3 only if this cluster's Patroni already used etcd3: keys written through the v2 API are invisible through v3, so praetor would find an empty cluster (no leader, no initialize key, no config)";
const OTHER_DCS: &str =
    "praetor keeps the cluster state in etcd through its v3 API only (the etcd3 section); this store is not implemented";
const CONFIG_DIR: &str =
    "praetor writes postgresql.conf and pg_hba.conf into data_dir and starts the server from there; a separate configuration directory would be bypassed";
const BIN_NAME: &str =
    "praetor runs the standard program names from bin_dir (or PATH); a renamed program would not be the one that runs";
const NOT_RUN: &str = "praetor does not run this program";
const NO_KEY_PASSWORD: &str =
    "encrypted keys are not supported; give an unencrypted key file with mode 0600";
const SSLPASSWORD: &str =
    "encrypted client keys are not supported: praetor's own PostgreSQL connections cannot decrypt the key, and the connection strings it writes (pg_basebackup, pg_rewind, primary_conninfo) do not carry the password; give an unencrypted key file with mode 0600";
const SSLCRL: &str =
    "certificate revocation lists are not checked: praetor's own PostgreSQL connections and the connection strings it writes (pg_basebackup, pg_rewind, primary_conninfo) do not carry this setting, so a revoked server certificate would be accepted";
const SSLNEGOTIATION: &str =
    "connections negotiate TLS the standard way (sslnegotiation=postgres), which every PostgreSQL server accepts";
const CUSTOM_REPLICA: &str =
    "custom replica creation methods are not implemented: praetor would clone new members with pg_basebackup from a running member instead of this method (a restore from a backup, say), whatever its no_leader or keep_data settings say";
const BASEBACKUP_LIST: &str =
    "the list form is not read: praetor takes pg_basebackup options as a map (e.g. {max-rate: 100M}) and always checkpoints fast";
const RECOVERY_CONF: &str =
    "praetor writes no setting from this section: standbys would run without them (restore_command, recovery_min_apply_delay, …)";
const CUSTOM_CONF: &str =
    "praetor does not include this file: the server would run without its settings";
const ROLE_PARAMETERS: &str =
    "role-specific settings are not implemented: the server would run with the base parameters in every role";
const ROLE_HBA: &str =
    "role-specific pg_hba lines are not implemented: praetor writes postgresql.pg_hba in every role";
const ROLE_IDENT: &str =
    "role-specific pg_ident lines are not implemented: praetor writes postgresql.pg_ident in every role, and pg_hba lines using map= could find no mapping and refuse those logins";
const LOCAL_ONLY: &str =
    "a local setting: Patroni drops it from the dynamic configuration, and so does praetor";
const DYNAMIC_PG_CTL_TIMEOUT: &str =
    "praetor reads pg_ctl_timeout from the local postgresql section only (default 60 s)";
const USE_SLOTS_LOCAL: &str =
    "use_slots is read from the dynamic configuration only (bootstrap.dcs.postgresql.use_slots), in Patroni as well";
const PRE_PROMOTE: &str =
    "praetor does not run a pre-promote script: a standby would promote without the check (fencing) this script makes";
const RACE_BACKOFF: &str =
    "not implemented: standbys race for the leader key without waiting for the primary's WAL to stop advancing, so a failover this setting would hold back could happen";
const SYNC_PRIORITY_OFF: &str =
    "a priority of 0 or less keeps a member out of synchronous replication in Patroni; praetor does not read it and could choose this member as synchronous standby (and so as failover candidate); use nosync: true";

// ---- value checks --------------------------------------------------------------------------

fn is_empty(v: &Yaml) -> bool {
    match v {
        Yaml::Null => true,
        Yaml::String(s) => s.trim().is_empty(),
        Yaml::Sequence(s) => s.is_empty(),
        Yaml::Mapping(m) => m.is_empty(),
        _ => false,
    }
}

/// A value that asks for nothing: empty, or `false`.
fn asks_nothing(v: &Yaml) -> bool {
    is_empty(v) || matches!(v, Yaml::Bool(false))
}

/// A store's section selects that store in Patroni whatever it holds, so even an empty one is
/// refused.
fn other_store(_: &Yaml) -> Fate {
    Refused(OTHER_DCS)
}

/// As [`other_store`], for etcd's v2 API.
fn etcd_v2(_: &Yaml) -> Fate {
    Refused(ETCD_V2)
}

/// A number setting whose value `off` turns the feature off in Patroni (what praetor does).
fn number_off(v: &Yaml, off: f64, fate: Fate) -> Fate {
    match v {
        Yaml::Null => Implemented,
        Yaml::Number(n) if n.as_f64() == Some(off) => Implemented,
        Yaml::String(s) if s.trim().parse::<f64>().ok() == Some(off) => Implemented,
        _ => fate,
    }
}

/// Patroni swaps a lagging synchronous standby only for a value above 0 (default -1).
fn maximum_lag_on_syncnode(v: &Yaml) -> Fate {
    let n = match v {
        Yaml::Null => return Implemented,
        Yaml::Number(n) => n.as_f64(),
        Yaml::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n <= 0.0 => Implemented,
        _ => Warned("praetor does not replace a lagging synchronous standby with an asynchronous one; it stays synchronous"),
    }
}

fn max_timelines_history(v: &Yaml) -> Fate {
    number_off(
        v,
        0.0,
        Warned("praetor does not trim the /history key to this many entries; it keeps them all"),
    )
}

fn primary_race_backoff(v: &Yaml) -> Fate {
    number_off(v, 0.0, Refused(RACE_BACKOFF))
}

/// `postgresql.bin_name.<program>`: the program's standard name (or nothing) asks for nothing.
macro_rules! bin_name {
    ($f:ident, $name:literal, $other:expr) => {
        fn $f(v: &Yaml) -> Fate {
            if is_empty(v) || v.as_str() == Some($name) {
                Implemented
            } else {
                $other
            }
        }
    };
}
bin_name!(bin_pg_ctl, "pg_ctl", Warned(NOT_RUN));
bin_name!(bin_initdb, "initdb", Refused(BIN_NAME));
bin_name!(bin_pg_controldata, "pg_controldata", Refused(BIN_NAME));
bin_name!(bin_pg_basebackup, "pg_basebackup", Refused(BIN_NAME));
bin_name!(bin_postgres, "postgres", Refused(BIN_NAME));
bin_name!(bin_pg_isready, "pg_isready", Warned(NOT_RUN));
bin_name!(bin_pg_rewind, "pg_rewind", Refused(BIN_NAME));

/// Patroni runs initdb for an empty method or `initdb`.
fn bootstrap_method(v: &Yaml) -> Fate {
    match v {
        Yaml::String(s) if s == "initdb" => Implemented,
        v if is_empty(v) => Implemented,
        _ => Refused(CUSTOM_BOOTSTRAP),
    }
}

fn create_replica_methods(v: &Yaml) -> Fate {
    let only_basebackup = match v {
        Yaml::Null => true,
        Yaml::String(s) => s.split(',').all(|m| m.trim() == "basebackup"),
        Yaml::Sequence(s) => s.iter().all(|m| m.as_str() == Some("basebackup")),
        _ => false,
    };
    if only_basebackup {
        Implemented
    } else {
        Refused(CUSTOM_REPLICA)
    }
}

fn basebackup(v: &Yaml) -> Fate {
    match v {
        Yaml::Sequence(s) if !s.is_empty() => Warned(BASEBACKUP_LIST),
        _ => Implemented,
    }
}

fn synchronous_mode(v: &Yaml) -> Fate {
    match v {
        Yaml::Null | Yaml::Bool(_) => Implemented,
        Yaml::String(s) if matches!(s.as_str(), "on" | "off" | "true" | "false") => Implemented,
        Yaml::String(s) if s.eq_ignore_ascii_case("quorum") => Refused(SYNC_QUORUM),
        _ => Refused(SYNC_VALUE),
    }
}

/// Patroni runs a standby cluster when one of `host`, `port`, `restore_command` is set.
fn standby_cluster(v: &Yaml) -> Fate {
    let active = ["host", "port", "restore_command"]
        .iter()
        .any(|k| v.get(*k).is_some_and(|x| !is_empty(x)));
    if active {
        Refused(STANDBY_CLUSTER)
    } else {
        Implemented
    }
}

fn standby_cluster_setting(v: &Yaml) -> Fate {
    if is_empty(v) {
        Implemented
    } else {
        Warned(STANDBY_INACTIVE)
    }
}

fn log_format(v: &Yaml) -> Fate {
    match v.as_str() {
        _ if is_empty(v) => Implemented,
        Some("plain" | "json") => Implemented,
        _ => Warned(
            "Patroni's log format (a Python format string or a list of fields) is not used; praetor keeps its own line layout (log.type chooses plain or JSON lines)",
        ),
    }
}

fn watchdog_driver(v: &Yaml) -> Fate {
    match v {
        Yaml::Null => Implemented,
        Yaml::String(s) if s == "default" => Implemented,
        _ => Warned("praetor drives Linux watchdog devices only (driver: default)"),
    }
}

fn sync_priority(v: &Yaml) -> Fate {
    let n = match v {
        Yaml::Number(n) => n.as_f64(),
        Yaml::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n > 0.0 => Warned(
            "synchronous standbys are not chosen by priority in praetor; every eligible member ranks the same",
        ),
        _ => Refused(SYNC_PRIORITY_OFF),
    }
}

// ---- the table -----------------------------------------------------------------------------

/// Every key of Patroni's configuration and its fate in praetor. The walk ([`check`]) looks keys
/// up here; nothing else decides whether a key is read, refused or ignored.
pub static KEYS: &[Key] = &[
    // Global.
    k("scope", Implemented),
    k("namespace", Implemented),
    k("name", Implemented),
    k("thread_pool_size", Warned(NO_THREADS)),
    k("thread_stack_size", Warned(NO_THREADS)),
    // log
    k("log", Implemented),
    k("log.type", Implemented),
    k("log.level", Implemented),
    k("log.format", ByValue(log_format)),
    k("log.traceback_level", Warned("praetor prints an error's causes on its one line; there are no tracebacks to show or hide")),
    k("log.dateformat", Warned(LOG_LAYOUT)),
    k("log.static_fields", Warned(LOG_LAYOUT)),
    k("log.max_queue_size", Warned("praetor writes each line as it is logged; there is no queue to size")),
    k("log.dir", Warned(LOG_FILES)),
    k("log.mode", Warned(LOG_FILES)),
    k("log.file_num", Warned(LOG_FILES)),
    k("log.file_size", Warned(LOG_FILES)),
    k("log.loggers", Warned("per-logger levels name Patroni's Python modules; set RUST_LOG to filter praetor's own lines")),
    k("log.deduplicate_heartbeat_logs", Warned("every HA cycle's line is logged, repeated or not")),
    // bootstrap
    k("bootstrap", Implemented),
    k("bootstrap.dcs", Implemented),
    k("bootstrap.initdb", Implemented),
    k("bootstrap.method", ByValue(bootstrap_method)),
    k("bootstrap.<method>", Refused(CUSTOM_BOOTSTRAP)),
    k("bootstrap.<method>.command", Refused(CUSTOM_BOOTSTRAP)),
    k("bootstrap.<method>.keep_existing_recovery_conf", Refused(CUSTOM_BOOTSTRAP)),
    k("bootstrap.<method>.no_params", Refused(CUSTOM_BOOTSTRAP)),
    k("bootstrap.<method>.recovery_conf", Refused(CUSTOM_BOOTSTRAP)),
    k("bootstrap.post_bootstrap", Implemented),
    k("bootstrap.post_init", Implemented),
    k("bootstrap.pg_hba", Implemented),
    k("bootstrap.users", Warned("Patroni 4.0 dropped the creation of these users and praetor does not create them either; create them in bootstrap.post_bootstrap")),
    // The dynamic configuration (`/config`), seeded from bootstrap.dcs.
    k("bootstrap.dcs.ttl", Implemented),
    k("bootstrap.dcs.loop_wait", Implemented),
    k("bootstrap.dcs.retry_timeout", Implemented),
    k("bootstrap.dcs.maximum_lag_on_failover", Implemented),
    k("bootstrap.dcs.maximum_lag_on_syncnode", ByValue(maximum_lag_on_syncnode)),
    k("bootstrap.dcs.max_timelines_history", ByValue(max_timelines_history)),
    k("bootstrap.dcs.primary_start_timeout", Implemented),
    k("bootstrap.dcs.master_start_timeout", Implemented),
    k("bootstrap.dcs.primary_stop_timeout", Implemented),
    k("bootstrap.dcs.master_stop_timeout", Implemented),
    k("bootstrap.dcs.primary_race_backoff", ByValue(primary_race_backoff)),
    k("bootstrap.dcs.check_timeline", Implemented),
    k("bootstrap.dcs.pause", Implemented),
    k("bootstrap.dcs.synchronous_mode", ByValue(synchronous_mode)),
    k("bootstrap.dcs.synchronous_mode_strict", Implemented),
    k("bootstrap.dcs.synchronous_node_count", Implemented),
    k("bootstrap.dcs.failsafe_mode", Implemented),
    k("bootstrap.dcs.member_slots_ttl", Implemented),
    k("bootstrap.dcs.slots", Implemented),
    k("bootstrap.dcs.slots.*", Implemented),
    k("bootstrap.dcs.slots.*.type", Implemented),
    k("bootstrap.dcs.slots.*.database", Implemented),
    k("bootstrap.dcs.slots.*.plugin", Implemented),
    k("bootstrap.dcs.slots.*.cluster_type", Implemented),
    k("bootstrap.dcs.permanent_slots", Implemented),
    k("bootstrap.dcs.permanent_slots.*", Implemented),
    k("bootstrap.dcs.permanent_slots.*.type", Implemented),
    k("bootstrap.dcs.permanent_slots.*.database", Implemented),
    k("bootstrap.dcs.permanent_slots.*.plugin", Implemented),
    k("bootstrap.dcs.permanent_slots.*.cluster_type", Implemented),
    k("bootstrap.dcs.permanent_replication_slots", Implemented),
    k("bootstrap.dcs.permanent_replication_slots.*", Implemented),
    k("bootstrap.dcs.permanent_replication_slots.*.type", Implemented),
    k("bootstrap.dcs.permanent_replication_slots.*.database", Implemented),
    k("bootstrap.dcs.permanent_replication_slots.*.plugin", Implemented),
    k("bootstrap.dcs.permanent_replication_slots.*.cluster_type", Implemented),
    k("bootstrap.dcs.ignore_slots", Implemented),
    k("bootstrap.dcs.standby_cluster", ByValue(standby_cluster)),
    k("bootstrap.dcs.standby_cluster.host", ByValue(standby_cluster_setting)),
    k("bootstrap.dcs.standby_cluster.port", ByValue(standby_cluster_setting)),
    k("bootstrap.dcs.standby_cluster.primary_slot_name", ByValue(standby_cluster_setting)),
    k("bootstrap.dcs.standby_cluster.create_replica_methods", ByValue(standby_cluster_setting)),
    k("bootstrap.dcs.standby_cluster.restore_command", ByValue(standby_cluster_setting)),
    k("bootstrap.dcs.standby_cluster.archive_cleanup_command", ByValue(standby_cluster_setting)),
    k("bootstrap.dcs.standby_cluster.recovery_min_apply_delay", ByValue(standby_cluster_setting)),
    k("bootstrap.dcs.postgresql", Implemented),
    k("bootstrap.dcs.postgresql.use_pg_rewind", Implemented),
    k("bootstrap.dcs.postgresql.use_slots", Implemented),
    k("bootstrap.dcs.postgresql.parameters", Implemented),
    k("bootstrap.dcs.postgresql.parameters.*", Implemented),
    k("bootstrap.dcs.postgresql.parameters_primary", Refused(ROLE_PARAMETERS)),
    k("bootstrap.dcs.postgresql.parameters_replica", Refused(ROLE_PARAMETERS)),
    k("bootstrap.dcs.postgresql.parameters_standby_leader", Refused(ROLE_PARAMETERS)),
    k("bootstrap.dcs.postgresql.recovery_conf", Refused(RECOVERY_CONF)),
    k("bootstrap.dcs.postgresql.pg_hba", Implemented),
    k("bootstrap.dcs.postgresql.pg_hba_primary", Refused(ROLE_HBA)),
    k("bootstrap.dcs.postgresql.pg_hba_replica", Refused(ROLE_HBA)),
    k("bootstrap.dcs.postgresql.pg_hba_standby_leader", Refused(ROLE_HBA)),
    k("bootstrap.dcs.postgresql.pg_ident", Implemented),
    k("bootstrap.dcs.postgresql.pg_ident_primary", Refused(ROLE_IDENT)),
    k("bootstrap.dcs.postgresql.pg_ident_replica", Refused(ROLE_IDENT)),
    k("bootstrap.dcs.postgresql.pg_ident_standby_leader", Refused(ROLE_IDENT)),
    k("bootstrap.dcs.postgresql.pg_ctl_timeout", Warned(DYNAMIC_PG_CTL_TIMEOUT)),
    k("bootstrap.dcs.postgresql.remove_data_directory_on_rewind_failure", Implemented),
    k("bootstrap.dcs.postgresql.remove_data_directory_on_diverged_timelines", Implemented),
    k("bootstrap.dcs.postgresql.connect_address", Warned(LOCAL_ONLY)),
    k("bootstrap.dcs.postgresql.proxy_address", Warned(LOCAL_ONLY)),
    k("bootstrap.dcs.postgresql.listen", Warned(LOCAL_ONLY)),
    k("bootstrap.dcs.postgresql.config_dir", Warned(LOCAL_ONLY)),
    k("bootstrap.dcs.postgresql.data_dir", Warned(LOCAL_ONLY)),
    k("bootstrap.dcs.postgresql.pgpass", Warned(LOCAL_ONLY)),
    k("bootstrap.dcs.postgresql.authentication", Warned(LOCAL_ONLY)),
    // citus
    k("citus", Implemented),
    k("citus.group", Implemented),
    k("citus.database", Implemented),
    // etcd3: the one store praetor speaks.
    k("etcd3", Implemented),
    k("etcd3.host", Implemented),
    k("etcd3.hosts", Implemented),
    k("etcd3.url", Implemented),
    k("etcd3.port", Implemented),
    k("etcd3.protocol", Implemented),
    k("etcd3.username", Implemented),
    k("etcd3.password", Implemented),
    k("etcd3.cacert", Implemented),
    k("etcd3.cert", Implemented),
    k("etcd3.key", Implemented),
    k("etcd3.use_proxies", Implemented),
    k("etcd3.srv", Refused("DNS SRV discovery is not supported; list the endpoints under hosts")),
    k("etcd3.srv_suffix", Warned("only used with srv, which praetor does not support")),
    k("etcd3.proxy", Refused("etcd proxies are not supported; list the endpoints under hosts")),
    k("etcd3.key_password", Refused(NO_KEY_PASSWORD)),
    // Other stores (their keys are listed so the table is complete; the section is refused whole).
    k("etcd", ByValue(etcd_v2)),
    k("etcd.*", Refused(ETCD_V2)),
    k("consul", ByValue(other_store)),
    k("consul.host", Refused(OTHER_DCS)),
    k("consul.url", Refused(OTHER_DCS)),
    k("consul.port", Refused(OTHER_DCS)),
    k("consul.scheme", Refused(OTHER_DCS)),
    k("consul.token", Refused(OTHER_DCS)),
    k("consul.verify", Refused(OTHER_DCS)),
    k("consul.cacert", Refused(OTHER_DCS)),
    k("consul.cert", Refused(OTHER_DCS)),
    k("consul.key", Refused(OTHER_DCS)),
    k("consul.dc", Refused(OTHER_DCS)),
    k("consul.consistency", Refused(OTHER_DCS)),
    k("consul.checks", Refused(OTHER_DCS)),
    k("consul.register_service", Refused(OTHER_DCS)),
    k("consul.service_tags", Refused(OTHER_DCS)),
    k("consul.service_check_interval", Refused(OTHER_DCS)),
    k("consul.service_check_tls_server_name", Refused(OTHER_DCS)),
    k("exhibitor", ByValue(other_store)),
    k("exhibitor.hosts", Refused(OTHER_DCS)),
    k("exhibitor.poll_interval", Refused(OTHER_DCS)),
    k("exhibitor.port", Refused(OTHER_DCS)),
    k("kubernetes", ByValue(other_store)),
    k("kubernetes.bypass_api_service", Refused(OTHER_DCS)),
    k("kubernetes.namespace", Refused(OTHER_DCS)),
    k("kubernetes.labels", Refused(OTHER_DCS)),
    k("kubernetes.scope_label", Refused(OTHER_DCS)),
    k("kubernetes.bootstrap_labels", Refused(OTHER_DCS)),
    k("kubernetes.role_label", Refused(OTHER_DCS)),
    k("kubernetes.leader_label_value", Refused(OTHER_DCS)),
    k("kubernetes.follower_label_value", Refused(OTHER_DCS)),
    k("kubernetes.standby_leader_label_value", Refused(OTHER_DCS)),
    k("kubernetes.tmp_role_label", Refused(OTHER_DCS)),
    k("kubernetes.use_endpoints", Refused(OTHER_DCS)),
    k("kubernetes.pod_ip", Refused(OTHER_DCS)),
    k("kubernetes.ports", Refused(OTHER_DCS)),
    k("kubernetes.cacert", Refused(OTHER_DCS)),
    k("kubernetes.retriable_http_codes", Refused(OTHER_DCS)),
    k("raft", ByValue(other_store)),
    k("raft.self_addr", Refused(OTHER_DCS)),
    k("raft.bind_addr", Refused(OTHER_DCS)),
    k("raft.partner_addrs", Refused(OTHER_DCS)),
    k("raft.data_dir", Refused(OTHER_DCS)),
    k("raft.password", Refused(OTHER_DCS)),
    k("zookeeper", ByValue(other_store)),
    k("zookeeper.hosts", Refused(OTHER_DCS)),
    k("zookeeper.use_ssl", Refused(OTHER_DCS)),
    k("zookeeper.cacert", Refused(OTHER_DCS)),
    k("zookeeper.cert", Refused(OTHER_DCS)),
    k("zookeeper.key", Refused(OTHER_DCS)),
    k("zookeeper.key_password", Refused(OTHER_DCS)),
    k("zookeeper.verify", Refused(OTHER_DCS)),
    k("zookeeper.set_acls", Refused(OTHER_DCS)),
    k("zookeeper.auth_data", Refused(OTHER_DCS)),
    // postgresql
    k("postgresql", Implemented),
    k("postgresql.listen", Implemented),
    k("postgresql.connect_address", Implemented),
    k("postgresql.proxy_address", Warned("not published: the member key carries no proxy_url")),
    k("postgresql.data_dir", Implemented),
    k("postgresql.config_dir", Refused(CONFIG_DIR)),
    k("postgresql.bin_dir", Implemented),
    k("postgresql.bin_name", Implemented),
    k("postgresql.bin_name.pg_ctl", ByValue(bin_pg_ctl)),
    k("postgresql.bin_name.initdb", ByValue(bin_initdb)),
    k("postgresql.bin_name.pg_controldata", ByValue(bin_pg_controldata)),
    k("postgresql.bin_name.pg_basebackup", ByValue(bin_pg_basebackup)),
    k("postgresql.bin_name.postgres", ByValue(bin_postgres)),
    k("postgresql.bin_name.pg_isready", ByValue(bin_pg_isready)),
    k("postgresql.bin_name.pg_rewind", ByValue(bin_pg_rewind)),
    k("postgresql.pgpass", Implemented),
    k("postgresql.authentication", Implemented),
    k("postgresql.authentication.superuser", Implemented),
    k("postgresql.authentication.superuser.username", Implemented),
    k("postgresql.authentication.superuser.password", Implemented),
    k("postgresql.authentication.superuser.sslmode", Implemented),
    k("postgresql.authentication.superuser.sslkey", Implemented),
    k("postgresql.authentication.superuser.sslpassword", Refused(SSLPASSWORD)),
    k("postgresql.authentication.superuser.sslcert", Implemented),
    k("postgresql.authentication.superuser.sslrootcert", Implemented),
    k("postgresql.authentication.superuser.sslcrl", Refused(SSLCRL)),
    k("postgresql.authentication.superuser.sslcrldir", Refused(SSLCRL)),
    k("postgresql.authentication.superuser.sslnegotiation", Warned(SSLNEGOTIATION)),
    k("postgresql.authentication.superuser.gssencmode", Implemented),
    k("postgresql.authentication.superuser.channel_binding", Implemented),
    k("postgresql.authentication.replication", Implemented),
    k("postgresql.authentication.replication.username", Implemented),
    k("postgresql.authentication.replication.password", Implemented),
    k("postgresql.authentication.replication.sslmode", Implemented),
    k("postgresql.authentication.replication.sslkey", Implemented),
    k("postgresql.authentication.replication.sslpassword", Refused(SSLPASSWORD)),
    k("postgresql.authentication.replication.sslcert", Implemented),
    k("postgresql.authentication.replication.sslrootcert", Implemented),
    k("postgresql.authentication.replication.sslcrl", Refused(SSLCRL)),
    k("postgresql.authentication.replication.sslcrldir", Refused(SSLCRL)),
    k("postgresql.authentication.replication.sslnegotiation", Warned(SSLNEGOTIATION)),
    k("postgresql.authentication.replication.gssencmode", Implemented),
    k("postgresql.authentication.replication.channel_binding", Implemented),
    k("postgresql.authentication.rewind", Implemented),
    k("postgresql.authentication.rewind.username", Implemented),
    k("postgresql.authentication.rewind.password", Implemented),
    k("postgresql.authentication.rewind.sslmode", Implemented),
    k("postgresql.authentication.rewind.sslkey", Implemented),
    k("postgresql.authentication.rewind.sslpassword", Refused(SSLPASSWORD)),
    k("postgresql.authentication.rewind.sslcert", Implemented),
    k("postgresql.authentication.rewind.sslrootcert", Implemented),
    k("postgresql.authentication.rewind.sslcrl", Refused(SSLCRL)),
    k("postgresql.authentication.rewind.sslcrldir", Refused(SSLCRL)),
    k("postgresql.authentication.rewind.sslnegotiation", Warned(SSLNEGOTIATION)),
    k("postgresql.authentication.rewind.gssencmode", Implemented),
    k("postgresql.authentication.rewind.channel_binding", Implemented),
    k("postgresql.callbacks", Implemented),
    k("postgresql.callbacks.on_reload", Implemented),
    k("postgresql.callbacks.on_restart", Implemented),
    k("postgresql.callbacks.on_role_change", Implemented),
    k("postgresql.callbacks.on_start", Implemented),
    k("postgresql.callbacks.on_stop", Implemented),
    k("postgresql.create_replica_methods", ByValue(create_replica_methods)),
    k("postgresql.<replica_method>", Refused(CUSTOM_REPLICA)),
    k("postgresql.<replica_method>.command", Refused(CUSTOM_REPLICA)),
    k("postgresql.<replica_method>.keep_data", Refused(CUSTOM_REPLICA)),
    k("postgresql.<replica_method>.no_params", Refused(CUSTOM_REPLICA)),
    k("postgresql.<replica_method>.no_leader", Refused(CUSTOM_REPLICA)),
    k("postgresql.basebackup", ByValue(basebackup)),
    k("postgresql.recovery_conf", Refused(RECOVERY_CONF)),
    k("postgresql.custom_conf", Refused(CUSTOM_CONF)),
    k("postgresql.parameters", Implemented),
    k("postgresql.parameters.*", Implemented),
    k("postgresql.parameters_primary", Refused(ROLE_PARAMETERS)),
    k("postgresql.parameters_replica", Refused(ROLE_PARAMETERS)),
    k("postgresql.parameters_standby_leader", Refused(ROLE_PARAMETERS)),
    k("postgresql.pg_hba", Implemented),
    k("postgresql.pg_hba_primary", Refused(ROLE_HBA)),
    k("postgresql.pg_hba_replica", Refused(ROLE_HBA)),
    k("postgresql.pg_hba_standby_leader", Refused(ROLE_HBA)),
    k("postgresql.pg_ident", Implemented),
    k("postgresql.pg_ident_primary", Refused(ROLE_IDENT)),
    k("postgresql.pg_ident_replica", Refused(ROLE_IDENT)),
    k("postgresql.pg_ident_standby_leader", Refused(ROLE_IDENT)),
    k("postgresql.pg_ctl_timeout", Implemented),
    k("postgresql.use_pg_rewind", Implemented),
    k("postgresql.use_slots", Warned(USE_SLOTS_LOCAL)),
    k("postgresql.rewind", Warned("extra pg_rewind options are not passed")),
    k("postgresql.remove_data_directory_on_rewind_failure", Implemented),
    k("postgresql.remove_data_directory_on_diverged_timelines", Implemented),
    k("postgresql.pre_promote", Refused(PRE_PROMOTE)),
    k("postgresql.before_stop", Warned("praetor runs no script before stopping PostgreSQL")),
    k("postgresql.use_unix_socket", Warned("praetor connects over TCP to the first postgresql.listen address")),
    k("postgresql.use_unix_socket_repl", Warned("replication connections go over TCP to the leader's connect_address")),
    // restapi
    k("restapi", Implemented),
    k("restapi.listen", Implemented),
    k("restapi.connect_address", Implemented),
    k("restapi.authentication", Implemented),
    k("restapi.authentication.username", Implemented),
    k("restapi.authentication.password", Implemented),
    k("restapi.certfile", Implemented),
    k("restapi.keyfile", Implemented),
    k("restapi.keyfile_password", Refused(NO_KEY_PASSWORD)),
    k("restapi.cafile", Implemented),
    k("restapi.ciphers", Warned("the REST API's TLS (rustls) uses its own safe cipher suites; this list is not applied")),
    k("restapi.verify_client", Implemented),
    k("restapi.allowlist", Implemented),
    k("restapi.allowlist_include_members", Implemented),
    k("restapi.http_extra_headers", Warned("no extra HTTP headers are added to REST API responses")),
    k("restapi.https_extra_headers", Warned("no extra HTTP headers are added to REST API responses")),
    k("restapi.request_queue_size", Warned("the listen backlog is not set from this value")),
    k("restapi.server_tokens", Warned("the Server header of REST API responses is not set from this value")),
    k("restapi.thread_pool_size", Warned(NO_THREADS)),
    // ctl (read by praetorctl)
    k("ctl", Implemented),
    k("ctl.insecure", Implemented),
    k("ctl.cacert", Implemented),
    k("ctl.certfile", Implemented),
    k("ctl.keyfile", Implemented),
    k("ctl.keyfile_password", Warned("praetorctl reads unencrypted key files only (patronictl reads this)")),
    k("ctl.authentication", Implemented),
    k("ctl.authentication.username", Implemented),
    k("ctl.authentication.password", Implemented),
    // watchdog
    k("watchdog", Implemented),
    k("watchdog.mode", Implemented),
    k("watchdog.device", Implemented),
    k("watchdog.safety_margin", Implemented),
    k("watchdog.driver", ByValue(watchdog_driver)),
    // tags
    k("tags", Implemented),
    k("tags.nofailover", Implemented),
    k("tags.failover_priority", Implemented),
    k("tags.noloadbalance", Implemented),
    k("tags.clonefrom", Implemented),
    k("tags.nosync", Implemented),
    k("tags.sync_priority", ByValue(sync_priority)),
    k("tags.replicatefrom", Warned("no cascading replication: this member streams from the leader")),
    k("tags.nostream", Warned("this member streams from the leader like any standby")),
    k("tags.*", Implemented),
];

// ---- the walk ------------------------------------------------------------------------------

/// Every problem with the keys of a configuration document (after the `PATRONI_*` overrides are
/// applied), in document order: errors for refused keys and refused values, warnings for ignored
/// and unknown keys. Pure; never panics; a document that is not a mapping has no keys to check
/// (the typed parse reports it).
pub fn check(doc: &Yaml) -> Vec<Finding> {
    let mut w = Walker {
        root: doc,
        strip: 0,
        out: Vec::new(),
    };
    if let Yaml::Mapping(m) = doc {
        w.walk(m, &mut Vec::new());
    }
    w.out
}

/// [`check`] for a dynamic configuration (the `/config` key's document, or `bootstrap.dcs`):
/// the same entries of [`KEYS`] (those under `bootstrap.dcs.`), keys reported relative to it
/// (`postgresql.pg_hba`).
pub fn check_dynamic(doc: &Yaml) -> Vec<Finding> {
    let mut dcs = Mapping::new();
    dcs.insert(Yaml::from("dcs"), doc.clone());
    let mut bootstrap = Mapping::new();
    bootstrap.insert(Yaml::from("bootstrap"), Yaml::Mapping(dcs));
    let root = Yaml::Mapping(bootstrap);
    let mut w = Walker {
        root: &root,
        strip: 2,
        out: Vec::new(),
    };
    if let Yaml::Mapping(m) = doc {
        w.walk(m, &mut vec!["bootstrap".into(), "dcs".into()]);
    }
    w.out
}

/// The table entry whose path is exactly `path` (wildcards written as in the table).
pub fn lookup(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.path == path)
}

struct Walker<'a> {
    /// The whole document (for `bootstrap.method` and `postgresql.create_replica_methods`).
    root: &'a Yaml,
    /// Leading path segments left out of reported keys.
    strip: usize,
    out: Vec<Finding>,
}

/// A YAML mapping key as a path segment (numbers and booleans as written, other forms named).
fn segment(k: &Yaml) -> String {
    match k {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Null => "null".into(),
        _ => "(non-scalar key)".into(),
    }
}

impl Walker<'_> {
    fn name(&self, path: &[String]) -> String {
        path.get(self.strip..).unwrap_or_default().join(".")
    }

    fn shown(&self, table_path: &str) -> String {
        if self.strip == 2 {
            table_path
                .strip_prefix("bootstrap.dcs.")
                .unwrap_or(table_path)
                .to_string()
        } else {
            table_path.to_string()
        }
    }

    fn push(&mut self, severity: Severity, path: &[String], message: String) {
        self.out.push(Finding {
            severity,
            key: self.name(path),
            message,
        });
    }

    /// Walks mapping `m` found at `path`.
    fn walk(&mut self, m: &Mapping, path: &mut Vec<String>) {
        for (key, value) in m {
            path.push(segment(key));
            match entry_for(self.root, path) {
                Some((entry, wildcard)) => match entry.fate.resolve(value) {
                    Implemented => {
                        if wildcard {
                            self.near_miss(path);
                        }
                        let prefix = format!("{}.", entry.path);
                        if let Yaml::Mapping(inner) = value {
                            if KEYS.iter().any(|k| k.path.starts_with(&prefix)) {
                                self.walk(inner, path);
                            }
                        }
                    }
                    Warned(reason) => {
                        self.push(Severity::Warning, path, format!("{IGNORED}{reason}"))
                    }
                    Refused(reason) => {
                        self.push(Severity::Error, path, format!("{REFUSED}{reason}"))
                    }
                    ByValue(_) => {}
                },
                None => {
                    let nearest = self.shown(nearest(path));
                    self.push(Severity::Warning, path, format!("{UNKNOWN}{nearest}"));
                }
            }
            path.pop();
        }
    }

    /// A name taken by a wildcard (a custom tag) that is one or two edits from a known sibling
    /// (`tags.nofailver`) is most likely that sibling mistyped: a warning says so.
    fn near_miss(&mut self, path: &[String]) {
        let Some((last, parent)) = path.split_last() else {
            return;
        };
        if last.chars().count() < 4 {
            return;
        }
        let close = siblings(parent)
            .filter(|k| {
                k.path
                    .rsplit('.')
                    .next()
                    .is_some_and(|s| s != last && strsim::damerau_levenshtein(s, last) <= 2)
            })
            .map(|k| k.path)
            .next();
        if let Some(known) = close {
            let known = self.shown(known);
            self.push(
                Severity::Warning,
                path,
                format!("taken as a custom key; did you mean {known}?"),
            );
        }
    }
}

/// Whether table segment `pat` matches path segment `seg` at `path[..i]` in `root`.
fn segment_matches(root: &Yaml, path: &[String], i: usize, pat: &str, seg: &str) -> bool {
    match pat {
        "*" => true,
        "<method>" => {
            i == 1
                && path.first().is_some_and(|p| p == "bootstrap")
                && seg != "initdb"
                && root
                    .get("bootstrap")
                    .and_then(|b| b.get("method"))
                    .and_then(Yaml::as_str)
                    == Some(seg)
        }
        "<replica_method>" => {
            i == 1
                && path.first().is_some_and(|p| p == "postgresql")
                && seg != "basebackup"
                && match root
                    .get("postgresql")
                    .and_then(|p| p.get("create_replica_methods"))
                {
                    Some(Yaml::Sequence(s)) => s.iter().any(|m| m.as_str() == Some(seg)),
                    Some(Yaml::String(s)) => s.split(',').any(|m| m.trim() == seg),
                    _ => false,
                }
        }
        lit => lit == seg,
    }
}

/// The entry for `path` and whether a wildcard matched it: the entry with the most literal
/// segments among those that match.
fn entry_for(root: &Yaml, path: &[String]) -> Option<(&'static Key, bool)> {
    let mut best: Option<(&'static Key, usize)> = None;
    for key in KEYS {
        let pats: Vec<&str> = key.path.split('.').collect();
        if pats.len() != path.len() {
            continue;
        }
        let all = pats
            .iter()
            .zip(path)
            .enumerate()
            .all(|(i, (p, s))| segment_matches(root, path, i, p, s));
        if !all {
            continue;
        }
        let literal = pats
            .iter()
            .zip(path)
            .filter(|(p, s)| **p == s.as_str())
            .count();
        if best.is_none_or(|(_, l)| literal > l) {
            best = Some((key, literal));
        }
    }
    best.map(|(k, literal)| (k, literal < path.len()))
}

/// Entries directly under `parent` (a path of the document) with a literal last segment.
fn siblings(parent: &[String]) -> impl Iterator<Item = &'static Key> + '_ {
    KEYS.iter().filter(move |k| {
        let pats: Vec<&str> = k.path.split('.').collect();
        let Some((last, init)) = pats.split_last() else {
            return false;
        };
        !last.starts_with('<')
            && *last != "*"
            && init.len() == parent.len()
            && init
                .iter()
                .zip(parent)
                .all(|(p, s)| *p == "*" || p.starts_with('<') || *p == s.as_str())
    })
}

/// The known key nearest to unknown `path`: a close sibling; else the same name elsewhere in
/// the table (a dynamic setting written at the top level, say); else the closest sibling; else
/// the closest name anywhere.
fn nearest(path: &[String]) -> &'static str {
    let Some((last, parent)) = path.split_last() else {
        return "scope";
    };
    let score = |k: &Key| strsim::jaro_winkler(k.path.rsplit('.').next().unwrap_or(k.path), last);
    let best_sibling = siblings(parent).max_by(|a, b| score(a).total_cmp(&score(b)));
    if let Some(s) = best_sibling.filter(|s| score(s) >= 0.85) {
        return s.path;
    }
    // Of the same name elsewhere: the one sharing most leading segments with `path`, then an
    // implemented one, then the shortest.
    let shared = |k: &Key| {
        k.path
            .split('.')
            .zip(path)
            .take_while(|(a, b)| *a == b.as_str())
            .count()
    };
    let same_name = KEYS
        .iter()
        .filter(|k| k.path.rsplit('.').next() == Some(last.as_str()))
        .filter(|k| !k.path.contains('*') && !k.path.contains('<'))
        .min_by_key(|k| {
            (
                std::cmp::Reverse(shared(k)),
                !matches!(k.fate, Implemented | ByValue(_)),
                k.path.split('.').count(),
            )
        });
    if let Some(k) = same_name {
        return k.path;
    }
    if let Some(s) = best_sibling {
        return s.path;
    }
    KEYS.iter()
        .filter(|k| !k.path.contains('*') && !k.path.contains('<'))
        .max_by(|a, b| score(a).total_cmp(&score(b)))
        .map_or("scope", |k| k.path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document holding `path` (mappings on the way) with `leaf` at the end.
    fn doc_with(path: &[String], leaf: Yaml) -> Yaml {
        let mut v = leaf;
        for seg in path.iter().rev() {
            let mut m = Mapping::new();
            m.insert(Yaml::String(seg.clone()), v);
            v = Yaml::Mapping(m);
        }
        v
    }

    /// A concrete path for a table path: wildcards become a made-up name.
    fn concrete(path: &str) -> Vec<String> {
        path.split('.')
            .map(|s| match s {
                "*" | "<method>" | "<replica_method>" => "custom_x".to_string(),
                s => s.to_string(),
            })
            .collect()
    }

    fn yaml(text: &str) -> Yaml {
        serde_yaml::from_str(text).unwrap()
    }

    /// What the walk must report for a document holding only `path`: the first of its ancestors
    /// (or itself) whose fate for its value there is not implemented.
    fn expected(doc: &Yaml, path: &[String]) -> Option<(String, Fate)> {
        let mut v = doc;
        for i in 0..path.len() {
            v = v.get(path[i].as_str())?;
            let (entry, _) = entry_for(doc, &path[..=i])?;
            match entry.fate.resolve(v) {
                Implemented => {}
                f => return Some((path[..=i].join("."), f)),
            }
        }
        None
    }

    #[test]
    fn every_entry_gets_exactly_its_fate() {
        for key in KEYS {
            if matches!(key.fate, ByValue(_)) {
                continue; // by_value_entries_follow_their_values
            }
            let path = concrete(key.path);
            let mut doc = doc_with(&path, Yaml::from("x"));
            let mut extra = None;
            if key.path.starts_with("bootstrap.<method>") {
                doc["bootstrap"]["method"] = Yaml::from("custom_x");
                extra = Some("bootstrap.method");
            }
            if key.path.starts_with("postgresql.<replica_method>") {
                doc["postgresql"]["create_replica_methods"] = yaml("[custom_x]");
                extra = Some("postgresql.create_replica_methods");
            }
            let found: Vec<Finding> = check(&doc)
                .into_iter()
                .filter(|f| Some(f.key.as_str()) != extra)
                .collect();
            match expected(&doc, &path) {
                None => assert!(found.is_empty(), "{}: {found:?}", key.path),
                Some((at, Refused(reason))) => assert_eq!(
                    found,
                    vec![Finding {
                        severity: Severity::Error,
                        key: at,
                        message: format!("not supported by praetor: {reason}"),
                    }],
                    "{}",
                    key.path
                ),
                Some((at, Warned(reason))) => assert_eq!(
                    found,
                    vec![Finding {
                        severity: Severity::Warning,
                        key: at,
                        message: format!("ignored by praetor: {reason}"),
                    }],
                    "{}",
                    key.path
                ),
                Some((_, ByValue(_))) | Some((_, Implemented)) => unreachable!(),
            }
        }
    }

    #[test]
    fn by_value_entries_follow_their_values() {
        // (path, value, expected severity or None for implemented)
        let cases: &[(&str, &str, Option<Severity>)] = &[
            ("log.format", "json", None),
            ("log.format", "plain", None),
            (
                "log.format",
                "'%(asctime)s %(message)s'",
                Some(Severity::Warning),
            ),
            (
                "log.format",
                "[message, levelname]",
                Some(Severity::Warning),
            ),
            ("bootstrap.method", "initdb", None),
            ("bootstrap.method", "wal_e", Some(Severity::Error)),
            ("bootstrap.dcs.synchronous_mode", "true", None),
            ("bootstrap.dcs.synchronous_mode", "'on'", None),
            ("bootstrap.dcs.synchronous_mode", "off", None),
            (
                "bootstrap.dcs.synchronous_mode",
                "quorum",
                Some(Severity::Error),
            ),
            (
                "bootstrap.dcs.synchronous_mode",
                "maybe",
                Some(Severity::Error),
            ),
            ("bootstrap.dcs.standby_cluster", "{}", None),
            (
                "bootstrap.dcs.standby_cluster",
                "{host: '', port: ''}",
                None,
            ),
            (
                "bootstrap.dcs.standby_cluster",
                "{host: 10.0.0.1, port: 5432}",
                Some(Severity::Error),
            ),
            (
                "bootstrap.dcs.standby_cluster",
                "{restore_command: 'cp %f %p'}",
                Some(Severity::Error),
            ),
            ("bootstrap.dcs.standby_cluster.host", "''", None),
            ("bootstrap.dcs.standby_cluster.port", "''", None),
            ("bootstrap.dcs.standby_cluster.restore_command", "''", None),
            (
                "bootstrap.dcs.standby_cluster.primary_slot_name",
                "s",
                Some(Severity::Warning),
            ),
            (
                "bootstrap.dcs.standby_cluster.create_replica_methods",
                "[basebackup]",
                Some(Severity::Warning),
            ),
            (
                "bootstrap.dcs.standby_cluster.archive_cleanup_command",
                "x",
                Some(Severity::Warning),
            ),
            (
                "bootstrap.dcs.standby_cluster.recovery_min_apply_delay",
                "1h",
                Some(Severity::Warning),
            ),
            ("postgresql.create_replica_methods", "[basebackup]", None),
            (
                "postgresql.create_replica_methods",
                "[wal_e, basebackup]",
                Some(Severity::Error),
            ),
            ("postgresql.basebackup", "{max-rate: 100M}", None),
            (
                "postgresql.basebackup",
                "[{max-rate: 100M}, verbose]",
                Some(Severity::Warning),
            ),
            ("watchdog.driver", "default", None),
            ("watchdog.driver", "testing", Some(Severity::Warning)),
            ("tags.sync_priority", "2", Some(Severity::Warning)),
            ("tags.sync_priority", "0", Some(Severity::Error)),
            ("bootstrap.dcs.maximum_lag_on_syncnode", "-1", None),
            ("bootstrap.dcs.maximum_lag_on_syncnode", "0", None),
            (
                "bootstrap.dcs.maximum_lag_on_syncnode",
                "1048576",
                Some(Severity::Warning),
            ),
            ("bootstrap.dcs.max_timelines_history", "0", None),
            (
                "bootstrap.dcs.max_timelines_history",
                "100",
                Some(Severity::Warning),
            ),
            ("bootstrap.dcs.primary_race_backoff", "0", None),
            (
                "bootstrap.dcs.primary_race_backoff",
                "5",
                Some(Severity::Error),
            ),
            ("etcd", "{}", Some(Severity::Error)),
            ("etcd", "{hosts: 'a:2379'}", Some(Severity::Error)),
            ("consul", "{}", Some(Severity::Error)),
            ("consul", "{host: 'a:8500'}", Some(Severity::Error)),
            (
                "exhibitor",
                "{hosts: [a], port: 8181}",
                Some(Severity::Error),
            ),
            ("kubernetes", "{labels: {app: x}}", Some(Severity::Error)),
            ("raft", "{self_addr: 'a:1'}", Some(Severity::Error)),
            ("zookeeper", "{hosts: ['a:2181']}", Some(Severity::Error)),
            ("postgresql.bin_name.pg_ctl", "pg_ctl", None),
            (
                "postgresql.bin_name.pg_ctl",
                "pg_ctl15",
                Some(Severity::Warning),
            ),
            ("postgresql.bin_name.pg_isready", "pg_isready", None),
            (
                "postgresql.bin_name.pg_isready",
                "isready",
                Some(Severity::Warning),
            ),
            ("postgresql.bin_name.initdb", "initdb", None),
            (
                "postgresql.bin_name.initdb",
                "initdb15",
                Some(Severity::Error),
            ),
            ("postgresql.bin_name.pg_controldata", "pg_controldata", None),
            (
                "postgresql.bin_name.pg_controldata",
                "x",
                Some(Severity::Error),
            ),
            ("postgresql.bin_name.pg_basebackup", "pg_basebackup", None),
            (
                "postgresql.bin_name.pg_basebackup",
                "x",
                Some(Severity::Error),
            ),
            ("postgresql.bin_name.postgres", "postgres", None),
            (
                "postgresql.bin_name.postgres",
                "postgres15",
                Some(Severity::Error),
            ),
            ("postgresql.bin_name.pg_rewind", "pg_rewind", None),
            ("postgresql.bin_name.pg_rewind", "x", Some(Severity::Error)),
        ];
        for key in KEYS.iter().filter(|k| matches!(k.fate, ByValue(_))) {
            assert!(
                cases.iter().any(|(p, _, _)| *p == key.path),
                "no case for {}",
                key.path
            );
        }
        for (p, v, want) in cases {
            let path = concrete(p);
            let found = check(&doc_with(&path, yaml(v)));
            match want {
                None => assert!(found.is_empty(), "{p}: {v}: {found:?}"),
                Some(s) => {
                    assert_eq!(found.len(), 1, "{p}: {v}: {found:?}");
                    assert_eq!(found[0].severity, *s, "{p}: {v}: {found:?}");
                    assert_eq!(found[0].key, *p, "{p}: {v}");
                }
            }
        }
        let f = check(&yaml("bootstrap: {dcs: {synchronous_mode: quorum}}"));
        assert_eq!(f[0].message, format!("{REFUSED}{SYNC_QUORUM}"));
    }

    #[test]
    fn the_table_is_a_tree_without_repeats() {
        let mut seen = std::collections::BTreeSet::new();
        for key in KEYS {
            assert!(seen.insert(key.path), "{} twice", key.path);
            if let Some((parent, _)) = key.path.rsplit_once('.') {
                assert!(lookup(parent).is_some(), "{} has no parent entry", key.path);
            }
            match key.fate {
                Warned(r) | Refused(r) => assert!(!r.is_empty(), "{}", key.path),
                _ => {}
            }
        }
    }

    #[test]
    fn unknown_keys_name_the_nearest_known_key() {
        let f = check(&yaml("postgresq: {listen: 'x:1'}"));
        assert_eq!(
            f,
            vec![Finding {
                severity: Severity::Warning,
                key: "postgresq".into(),
                message: format!("{UNKNOWN}postgresql"),
            }]
        );
        let f = check(&yaml(
            "postgresql: {authentication: {superuser: {sslmdoe: require}}}",
        ));
        assert_eq!(f[0].key, "postgresql.authentication.superuser.sslmdoe");
        assert!(
            f[0].message
                .ends_with("postgresql.authentication.superuser.sslmode"),
            "{f:?}"
        );
        // A dynamic setting at the top level points to where it belongs.
        let f = check(&yaml("ttl: 30"));
        assert_eq!(f[0].message, format!("{UNKNOWN}bootstrap.dcs.ttl"));
        // The same name nearest the key's own section (an unknown key under ctl).
        let f = check(&yaml("ctl: {username: u}"));
        assert_eq!(
            f[0].message,
            format!("{UNKNOWN}ctl.authentication.username")
        );
        // A custom tag one edit from a known tag is pointed out; others are custom tags.
        let f = check(&yaml("tags: {nofailver: true, rack: r1}"));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].key, "tags.nofailver");
        assert!(f[0].message.contains("tags.nofailover"), "{f:?}");
    }

    #[test]
    fn method_sections_are_refused_only_when_named() {
        let f = check(&yaml(
            "bootstrap: {method: restore, restore: {command: x}, initdb: [data-checksums]}\n\
             postgresql: {create_replica_methods: [wal_g, basebackup], wal_g: {command: y}, basebackup: {max-rate: 1M}}",
        ));
        let keys: Vec<&str> = f.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "bootstrap.method",
                "bootstrap.restore",
                "postgresql.create_replica_methods",
                "postgresql.wal_g"
            ]
        );
        assert!(f.iter().all(|f| f.severity == Severity::Error));
        // Not named by a method: an unknown key.
        let f = check(&yaml("bootstrap: {restore: {command: x}}"));
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(f[0].message.starts_with(UNKNOWN));
    }

    #[test]
    fn dynamic_documents_use_the_same_entries() {
        let f = check_dynamic(&yaml(
            "ttl: 30\npostgresql: {pg_hba: [x], pg_ident: [y], parameters: {max_connections: 10}}\nsynchronous_mode: quorum\nlop_wait: 3",
        ));
        let got: Vec<(&str, Severity)> = f.iter().map(|f| (f.key.as_str(), f.severity)).collect();
        assert_eq!(
            got,
            [
                ("synchronous_mode", Severity::Error),
                ("lop_wait", Severity::Warning)
            ]
        );
        assert_eq!(f[1].message, format!("{UNKNOWN}loop_wait"));
    }

    #[test]
    fn values_that_ask_for_nothing_are_not_reported() {
        // Patroni's own example (postgres0.yml) writes `nostream: false`.
        let f = check(&yaml(
            "tags: {nostream: false, replicatefrom: null}\n\
             postgresql: {pg_ident: [], pre_promote: '', use_unix_socket: false, recovery_conf: {}}\n\
             log: {deduplicate_heartbeat_logs: false}\n\
             bootstrap: {method: '', dcs: {slots: {}, ignore_slots: [], postgresql: {pg_hba: []}}}",
        ));
        assert!(f.is_empty(), "{f:?}");
        let f = check(&yaml(
            "tags: {nostream: true}\npostgresql: {pre_promote: /bin/fence}",
        ));
        let got: Vec<(&str, Severity)> = f.iter().map(|f| (f.key.as_str(), f.severity)).collect();
        assert_eq!(
            got,
            [
                ("tags.nostream", Severity::Warning),
                ("postgresql.pre_promote", Severity::Error)
            ]
        );
    }

    /// Permanent slots (under each of Patroni's three names) and ignore_slots are implemented:
    /// nothing is reported for them; an unknown key inside a slot is.
    #[test]
    fn slots_and_ignore_slots_are_implemented() {
        let f = check(&yaml(
            "bootstrap: {dcs: {\
             slots: {a: {type: logical, database: d, plugin: p}, b: {type: physical, cluster_type: primary}, c: null}, \
             permanent_slots: {d: {type: physical}}, \
             permanent_replication_slots: {e: {database: d, plugin: p}}, \
             ignore_slots: [{name: x}, {type: logical, database: d, plugin: p}]}}",
        ));
        assert!(f.is_empty(), "{f:?}");
        let f = check_dynamic(&yaml("slots: {a: {type: physical, lsn: 5}}"));
        let got: Vec<(&str, Severity)> = f.iter().map(|f| (f.key.as_str(), f.severity)).collect();
        assert_eq!(got, [("slots.a.lsn", Severity::Warning)]);
        for key in [
            "bootstrap.dcs.slots",
            "bootstrap.dcs.slots.*.type",
            "bootstrap.dcs.permanent_slots",
            "bootstrap.dcs.permanent_replication_slots",
            "bootstrap.dcs.ignore_slots",
        ] {
            assert!(
                matches!(lookup(key).map(|k| k.fate), Some(Implemented)),
                "{key}"
            );
        }
    }

    #[test]
    fn odd_documents_do_not_panic() {
        for text in [
            "",
            "[1, 2]",
            "x",
            "{1: 2, true: x, null: y, [a]: b}",
            "postgresql: [1]",
            "bootstrap: {method: [x], dcs: 5}",
            "postgresql: {create_replica_methods: 7, parameters: {a.b: 1}}",
            "tags: {ab: 1, '': 2}",
        ] {
            let _ = check(&yaml(text));
            let _ = check_dynamic(&yaml(text));
        }
    }
}
