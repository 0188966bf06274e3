//! `praetor-demo` (also `praetor demo`): etcd and a group of praetor agents with their PostgreSQL
//! servers on 127.0.0.1 in a temporary directory, the `praetorctl list` table, everything stopped
//! on Ctrl-C. `--citus` starts a coordinator group and two worker groups instead.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use praetor_testbed::{find_etcd, Testbed, Timing};

/// Start etcd and a three-member group on 127.0.0.1 in a temporary directory; Ctrl-C stops it all.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Number of members.
    #[arg(long, default_value_t = 3)]
    members: usize,
    /// Keep the directory (logs, data) after stopping.
    #[arg(long)]
    keep: bool,
    /// A Citus cluster instead: a coordinator group of 2 and two worker groups of 2 (the real
    /// Citus extension when installed, else the SQL stand-in from tests/fixtures).
    #[arg(long)]
    citus: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = praetor::logging::init(None);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("praetor demo: starting the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(demo(cli.members, cli.keep, cli.citus)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("praetor demo: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn demo(members: usize, keep: bool, citus: bool) -> anyhow::Result<()> {
    find_etcd()?;
    praetor::postgres::find_bin_dir(None)?;
    // The agent binary sits beside this one in the build directory.
    let exe = std::env::current_exe()?.with_file_name("praetor");
    if !exe.exists() {
        anyhow::bail!(
            "{} is missing: build it with `cargo build --release --workspace`",
            exe.display()
        );
    }
    let scope = if citus { "citusdemo" } else { "demo" };
    let mut tb = Testbed::new(
        &exe,
        scope,
        Timing {
            ttl: 30,
            loop_wait: 10,
            retry_timeout: 10,
        },
    )?;
    if keep {
        tb.keep();
    }
    println!("praetor demo: directory {}", tb.dir.display());
    tb.start_etcd().await?;
    println!("praetor demo: etcd on {}", tb.etcd_url());
    let groups: Vec<(Option<u32>, Vec<String>)> = if citus {
        if !Testbed::citus_installed() {
            println!("praetor demo: the Citus extension is not installed; using the SQL stand-in (tests/fixtures/citus_standin.sql)");
        }
        [(0, "coord"), (1, "work1-"), (2, "work2-")]
            .iter()
            .map(|(g, p)| (Some(*g), (1..=2).map(|i| format!("{p}{i}")).collect()))
            .collect()
    } else {
        vec![(None, (1..=members).map(|i| format!("node{i}")).collect())]
    };
    for (g, names) in &groups {
        for n in names {
            if let Some(g) = g {
                tb.citus_groups.insert(n.clone(), *g);
            }
            tb.add_agent(n)?;
        }
    }
    let mut views = Vec::new();
    for (g, names) in &groups {
        let leader = tb
            .wait_healthy_in(*g, names.len().saturating_sub(1), Duration::from_secs(180))
            .await?;
        println!(
            "praetor demo: {leader} leads{}",
            g.map(|g| format!(" group {g}")).unwrap_or_default()
        );
        let view = match g {
            Some(g) => tb.view_group(*g).await?,
            None => tb.view().await?,
        };
        views.push((*g, view));
    }
    println!("REST APIs:");
    for (n, a) in &tb.agents {
        println!(
            "  {n}: http://127.0.0.1:{}/patroni   PostgreSQL 127.0.0.1:{}",
            a.rest_port, a.pg_port
        );
    }
    print!(
        "{}",
        praetor::ctl::render_list(scope, &views, praetor::ctl::Format::Pretty, false)?
    );
    if citus {
        let coord = views[0]
            .1
            .leader
            .as_ref()
            .map(|l| l.name.clone())
            .unwrap_or_default();
        let port = tb.agents[&coord].pg_port;
        let (c, conn) = tokio_postgres::connect(
            &format!("host=127.0.0.1 port={port} user=postgres password=super-secret dbname=citus"),
            tokio_postgres::NoTls,
        )
        .await?;
        tokio::spawn(conn);
        // The coordinator registers the workers on its next reconciliation: wait for them.
        let want = tb.agents.len() as i64;
        for _ in 0..150 {
            let n: i64 = c
                .query_one("SELECT count(*) FROM pg_dist_node", &[])
                .await?
                .get(0);
            if n >= want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        println!("pg_dist_node on the coordinator ({coord}):");
        let rows = c
            .query("SELECT nodeid, groupid, nodename, nodeport, noderole::text FROM pg_dist_node ORDER BY groupid, noderole, nodeid", &[])
            .await?;
        let body: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.get::<_, i32>(0).to_string(),
                    r.get::<_, i32>(1).to_string(),
                    r.get::<_, String>(2),
                    r.get::<_, i32>(3).to_string(),
                    r.get::<_, String>(4),
                ]
            })
            .collect();
        print!(
            "{}",
            praetor::ctl::pretty_table(
                None,
                &["nodeid", "groupid", "nodename", "nodeport", "noderole"],
                &body,
                &["nodeid", "groupid", "nodeport"]
            )
        );
    }
    println!(
        "praetorctl --dcs-url etcd3://127.0.0.1:{} list {scope}    # from another terminal",
        tb.etcd_port
    );
    println!("Press Ctrl-C to stop everything.");
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} }
    println!("praetor demo: stopping");
    tb.stop_all();
    Ok(())
}
