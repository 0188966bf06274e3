//! Log set-up: human-readable lines by default, JSON lines with `log.format: json` (or Patroni's
//! `log.type: json`), level from `log.level` (Patroni's names) unless `RUST_LOG` is set; to stderr,
//! where journald picks them up under systemd.
//!
//! Patroni's `log.format` is a Python logging format string; praetor keeps its own line layout and
//! treats any value other than `json` as plain, so a Patroni file loads unchanged.

use crate::config::LogConfig;

/// The filter directive for `cfg` (`log.level`: `DEBUG`, `INFO`, `WARNING`/`WARN`,
/// `ERROR`/`CRITICAL`; default `INFO`) and whether lines are JSON. The HTTP/2 and tower crates log
/// at `warn` and above only: their debug lines would drown the one line per HA cycle.
pub fn settings(cfg: Option<&LogConfig>) -> (String, bool) {
    let level = cfg
        .and_then(|c| c.level.as_deref())
        .map(|l| match l.to_uppercase().as_str() {
            "DEBUG" => "debug",
            "WARNING" | "WARN" => "warn",
            "ERROR" | "CRITICAL" => "error",
            _ => "info",
        })
        .unwrap_or("info");
    let json = cfg
        .and_then(|c| c.format.as_deref().or(c.kind.as_deref()))
        .is_some_and(|f| f == "json");
    (format!("{level},h2=warn,tower=warn,hyper=warn"), json)
}

/// Installs the global subscriber. Safe to call once per process; later calls do nothing.
pub fn init(cfg: Option<&LogConfig>) {
    let (directive, json) = settings(cfg);
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref(), &directive);
    let b = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    if json {
        let _ = b.json().finish().with(filter).try_init();
    } else {
        let _ = b.finish().with(filter).try_init();
    }
}

/// The per-target level filter: `RUST_LOG` when it is set and reads as `target=level` pairs
/// (tracing-subscriber's `Targets` syntax: no span or field filters), else `directive`. A
/// `RUST_LOG` that does not read is reported on stderr and the directive is used.
fn filter(rust_log: Option<&str>, directive: &str) -> tracing_subscriber::filter::Targets {
    if let Some(v) = rust_log.filter(|v| !v.trim().is_empty()) {
        match v.parse() {
            Ok(t) => return t,
            Err(e) => eprintln!(
                "praetor: RUST_LOG={v:?} is not a list of target=level pairs ({e}); using {directive:?}"
            ),
        }
    }
    directive.parse().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(level: Option<&str>, format: Option<&str>, kind: Option<&str>) -> LogConfig {
        LogConfig {
            level: level.map(String::from),
            format: format.map(String::from),
            kind: kind.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn level_and_format_follow_the_log_section() {
        let quiet = ",h2=warn,tower=warn,hyper=warn";
        #[rustfmt::skip]
        let cases = [
            (None, ("info".to_string() + quiet, false)),
            (Some(cfg(Some("DEBUG"), None, None)), ("debug".to_string() + quiet, false)),
            (Some(cfg(Some("warning"), Some("json"), None)), ("warn".to_string() + quiet, true)),
            (Some(cfg(Some("CRITICAL"), None, Some("json"))), ("error".to_string() + quiet, true)),
            (Some(cfg(None, Some("%(asctime)s %(levelname)s: %(message)s"), None)), ("info".to_string() + quiet, false)),
            (Some(cfg(Some("ERROR"), None, Some("plain"))), ("error".to_string() + quiet, false)),
        ];
        for (c, want) in cases {
            assert_eq!(settings(c.as_ref()), want, "{c:?}");
        }
    }

    #[test]
    fn rust_log_overrides_the_directive_when_it_reads() {
        use tracing::Level;
        let directive = "info,h2=warn";
        let f = filter(None, directive);
        assert!(f.would_enable("praetor::ha", &Level::INFO));
        assert!(!f.would_enable("h2::proto", &Level::INFO));
        let f = filter(Some("praetor=debug"), directive);
        assert!(f.would_enable("praetor::ha", &Level::DEBUG));
        assert!(!f.would_enable("h2::proto", &Level::ERROR));
        // Not target=level pairs: the directive stays.
        let f = filter(Some("praetor=loud"), directive);
        assert!(f.would_enable("praetor::ha", &Level::INFO));
        assert!(!f.would_enable("praetor::ha", &Level::DEBUG));
        let f = filter(Some("  "), directive);
        assert!(f.would_enable("praetor::ha", &Level::INFO));
    }
}
