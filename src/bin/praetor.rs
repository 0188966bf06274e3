//! `praetor`: the agent (`praetor CONFIG.yml`), config check (`--validate-config`), and the local
//! demo cluster (`praetor demo`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use praetor::agent::driver::{Driver, Exit};
use praetor::config::{process_env, Config};

/// High-availability agent for PostgreSQL (Patroni-compatible configuration, etcd layout and REST API).
#[derive(Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    /// Patroni-style YAML configuration file (or set PATRONI_CONFIGURATION).
    config: Option<PathBuf>,
    /// Check the configuration file and exit: 0 when valid, 2 with one error line when not.
    #[arg(long)]
    validate_config: bool,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// Internal: the fence guard the agent starts beside itself (see ARCHITECTURE.md, fencing).
    #[command(hide = true)]
    FenceGuard {
        /// Data directory of the guarded server.
        #[arg(long)]
        data_dir: PathBuf,
        /// Fence this many milliseconds before the lease deadline.
        #[arg(long)]
        margin_ms: u64,
        /// Start armed with this many milliseconds left (taking over from a previous guard).
        #[arg(long)]
        armed_ms: Option<u64>,
    },
    /// Start etcd and a three-member group on 127.0.0.1 in a temporary directory; Ctrl-C stops it all.
    Demo {
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
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The guard is a small synchronous program: no async runtime (and none of its memory).
    if let Some(Cmd::FenceGuard {
        data_dir,
        margin_ms,
        armed_ms,
    }) = &cli.command
    {
        praetor::fence::run_guard(
            data_dir,
            Duration::from_millis(*margin_ms),
            armed_ms.map(Duration::from_millis),
        );
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("praetor: starting the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(Cmd::Demo {
        members,
        keep,
        citus,
    }) = cli.command
    {
        praetor::logging::init(None);
        return match rt.block_on(demo(members, keep, citus)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("praetor demo: {e:#}");
                ExitCode::from(1)
            }
        };
    }
    let cfg = match Config::load(cli.config.as_deref(), &process_env()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("praetor: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.validate_config {
        println!("{}: configuration is valid", cfg.source);
        return ExitCode::SUCCESS;
    }
    praetor::logging::init(Some(&cfg.log));
    if nix::unistd::geteuid().is_root() {
        eprintln!("praetor: refusing to run as root: PostgreSQL does not run as root; start praetor as the postgres user");
        return ExitCode::from(1);
    }
    match rt.block_on(agent(cfg)) {
        Ok(Exit::Shutdown) => ExitCode::SUCCESS,
        Ok(Exit::Fatal(msg)) => {
            eprintln!("praetor: {msg}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("praetor: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn agent(cfg: Config) -> anyhow::Result<Exit> {
    use anyhow::Context;
    let cfg = Arc::new(cfg);
    let listener = tokio::net::TcpListener::bind(&cfg.restapi.listen)
        .await
        .with_context(|| {
            format!(
                "binding the REST API to restapi.listen {}",
                cfg.restapi.listen
            )
        })?;
    let (driver, shared) = Driver::new(cfg.clone()).await?;
    let commands = shared.commands.clone();
    let app = praetor::api::router(shared.clone());
    let tls = {
        let shared = shared.clone();
        Arc::new(move || shared.rest_tls()) as praetor::api::server::TlsSource
    };
    tokio::spawn(praetor::api::server::serve(listener, app, tls));
    // SIGHUP (`systemctl reload`): the same reload as POST /reload — the file is read again and
    // what can change while running is applied (see `Driver::reload_config_file`); a file that no
    // longer loads is reported and the running configuration stays.
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            let (tx, rx) = tokio::sync::oneshot::channel();
            if commands
                .send(praetor::agent::driver::Command::Reload(tx))
                .await
                .is_err()
            {
                return;
            }
            match rx.await {
                Ok(Ok(())) => tracing::info!(
                    "SIGHUP: configuration file checked and applied, PostgreSQL settings rewritten and reloaded"
                ),
                Ok(Err(e)) => tracing::error!("SIGHUP: {e}"),
                Err(_) => return,
            }
        }
    });
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        tracing::info!("received a stop signal");
        let _ = tx.send(true);
    });
    tracing::info!(
        "praetor {} starting: member {} of scope {}",
        env!("CARGO_PKG_VERSION"),
        cfg.name,
        cfg.scope
    );
    Ok(driver.run(rx).await)
}

async fn demo(members: usize, keep: bool, citus: bool) -> anyhow::Result<()> {
    use praetor::testbed::{find_etcd, Testbed, Timing};
    find_etcd()?;
    praetor::postgres::find_bin_dir(None)?;
    let exe = std::env::current_exe()?;
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

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
