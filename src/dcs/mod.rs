//! The distributed configuration store: Patroni's key layout and JSON values, and the etcd v3 adapter.
//!
//! [`ClusterView`] is the decoded content of one group's prefix (`/<namespace>/<scope>[/<group>]/`);
//! [`etcd::EtcdDcs`] reads and writes it. Key names and value shapes are those of Patroni's
//! `patroni/dcs/__init__.py` (reference §1), so Patroni's own tools read what praetor writes.

pub mod endpoints;
pub mod etcd;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::config::{DynamicConfig, Tags};
use crate::types::{Lsn, MemberState, Role};

/// Key names relative to the group prefix.
pub mod keys {
    /// Plain string: name of the leader-key holder; bound to the holder's lease.
    pub const LEADER: &str = "leader";
    /// Plain string: the PostgreSQL system identifier (`""` while initdb runs).
    pub const INITIALIZE: &str = "initialize";
    /// JSON: dynamic configuration.
    pub const CONFIG: &str = "config";
    /// JSON: `{leader, member, scheduled_at}` of a requested switchover or failover.
    pub const FAILOVER: &str = "failover";
    /// JSON: `{leader, sync_standby, quorum}`.
    pub const SYNC: &str = "sync";
    /// JSON: `{optime, slots, retain_slots}` written by the leader.
    pub const STATUS: &str = "status";
    /// JSON list of `[timeline, switch_lsn, reason, timestamp, new_leader]`.
    pub const HISTORY: &str = "history";
    /// JSON `{member: api_url}` (failsafe mode).
    pub const FAILSAFE: &str = "failsafe";
    /// Prefix of the member keys, `members/<name>`.
    pub const MEMBERS: &str = "members/";
}

/// The member key's JSON (reference §1.3). Unknown fields written by other implementations are kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MemberData {
    /// `postgres://host:port/postgres`.
    #[serde(default)]
    pub conn_url: String,
    /// `http://host:port/patroni`.
    #[serde(default)]
    pub api_url: String,
    /// Member state (`running`, `starting`, …).
    #[serde(default)]
    pub state: String,
    /// Role (`primary`, `replica`, …; `master` is read as `primary`).
    #[serde(default)]
    pub role: String,
    /// Agent version; praetor publishes a Patroni 4.x-looking one so Patroni peers trust its fields.
    #[serde(default)]
    pub version: String,
    /// WAL position in bytes: current WAL LSN on a primary, max(receive, replay) on a replica.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xlog_location: Option<Lsn>,
    /// Last received WAL position, bytes (replicas).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receive_lsn: Option<Lsn>,
    /// Last replayed WAL position, bytes (replicas).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_lsn: Option<Lsn>,
    /// `streaming` or `in archive recovery` (replicas).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication_state: Option<String>,
    /// Current timeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<u32>,
    /// Effective tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    /// Maintenance mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause: Option<bool>,
    /// `postgres://host:port/postgres` of the connection pooler in front of this member
    /// (Patroni's `proxy_url`, from `postgresql.proxy_address`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Anything else.
    #[serde(flatten)]
    pub other: BTreeMap<String, Json>,
}

/// One member of the group as read from `members/<name>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// Member name (the key's last path component).
    pub name: String,
    /// Decoded value.
    pub data: MemberData,
    /// etcd lease the key is bound to (0 = none).
    pub lease: i64,
}

impl Member {
    /// Tags (default when absent).
    pub fn tags(&self) -> Tags {
        self.data.tags.clone().unwrap_or_default()
    }

    /// Role, Patroni 3's `master` read as primary; `None` when unknown.
    pub fn role(&self) -> Option<Role> {
        Role::parse(&self.data.role)
    }

    /// State; `None` when praetor does not know it.
    pub fn state(&self) -> Option<MemberState> {
        MemberState::parse(&self.data.state)
    }

    /// Its PostgreSQL is up and accepting connections (state `running`).
    pub fn is_running(&self) -> bool {
        self.state() == Some(MemberState::Running)
    }

    /// `(host, port)` parsed from `conn_url` (port 5432 when absent).
    pub fn host_port(&self) -> Option<(String, u16)> {
        parse_conn_url(&self.data.conn_url)
    }

    /// `(host, port)` of its connection pooler, parsed from `proxy_url`.
    pub fn pooler(&self) -> Option<(String, u16)> {
        self.data.proxy_url.as_deref().and_then(parse_conn_url)
    }

    /// The member's best known WAL position, bytes.
    pub fn lsn(&self) -> Option<Lsn> {
        self.data
            .xlog_location
            .or_else(|| self.data.receive_lsn.max(self.data.replay_lsn))
    }
}

/// `postgres://[user@]host:port/db` → `(host, port)`.
pub fn parse_conn_url(url: &str) -> Option<(String, u16)> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))?;
    let hostport = rest.split('/').next()?;
    let hostport = hostport.rsplit('@').next()?;
    match hostport.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((hostport.to_string(), 5432)),
    }
}

/// The `failover` key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Failover {
    /// Current leader the switchover moves away from (switchover only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// Candidate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// ISO 8601 time with zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<String>,
}

impl Failover {
    /// The value that clears a `failover` key (Patroni writes `{}` rather than deleting it).
    pub const CLEARED: &'static str = "{}";

    /// The JSON value to write.
    pub fn encode(&self) -> String {
        serde_json::to_value(self).unwrap_or_default().to_string()
    }
}

/// The `status` key's value for a leader at WAL position `optime` (bytes): `{"optime": n}`,
/// with `"slots": {name: position}` (bytes) when the leader has permanent slots to report
/// (Patroni's `/status`: a logical slot's `confirmed_flush_lsn`, a physical one's
/// `restart_lsn`; replicas move their copies of the logical ones to it).
pub fn encode_status(optime: Lsn, slots: &BTreeMap<String, Lsn>) -> String {
    if slots.is_empty() {
        serde_json::json!({ "optime": optime }).to_string()
    } else {
        serde_json::json!({ "optime": optime, "slots": slots }).to_string()
    }
}

/// The `failsafe` key's value: member name → `api_url`.
pub fn encode_failsafe(members: &BTreeMap<String, String>) -> String {
    serde_json::to_value(members)
        .unwrap_or_default()
        .to_string()
}

/// The `sync` key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SyncState {
    /// Primary that wrote it.
    pub leader: Option<String>,
    /// Comma-joined synchronous standby names, or null.
    pub sync_standby: Option<String>,
    /// Quorum (4.0+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum: Option<i64>,
}

impl SyncState {
    /// The value a primary writes: `{"leader": leader, "quorum": quorum, "sync_standby": "a,b"}`,
    /// `sync_standby` sorted and comma-joined, null when `members` is empty; `quorum` 0 in
    /// priority mode (Patroni 4's form; reference §1.3).
    pub fn encode(leader: &str, members: &[String], quorum: usize) -> String {
        let mut sorted = members.to_vec();
        sorted.sort();
        let standby = if sorted.is_empty() {
            Json::Null
        } else {
            Json::String(sorted.join(","))
        };
        serde_json::json!({"leader": leader, "quorum": quorum, "sync_standby": standby}).to_string()
    }

    /// `quorum` as a count (absent, null or negative: 0, as Patroni reads it).
    pub fn quorum(&self) -> usize {
        self.quorum.unwrap_or(0).max(0) as usize
    }

    /// Members named in `sync_standby`.
    pub fn members(&self) -> Vec<String> {
        self.sync_standby
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }
}

/// One `/history` row: `[timeline, switch_lsn, reason, timestamp, new_leader]`.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// The timeline that ended.
    pub timeline: u32,
    /// WAL position (bytes) where it ended.
    pub switch_lsn: Lsn,
    /// Reason text from the `.history` file.
    pub reason: String,
    /// When, ISO 8601.
    pub timestamp: Option<String>,
    /// Who became leader.
    pub new_leader: Option<String>,
}

impl HistoryEntry {
    /// The JSON array form.
    pub fn to_json(&self) -> Json {
        serde_json::json!([
            self.timeline,
            self.switch_lsn,
            self.reason,
            self.timestamp,
            self.new_leader
        ])
    }

    /// The `history` key's value: the rows as one JSON array.
    pub fn encode_list(rows: &[HistoryEntry]) -> String {
        Json::Array(rows.iter().map(HistoryEntry::to_json).collect()).to_string()
    }

    fn from_json(v: &Json) -> Option<HistoryEntry> {
        let a = v.as_array()?;
        Some(HistoryEntry {
            timeline: a.first()?.as_u64()? as u32,
            switch_lsn: Lsn(a.get(1)?.as_u64()?),
            reason: a.get(2).and_then(Json::as_str).unwrap_or("").to_string(),
            timestamp: a.get(3).and_then(Json::as_str).map(String::from),
            new_leader: a.get(4).and_then(Json::as_str).map(String::from),
        })
    }
}

/// The leader key as read.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaderKey {
    /// Holder's member name.
    pub name: String,
    /// Lease the key is bound to.
    pub lease: i64,
    /// etcd mod_revision.
    pub mod_revision: i64,
}

/// A group's whole DCS state at one etcd revision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterView {
    /// `initialize` value: `None` = key absent, `Some("")` = initdb in progress, else system identifier.
    pub initialize: Option<String>,
    /// Parsed dynamic configuration (`None` when absent or invalid; see `config_error`).
    pub config: Option<DynamicConfig>,
    /// Raw `config` JSON as stored (for GET /config).
    pub config_raw: Option<Json>,
    /// mod_revision of `config` (for compare-and-set edits).
    pub config_revision: i64,
    /// Why the stored `config` was rejected, if it was.
    pub config_error: Option<String>,
    /// Leader key.
    pub leader: Option<LeaderKey>,
    /// Members sorted by name.
    pub members: Vec<Member>,
    /// Requested switchover / failover.
    pub failover: Option<Failover>,
    /// mod_revision of `failover`.
    pub failover_revision: i64,
    /// Sync state.
    pub sync: Option<SyncState>,
    /// mod_revision of `sync` (0 when absent).
    pub sync_revision: i64,
    /// `status.optime`: the leader's last published WAL position, bytes.
    pub optime: Option<Lsn>,
    /// `status.slots`: the positions (bytes) of the leader's permanent slots as it last
    /// published them; an entry that is not a number is reported in `bad_values` and skipped.
    pub slot_positions: BTreeMap<String, Lsn>,
    /// Timeline history.
    pub history: Vec<HistoryEntry>,
    /// `failsafe`: every member's `api_url`, as last published by the leader (failsafe mode).
    pub failsafe: Option<BTreeMap<String, String>>,
    /// Values that could not be decoded: `(key, problem)`; logged by the driver, never fatal.
    pub bad_values: Vec<(String, String)>,
    /// etcd revision of the read.
    pub revision: i64,
}

impl ClusterView {
    /// Decodes the key/value pairs of one prefix (keys relative to the prefix).
    ///
    /// Values written by others that do not decode are reported in `bad_values` and otherwise ignored,
    /// so a stray or corrupt key never stops the agent.
    pub fn decode(kvs: &[(String, Vec<u8>, i64, i64)], revision: i64) -> ClusterView {
        let mut v = ClusterView {
            revision,
            ..Default::default()
        };
        for (key, value, lease, mod_rev) in kvs {
            let text = String::from_utf8_lossy(value).to_string();
            let mut bad = |problem: String| v_bad(&mut v.bad_values, key, problem);
            match key.as_str() {
                keys::INITIALIZE => v.initialize = Some(text.trim().to_string()),
                keys::LEADER => {
                    v.leader = Some(LeaderKey {
                        name: text.trim().to_string(),
                        lease: *lease,
                        mod_revision: *mod_rev,
                    })
                }
                keys::CONFIG => {
                    v.config_revision = *mod_rev;
                    match serde_json::from_str::<Json>(&text) {
                        Ok(j) => {
                            match DynamicConfig::from_json_adjusting(&j) {
                                Ok((c, adjusted)) => {
                                    for m in adjusted {
                                        bad(format!("adjusted: {m}"));
                                    }
                                    // Written by someone else (Patroni, an older praetor): said
                                    // once, by name, never taken as if it were not there.
                                    for (k, m) in DynamicConfig::refused_keys(&j) {
                                        bad(format!("config.{k}: {m}"));
                                    }
                                    v.config = Some(c)
                                }
                                Err((k, m)) => {
                                    let msg = format!("config.{k}: {m}");
                                    v.config_error = Some(msg.clone());
                                    bad(msg);
                                }
                            }
                            v.config_raw = Some(j);
                        }
                        Err(e) => bad(format!("not JSON: {e}")),
                    }
                }
                keys::FAILOVER => {
                    v.failover_revision = *mod_rev;
                    if !text.trim().is_empty() {
                        match serde_json::from_str::<Failover>(&text) {
                            Ok(f) if f != Failover::default() => v.failover = Some(f),
                            Ok(_) => {}
                            Err(e) => {
                                bad(format!("expected {{leader, member, scheduled_at}}: {e}"))
                            }
                        }
                    }
                }
                keys::SYNC => match serde_json::from_str::<SyncState>(&text) {
                    Ok(s) => {
                        v.sync_revision = *mod_rev;
                        v.sync = Some(s)
                    }
                    Err(e) => bad(format!("expected {{leader, sync_standby}}: {e}")),
                },
                keys::STATUS => match serde_json::from_str::<Json>(&text) {
                    Ok(j) => {
                        v.optime = j.get("optime").and_then(Json::as_u64).map(Lsn);
                        if let Some(Json::Object(slots)) = j.get("slots") {
                            for (name, p) in slots {
                                match p.as_u64() {
                                    Some(at) => {
                                        v.slot_positions.insert(name.clone(), Lsn(at));
                                    }
                                    None => bad(format!(
                                        "slots.{name}: expected a WAL position (bytes), got {p}"
                                    )),
                                }
                            }
                        }
                    }
                    Err(e) => bad(format!("not JSON: {e}")),
                },
                "optime/leader" => {
                    if v.optime.is_none() {
                        v.optime = text.trim().parse().ok().map(Lsn);
                    }
                }
                keys::FAILSAFE => match serde_json::from_str::<BTreeMap<String, String>>(&text) {
                    Ok(m) => v.failsafe = Some(m),
                    Err(e) => bad(format!("expected {{member: api_url}}: {e}")),
                },
                keys::HISTORY => match serde_json::from_str::<Json>(&text) {
                    Ok(Json::Array(rows)) => {
                        v.history = rows.iter().filter_map(HistoryEntry::from_json).collect()
                    }
                    Ok(_) => bad("expected a JSON list".into()),
                    Err(e) => bad(format!("not JSON: {e}")),
                },
                k if k.starts_with(keys::MEMBERS) => {
                    let name = &k[keys::MEMBERS.len()..];
                    if name.is_empty() || name.contains('/') {
                        continue;
                    }
                    match serde_json::from_str::<MemberData>(&text) {
                        Ok(data) => v.members.push(Member {
                            name: name.to_string(),
                            data,
                            lease: *lease,
                        }),
                        Err(e) => bad(format!("member value is not valid member JSON: {e}")),
                    }
                }
                _ => {}
            }
        }
        v.members.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// The member named `name`.
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// The leader key holder's member entry, if both exist.
    pub fn leader_member(&self) -> Option<&Member> {
        self.leader.as_ref().and_then(|l| self.member(&l.name))
    }

    /// `/sync` names `name` as a synchronous standby.
    pub fn lists_sync_standby(&self, name: &str) -> bool {
        self.sync
            .as_ref()
            .is_some_and(|s| s.members().iter().any(|n| n == name))
    }

    /// A member's role in `/cluster` terms (`leader`, `sync_standby`, `replica`) and the state shown
    /// for it: the replication state for non-leaders when published, else the member state
    /// (Patroni's `cluster_as_json`).
    pub fn cluster_role_and_state(&self, m: &Member) -> (&'static str, String) {
        let is_leader = self.leader.as_ref().is_some_and(|l| l.name == m.name);
        let role = if is_leader {
            "leader"
        } else if self.lists_sync_standby(&m.name) {
            "sync_standby"
        } else {
            "replica"
        };
        let state = if is_leader {
            m.data.state.clone()
        } else {
            m.data
                .replication_state
                .clone()
                .unwrap_or_else(|| m.data.state.clone())
        };
        (role, state)
    }

    /// The cluster's current timeline according to `/history` (last ended timeline + 1).
    pub fn history_timeline(&self) -> Option<u32> {
        self.history.iter().map(|h| h.timeline + 1).max()
    }
}

/// The DCS values written by others that did not decode, as last reported, so each is logged
/// once when it appears or changes and once when it is gone, not every cycle.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BadValues(BTreeMap<String, String>);

/// A change in the undecodable values of a group (see [`BadValues`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadValueChange {
    /// `key` holds a value that does not decode, newly or with another problem.
    Bad {
        /// The key, relative to the group's prefix.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// `key` no longer holds a bad value (it was fixed or deleted).
    Readable {
        /// The key, relative to the group's prefix.
        key: String,
    },
}

impl BadValues {
    /// Takes in this read's `bad_values` ([`ClusterView::bad_values`]) and says what changed.
    pub fn update(&mut self, current: &[(String, String)]) -> Vec<BadValueChange> {
        let now: BTreeMap<String, String> = current.iter().cloned().collect();
        let mut changes: Vec<BadValueChange> = self
            .0
            .keys()
            .filter(|k| !now.contains_key(*k))
            .map(|k| BadValueChange::Readable { key: k.clone() })
            .collect();
        for (key, problem) in &now {
            if self.0.get(key) != Some(problem) {
                changes.push(BadValueChange::Bad {
                    key: key.clone(),
                    problem: problem.clone(),
                });
            }
        }
        self.0 = now;
        changes
    }
}

fn v_bad(bad: &mut Vec<(String, String)>, key: &str, problem: String) {
    bad.push((key.to_string(), problem));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(k: &str, v: &str) -> (String, Vec<u8>, i64, i64) {
        (k.to_string(), v.as_bytes().to_vec(), 7, 3)
    }

    #[test]
    fn a_bad_value_is_reported_once_when_it_appears_changes_or_goes() {
        let mut b = BadValues::default();
        let one = vec![("sync".to_string(), "not JSON".to_string())];
        let bad = |p: &str| BadValueChange::Bad {
            key: "sync".into(),
            problem: p.into(),
        };
        assert_eq!(b.update(&one), vec![bad("not JSON")]);
        assert_eq!(b.update(&one), vec![]);
        assert_eq!(b.update(&one), vec![]);
        let other = vec![("sync".to_string(), "expected a list".to_string())];
        assert_eq!(b.update(&other), vec![bad("expected a list")]);
        assert_eq!(
            b.update(&[]),
            vec![BadValueChange::Readable { key: "sync".into() }]
        );
        assert_eq!(b.update(&[]), vec![]);
    }

    #[test]
    fn a_slot_position_that_is_not_a_number_is_reported_by_name() {
        let view = ClusterView::decode(
            &[kv("status", r#"{"optime":500,"slots":{"a":400,"b":"x"}}"#)],
            10,
        );
        assert_eq!(
            view.slot_positions,
            BTreeMap::from([("a".to_string(), Lsn(400))])
        );
        assert_eq!(view.bad_values.len(), 1, "{:?}", view.bad_values);
        assert!(
            view.bad_values[0].1.contains("slots.b"),
            "{:?}",
            view.bad_values
        );
    }

    #[test]
    fn decodes_patroni_values() {
        let view = ClusterView::decode(
            &[
                kv("initialize", "7179854923881963547"),
                kv("leader", "node1"),
                kv(
                    "config",
                    r#"{"ttl":30,"loop_wait":10,"retry_timeout":10,"postgresql":{"use_pg_rewind":true}}"#,
                ),
                kv(
                    "members/node1",
                    r#"{"conn_url":"postgres://127.0.0.1:5432/postgres","api_url":"http://127.0.0.1:8008/patroni","state":"running","role":"master","version":"4.1.5","xlog_location":123,"timeline":2,"tags":{"nofailover":true}}"#,
                ),
                kv("members/node2", "garbage"),
                kv("failover", "{}"),
                kv("status", r#"{"optime":500,"slots":{"node2":400}}"#),
                kv(
                    "history",
                    r#"[[1,25165984,"no recovery target specified","2024-01-01T00:00:00+00:00","node1"]]"#,
                ),
                kv("sync", r#"{"leader":"node1","sync_standby":"node2,node3"}"#),
            ],
            10,
        );
        assert_eq!(view.initialize.as_deref(), Some("7179854923881963547"));
        assert_eq!(view.leader.as_ref().unwrap().name, "node1");
        assert_eq!(
            view.slot_positions,
            BTreeMap::from([("node2".to_string(), Lsn(400))])
        );
        assert!(view.config.as_ref().unwrap().postgresql.use_pg_rewind);
        assert_eq!(view.members.len(), 1);
        assert_eq!(view.members[0].role(), Some(Role::Primary));
        assert!(!view.members[0].tags().can_failover());
        assert_eq!(view.bad_values.len(), 1);
        assert_eq!(view.failover, None);
        assert_eq!(view.optime, Some(Lsn(500)));
        assert_eq!(view.history_timeline(), Some(2));
        assert_eq!(view.sync.unwrap().members(), vec!["node2", "node3"]);
    }

    #[test]
    fn conn_url() {
        assert_eq!(
            parse_conn_url("postgres://10.0.0.1:5433/postgres"),
            Some(("10.0.0.1".into(), 5433))
        );
        assert_eq!(
            parse_conn_url("postgres://h/postgres"),
            Some(("h".into(), 5432))
        );
        assert_eq!(parse_conn_url("http://x"), None);
    }
}
