//! Replication slots with real etcd and PostgreSQL: the permanent physical slot `archiver` exists
//! on every member and is moved along on the replicas; the permanent logical slot `cdc` exists on
//! the primary and is copied to the replicas, whose copies follow the primary's position (as
//! Patroni's logical slot failover does); both are there on the new primary after a switchover
//! and after a failover, `cdc` at the position its consumer had confirmed on the old primary; a
//! slot matching `ignore_slots` created by hand is never dropped, while another slot of nobody's
//! is dropped (member_slots_ttl 0).
//!
//! Run: `cargo test --test slots -- --nocapture` (needs PostgreSQL 15 binaries and etcd, as the
//! other tests under tests/; `PRAETOR_TEST_KEEP=1` keeps the directory).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use praetor_testbed::Testbed;

/// The member's slots: name → `physical` or `logical`.
async fn slots(tb: &Testbed, member: &str) -> Option<BTreeMap<String, String>> {
    let c = tb.pg(member).await.ok()?;
    let rows = c
        .query(
            "SELECT slot_name::text, slot_type::text FROM pg_replication_slots WHERE NOT temporary",
            &[],
        )
        .await
        .ok()?;
    Some(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Waits until `member`'s slots satisfy `ok`; panics with the logs and what was seen otherwise.
async fn wait_slots(
    tb: &Testbed,
    member: &str,
    what: &str,
    ok: impl Fn(&BTreeMap<String, String>) -> bool,
) -> BTreeMap<String, String> {
    let got = common::wait_for(Duration::from_secs(30), || async {
        slots(tb, member).await.filter(|s| ok(s))
    })
    .await;
    match got {
        Some(s) => s,
        None => {
            common::dump_logs(tb);
            panic!("{member}: {what}; its slots: {:?}", slots(tb, member).await);
        }
    }
}

fn has(s: &BTreeMap<String, String>, name: &str, kind: &str) -> bool {
    s.get(name).map(String::as_str) == Some(kind)
}

/// The permanent slots the primary holds.
fn primary_slots(s: &BTreeMap<String, String>) -> bool {
    has(s, "archiver", "physical") && has(s, "cdc", "logical")
}

/// `cdc`'s `confirmed_flush_lsn` on `member`.
async fn cdc_at(tb: &Testbed, member: &str) -> Option<String> {
    let c = tb.pg(member).await.ok()?;
    let row = c
        .query_opt(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'cdc'",
            &[],
        )
        .await
        .ok()??;
    row.get(0)
}

/// Moves `cdc` on the primary `leader` to its current WAL position (as a consumer confirming
/// everything would), waits for every other member's copy to be there, and returns the position.
async fn consume_cdc(tb: &Testbed, leader: &str, members: &[&str]) -> String {
    sql(
        tb,
        leader,
        "INSERT INTO filler SELECT g FROM generate_series(1, 1000) g; \
         SELECT pg_replication_slot_advance('cdc', pg_current_wal_lsn())",
    )
    .await;
    let at = cdc_at(tb, leader).await.expect("cdc on the primary");
    for m in members.iter().filter(|m| **m != leader) {
        let copied = common::wait_for(Duration::from_secs(40), || async {
            (cdc_at(tb, m).await.as_deref() == Some(at.as_str())).then_some(())
        })
        .await;
        if copied.is_none() {
            common::dump_logs(tb);
            panic!(
                "{m}: cdc is at {:?}, not at the primary's {at}",
                cdc_at(tb, m).await
            );
        }
    }
    at
}

async fn sql(tb: &Testbed, member: &str, q: &str) {
    let c = tb.pg(member).await.unwrap();
    c.batch_execute(q)
        .await
        .unwrap_or_else(|e| panic!("{member}: {q}: {e}"));
}

/// Creates `by_hand` (ignored) and `stray` (nobody's) on `member`, then waits for `stray` to be
/// dropped (only a primary drops) and checks `by_hand` is still there, a few cycles later too.
async fn ignored_kept_stray_dropped(tb: &Testbed, member: &str) {
    sql(
        tb,
        member,
        "SELECT pg_create_physical_replication_slot(n, true) FROM unnest(ARRAY['by_hand', 'stray']) n
          WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = n)",
    )
    .await;
    wait_slots(tb, member, "stray dropped, by_hand kept", |s| {
        !s.contains_key("stray") && s.contains_key("by_hand")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3 * common::TIMING.loop_wait)).await;
    let s = slots(tb, member).await.unwrap();
    assert!(s.contains_key("by_hand"), "{member}: {s:?}");
}

/// `archiver`'s restart_lsn on `member`, bytes.
async fn archiver_at(tb: &Testbed, member: &str) -> i64 {
    let c = tb.pg(member).await.unwrap();
    c.query_one(
        "SELECT (restart_lsn - '0/0')::bigint FROM pg_replication_slots WHERE slot_name = 'archiver'",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

async fn leader_other_than(tb: &Testbed, old: &str) -> String {
    let l = common::wait_for(Duration::from_secs(60), || async {
        let l = tb.view().await.ok()?.leader?.name;
        (l != old).then_some(l)
    })
    .await;
    l.unwrap_or_else(|| {
        common::dump_logs(tb);
        panic!("no leader other than {old}")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_slots_survive_switchover_and_failover_and_ignored_slots_stay() {
    let mut tb = common::testbed("slots");
    tb.extra_dcs = [
        "    member_slots_ttl: 0",
        "    slots:",
        "      archiver: {type: physical}",
        "      cdc: {type: logical, database: postgres, plugin: pgoutput}",
        "    ignore_slots:",
        "      - {name: by_hand}",
        "",
    ]
    .join("\n");
    tb.start_etcd().await.unwrap();
    let members = ["m1", "m2", "m3"];
    for m in members {
        // Logical slots need wal_level logical (a cluster-wide setting of bootstrap.dcs).
        tb.configure_agent(m).unwrap();
        let path = tb.agents[m].config.clone();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("        max_connections: 50\n"));
        let text = text.replacen(
            "        max_connections: 50\n",
            "        max_connections: 50\n        wal_level: logical\n",
            1,
        );
        std::fs::write(&path, text).unwrap();
        tb.start_agent(m).unwrap();
    }
    let leader = common::healthy(&tb, 2, Duration::from_secs(120)).await;
    let replicas: Vec<&str> = members.into_iter().filter(|m| *m != leader).collect();

    // The primary holds both permanent slots, the replicas archiver (and their copy of cdc, below).
    wait_slots(
        &tb,
        &leader,
        "permanent slots on the primary",
        primary_slots,
    )
    .await;
    for r in &replicas {
        let s = wait_slots(&tb, r, "archiver on a replica", |s| {
            has(s, "archiver", "physical")
        })
        .await;
        assert!(has(&s, "archiver", "physical"), "{r}: {s:?}");
    }
    ignored_kept_stray_dropped(&tb, &leader).await;

    // A replica's archiver follows its replay position.
    let before = archiver_at(&tb, replicas[0]).await;
    sql(
        &tb,
        &leader,
        "CREATE TABLE IF NOT EXISTS filler AS SELECT g FROM generate_series(1, 10000) g; \
         SELECT pg_switch_wal(); CHECKPOINT",
    )
    .await;
    let moved = common::wait_for(Duration::from_secs(30), || async {
        (archiver_at(&tb, replicas[0]).await > before).then_some(())
    })
    .await;
    assert!(
        moved.is_some(),
        "archiver on {} stayed at {before}",
        replicas[0]
    );

    // A consumer confirms cdc up to the primary's position: the replicas' copies follow.
    let confirmed = consume_cdc(&tb, &leader, &members).await;

    // Switchover to a replica: the new primary keeps archiver and its copy of cdc, at the
    // position the consumer confirmed; the former primary, now a replica, keeps every permanent
    // and ignored slot.
    let candidate = replicas[0].to_string();
    let resp = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/switchover",
            tb.agents[&leader].rest_port
        ))
        .json(&serde_json::json!({"leader": leader, "candidate": candidate}))
        .send()
        .await
        .unwrap();
    let code = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    assert_eq!(code, 200, "{body}");
    let new_leader = leader_other_than(&tb, &leader).await;
    assert_eq!(new_leader, candidate);
    common::healthy(&tb, 2, Duration::from_secs(90)).await;
    wait_slots(
        &tb,
        &new_leader,
        "permanent slots after the switchover",
        primary_slots,
    )
    .await;
    assert_eq!(
        cdc_at(&tb, &new_leader).await.as_deref(),
        Some(confirmed.as_str()),
        "cdc on the new primary is the copy, at the confirmed position"
    );
    let old = slots(&tb, &leader).await.unwrap();
    assert!(
        has(&old, "archiver", "physical")
            && has(&old, "cdc", "logical")
            && old.contains_key("by_hand"),
        "{leader}: {old:?}"
    );
    ignored_kept_stray_dropped(&tb, &new_leader).await;

    // by_hand on every member, then a failover: kill the new primary.
    for m in members.iter().filter(|m| **m != new_leader) {
        sql(
            &tb,
            m,
            "SELECT pg_create_physical_replication_slot('by_hand', true)
              WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = 'by_hand')",
        )
        .await;
    }
    let confirmed = consume_cdc(&tb, &new_leader, &members).await;
    tb.kill_member(&new_leader);
    let third = leader_other_than(&tb, &new_leader).await;
    wait_slots(
        &tb,
        &third,
        "permanent slots after the failover",
        primary_slots,
    )
    .await;
    assert_eq!(
        cdc_at(&tb, &third).await.as_deref(),
        Some(confirmed.as_str()),
        "cdc after the failover is the copy, at the confirmed position"
    );
    ignored_kept_stray_dropped(&tb, &third).await;

    // The killed member comes back as a replica (pg_rewind keeps its own pg_replslot): every
    // member holds archiver again.
    tb.start_agent(&new_leader).unwrap();
    common::healthy(&tb, 2, Duration::from_secs(90)).await;
    for m in members {
        wait_slots(&tb, m, "archiver on every member", |s| {
            has(s, "archiver", "physical")
        })
        .await;
    }
    let s = slots(&tb, &third).await.unwrap();
    assert!(
        primary_slots(&s) && s.contains_key("by_hand"),
        "{third}: {s:?}"
    );
}
