//! `praetorctl`: control a praetor (or Patroni) cluster through etcd and the members' REST APIs.
//! Commands, options, prompts, messages, tables and exit codes follow patronictl 4.1's, so
//! scripts written for it keep working.
//!
//! Files: [`cli`] (the command line), `context` (configuration, etcd, REST calls, prompts, member
//! selection), `commands`, `switchover` and `edit` (the commands), [`render`] (pure: tables,
//! history, configuration YAML and diffs, as Python prints them). This module talks to etcd and to
//! the members' REST APIs as any client would; it never imports the agent's REST handlers (`api`)
//! or runtime.

use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, Parser};

pub mod cli;
mod commands;
mod context;
mod edit;
pub mod render;
mod switchover;

pub use render::{
    apply_set, config_diff, config_yaml, parse_dcs_url, pretty_table, render_history, render_list,
    render_members, Format, ListSpec, Style,
};

use cli::*;
use context::{Aborted, Ctx};
use switchover::{change_cluster_role, demote_cluster, set_pause, switchover, Handover};

/// praetorctl's entry point: parses the command line, runs the command on a single-threaded
/// runtime; on failure prints `Error: …` (or click's `Aborted!` when the input ended at a prompt)
/// and exits 1, as patronictl does. Usage errors exit 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Cmd::Flush(a) = &cli.command {
        if let Err(msg) = a.target() {
            let mut cmd = Cli::command();
            cmd.build();
            if let Some(sub) = cmd.find_subcommand_mut("flush") {
                sub.error(clap::error::ErrorKind::InvalidValue, msg).exit();
            }
        }
    }
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
        Err(e) if e.is::<Aborted>() => {
            eprintln!("Aborted!");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    // `version` without a cluster name needs neither the configuration nor etcd.
    if let Cmd::Version(a) = &cli.command {
        if a.target.cluster.is_none() {
            println!("praetorctl version {}", env!("CARGO_PKG_VERSION"));
            return Ok(());
        }
    }
    let ctx = Ctx::connect(&cli).await?;
    match cli.command {
        Cmd::List(a) => commands::list(&ctx, a).await,
        Cmd::Topology(a) => commands::topology(&ctx, a).await,
        Cmd::Switchover(a) => {
            let h = Handover {
                switchover: true,
                leader: a.leader,
                candidate: a.candidate,
                scheduled: a.scheduled,
                force: a.force,
            };
            switchover(&ctx, h).await
        }
        Cmd::Failover(a) => {
            let h = Handover {
                switchover: false,
                leader: a.leader,
                candidate: a.candidate,
                scheduled: None,
                force: a.force,
            };
            switchover(&ctx, h).await
        }
        Cmd::Restart(a) => commands::restart(&ctx, a).await,
        Cmd::Reinit(a) => commands::reinit(&ctx, a).await,
        Cmd::Reload(a) => commands::reload(&ctx, a).await,
        Cmd::Flush(a) => commands::flush(&ctx, a).await,
        Cmd::Pause(PauseArgs { wait, .. }) => set_pause(&ctx, true, wait).await,
        Cmd::Resume(ResumeArgs { wait, .. }) => set_pause(&ctx, false, wait).await,
        Cmd::EditConfig(a) => edit::edit_config(&ctx, a).await,
        Cmd::ShowConfig(a) => commands::show_config(&ctx, a).await,
        Cmd::History(a) => commands::history(&ctx, a).await,
        Cmd::Remove(a) => commands::remove(&ctx, a).await,
        Cmd::Dsn(a) => commands::dsn(&ctx, a).await,
        Cmd::Query(a) => commands::query(&ctx, a).await,
        Cmd::Version(a) => commands::version(&ctx, a).await,
        Cmd::DemoteCluster(a) => demote_cluster(&ctx, a).await,
        Cmd::PromoteCluster(a) => change_cluster_role(&ctx, a.force, None).await,
    }
}
