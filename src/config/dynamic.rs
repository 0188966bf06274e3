//! The dynamic configuration: the `config` key every member shares (Patroni's dynamic
//! configuration settings), its defaults, validation and JSON merge patch.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// The dynamic (cluster-wide) configuration: the `config` key (Patroni §6.1), with Patroni's defaults.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct DynamicConfig {
    /// Leader lease length, seconds (default 30).
    pub ttl: u64,
    /// Idle HA cycle period, seconds (default 10).
    pub loop_wait: u64,
    /// How long DCS and PostgreSQL operations may be retried, seconds (default 10).
    pub retry_timeout: u64,
    /// A standby further behind the leader's last known WAL position than this many bytes does not
    /// take part in a failover (default 1048576).
    pub maximum_lag_on_failover: u64,
    /// Seconds a crashed primary may take to start before a failover is preferred (default 300;
    /// Patroni's legacy name `master_start_timeout` is read too).
    #[serde(alias = "master_start_timeout")]
    pub primary_start_timeout: u64,
    /// Seconds a primary's stop (shutdown, switchover, demotion) may run before the postmaster and
    /// its processes are killed with SIGKILL; only in synchronous mode, 0 (the default) is off.
    /// Patroni's setting (legacy name `master_stop_timeout`): a fast shutdown waits for every
    /// connected standby to confirm the shutdown checkpoint, so one hung standby can hold the stop
    /// for up to `wal_sender_timeout`.
    #[serde(alias = "master_stop_timeout")]
    pub primary_stop_timeout: u64,
    /// Refuse to promote members whose timeline is behind the cluster's (default false).
    pub check_timeline: bool,
    /// Maintenance mode: no automatic action.
    pub pause: bool,
    /// `off`, `on` (true) or `quorum`; kept as JSON because Patroni accepts both bool and string.
    pub synchronous_mode: Json,
    /// Keep the primary from committing without a sync standby.
    pub synchronous_mode_strict: bool,
    /// How many synchronous standbys the primary waits for (default 1).
    pub synchronous_node_count: u64,
    /// Keep running as primary while etcd is unreachable if every member agrees.
    pub failsafe_mode: bool,
    /// Seconds the primary keeps the physical slot of a member whose key has gone (Patroni 4's
    /// `member_slots_ttl`, default 30 min; 0 drops it at once). Patroni's forms are read: a
    /// number of seconds, or a string with a unit (`ms`, `s`, `min`, `h`, `d`), e.g. `"30min"`.
    #[serde(deserialize_with = "seconds_with_unit")]
    pub member_slots_ttl: u64,
    /// Permanent replication slots (Patroni's `slots`): name → physical, or logical in a
    /// database with a plugin. Created on the primary (physical ones also on the replicas that
    /// may take over, kept at their replay position) and never dropped by praetor
    /// ([`crate::ha::slots`]). Patroni reads `permanent_replication_slots` and `permanent_slots`
    /// first, when set: see [`DynamicConfig::permanent_slot_specs`]. Serialized only when set.
    #[serde(
        deserialize_with = "slot_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub slots: BTreeMap<String, SlotSpec>,
    /// Patroni's older name for `slots` (read before it when not empty).
    #[serde(
        deserialize_with = "slot_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub permanent_slots: BTreeMap<String, SlotSpec>,
    /// Patroni's oldest name for `slots` (read before the other two when not empty).
    #[serde(
        deserialize_with = "slot_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub permanent_replication_slots: BTreeMap<String, SlotSpec>,
    /// `ignore_slots`: slots managed outside praetor. A slot that any matcher matches is never
    /// dropped or advanced by praetor, and a permanent slot matching one is not created.
    /// Serialized only when set.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ignore_slots: Vec<SlotMatcher>,
    /// `postgresql` subsection of the dynamic config (left empty — `postgresql:` with no value —
    /// it is the default, as in Patroni).
    #[serde(deserialize_with = "null_as_default")]
    pub postgresql: DynamicPostgresql,
    /// Patroni's `standby_cluster`: this group replicates from a remote primary (or an archive);
    /// its leader is a standby leader that never promotes while this is set. `None` when absent
    /// or null.
    #[serde(
        default,
        deserialize_with = "standby_cluster_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub standby_cluster: Option<StandbyCluster>,
    /// Unknown keys, preserved so PATCH /config and edit-config never lose them.
    #[serde(flatten)]
    pub other: BTreeMap<String, Json>,
}

/// `config.postgresql`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct DynamicPostgresql {
    /// Rewind a diverged former primary with pg_rewind instead of a fresh basebackup.
    pub use_pg_rewind: bool,
    /// One physical replication slot per member on the primary (default true).
    pub use_slots: bool,
    /// Cluster-wide GUCs (`parameters:` left empty means none).
    #[serde(deserialize_with = "null_as_default")]
    pub parameters: BTreeMap<String, Json>,
    /// `remove_data_directory_on_rewind_failure` (Patroni): after a failed pg_rewind, remove the
    /// data directory and take a fresh base backup. A local `postgresql` setting wins.
    #[serde(
        deserialize_with = "patroni_bool_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub remove_data_directory_on_rewind_failure: Option<bool>,
    /// `remove_data_directory_on_diverged_timelines` (Patroni): a member whose timeline diverged
    /// from the leader's is reinitialized when pg_rewind is off or failed. A local setting wins.
    #[serde(
        deserialize_with = "patroni_bool_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub remove_data_directory_on_diverged_timelines: Option<bool>,
    /// `pg_hba` (Patroni's dynamic `postgresql.pg_hba`, validator `[str]`): the lines of
    /// `pg_hba.conf` for every member whose local `postgresql.pg_hba` gives none (Patroni
    /// `config.py` `_build_effective_configuration`: a local `postgresql` key wins). Seeded from
    /// `bootstrap.dcs.postgresql.pg_hba`, changed with `PATCH /config`; a change is written and
    /// PostgreSQL reloaded (Patroni `ConfigHandler.reload_config`). Serialized only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pg_hba: Option<Vec<String>>,
    /// `pg_ident` (Patroni's dynamic `postgresql.pg_ident`, validator `[str]`): the lines of
    /// `pg_ident.conf` when the local `postgresql.pg_ident` gives none; as `pg_hba`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pg_ident: Option<Vec<String>>,
    /// Other keys.
    #[serde(flatten)]
    pub other: BTreeMap<String, Json>,
}

/// A boolean as Patroni's `parse_bool` reads it: JSON true/false, or (case-insensitive) the
/// strings `true`/`false`, `on`/`off`, `yes`/`no`, `1`/`0`, or the numbers 1/0.
///
/// # Errors
/// Any other value, naming what was expected.
pub fn parse_patroni_bool(v: &Json) -> Result<bool, String> {
    match v {
        Json::Bool(b) => Ok(*b),
        Json::Number(n) if n.as_u64() == Some(1) => Ok(true),
        Json::Number(n) if n.as_u64() == Some(0) => Ok(false),
        Json::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "on" | "yes" | "1" => Ok(true),
            "false" | "off" | "no" | "0" => Ok(false),
            _ => Err(format!(
                "expected a boolean (true/false, on/off, yes/no), got {s:?}"
            )),
        },
        other => Err(format!(
            "expected a boolean (true/false, on/off, yes/no), got {other}"
        )),
    }
}

/// Deserializes an optional boolean with [`parse_patroni_bool`].
pub(crate) fn patroni_bool_opt<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<bool>, D::Error> {
    match Option::<Json>::deserialize(d)? {
        None | Some(Json::Null) => Ok(None),
        Some(v) => parse_patroni_bool(&v)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// Deserializes a boolean with [`parse_patroni_bool`], null as false (a tag another agent wrote
/// as `"true"` still reads as true).
pub(crate) fn patroni_bool_default<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<bool, D::Error> {
    Ok(patroni_bool_opt(d)?.unwrap_or(false))
}

impl Default for DynamicPostgresql {
    fn default() -> Self {
        DynamicPostgresql {
            use_pg_rewind: false,
            use_slots: true,
            parameters: BTreeMap::new(),
            remove_data_directory_on_rewind_failure: None,
            remove_data_directory_on_diverged_timelines: None,
            pg_hba: None,
            pg_ident: None,
            other: BTreeMap::new(),
        }
    }
}

impl Default for DynamicConfig {
    fn default() -> Self {
        DynamicConfig {
            ttl: 30,
            loop_wait: 10,
            retry_timeout: 10,
            maximum_lag_on_failover: 1_048_576,
            primary_start_timeout: 300,
            primary_stop_timeout: 0,
            check_timeline: false,
            pause: false,
            synchronous_mode: Json::Bool(false),
            synchronous_mode_strict: false,
            synchronous_node_count: 1,
            failsafe_mode: false,
            member_slots_ttl: 1800,
            slots: BTreeMap::new(),
            permanent_slots: BTreeMap::new(),
            permanent_replication_slots: BTreeMap::new(),
            ignore_slots: Vec::new(),
            postgresql: DynamicPostgresql::default(),
            standby_cluster: None,
            other: BTreeMap::new(),
        }
    }
}

/// A section given with no value (YAML `key:` alone, i.e. null) reads as its default.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A duration in seconds given as Patroni reads it: a non-negative number of seconds, or a
/// string of digits followed by a unit (`ms`, `s`, `min`, `h`, `d`; none means seconds).
fn seconds_with_unit<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    use serde::de::Error;
    match Json::deserialize(d)? {
        Json::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .ok_or_else(|| D::Error::custom(format!("expected a number of seconds >= 0, got {n}"))),
        Json::String(s) => parse_seconds(&s).map_err(D::Error::custom),
        other => Err(D::Error::custom(format!(
            "expected seconds or a string such as \"30min\", got {other}"
        ))),
    }
}

/// Parses `"30min"`, `"1h"`, `"90"`, `"500ms"` into whole seconds.
///
/// # Errors
/// Not digits followed by one of `ms`, `s`, `min`, `h`, `d`.
pub fn parse_seconds(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        format!("expected seconds or a number with a unit (ms, s, min, h, d), got {s:?}")
    })?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000,
        "min" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        u => {
            return Err(format!(
                "unknown unit {u:?} in {s:?}: expected ms, s, min, h or d"
            ))
        }
    };
    Ok(secs)
}

/// Smallest ttl praetor accepts, seconds. Patroni's floor is 20; praetor renews from a dedicated
/// task and reacts to watch events, so it supports shorter leases (see README, "fast profile").
pub const MIN_TTL: u64 = 5;

/// Patroni's `standby_cluster` section (dynamic configuration only, as in Patroni 4.1's
/// `GlobalConfig.get_standby_cluster_config`): where the standby leader replicates from.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StandbyCluster {
    /// The remote primary's host (several comma-separated hosts are tried in order with
    /// `target_session_attrs=read-write`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The remote primary's port.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "port_opt"
    )]
    pub port: Option<u16>,
    /// The physical slot on the remote primary the standby leader streams through (none when
    /// unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_slot_name: Option<String>,
    /// Replica creation methods for the standby leader's first copy (default `[basebackup]` from
    /// the remote primary); their sections are in the local `postgresql` section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_replica_methods: Option<Vec<String>>,
    /// `restore_command` for every member of the standby cluster (from the remote's archive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_command: Option<String>,
    /// `archive_cleanup_command` for every member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_cleanup_command: Option<String>,
    /// `recovery_min_apply_delay` for the standby leader.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "text_opt"
    )]
    pub recovery_min_apply_delay: Option<String>,
}

impl StandbyCluster {
    /// Whether it makes a standby cluster (Patroni's `is_standby_cluster`): a `host`, `port` or
    /// `restore_command` is set.
    pub fn active(&self) -> bool {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        set(&self.host) || self.port.is_some() || set(&self.restore_command)
    }
}

fn standby_cluster_opt<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<StandbyCluster>, D::Error> {
    let v = Option::<StandbyCluster>::deserialize(d)?;
    Ok(v.filter(StandbyCluster::active))
}

/// A port as a number or a string of digits (Patroni's YAML often quotes it).
fn port_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    use serde::de::Error;
    match Option::<Json>::deserialize(d)? {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Number(n)) => n
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected a port number (1-65535), got {n}"))),
        Some(Json::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Json::String(s)) => s
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .map(Some)
            .ok_or_else(|| {
                D::Error::custom(format!("expected a port number (1-65535), got {s:?}"))
            }),
        Some(other) => Err(D::Error::custom(format!(
            "expected a port number (1-65535), got {other}"
        ))),
    }
}

/// A setting given as text or a number (`recovery_min_apply_delay: 300000` or `'5min'`).
fn text_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::de::Error;
    match Option::<Json>::deserialize(d)? {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(Json::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(D::Error::custom(format!(
            "expected a duration such as '5min' or a number of milliseconds, got {other}"
        ))),
    }
}

impl DynamicConfig {
    /// Whether this group is a standby cluster ([`StandbyCluster::active`]).
    pub fn is_standby_cluster(&self) -> bool {
        self.standby_cluster.is_some()
    }

    /// Parses a dynamic configuration (from `bootstrap.dcs` or the `config` key) and adjusts its
    /// timing as [`DynamicConfig::adjust_timeouts`] does, dropping the adjustment messages.
    ///
    /// # Errors
    /// A `(key, message)` pair naming the key whose value has the wrong type or form.
    pub fn from_json(v: &Json) -> Result<DynamicConfig, (String, String)> {
        Self::from_json_adjusting(v).map(|(c, _)| c)
    }

    /// Like [`DynamicConfig::from_json`], also returning one message per timing value that was
    /// adjusted, for the caller to log once.
    ///
    /// # Errors
    /// As [`DynamicConfig::from_json`].
    pub fn from_json_adjusting(v: &Json) -> Result<(DynamicConfig, Vec<String>), (String, String)> {
        let v = if v.is_null() {
            Json::Object(Default::default())
        } else {
            v.clone()
        };
        // Both the old and the new name of a timeout: Patroni reads the new one.
        let mut v = v;
        if let Some(o) = v.as_object_mut() {
            for (old, new) in [
                ("master_start_timeout", "primary_start_timeout"),
                ("master_stop_timeout", "primary_stop_timeout"),
            ] {
                if o.contains_key(new) {
                    o.remove(old);
                }
            }
        }
        let mut cfg: DynamicConfig = serde_path_to_error::deserialize(v).map_err(|e| {
            let path = e.path().to_string();
            (
                if path == "." { String::new() } else { path },
                e.inner().to_string(),
            )
        })?;
        if let Some(v) = cfg.postgresql.other.get("recovery_conf") {
            crate::config::backup::recovery_params(v, "postgresql.recovery_conf")?;
        }
        let adjusted = cfg.adjust_timeouts();
        Ok((cfg, adjusted))
    }

    /// Keys of a dynamic configuration document that praetor refuses (the fate table,
    /// [`crate::config::keys::check_dynamic`]): `(key, message)` for each, e.g.
    /// `("standby_cluster", "not supported by praetor: …")`. Empty when every key is implemented
    /// or harmless.
    pub fn refused_keys(v: &Json) -> Vec<(String, String)> {
        let Ok(doc) = serde_yaml::to_value(v) else {
            return Vec::new();
        };
        crate::config::keys::check_dynamic(&doc)
            .into_iter()
            .filter(|f| f.severity == crate::config::keys::Severity::Error)
            .map(|f| (f.key, f.message))
            .collect()
    }

    /// What an edit of the `config` key (PATCH/PUT /config, `praetorctl edit-config`) must pass:
    /// it parses ([`DynamicConfig::from_json`]) and has no key praetor refuses
    /// ([`DynamicConfig::refused_keys`]) — so a `synchronous_mode` praetor cannot read is
    /// never stored for members that would not honour it.
    ///
    /// # Errors
    /// The first problem as `(key, message)`.
    pub fn check_edit(v: &Json) -> Result<DynamicConfig, (String, String)> {
        let c = Self::from_json(v)?;
        match Self::refused_keys(v).into_iter().next() {
            Some(r) => Err(r),
            None => Ok(c),
        }
    }

    /// Patroni's timing rule, applied as Patroni applies it (`Config._validate_and_adjust_timeouts`):
    /// values below their minimum are raised to it (ttl 5 s — praetor's floor, Patroni's is 20 —,
    /// loop_wait 1 s, retry_timeout 1 s), then, when `loop_wait + 2 * retry_timeout > ttl`,
    /// loop_wait is lowered to `ttl - 2 * retry_timeout`, or, when even a loop_wait of 1 s does not
    /// fit, loop_wait becomes 1 s and retry_timeout `(ttl - 1) / 2` (seconds, rounded down). The rule
    /// is the budget a primary needs to notice a lost DCS and demote before its lease can expire.
    /// Returns one message per adjustment, naming the key, its value and the new one.
    pub fn adjust_timeouts(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for (key, value, min) in [
            ("loop_wait", &mut self.loop_wait, 1),
            ("retry_timeout", &mut self.retry_timeout, 1),
            ("ttl", &mut self.ttl, MIN_TTL),
        ] {
            if *value < min {
                out.push(format!(
                    "{key}={value} is below the minimum {min} seconds; using {min}"
                ));
                *value = min;
            }
        }
        let (ttl, loop_wait, retry) = (self.ttl, self.loop_wait, self.retry_timeout);
        if 1 + 2 * retry > ttl {
            self.loop_wait = 1;
            self.retry_timeout = (ttl - 1) / 2;
            out.push(format!(
                "ttl={ttl} breaks the rule loop_wait + 2*retry_timeout <= ttl; using loop_wait {} (was {loop_wait}) and retry_timeout {} (was {retry})",
                self.loop_wait, self.retry_timeout
            ));
        } else if loop_wait + 2 * retry > ttl {
            self.loop_wait = ttl - 2 * retry;
            out.push(format!(
                "ttl={ttl} and retry_timeout={retry} break the rule loop_wait + 2*retry_timeout <= ttl; using loop_wait {} (was {loop_wait})",
                self.loop_wait
            ));
        }
        out
    }

    /// Whether synchronous replication is requested (`on`, `true` or `quorum`).
    pub fn synchronous(&self) -> bool {
        // A standby cluster has no synchronous replication (Patroni's `is_synchronous_mode`).
        if self.is_standby_cluster() {
            return false;
        }
        match &self.synchronous_mode {
            Json::Bool(b) => *b,
            Json::String(s) => {
                matches!(s.as_str(), "on" | "true") || s.eq_ignore_ascii_case("quorum")
            }
            _ => false,
        }
    }

    /// Whether quorum commit is requested (`synchronous_mode: quorum`, any case, as Patroni's
    /// `is_quorum_commit_mode`) and in force (not a standby cluster): `synchronous_standby_names`
    /// is `ANY k (…)` and `/sync` carries a `quorum` ([`crate::ha::quorum`]).
    pub fn is_quorum(&self) -> bool {
        self.synchronous()
            && self
                .synchronous_mode
                .as_str()
                .is_some_and(|m| m.eq_ignore_ascii_case("quorum"))
    }

    /// The JSON form written to the `config` key.
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or(Json::Null)
    }

    /// The permanent slots in force: Patroni's `global_config.permanent_slots` takes the first
    /// that is not empty of `permanent_replication_slots`, `permanent_slots` and `slots`.
    pub fn permanent_slot_specs(&self) -> &BTreeMap<String, SlotSpec> {
        [
            &self.permanent_replication_slots,
            &self.permanent_slots,
            &self.slots,
        ]
        .into_iter()
        .find(|m| !m.is_empty())
        .unwrap_or(&self.slots)
    }
}

/// A replication slot's type (`pg_replication_slots.slot_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotType {
    /// A physical slot (streaming replication, pg_receivewal).
    Physical,
    /// A logical slot (logical decoding in one database, with an output plugin).
    Logical,
}

impl SlotType {
    /// `physical` or `logical`, as PostgreSQL and Patroni spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            SlotType::Physical => "physical",
            SlotType::Logical => "logical",
        }
    }

    /// Parses PostgreSQL's and Patroni's spelling.
    pub fn parse(s: &str) -> Option<SlotType> {
        match s {
            "physical" => Some(SlotType::Physical),
            "logical" => Some(SlotType::Logical),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for SlotType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Json::deserialize(d)?;
        v.as_str().and_then(SlotType::parse).ok_or_else(|| {
            serde::de::Error::custom(format!("expected physical or logical, got {v}"))
        })
    }
}

/// `cluster_type` of a permanent physical slot: the kind of cluster it is kept in (Patroni:
/// `primary` or `standby`; praetor runs no standby clusters, so a `standby` slot is neither
/// created nor dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotClusterType {
    /// Kept in a primary cluster (what praetor runs).
    Primary,
    /// Kept in a standby cluster only.
    Standby,
}

impl<'de> Deserialize<'de> for SlotClusterType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Json::deserialize(d)?;
        match v.as_str() {
            Some("primary") => Ok(SlotClusterType::Primary),
            Some("standby") => Ok(SlotClusterType::Standby),
            _ => Err(serde::de::Error::custom(format!(
                "expected primary or standby, got {v}"
            ))),
        }
    }
}

/// One permanent slot of `slots` (Patroni `Cluster._merge_permanent_slots`): a value left empty
/// is a physical slot; without `type`, a slot with both `database` and `plugin` is logical and
/// any other is physical; a logical slot needs both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotSpec {
    /// `{type: physical}`, optionally with `cluster_type`.
    Physical {
        /// `cluster_type`, when given.
        cluster_type: Option<SlotClusterType>,
    },
    /// `{type: logical, database, plugin}`.
    Logical {
        /// The database the slot decodes.
        database: String,
        /// The output plugin (`pgoutput`, `test_decoding`, …).
        plugin: String,
    },
}

/// The form of one `slots` entry as written, before its type is settled.
#[derive(Deserialize, Default)]
#[serde(
    default,
    expecting = "a slot such as {type: physical} or {type: logical, database: ..., plugin: ...}"
)]
struct RawSlotSpec {
    #[serde(rename = "type")]
    slot_type: Option<SlotType>,
    database: Option<String>,
    plugin: Option<String>,
    cluster_type: Option<SlotClusterType>,
}

impl<'de> Deserialize<'de> for SlotSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Option::<RawSlotSpec>::deserialize(d)?.unwrap_or_default();
        let database = raw.database.filter(|s| !s.is_empty());
        let plugin = raw.plugin.filter(|s| !s.is_empty());
        let logical = match raw.slot_type {
            Some(t) => t == SlotType::Logical,
            None => database.is_some() && plugin.is_some(),
        };
        if !logical {
            return Ok(SlotSpec::Physical {
                cluster_type: raw.cluster_type,
            });
        }
        match (database, plugin) {
            (Some(database), Some(plugin)) => Ok(SlotSpec::Logical { database, plugin }),
            (None, _) => Err(serde::de::Error::custom(
                "a logical slot needs a database (and a plugin)",
            )),
            (_, None) => Err(serde::de::Error::custom(
                "a logical slot needs a plugin (and a database)",
            )),
        }
    }
}

impl Serialize for SlotSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = serde_json::Map::new();
        match self {
            SlotSpec::Physical { cluster_type } => {
                m.insert("type".into(), "physical".into());
                if let Some(c) = cluster_type {
                    m.insert(
                        "cluster_type".into(),
                        serde_json::to_value(c).unwrap_or_default(),
                    );
                }
            }
            SlotSpec::Logical { database, plugin } => {
                m.insert("type".into(), "logical".into());
                m.insert("database".into(), database.clone().into());
                m.insert("plugin".into(), plugin.clone().into());
            }
        }
        m.serialize(s)
    }
}

impl SlotSpec {
    /// The slot's type.
    pub fn slot_type(&self) -> SlotType {
        match self {
            SlotSpec::Physical { .. } => SlotType::Physical,
            SlotSpec::Logical { .. } => SlotType::Logical,
        }
    }
}

/// Whether `name` is a name Patroni accepts for a permanent slot: 1 to 63 characters, each a
/// lower-case ASCII letter, a digit or `_` (PostgreSQL accepts these and nothing else).
pub fn valid_slot_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A `slots` map (null reads as empty), every name checked with [`valid_slot_name`].
fn slot_map<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, SlotSpec>, D::Error> {
    let m = Option::<BTreeMap<String, SlotSpec>>::deserialize(d)?.unwrap_or_default();
    if let Some(bad) = m.keys().find(|n| !valid_slot_name(n)) {
        return Err(serde::de::Error::custom(format!(
            "{bad:?} is not a valid replication slot name: 1 to 63 lower-case letters, digits or _"
        )));
    }
    Ok(m)
}

/// One entry of `ignore_slots` (Patroni `SlotsHandler.ignore_replication_slot`): a slot matches
/// when its name equals `name` (if given) and its type, database and plugin equal `type`,
/// `database` and `plugin` (each when given and not empty). An entry with none of them matches
/// every slot, as in Patroni.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    default,
    expecting = "a slot matcher such as {name: my_slot, type: logical, database: db, plugin: pgoutput}"
)]
pub struct SlotMatcher {
    /// The slot's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The slot's type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub slot_type: Option<SlotType>,
    /// The database of a logical slot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The plugin of a logical slot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
}

impl SlotMatcher {
    /// Whether the slot `name` of type `slot_type` (a logical one in `database` with `plugin`)
    /// matches.
    pub fn matches(
        &self,
        name: &str,
        slot_type: SlotType,
        database: Option<&str>,
        plugin: Option<&str>,
    ) -> bool {
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().filter(|s| !s.is_empty())
        }
        self.name.as_deref().is_none_or(|n| n == name)
            && self.slot_type.is_none_or(|t| t == slot_type)
            && given(&self.database).is_none_or(|d| Some(d) == database)
            && given(&self.plugin).is_none_or(|p| Some(p) == plugin)
    }
}

/// Merges `patch` into `base` recursively; `null` deletes a key (Patroni's `patch_config`).
pub fn merge_patch(base: &mut Json, patch: &Json) {
    match (base, patch) {
        (Json::Object(b), Json::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    b.remove(k);
                } else if v.is_object() && b.get(k).is_some_and(Json::is_object) {
                    merge_patch(b.get_mut(k).expect("checked"), v);
                } else {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

#[cfg(test)]
mod timing_tests {
    use super::*;

    fn adjusted(ttl: u64, loop_wait: u64, retry_timeout: u64) -> ((u64, u64, u64), usize) {
        let mut c = DynamicConfig {
            ttl,
            loop_wait,
            retry_timeout,
            ..Default::default()
        };
        let msgs = c.adjust_timeouts();
        ((c.ttl, c.loop_wait, c.retry_timeout), msgs.len())
    }

    /// Patroni's adjustments (config.py `_validate_and_adjust_timeouts`), with praetor's ttl floor.
    #[test]
    fn timing_is_adjusted_like_patroni() {
        assert_eq!(adjusted(30, 10, 10), ((30, 10, 10), 0));
        assert_eq!(adjusted(5, 1, 2), ((5, 1, 2), 0));
        // loop_wait lowered first.
        assert_eq!(adjusted(25, 10, 10), ((25, 5, 10), 1));
        // even loop_wait 1 does not fit: retry_timeout lowered too.
        assert_eq!(adjusted(20, 10, 10), ((20, 1, 9), 1));
        // below the minimums: raised, then the rule.
        assert_eq!(adjusted(2, 0, 0), ((5, 1, 1), 3));
        assert_eq!(adjusted(4, 1, 1), ((5, 1, 1), 1));
    }

    #[test]
    fn adjustment_names_the_keys() {
        let mut c = DynamicConfig {
            ttl: 20,
            ..Default::default()
        };
        assert_eq!(
            c.adjust_timeouts(),
            vec!["ttl=20 breaks the rule loop_wait + 2*retry_timeout <= ttl; using loop_wait 1 (was 10) and retry_timeout 9 (was 10)".to_string()]
        );
    }
}

#[cfg(test)]
mod bool_tests {
    use super::*;

    #[test]
    fn an_edit_with_a_refused_key_is_refused_by_name() {
        let v = serde_json::json!({"ttl": 30, "synchronous_mode": "sometimes"});
        assert!(DynamicConfig::from_json(&v).is_ok());
        let (k, m) = DynamicConfig::check_edit(&v).unwrap_err();
        assert!(k.starts_with("synchronous_mode"), "{k}: {m}");
        assert!(m.starts_with(crate::config::keys::REFUSED), "{m}");
        assert!(DynamicConfig::check_edit(&serde_json::json!({"ttl": 30})).is_ok());
    }

    #[test]
    fn the_new_timeout_name_wins_over_the_old_one() {
        let c = DynamicConfig::from_json(&serde_json::json!({
            "master_start_timeout": 100, "primary_start_timeout": 200,
            "master_stop_timeout": 5}))
        .unwrap();
        assert_eq!((c.primary_start_timeout, c.primary_stop_timeout), (200, 5));
    }

    #[test]
    fn empty_sections_read_as_their_defaults() {
        let c = DynamicConfig::from_json(&serde_json::json!({"postgresql": {"parameters": null}}))
            .unwrap();
        assert!(c.postgresql.parameters.is_empty());
        let c = DynamicConfig::from_json(&serde_json::json!({"postgresql": null})).unwrap();
        assert!(c.postgresql.use_slots);
    }

    #[test]
    fn removal_keys_are_read_as_patroni_reads_booleans() {
        let c = DynamicConfig::from_json(&serde_json::json!({"postgresql": {
            "remove_data_directory_on_rewind_failure": "on",
            "remove_data_directory_on_diverged_timelines": false}}))
        .unwrap();
        assert_eq!(
            c.postgresql.remove_data_directory_on_rewind_failure,
            Some(true)
        );
        assert_eq!(
            c.postgresql.remove_data_directory_on_diverged_timelines,
            Some(false)
        );
        let e = DynamicConfig::from_json(&serde_json::json!({"postgresql": {
            "remove_data_directory_on_rewind_failure": "maybe"}}))
        .unwrap_err();
        assert_eq!(e.0, "postgresql.remove_data_directory_on_rewind_failure");
        assert!(e.1.contains("expected a boolean"), "{}", e.1);
    }
}

#[cfg(test)]
mod auth_lines_tests {
    use super::*;

    /// `pg_hba` / `pg_ident` are typed: read, written back only when set, and a wrong type is an
    /// error naming the key.
    #[test]
    fn pg_hba_and_pg_ident_round_trip() {
        let v = serde_json::json!({"postgresql": {
            "pg_hba": ["host all all 0.0.0.0/0 md5", "local all all trust"],
            "pg_ident": ["omicron bryanh bryanh"]}});
        let c = DynamicConfig::from_json(&v).unwrap();
        assert_eq!(
            c.postgresql.pg_hba.as_deref(),
            Some(
                &[
                    "host all all 0.0.0.0/0 md5".to_string(),
                    "local all all trust".to_string()
                ][..]
            )
        );
        assert_eq!(
            c.postgresql.pg_ident.as_deref(),
            Some(&["omicron bryanh bryanh".to_string()][..])
        );
        assert!(c.postgresql.other.is_empty());
        let j = c.to_json();
        assert_eq!(j["postgresql"]["pg_hba"], v["postgresql"]["pg_hba"]);
        assert_eq!(j["postgresql"]["pg_ident"], v["postgresql"]["pg_ident"]);
        // Not set: absent from the JSON form (and null reads as not set).
        let c =
            DynamicConfig::from_json(&serde_json::json!({"postgresql": {"pg_hba": null}})).unwrap();
        assert_eq!(c.postgresql.pg_hba, None);
        let j = c.to_json();
        assert!(j["postgresql"].get("pg_hba").is_none(), "{j}");
        assert!(j["postgresql"].get("pg_ident").is_none(), "{j}");
    }

    #[test]
    fn a_wrong_pg_hba_or_pg_ident_names_the_key() {
        let e =
            DynamicConfig::from_json(&serde_json::json!({"postgresql": {"pg_hba": "host all"}}))
                .unwrap_err();
        assert_eq!(e.0, "postgresql.pg_hba");
        let e = DynamicConfig::from_json(&serde_json::json!({"postgresql": {"pg_ident": [1]}}))
            .unwrap_err();
        assert!(e.0.starts_with("postgresql.pg_ident"), "{e:?}");
    }
}

#[cfg(test)]
mod slot_tests {
    use super::*;
    use serde_json::json;

    /// Patroni's forms of `slots`: an empty value is physical, a typeless slot with database and
    /// plugin is logical; written back in the typed form, and only when set.
    #[test]
    fn slots_are_typed_and_round_trip() {
        let v = json!({
            "slots": {
                "phys": {"type": "physical"},
                "empty": null,
                "standby_only": {"type": "physical", "cluster_type": "standby"},
                "cdc": {"type": "logical", "database": "app", "plugin": "pgoutput"},
                "typeless": {"database": "app", "plugin": "test_decoding"},
                "half": {"database": "app"}
            },
            "ignore_slots": [{"name": "by_hand"}, {"type": "logical", "database": "app"}]
        });
        let c = DynamicConfig::from_json(&v).unwrap();
        let phys = SlotSpec::Physical { cluster_type: None };
        let logical = |db: &str, plugin: &str| SlotSpec::Logical {
            database: db.into(),
            plugin: plugin.into(),
        };
        assert_eq!(
            c.slots,
            BTreeMap::from([
                ("cdc".to_string(), logical("app", "pgoutput")),
                ("empty".to_string(), phys.clone()),
                ("half".to_string(), phys.clone()),
                ("phys".to_string(), phys.clone()),
                (
                    "standby_only".to_string(),
                    SlotSpec::Physical {
                        cluster_type: Some(SlotClusterType::Standby)
                    }
                ),
                ("typeless".to_string(), logical("app", "test_decoding")),
            ])
        );
        assert_eq!(
            c.ignore_slots,
            vec![
                SlotMatcher {
                    name: Some("by_hand".into()),
                    ..Default::default()
                },
                SlotMatcher {
                    slot_type: Some(SlotType::Logical),
                    database: Some("app".into()),
                    ..Default::default()
                },
            ]
        );
        assert!(c.other.is_empty(), "{:?}", c.other);
        let j = c.to_json();
        assert_eq!(j["slots"]["empty"], json!({"type": "physical"}));
        assert_eq!(
            j["slots"]["typeless"],
            json!({"type": "logical", "database": "app", "plugin": "test_decoding"})
        );
        assert_eq!(
            j["slots"]["standby_only"],
            json!({"type": "physical", "cluster_type": "standby"})
        );
        assert_eq!(j["ignore_slots"], v["ignore_slots"]);
        assert_eq!(DynamicConfig::from_json(&j).unwrap(), c);
        // Not set (or null, or empty): absent from the JSON form.
        let j = DynamicConfig::from_json(&json!({"slots": null, "ignore_slots": null}))
            .unwrap()
            .to_json();
        for k in [
            "slots",
            "ignore_slots",
            "permanent_slots",
            "permanent_replication_slots",
        ] {
            assert!(j.get(k).is_none(), "{k}: {j}");
        }
    }

    /// Patroni's `global_config.permanent_slots`: the first non-empty of
    /// `permanent_replication_slots`, `permanent_slots`, `slots`.
    #[test]
    fn the_older_names_of_slots_are_read_first() {
        let c = DynamicConfig::from_json(&json!({
            "slots": {"a": null},
            "permanent_slots": {"b": null}
        }))
        .unwrap();
        assert_eq!(c.permanent_slot_specs().keys().collect::<Vec<_>>(), ["b"]);
        let c = DynamicConfig::from_json(&json!({
            "slots": {"a": null},
            "permanent_slots": {},
            "permanent_replication_slots": {"c": {"type": "physical"}}
        }))
        .unwrap();
        assert_eq!(c.permanent_slot_specs().keys().collect::<Vec<_>>(), ["c"]);
        let c = DynamicConfig::from_json(&json!({"slots": {"a": null}, "permanent_slots": {}}))
            .unwrap();
        assert_eq!(c.permanent_slot_specs().keys().collect::<Vec<_>>(), ["a"]);
        assert!(DynamicConfig::default().permanent_slot_specs().is_empty());
    }

    #[test]
    fn a_wrong_slot_names_the_key() {
        for (v, key, says) in [
            (
                json!({"slots": {"foo": {"type": "logcal"}}}),
                "slots.foo.type",
                "expected physical or logical",
            ),
            (
                json!({"slots": {"foo": {"type": "logical", "plugin": "pgoutput"}}}),
                "slots.foo",
                "needs a database",
            ),
            (
                json!({"slots": {"foo": {"type": "logical", "database": "app"}}}),
                "slots.foo",
                "needs a plugin",
            ),
            (
                json!({"slots": {"foo": "physical"}}),
                "slots.foo",
                "expected a slot such as",
            ),
            (
                json!({"slots": {"foo": {"cluster_type": "replica"}}}),
                "slots.foo.cluster_type",
                "expected primary or standby",
            ),
            (
                json!({"permanent_slots": {"Foo-1": null}}),
                "permanent_slots",
                "\"Foo-1\" is not a valid replication slot name",
            ),
            (json!({"slots": [1]}), "slots", "invalid type"),
            (
                json!({"ignore_slots": [{"type": "both"}]}),
                "ignore_slots[0].type",
                "expected physical or logical",
            ),
            (
                json!({"ignore_slots": ["by_hand"]}),
                "ignore_slots[0]",
                "expected a slot matcher",
            ),
            (
                json!({"ignore_slots": {"name": "x"}}),
                "ignore_slots",
                "invalid type",
            ),
        ] {
            let (k, m) = DynamicConfig::from_json(&v).unwrap_err();
            assert_eq!(k, key, "{v}: {m}");
            assert!(m.contains(says), "{v}: {m}");
        }
    }

    /// Patroni's matcher: every attribute given must be equal; none given matches every slot.
    #[test]
    fn matchers_match_as_patroni_s() {
        let m = |v: serde_json::Value| serde_json::from_value::<SlotMatcher>(v).unwrap();
        let phys = |mm: &SlotMatcher, n: &str| mm.matches(n, SlotType::Physical, None, None);
        let logi = |mm: &SlotMatcher, n: &str, d: &str, p: &str| {
            mm.matches(n, SlotType::Logical, Some(d), Some(p))
        };
        let by_name = m(json!({"name": "x"}));
        assert!(phys(&by_name, "x") && logi(&by_name, "x", "db", "pgoutput"));
        assert!(!phys(&by_name, "y"));
        let logical_in_db = m(json!({"type": "logical", "database": "db"}));
        assert!(logi(&logical_in_db, "any", "db", "test_decoding"));
        assert!(!logi(&logical_in_db, "any", "other", "test_decoding"));
        assert!(!phys(&logical_in_db, "any"));
        let plugin = m(json!({"plugin": "pgoutput"}));
        assert!(logi(&plugin, "a", "db", "pgoutput") && !phys(&plugin, "a"));
        // Empty strings ask for nothing; an empty matcher matches everything.
        assert!(phys(&m(json!({"database": "", "plugin": ""})), "a"));
        assert!(phys(&m(json!({})), "a"));
    }
}
