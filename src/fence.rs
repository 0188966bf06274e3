//! Fencing without a watchdog: a guard process that stops a primary's PostgreSQL before its leader
//! lease can expire when the agent has stopped renewing it (frozen, killed, or stuck).
//!
//! The agent starts `praetor fence-guard` as a separate process (its own process group, so it does
//! not share the agent's fate) and, after every successful renewal while primary, writes
//! `arm <milliseconds left on the lease>` to its stdin; `disarm` when it is no longer primary. The
//! guard fences when `margin` before that deadline passes without a new `arm`: SIGQUIT to the
//! postmaster (immediate shutdown: no further commit is acknowledged), SIGKILL if it is still alive
//! 3 s later, and a marker file `<data_dir>.fenced` the agent reports. Times are monotonic in each
//! process; the pipe carries durations, not wall-clock times, so clock steps do not matter.
//!
//! The margin is `min(2 s, retry_timeout / 2)`: a healthy agent renews at least every
//! `loop_wait + retry_timeout` seconds, and `loop_wait + 2 × retry_timeout ≤ ttl`, so a healthy agent
//! is always re-armed before `ttl - margin`; the lease cannot expire before the fence, because the
//! deadline is counted from *before* each renewal request. The guard writes its pid and deadline to
//! `<data_dir>.guard` so an agent restarted within the lease takes the deadline over.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The fencing margin for a dynamic configuration (see the module documentation).
pub fn margin(retry_timeout: u64) -> Duration {
    Duration::from_millis((retry_timeout * 500).clamp(250, 2000))
}

fn sibling(data_dir: &Path, suffix: &str) -> PathBuf {
    let mut p = data_dir.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// `<data_dir>.fenced`: written by the guard when it fenced, removed when PostgreSQL starts again.
pub fn marker_path(data_dir: &Path) -> PathBuf {
    sibling(data_dir, ".fenced")
}

/// `<data_dir>.guard`: the running guard's pid and its deadline (Unix ms, 0 = disarmed).
pub fn state_path(data_dir: &Path) -> PathBuf {
    sibling(data_dir, ".guard")
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The previous guard of this data directory, if one is still running: `(pid, ms left on its
/// deadline)`. Used by a restarted agent to take over.
pub fn previous_guard(data_dir: &Path) -> Option<(i32, Option<u64>)> {
    let text = std::fs::read_to_string(state_path(data_dir)).ok()?;
    let mut it = text.split_whitespace();
    let pid: i32 = it.next()?.parse().ok()?;
    let deadline: u64 = it.next()?.parse().ok()?;
    let cmd = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).ok()?;
    if !cmd.contains("fence-guard") {
        return None;
    }
    let left = (deadline > 0).then(|| deadline.saturating_sub(epoch_ms()));
    Some((pid, left))
}

fn postmaster_pid(data_dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

fn fence(data_dir: &Path) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let Some(pid) = postmaster_pid(data_dir) else {
        eprintln!(
            "praetor fence-guard: lease about to expire without renewal; PostgreSQL is not running"
        );
        return;
    };
    eprintln!("praetor fence-guard: the agent has not renewed the leader lease in time: stopping PostgreSQL (pid {pid}) immediately");
    let _ = std::fs::write(marker_path(data_dir), format!("{}\n", epoch_ms()));
    let _ = kill(Pid::from_raw(pid), Signal::SIGQUIT);
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        // Exited, or a zombie its (frozen) parent agent has not reaped: it serves nothing.
        if !crate::postgres::process_running(pid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
}

/// The guard's main loop (`praetor fence-guard --data-dir D --margin-ms M [--armed-ms L]`).
/// Returns when stdin is closed and no deadline is pending, or after fencing with stdin closed.
pub fn run_guard(data_dir: &Path, margin: Duration, armed: Option<Duration>) {
    let (tx, rx) = std::sync::mpsc::channel::<Option<String>>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(l) => {
                    if tx.send(Some(l)).is_err() {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = tx.send(None);
    });
    let me = std::process::id();
    let mut deadline: Option<Instant> = armed.map(|d| Instant::now() + d);
    let mut agent_gone = false;
    let persist = |deadline: Option<Instant>| {
        let ms = deadline
            .map(|d| epoch_ms() + d.saturating_duration_since(Instant::now()).as_millis() as u64)
            .unwrap_or(0);
        let _ = std::fs::write(state_path(data_dir), format!("{me} {ms}\n"));
    };
    persist(deadline);
    loop {
        let wait = match deadline {
            Some(d) => d
                .saturating_duration_since(Instant::now())
                .saturating_sub(margin),
            None if agent_gone => return,
            None => Duration::from_secs(3600),
        };
        let msg = if agent_gone {
            std::thread::sleep(wait);
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        } else {
            rx.recv_timeout(wait)
        };
        match msg {
            Ok(Some(line)) => {
                let mut parts = line.split_whitespace();
                match (
                    parts.next(),
                    parts.next().and_then(|v| v.parse::<u64>().ok()),
                ) {
                    (Some("arm"), Some(ms)) => {
                        deadline = Some(Instant::now() + Duration::from_millis(ms))
                    }
                    (Some("disarm"), _) => deadline = None,
                    _ => eprintln!("praetor fence-guard: ignoring {line:?}"),
                }
                persist(deadline);
            }
            Ok(None) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                // The agent is gone: keep the deadline; a restarted agent takes over before it.
                agent_gone = true;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if deadline.is_some_and(|d| Instant::now() + margin >= d) {
                    fence(data_dir);
                    deadline = None;
                    persist(None);
                }
            }
        }
    }
}

/// The agent's handle on its guard.
pub struct Guard {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    data_dir: PathBuf,
    margin: Duration,
    /// Times the guard had to be restarted.
    pub restarts: u32,
}

impl Guard {
    /// Starts a guard for `data_dir`, taking over a previous guard's pending deadline (and
    /// stopping that guard).
    ///
    /// # Errors
    /// The binary could not be started.
    pub fn start(data_dir: &Path, margin: Duration) -> std::io::Result<Guard> {
        let armed = match previous_guard(data_dir) {
            Some((pid, left)) => {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                left
            }
            None => None,
        };
        Self::spawn(data_dir, margin, armed.map(Duration::from_millis))
    }

    fn spawn(data_dir: &Path, margin: Duration, armed: Option<Duration>) -> std::io::Result<Guard> {
        use std::os::unix::process::CommandExt;
        let exe = std::env::current_exe()?;
        // The small standalone guard when installed next to us, else `praetor fence-guard`.
        let standalone = exe.with_file_name("praetor-fence-guard");
        let mut cmd = if standalone.exists() {
            std::process::Command::new(standalone)
        } else {
            let mut c = std::process::Command::new(exe);
            c.arg("fence-guard");
            c
        };
        cmd.arg("--data-dir")
            .arg(data_dir)
            .arg("--margin-ms")
            .arg(margin.as_millis().to_string())
            .stdin(std::process::Stdio::piped())
            .process_group(0);
        if let Some(a) = armed {
            cmd.arg("--armed-ms").arg(a.as_millis().to_string());
        }
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take().expect("piped");
        Ok(Guard {
            child,
            stdin,
            data_dir: data_dir.to_path_buf(),
            margin,
            restarts: 0,
        })
    }

    /// Arms (or re-arms) the fence: `left` is the time left on the lease, measured from before
    /// the renewal request.
    pub fn arm(&mut self, left: Duration) {
        self.send(&format!("arm {}\n", left.as_millis()));
    }

    /// Disarms the fence (no longer primary, or paused).
    pub fn disarm(&mut self) {
        self.send("disarm\n");
    }

    fn send(&mut self, msg: &str) {
        use std::io::Write;
        if let Err(e) = self
            .stdin
            .write_all(msg.as_bytes())
            .and_then(|_| self.stdin.flush())
        {
            tracing::error!("fence guard: sending {:?}: {e}", msg.trim());
        }
    }

    /// Checks the guard is alive; restarts it (disarmed) when it died. Returns false if it had died.
    pub fn check(&mut self) -> bool {
        match self.child.try_wait() {
            Ok(None) => true,
            _ => {
                tracing::error!("fence guard exited; restarting it");
                if let Ok(g) = Self::spawn(&self.data_dir, self.margin, None) {
                    let restarts = self.restarts + 1;
                    *self = g;
                    self.restarts = restarts;
                }
                false
            }
        }
    }

    /// The guard's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Graceful agent exit: the agent disarmed it already; stop it.
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Only our own guard's state: a replacement may already have written its own.
        let path = state_path(&self.data_dir);
        let ours = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| {
                t.split_whitespace()
                    .next()
                    .map(|p| p == self.child.id().to_string())
            })
            .unwrap_or(false);
        if ours {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_fits_the_retry_budget() {
        assert_eq!(margin(10), Duration::from_secs(2));
        assert_eq!(margin(2), Duration::from_secs(1));
        assert_eq!(margin(0), Duration::from_millis(250));
    }
}
