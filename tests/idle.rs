//! An idle group, as production sees it between events: every agent keeps one connection to its
//! PostgreSQL (no new session, so no backend fork, authentication or `log_connections` line per
//! cycle), and a value another writer left unreadable in a DCS key is logged once when it appears
//! and once when it is gone, not on every cycle. Not timed: the wake-up and CPU figures are in
//! bench/.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use praetor::dcs::keys;
use praetor_testbed::Testbed;

/// The backend pids of the agent's own sessions on member `name`'s server, and the sessions
/// established there so far (`pg_stat_database.sessions`, all databases; a session is counted
/// when its statistics are flushed, at the latest when it ends, so this reading's own session
/// counts in the next reading).
async fn sessions(tb: &Testbed, name: &str) -> (BTreeSet<i32>, i64) {
    let c = tb.pg(name).await.expect("connecting to a member");
    let pids = c
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'praetor'",
            &[],
        )
        .await
        .expect("reading pg_stat_activity")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let total: i64 = c
        .query_one(
            "SELECT COALESCE(sum(sessions), 0)::bigint FROM pg_stat_database",
            &[],
        )
        .await
        .expect("reading pg_stat_database")
        .get(0);
    (pids, total)
}

/// How many lines of agent `name`'s log contain `needle`.
fn log_lines(tb: &Testbed, name: &str, needle: &str) -> usize {
    std::fs::read_to_string(&tb.agents[name].log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_agent_makes_no_new_session_and_reports_a_bad_value_once() {
    let (tb, _leader) = common::three_member_group("idle", 2).await;
    let cycle = Duration::from_secs(common::TIMING.loop_wait);
    let names: Vec<String> = tb.agents.keys().cloned().collect();
    // Settle: the first cycles after the group came up create slots and fill /sync.
    tokio::time::sleep(cycle * 2).await;
    let mut before = Vec::new();
    for n in &names {
        before.push(sessions(&tb, n).await);
    }
    tokio::time::sleep(cycle * 3 + Duration::from_millis(500)).await;
    for (n, (pids, total)) in names.iter().zip(&before) {
        let (pids_after, total_after) = sessions(&tb, n).await;
        assert!(!pids.is_empty(), "{n}: the agent keeps no session at all");
        assert_eq!(
            &pids_after, pids,
            "{n}: the agent's kept session changed across three idle cycles"
        );
        // The only new session is the first reading's own.
        assert_eq!(
            total_after - total,
            1,
            "{n}: the agent opened new PostgreSQL sessions across three idle cycles"
        );
    }

    // A value no member can read, written by someone else into a key the group does not need.
    let dcs = tb.dcs().await.expect("etcd");
    dcs.put(keys::HISTORY, "[[1, 100, \"unfinished")
        .await
        .expect("writing a bad /history");
    tokio::time::sleep(cycle * 4).await;
    for n in &names {
        assert_eq!(
            log_lines(&tb, n, "ignoring DCS key /service/idle/history"),
            1,
            "{n}: the bad value is reported once, not every cycle"
        );
    }
    dcs.delete(keys::HISTORY).await.expect("deleting /history");
    tokio::time::sleep(cycle * 3).await;
    for n in &names {
        assert_eq!(
            log_lines(&tb, n, "DCS key /service/idle/history is readable again"),
            1,
            "{n}: the bad value's end is reported once"
        );
        assert_eq!(
            log_lines(&tb, n, "ignoring DCS key /service/idle/history"),
            1
        );
    }
}
