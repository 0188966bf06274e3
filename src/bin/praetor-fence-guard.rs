//! The fence guard as its own small program (see `praetor::fence`): the agent starts it when it
//! finds it next to its own binary, because a program that links only the guard keeps a fraction
//! of the full agent's pages resident. `praetor fence-guard` does the same when it is missing.
//!
//! Usage: `praetor-fence-guard --data-dir DIR --margin-ms MS [--armed-ms MS]` (exit code 2 on
//! bad arguments).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let mut data_dir: Option<PathBuf> = None;
    let mut margin_ms: Option<u64> = None;
    let mut armed_ms: Option<u64> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next();
        match (a.as_str(), value) {
            ("--data-dir", Some(v)) => data_dir = Some(PathBuf::from(v)),
            ("--margin-ms", Some(v)) => margin_ms = v.parse().ok(),
            ("--armed-ms", Some(v)) => armed_ms = v.parse().ok(),
            (other, _) => {
                eprintln!("praetor-fence-guard: unexpected argument {other:?}; usage: --data-dir DIR --margin-ms MS [--armed-ms MS]");
                return ExitCode::from(2);
            }
        }
    }
    let (Some(data_dir), Some(margin_ms)) = (data_dir, margin_ms) else {
        eprintln!("praetor-fence-guard: --data-dir and --margin-ms (milliseconds) are required");
        return ExitCode::from(2);
    };
    praetor::fence::run_guard(
        &data_dir,
        Duration::from_millis(margin_ms),
        armed_ms.map(Duration::from_millis),
    );
    ExitCode::SUCCESS
}
