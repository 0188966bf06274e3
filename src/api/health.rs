//! The health-check endpoints (`/primary`, `/leader`, `/replica`, `/read-only`, `/health`,
//! `/sync`, `/async`, `/read-only-sync`, `/quorum`, `/read-only-quorum`, `/standby-leader` and
//! their aliases): which question a path asks ([`Check::from_path`]) and the one pure rule that
//! answers it ([`status`]), with the rules of Patroni 4.1's `RestApiHandler.do_GET` (reference
//! §4.1). The handlers only gather [`Facts`] and [`Params`] and write the answer.

use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::dcs::SyncState;
use crate::types::Role;

/// The question a health path asks. Patroni matches the path by substring, in the order of
/// these variants (so `/replica-zone-a` asks [`Check::Replica`]), except the synchronous and
/// quorum checks, which need the exact path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// `/standby-leader`, `/standby_leader`: holds the leader lock in a standby cluster.
    /// praetor runs no standby clusters, so always 503 (Patroni's answer outside one).
    StandbyLeader,
    /// `/leader`: holds the leader lock.
    Leader,
    /// `/`, `/primary`, `/master`, `/read-write`: holds the leader lock outside a standby cluster.
    Primary,
    /// `/replica`: a running standby that takes load (see [`status`]).
    Replica,
    /// `/read-only`: the primary, or as [`Check::Replica`].
    ReadOnly,
    /// `/health`: PostgreSQL is running, whatever the role.
    Health,
    /// `/sync`, `/synchronous`: as [`Check::Replica`], and named in `/sync`.
    Sync,
    /// `/async`, `/asynchronous`: as [`Check::Replica`], and not named in `/sync`.
    Async,
    /// `/read-only-sync`, `/read-only-synchronous`: the primary, or as [`Check::Sync`].
    ReadOnlySync,
    /// `/quorum`: as [`Check::Replica`], and a quorum standby (`synchronous_mode: quorum`).
    Quorum,
    /// `/read-only-quorum`: the primary, or as [`Check::Quorum`].
    ReadOnlyQuorum,
    /// Any other path: 503.
    Other,
}

impl Check {
    /// The check a request path (without its query) asks for; `/` is `/primary`.
    pub fn from_path(path: &str) -> Check {
        let path = if path == "/" { "/primary" } else { path };
        let has = |s: &str| path.contains(s);
        if has("standby_leader") || has("standby-leader") {
            Check::StandbyLeader
        } else if has("leader") {
            Check::Leader
        } else if has("master") || has("primary") || has("read-write") {
            Check::Primary
        } else if has("replica") {
            Check::Replica
        } else if has("read-only") && !has("sync") && !has("quorum") {
            Check::ReadOnly
        } else if has("health") {
            Check::Health
        } else {
            match path {
                "/sync" | "/synchronous" => Check::Sync,
                "/async" | "/asynchronous" => Check::Async,
                "/read-only-sync" | "/read-only-synchronous" => Check::ReadOnlySync,
                "/quorum" => Check::Quorum,
                "/read-only-quorum" => Check::ReadOnlyQuorum,
                _ => Check::Other,
            }
        }
    }

    /// The leader checks answer whatever the `tag_*` parameters ask.
    fn ignores_tags(self) -> bool {
        matches!(self, Check::StandbyLeader | Check::Leader | Check::Primary)
    }
}

/// What the health rules read of this member, as of the last HA cycle.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// Holds the leader lock now (the in-memory lease expiry, Patroni's `Ha.is_leader()`; not
    /// `pg_is_in_recovery()`, so a member still promoting already answers `/primary`).
    pub holds_lock: bool,
    /// `standby_cluster` is set: the lock holder is a standby leader, never the primary.
    pub standby_cluster: bool,
    /// The role `/patroni` shows: [`Role::Primary`] for a running server out of recovery,
    /// [`Role::Replica`] for one in recovery.
    pub role: Role,
    /// The member state is `running`.
    pub running: bool,
    /// The view of etcd is usable: the last cycle read it, or it was read within the last `ttl`
    /// (Patroni's `dcs.cluster` is set).
    /// Without it the synchronous and quorum checks answer 503, and in maintenance mode the
    /// leader checks go by the server's role instead of the lock.
    pub dcs: bool,
    /// Maintenance mode (`pause`).
    pub paused: bool,
    /// `/patroni`'s `sync_standby` ([`sync_flags`]).
    pub sync_standby: bool,
    /// `/patroni`'s `quorum_standby` ([`sync_flags`]).
    pub quorum_standby: bool,
    /// The `noloadbalance` tag.
    pub noloadbalance: bool,
    /// The leader's WAL position, bytes: the larger of `/status`'s `optime` (while
    /// [`Facts::dcs`]) and the WAL receiver's `latest_end_lsn`; 0 when neither is known (then
    /// nothing counts as lagging).
    pub leader_optime: u64,
    /// `xlog.replayed_location`, bytes (0 on a primary).
    pub replayed: u64,
    /// `/patroni`'s `replication_state` (`streaming`, `in archive recovery`), if any.
    pub replication_state: Option<&'a str>,
    /// The tags as `/patroni` shows them (boolean tags only when true).
    pub tags: &'a Map<String, Value>,
}

/// The query parameters the health checks read. Python's `parse_qs`: a name given several
/// times counts with its first value, and a blank value counts as not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    /// `lag`: most bytes of replay lag behind [`Facts::leader_optime`] a standby may have
    /// ([`parse_lag`]); `None` (absent or unreadable) is no limit.
    pub lag: Option<i64>,
    /// `replication_state`: the [`Facts::replication_state`] a standby must have (Patroni's
    /// master branch; 4.1 ignores it).
    pub replication_state: Option<String>,
    /// `tag_<name>=<value>`: (name, value) pairs the member's tags must all match.
    pub tags: Vec<(String, String)>,
}

impl Params {
    /// Reads the decoded query pairs.
    pub fn from_pairs(pairs: &[(String, String)]) -> Params {
        let mut seen: Vec<&str> = Vec::new();
        let mut p = Params::default();
        for (k, v) in pairs {
            if v.is_empty() || seen.contains(&k.as_str()) {
                continue;
            }
            seen.push(k);
            if k == "lag" {
                p.lag = parse_lag(v);
            } else if k == "replication_state" {
                p.replication_state = Some(v.clone());
            } else if let Some(tag) = k.strip_prefix("tag_") {
                p.tags.push((tag.to_string(), v.clone()));
            }
        }
        p
    }
}

/// 200 or 503 for `check` (Patroni 4.1's `do_GET`, used for GET, HEAD and OPTIONS alike):
///
/// - a *replica* is running, in recovery, without `noloadbalance`, not more than `lag` bytes
///   of replay behind the leader's position, and (if asked) in the `replication_state` asked;
/// - the *primary* / *leader* holds the leader lock; but with etcd not usable in maintenance
///   mode, it is the running server out of recovery;
/// - `/read-only` is the primary or a replica; `/health` a running server;
/// - with etcd usable: `/sync` a replica in `/sync`, `/async` a replica not in it,
///   `/read-only-sync` the primary or a replica in `/sync`, and the quorum checks the same over
///   quorum standbys; without it, all of these 503;
/// - then, except for the leader checks, every `tag_<name>=<value>` must equal the tag
///   ([`tags_match`]).
pub fn status(check: Check, f: &Facts<'_>, p: &Params) -> StatusCode {
    if ok(check, f, p) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

fn ok(check: Check, f: &Facts<'_>, p: &Params) -> bool {
    let lagging = p.lag.is_some_and(|max| {
        f.leader_optime > 0
            && i128::from(f.leader_optime) > i128::from(f.replayed) + i128::from(max)
    });
    let wanted_state = p
        .replication_state
        .as_deref()
        .is_none_or(|w| f.replication_state == Some(w));
    let replica =
        !f.noloadbalance && !lagging && f.role == Role::Replica && f.running && wanted_state;
    let lock = if !f.dcs && f.paused {
        f.role == Role::Primary || f.role == Role::StandbyLeader
    } else {
        f.holds_lock
    };
    // In a standby cluster the lock holder is the standby leader (a standby), never the
    // primary; elsewhere the leader is the primary (Patroni's `_write_status_code`).
    let (leader, primary, standby_leader) = if f.standby_cluster {
        let sl = lock && matches!(f.role, Role::Replica | Role::StandbyLeader);
        (lock, false, sl)
    } else {
        (lock, lock, false)
    };
    let answer = match check {
        Check::StandbyLeader => standby_leader,
        Check::Leader => leader,
        Check::Primary => primary,
        Check::Replica => replica,
        Check::ReadOnly => primary || standby_leader || replica,
        Check::Health => f.running,
        _ if !f.dcs => false,
        Check::Sync => f.sync_standby && replica,
        Check::Async => !f.sync_standby && !f.quorum_standby && replica,
        Check::ReadOnlySync => primary || standby_leader || (f.sync_standby && replica),
        Check::Quorum => f.quorum_standby && replica,
        Check::ReadOnlyQuorum => primary || standby_leader || (f.quorum_standby && replica),
        Check::Other => false,
    };
    answer && (check.ignores_tags() || tags_match(f.tags, &p.tags))
}

/// Whether every wanted `(name, value)` equals the member's tag: a tag that is absent (or null)
/// never matches; a string tag must be equal as written (case counts); any other value is
/// compared in Python's text form, lower-cased (`true`, `1`).
pub fn tags_match(tags: &Map<String, Value>, wanted: &[(String, String)]) -> bool {
    wanted.iter().all(|(name, want)| match tags.get(name) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => s == want,
        Some(other) => other.to_string().to_lowercase() == *want,
    })
}

/// `/patroni`'s `(sync_standby, quorum_standby)` for member `name` (Patroni's
/// `get_postgresql_status`): only a server answering in recovery, with synchronous replication
/// requested, and a usable `/sync` (`sync`: `None` when etcd is not usable) whose `leader` is
/// set and whose `sync_standby` list names it (case-insensitively, as PostgreSQL compares
/// `synchronous_standby_names`). Which flag: `quorum_standby` when `synchronous_mode` is
/// `quorum` (its voters, [`crate::ha::quorum`]), else `sync_standby`.
pub fn sync_flags(
    name: &str,
    in_recovery: bool,
    synchronous: bool,
    quorum: bool,
    sync: Option<&SyncState>,
) -> (bool, bool) {
    let listed = sync.is_some_and(|s| {
        s.leader.as_deref().is_some_and(|l| !l.is_empty())
            && s.members()
                .iter()
                .any(|m| m.to_lowercase() == name.to_lowercase())
    });
    let member = in_recovery && synchronous && listed;
    (member && !quorum, member && quorum)
}

/// Patroni's `lag` parameter (`parse_int(value, 'B')`): an integer (decimal, `0x` hex or
/// leading-`0` octal, signed) or a decimal number, optionally followed by a unit `B`, `kB`,
/// `MB`, `GB` or `TB` (1024-based, case-sensitive); a fraction is rounded to the next smaller
/// unit, halves to even. `None` for anything else, which the health checks treat as no limit.
pub fn parse_lag(s: &str) -> Option<i64> {
    let s = s.trim();
    let (mut int, mut rest) = match strtol(s) {
        Some((v, rest)) => (Some(v), rest),
        None => (None, s),
    };
    let mut float = None;
    if (int.is_none() && rest.starts_with('.')) || rest.starts_with(['.', 'e', 'E']) {
        (int, float, rest) = match strtod(s) {
            Some((v, r)) => (None, Some(v), r),
            None => (None, None, s),
        };
        float?;
    }
    let unit = rest.trim();
    let value: f64 = match (int, float) {
        (Some(i), _) if unit.is_empty() => return Some(clamp(i)),
        (_, Some(f)) if unit.is_empty() => return Some(clamp(f.round_ties_even() as i128)),
        (Some(i), _) => i as f64,
        (_, Some(f)) => f,
        (None, None) => return None,
    };
    // (unit, bytes, bytes of the next smaller unit that a fraction rounds to)
    const UNITS: [(&str, f64, Option<f64>); 5] = [
        ("TB", 1_099_511_627_776.0, Some(1_073_741_824.0)),
        ("GB", 1_073_741_824.0, Some(1_048_576.0)),
        ("MB", 1_048_576.0, Some(1024.0)),
        ("kB", 1024.0, Some(1.0)),
        ("B", 1.0, None),
    ];
    let (_, bytes, round_to) = UNITS.iter().find(|u| u.0 == unit)?;
    let v = value * bytes;
    let v = match round_to {
        Some(m) => (v / m).round_ties_even() * m,
        None => v,
    };
    Some(clamp(v.round_ties_even() as i128))
}

fn clamp(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// C's `strtol` with base 0, as Patroni's `strtol`: `[+-]` then `0x` + hex digits, or `0` +
/// octal digits, or decimal digits; the value and what follows. Saturates past `i128`.
fn strtol(s: &str) -> Option<(i128, &str)> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits = |t: &str, radix: u32| t.chars().take_while(|c| c.is_digit(radix)).count();
    let (radix, text, rest) = match body.strip_prefix("0x") {
        Some(hex) if digits(hex, 16) > 0 => (16, hex, &hex[digits(hex, 16)..]),
        _ => match body.strip_prefix('0') {
            Some(oct) => (8, body, &oct[digits(oct, 8)..]),
            None => (10, body, &body[digits(body, 10)..]),
        },
    };
    let text = &text[..text.len() - rest.len()];
    if text.is_empty() {
        return None;
    }
    let v = text.chars().fold(0i128, |acc, c| {
        acc.saturating_mul(i128::from(radix))
            .saturating_add(i128::from(c.to_digit(radix).unwrap_or(0)))
    });
    Some((if neg { -v } else { v }, rest))
}

/// C's `strtod` as Patroni's `strtod` reads it: `[+-]?[0-9]*\.?[0-9]+([eE][+-]?[0-9]+)?`; the
/// value and what follows.
fn strtod(s: &str) -> Option<(f64, &str)> {
    let b = s.as_bytes();
    let count = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int_digits = count(i);
    let frac_digits = if b.get(i + int_digits) == Some(&b'.') {
        count(i + int_digits + 1)
    } else {
        0
    };
    if frac_digits > 0 {
        i += int_digits + 1 + frac_digits;
    } else if int_digits > 0 {
        i += int_digits;
    } else {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
        let exp = count(i + 1 + sign);
        if exp > 0 {
            i += 1 + sign + exp;
        }
    }
    Some((s[..i].parse().ok()?, &s[i..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_ask_what_patroni_matches() {
        for (path, check) in [
            ("/", Check::Primary),
            ("/primary", Check::Primary),
            ("/master", Check::Primary),
            ("/read-write", Check::Primary),
            ("/leader", Check::Leader),
            ("/standby-leader", Check::StandbyLeader),
            ("/standby_leader", Check::StandbyLeader),
            ("/replica", Check::Replica),
            ("/replica/zone-a", Check::Replica),
            ("/read-only", Check::ReadOnly),
            ("/health", Check::Health),
            ("/sync", Check::Sync),
            ("/synchronous", Check::Sync),
            ("/async", Check::Async),
            ("/asynchronous", Check::Async),
            ("/read-only-sync", Check::ReadOnlySync),
            ("/read-only-synchronous", Check::ReadOnlySync),
            ("/quorum", Check::Quorum),
            ("/read-only-quorum", Check::ReadOnlyQuorum),
            ("/sync/", Check::Other),
            ("/no-such-check", Check::Other),
        ] {
            assert_eq!(Check::from_path(path), check, "{path}");
        }
    }

    #[test]
    fn lag_is_read_as_patroni_reads_it() {
        for (text, bytes) in [
            ("1024", Some(1024)),
            (" 1024 ", Some(1024)),
            ("16kB", Some(16384)),
            ("64MB", Some(64 << 20)),
            ("1GB", Some(1 << 30)),
            ("1TB", Some(1 << 40)),
            ("10 MB", Some(10 << 20)),
            ("0x400", Some(1024)),
            ("010", Some(8)),
            ("1.5kB", Some(1536)),
            ("0.5MB", Some(512 << 10)),
            (".5MB", Some(512 << 10)),
            ("1e3", Some(1000)),
            ("2.5", Some(2)),
            ("1.0001GB", Some(1 << 30)),
            ("-1", Some(-1)),
            ("16KB", None),
            ("16kb", None),
            ("1k", None),
            ("1M", None),
            ("1.", None),
            ("x", None),
            ("", None),
        ] {
            assert_eq!(parse_lag(text), bytes, "{text:?}");
        }
    }

    #[test]
    fn query_pairs_count_once_and_not_blank() {
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let p = Params::from_pairs(&pairs(&[
            ("lag", ""),
            ("lag", "1kB"),
            ("lag", "2kB"),
            ("tag_zone", "a"),
            ("tag_zone", "b"),
            ("tag_rack", ""),
            ("replication_state", "streaming"),
            ("other", "x"),
        ]));
        assert_eq!(p.lag, Some(1024));
        assert_eq!(p.tags, vec![("zone".to_string(), "a".to_string())]);
        assert_eq!(p.replication_state.as_deref(), Some("streaming"));
        assert_eq!(Params::from_pairs(&pairs(&[("lag", "soon")])).lag, None);
    }

    #[test]
    fn sync_membership_follows_the_sync_key() {
        let key = |leader: Option<&str>, standbys: Option<&str>| SyncState {
            leader: leader.map(String::from),
            sync_standby: standbys.map(String::from),
            quorum: None,
        };
        let listed = key(Some("m1"), Some("m2, M3"));
        // (name, in recovery, synchronous, quorum, key) → (sync_standby, quorum_standby)
        for (name, rec, sync, quorum, k, want) in [
            ("m2", true, true, false, Some(&listed), (true, false)),
            ("m3", true, true, false, Some(&listed), (true, false)),
            ("m4", true, true, false, Some(&listed), (false, false)),
            ("m1", false, true, false, Some(&listed), (false, false)),
            ("m1", true, true, false, Some(&listed), (false, false)),
            ("m2", false, true, false, Some(&listed), (false, false)),
            ("m2", true, false, false, Some(&listed), (false, false)),
            ("m2", true, true, false, None, (false, false)),
            ("m2", true, true, true, Some(&listed), (false, true)),
        ] {
            assert_eq!(sync_flags(name, rec, sync, quorum, k), want, "{name}");
        }
        let no_leader = key(None, Some("m2"));
        assert_eq!(
            sync_flags("m2", true, true, false, Some(&no_leader)),
            (false, false)
        );
    }

    #[derive(Clone, Copy)]
    enum Node {
        Primary,
        SyncStandby,
        AsyncStandby,
        StoppedReplica,
        LaggingReplica,
        NoLoadBalance,
        NoFailover,
    }

    fn facts(node: Node, tags: &Map<String, Value>) -> Facts<'_> {
        let replica = Facts {
            holds_lock: false,
            standby_cluster: false,
            role: Role::Replica,
            running: true,
            dcs: true,
            paused: false,
            sync_standby: false,
            quorum_standby: false,
            noloadbalance: false,
            leader_optime: 10 << 20,
            replayed: 10 << 20,
            replication_state: Some("streaming"),
            tags,
        };
        match node {
            Node::Primary => Facts {
                holds_lock: true,
                standby_cluster: false,
                role: Role::Primary,
                replayed: 0,
                replication_state: None,
                ..replica
            },
            Node::SyncStandby => Facts {
                sync_standby: true,
                ..replica
            },
            Node::AsyncStandby | Node::NoFailover => replica,
            Node::StoppedReplica => Facts {
                running: false,
                replayed: 0,
                replication_state: None,
                ..replica
            },
            Node::LaggingReplica => Facts {
                replayed: 2 << 20,
                ..replica
            },
            Node::NoLoadBalance => Facts {
                noloadbalance: true,
                ..replica
            },
        }
    }

    fn tags_of(node: Node) -> Map<String, Value> {
        let mut m = Map::new();
        match node {
            Node::NoLoadBalance => {
                m.insert("noloadbalance".into(), Value::Bool(true));
            }
            Node::NoFailover => {
                m.insert("nofailover".into(), Value::Bool(true));
            }
            _ => {}
        }
        m.insert("zone".into(), Value::String("a".into()));
        m
    }

    /// One row per member kind, one column per check, with `?lag=1MB`: Patroni 4.1's answers.
    #[test]
    fn checks_answer_as_patroni_per_member() {
        use Check::*;
        let checks = [
            Primary,
            Leader,
            StandbyLeader,
            Replica,
            ReadOnly,
            Health,
            Sync,
            Async,
            ReadOnlySync,
            Quorum,
            ReadOnlyQuorum,
            Other,
        ];
        let lag = Params {
            lag: Some(1 << 20),
            ..Params::default()
        };
        #[rustfmt::skip]
        let table: [(Node, [u16; 12]); 7] = [
            //                      prim lead sbl  repl ro   hlth sync asyn rosy quor roq  other
            (Node::Primary,        [200, 200, 503, 503, 200, 200, 503, 503, 200, 503, 200, 503]),
            (Node::SyncStandby,    [503, 503, 503, 200, 200, 200, 200, 503, 200, 503, 503, 503]),
            (Node::AsyncStandby,   [503, 503, 503, 200, 200, 200, 503, 200, 503, 503, 503, 503]),
            (Node::StoppedReplica, [503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503]),
            (Node::LaggingReplica, [503, 503, 503, 503, 503, 200, 503, 503, 503, 503, 503, 503]),
            (Node::NoLoadBalance,  [503, 503, 503, 503, 503, 200, 503, 503, 503, 503, 503, 503]),
            (Node::NoFailover,     [503, 503, 503, 200, 200, 200, 503, 200, 503, 503, 503, 503]),
        ];
        for (node, row) in table {
            let tags = tags_of(node);
            let f = facts(node, &tags);
            for (check, want) in checks.iter().zip(row) {
                assert_eq!(
                    status(*check, &f, &lag).as_u16(),
                    want,
                    "{check:?} on {f:?}"
                );
            }
        }
    }

    #[test]
    fn without_a_lag_limit_a_lagging_replica_serves() {
        let tags = Map::new();
        let f = facts(Node::LaggingReplica, &tags);
        assert_eq!(
            status(Check::Replica, &f, &Params::default()),
            StatusCode::OK
        );
        let unreadable = Params::from_pairs(&[("lag".into(), "1 parsec".into())]);
        assert_eq!(status(Check::Async, &f, &unreadable), StatusCode::OK);
        // Nothing known of the leader's position: nothing lags.
        let f = Facts {
            leader_optime: 0,
            ..f
        };
        let tight = Params {
            lag: Some(0),
            ..Params::default()
        };
        assert_eq!(status(Check::Replica, &f, &tight), StatusCode::OK);
    }

    /// Tags: leader checks ignore them; others need every asked tag present and equal.
    #[test]
    fn tag_parameters() {
        use Check::*;
        let q = |k: &str, v: &str| Params {
            tags: vec![(k.to_string(), v.to_string())],
            ..Params::default()
        };
        // (member, check, tag, value asked, status)
        for (node, check, tag, value, want) in [
            (Node::Primary, Primary, "zone", "b", 200),
            (Node::Primary, Leader, "missing", "x", 200),
            (Node::Primary, ReadOnly, "zone", "b", 503),
            (Node::Primary, ReadOnlySync, "zone", "a", 200),
            (Node::Primary, Health, "zone", "b", 503),
            (Node::AsyncStandby, Replica, "zone", "a", 200),
            (Node::AsyncStandby, Replica, "zone", "A", 503),
            (Node::AsyncStandby, Async, "zone", "b", 503),
            (Node::SyncStandby, Sync, "zone", "a", 200),
            (Node::NoFailover, Replica, "nofailover", "true", 200),
            (Node::NoFailover, Replica, "nofailover", "True", 503),
            (Node::AsyncStandby, Replica, "nofailover", "false", 503),
            (Node::AsyncStandby, Replica, "nofailover", "true", 503),
        ] {
            let tags = tags_of(node);
            let f = facts(node, &tags);
            assert_eq!(
                status(check, &f, &q(tag, value)).as_u16(),
                want,
                "{check:?} tag_{tag}={value}"
            );
        }
    }

    #[test]
    fn replication_state_parameter() {
        let tags = Map::new();
        let want = |s: &str| Params {
            replication_state: Some(s.to_string()),
            ..Params::default()
        };
        let streaming = facts(Node::AsyncStandby, &tags);
        let archive = Facts {
            replication_state: Some("in archive recovery"),
            ..streaming.clone()
        };
        assert_eq!(
            status(Check::Async, &streaming, &want("streaming")),
            StatusCode::OK
        );
        assert_eq!(
            status(Check::Replica, &archive, &want("streaming")),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(Check::Replica, &archive, &want("in archive recovery")),
            StatusCode::OK
        );
    }

    /// etcd not usable: the synchronous checks 503; in maintenance mode the leader checks go by
    /// the server's role rather than the lock.
    #[test]
    fn without_etcd() {
        let tags = Map::new();
        let none = Params::default();
        let sync = Facts {
            dcs: false,
            ..facts(Node::SyncStandby, &tags)
        };
        for check in [Check::Sync, Check::Async, Check::ReadOnlySync] {
            assert_eq!(status(check, &sync, &none).as_u16(), 503, "{check:?}");
        }
        assert_eq!(status(Check::Replica, &sync, &none).as_u16(), 200);
        let primary_without_lock = Facts {
            dcs: false,
            holds_lock: false,
            standby_cluster: false,
            ..facts(Node::Primary, &tags)
        };
        assert_eq!(
            status(Check::Primary, &primary_without_lock, &none).as_u16(),
            503
        );
        let paused = Facts {
            paused: true,
            ..primary_without_lock
        };
        for (check, want) in [
            (Check::Primary, 200),
            (Check::Leader, 200),
            (Check::ReadOnly, 200),
            (Check::ReadOnlySync, 503),
            (Check::StandbyLeader, 503),
        ] {
            assert_eq!(status(check, &paused, &none).as_u16(), want, "{check:?}");
        }
        // With etcd, maintenance mode changes nothing: the lock decides.
        let paused_with_etcd = Facts {
            dcs: true,
            ..paused
        };
        assert_eq!(
            status(Check::Primary, &paused_with_etcd, &none).as_u16(),
            503
        );
    }

    /// Patroni's standby cluster: the lock holder answers /standby-leader and /leader, never
    /// /primary or /replica; its replicas answer /replica.
    #[test]
    fn a_standby_leader_is_no_primary() {
        let tags = Map::new();
        let none = Params::default();
        let sl = Facts {
            standby_cluster: true,
            role: Role::StandbyLeader,
            ..facts(Node::Primary, &tags)
        };
        for (check, want) in [
            (Check::StandbyLeader, 200),
            (Check::Leader, 200),
            (Check::Primary, 503),
            (Check::Replica, 503),
            (Check::ReadOnly, 200),
        ] {
            assert_eq!(status(check, &sl, &none).as_u16(), want, "{check:?}");
        }
        let replica = Facts {
            standby_cluster: true,
            ..facts(Node::AsyncStandby, &tags)
        };
        for (check, want) in [
            (Check::StandbyLeader, 503),
            (Check::Primary, 503),
            (Check::Replica, 200),
        ] {
            assert_eq!(status(check, &replica, &none).as_u16(), want, "{check:?}");
        }
    }

    #[test]
    fn quorum_standby_answers_the_quorum_checks() {
        let tags = Map::new();
        let none = Params::default();
        let q = Facts {
            quorum_standby: true,
            ..facts(Node::AsyncStandby, &tags)
        };
        for (check, want) in [
            (Check::Quorum, 200),
            (Check::ReadOnlyQuorum, 200),
            (Check::Sync, 503),
            (Check::Async, 503),
            (Check::ReadOnlySync, 503),
        ] {
            assert_eq!(status(check, &q, &none).as_u16(), want, "{check:?}");
        }
    }
}
