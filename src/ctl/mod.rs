//! `praetorctl`: control a praetor (or Patroni) cluster through etcd and the members' REST APIs.
//! Commands, options, prompts and output follow patronictl's, so scripts written for it keep
//! working.
//!
//! Files: [`cli`] (the command line), `context` (configuration, etcd, REST calls, prompts, member
//! selection), `commands`, `switchover` and `edit` (the commands), [`render`] (pure: tables,
//! history, configuration diffs). This module talks to etcd and to the members' REST APIs as
//! any client would; it never imports the agent's REST handlers (`api`) or runtime.

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

pub mod cli;
mod commands;
mod context;
mod edit;
pub mod render;
mod switchover;

pub use render::{
    apply_set, config_diff, config_yaml, parse_dcs_url, pretty_table, render_history, render_list,
    Format,
};

use cli::*;
use context::Ctx;
use edit::edit_config;
use switchover::{set_pause, switchover};

/// praetorctl's entry point: parses the command line, runs the command on a single-threaded
/// runtime, prints `Error: …` and exits 1 on failure (as patronictl does).
pub fn main() -> ExitCode {
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
    let ctx = Ctx::connect(&cli).await?;
    match cli.command {
        Cmd::List(a) => commands::list(&ctx, a).await,
        Cmd::Topology(a) => commands::topology(&ctx, a).await,
        Cmd::Switchover(SwitchoverArgs {
            handover: h,
            scheduled,
            ..
        }) => switchover(&ctx, h.leader, h.candidate, scheduled, h.force, true).await,
        Cmd::Failover(FailoverArgs { handover: h, .. }) => {
            switchover(&ctx, h.leader, h.candidate, None, h.force, false).await
        }
        Cmd::Restart(a) => commands::restart(&ctx, a).await,
        Cmd::Reinit(a) => commands::reinit(&ctx, a).await,
        Cmd::Pause(PauseArgs { wait, .. }) => set_pause(&ctx, true, wait).await,
        Cmd::Resume(ResumeArgs { wait, .. }) => set_pause(&ctx, false, wait).await,
        Cmd::EditConfig(EditConfigArgs {
            quiet,
            set,
            pg,
            apply,
            replace,
            force,
            ..
        }) => edit_config(&ctx, quiet, set, pg, apply, replace, force).await,
        Cmd::ShowConfig(a) => commands::show_config(&ctx, a).await,
        Cmd::History(a) => commands::history(&ctx, a).await,
        Cmd::Remove(a) => commands::remove(&ctx, a).await,
        Cmd::Reload(a) => commands::reload(&ctx, a).await,
        Cmd::Dsn(a) => commands::dsn(&ctx, a).await,
        Cmd::Query(a) => commands::query(&ctx, a).await,
        Cmd::Version(a) => commands::version(&ctx, a).await,
    }
}
