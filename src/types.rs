//! Domain types shared by every module: LSNs, timelines, roles and member states.
//!
//! The string forms of [`Role`] and [`MemberState`] are the ones Patroni writes into member keys and
//! REST answers (`patroni/dcs/__init__.py`, `patroni/postgresql/__init__.py`), so a mixed
//! Patroni/praetor cluster and Patroni's tools read them unchanged.

use std::fmt;

/// Quotes a libpq connection-string value (PostgreSQL docs, "Connection Strings": single quotes,
/// with `\\` and `'` escaped by a backslash).
pub fn conninfo_value(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A PostgreSQL write-ahead-log position, in bytes from the start of the WAL stream.
///
/// Displayed as PostgreSQL does (`X/Y`, both halves hexadecimal, e.g. `0/3000060`).
///
/// In JSON (member keys, `/status`, `/history`, REST answers) it is the plain number of bytes, as
/// Patroni writes it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Lsn(pub u64);

impl Lsn {
    /// Bytes from `earlier` to `self`; 0 when `earlier` is not behind (the lag of `earlier`).
    pub fn saturating_sub(self, earlier: Lsn) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Parses PostgreSQL's `X/Y` text form.
    ///
    /// # Errors
    /// Returns `None` when the text is not two hexadecimal numbers separated by `/`.
    pub fn parse(s: &str) -> Option<Lsn> {
        let (hi, lo) = s.trim().split_once('/')?;
        let hi = u64::from_str_radix(hi, 16).ok()?;
        let lo = u64::from_str_radix(lo, 16).ok()?;
        if hi > u32::MAX as u64 || lo > u32::MAX as u64 {
            return None;
        }
        Some(Lsn((hi << 32) | lo))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// A PostgreSQL timeline ID (`pg_control`'s TimeLineID); 1 for a fresh cluster, +1 per promotion.
pub type Timeline = u32;

/// The role a member publishes in its member key (`role` field), Patroni 4.x spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Writable primary holding (or about to hold) the leader key.
    Primary,
    /// Streaming (or trying to stream) standby.
    Replica,
    /// Just demoted; about to start as a standby.
    Demoted,
    /// No data directory yet.
    Uninitialized,
    /// Promotion requested, not yet finished.
    Promoted,
    /// The leader of a standby cluster: holds the group's leader key and replicates from the
    /// remote primary (or an archive), never promoting while `standby_cluster` is set.
    StandbyLeader,
}

impl Role {
    /// The exact string Patroni writes (`primary`, `replica`, `demoted`, `uninitialized`,
    /// `promoted`, `standby_leader`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
            Role::Demoted => "demoted",
            Role::Uninitialized => "uninitialized",
            Role::Promoted => "promoted",
            Role::StandbyLeader => "standby_leader",
        }
    }

    /// Reads a role another agent wrote (member key, `GET /patroni`); Patroni 3's `master` is
    /// [`Role::Primary`]. `None` for a role praetor does not know.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "primary" | "master" => Role::Primary,
            "replica" => Role::Replica,
            "demoted" => Role::Demoted,
            "uninitialized" => Role::Uninitialized,
            "promoted" => Role::Promoted,
            "standby_leader" => Role::StandbyLeader,
            _ => return None,
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `state` a member publishes; the subset of Patroni's states praetor uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// initdb of a new cluster is running.
    InitializingNewCluster,
    /// initdb failed.
    InitdbFailed,
    /// A custom bootstrap method's command (a restore from a backup) is running.
    CustomBootstrap,
    /// A custom bootstrap method's command failed.
    CustomBootstrapFailed,
    /// pg_basebackup from another member is running.
    CreatingReplica,
    /// The postmaster is up and accepting connections.
    Running,
    /// The postmaster was started and is not ready yet.
    Starting,
    /// The restored backup of a custom bootstrap is starting and recovering.
    BootstrapStarting,
    /// The last start failed.
    StartFailed,
    /// A restart is in progress.
    Restarting,
    /// The postmaster is being stopped.
    Stopping,
    /// The postmaster is not running.
    Stopped,
    /// The postmaster exited without being asked to.
    Crashed,
    /// The fence guard stopped the postmaster because the agent stopped renewing the lease
    /// (praetor only; see `fence`).
    Fenced,
}

impl MemberState {
    /// Every state, in declaration order, with Patroni's string and its index in Patroni 4.1's state list (the
    /// `patroni_postgres_state` metric).
    const TABLE: [(MemberState, &'static str, i32); 14] = [
        (
            MemberState::InitializingNewCluster,
            "initializing new cluster",
            0,
        ),
        (MemberState::InitdbFailed, "initdb failed", 1),
        (
            MemberState::CustomBootstrap,
            "running custom bootstrap script",
            2,
        ),
        (
            MemberState::CustomBootstrapFailed,
            "custom bootstrap failed",
            3,
        ),
        (MemberState::CreatingReplica, "creating replica", 4),
        (MemberState::Running, "running", 5),
        (MemberState::Starting, "starting", 6),
        (
            MemberState::BootstrapStarting,
            "starting after custom bootstrap",
            7,
        ),
        (MemberState::StartFailed, "start failed", 8),
        (MemberState::Restarting, "restarting", 9),
        (MemberState::Stopping, "stopping", 11),
        (MemberState::Stopped, "stopped", 12),
        (MemberState::Crashed, "crashed", 14),
        (MemberState::Fenced, "fenced", 15),
    ];

    /// This state's row: the table is in declaration order (a unit test keeps it so).
    fn row(self) -> &'static (MemberState, &'static str, i32) {
        &Self::TABLE[self as usize]
    }

    /// The exact string Patroni writes, e.g. `running`, `creating replica`.
    pub fn as_str(self) -> &'static str {
        self.row().1
    }

    /// Index in Patroni 4.1's state list, used by the `patroni_postgres_state` metric (−1 unknown).
    pub fn metric_index(self) -> i32 {
        self.row().2
    }

    /// Reads a state another agent wrote (member key, `GET /patroni`), by its exact string;
    /// `None` for a state praetor does not publish (Patroni has more).
    pub fn parse(s: &str) -> Option<MemberState> {
        Self::TABLE.iter().find(|r| r.1 == s).map(|r| r.0)
    }
}

impl fmt::Display for MemberState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Turns a member name into the physical replication slot name Patroni uses for it: lower case,
/// every character outside `[a-z0-9_]` replaced by `_`, at most 63 bytes (PostgreSQL's NAMEDATALEN - 1).
pub fn slot_name_for(member: &str) -> String {
    let mut s: String = member
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.truncate(63);
    s
}

/// What is on disk.
#[derive(Debug, Clone, PartialEq)]
pub enum DataDir {
    /// Missing or empty.
    Empty,
    /// A PostgreSQL data directory; values from `pg_controldata`.
    Present {
        /// Database system identifier.
        sysid: String,
        /// `Database cluster state`, e.g. `in production`, `shut down in recovery`.
        state: String,
        /// Timeline of the latest checkpoint.
        timeline: u32,
        /// Latest checkpoint location.
        checkpoint_lsn: Lsn,
        /// A standby's minimum recovery point and its timeline (`Minimum recovery ending
        /// location`, `Min recovery ending loc's timeline`): WAL it replayed past its last
        /// restartpoint, which a stopped standby must not be started on a timeline without.
        /// `None` when pg_controldata reports none (timeline 0).
        min_recovery: Option<(u32, Lsn)>,
        /// A `backup_label` file is present: a base backup whose recovery has not begun (the
        /// startup process renames the file as it starts). Its pg_control is the source's, so
        /// `in production` then says nothing about this server, which has never run.
        backup_label: bool,
    },
    /// Exists but cannot be read as a data directory.
    Unreadable(String),
}

impl DataDir {
    /// Whether pg_control says this server last ran as a primary (not in recovery). Never for a
    /// base backup that has not started: its pg_control was copied from the primary.
    pub fn was_primary(&self) -> bool {
        matches!(self, DataDir::Present { state, backup_label: false, .. }
            if state == "in production" || state == "shut down" || state == "shutting down" || state == "in crash recovery")
    }
}

/// The local PostgreSQL server as observed this cycle.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PgState {
    /// The postmaster runs and accepts connections.
    pub running: bool,
    /// `pg_is_in_recovery()`.
    pub in_recovery: bool,
    /// Current timeline.
    pub timeline: Option<u32>,
    /// `pg_current_wal_lsn()` on a primary.
    pub wal_lsn: Option<Lsn>,
    /// `pg_last_wal_receive_lsn()`.
    pub receive_lsn: Option<Lsn>,
    /// `pg_last_wal_replay_lsn()`.
    pub replay_lsn: Option<Lsn>,
    /// Member name in `primary_conninfo` the server currently streams from (as configured by us).
    pub following: Option<String>,
    /// The postmaster is alive but does not accept connections yet (crash recovery, or a standby
    /// that has not reached a consistent state).
    pub starting: bool,
    /// The postmaster exited without being asked to since the last cycle.
    pub crashed: bool,
    /// Consecutive failed start attempts.
    pub start_failures: u32,
    /// Seconds the postmaster has been up without accepting connections (while `starting`).
    pub starting_for: Option<f64>,
    /// A running standby whose WAL receiver is not streaming: seconds since it was last seen
    /// streaming (or since the server started, if never). `None` while streaming, or not a standby.
    pub receiver_down_for: Option<f64>,
}

impl PgState {
    /// The best WAL position this server has (0/0 when unknown).
    pub fn lsn(&self) -> Lsn {
        if !self.in_recovery {
            return self.wal_lsn.unwrap_or_default();
        }
        self.receive_lsn
            .unwrap_or_default()
            .max(self.replay_lsn.unwrap_or_default())
    }

    /// Running as a writable primary.
    pub fn is_primary(&self) -> bool {
        self.running && !self.in_recovery
    }
}

/// Name used in strict mode when no standby qualifies: commits wait instead of going async.
pub const STRICT_PLACEHOLDER: &str = "__patroni_strict_sync_replica_placeholder__";

/// A member name as `synchronous_standby_names` must spell it: bare when PostgreSQL would read
/// it back unchanged (lower-case letters, digits and `_`, not starting with a digit, not the
/// keywords `first` or `any`), else double-quoted with `"` doubled (PostgreSQL's
/// `synchronous_standby_names` grammar).
pub fn quote_standby_name(n: &str) -> String {
    let plain = !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !n.starts_with(|c: char| c.is_ascii_digit())
        && n != "first"
        && n != "any";
    if plain {
        n.to_string()
    } else {
        format!("\"{}\"", n.replace('"', "\"\""))
    }
}

/// Member names, ordered (the GUC and `/sync` list them sorted).
pub type Names = std::collections::BTreeSet<String>;

/// `synchronous_standby_names` in quorum terms: `ANY num (members)`. `num` 0 is the empty GUC
/// (no synchronous replication); `members` empty with `num` 1 is `ANY 1 (*)`
/// (`synchronous_mode_strict` with no standby: any standby that connects acknowledges).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct QuorumGuc {
    /// Standbys that may acknowledge.
    pub members: Names,
    /// How many of them must acknowledge a commit.
    pub num: usize,
}

impl QuorumGuc {
    /// The GUC's value as PostgreSQL reads it: `ANY num (a,b)` (sorted, names quoted where
    /// PostgreSQL needs it), `ANY 1 (*)`, or empty.
    pub fn render(&self) -> String {
        if self.num == 0 {
            return String::new();
        }
        if self.members.is_empty() {
            return format!("ANY {} (*)", self.num);
        }
        let names: Vec<String> = self.members.iter().map(|n| quote_standby_name(n)).collect();
        format!("ANY {} ({})", self.num, names.join(","))
    }
}

/// One `pg_stat_replication` row.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicationRow {
    /// `application_name` (the member name).
    pub name: String,
    /// `state` (`streaming`, `catchup`, …).
    pub state: String,
    /// `sync_state` (`sync`, `potential`, `async`, `quorum`).
    pub sync_state: String,
    /// `flush_lsn`.
    pub flush_lsn: Lsn,
}

/// `15.4` → 150004, `9.6.24` → 90624 (PostgreSQL's `server_version_num`).
pub fn parse_pg_version(v: &str) -> Option<i64> {
    let parts: Vec<i64> = v
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<Vec<_>>>()?;
    match parts.as_slice() {
        [major] if *major >= 10 => Some(major * 10000),
        [major, minor] if *major >= 10 => Some(major * 10000 + minor),
        [a, b] => Some(a * 10000 + b * 100),
        [a, b, c] => Some(a * 10000 + b * 100 + c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_state_table_is_in_declaration_order_and_round_trips() {
        for (i, (state, text, _)) in MemberState::TABLE.iter().enumerate() {
            assert_eq!(*state as usize, i);
            assert_eq!(MemberState::parse(text), Some(*state));
            assert_eq!(state.as_str(), *text);
        }
        assert_eq!(MemberState::Running.metric_index(), 5);
        assert_eq!(MemberState::parse("streaming"), None);
        assert_eq!(Role::parse("master"), Some(Role::Primary));
        assert_eq!(Role::parse("standby_leader"), Some(Role::StandbyLeader));
        assert_eq!(Role::parse("standby"), None);
    }

    #[test]
    fn lsn_round_trip() {
        let l = Lsn::parse("16/B374D848").unwrap();
        assert_eq!(l.0, 0x16_B374_D848);
        assert_eq!(l.to_string(), "16/B374D848");
        assert_eq!(Lsn::parse("0/0"), Some(Lsn(0)));
        assert_eq!(Lsn::parse("zz"), None);
        assert_eq!(Lsn::parse("1/FFFFFFFFF"), None);
    }

    #[test]
    fn slot_names() {
        assert_eq!(slot_name_for("Node-1.a"), "node_1_a");
    }
}
