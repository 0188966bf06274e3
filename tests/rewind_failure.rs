//! pg_rewind made to fail for real: the rewind role loses the functions pg_rewind needs on the
//! source (as after a careless permissions change), the leader is killed, and the former primary,
//! restarted, must rewind from the new leader. With Patroni's default
//! (`remove_data_directory_on_rewind_failure` off) its data directory is kept — a file left in it
//! survives — and it says why in its log; with the key on it is removed and the member re-cloned.

mod common;

use std::time::Duration;

use praetor_testbed::Testbed;

const MARKER: &str = "kept-by-praetor-test";

/// Kills the leader of a fresh three-member group whose rewind role cannot read the source's
/// files, restarts it, and returns the testbed and the former leader's name once it is a standby
/// again.
async fn failed_rewind(scope: &str, remove_data: bool) -> (Testbed, String) {
    let (mut tb, old) = common::three_member_group(scope, 3).await;
    let leader_api = tb.agents[&old].rest_port;
    if remove_data {
        let r = reqwest::Client::new()
            .patch(format!("http://127.0.0.1:{leader_api}/config"))
            .json(&serde_json::json!({"postgresql": {"remove_data_directory_on_rewind_failure": true}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    let c = tb.pg(&old).await.unwrap();
    for f in [
        "pg_catalog.pg_ls_dir(text, boolean, boolean)",
        "pg_catalog.pg_stat_file(text, boolean)",
        "pg_catalog.pg_read_binary_file(text)",
        "pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)",
    ] {
        c.batch_execute(&format!("REVOKE EXECUTE ON FUNCTION {f} FROM rewind_user"))
            .await
            .unwrap();
    }
    // Let the revocation (and the configuration) reach the standbys.
    c.batch_execute("CHECKPOINT").await.unwrap();
    tokio::time::sleep(Duration::from_secs(common::TIMING.loop_wait + 1)).await;
    std::fs::write(tb.agents[&old].data_dir.join(MARKER), "x").unwrap();

    tb.kill_member(&old);
    let new_leader = common::wait_for(Duration::from_secs(60), || async {
        let l = tb.view().await.ok()?.leader?.name;
        (l != old).then_some(l)
    })
    .await;
    if new_leader.is_none() {
        common::dump_logs(&tb);
        panic!("no new leader after killing {old}");
    }
    tb.start_agent(&old).unwrap();
    let back = common::wait_for(Duration::from_secs(90), || async {
        let log = std::fs::read_to_string(&tb.agents[&old].log).unwrap_or_default();
        log.contains("pg_rewind failed and").then_some(())
    })
    .await;
    if back.is_none() {
        common::dump_logs(&tb);
        panic!("{old} did not report a failed pg_rewind");
    }
    (tb, old)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_rewind_keeps_the_data_directory_by_default() {
    let (tb, old) = failed_rewind("rewindkeep", false).await;
    let log = std::fs::read_to_string(&tb.agents[&old].log).unwrap();
    assert!(
        log.contains("keeping the data directory and starting as a standby"),
        "{log}"
    );
    assert!(!log.contains("removing the data directory"), "{log}");
    // Still kept a few cycles later: the rewind is not retried, nothing re-clones it.
    tokio::time::sleep(Duration::from_secs(common::TIMING.loop_wait * 3)).await;
    assert!(
        tb.agents[&old].data_dir.join(MARKER).exists(),
        "the data directory of {old} was replaced"
    );
    let log = std::fs::read_to_string(&tb.agents[&old].log).unwrap();
    assert!(!log.contains("pg_basebackup"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_rewind_reclones_only_when_the_key_allows_it() {
    let (tb, old) = failed_rewind("rewindremove", true).await;
    if let Err(e) = tb.wait_healthy(2, Duration::from_secs(90)).await {
        common::dump_logs(&tb);
        panic!("{e:#}");
    }
    let log = std::fs::read_to_string(&tb.agents[&old].log).unwrap();
    assert!(
        log.contains("remove_data_directory_on_rewind_failure is on: removing the data directory"),
        "{log}"
    );
    assert!(
        !tb.agents[&old].data_dir.join(MARKER).exists(),
        "{old} was not re-cloned"
    );
}
