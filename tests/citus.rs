//! A Citus cluster in one scope: a coordinator group (0) and two worker groups, each its own HA
//! group. Uses the real Citus extension when installed, otherwise the SQL stand-in in
//! tests/fixtures/citus_standin.sql (catalog shapes and function signatures only; see its header).

mod common;

use std::time::{Duration, Instant};

use praetor::testbed::Testbed;

const GROUPS: [(u32, [&str; 2]); 3] = [
    (0, ["coord1", "coord2"]),
    (1, ["work1-1", "work1-2"]),
    (2, ["work2-1", "work2-2"]),
];

async fn citus_cluster(scope: &str) -> Testbed {
    let mut tb = common::testbed(scope);
    tb.rest_auth = Some(("admin".into(), "admin-secret".into()));
    for (g, members) in GROUPS {
        for m in members {
            tb.citus_groups.insert(m.to_string(), g);
        }
    }
    tb.start_etcd().await.unwrap();
    for (_, members) in GROUPS {
        for m in members {
            tb.add_agent(m).unwrap();
        }
    }
    for (g, _) in GROUPS {
        if let Err(e) = tb
            .wait_healthy_in(Some(g), 1, Duration::from_secs(120))
            .await
        {
            common::dump_logs(&tb);
            panic!("group {g}: {e:#}");
        }
    }
    tb
}

async fn leader_of(tb: &Testbed, g: u32) -> String {
    tb.view_group(g).await.unwrap().leader.unwrap().name
}

/// pg_dist_node on the coordinator leader: (group, host:port, role) sorted.
async fn dist_nodes(tb: &Testbed) -> Vec<(i32, String, String)> {
    let coord = leader_of(tb, 0).await;
    let port = tb.agents[&coord].pg_port;
    let (c, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=postgres password=super-secret dbname=citus"),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let mut rows: Vec<(i32, String, String)> = c
        .query(
            "SELECT groupid, nodename || ':' || nodeport, noderole::text FROM pg_dist_node",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    rows.sort();
    rows
}

async fn expected_nodes(tb: &Testbed) -> Vec<(i32, String, String)> {
    let mut want = Vec::new();
    for (g, members) in GROUPS {
        let leader = leader_of(tb, g).await;
        for m in members {
            let role = if m == leader { "primary" } else { "secondary" };
            want.push((
                g as i32,
                format!("127.0.0.1:{}", tb.agents[m].pg_port),
                role.to_string(),
            ));
        }
    }
    want.sort();
    want
}

async fn wait_metadata(tb: &Testbed, within: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    common::wait_for(within, || async {
        let want = expected_nodes(tb).await;
        (dist_nodes(tb).await == want).then(|| t0.elapsed())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citus_groups_bootstrap_and_register_in_pg_dist_node() {
    let tb = citus_cluster("citusboot").await;
    if wait_metadata(&tb, Duration::from_secs(30)).await.is_none() {
        common::dump_logs(&tb);
        panic!(
            "pg_dist_node {:?} never matched {:?}",
            dist_nodes(&tb).await,
            expected_nodes(&tb).await
        );
    }
    println!("{:?}", dist_nodes(&tb).await);
}
