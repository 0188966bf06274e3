//! `praetor`: the agent (`praetor CONFIG.yml`), config check (`--validate-config`), and the local
//! demo cluster (`praetor demo`, which runs `praetor-demo` from the workspace crate
//! `praetor-testbed`).

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
    /// Check the configuration file (after PATRONI_* overrides) and exit: every problem on its own
    /// line on stderr (errors: keys praetor refuses or values it cannot use; warnings: keys it
    /// ignores, unknown keys with the nearest known one), exit status 2 when there is an error,
    /// else 0.
    #[arg(long)]
    validate_config: bool,
    /// With --validate-config: print the configuration (after PATRONI_* overrides) as YAML on
    /// stdout when it is valid, passwords shown as <redacted> (Patroni's --print).
    #[arg(short, long, requires = "validate_config")]
    print: bool,
    /// With --validate-config: accepted for Patroni's command line. praetor never checks whether
    /// the listen ports are free while validating, so this changes nothing.
    #[arg(short, long, requires = "validate_config")]
    ignore_listen_port: bool,
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
    /// Start etcd and a three-member group on 127.0.0.1 in a temporary directory; Ctrl-C stops it
    /// all. Runs `praetor-demo` with these options (`praetor demo --help` lists them).
    #[command(disable_help_flag = true)]
    Demo {
        /// Options for praetor-demo: --members N, --keep, --citus, --help.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
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
    // One thread: every task of an idle agent (HA loop, lease keeper, watch, REST) wakes on the
    // same thread, so an event costs one wake-up instead of hand-offs between threads (issue
    // "Idle means idle": about 490 → 120 wake-ups a minute on an idle leader at 30/10/10), and
    // the multi-thread scheduler's own bookkeeping (its per-poll statistics) is not paid either.
    // Nothing the agent runs blocks the thread for long: processes, PostgreSQL and etcd are
    // async, and a stalled thread is what the fence guard and the lease's expiry are for.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("praetor: starting the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(Cmd::Demo { args }) = cli.command {
        return demo(&args);
    }
    let report = Config::check_load(cli.config.as_deref(), &process_env());
    if cli.validate_config {
        return validate(report, cli.print);
    }
    let Some(cfg) = report.config else {
        // Every error, then the warnings, one line each (as --validate-config prints them).
        for e in &report.errors {
            eprintln!("praetor: invalid configuration: {e}");
        }
        for w in &report.warnings {
            eprintln!("praetor: warning: {w}");
        }
        return ExitCode::from(2);
    };
    if let Err(e) = praetor::logging::init(Some(&cfg.log)) {
        eprintln!("praetor: invalid configuration: {e}");
        return ExitCode::from(2);
    }
    // Keys the file has that praetor ignores (or does not know): logged once, at start.
    for w in &report.warnings {
        tracing::warn!("configuration: {w}");
    }
    if nix::unistd::geteuid().is_root() {
        eprintln!("praetor: refusing to run as root: PostgreSQL does not run as root; start praetor as the postgres user");
        return ExitCode::from(1);
    }
    // The agent runs as a task (a panic in it is reported as an error, not unwound through
    // main); the runtime's one thread drives it and every task it spawns.
    let run = rt.block_on(async {
        tokio::spawn(agent(cfg))
            .await
            .unwrap_or_else(|e| Err(anyhow::anyhow!("the agent task ended abnormally: {e}")))
    });
    match run {
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
    let listener = praetor::api::server::bind(&cfg.restapi.listen)
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

/// `praetor --validate-config`: every error and warning of `report` on its own line on stderr;
/// exit status 2 when there is an error. When valid: with `print`, the configuration as YAML on
/// stdout (passwords redacted), else one line saying it is valid.
fn validate(report: praetor::config::Report, print: bool) -> ExitCode {
    for e in &report.errors {
        eprintln!("praetor: invalid configuration: {e}");
    }
    for w in &report.warnings {
        eprintln!("praetor: warning: {w}");
    }
    if !report.errors.is_empty() || report.config.is_none() {
        return ExitCode::from(2);
    }
    if print {
        let doc = report
            .document
            .as_ref()
            .map(praetor::config::redact_passwords)
            .unwrap_or_default();
        match serde_yaml::to_string(&doc) {
            Ok(text) => print!("{text}"),
            Err(e) => {
                eprintln!("praetor: printing the configuration: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        let n = report.warnings.len();
        match n {
            0 => println!("{}: configuration is valid", report.source),
            1 => println!("{}: configuration is valid (1 warning)", report.source),
            _ => println!("{}: configuration is valid ({n} warnings)", report.source),
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn print_and_ignore_listen_port_go_with_validate_config() {
        use clap::Parser;
        assert!(
            super::Cli::try_parse_from(["praetor", "--validate-config", "-p", "-i", "f.yml"])
                .is_ok()
        );
        assert!(super::Cli::try_parse_from(["praetor", "--print", "f.yml"]).is_err());
        assert!(super::Cli::try_parse_from(["praetor", "--ignore-listen-port", "f.yml"]).is_err());
    }
}

/// `praetor demo`: runs `praetor-demo` (the workspace crate `praetor-testbed`, which the agent
/// does not contain) from the same directory, with the same options.
fn demo(args: &[String]) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(e) => e.with_file_name("praetor-demo"),
        Err(e) => {
            eprintln!("praetor demo: finding this program's directory: {e}");
            return ExitCode::from(1);
        }
    };
    let e = std::process::Command::new(&exe).args(args).exec();
    eprintln!(
        "praetor demo: running {}: {e} (build it with `cargo build --release --workspace`, or run \
         `bash scripts/demo.sh`)",
        exe.display()
    );
    ExitCode::from(1)
}
