//! The table of [`KEYS`]: every key of Patroni's configuration with its fate in praetor, the
//! reasons given for the keys praetor refuses or ignores, and the checks that decide a key by its
//! value ([`Fate::ByValue`]). The walk over a document that reads it is in the parent module.

use serde_yaml::Value as Yaml;

use super::{is_empty, Fate, Key};

const fn k(path: &'static str, fate: Fate) -> Key {
    Key { path, fate }
}

use Fate::{ByValue, Implemented, Refused, Warned};

// ---- reasons -------------------------------------------------------------------------------

const NO_THREADS: &str =
    "praetor does not run on a thread pool this setting could size (one async runtime serves the HA loop and the REST API)";
const LOG_LAYOUT: &str = "praetor keeps its own line layout (log.type chooses plain or JSON lines)";
const SYNC_VALUE: &str =
    "praetor reads on, off, true, false or quorum here; any other value would be taken as off";
const ETCD_V2: &str =
    "this section selects etcd's v2 API, and praetor speaks only the v3 API (the etcd3 section). Rename it to etcd3 only if this cluster's Patroni already used etcd3: keys written through the v2 API are invisible through v3, so praetor would find an empty cluster (no leader, no initialize key, no config)";
const OTHER_DCS: &str =
    "praetor keeps the cluster state in etcd through its v3 API only (the etcd3 section); this store is not implemented";
const BIN_NAME: &str =
    "praetor runs the standard program names from bin_dir (or PATH); a renamed program would not be the one that runs";
const NOT_RUN: &str = "praetor does not run this program";
const NO_KEY_PASSWORD: &str =
    "encrypted keys are not supported; give an unencrypted key file with mode 0600";
const SSLNEGOTIATION: &str =
    "connections negotiate TLS the standard way (sslnegotiation=postgres), which every PostgreSQL server accepts";
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
const RACE_BACKOFF: &str =
    "not implemented: standbys race for the leader key without waiting for the primary's WAL to stop advancing, so a failover this setting would hold back could happen";

// ---- value checks --------------------------------------------------------------------------

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

fn basebackup(v: &Yaml) -> Fate {
    let json = serde_json::to_value(v).unwrap_or_default();
    match crate::config::basebackup_options(&json) {
        Ok((_, skipped)) if skipped.is_empty() => Implemented,
        Ok(_) => Warned("options praetor passes itself (pgdata, dbname, host, port, username, password, wal-method, format, gzip, version) and client-side compress are not passed, as Patroni does not pass them"),
        Err(_) => Refused("expected a mapping ({max-rate: 100M}) or a list of option names and one-key mappings ([verbose, {max-rate: 100M}])"),
    }
}

fn synchronous_mode(v: &Yaml) -> Fate {
    match v {
        Yaml::Null | Yaml::Bool(_) => Implemented,
        Yaml::String(s) if matches!(s.as_str(), "on" | "off" | "true" | "false") => Implemented,
        Yaml::String(s) if s.eq_ignore_ascii_case("quorum") => Implemented,
        _ => Refused(SYNC_VALUE),
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

/// `pre_promote`, `before_stop`: a command line Patroni splits into words (no shell).
fn script(v: &Yaml) -> Fate {
    match v {
        _ if is_empty(v) => Implemented,
        Yaml::String(s) if shlex::split(s).is_some() => Implemented,
        _ => Refused("expected a command line (words split as a shell would, quotes closed)"),
    }
}

fn watchdog_mode(v: &Yaml) -> Fate {
    let json = serde_json::to_value(v).unwrap_or_default();
    if crate::config::watchdog::mode_recognised(&json) {
        Implemented
    } else {
        Warned("not a mode Patroni recognises (off, automatic or required): the watchdog is disabled, as Patroni disables it")
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
    match v {
        Yaml::Null => Implemented,
        Yaml::Number(n) if n.as_i64().is_some() => Implemented,
        _ => Refused("expected an integer (higher is preferred as synchronous standby; 0 or less keeps the member out, as nosync)"),
    }
}

// ---- the table -----------------------------------------------------------------------------

/// Every key of Patroni's configuration and its fate in praetor. The walk ([`check`](super::check))
/// looks keys up here; nothing else decides whether a key is read, refused or ignored.
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
    k("log.dir", Implemented),
    k("log.mode", Implemented),
    k("log.file_num", Implemented),
    k("log.file_size", Implemented),
    k("log.loggers", Warned("per-logger levels name Patroni's Python modules; set RUST_LOG to filter praetor's own lines")),
    k("log.deduplicate_heartbeat_logs", Warned("every HA cycle's line is logged, repeated or not")),
    // bootstrap
    k("bootstrap", Implemented),
    k("bootstrap.dcs", Implemented),
    k("bootstrap.initdb", Implemented),
    k("bootstrap.method", Implemented),
    // A custom bootstrap method's section: its other keys are passed to the command as
    // --key=value (config::backup checks command and recovery_conf).
    k("bootstrap.<method>", Implemented),
    k("bootstrap.<method>.command", Implemented),
    k("bootstrap.<method>.keep_existing_recovery_conf", Implemented),
    k("bootstrap.<method>.no_params", Implemented),
    k("bootstrap.<method>.recovery_conf", Implemented),
    k("bootstrap.<method>.recovery_conf.*", Implemented),
    k("bootstrap.<method>.*", Implemented),
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
    k("bootstrap.dcs.standby_cluster", Implemented),
    k("bootstrap.dcs.standby_cluster.host", Implemented),
    k("bootstrap.dcs.standby_cluster.port", Implemented),
    k("bootstrap.dcs.standby_cluster.primary_slot_name", Implemented),
    k("bootstrap.dcs.standby_cluster.create_replica_methods", Implemented),
    k("bootstrap.dcs.standby_cluster.restore_command", Implemented),
    k("bootstrap.dcs.standby_cluster.archive_cleanup_command", Implemented),
    k("bootstrap.dcs.standby_cluster.recovery_min_apply_delay", Implemented),
    k("bootstrap.dcs.postgresql", Implemented),
    k("bootstrap.dcs.postgresql.use_pg_rewind", Implemented),
    k("bootstrap.dcs.postgresql.use_slots", Implemented),
    k("bootstrap.dcs.postgresql.parameters", Implemented),
    k("bootstrap.dcs.postgresql.parameters.*", Implemented),
    k("bootstrap.dcs.postgresql.parameters_primary", Refused(ROLE_PARAMETERS)),
    k("bootstrap.dcs.postgresql.parameters_replica", Refused(ROLE_PARAMETERS)),
    k("bootstrap.dcs.postgresql.parameters_standby_leader", Refused(ROLE_PARAMETERS)),
    k("bootstrap.dcs.postgresql.recovery_conf", Implemented),
    k("bootstrap.dcs.postgresql.recovery_conf.*", Implemented),
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
    k("citus.databases", Implemented),
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
    k("postgresql.proxy_address", Implemented),
    k("postgresql.data_dir", Implemented),
    k("postgresql.config_dir", Implemented),
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
    k("postgresql.authentication.superuser.sslpassword", Implemented),
    k("postgresql.authentication.superuser.sslcert", Implemented),
    k("postgresql.authentication.superuser.sslrootcert", Implemented),
    k("postgresql.authentication.superuser.sslcrl", Implemented),
    k("postgresql.authentication.superuser.sslcrldir", Implemented),
    k("postgresql.authentication.superuser.sslnegotiation", Warned(SSLNEGOTIATION)),
    k("postgresql.authentication.superuser.gssencmode", Implemented),
    k("postgresql.authentication.superuser.channel_binding", Implemented),
    k("postgresql.authentication.replication", Implemented),
    k("postgresql.authentication.replication.username", Implemented),
    k("postgresql.authentication.replication.password", Implemented),
    k("postgresql.authentication.replication.sslmode", Implemented),
    k("postgresql.authentication.replication.sslkey", Implemented),
    k("postgresql.authentication.replication.sslpassword", Implemented),
    k("postgresql.authentication.replication.sslcert", Implemented),
    k("postgresql.authentication.replication.sslrootcert", Implemented),
    k("postgresql.authentication.replication.sslcrl", Implemented),
    k("postgresql.authentication.replication.sslcrldir", Implemented),
    k("postgresql.authentication.replication.sslnegotiation", Warned(SSLNEGOTIATION)),
    k("postgresql.authentication.replication.gssencmode", Implemented),
    k("postgresql.authentication.replication.channel_binding", Implemented),
    k("postgresql.authentication.rewind", Implemented),
    k("postgresql.authentication.rewind.username", Implemented),
    k("postgresql.authentication.rewind.password", Implemented),
    k("postgresql.authentication.rewind.sslmode", Implemented),
    k("postgresql.authentication.rewind.sslkey", Implemented),
    k("postgresql.authentication.rewind.sslpassword", Implemented),
    k("postgresql.authentication.rewind.sslcert", Implemented),
    k("postgresql.authentication.rewind.sslrootcert", Implemented),
    k("postgresql.authentication.rewind.sslcrl", Implemented),
    k("postgresql.authentication.rewind.sslcrldir", Implemented),
    k("postgresql.authentication.rewind.sslnegotiation", Warned(SSLNEGOTIATION)),
    k("postgresql.authentication.rewind.gssencmode", Implemented),
    k("postgresql.authentication.rewind.channel_binding", Implemented),
    k("postgresql.callbacks", Implemented),
    k("postgresql.callbacks.on_reload", Implemented),
    k("postgresql.callbacks.on_restart", Implemented),
    k("postgresql.callbacks.on_role_change", Implemented),
    k("postgresql.callbacks.on_start", Implemented),
    k("postgresql.callbacks.on_stop", Implemented),
    k("postgresql.create_replica_methods", Implemented),
    // A replica creation method's section: its other keys are passed to the command as
    // --key=value (config::backup checks the command).
    k("postgresql.<replica_method>", Implemented),
    k("postgresql.<replica_method>.command", Implemented),
    k("postgresql.<replica_method>.keep_data", Implemented),
    k("postgresql.<replica_method>.no_params", Implemented),
    k("postgresql.<replica_method>.no_leader", Implemented),
    k("postgresql.<replica_method>.no_master", Implemented),
    k("postgresql.<replica_method>.*", Implemented),
    k("postgresql.basebackup", ByValue(basebackup)),
    k("postgresql.recovery_conf", Implemented),
    k("postgresql.recovery_conf.*", Implemented),
    k("postgresql.custom_conf", Implemented),
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
    k("postgresql.pre_promote", ByValue(script)),
    k("postgresql.before_stop", ByValue(script)),
    k("postgresql.use_unix_socket", Implemented),
    k("postgresql.use_unix_socket_repl", Warned("praetor opens no replication connection to its own server (Patroni's only use of this key): there is nothing to route through the socket")),
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
    k("watchdog.mode", ByValue(watchdog_mode)),
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
    k("tags.replicatefrom", Implemented),
    k("tags.nostream", Implemented),
    k("tags.*", Implemented),
];
