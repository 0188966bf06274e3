//! Replication slots, as Patroni 4.1 manages them (`patroni/postgresql/slots.py`,
//! `Cluster.get_replication_slots` in `patroni/dcs/__init__.py`), for PostgreSQL 15:
//!
//! - **member slots** (`postgresql.use_slots`): on the primary, one physical slot per other
//!   member; the slot of a member whose key has gone (it stopped, or its agent could not reach
//!   etcd for longer than its lease) is kept for `member_slots_ttl` before it is dropped, so a
//!   standby coming back finds the WAL it needs and an etcd hiccup drops nothing;
//! - **permanent slots** (`slots`, or Patroni's older `permanent_slots` /
//!   `permanent_replication_slots`): created on the primary, physical ones also on every replica
//!   that may take over (not tagged `nofailover`), where they are moved along with the replay
//!   position, so they exist wherever a failover lands. Logical ones are created on the
//!   primary, which publishes their `confirmed_flush_lsn` in `/status` (`slots`); a replica that
//!   may take over copies each one from the primary once it is published (the slot's state file,
//!   then a restart: Patroni's `copy_logical_slots`) and moves its copy to the published
//!   position, never past its own replay position, so a consumer resumes where it confirmed
//!   after a switchover or failover (`hot_standby_feedback` is turned on for this). A new
//!   primary without a copy creates a missing one afresh. A permanent slot is never dropped;
//! - **ignored slots** (`ignore_slots`): never dropped or advanced, and a permanent slot that
//!   matches is not created;
//! - **other slots** on the primary (no member, not permanent, not ignored): kept while in use
//!   and for `member_slots_ttl` after they were first seen so unused, then dropped. Replicas drop
//!   nothing. In maintenance mode (`pause`) nothing is dropped.
//!
//! Pure: the driver reads `pg_replication_slots` (temporary slots and PostgreSQL 17's failover
//! slots left out), calls [`plan_slots`], and creates, advances and drops what the plan says.

use std::collections::{BTreeMap, BTreeSet};

use super::Snapshot;
use crate::config::dynamic::{SlotClusterType, SlotSpec, SlotType};
use crate::config::DynamicConfig;
use crate::types::{slot_name_for, Lsn};

/// What a slot is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotKind {
    /// Physical.
    Physical,
    /// Logical, decoding `database` with `plugin`.
    Logical {
        /// `database`.
        database: String,
        /// `plugin`.
        plugin: String,
    },
}

impl SlotKind {
    fn slot_type(&self) -> SlotType {
        match self {
            SlotKind::Physical => SlotType::Physical,
            SlotKind::Logical { .. } => SlotType::Logical,
        }
    }

    fn describe(&self) -> String {
        match self {
            SlotKind::Physical => "physical".into(),
            SlotKind::Logical { database, plugin } => {
                format!("logical (database {database}, plugin {plugin})")
            }
        }
    }
}

/// One slot of the server, as read from `pg_replication_slots`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExistingSlot {
    /// `slot_name`.
    pub name: String,
    /// Type, and for a logical slot its database and plugin.
    pub kind: SlotKind,
    /// A session uses it.
    pub active: bool,
    /// `restart_lsn` (none: created without reserving WAL).
    pub restart_lsn: Option<Lsn>,
    /// `wal_status = 'lost'`: WAL it needed was removed; it cannot be used any more.
    pub wal_lost: bool,
    /// `confirmed_flush_lsn` (logical slots).
    pub confirmed_flush: Option<Lsn>,
}

/// What the runtime read from the server just before planning (not the cycle's snapshot: a
/// promotion may have happened in between).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observed {
    /// `pg_is_in_recovery()`: the replica rules apply.
    pub in_recovery: bool,
    /// `pg_last_wal_replay_lsn()`: how far a replica's permanent physical slots are moved.
    pub replay_lsn: Option<Lsn>,
    /// The slots.
    pub slots: Vec<ExistingSlot>,
}

/// A logical slot to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalSlot {
    /// Name.
    pub name: String,
    /// The database it decodes.
    pub database: String,
    /// Its output plugin.
    pub plugin: String,
}

/// What to do with the slots this cycle. Every list is in name order or in the order the slots
/// were read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SlotPlan {
    /// Physical slots to create (reserving WAL at once).
    pub create: Vec<String>,
    /// Logical slots to create (primary only).
    pub create_logical: Vec<LogicalSlot>,
    /// Permanent logical slots a replica copies from the primary (their on-disk state, then a
    /// restart: Patroni's `copy_logical_slots`), once the leader has published their position.
    pub copy_logical: Vec<LogicalSlot>,
    /// A replica's copies of permanent logical slots to move forward to the leader's published
    /// position, never past what the replica has replayed (Patroni's `_ensure_logical_slots_replica`).
    pub advance_logical: Vec<(LogicalSlot, Lsn)>,
    /// The primary's permanent slots and their positions for `/status`: a logical slot's
    /// `confirmed_flush_lsn`, a physical one's `restart_lsn`.
    pub positions: BTreeMap<String, Lsn>,
    /// Physical slots to move forward to a position (`pg_replication_slot_advance`).
    pub advance: Vec<(String, Lsn)>,
    /// Unused slots that belong to no member, are not permanent and were first seen so at
    /// least `member_slots_ttl` ago.
    pub drop: Vec<String>,
    /// Members' slots whose WAL is lost (`wal_status` lost): dropped now, created again next
    /// cycle (Patroni's `_drop_incorrect_slots`).
    pub recreate: Vec<String>,
    /// Slots that belong to no member and are not permanent, kept for now (in use, or unused
    /// for less than `member_slots_ttl`, or in maintenance mode).
    pub retained: Vec<String>,
    /// Slots left alone because `ignore_slots` matches them.
    pub ignored: Vec<String>,
    /// Why a configured slot is not as configured (not created, not advanced, a different
    /// slot in its place); the driver logs each when it first appears.
    pub notes: Vec<String>,
}

/// The slot a wanted name stands for.
#[derive(Debug, Clone, PartialEq)]
enum Want {
    /// Another member's (it may also be permanent: the member's slot wins, Patroni
    /// `_merge_permanent_slots`).
    Member,
    /// A permanent physical slot.
    Physical,
    /// A permanent logical slot.
    Logical { database: String, plugin: String },
}

impl Want {
    fn kind(&self) -> SlotKind {
        match self {
            Want::Member | Want::Physical => SlotKind::Physical,
            Want::Logical { database, plugin } => SlotKind::Logical {
                database: database.clone(),
                plugin: plugin.clone(),
            },
        }
    }
}

/// The slot names of the other members in the DCS view, each once, never this member's own.
pub fn member_slot_names(s: &Snapshot) -> Vec<String> {
    let me = slot_name_for(&s.name);
    let names: BTreeSet<String> = s
        .dcs
        .iter()
        .flat_map(|v| &v.members)
        .filter(|m| m.name != s.name)
        .map(|m| slot_name_for(&m.name))
        .filter(|n| *n != me)
        .collect();
    names.into_iter().collect()
}

/// The slot names of the members that stream from this member (Patroni
/// `_get_members_slots`): on the primary every other member except those cascading from another
/// member that has a key; on a replica the members whose `replicatefrom` names it (the leader
/// excepted).
pub fn streaming_member_slot_names(s: &Snapshot, primary: bool) -> Vec<String> {
    let Some(view) = s.dcs.as_ref() else {
        return vec![];
    };
    let me = slot_name_for(&s.name);
    let leader = view.leader.as_ref().map(|l| l.name.as_str());
    let names: BTreeSet<String> = view
        .members
        .iter()
        .filter(|m| m.name != s.name)
        // A `nostream` member streams from nobody: no slot for it (Patroni `_get_members_slots`).
        .filter(|m| !m.tags().nostream)
        .filter(|m| {
            // A member whose replicatefrom names itself follows the leader (Patroni's
            // `_get_node_to_follow`), so it is the leader's to keep a slot for.
            let from = m.tags().replicatefrom.filter(|r| *r != m.name);
            if primary {
                from.as_deref()
                    .is_none_or(|r| r == s.name || view.member(r).is_none())
            } else {
                from.as_deref() == Some(s.name.as_str()) && Some(m.name.as_str()) != leader
            }
        })
        .map(|m| slot_name_for(&m.name))
        .filter(|n| *n != me)
        .collect();
    names.into_iter().collect()
}

/// Whether this member, or a member up its `replicatefrom` chain, is tagged `nostream`: its WAL
/// does not come from the primary's stream, so the primary never hears its feedback and it gets
/// no copies of logical slots (Patroni's `get_slot_name_on_primary` is empty for it).
pub fn streams_through_nostream(s: &Snapshot) -> bool {
    if s.tags.nostream {
        return true;
    }
    let Some(view) = s.dcs.as_ref() else {
        return false;
    };
    let mut seen = vec![s.name.clone()];
    let mut next = s.tags.replicatefrom.clone();
    while let Some(name) = next {
        if seen.contains(&name) {
            break;
        }
        let Some(m) = view.member(&name) else {
            break;
        };
        let tags = m.tags();
        if tags.nostream {
            return true;
        }
        seen.push(name);
        next = tags.replicatefrom;
    }
    false
}

/// Whether a replica has slot work each cycle: permanent slots to keep (Patroni keeps physical
/// ones, and copies of logical ones, on every member that may take over), or members cascading from it
/// (`replicatefrom`). Without either, a replica's slots are left as they are, so its idle cycle
/// reads nothing.
pub fn replica_keeps_slots(s: &Snapshot) -> bool {
    let me = slot_name_for(&s.name);
    s.config.postgresql.use_slots
        && ((s.tags.can_failover()
            && s.config.permanent_slot_specs().iter().any(|(name, spec)| {
                permanent_physical_here(name, spec, &me, s.config.is_standby_cluster())
                    || (matches!(spec, SlotSpec::Logical { .. }) && !streams_through_nostream(s))
            }))
            || !streaming_member_slot_names(s, false).is_empty())
}

/// A permanent physical slot this member keeps: one for this kind of cluster (`cluster_type:
/// standby` only in a standby cluster, `primary` only in a primary one) and not one named after
/// this member (Patroni: "don't try to create permanent physical replication slot for
/// yourself").
fn permanent_physical_here(name: &str, spec: &SlotSpec, me: &str, standby_cluster: bool) -> bool {
    let other_kind = if standby_cluster {
        SlotClusterType::Primary
    } else {
        SlotClusterType::Standby
    };
    matches!(spec, SlotSpec::Physical { cluster_type } if *cluster_type != Some(other_kind))
        && name != me
}

/// Whether `ignore_slots` matches the slot `name` of kind `kind`, or it is one of Citus's own
/// shard move / split slots in a Citus database (`citus_databases`), which Patroni never
/// drops either (`CitusHandler.ignore_replication_slot`).
fn ignored(cfg: &DynamicConfig, citus_databases: &[String], name: &str, kind: &SlotKind) -> bool {
    let (database, plugin) = match kind {
        SlotKind::Physical => (None, None),
        SlotKind::Logical { database, plugin } => (Some(database.as_str()), Some(plugin.as_str())),
    };
    cfg.ignore_slots
        .iter()
        .any(|m| m.matches(name, kind.slot_type(), database, plugin))
        || (database.is_some_and(|d| citus_databases.iter().any(|c| c == d))
            && citus_slot(name, plugin))
}

/// Citus's shard move (`pgoutput`) and split (`citus`) slots:
/// `citus_shard_(move|split)_slot` followed by two or three `_<n>` (n without leading zero).
fn citus_slot(name: &str, plugin: Option<&str>) -> bool {
    let Some(rest) = name.strip_prefix("citus_shard_") else {
        return false;
    };
    let (rest, wants) = if let Some(r) = rest.strip_prefix("move_slot") {
        (r, "pgoutput")
    } else if let Some(r) = rest.strip_prefix("split_slot") {
        (r, "citus")
    } else {
        return false;
    };
    let Some(numbers) = rest.strip_prefix('_') else {
        return false;
    };
    let parts: Vec<&str> = numbers.split('_').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() && !p.starts_with('0'))
        && plugin == Some(wants)
}

/// Plans the slots of this member (`s.name`, with the configuration, tags and DCS view of the
/// snapshot) over what the server holds now (`seen`). `citus_databases`: the Citus databases
/// when this member is in a Citus cluster (else empty). `orphaned_since` gives when (seconds, the caller's
/// monotonic clock) each slot without a member was first seen so; `now` is that clock now.
/// Returns the plan and the new `orphaned_since` (only slots still kept without a member).
pub fn plan_slots(
    s: &Snapshot,
    seen: &Observed,
    citus_databases: &[String],
    orphaned_since: &BTreeMap<String, f64>,
    now: f64,
) -> (SlotPlan, BTreeMap<String, f64>) {
    let mut plan = SlotPlan::default();
    let mut since = BTreeMap::new();
    let cfg = &s.config;
    // Praetor has never touched slots with use_slots off (Patroni would drop every slot not
    // ignored, there being none it wants).
    if !cfg.postgresql.use_slots {
        return (plan, since);
    }
    let primary = !seen.in_recovery;
    let me = slot_name_for(&s.name);
    let members = member_slot_names(s);
    let permanent = cfg.permanent_slot_specs();
    let exists = |name: &str| seen.slots.iter().any(|e| e.name == name);
    let leader_position = |name: &str| {
        s.dcs
            .as_ref()
            .and_then(|v| v.slot_positions.get(name).copied())
    };
    let is_ignored = |name: &str, kind: &SlotKind| ignored(cfg, citus_databases, name, kind);

    // What this member should hold (Patroni `get_replication_slots`): the slots of the members
    // streaming from it (on the primary all but those cascading from another member; on a
    // replica those cascading from it), then the permanent ones (a member's slot wins a name
    // both claim).
    // A standby cluster's leader keeps its members' slots as a primary does (Patroni's
    // `_get_members_slots` treats the standby leader as the leader).
    let standby_leader = s.config.is_standby_cluster()
        && s.dcs
            .as_ref()
            .and_then(|v| v.leader.as_ref())
            .is_some_and(|l| l.name == s.name);
    let streaming = streaming_member_slot_names(s, primary || standby_leader);
    let mut wanted: BTreeMap<&str, Want> = BTreeMap::new();
    for m in &streaming {
        wanted.insert(m, Want::Member);
    }
    // A member that may not take over keeps no permanent slots (Patroni `_get_permanent_slots`).
    if s.tags.can_failover() {
        for (name, spec) in permanent {
            match spec {
                SlotSpec::Physical { .. } => {
                    if permanent_physical_here(name, spec, &me, s.config.is_standby_cluster()) {
                        wanted.entry(name).or_insert(Want::Physical);
                    }
                }
                // A `nostream` replica gets no copies of logical slots (Patroni
                // `get_slot_name_on_primary` is empty for it).
                SlotSpec::Logical { .. } if !primary && streams_through_nostream(s) => {}
                // A standby cluster keeps no logical slots (Patroni).
                SlotSpec::Logical { .. } if s.config.is_standby_cluster() => {}
                SlotSpec::Logical { database, plugin } => {
                    if members.contains(name) {
                        plan.notes.push(format!(
                            "permanent logical replication slot {name} has the name of a member's \
                             physical slot: the member's slot is kept and the logical one is not \
                             created"
                        ));
                    } else if primary || exists(name) {
                        wanted.insert(
                            name,
                            Want::Logical {
                                database: database.clone(),
                                plugin: plugin.clone(),
                            },
                        );
                    } else if is_ignored(
                        name,
                        &SlotKind::Logical {
                            database: database.clone(),
                            plugin: plugin.clone(),
                        },
                    ) {
                        plan.notes.push(format!(
                            "permanent replication slot {name} matches ignore_slots: not copied"
                        ));
                    } else {
                        // Copied (with a restart: never in maintenance mode) once the leader has
                        // published its position and this replica has replayed up to it, so the
                        // copy never points past WAL this server has.
                        match (leader_position(name), seen.replay_lsn) {
                            (Some(at), Some(replayed)) if at <= replayed && !cfg.pause => {
                                plan.copy_logical.push(LogicalSlot {
                                    name: name.to_string(),
                                    database: database.clone(),
                                    plugin: plugin.clone(),
                                })
                            }
                            _ => plan.notes.push(format!(
                                "permanent logical replication slot {name} is copied from the \
                                 primary once the leader publishes its position and this replica \
                                 has replayed up to it (not in maintenance mode)"
                            )),
                        }
                    }
                }
            }
        }
    }

    for e in &seen.slots {
        let name = e.name.as_str();
        if is_ignored(name, &e.kind) {
            plan.ignored.push(name.to_string());
            continue;
        }
        // Named in any of the three maps (not only the one in force): never dropped.
        let is_permanent = [
            &cfg.slots,
            &cfg.permanent_slots,
            &cfg.permanent_replication_slots,
        ]
        .iter()
        .any(|m| m.contains_key(name));
        match wanted.get(name) {
            Some(w) if w.kind() != e.kind => plan.notes.push(format!(
                "replication slot {name} is {}, but a {} slot is wanted under that name: left as \
                 it is (drop it by hand to have it created as configured)",
                e.kind.describe(),
                w.kind().describe()
            )),
            Some(w) if e.wal_lost => {
                if *w == Want::Member && !is_permanent {
                    if !e.active && !cfg.pause {
                        plan.recreate.push(name.to_string());
                    }
                } else {
                    plan.notes.push(format!(
                        "permanent replication slot {name} has lost WAL it needs (wal_status \
                         lost) and can no longer be used: left as it is, praetor never drops a \
                         permanent slot (drop it by hand to have it created again)"
                    ));
                }
            }
            Some(Want::Logical { database, plugin }) if !primary => {
                // Never past what this replica has replayed: the slot may not point at WAL it
                // does not have.
                let to = leader_position(name)
                    .zip(seen.replay_lsn)
                    .map(|(l, r)| l.min(r));
                if let (Some(to), Some(at)) = (to, e.confirmed_flush) {
                    if to > at && !e.active {
                        plan.advance_logical.push((
                            LogicalSlot {
                                name: name.to_string(),
                                database: database.clone(),
                                plugin: plugin.clone(),
                            },
                            to,
                        ));
                    }
                }
            }
            Some(Want::Physical) if !primary && !e.active => {
                match (e.restart_lsn, seen.replay_lsn) {
                    (None, _) => plan.notes.push(format!(
                        "permanent physical replication slot {name} reserves no WAL (it was not \
                         created by praetor): it cannot be advanced and is left as it is"
                    )),
                    (Some(at), Some(to)) if to > at => plan.advance.push((name.to_string(), to)),
                    _ => {}
                }
            }
            Some(_) => {}
            None if is_permanent => {}
            None if !primary => {}
            None => {
                // A slot in use is still somebody's, key or no key: its clock starts when it is not.
                let first = if e.active {
                    now
                } else {
                    orphaned_since.get(name).copied().unwrap_or(now)
                };
                if !e.active && !cfg.pause && now - first >= cfg.member_slots_ttl as f64 {
                    plan.drop.push(name.to_string());
                } else {
                    plan.retained.push(name.to_string());
                    since.insert(name.to_string(), first);
                }
            }
        }
    }

    if primary {
        for e in &seen.slots {
            let position = match (wanted.get(e.name.as_str()), &e.kind) {
                (Some(Want::Logical { .. }), SlotKind::Logical { .. }) => e.confirmed_flush,
                (Some(Want::Physical), SlotKind::Physical) => e.restart_lsn,
                _ => None,
            };
            if let Some(p) = position {
                plan.positions.insert(e.name.clone(), p);
            }
        }
    }

    for (name, w) in &wanted {
        if exists(name) {
            continue;
        }
        let kind = w.kind();
        // A member's slot is created whatever ignore_slots says (as in Patroni): its standby
        // streams through it.
        if *w != Want::Member && is_ignored(name, &kind) {
            plan.notes.push(format!(
                "permanent replication slot {name} matches ignore_slots: not created"
            ));
            continue;
        }
        match w {
            Want::Member | Want::Physical => plan.create.push(name.to_string()),
            Want::Logical { database, plugin } => plan.create_logical.push(LogicalSlot {
                name: name.to_string(),
                database: database.clone(),
                plugin: plugin.clone(),
            }),
        }
    }
    (plan, since)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::dynamic::SlotMatcher;
    use crate::config::Tags;
    use crate::dcs::{ClusterView, Member, MemberData};
    use crate::types::{DataDir, PgState};

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// `me` in a group of `members` (all with keys), with configuration `cfg`.
    fn snap(me: &str, members: &[&str], cfg: DynamicConfig) -> Snapshot {
        Snapshot {
            name: me.into(),
            dcs: Some(ClusterView {
                members: members
                    .iter()
                    .map(|n| Member {
                        name: n.to_string(),
                        data: MemberData::default(),
                        lease: 1,
                    })
                    .collect(),
                ..Default::default()
            }),
            config: cfg,
            tags: Tags::default(),
            data: DataDir::Empty,
            pg: PgState::default(),
            peers: vec![],
            use_pg_rewind: true,
            remove_data_on_diverged: false,
            can_bootstrap: true,
            can_clone_without_source: false,
            renew_failed: false,
            lease_left: None,
            rewind_failed: false,
            lease_margin: 4.5,
            acquire_failed: false,
            now: 0.0,
            failsafe_ok: false,
            failsafe_leader: None,
            watchdog_ok: true,
            pre_promote_failed_at: None,
        }
    }

    fn phys(name: &str, active: bool) -> ExistingSlot {
        ExistingSlot {
            name: name.into(),
            kind: SlotKind::Physical,
            active,
            restart_lsn: Some(Lsn(100)),
            wal_lost: false,
            confirmed_flush: None,
        }
    }

    fn logical(name: &str, database: &str, plugin: &str) -> ExistingSlot {
        ExistingSlot {
            name: name.into(),
            kind: SlotKind::Logical {
                database: database.into(),
                plugin: plugin.into(),
            },
            active: false,
            restart_lsn: Some(Lsn(100)),
            wal_lost: false,
            confirmed_flush: None,
        }
    }

    fn primary(slots: Vec<ExistingSlot>) -> Observed {
        Observed {
            in_recovery: false,
            replay_lsn: None,
            slots,
        }
    }

    fn replica(replay: u64, slots: Vec<ExistingSlot>) -> Observed {
        Observed {
            in_recovery: true,
            replay_lsn: Some(Lsn(replay)),
            slots,
        }
    }

    fn cfg(v: serde_json::Value) -> DynamicConfig {
        DynamicConfig::from_json(&v).unwrap()
    }

    fn plan(s: &Snapshot, seen: &Observed) -> SlotPlan {
        plan_slots(s, seen, &[], &BTreeMap::new(), 100.0).0
    }

    /// Patroni's logical slot failover: the primary publishes its permanent slots' positions;
    /// a replica copies a logical slot it lacks once a position is published, and moves the
    /// copy it has to that position, never past its own replay position.
    #[test]
    fn a_replica_copies_and_advances_the_primary_s_logical_slots() {
        let c = cfg(serde_json::json!({"slots": {
            "cdc": {"type": "logical", "database": "app", "plugin": "pgoutput"},
            "feed": {"type": "logical", "database": "app", "plugin": "pgoutput"},
            "late": {"type": "logical", "database": "app", "plugin": "pgoutput"},
            "archiver": {"type": "physical"}
        }}));
        // The primary: positions of the permanent slots it has.
        let s = snap("m1", &["m1", "m2"], c.clone());
        let mut cdc = logical("cdc", "app", "pgoutput");
        cdc.confirmed_flush = Some(Lsn(700));
        let p = plan(&s, &primary(vec![cdc.clone(), phys("archiver", false)]));
        assert_eq!(
            p.positions,
            BTreeMap::from([
                ("archiver".to_string(), Lsn(100)),
                ("cdc".to_string(), Lsn(700))
            ])
        );
        // A replica that replayed up to 650: cdc (at 600 here) is moved to 650, feed (published,
        // missing) is copied, late (not published yet) waits.
        let mut s = snap("m2", &["m1", "m2"], c);
        s.dcs.as_mut().unwrap().slot_positions = BTreeMap::from([
            ("cdc".to_string(), Lsn(700)),
            ("feed".to_string(), Lsn(300)),
        ]);
        cdc.confirmed_flush = Some(Lsn(600));
        let p = plan(
            &s,
            &replica(650, vec![cdc.clone(), phys("archiver", false)]),
        );
        let slot = |n: &str| LogicalSlot {
            name: n.into(),
            database: "app".into(),
            plugin: "pgoutput".into(),
        };
        assert_eq!(
            p,
            SlotPlan {
                copy_logical: vec![slot("feed")],
                advance_logical: vec![(slot("cdc"), Lsn(650))],
                advance: vec![("archiver".into(), Lsn(650))],
                notes: v(&[
                    "permanent logical replication slot late is copied from the \
                            primary once the leader publishes its position and this replica has \
                            replayed up to it (not in maintenance mode)"
                ]),
                ..Default::default()
            }
        );
        // Not yet replayed up to the published position, or in maintenance mode: not copied.
        let p = plan(&s, &replica(250, vec![cdc.clone()]));
        assert!(p.copy_logical.is_empty(), "{p:?}");
        let mut paused = s.clone();
        paused.config.pause = true;
        let p = plan(&paused, &replica(650, vec![cdc.clone()]));
        assert!(p.copy_logical.is_empty(), "{p:?}");
        assert_eq!(
            p.advance_logical.len(),
            1,
            "advancing goes on in maintenance mode"
        );
        // Only logical permanent slots: a replica still has slot work.
        let only_logical = cfg(serde_json::json!({"slots": {
            "cdc": {"type": "logical", "database": "app", "plugin": "pgoutput"}
        }}));
        assert!(replica_keeps_slots(&snap(
            "m2",
            &["m1", "m2"],
            only_logical
        )));
        // In use on the replica, or already there: not moved.
        cdc.active = true;
        let p = plan(&s, &replica(650, vec![cdc.clone()]));
        assert!(p.advance_logical.is_empty());
        cdc.active = false;
        cdc.confirmed_flush = Some(Lsn(700));
        let p = plan(&s, &replica(900, vec![cdc]));
        assert!(p.advance_logical.is_empty());
    }

    #[test]
    fn creates_the_missing_slots_of_members() {
        let s = snap("m1", &["m1", "m2", "m3"], DynamicConfig::default());
        let (p, since) = plan_slots(
            &s,
            &primary(vec![phys("m2", true)]),
            &[],
            &BTreeMap::new(),
            100.0,
        );
        assert_eq!(
            p,
            SlotPlan {
                create: v(&["m3"]),
                ..Default::default()
            }
        );
        assert!(since.is_empty());
    }

    #[test]
    fn a_cascading_member_s_slot_is_on_its_upstream_not_on_the_primary() {
        // m3 is tagged replicatefrom m2; m1 leads.
        let cascade = |me: &str| {
            let mut s = snap(me, &["m1", "m2", "m3"], DynamicConfig::default());
            let v = s.dcs.as_mut().unwrap();
            v.leader = Some(crate::dcs::LeaderKey {
                name: "m1".into(),
                lease: 1,
                mod_revision: 1,
            });
            v.members[2].data.tags = Some(Tags {
                replicatefrom: Some("m2".into()),
                ..Default::default()
            });
            s
        };
        let (p, _) = plan_slots(&cascade("m1"), &primary(vec![]), &[], &BTreeMap::new(), 1.0);
        assert_eq!(p.create, v(&["m2"]));
        let m2 = cascade("m2");
        assert!(replica_keeps_slots(&m2));
        let (p, _) = plan_slots(&m2, &replica(100, vec![]), &[], &BTreeMap::new(), 1.0);
        assert_eq!(p.create, v(&["m3"]));
        // Once m2's key is gone, the primary keeps m3's slot again.
        let mut gone = cascade("m1");
        gone.dcs.as_mut().unwrap().members.remove(1);
        let (p, _) = plan_slots(&gone, &primary(vec![]), &[], &BTreeMap::new(), 1.0);
        assert_eq!(p.create, v(&["m3"]));
        // A member whose replicatefrom names itself follows the leader: its slot is the
        // leader's; a nostream member gets none.
        let mut own = cascade("m1");
        own.dcs.as_mut().unwrap().members[2].data.tags = Some(Tags {
            replicatefrom: Some("m3".into()),
            ..Default::default()
        });
        own.dcs.as_mut().unwrap().members[1].data.tags = Some(Tags {
            nostream: true,
            ..Default::default()
        });
        let (p, _) = plan_slots(&own, &primary(vec![]), &[], &BTreeMap::new(), 1.0);
        assert_eq!(p.create, v(&["m3"]));
    }

    #[test]
    fn a_member_whose_key_lapsed_keeps_its_slot_for_member_slots_ttl() {
        // m2's key is gone (its agent lost etcd); m3 is still a member.
        let s = snap("m1", &["m1", "m3"], DynamicConfig::default());
        let seen = primary(vec![phys("m2", false), phys("m3", true)]);
        let (p, since) = plan_slots(&s, &seen, &[], &BTreeMap::new(), 100.0);
        assert_eq!(
            p,
            SlotPlan {
                retained: v(&["m2"]),
                ..Default::default()
            }
        );
        assert_eq!(since, BTreeMap::from([("m2".to_string(), 100.0)]));
        // Still gone 1799 s later: kept, the clock counting from when it was first seen gone.
        let (p, since) = plan_slots(&s, &seen, &[], &since, 1899.0);
        assert_eq!(p.retained, v(&["m2"]));
        assert_eq!(since["m2"], 100.0);
        // 1800 s: dropped, and forgotten.
        let (p, since) = plan_slots(&s, &seen, &[], &since, 1900.0);
        assert_eq!(
            p,
            SlotPlan {
                drop: v(&["m2"]),
                ..Default::default()
            }
        );
        assert!(since.is_empty());
    }

    #[test]
    fn the_member_back_in_time_keeps_its_slot_and_its_clock_is_reset() {
        let s = snap("m1", &["m1", "m2"], DynamicConfig::default());
        let since = BTreeMap::from([("m2".to_string(), 100.0)]);
        let (p, since) = plan_slots(&s, &primary(vec![phys("m2", false)]), &[], &since, 500.0);
        assert_eq!(p, SlotPlan::default());
        assert!(since.is_empty());
    }

    #[test]
    fn an_active_slot_without_a_member_is_never_dropped() {
        let s = snap("m1", &["m1"], DynamicConfig::default());
        let since = BTreeMap::from([("m2".to_string(), 0.0)]);
        let (p, since) = plan_slots(&s, &primary(vec![phys("m2", true)]), &[], &since, 5000.0);
        assert_eq!(p.retained, v(&["m2"]));
        assert!(p.drop.is_empty());
        assert_eq!(since["m2"], 5000.0);
    }

    #[test]
    fn member_slots_ttl_0_drops_at_once() {
        let s = snap(
            "m1",
            &["m1"],
            cfg(serde_json::json!({"member_slots_ttl": 0})),
        );
        let p = plan(&s, &primary(vec![phys("m2", false)]));
        assert_eq!(p.drop, v(&["m2"]));
    }

    #[test]
    fn use_slots_off_touches_nothing() {
        let s = snap(
            "m1",
            &["m1", "m2"],
            cfg(
                serde_json::json!({"member_slots_ttl": 0, "postgresql": {"use_slots": false},
                                   "slots": {"p": null}}),
            ),
        );
        assert_eq!(
            plan(&s, &primary(vec![phys("x", false)])),
            SlotPlan::default()
        );
    }

    /// Permanent slots on the primary: physical and logical created, never dropped, a member's
    /// slot of the same name wins; an unknown logical slot is dropped like an unknown physical one.
    #[test]
    fn the_primary_creates_and_keeps_permanent_slots() {
        let c = cfg(serde_json::json!({
            "member_slots_ttl": 0,
            "slots": {
                "archiver": {"type": "physical"},
                "cdc": {"type": "logical", "database": "app", "plugin": "pgoutput"},
                "m2": {"type": "physical"},
                "m1": {"type": "physical"},
                "m3": {"type": "logical", "database": "app", "plugin": "pgoutput"},
                "standby_only": {"type": "physical", "cluster_type": "standby"},
                "old_cdc": {"type": "logical", "database": "app", "plugin": "pgoutput"}
            }
        }));
        let s = snap("m1", &["m1", "m3"], c);
        // m2 left long ago, but is permanent; m1 (our own name) and standby_only exist from
        // before; old_cdc exists, inactive; stray is nobody's.
        let seen = primary(vec![
            phys("m1", false),
            phys("m2", false),
            logical("old_cdc", "app", "pgoutput"),
            phys("standby_only", false),
            phys("stray", false),
            logical("stray_cdc", "app", "pgoutput"),
        ]);
        assert_eq!(
            plan(&s, &seen),
            SlotPlan {
                create: v(&["archiver", "m3"]),
                create_logical: vec![LogicalSlot {
                    name: "cdc".into(),
                    database: "app".into(),
                    plugin: "pgoutput".into()
                }],
                drop: v(&["stray", "stray_cdc"]),
                positions: BTreeMap::from([("m2".to_string(), Lsn(100))]),
                notes: v(&[
                    "permanent logical replication slot m3 has the name of a member's \
                            physical slot: the member's slot is kept and the logical one is not \
                            created"
                ]),
                ..Default::default()
            }
        );
    }

    /// `permanent_slots` (Patroni's older name) is read like `slots`.
    #[test]
    fn permanent_slots_is_read_as_slots() {
        let s = snap(
            "m1",
            &["m1"],
            cfg(serde_json::json!({"permanent_slots": {"archiver": null}})),
        );
        assert_eq!(plan(&s, &primary(vec![])).create, v(&["archiver"]));
    }

    /// With `permanent_slots` set, Patroni reads `slots` no more: its slots are not created, but
    /// praetor does not drop them either.
    #[test]
    fn slots_shadowed_by_an_older_name_are_not_created_but_never_dropped() {
        let s = snap(
            "m1",
            &["m1"],
            cfg(serde_json::json!({"member_slots_ttl": 0,
                                   "permanent_slots": {"archiver": null},
                                   "slots": {"shadowed": null}})),
        );
        let p = plan(
            &s,
            &primary(vec![phys("shadowed", false), phys("stray", false)]),
        );
        assert_eq!(
            p,
            SlotPlan {
                create: v(&["archiver"]),
                drop: v(&["stray"]),
                ..Default::default()
            }
        );
    }

    /// Replicas keep the permanent physical slots (created, moved to the replay position) and
    /// nothing else: no member slots, no logical slot, no drops.
    #[test]
    fn a_replica_keeps_permanent_physical_slots_at_its_replay_position() {
        let c = cfg(serde_json::json!({
            "member_slots_ttl": 0,
            "slots": {
                "archiver": {"type": "physical"},
                "backup": {"type": "physical"},
                "behind": {"type": "physical"},
                "busy": {"type": "physical"},
                "m2": {"type": "physical"},
                "cdc": {"type": "logical", "database": "app", "plugin": "pgoutput"}
            }
        }));
        let s = snap("m2", &["m1", "m2", "m3"], c);
        assert!(replica_keeps_slots(&s));
        let mut no_wal = phys("backup", false);
        no_wal.restart_lsn = None;
        let mut ahead = phys("behind", false);
        ahead.restart_lsn = Some(Lsn(900));
        let seen = replica(
            500,
            vec![
                phys("archiver", false),
                no_wal,
                ahead,
                phys("busy", true),
                phys("m3", false),
                phys("stray", false),
            ],
        );
        assert_eq!(
            plan(&s, &seen),
            SlotPlan {
                advance: vec![("archiver".into(), Lsn(500))],
                notes: v(&[
                    "permanent logical replication slot cdc is copied from the primary once the leader \
                     publishes its position and this replica has replayed up to it (not in \
                     maintenance mode)",
                    "permanent physical replication slot backup reserves no WAL (it was not \
                     created by praetor): it cannot be advanced and is left as it is",
                ]),
                ..Default::default()
            }
        );
        // Missing ones are created (m2's own name is not).
        let p = plan(&s, &replica(500, vec![]));
        assert_eq!(p.create, v(&["archiver", "backup", "behind", "busy"]));
    }

    #[test]
    fn a_replica_tagged_nofailover_or_without_permanent_slots_has_no_slot_work() {
        let c = cfg(serde_json::json!({"slots": {"archiver": null}}));
        let mut s = snap("m2", &["m1", "m2"], c);
        s.tags.nofailover = true;
        assert!(!replica_keeps_slots(&s));
        // And if it runs the plan anyway, it neither creates nor drops.
        assert_eq!(
            plan(&s, &replica(500, vec![phys("archiver", false)])),
            SlotPlan::default()
        );
        // Its own name and standby-cluster slots are not kept here (logical slots are: their
        // copies, see a_replica_copies_and_advances_the_primary_s_logical_slots).
        let c = cfg(serde_json::json!({"slots": {
            "m2": null,
            "s": {"cluster_type": "standby"}}}));
        assert!(!replica_keeps_slots(&snap("m2", &["m1", "m2"], c)));
        assert!(!replica_keeps_slots(&snap(
            "m2",
            &["m1", "m2"],
            DynamicConfig::default()
        )));
    }

    /// ignore_slots: a matching slot is never dropped or advanced, a matching permanent slot is
    /// not created, a member's slot still is.
    #[test]
    fn ignored_slots_are_left_alone() {
        let c = cfg(serde_json::json!({
            "member_slots_ttl": 0,
            "slots": {"archiver": null, "hidden": null},
            "ignore_slots": [
                {"name": "by_hand"},
                {"type": "logical", "database": "app"},
                {"name": "hidden"},
                {"name": "m3"},
                {"name": "archiver", "type": "physical"}
            ]
        }));
        let s = snap("m1", &["m1", "m3"], c.clone());
        let seen = primary(vec![
            phys("by_hand", false),
            logical("cdc_by_hand", "app", "pgoutput"),
            logical("other_db", "other", "pgoutput"),
        ]);
        assert_eq!(
            plan(&s, &seen),
            SlotPlan {
                create: v(&["m3"]),
                drop: v(&["other_db"]),
                ignored: v(&["by_hand", "cdc_by_hand"]),
                notes: v(&[
                    "permanent replication slot archiver matches ignore_slots: not created",
                    "permanent replication slot hidden matches ignore_slots: not created",
                ]),
                ..Default::default()
            }
        );
        // On a replica an ignored permanent slot is not advanced.
        let s = snap("m2", &["m1", "m2"], c);
        let p = plan(&s, &replica(500, vec![phys("archiver", false)]));
        assert_eq!(p.ignored, v(&["archiver"]));
        assert!(p.advance.is_empty());
    }

    /// A slot whose name is wanted but which is of another type or plugin is left as it is (Patroni
    /// would drop and recreate it; praetor never drops a slot a consumer may rely on).
    #[test]
    fn a_slot_unlike_its_configuration_is_left_as_it_is() {
        let c = cfg(serde_json::json!({"slots": {
            "cdc": {"type": "logical", "database": "app", "plugin": "pgoutput"},
            "archiver": null}}));
        let s = snap("m1", &["m1"], c);
        let seen = primary(vec![
            logical("archiver", "app", "pgoutput"),
            logical("cdc", "app", "test_decoding"),
        ]);
        assert_eq!(
            plan(&s, &seen),
            SlotPlan {
                notes: v(&[
                    "replication slot archiver is logical (database app, plugin pgoutput), but a \
                     physical slot is wanted under that name: left as it is (drop it by hand to \
                     have it created as configured)",
                    "replication slot cdc is logical (database app, plugin test_decoding), but a \
                     logical (database app, plugin pgoutput) slot is wanted under that name: left \
                     as it is (drop it by hand to have it created as configured)",
                ]),
                ..Default::default()
            }
        );
    }

    /// wal_status lost: a member's slot is dropped to be created again (Patroni); a permanent
    /// one is left as it is.
    #[test]
    fn a_lost_member_slot_is_recreated_a_lost_permanent_slot_is_kept() {
        let c = cfg(serde_json::json!({"slots": {"archiver": null}}));
        let s = snap("m1", &["m1", "m2", "m3"], c);
        let lost = |n: &str, active: bool| ExistingSlot {
            wal_lost: true,
            confirmed_flush: None,
            ..phys(n, active)
        };
        let seen = primary(vec![
            lost("archiver", false),
            lost("m2", false),
            lost("m3", true),
        ]);
        assert_eq!(
            plan(&s, &seen),
            SlotPlan {
                recreate: v(&["m2"]),
                positions: BTreeMap::from([("archiver".to_string(), Lsn(100))]),
                notes: v(
                    &["permanent replication slot archiver has lost WAL it needs \
                            (wal_status lost) and can no longer be used: left as it is, praetor \
                            never drops a permanent slot (drop it by hand to have it created \
                            again)"]
                ),
                ..Default::default()
            }
        );
    }

    /// Maintenance mode: nothing is dropped (Patroni `_drop_incorrect_slots`), creation goes on.
    #[test]
    fn pause_drops_nothing() {
        let c = cfg(serde_json::json!({"pause": true, "member_slots_ttl": 0}));
        let s = snap("m1", &["m1", "m2"], c);
        let (p, since) = plan_slots(
            &s,
            &primary(vec![phys("gone", false)]),
            &[],
            &BTreeMap::new(),
            100.0,
        );
        assert_eq!(
            p,
            SlotPlan {
                create: v(&["m2"]),
                retained: v(&["gone"]),
                ..Default::default()
            }
        );
        assert_eq!(since["gone"], 100.0);
    }

    /// Citus's shard move and split slots in the Citus database are never dropped (Patroni
    /// `CitusHandler.ignore_replication_slot`).
    #[test]
    fn citus_shard_slots_are_left_alone() {
        let s = snap(
            "m1",
            &["m1"],
            cfg(serde_json::json!({"member_slots_ttl": 0})),
        );
        let seen = primary(vec![
            logical("citus_shard_move_slot_1_2", "citus", "pgoutput"),
            logical("citus_shard_split_slot_1_2_3", "citus", "citus"),
            logical("citus_shard_move_slot_1_2_3_4", "citus", "pgoutput"),
            logical("citus_shard_move_slot_1_02", "citus", "pgoutput"),
            logical("citus_shard_split_slot_1_2", "citus", "pgoutput"),
            logical("citus_shard_move_slot_1_2", "postgres", "pgoutput"),
        ]);
        let p = plan_slots(&s, &seen, &["citus".to_string()], &BTreeMap::new(), 1.0).0;
        assert_eq!(
            p.ignored,
            v(&["citus_shard_move_slot_1_2", "citus_shard_split_slot_1_2_3"])
        );
        assert_eq!(p.drop.len(), 4);
        // Without Citus they are like any other slot.
        assert_eq!(plan(&s, &seen).drop.len(), 6);
    }

    #[test]
    fn members_sharing_a_slot_name_or_named_like_me_want_one_slot() {
        let s = snap("m-1", &["m-1", "m_1", "M2", "m2"], DynamicConfig::default());
        assert_eq!(member_slot_names(&s), v(&["m2"]));
    }

    #[test]
    fn an_ignore_matcher_of_the_slot_type_alone_still_lets_member_slots_be_created() {
        let mut c = DynamicConfig::default();
        c.ignore_slots = vec![SlotMatcher {
            slot_type: Some(SlotType::Physical),
            ..Default::default()
        }];
        let s = snap("m1", &["m1", "m2"], c);
        let p = plan(&s, &primary(vec![phys("m9", false)]));
        assert_eq!(p.create, v(&["m2"]));
        assert_eq!(p.ignored, v(&["m9"]));
    }
}
