//! Log set-up: human-readable lines by default, JSON lines with `log.format: json` (or Patroni's
//! `log.type: json`), level from `log.level` (Patroni's names) unless `RUST_LOG` is set; to stderr,
//! where journald picks them up under systemd, or with `log.dir` to rotated files as Patroni
//! writes them (`{dir}/patroni.log`, `log.file_size`, `log.file_num`, `log.mode`).
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
/// With `log.dir` ([`crate::config::LogFiles`]) lines go to `{dir}/patroni.log`, rotated as
/// Patroni's file handler rotates it, and not to stderr.
///
/// # Errors
/// `log.dir`'s file cannot be opened for appending (the message names the key and the path);
/// nothing is installed then.
pub fn init(cfg: Option<&LogConfig>) -> Result<(), String> {
    let (directive, json) = settings(cfg);
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref(), &directive);
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let files = cfg.and_then(|c| c.files.as_ref());
    let Some(files) = files else {
        let b = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
        if json {
            let _ = b.json().finish().with(filter).try_init();
        } else {
            let _ = b.finish().with(filter).try_init();
        }
        return Ok(());
    };
    let writer = std::sync::Mutex::new(open_files(files)?);
    let b = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(writer)
        .with_target(false)
        .with_ansi(false);
    if json {
        let _ = b.json().finish().with(filter).try_init();
    } else {
        let _ = b.finish().with(filter).try_init();
    }
    Ok(())
}

/// `{dir}/patroni.log`, opened for appending with `log.mode`'s permissions (also applied to an
/// existing file, as Patroni does), rotated once it passes `file_size` bytes (a line is never
/// split), keeping `file_num` rotated files `patroni.log.1` (newest) … `patroni.log.{file_num}`.
///
/// # Errors
/// The directory is missing or the file cannot be opened (Patroni also needs the directory to
/// exist and be writable).
fn open_files(
    files: &crate::config::LogFiles,
) -> Result<file_rotate::FileRotate<file_rotate::suffix::AppendCount>, String> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if !files.dir.is_dir() {
        return Err(format!(
            "log.dir: {} is not a directory (it must exist and be writable)",
            files.dir.display()
        ));
    }
    let path = files.dir.join("patroni.log");
    let mut opts = std::fs::OpenOptions::new();
    opts.append(true).create(true);
    if let Some(mode) = files.mode {
        opts.mode(mode);
    }
    // Opened once here so that an unwritable file is an error now, not a panic on the first line.
    opts.open(&path)
        .map_err(|e| format!("log.dir: opening {} for appending: {e}", path.display()))?;
    if let Some(mode) = files.mode {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("log.mode: setting {mode:o} on {}: {e}", path.display()))?;
    }
    Ok(file_rotate::FileRotate::new(
        &path,
        file_rotate::suffix::AppendCount::new(files.file_num),
        file_rotate::ContentLimit::BytesSurpassed(files.file_size as usize),
        file_rotate::compression::Compression::None,
        Some(opts),
    ))
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
    fn log_dir_writes_patroni_log_and_rotates_it_by_size() {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let files = crate::config::LogFiles {
            dir: dir.path().to_path_buf(),
            file_size: 100,
            file_num: 2,
            mode: Some(0o600),
        };
        let mut w = open_files(&files).unwrap();
        let path = dir.path().join("patroni.log");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        for i in 0..10 {
            w.write_all(format!("line {i} {}\n", "x".repeat(40)).as_bytes())
                .unwrap();
        }
        w.flush().unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["patroni.log", "patroni.log.1", "patroni.log.2"]);
        // Lines are whole in every file, the newest in patroni.log.
        for n in &names {
            let text = std::fs::read_to_string(dir.path().join(n)).unwrap();
            assert!(text.lines().all(|l| l.starts_with("line ")), "{n}: {text}");
        }
        assert!(std::fs::read_to_string(&path).unwrap().contains("line 9 "));
        // A directory that does not exist is an error naming log.dir, not a panic.
        let missing = crate::config::LogFiles {
            dir: dir.path().join("nope"),
            ..files
        };
        let e = open_files(&missing).err().unwrap();
        assert!(e.starts_with("log.dir: "), "{e}");
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
