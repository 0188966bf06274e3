//! Log set-up: human-readable lines by default, JSON lines with `log.format: json` (or Patroni's
//! `log.type: json`), level from `log.level` (Patroni's names) unless `RUST_LOG` is set; to stderr.

use crate::config::LogConfig;

/// Installs the global subscriber. Safe to call once per process.
pub fn init(cfg: Option<&LogConfig>) {
    let level = cfg
        .and_then(|c| c.level.clone())
        .map(|l| match l.to_uppercase().as_str() {
            "DEBUG" => "debug",
            "WARNING" | "WARN" => "warn",
            "ERROR" | "CRITICAL" => "error",
            _ => "info",
        })
        .unwrap_or("info");
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},h2=warn,tower=warn,hyper=warn"))
    });
    let json = cfg
        .and_then(|c| c.format.clone().or_else(|| c.kind.clone()))
        .is_some_and(|f| f == "json");
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        let _ = b.json().try_init();
    } else {
        let _ = b.try_init();
    }
}
