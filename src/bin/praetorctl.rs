//! `praetorctl`: command-line control of a praetor (or Patroni) cluster. This build has `list`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Result};
use clap::{Parser, Subcommand};
use praetor::config::{process_env, Config, EtcdConfig};
use praetor::ctl::{parse_dcs_url, render_list, Format};
use praetor::dcs::etcd::EtcdDcs;

/// Control a praetor / Patroni cluster through etcd.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Agent configuration file to take etcd, namespace and scope from.
    #[arg(short = 'c', long = "config-file", env = "PATRONICTL_CONFIG_FILE")]
    config: Option<PathBuf>,
    /// etcd3://host:port[/namespace] instead of a configuration file.
    #[arg(short = 'd', long = "dcs-url", env = "DCS_URL")]
    dcs_url: Option<String>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List the members of a cluster (patronictl's table).
    List {
        /// Cluster name (default: scope from the configuration).
        cluster: Option<String>,
        /// Only this Citus group.
        #[arg(long)]
        group: Option<u32>,
        /// Show all columns.
        #[arg(short = 'e', long)]
        extended: bool,
        /// Output format.
        #[arg(short = 'f', long, value_enum, default_value_t = Format::Pretty)]
        format: Format,
        /// Refresh every 2 seconds.
        #[arg(short = 'W')]
        watch_default: bool,
        /// Refresh every N seconds.
        #[arg(short = 'w', long = "watch")]
        watch: Option<f64>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let (etcd, namespace, cfg_scope) = match (&cli.dcs_url, &cli.config) {
        (Some(url), _) => {
            let (ep, ns) = parse_dcs_url(url)?;
            (
                EtcdConfig {
                    endpoints: vec![ep],
                    username: None,
                    password: None,
                },
                ns.unwrap_or_else(|| "/service/".into()),
                None,
            )
        }
        (None, Some(path)) => {
            let c = Config::load(Some(path), &process_env()).map_err(|e| anyhow!("{e}"))?;
            (c.etcd.clone(), c.namespace.clone(), Some(c.scope.clone()))
        }
        (None, None) => return Err(anyhow!("give -c CONFIG or --dcs-url etcd3://host:port")),
    };
    match cli.command {
        Cmd::List {
            cluster,
            group,
            extended,
            format,
            watch_default,
            watch,
        } => {
            let scope = cluster
                .or(cfg_scope)
                .ok_or_else(|| anyhow!("name the cluster: praetorctl list CLUSTER"))?;
            let dcs = EtcdDcs::connect(
                &etcd,
                &format!("{namespace}{scope}/"),
                "praetorctl",
                Duration::from_secs(5),
            )
            .await?;
            let every = watch.or(watch_default.then_some(2.0));
            loop {
                let groups = load_groups(&dcs, &namespace, &scope, group).await?;
                if every.is_some() {
                    print!(
                        "\x1b[2J\x1b[H{}\n",
                        chrono::Local::now().format("%Y-%m-%d %H:%M:%S")
                    );
                }
                print!("{}", render_list(&scope, &groups, format, extended)?);
                match every {
                    Some(s) => tokio::time::sleep(Duration::from_secs_f64(s.max(0.1))).await,
                    None => return Ok(()),
                }
            }
        }
    }
}

/// Reads the scope; when its keys sit under numeric group directories (Citus), reads each group.
async fn load_groups(
    dcs: &EtcdDcs,
    namespace: &str,
    scope: &str,
    only: Option<u32>,
) -> Result<Vec<(Option<u32>, praetor::dcs::ClusterView)>> {
    let prefix = format!("{namespace}{scope}/");
    let keys = dcs.list_keys(&prefix).await?;
    let mut groups: Vec<u32> = keys
        .iter()
        .filter_map(|k| k.strip_prefix(&prefix)?.split('/').next()?.parse().ok())
        .collect();
    groups.sort();
    groups.dedup();
    if groups.is_empty() {
        return Ok(vec![(None, dcs.load_prefix(&prefix).await?)]);
    }
    let mut out = Vec::new();
    for g in groups.into_iter().filter(|g| only.is_none_or(|o| o == *g)) {
        out.push((Some(g), dcs.load_prefix(&format!("{prefix}{g}/")).await?));
    }
    Ok(out)
}
