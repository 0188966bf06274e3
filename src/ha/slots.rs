//! The primary's physical replication slots, one per member (`postgresql.use_slots`), and
//! Patroni 4's `member_slots_ttl`: the slot of a member whose key has gone (it stopped, or its
//! agent could not reach etcd for longer than its lease) is kept that long before it is dropped,
//! so a standby coming back finds the WAL it needs and an etcd hiccup drops nothing.
//!
//! Pure: the driver reads `pg_replication_slots`, calls [`plan_slots`], and creates and drops
//! what the plan says.

use std::collections::BTreeMap;

/// What to do with the physical slots this cycle.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SlotPlan {
    /// Slots to create (members without one).
    pub create: Vec<String>,
    /// Inactive slots of members gone for `member_slots_ttl` or longer.
    pub drop: Vec<String>,
    /// Slots of members gone for less than `member_slots_ttl` (or still streaming), kept.
    pub retained: Vec<String>,
}

/// Plans the physical slots.
///
/// `wanted` are the slot names of the other members in the DCS view; `existing` the physical
/// slots with whether a walsender uses them (`active`); `orphaned_since` when (seconds, the
/// caller's monotonic clock) each existing slot without a member was first seen so; `now` that
/// clock now; `member_slots_ttl` seconds (0: drop at once, Patroni's behaviour before 4.0).
/// Returns the plan and the new `orphaned_since` (only slots still kept without a member).
pub fn plan_slots(
    wanted: &[String],
    existing: &[(String, bool)],
    orphaned_since: &BTreeMap<String, f64>,
    now: f64,
    member_slots_ttl: u64,
) -> (SlotPlan, BTreeMap<String, f64>) {
    let mut plan = SlotPlan::default();
    let mut since = BTreeMap::new();
    for w in wanted {
        if !existing.iter().any(|(n, _)| n == w) && !plan.create.contains(w) {
            plan.create.push(w.clone());
        }
    }
    for (name, active) in existing {
        if wanted.contains(name) {
            continue;
        }
        // A slot in use is still a standby's, key or no key: its clock starts when it is not.
        let first = if *active {
            now
        } else {
            orphaned_since.get(name).copied().unwrap_or(now)
        };
        if !*active && now - first >= member_slots_ttl as f64 {
            plan.drop.push(name.clone());
        } else {
            plan.retained.push(name.clone());
            since.insert(name.clone(), first);
        }
    }
    (plan, since)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn creates_the_missing_slots_of_members() {
        let (p, since) = plan_slots(
            &v(&["m2", "m3"]),
            &[("m2".into(), true)],
            &BTreeMap::new(),
            100.0,
            1800,
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
    fn a_member_whose_key_lapsed_keeps_its_slot_for_member_slots_ttl() {
        let existing = [("m2".to_string(), false), ("m3".to_string(), true)];
        // m2's key is gone (its agent lost etcd); m3 is still a member.
        let (p, since) = plan_slots(&v(&["m3"]), &existing, &BTreeMap::new(), 100.0, 1800);
        assert_eq!(
            p,
            SlotPlan {
                retained: v(&["m2"]),
                ..Default::default()
            }
        );
        assert_eq!(since, BTreeMap::from([("m2".to_string(), 100.0)]));
        // Still gone 1799 s later: kept, the clock counting from when it was first seen gone.
        let (p, since) = plan_slots(&v(&["m3"]), &existing, &since, 1899.0, 1800);
        assert_eq!(p.retained, v(&["m2"]));
        assert_eq!(since["m2"], 100.0);
        // 1800 s: dropped, and forgotten.
        let (p, since) = plan_slots(&v(&["m3"]), &existing, &since, 1900.0, 1800);
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
        let existing = [("m2".to_string(), false)];
        let since = BTreeMap::from([("m2".to_string(), 100.0)]);
        let (p, since) = plan_slots(&v(&["m2"]), &existing, &since, 500.0, 1800);
        assert_eq!(p, SlotPlan::default());
        assert!(since.is_empty());
    }

    #[test]
    fn an_active_slot_without_a_member_is_never_dropped() {
        let existing = [("m2".to_string(), true)];
        let since = BTreeMap::from([("m2".to_string(), 0.0)]);
        let (p, since) = plan_slots(&[], &existing, &since, 5000.0, 1800);
        assert_eq!(p.retained, v(&["m2"]));
        assert_eq!(since["m2"], 5000.0);
    }

    #[test]
    fn member_slots_ttl_0_drops_at_once() {
        let (p, _) = plan_slots(&[], &[("m2".to_string(), false)], &BTreeMap::new(), 10.0, 0);
        assert_eq!(p.drop, v(&["m2"]));
    }
}
