//! The praetor agents and their PostgreSQL servers: configuring, starting, signalling and
//! stopping members, connecting to them, and waiting for a healthy group.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::{chown_r, free_port, EtcdProxy, Testbed};

/// One agent of the testbed.
pub struct AgentProc {
    /// The agent process while it runs.
    pub child: Option<Child>,
    /// Its configuration file.
    pub config: PathBuf,
    /// Its log (stdout and stderr).
    pub log: PathBuf,
    /// REST API port.
    pub rest_port: u16,
    /// PostgreSQL port.
    pub pg_port: u16,
    /// Data directory.
    pub data_dir: PathBuf,
    /// The address its servers listen on: 127.0.0.1, or its host's ([`Testbed::network`]).
    pub host: String,
    /// Its host's index in [`Testbed::network`], when there is one.
    pub host_index: Option<usize>,
}

impl Testbed {
    /// Writes member `name`'s configuration and starts its agent.
    ///
    /// # Errors
    /// Spawn failed.
    pub fn add_agent(&mut self, name: &str) -> Result<()> {
        self.configure_agent(name)?;
        self.start_agent(name)
    }

    /// Writes member `name`'s configuration without starting it; returns its data directory.
    ///
    /// # Errors
    /// I/O errors.
    pub fn configure_agent(&mut self, name: &str) -> Result<PathBuf> {
        if self.use_etcd_proxies && !self.etcd_proxies.contains_key(name) {
            self.etcd_proxies
                .insert(name.to_string(), EtcdProxy::start(self.etcd_port)?);
        }
        let host_index = self.network.as_ref().map(|_| {
            self.agents
                .get(name)
                .and_then(|a| a.host_index)
                .unwrap_or(self.agents.len())
        });
        let (rest_port, pg_port, host) = match (&self.network, host_index) {
            (Some(net), Some(i)) => {
                if i >= net.len() {
                    bail!(
                        "member {name} would be on host {i}, but there are {} hosts",
                        net.len()
                    );
                }
                (8008, 5432, net.host_ip(i).to_string())
            }
            _ => (free_port()?, free_port()?, "127.0.0.1".to_string()),
        };
        let data_dir = self.dir.join(format!("{name}-data"));
        let config = self.dir.join(format!("{name}.yml"));
        std::fs::write(
            &config,
            self.config_yaml_on(name, &host, rest_port, pg_port, &data_dir),
        )?;
        let log = self.dir.join(format!("{name}.log"));
        if self.network.is_some() {
            // Its own socket directory (config_yaml_on): every host's server uses port 5432.
            let sock = self.dir.join(format!("{name}-sock"));
            std::fs::create_dir_all(&sock)?;
            if let Some((uid, gid)) = self.run_as {
                chown_r(&sock, uid, gid)?;
            }
        }
        if self.file_watchdogs {
            std::fs::write(self.dir.join(format!("{name}.watchdog")), "")?;
        }
        if let Some((uid, gid)) = self.run_as {
            chown_r(&config, uid, gid)?;
            if self.file_watchdogs {
                chown_r(&self.dir.join(format!("{name}.watchdog")), uid, gid)?;
            }
        }
        self.agents.insert(
            name.to_string(),
            AgentProc {
                child: None,
                config,
                log,
                rest_port,
                pg_port,
                data_dir: data_dir.clone(),
                host,
                host_index,
            },
        );
        Ok(data_dir)
    }

    /// Runs `initdb` into `data_dir` as the user the agents run as: a data directory of another
    /// cluster (another system identifier).
    ///
    /// # Errors
    /// initdb failed.
    pub fn initdb_foreign(&self, data_dir: &Path) -> Result<()> {
        let bin = praetor::postgres::find_bin_dir(None)?;
        let mut cmd = Command::new(bin.join("initdb"));
        cmd.arg("-D")
            .arg(data_dir)
            .arg("-U")
            .arg("postgres")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.as_user(&mut cmd);
        let st = cmd.status()?;
        if !st.success() {
            bail!("initdb into {} failed", data_dir.display());
        }
        Ok(())
    }

    /// (Re)starts member `name`'s agent.
    ///
    /// # Errors
    /// Unknown member or spawn failed.
    pub fn start_agent(&mut self, name: &str) -> Result<()> {
        let a = self
            .agents
            .get(name)
            .ok_or_else(|| anyhow!("no member {name}"))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&a.log)?;
        if let Some((uid, gid)) = self.run_as {
            chown_r(&a.log, uid, gid)?;
        }
        let program = self.agent_program.as_ref().unwrap_or(&self.exe);
        let mut cmd = match (&self.network, a.host_index) {
            (Some(net), Some(i)) => {
                let mut c = net.command_as(i, program, self.run_as);
                c.env("HOME", &self.dir);
                c
            }
            _ => {
                let mut c = Command::new(program);
                self.as_user(&mut c);
                c
            }
        };
        cmd.arg(&a.config)
            // The level comes from the configuration's `log` section (default INFO), as in
            // production; a RUST_LOG in the caller's environment would override it.
            .env_remove("RUST_LOG")
            .envs(self.agent_env.get(name).into_iter().flatten().cloned())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting agent {name}"))?;
        self.agents.get_mut(name).expect("checked").child = Some(child);
        Ok(())
    }

    /// Sends `sig` to member `name`'s agent (SIGKILL also reaps it).
    pub fn signal_agent(&mut self, name: &str, sig: nix::sys::signal::Signal) {
        if let Some(a) = self.agents.get_mut(name) {
            if let Some(c) = a.child.as_mut() {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.id() as i32), sig);
                if sig == nix::sys::signal::Signal::SIGKILL {
                    let _ = c.wait();
                    a.child = None;
                }
            }
        }
    }

    /// PID of member `name`'s postmaster, from `postmaster.pid`, while that process runs (a
    /// zombie left by a frozen agent does not count).
    pub fn postmaster_pid(&self, name: &str) -> Option<i32> {
        let a = self.agents.get(name)?;
        let text = std::fs::read_to_string(a.data_dir.join("postmaster.pid")).ok()?;
        let pid: i32 = text.lines().next()?.trim().parse().ok()?;
        praetor::postgres::process_running(pid).then_some(pid)
    }

    /// SIGSTOP (`hang`) or SIGCONT to member `name`'s postmaster and each of its processes: a
    /// server that hangs (no reply on any connection, replication included) and then goes on.
    pub fn hang_postgres(&self, name: &str, hang: bool) {
        use nix::sys::signal::{kill, Signal};
        let Some(pid) = self.postmaster_pid(name) else {
            return;
        };
        let sig = if hang {
            Signal::SIGSTOP
        } else {
            Signal::SIGCONT
        };
        for p in std::iter::once(pid).chain(praetor::postgres::child_processes(pid)) {
            let _ = kill(nix::unistd::Pid::from_raw(p), sig);
        }
    }

    /// kill -9 of member `name`'s agent and postmaster together.
    pub fn kill_member(&mut self, name: &str) {
        let pm = self.postmaster_pid(name);
        self.signal_agent(name, nix::sys::signal::Signal::SIGKILL);
        if let Some(pid) = pm {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    /// Connects to member `name`'s PostgreSQL as the superuser.
    ///
    /// # Errors
    /// Not reachable.
    pub async fn pg(&self, name: &str) -> Result<tokio_postgres::Client> {
        let a = self
            .agents
            .get(name)
            .ok_or_else(|| anyhow!("no member {name}"))?;
        let mut cfg: tokio_postgres::Config = format!(
            "host={} port={} user=postgres password=super-secret dbname=postgres connect_timeout=2",
            a.host, a.pg_port
        )
        .parse()?;
        let creds = praetor::config::Credentials {
            sslmode: self.tls.as_ref().map(|_| "require".to_string()),
            ..Default::default()
        };
        tokio::time::timeout(
            Duration::from_secs(2),
            praetor::tls::pg_connect(&mut cfg, &creds, "testbed"),
        )
        .await
        .map_err(|_| anyhow!("connecting to {name}: timed out"))?
    }

    /// Waits until one member holds the leader key and `standbys` others report `streaming`.
    /// Returns the leader's name.
    ///
    /// # Errors
    /// Not reached within `timeout`.
    pub async fn wait_healthy(&self, standbys: usize, timeout: Duration) -> Result<String> {
        self.wait_healthy_in(None, standbys, timeout).await
    }

    /// [`Testbed::wait_healthy`] for one Citus group (`None`: a plain scope).
    ///
    /// # Errors
    /// Not reached within `timeout`.
    pub async fn wait_healthy_in(
        &self,
        group: Option<u32>,
        standbys: usize,
        timeout: Duration,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let view = match group {
                Some(g) => self.view_group(g).await,
                None => self.view().await,
            };
            if let Ok(v) = view {
                if let Some(l) = &v.leader {
                    let leader_running = v.member(&l.name).is_some_and(|m| {
                        m.is_running() && m.role() == Some(praetor::types::Role::Primary)
                    });
                    let streaming = v
                        .members
                        .iter()
                        .filter(|m| {
                            m.name != l.name
                                && m.data.replication_state.as_deref() == Some("streaming")
                        })
                        .count();
                    if leader_running && streaming >= standbys {
                        return Ok(l.name.clone());
                    }
                }
            }
            if Instant::now() > deadline {
                // The directory goes with the testbed: put what happened into the error itself.
                let mut tails = String::new();
                for (n, a) in &self.agents {
                    let log = std::fs::read_to_string(&a.log).unwrap_or_default();
                    let lines: Vec<&str> = log.lines().rev().take(25).collect();
                    tails.push_str(&format!("\n---- {n} ----\n"));
                    for l in lines.iter().rev() {
                        tails.push_str(l);
                        tails.push('\n');
                    }
                }
                bail!(
                    "no leader with {standbys} streaming standbys within {timeout:?} (logs in {}); last agent log lines:{tails}",
                    self.dir.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Stops every agent (SIGTERM, then SIGKILL after 15 s) and every postmaster still running.
    pub fn stop_all(&mut self) {
        let names: Vec<String> = self.agents.keys().cloned().collect();
        for n in &names {
            self.signal_agent(n, nix::sys::signal::Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        for n in &names {
            if let Some(a) = self.agents.get_mut(n) {
                if let Some(c) = a.child.as_mut() {
                    while Instant::now() < deadline {
                        if let Ok(Some(_)) = c.try_wait() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
            self.signal_agent(n, nix::sys::signal::Signal::SIGKILL);
            if let Some((pid, _)) = self
                .agents
                .get(n)
                .and_then(|a| praetor::fence::previous_guard(&a.data_dir))
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            if let Some(pid) = self.postmaster_pid(n) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGQUIT,
                );
                std::thread::sleep(Duration::from_millis(300));
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        self.stop_etcd();
    }
}
