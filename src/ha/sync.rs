//! Synchronous replication on the primary (Patroni's priority mode, reference §2.11): which
//! standbys go into `synchronous_standby_names`, and which are published in the `/sync` key.
//!
//! The invariant that makes failover safe: a standby is listed in `/sync` only once PostgreSQL
//! reports it as `sync` (so it is already in `synchronous_standby_names`), and it leaves `/sync`
//! before it leaves `synchronous_standby_names`. Only members named in `/sync` may be promoted, so
//! every commit acknowledged to a client is on the member that takes over.

use crate::config::{DynamicConfig, Tags};
use crate::types::Lsn;

pub use crate::types::{ReplicationRow, STRICT_PLACEHOLDER};

/// What the primary should do about synchronous replication this cycle.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncPlan {
    /// New `/sync` member list, written first (`Some(vec![])` = `sync_standby: null`).
    pub sync_key: Option<Vec<String>>,
    /// Delete `/sync` (synchronous mode turned off).
    pub delete_sync_key: bool,
    /// New `synchronous_standby_names` members (`[]` = empty), applied after `sync_key`.
    pub guc: Option<Vec<String>>,
}

/// Listed synchronous standbys whose member key has lapsed but that may keep their place in
/// `/sync` (their walsender still decides, in [`plan_sync`]): an etcd hiccup that let a standby's
/// lease run out is not the standby leaving. A key gone for `grace` seconds (the caller passes
/// two ttls) or longer ends that: the member is treated as gone, as Patroni treats a member
/// without a key, so a dead agent beside a streaming server cannot hold `/sync` for ever.
///
/// `listed` are the `/sync` members, `has_key` whether a member key exists, `gone_since` when
/// each listed member was first seen without a key (seconds, the caller's monotonic clock).
/// Returns the members to treat as present (with default tags) and the new `gone_since`.
pub fn lapsed_sync_members(
    listed: &[String],
    has_key: &dyn Fn(&str) -> bool,
    gone_since: &std::collections::BTreeMap<String, f64>,
    now: f64,
    grace: f64,
) -> (Vec<String>, std::collections::BTreeMap<String, f64>) {
    let mut keep = Vec::new();
    let mut since = std::collections::BTreeMap::new();
    for m in listed.iter().filter(|m| !has_key(m)) {
        let first = gone_since.get(m).copied().unwrap_or(now);
        since.insert(m.clone(), first);
        if now - first < grace {
            keep.push(m.clone());
        }
    }
    (keep, since)
}

/// Plans synchronous replication for the primary `me`.
///
/// `sync_key` is the current `/sync` (leader and members), `guc` the names currently configured in
/// `synchronous_standby_names`, `replication` the primary's `pg_stat_replication`, `tags` each
/// member's tags, `primary_lsn` the primary's WAL position (bytes).
pub fn plan_sync(
    me: &str,
    config: &DynamicConfig,
    sync_key: Option<(&str, Vec<String>)>,
    guc: &[String],
    replication: &[ReplicationRow],
    tags: &dyn Fn(&str) -> Option<Tags>,
    primary_lsn: Lsn,
) -> SyncPlan {
    let mut plan = SyncPlan::default();
    if !config.synchronous() {
        if sync_key.is_some_and(|(l, _)| l == me) {
            plan.delete_sync_key = true;
        }
        if !guc.is_empty() {
            plan.guc = Some(vec![]);
        }
        return plan;
    }
    let current: Vec<String> = match &sync_key {
        Some((l, members)) if *l == me => members.clone(),
        _ => {
            // Take ownership of /sync first, listing nobody; the GUC follows next cycle.
            plan.sync_key = Some(vec![]);
            return plan;
        }
    };
    // Candidates: streaming members not tagged nosync (nor sync_priority 0); nofailover ones
    // last; higher sync_priority first (Patroni); members already in /sync first (a standby that
    // is merely a little behind another keeps its place: every change of the synchronous standby
    // passes through a moment when /sync lists fewer members, and nobody may be promoted then);
    // then least lag.
    let candidates_tags = tags;
    let mut candidates: Vec<&ReplicationRow> = replication
        .iter()
        .filter(|r| r.state == "streaming")
        .filter(|r| candidates_tags(&r.name).is_some_and(|t| !t.excluded_from_sync()))
        .collect();
    candidates.sort_by_key(|r| {
        let t = candidates_tags(&r.name);
        let nofailover = t.as_ref().map(|t| !t.can_failover()).unwrap_or(true);
        let rank = t.as_ref().map(|t| t.sync_rank()).unwrap_or(1);
        (
            nofailover,
            std::cmp::Reverse(rank),
            !current.contains(&r.name),
            primary_lsn.saturating_sub(r.flush_lsn),
            r.name.clone(),
        )
    });
    let count = config.synchronous_node_count.max(1) as usize;
    let wanted: Vec<String> = candidates
        .iter()
        .take(count)
        .map(|r| r.name.clone())
        .collect();
    let confirmed = |n: &String| {
        replication
            .iter()
            .any(|r| r.name == *n && (r.sync_state == "sync" || r.sync_state == "quorum"))
    };
    // /sync: keep wanted members already listed, add wanted members PostgreSQL confirms as sync.
    let mut new_sync: Vec<String> = wanted
        .iter()
        .filter(|n| current.contains(n) || (guc.contains(n) && confirmed(n)))
        .cloned()
        .collect();
    new_sync.sort();
    let mut cur_sorted = current.clone();
    cur_sorted.sort();
    if new_sync != cur_sorted {
        plan.sync_key = Some(new_sync.clone());
    }
    // GUC: the wanted ones plus whatever stays in /sync (never drop a listed member first).
    let mut new_guc: Vec<String> = wanted.clone();
    for n in &new_sync {
        if !new_guc.contains(n) {
            new_guc.push(n.clone());
        }
    }
    if new_guc.is_empty() && config.synchronous_mode_strict {
        new_guc.push(STRICT_PLACEHOLDER.to_string());
    }
    new_guc.sort();
    let mut guc_sorted = guc.to_vec();
    guc_sorted.sort();
    if new_guc != guc_sorted {
        plan.guc = Some(new_guc);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(sync: bool, strict: bool, count: u64) -> DynamicConfig {
        DynamicConfig {
            synchronous_mode: serde_json::Value::Bool(sync),
            synchronous_mode_strict: strict,
            synchronous_node_count: count,
            ..Default::default()
        }
    }
    fn row(name: &str, sync_state: &str, lsn: u64) -> ReplicationRow {
        ReplicationRow {
            name: name.into(),
            state: "streaming".into(),
            sync_state: sync_state.into(),
            flush_lsn: Lsn(lsn),
        }
    }
    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }
    /// ns is tagged nosync, nf nofailover, p0 sync_priority 0, p5 sync_priority 5; ghost has
    /// no member key.
    fn tags_of(name: &str) -> Option<Tags> {
        let mut t = Tags::default();
        match name {
            "ns" => t.nosync = true,
            "nf" => t.nofailover = true,
            "p0" => t.sync_priority = Some(0),
            "p5" => t.sync_priority = Some(5),
            "ghost" => return None,
            _ => {}
        }
        Some(t)
    }
    /// `/sync` held by a, listing `names`.
    fn mine(names: &[&str]) -> Option<(&'static str, Vec<String>)> {
        Some(("a", v(names)))
    }
    /// a's plan at LSN `lsn`, with `/sync` as `key`, `guc` in `synchronous_standby_names` and
    /// `rows` in `pg_stat_replication`.
    fn plan_at(
        tags: &dyn Fn(&str) -> Option<Tags>,
        lsn: u64,
        c: &DynamicConfig,
        key: Option<(&str, Vec<String>)>,
        guc: &[&str],
        rows: &[ReplicationRow],
    ) -> SyncPlan {
        plan_sync("a", c, key, &v(guc), rows, tags, Lsn(lsn))
    }
    /// [`plan_at`] LSN 10, with the tags of [`tags_of`].
    fn plan(
        c: &DynamicConfig,
        key: Option<(&str, Vec<String>)>,
        guc: &[&str],
        rows: &[ReplicationRow],
    ) -> SyncPlan {
        plan_at(&tags_of, 10, c, key, guc, rows)
    }
    /// The plan that only writes `/sync` listing `names`.
    fn only_key(names: &[&str]) -> SyncPlan {
        SyncPlan {
            sync_key: Some(v(names)),
            ..Default::default()
        }
    }
    /// The plan that only sets `synchronous_standby_names` to `names`.
    fn only_guc(names: &[&str]) -> SyncPlan {
        SyncPlan {
            guc: Some(v(names)),
            ..Default::default()
        }
    }

    #[test]
    fn takes_ownership_of_the_sync_key_first() {
        let c = cfg(true, false, 1);
        let p = plan(&c, None, &[], &[row("b", "async", 10)]);
        assert_eq!(p, only_key(&[]));
        let p = plan(&c, Some(("z", v(&["b"]))), &[], &[]);
        assert_eq!(p.sync_key, Some(vec![]));
    }

    #[test]
    fn keeps_the_listed_sync_standby_when_another_is_less_behind() {
        let c = cfg(true, false, 1);
        // b is the listed sync standby; c is momentarily ahead of it. Nothing changes.
        let rows = [row("b", "sync", 90), row("c", "potential", 100)];
        let p = plan_at(&tags_of, 100, &c, mine(&["b"]), &["b"], &rows);
        assert_eq!(p, SyncPlan::default());
        // b stops streaming: c replaces it (in the GUC first, /sync drops b).
        let gone = ReplicationRow {
            state: "catchup".into(),
            ..row("b", "sync", 90)
        };
        let rows = [gone, row("c", "potential", 100)];
        let p = plan_at(&tags_of, 100, &c, mine(&["b"]), &["b"], &rows);
        assert_eq!(p.guc, Some(v(&["c"])));
        assert_eq!(p.sync_key, Some(vec![]));
    }

    #[test]
    fn a_listed_standby_whose_member_key_lapsed_keeps_its_place_for_a_while() {
        use std::collections::BTreeMap;
        let listed = v(&["ghost"]);
        let has_key = |n: &str| n != "ghost";
        let (keep, since) = lapsed_sync_members(&listed, &has_key, &BTreeMap::new(), 100.0, 40.0);
        assert_eq!(keep, v(&["ghost"]));
        assert_eq!(since, BTreeMap::from([("ghost".to_string(), 100.0)]));
        let (keep, since) = lapsed_sync_members(&listed, &has_key, &since, 139.0, 40.0);
        assert_eq!(keep, v(&["ghost"]));
        let (keep, _) = lapsed_sync_members(&listed, &has_key, &since, 140.0, 40.0);
        assert!(keep.is_empty());
        // Its key is back: forgotten.
        let (keep, since) = lapsed_sync_members(&listed, &|_| true, &since, 150.0, 40.0);
        assert!(keep.is_empty() && since.is_empty());
        // While kept, the planner sees it with default tags: a streaming, confirmed sync
        // standby stays listed and in the GUC.
        let kept = |n: &str| {
            if n == "ghost" {
                Some(Tags::default())
            } else {
                tags_of(n)
            }
        };
        let c = cfg(true, false, 1);
        let rows = [row("ghost", "sync", 100), row("c", "potential", 100)];
        let p = plan_at(&kept, 100, &c, mine(&["ghost"]), &["ghost"], &rows);
        assert_eq!(p, SyncPlan::default());
        // Once no longer kept (tags unknown), another standby replaces it.
        let p = plan_at(&tags_of, 100, &c, mine(&["ghost"]), &["ghost"], &rows);
        assert_eq!(p.guc, Some(v(&["c"])));
    }

    #[test]
    fn adds_to_the_guc_before_listing_in_sync() {
        let c = cfg(true, false, 1);
        // Step 1: b goes into the GUC, not yet into /sync.
        let rows = [row("b", "async", 10), row("c", "async", 5)];
        assert_eq!(plan(&c, mine(&[]), &[], &rows), only_guc(&["b"]));
        // Step 2: PostgreSQL reports b as sync: now /sync lists it.
        let rows = [row("b", "sync", 10), row("c", "async", 5)];
        assert_eq!(plan(&c, mine(&[]), &["b"], &rows), only_key(&["b"]));
        // Steady.
        let p = plan(&c, mine(&["b"]), &["b"], &[row("b", "sync", 10)]);
        assert_eq!(p, SyncPlan::default());
    }

    #[test]
    fn removes_from_sync_before_the_guc() {
        let c = cfg(true, false, 1);
        // b is gone; c streams: /sync drops b now, the GUC swaps b for c in the same plan, applied after.
        let p = plan(&c, mine(&["b"]), &["b"], &[row("c", "async", 10)]);
        assert_eq!(p.sync_key, Some(vec![]));
        assert_eq!(p.guc, Some(v(&["c"])));
    }

    #[test]
    fn nosync_is_never_chosen_and_nofailover_comes_last() {
        let c = cfg(true, false, 1);
        let rows = [
            row("ns", "async", 10),
            row("nf", "async", 10),
            row("ghost", "async", 10),
        ];
        assert_eq!(plan(&c, mine(&[]), &[], &rows).guc, Some(v(&["nf"])));
        let rows = [row("nf", "async", 10), row("b", "async", 1)];
        assert_eq!(plan(&c, mine(&[]), &[], &rows).guc, Some(v(&["b"])));
    }

    #[test]
    fn higher_sync_priority_is_chosen_first_and_zero_never() {
        let c = cfg(true, false, 1);
        // p5 lags behind b but ranks higher; p0 is never chosen (Patroni: as nosync).
        let rows = [
            row("b", "async", 10),
            row("p5", "async", 1),
            row("p0", "async", 10),
        ];
        assert_eq!(plan(&c, mine(&[]), &[], &rows).guc, Some(v(&["p5"])));
        let rows = [row("p0", "async", 10)];
        assert_eq!(plan(&c, mine(&[]), &[], &rows).guc, None);
        // Priority comes before keeping the standby already listed in /sync.
        let rows = [row("b", "sync", 10), row("p5", "async", 10)];
        assert_eq!(plan(&c, mine(&["b"]), &["b"], &rows).guc, Some(v(&["p5"])));
    }

    #[test]
    fn strict_mode_blocks_commits_without_a_standby() {
        let p = plan(&cfg(true, true, 1), mine(&[]), &[], &[]);
        assert_eq!(p.guc, Some(v(&[STRICT_PLACEHOLDER])));
        let p = plan(&cfg(true, false, 1), mine(&[]), &[], &[]);
        assert_eq!(p, SyncPlan::default());
    }

    #[test]
    fn turning_sync_mode_off_clears_both() {
        let p = plan(&cfg(false, false, 1), mine(&["b"]), &["b"], &[]);
        let want = SyncPlan {
            delete_sync_key: true,
            guc: Some(vec![]),
            ..Default::default()
        };
        assert_eq!(p, want);
    }

    #[test]
    fn several_sync_standbys() {
        let rows = [
            row("b", "async", 10),
            row("c", "async", 9),
            row("d", "async", 1),
        ];
        let p = plan(&cfg(true, false, 2), mine(&[]), &[], &rows);
        assert_eq!(p.guc, Some(v(&["b", "c"])));
    }
}
