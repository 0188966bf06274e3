use super::*;

fn n(names: &[&str]) -> Names {
    names.iter().map(|s| s.to_string()).collect()
}
fn key(voters: &[&str], quorum: usize) -> QuorumKey {
    QuorumKey {
        voters: n(voters),
        quorum,
    }
}
fn guc(members: &[&str], num: usize) -> QuorumGuc {
    QuorumGuc {
        members: n(members),
        num,
    }
}
/// The plan from `/sync` `k`, GUC `g`, `confirmed`, `active` standbys, `wanted`, `strict`.
fn plan(
    k: &QuorumKey,
    g: &QuorumGuc,
    confirmed: &[&str],
    active: &[&str],
    wanted: usize,
    strict: bool,
) -> Vec<QuorumStep> {
    plan_quorum(&QuorumFacts {
        key: k,
        guc: g,
        confirmed: &n(confirmed),
        active: &n(active),
        wanted,
        strict,
    })
}
use QuorumStep::{Guc, Key};

/// Brute force: every `quorum + 1` voters meet every `num` acknowledging GUC members (the
/// primary, which has every commit, is never a voter).
fn overlaps(k: &QuorumKey, g: &QuorumGuc) -> bool {
    let subsets = |set: &Names, size: usize| -> Vec<Names> {
        let items: Vec<&String> = set.iter().collect();
        (0u32..1 << items.len())
            .filter(|m| m.count_ones() as usize == size)
            .map(|m| {
                items
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| m & (1 << i) != 0)
                    .map(|(_, s)| (*s).clone())
                    .collect()
            })
            .collect()
    };
    if g.num > g.members.len() && !g.members.is_empty() {
        return true; // nothing is ever acknowledged
    }
    // No members: the primary alone, or `*` (any standby, so maybe no voter).
    let acks = if g.num == 0 || g.members.is_empty() {
        vec![Names::new()]
    } else {
        subsets(&g.members, g.num)
    };
    let races = subsets(&k.voters, k.quorum + 1);
    acks.iter()
        .all(|a| races.iter().all(|r| r.intersection(a).next().is_some()))
}

/// All subsets of `u`.
fn all_subsets(u: &[&str]) -> Vec<Names> {
    (0u32..1 << u.len())
        .map(|m| {
            u.iter()
                .enumerate()
                .filter(|(i, _)| m & (1 << i) != 0)
                .map(|(_, s)| s.to_string())
                .collect()
        })
        .collect()
}

#[test]
fn the_guc_check_is_the_brute_force_overlap() {
    let u = ["a", "b", "c", "d"];
    for voters in all_subsets(&u) {
        for quorum in 0..=voters.len() {
            for members in all_subsets(&u) {
                for num in 0..=members.len() + 1 {
                    let k = QuorumKey {
                        voters: voters.clone(),
                        quorum,
                    };
                    let g = QuorumGuc {
                        members: members.clone(),
                        num,
                    };
                    assert_eq!(guc_change_safe(&k, &g), overlaps(&k, &g), "{k:?} {g:?}");
                }
            }
        }
    }
}

#[test]
fn renders_any_with_sorted_quoted_names() {
    assert_eq!(guc(&[], 0).render(), "");
    assert_eq!(guc(&[], 1).render(), "ANY 1 (*)");
    assert_eq!(guc(&["b", "a"], 1).render(), "ANY 1 (a,b)");
    assert_eq!(guc(&["m-2"], 1).render(), "ANY 1 (\"m-2\")");
}

#[test]
fn the_first_standby_goes_into_the_guc_then_into_sync() {
    let empty = key(&[], 0);
    assert_eq!(
        plan(&empty, &guc(&[], 0), &[], &["a"], 1, false),
        vec![Guc(guc(&["a"], 1))]
    );
    // Until a confirms, /sync cannot name it.
    assert_eq!(plan(&empty, &guc(&["a"], 1), &[], &["a"], 1, false), vec![]);
    assert_eq!(
        plan(&empty, &guc(&["a"], 1), &["a"], &["a"], 1, false),
        vec![Key(key(&["a"], 0))]
    );
    // Two at once: both into the GUC, then /sync with a quorum of 1.
    assert_eq!(
        plan(&empty, &guc(&[], 0), &[], &["a", "b"], 1, false),
        vec![Guc(guc(&["a", "b"], 1))]
    );
    assert_eq!(
        plan(
            &empty,
            &guc(&["a", "b"], 1),
            &["a", "b"],
            &["a", "b"],
            1,
            false
        ),
        vec![Key(key(&["a", "b"], 1))]
    );
}

#[test]
fn a_new_standby_joins_sync_first_with_a_bigger_quorum() {
    let k = key(&["a", "b"], 1);
    assert_eq!(
        plan(
            &k,
            &guc(&["a", "b"], 1),
            &["a", "b"],
            &["a", "b", "c"],
            1,
            false
        ),
        vec![Key(key(&["a", "b", "c"], 2)), Guc(guc(&["a", "b", "c"], 1))]
    );
}

#[test]
fn a_gone_standby_leaves_the_guc_first_then_sync() {
    let k = key(&["a", "b", "c"], 2);
    let g = guc(&["a", "b", "c"], 1);
    assert_eq!(
        plan(&k, &g, &["a", "b", "c"], &["a", "b"], 1, false),
        vec![Guc(guc(&["a", "b"], 1))]
    );
    assert_eq!(
        plan(&k, &guc(&["a", "b"], 1), &["a", "b"], &["a", "b"], 1, false),
        vec![Key(key(&["a", "b"], 1))]
    );
    // The last one gone: /sync first names nobody, then the GUC empties.
    let k = key(&["a"], 0);
    assert_eq!(
        plan(&k, &guc(&["a"], 1), &["a"], &[], 1, false),
        vec![Key(key(&[], 0)), Guc(guc(&[], 0))]
    );
    // Strict: the GUC keeps asking for one.
    assert_eq!(
        plan(&k, &guc(&["a"], 1), &["a"], &[], 1, true),
        vec![Key(key(&[], 0)), Guc(guc(&[], 1))]
    );
}

#[test]
fn the_replication_factor_rises_in_the_guc_first_and_falls_in_sync_first() {
    let all = ["a", "b", "c"];
    let k = key(&all, 2);
    assert_eq!(
        plan(&k, &guc(&all, 1), &all, &all, 2, false),
        vec![Guc(guc(&all, 2))]
    );
    assert_eq!(
        plan(&k, &guc(&all, 2), &all, &all, 2, false),
        vec![Key(key(&all, 1))]
    );
    let k = key(&all, 1);
    assert_eq!(
        plan(&k, &guc(&all, 2), &all, &all, 1, false),
        vec![Key(key(&all, 2)), Guc(guc(&all, 1))]
    );
}

#[test]
fn a_new_primary_claims_sync_without_itself_and_keeps_the_quorum() {
    let k = key(&["a", "b", "c"], 1);
    assert_eq!(claim_key("b", Some("a"), &k), Some(key(&["a", "c"], 1)));
    assert_eq!(claim_key("a", Some("a"), &k), None);
    assert_eq!(claim_key("a", None, &k), None);
    // Before promoting: the others, of whom voters - quorum - 1 must acknowledge.
    assert_eq!(pre_promote_guc("b", Some(&k), false), guc(&["a", "c"], 1));
    // A non-voter that won the race needs one more.
    assert_eq!(
        pre_promote_guc("d", Some(&k), false),
        guc(&["a", "b", "c"], 2)
    );
    assert_eq!(pre_promote_guc("b", None, true), guc(&[], 1));
    // Both steps keep the guarantee (b, the primary, holds every commit: the old key's voters
    // without it are what a race can count on).
    let claimed = key(&["a", "c"], 1);
    assert!(guc_change_safe(
        &claimed,
        &pre_promote_guc("b", Some(&k), false)
    ));
    assert!(key_change_safe(&k, &claimed, &guc(&["a", "c"], 1), &n(&[])));
    let claimed = key(&["a", "b", "c"], 1);
    assert!(guc_change_safe(
        &claimed,
        &pre_promote_guc("d", Some(&k), false)
    ));
    // The claim checks the GUC it runs with: one that does not cover the voters claims nobody.
    let k = key(&["a", "b", "c"], 1);
    let pre = pre_promote_guc("b", Some(&k), false);
    assert_eq!(claim("b", Some(("a", &k)), &pre), key(&["a", "c"], 1));
    assert_eq!(claim("b", Some(("a", &k)), &guc(&[], 0)), key(&[], 0));
    assert_eq!(claim("b", None, &pre), key(&[], 0));
}

#[test]
fn confirmation_needs_the_position_and_the_quorum_state() {
    let row = |name: &str, lsn: u64, st: &str| ReplicationRow {
        name: name.into(),
        state: "streaming".into(),
        sync_state: st.into(),
        flush_lsn: Lsn(lsn),
    };
    let rows = [
        row("a", 100, "quorum"),
        row("b", 99, "quorum"),
        row("c", 200, "async"),
    ];
    let g = guc(&["a", "b", "c"], 1);
    assert_eq!(confirmed_members(&n(&[]), &g, &rows, Lsn(100)), n(&["a"]));
    assert_eq!(
        confirmed_members(&n(&["b", "z"]), &g, &rows, Lsn(100)),
        n(&["a", "b"])
    );
}

#[test]
fn active_standbys_leave_out_nosync_and_add_nofailover_only_to_fill() {
    let row = |name: &str| ReplicationRow {
        name: name.into(),
        state: "streaming".into(),
        sync_state: "async".into(),
        flush_lsn: Lsn(1),
    };
    let tags = |name: &str| -> Option<Tags> {
        let mut t = Tags::default();
        match name {
            "ns" => t.nosync = true,
            "nf" => t.nofailover = true,
            "ghost" => return None,
            _ => {}
        }
        Some(t)
    };
    let rows = [row("a"), row("nf"), row("ns"), row("ghost")];
    assert_eq!(active_members(&rows, &tags, 1), n(&["a"]));
    assert_eq!(active_members(&rows, &tags, 2), n(&["a", "nf"]));
}

#[test]
fn the_race_counts_the_candidate_once() {
    let k = key(&["a", "b", "c"], 1);
    // A voter needs one other vote, a non-voter two.
    assert!(!race_votes("a", Some("x"), &k, 0));
    assert!(race_votes("a", Some("x"), &k, 1));
    assert!(!race_votes("d", Some("x"), &k, 1));
    assert!(race_votes("d", Some("x"), &k, 2));
    // The former primary, with nobody ahead.
    assert!(race_votes("x", Some("x"), &k, 0));
}

/// From many states, every plan's writes are safe by the brute-force overlap (and against the
/// commits confirmed members hold), and repeating plan-and-confirm reaches the target within
/// four rounds.
#[test]
fn every_plan_is_safe_and_reaches_the_target() {
    let u = ["a", "b", "c", "d"];
    let subsets = all_subsets(&u);
    let mut seed: u64 = 7;
    let mut rnd = |m: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % m
    };
    for _ in 0..4000 {
        let active = subsets[rnd(subsets.len())].clone();
        let wanted = 1 + rnd(3);
        let strict = rnd(2) == 1;
        // A safe starting point: a target of some other active set, then drift.
        let old_active = subsets[rnd(subsets.len())].clone();
        let (mut k, mut g) = target(&old_active, 1 + rnd(3), strict);
        let mut confirmed: Names = g.members.clone();
        for round in 0..5 {
            let steps = plan_quorum(&QuorumFacts {
                key: &k,
                guc: &g,
                confirmed: &confirmed,
                active: &active,
                wanted,
                strict,
            });
            if steps.is_empty() {
                break;
            }
            assert!(round < 4, "no convergence: {k:?} {g:?} -> {active:?}");
            for s in steps.clone() {
                match s {
                    QuorumStep::Wait => unreachable!("plans end before a wait"),
                    Key(nk) => {
                        assert!(overlaps(&nk, &g), "{nk:?} with {g:?}");
                        // Commits from before the GUC changed: confirmed members or the
                        // old /sync's quorum cover them.
                        assert!(key_change_safe(&k, &nk, &g, &confirmed));
                        k = nk;
                    }
                    Guc(ng) => {
                        assert!(overlaps(&k, &ng), "{k:?} with {ng:?}");
                        if !strict {
                            assert!(
                                ng.num <= ng.members.intersection(&active).count(),
                                "{ng:?} asks more than are streaming"
                            );
                        }
                        g = ng;
                        // The active ones confirm; the others do not.
                        confirmed = g.members.intersection(&active).cloned().collect();
                    }
                }
            }
            // Time passes: the streaming members of the GUC confirm.
            confirmed.extend(g.members.intersection(&active).cloned());
        }
        assert_eq!((k, g), target(&active, wanted, strict));
    }
}

#[test]
fn the_running_guc_is_read_back_in_every_form() {
    assert_eq!(parse_guc(""), Some((guc(&[], 0), false)));
    assert_eq!(parse_guc("ANY 1 (a,b)"), Some((guc(&["a", "b"], 1), true)));
    assert_eq!(parse_guc("ANY 1 (*)"), Some((guc(&[], 1), true)));
    assert_eq!(
        parse_guc("any 2 (\"m-2\", B , c)"),
        Some((guc(&["m-2", "b", "c"], 2), true))
    );
    assert_eq!(
        parse_guc("2 (a,b,c)"),
        Some((guc(&["a", "b", "c"], 2), false))
    );
    assert_eq!(parse_guc("FIRST 1 (a)"), Some((guc(&["a"], 1), false)));
    assert_eq!(parse_guc("a"), Some((guc(&["a"], 1), false)));
    assert_eq!(parse_guc("a, b"), Some((guc(&["a", "b"], 1), false)));
    assert_eq!(parse_guc("*"), Some((guc(&[], 1), false)));
    // What praetor renders reads back as itself.
    let g = guc(&["x\"y", "m-1", "a"], 2);
    assert_eq!(parse_guc(&g.render()), Some((g, true)));
    assert_eq!(parse_guc("ANY (a)"), None);
    assert_eq!(parse_guc("ANY 1 (a,,b)"), None);
}
