//! Quorum commit (`synchronous_mode: quorum`, Patroni 4.0): the primary keeps
//! `synchronous_standby_names = 'ANY num (members)'` and the `/sync` key
//! `{leader, sync_standby: "voters", quorum}` so that whoever wins a leader race has every commit
//! a client saw acknowledged.
//!
//! # The guarantee
//! A commit is acknowledged once the primary and `num` of the GUC's `members` have flushed it. A
//! member that is not the primary takes the leader key only after `quorum + 1` voters (itself
//! included when it is one) answered with a WAL position no further than its own
//! ([`race_votes`]). So the primary's two writes are safe exactly when every `quorum + 1` voters
//! include one that holds each acknowledged commit:
//!
//! - commits acknowledged under the current GUC: at most `quorum` voters can be outside any `num`
//!   acknowledging members ([`guc_change_safe`]);
//! - commits acknowledged before the GUC last changed: they are on every *confirmed* member (one
//!   whose flush position reached the primary's at that change, Patroni's `sync_confirmed`), or
//!   the old `/sync` already covered them and the new one asks at least as much
//!   ([`key_change_safe`]).
//!
//! # The planner
//! [`plan_quorum`] searches the shortest sequence of `/sync` and GUC writes from the current state
//! to the target (voters = members = the active standbys, `num = min(synchronous_node_count,
//! active)`, `quorum = active - num`), every write checked against the state it leaves
//! (Patroni's `QuorumStateResolver` rule: an increase first, a decrease last). It returns the
//! writes up to and including the first GUC change; what follows needs the members'
//! confirmation, which the next cycle sees.

use std::collections::{HashSet, VecDeque};

use crate::config::Tags;
use crate::types::{Lsn, ReplicationRow};

pub use crate::types::{Names, QuorumGuc};

/// The `/sync` key in quorum terms (without its `leader`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct QuorumKey {
    /// `sync_standby`: the members a leader race counts votes from.
    pub voters: Names,
    /// `quorum`: a race needs `quorum + 1` voters not ahead of the candidate.
    pub quorum: usize,
}

/// `synchronous_standby_names` as PostgreSQL's grammar reads it, in quorum terms: `ANY k (…)`,
/// `FIRST k (…)` / `k (…)` and a bare list (`a, b` is `FIRST 1`) are all "k of these members"
/// (whichever k acknowledge, the planner assumes the worst), `*` is any standby (members empty).
/// The second value says whether it is the `ANY` form PostgreSQL reports as `quorum` in
/// `pg_stat_replication` (members confirm only under it). `None` for text that does not parse.
pub fn parse_guc(text: &str) -> Option<(QuorumGuc, bool)> {
    let t = text.trim();
    if t.is_empty() {
        return Some((QuorumGuc::default(), false));
    }
    let (any, rest) = match t.split_once(|c: char| c.is_whitespace()) {
        Some((w, r)) if w.eq_ignore_ascii_case("any") => (true, r.trim_start()),
        Some((w, r)) if w.eq_ignore_ascii_case("first") => (false, r.trim_start()),
        _ => (false, t),
    };
    let (num, list) = match rest.find('(') {
        Some(open) if rest.ends_with(')') => {
            let n: usize = rest[..open].trim().parse().ok()?;
            (n, &rest[open + 1..rest.len() - 1])
        }
        _ if any => return None,
        _ => (1, rest),
    };
    let mut members = Names::new();
    let mut star = false;
    for item in split_names(list)? {
        if item == "*" {
            star = true;
        } else {
            members.insert(item);
        }
    }
    if star {
        members.clear();
    }
    Some((
        QuorumGuc {
            members,
            num: num.max(1),
        },
        any,
    ))
}

/// The names of a `synchronous_standby_names` list: comma-separated, each bare (lower-cased, as
/// PostgreSQL folds identifiers) or double-quoted with `""` for a quote.
fn split_names(list: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = list.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut name = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        name.push('"');
                    }
                    '"' => break,
                    c => name.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    break;
                }
                name.push(c.to_ascii_lowercase());
                chars.next();
            }
        }
        if name.is_empty() {
            return None;
        }
        out.push(name);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => return Some(out),
            Some(',') => {}
            Some(_) => return None,
        }
    }
}

/// One write of a quorum plan, carried out in order; a failed write ends the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuorumStep {
    /// Let the GUC members that stream confirm first (searched, never returned: the plan ends
    /// before it).
    Wait,
    /// Write `/sync` as `{leader: me, sync_standby: voters, quorum}` (compare-and-set on the
    /// revision read).
    Key(QuorumKey),
    /// Set `synchronous_standby_names` and reload; the positions confirmed so far no longer count.
    Guc(QuorumGuc),
}

/// The most voters that may lack a commit acknowledged under `guc` (the primary has every commit
/// and is never a voter).
fn may_lack(key: &QuorumKey, guc: &QuorumGuc) -> usize {
    if guc.num == 0 || guc.members.is_empty() {
        // Acknowledged by the primary alone, or (`ANY 1 (*)`) by any standby at all.
        return key.voters.len();
    }
    if guc.num > guc.members.len() {
        // Nothing can be acknowledged.
        return 0;
    }
    let outside = guc.members.difference(&key.voters).count();
    key.voters.len() - guc.num.saturating_sub(outside)
}

/// Whether setting the GUC to `new` keeps every commit it acknowledges visible to any
/// `quorum + 1` voters of `key`.
pub fn guc_change_safe(key: &QuorumKey, new: &QuorumGuc) -> bool {
    may_lack(key, new) <= key.quorum
}

/// Whether replacing `/sync` `old` by `new` keeps every acknowledged commit visible to any
/// `new.quorum + 1` of `new.voters`: those acknowledged under the current `guc`, and those
/// acknowledged before it, which every `confirmed` member holds — or which `old` covered, when
/// every `new.quorum + 1` of the new voters include `old.quorum + 1` of the old ones.
pub fn key_change_safe(
    old: &QuorumKey,
    new: &QuorumKey,
    guc: &QuorumGuc,
    confirmed: &Names,
) -> bool {
    let unconfirmed = new.voters.difference(confirmed).count();
    let added = new.voters.difference(&old.voters).count();
    may_lack(new, guc) <= new.quorum
        && (unconfirmed <= new.quorum || new.quorum >= old.quorum + added)
}

/// The state the planner moves to: every active standby a voter and a GUC member, `num` the
/// wanted count (`synchronous_node_count`, at least 1) bounded by how many there are, `quorum`
/// the rest. With none: `/sync` names nobody, and the GUC is empty, or `ANY 1 (*)` when
/// `strict` (`synchronous_mode_strict`).
pub fn target(active: &Names, wanted: usize, strict: bool) -> (QuorumKey, QuorumGuc) {
    if active.is_empty() {
        return (
            QuorumKey::default(),
            QuorumGuc {
                members: Names::new(),
                num: usize::from(strict),
            },
        );
    }
    let num = wanted.max(1).min(active.len());
    (
        QuorumKey {
            voters: active.clone(),
            quorum: active.len() - num,
        },
        QuorumGuc {
            members: active.clone(),
            num,
        },
    )
}

/// What [`plan_quorum`] works from.
#[derive(Debug, Clone)]
pub struct QuorumFacts<'a> {
    /// `/sync` as read (voters and quorum), already this primary's ([`claim_key`]).
    pub key: &'a QuorumKey,
    /// `synchronous_standby_names` in force.
    pub guc: &'a QuorumGuc,
    /// GUC members whose flush position reached the primary's at the last GUC change
    /// ([`confirmed_members`]).
    pub confirmed: &'a Names,
    /// Standbys that should take part ([`active_members`]).
    pub active: &'a Names,
    /// `synchronous_node_count`.
    pub wanted: usize,
    /// `synchronous_mode_strict`.
    pub strict: bool,
}

/// The searched state: `/sync`, GUC, and who counts as confirmed.
#[derive(Clone, PartialEq, Eq, Hash)]
struct State {
    key: QuorumKey,
    guc: QuorumGuc,
    confirmed: Names,
}

/// The writes that take this primary from `f`'s state towards [`target`], each safe in the state
/// the previous ones leave ([`key_change_safe`], [`guc_change_safe`]), ending with the first GUC
/// change (members must confirm before `/sync` can count on them). Empty when the target is
/// reached. Intermediate GUCs never ask more acknowledgements than there are active members,
/// unless `strict`.
pub fn plan_quorum(f: &QuorumFacts) -> Vec<QuorumStep> {
    let (goal_key, goal_guc) = target(f.active, f.wanted, f.strict);
    let start = State {
        key: f.key.clone(),
        guc: f.guc.clone(),
        confirmed: f.confirmed.clone(),
    };
    if start.key == goal_key && start.guc == goal_guc {
        return Vec::new();
    }
    // Breadth-first over the writes: the shortest safe sequence. Four writes always suffice
    // (`/sync` naming nobody is safe from anywhere, then any GUC, then the target's `/sync` once
    // its members confirmed), so the search is bounded.
    let mut seen: HashSet<State> = HashSet::from([start.clone()]);
    let mut queue: VecDeque<(State, Vec<QuorumStep>)> = VecDeque::from([(start, Vec::new())]);
    while let Some((state, path)) = queue.pop_front() {
        if path.len() >= 4 {
            continue;
        }
        for (step, next) in moves(&state, f, &goal_key, &goal_guc) {
            if !seen.insert(next.clone()) {
                continue;
            }
            let mut p = path.clone();
            p.push(step);
            if next.key == goal_key && next.guc == goal_guc {
                return until_first_guc(p);
            }
            queue.push_back((next, p));
        }
    }
    // Unreachable by the argument above; doing nothing is safe.
    Vec::new()
}

/// The plan's prefix up to and including its first GUC change, or up to its first wait.
fn until_first_guc(path: Vec<QuorumStep>) -> Vec<QuorumStep> {
    let cut = path
        .iter()
        .position(|s| matches!(s, QuorumStep::Guc(_) | QuorumStep::Wait))
        .map_or(path.len(), |i| {
            i + usize::from(matches!(path[i], QuorumStep::Guc(_)))
        });
    path.into_iter().take(cut).collect()
}

/// The safe single writes from `s`: `/sync` or the GUC set to the goal, to the current set with
/// gone members removed, to the union with the goal, or to nobody, with every count in range.
fn moves(
    s: &State,
    f: &QuorumFacts,
    goal_key: &QuorumKey,
    goal_guc: &QuorumGuc,
) -> Vec<(QuorumStep, State)> {
    let active = f.active;
    let mut out = Vec::new();
    // Waiting is a move too: GUC members that stream will confirm (preferred to writing the
    // same GUC again, which would only start their confirmation over).
    let streaming: Names = s.guc.members.intersection(active).cloned().collect();
    if !streaming.is_subset(&s.confirmed) {
        let next = State {
            confirmed: s.confirmed.union(&streaming).cloned().collect(),
            ..s.clone()
        };
        out.push((QuorumStep::Wait, next));
    }
    let sets = |cur: &Names, goal: &Names| -> Vec<Names> {
        let mut v: Vec<Names> = vec![
            goal.clone(),
            cur.intersection(active).cloned().collect(),
            cur.clone(),
            cur.union(goal).cloned().collect(),
            Names::new(),
        ];
        let mut seen = Vec::new();
        v.retain(|x| {
            let new = !seen.contains(x);
            seen.push(x.clone());
            new
        });
        v
    };
    // `/sync` writes, the goal's quorum first.
    for voters in sets(&s.key.voters, &goal_key.voters) {
        let mut quorums: Vec<usize> = (0..voters.len().max(1)).collect();
        quorums.sort_by_key(|q| (*q != goal_key.quorum, *q));
        for quorum in quorums {
            let key = QuorumKey {
                voters: voters.clone(),
                quorum,
            };
            if key != s.key && key_change_safe(&s.key, &key, &s.guc, &s.confirmed) {
                let next = State {
                    key: key.clone(),
                    ..s.clone()
                };
                out.push((QuorumStep::Key(key), next));
            }
        }
    }
    // GUC writes, the goal's count first.
    for members in sets(&s.guc.members, &goal_guc.members) {
        let live = members.intersection(active).count();
        let nums: Vec<usize> = if members.is_empty() {
            if f.strict {
                vec![1]
            } else {
                vec![0]
            }
        } else {
            let top = if f.strict { members.len() } else { live };
            let mut n: Vec<usize> = (1..=top).collect();
            n.sort_by_key(|x| (*x != goal_guc.num, *x));
            n
        };
        for num in nums {
            let guc = QuorumGuc {
                members: members.clone(),
                num,
            };
            if guc != s.guc && guc_change_safe(&s.key, &guc) {
                // After the change, assume its active members confirm (they stream); the
                // runtime stops at this write and plans again with what they really did.
                let next = State {
                    guc: guc.clone(),
                    confirmed: members.intersection(active).cloned().collect(),
                    ..s.clone()
                };
                out.push((QuorumStep::Guc(guc), next));
            }
        }
    }
    out
}

/// The `/sync` key in quorum terms when it is active (names a leader): `(leader, key)`.
pub fn active_key(sync: Option<&crate::dcs::SyncState>) -> Option<(String, QuorumKey)> {
    let s = sync?;
    let leader = s.leader.as_deref().filter(|l| !l.is_empty())?;
    Some((
        leader.to_string(),
        QuorumKey {
            voters: s.members().into_iter().collect(),
            quorum: s.quorum(),
        },
    ))
}

/// `/sync` for a member that has just become the primary: the voters of the previous primary's
/// key without itself, the quorum kept (every new quorum of them is an old quorum, and the GUC
/// set before the promotion, [`pre_promote_guc`], makes its own commits visible to them). `None`
/// when `/sync` is missing, names no leader, or already names `me`: then the caller writes
/// `QuorumKey::default()` (nobody may take over until the planner adds voters) or keeps it.
pub fn claim_key(me: &str, leader: Option<&str>, key: &QuorumKey) -> Option<QuorumKey> {
    match leader {
        Some(l) if !l.is_empty() && l != me => {
            let mut voters = key.voters.clone();
            voters.remove(me);
            Some(QuorumKey {
                voters,
                quorum: key.quorum,
            })
        }
        _ => None,
    }
}

/// The `/sync` a primary writes when `/sync` is not its own yet (`previous`: the active key's
/// leader and voters, if any): [`claim_key`] when the GUC it runs with (`guc`, set before the
/// promotion by [`pre_promote_guc`]) keeps it safe, else nobody as voters until the planner adds
/// them.
pub fn claim(me: &str, previous: Option<(&str, &QuorumKey)>, guc: &QuorumGuc) -> QuorumKey {
    previous
        .and_then(|(l, k)| claim_key(me, Some(l), k))
        .filter(|k| guc_change_safe(k, guc))
        .unwrap_or_default()
}

/// `synchronous_standby_names` a member sets just before it promotes in quorum mode (Patroni's
/// `process_sync_replication_prepromote`): the other voters of the active `/sync`, of whom
/// `voters - quorum - 1` (one more when it is not a voter itself) must acknowledge, so that the
/// `/sync` it writes next ([`claim_key`]) is safe from its first commit. `None` without an
/// active `/sync`: then the GUC starts empty (`ANY 1 (*)` when `strict`).
pub fn pre_promote_guc(me: &str, key: Option<&QuorumKey>, strict: bool) -> QuorumGuc {
    let Some(key) = key else {
        return QuorumGuc {
            members: Names::new(),
            num: usize::from(strict),
        };
    };
    let voter = key.voters.contains(me);
    let mut members = key.voters.clone();
    members.remove(me);
    let num = (key.voters.len() + usize::from(!voter)).saturating_sub(key.quorum + 1);
    let num = num.min(members.len());
    if num == 0 {
        return QuorumGuc {
            members: Names::new(),
            num: usize::from(strict),
        };
    }
    QuorumGuc { members, num }
}

/// GUC members confirmed after the last GUC change: those confirmed before, and those whose
/// `flush_lsn` in `pg_stat_replication` reached `since` (the primary's flush position when the
/// change took effect) with `sync_state` `quorum` (Patroni's `_process_replica_readiness`).
pub fn confirmed_members(
    before: &Names,
    guc: &QuorumGuc,
    rows: &[ReplicationRow],
    since: Lsn,
) -> Names {
    guc.members
        .iter()
        .filter(|m| {
            before.contains(*m)
                || rows.iter().any(|r| {
                    r.name == **m
                        && r.flush_lsn >= since
                        && r.sync_state.eq_ignore_ascii_case("quorum")
                })
        })
        .cloned()
        .collect()
}

/// The standbys that take part in quorum commit (Patroni's `_ReplicaList` in quorum mode):
/// streaming from this primary, with a member key (`tags` answers), not tagged `nosync` nor
/// `sync_priority: 0`. Members tagged `nofailover` only while fewer than `wanted` others stream
/// (they cannot be promoted, so they would only make the quorum bigger).
pub fn active_members(
    rows: &[ReplicationRow],
    tags: &dyn Fn(&str) -> Option<Tags>,
    wanted: usize,
) -> Names {
    let mut eligible: Vec<(bool, String)> = rows
        .iter()
        .filter(|r| r.state == "streaming")
        .filter_map(|r| {
            let t = tags(&r.name)?;
            (!t.excluded_from_sync()).then(|| (!t.can_failover(), r.name.clone()))
        })
        .collect();
    eligible.sort();
    let mut active = Names::new();
    for (nofailover, name) in eligible {
        if !nofailover || active.len() < wanted.max(1) {
            active.insert(name);
        }
    }
    active
}

/// A leader race in quorum mode (Patroni's `_is_healthiest_node` with an active `/sync`): whether
/// `me` has gathered enough votes. `voted` counts the voters (other than `me`) that answered with
/// PostgreSQL running and a WAL position no further than `me`'s; `ahead` whether any polled
/// member other than the former primary is ahead. A voter needs `quorum` such answers besides its
/// own, a non-voter `quorum + 1`; the former primary (the `/sync` leader) wins when nobody is
/// ahead of it.
pub fn race_votes(me: &str, leader: Option<&str>, key: &QuorumKey, voted: usize) -> bool {
    let own = usize::from(key.voters.contains(me));
    own + voted > key.quorum || leader == Some(me)
}

#[cfg(test)]
mod tests;
