//! The postmaster as the agent's child process: start and wait for connections, the exit watch
//! (a pidfd), stop in PostgreSQL's shutdown modes and the SIGKILL escalation.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::{parse, LocalPostgres, StopMode};

/// The processes whose parent is `pid` (for a postmaster: its backends, walsenders, walreceiver,
/// checkpointer and other auxiliary processes), read from `/proc/<pid>/stat`. PostgreSQL puts
/// each of them in a session and process group of its own, so a signal to the postmaster's
/// process group does not reach them.
pub fn child_processes(pid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    dir.filter_map(|e| {
        let child: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
        let ppid = parse::stat_parent(&stat)?;
        (ppid == pid).then_some(child)
    })
    .collect()
}

/// SIGKILL to the postmaster `pid`, then to each of its child processes, so no backend or
/// walsender outlives it holding the port or shared memory.
fn kill_postmaster_and_children(pid: i32) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let children = child_processes(pid);
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    for c in children {
        let _ = kill(Pid::from_raw(c), Signal::SIGKILL);
    }
}

/// Whether process `pid` runs: it exists and is not a zombie. A postmaster that has exited but
/// whose parent (the agent) has not reaped it yet — the agent frozen, say — is a zombie that still
/// answers `kill(pid, 0)`; it holds no port, shared memory or client.
pub fn process_running(pid: i32) -> bool {
    let exists = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
    exists
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| parse::stat_is_zombie(&s))
            .unwrap_or(false)
}

/// Resolves once process `pid` has exited (or is a zombie). The kernel wakes us through a pidfd
/// (Linux 5.3 and later), so a postmaster's exit is noticed at once rather than on a polling
/// tick; where pidfd is unavailable it checks every 20 ms.
pub async fn process_exited(pid: i32) {
    let dead = || !process_running(pid);
    if let Some(p) = rustix::process::Pid::from_raw(pid) {
        match rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) {
            Ok(fd) => {
                // SAFETY: `fd` is an OwnedFd that the AsyncFd owns and closes; nothing else
                // closes or replaces it while registered.
                let registered = unsafe {
                    tokio::io::unix::AsyncFd::register_with_interest(
                        fd,
                        tokio::io::Interest::READABLE,
                    )
                };
                if let Ok(afd) = registered {
                    // A pidfd turns readable when the process exits.
                    let _ = afd.readable().await;
                    return;
                }
            }
            Err(rustix::io::Errno::SRCH) => return,
            Err(_) => {}
        }
    }
    while !dead() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl LocalPostgres {
    /// PID from `postmaster.pid` if that process is alive.
    pub fn postmaster_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        let pid: i32 = text.lines().next()?.trim().parse().ok()?;
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if alive {
            self.last_pid.store(pid, Ordering::SeqCst);
        }
        alive.then_some(pid)
    }

    /// A postmaster we saw earlier that still runs although its `postmaster.pid` is gone (the
    /// data directory was removed or replaced under it).
    fn orphaned_postmaster(&self) -> Option<i32> {
        let pid = self.last_pid.load(Ordering::SeqCst);
        if pid <= 0 {
            return None;
        }
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (comm.trim() == "postgres").then_some(pid)
    }

    /// Starts the postmaster as our child and waits up to `wait` for it to accept connections.
    /// Returns `Ok(true)` when it does, `Ok(false)` when it is still starting (crash recovery, or a
    /// standby not yet consistent): the HA loop keeps running and observes it as `starting`, so a
    /// slow start never holds up lease renewal.
    ///
    /// # Errors
    /// The postmaster exited during start (its log is named in the message).
    pub async fn start(&self, wait: Duration) -> Result<bool> {
        if self.postmaster_pid().is_some() {
            return Ok(self.connect().await.is_ok());
        }
        // A stale pid file from a killed postmaster is handled by postgres itself.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .with_context(|| format!("opening {}", self.log_path().display()))?;
        let mut cmd = self.command("postgres");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .args(self.config_file_arg())
            .stdout(log.try_clone()?)
            .stderr(log);
        // Own process group: a Ctrl-C aimed at the agent does not reach the postmaster directly.
        cmd.process_group(0);
        self.stopping.store(false, Ordering::SeqCst);
        self.crashed.store(false, Ordering::SeqCst);
        let _ = std::fs::remove_file(crate::fence::marker_path(&self.data_dir));
        let child = cmd.spawn().context("spawning postgres")?;
        *self.child.lock().await = Some(child);
        let started = Instant::now();
        loop {
            {
                let mut guard = self.child.lock().await;
                if let Some(c) = guard.as_mut() {
                    if let Ok(Some(status)) = c.try_wait() {
                        *guard = None;
                        bail!(
                            "postgres exited during start ({status}); see {}",
                            self.log_path().display()
                        );
                    }
                }
            }
            if self.connect().await.is_ok() {
                if let Some(pid) = self.postmaster_pid() {
                    self.ensure_exit_watch(pid);
                }
                return Ok(true);
            }
            if started.elapsed() > wait {
                if let Some(pid) = self.postmaster_pid() {
                    self.ensure_exit_watch(pid);
                    return Ok(false);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Makes sure a running postmaster (ours, or one found running when the agent started), of
    /// process id `pid` (as [`LocalPostgres::postmaster_pid`] read it), is watched, so its exit
    /// wakes the HA loop at once.
    pub fn ensure_exit_watch(&self, pid: i32) {
        // The HA loop is woken as soon as the postmaster dies (its pidfd becomes readable);
        // nothing here runs on a timer. A data directory removed under a running server is
        // noticed by the next cycle (`data_dir_state` checks `global/pg_control` every cycle).
        let exited = self.exited.clone();
        // One watch per postmaster: a new one (after a restart, or on a re-created data
        // directory while an old postmaster lingers) gets its own.
        if self.watching.swap(pid, Ordering::SeqCst) == pid {
            return;
        }
        let watching = self.watching.clone();
        tokio::spawn(async move {
            process_exited(pid).await;
            let _ = watching.compare_exchange(pid, 0, Ordering::SeqCst, Ordering::SeqCst);
            exited.notify_one();
        });
    }

    /// Runs `postgresql.before_stop` (words split as Patroni splits them, no shell) and waits for
    /// it, as Patroni does before every stop of a running server; its exit status is logged and
    /// does not stop the stop. Unlike Patroni it is not waited for longer than `pg_ctl_timeout`
    /// (a hung script must not keep a primary that lost its lease running).
    async fn before_stop(&self) {
        let cfg = self.cfg();
        let Some(argv) = cfg.postgresql.script("before_stop") else {
            return;
        };
        let limit = Duration::from_secs(cfg.postgresql.pg_ctl_timeout.unwrap_or(60));
        let run = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .status();
        let command = argv.join(" ");
        match tokio::time::timeout(limit, run).await {
            Ok(Ok(st)) => tracing::info!("before_stop script {command:?} exited with {st}"),
            Ok(Err(e)) => tracing::error!("running the before_stop script {command:?}: {e}"),
            Err(_) => tracing::error!(
                "the before_stop script {command:?} did not end within pg_ctl_timeout ({} s); stopping PostgreSQL anyway",
                limit.as_secs()
            ),
        }
    }

    /// Reaps a dead child and reports whether the postmaster died without being asked to.
    pub async fn check_crashed(&self) -> bool {
        let mut guard = self.child.lock().await;
        if let Some(c) = guard.as_mut() {
            if let Ok(Some(_)) = c.try_wait() {
                *guard = None;
                if !self.stopping.load(Ordering::SeqCst) {
                    self.crashed.store(true, Ordering::SeqCst);
                }
            }
        }
        self.crashed.load(Ordering::SeqCst)
    }

    /// Stops the postmaster and waits for it to exit.
    ///
    /// # Errors
    /// It did not exit within `pg_ctl_timeout`.
    pub async fn stop(&self, mode: StopMode) -> Result<()> {
        self.stop_or_kill(mode, None).await
    }

    /// [`Self::stop`], and when the postmaster still runs after `kill_after`, SIGKILL to it
    /// and to each of its child processes (backends, walsenders, checkpointer), so none is left
    /// holding the port or shared memory. See
    /// [`crate::ha::shutdown::stop_kill_after`] for when (Patroni's `primary_stop_timeout`).
    ///
    /// # Errors
    /// It did not exit within `pg_ctl_timeout` (twice that with the SIGQUIT escalation).
    pub async fn stop_or_kill(&self, mode: StopMode, kill_after: Option<Duration>) -> Result<()> {
        self.stopping.store(true, Ordering::SeqCst);
        let Some(pid) = self.postmaster_pid().or_else(|| self.orphaned_postmaster()) else {
            let _ = self.reap().await;
            return Ok(());
        };
        self.before_stop().await;
        let sig = match mode {
            StopMode::Fast => nix::sys::signal::Signal::SIGINT,
            StopMode::Immediate => nix::sys::signal::Signal::SIGQUIT,
        };
        let exited = process_exited(pid);
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
        let timeout = Duration::from_secs(self.cfg().postgresql.pg_ctl_timeout.unwrap_or(60));
        tokio::pin!(exited);
        let mut gone = false;
        if let Some(after) = kill_after.filter(|a| *a < timeout) {
            gone = tokio::time::timeout(after, &mut exited).await.is_ok();
            if !gone {
                tracing::warn!(
                    "postgres (pid {pid}) did not stop within primary_stop_timeout ({} s): \
                     sending SIGKILL",
                    after.as_secs()
                );
                kill_postmaster_and_children(pid);
            }
        }
        if !gone && tokio::time::timeout(timeout, &mut exited).await.is_err() {
            if mode == StopMode::Fast {
                tracing::warn!(
                    "postgres (pid {pid}) did not stop within {timeout:?}: sending SIGQUIT"
                );
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGQUIT,
                );
            }
            if tokio::time::timeout(timeout, &mut exited).await.is_err() {
                bail!("postgres (pid {pid}) did not stop within {:?}", timeout * 2);
            }
        }
        self.reap().await;
        self.crashed.store(false, Ordering::SeqCst);
        Ok(())
    }

    async fn reap(&self) -> Option<std::process::ExitStatus> {
        let mut guard = self.child.lock().await;
        if let Some(c) = guard.as_mut() {
            if let Ok(Some(st)) = c.try_wait() {
                *guard = None;
                return Some(st);
            }
        }
        None
    }
}
