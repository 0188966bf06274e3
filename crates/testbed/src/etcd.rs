//! The testbed's local etcd, a single member or a cluster: starting, killing and restarting
//! members, and the etcd and DCS clients tests read it through.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use praetor::config::EtcdConfig;
use praetor::dcs::etcd::EtcdDcs;
use praetor::dcs::ClusterView;

use crate::{free_port, Testbed};

/// Finds `etcd`, or says which package provides it.
///
/// # Errors
/// Not installed.
pub fn find_etcd() -> Result<PathBuf> {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/bin", "/usr/local/bin"])
    {
        let p = Path::new(dir).join("etcd");
        if p.exists() {
            return Ok(p);
        }
    }
    bail!("etcd is not installed: install it with `apt-get install etcd-server`")
}

impl Testbed {
    /// The etcd endpoint URL.
    pub fn etcd_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}:{}", self.etcd_addr(0), self.etcd_port)
    }

    /// Every etcd member's client URL, the first member first.
    pub fn etcd_urls(&self) -> Vec<String> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        (0..self.etcd_members())
            .map(|k| {
                format!(
                    "{scheme}://{}:{}",
                    self.etcd_addr(k),
                    self.etcd_client_port(k)
                )
            })
            .collect()
    }

    /// The address etcd member `k` listens on: 127.0.0.1, or host k's ([`Testbed::network`]).
    pub fn etcd_addr(&self, k: usize) -> String {
        match &self.network {
            Some(n) => n.host_ip(k).to_string(),
            None => "127.0.0.1".into(),
        }
    }

    /// etcd member `k`'s client port.
    pub fn etcd_client_port(&self, k: usize) -> u16 {
        if k == 0 {
            self.etcd_port
        } else {
            self.more_etcd.get(k - 1).map_or(0, |m| m.1)
        }
    }

    /// Starts a cluster of `members` etcd members, member k on test host k (standard ports 2379
    /// and 2380), and waits until it answers. Call once, before adding agents.
    ///
    /// # Errors
    /// No [`Testbed::network`] or fewer hosts than members; etcd missing or not answering.
    pub async fn start_etcd_on_hosts(&mut self, members: usize) -> Result<()> {
        let hosts = self.network.as_ref().map_or(0, |n| n.len());
        if members > hosts {
            bail!("{members} etcd members need as many test hosts; there are {hosts}");
        }
        self.etcd_port = 2379;
        self.etcd_peer_port = 2380;
        self.more_etcd.clear();
        while self.more_etcd.len() + 1 < members {
            self.more_etcd.push((None, 2379, 2380));
        }
        for i in 0..members {
            self.spawn_etcd_member(i)?;
        }
        self.wait_etcd().await
    }

    /// The etcd settings a client of this testbed needs (every member, TLS files and, once
    /// enabled, the root user's credentials).
    pub fn etcd_config(&self) -> EtcdConfig {
        let mut c = EtcdConfig {
            endpoints: self.etcd_urls(),
            ..Default::default()
        };
        if let Some(t) = &self.tls {
            c.cacert = Some(t.ca.clone());
            c.cert = Some(t.cert.clone());
            c.key = Some(t.key.clone());
            if self.etcd_auth {
                c.username = Some("root".into());
                c.password = Some(t.etcd_password.clone());
            }
        }
        c
    }

    /// Creates etcd's `root` user with [`TestTls::etcd_password`] and enables etcd's auth; later
    /// clients of the testbed log in as root.
    ///
    /// # Errors
    /// etcd refused.
    pub async fn enable_etcd_auth(&mut self) -> Result<()> {
        let t = self
            .tls
            .clone()
            .ok_or_else(|| anyhow!("enable_etcd_auth needs TLS settings"))?;
        let cfg = self.etcd_config();
        let mut opts = etcd_client::ConnectOptions::new();
        opts = opts.with_tls(
            etcd_client::TlsOptions::new()
                .ca_certificate(etcd_client::Certificate::from_pem(std::fs::read(&t.ca)?))
                .identity(etcd_client::Identity::from_pem(
                    std::fs::read(&t.cert)?,
                    std::fs::read(&t.key)?,
                )),
        );
        let mut c = etcd_client::Client::connect(&cfg.endpoints, Some(opts)).await?;
        c.user_add("root", t.etcd_password.clone(), None).await?;
        c.user_grant_role("root", "root").await?;
        c.auth_enable().await?;
        self.etcd_auth = true;
        Ok(())
    }

    /// Starts (or restarts) etcd and waits until it answers.
    ///
    /// # Errors
    /// etcd missing or not answering within 20 s.
    pub async fn start_etcd(&mut self) -> Result<()> {
        self.spawn_etcd_member(0)?;
        self.wait_etcd().await
    }

    /// Starts a cluster of `members` etcd members on 127.0.0.1 (the first on
    /// [`Testbed::etcd_port`]) and waits until it answers; agents are given every member, the first
    /// first. Call once, before adding agents.
    ///
    /// # Errors
    /// etcd missing or the cluster not answering within 20 s.
    pub async fn start_etcd_cluster(&mut self, members: usize) -> Result<()> {
        while self.more_etcd.len() + 1 < members {
            self.more_etcd.push((None, free_port()?, free_port()?));
        }
        for i in 0..members {
            self.spawn_etcd_member(i)?;
        }
        self.wait_etcd().await
    }

    /// Number of etcd members.
    pub fn etcd_members(&self) -> usize {
        1 + self.more_etcd.len()
    }

    /// Kills etcd member `i` (SIGKILL; 0 is the first).
    pub fn kill_etcd_member(&mut self, i: usize) {
        let child = if i == 0 {
            self.etcd.take()
        } else {
            self.more_etcd.get_mut(i - 1).and_then(|m| m.0.take())
        };
        if let Some(mut c) = child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts etcd member `i` again on its data directory (it rejoins the cluster).
    ///
    /// # Errors
    /// etcd could not be started.
    pub fn restart_etcd_member(&mut self, i: usize) -> Result<()> {
        self.spawn_etcd_member(i)
    }

    /// Index of the etcd member that is the Raft leader now (asked of each running member).
    ///
    /// # Errors
    /// No member answered.
    pub async fn etcd_leader(&self) -> Result<usize> {
        let urls = self.etcd_urls();
        for url in &urls {
            let cfg = EtcdConfig {
                endpoints: vec![url.clone()],
                ..self.etcd_config()
            };
            let Ok(mut c) = etcd_client::Client::connect(&cfg.endpoints, None).await else {
                continue;
            };
            let Ok(Ok(st)) = tokio::time::timeout(Duration::from_secs(1), c.status()).await else {
                continue;
            };
            let Ok(Ok(ms)) = tokio::time::timeout(Duration::from_secs(1), c.member_list()).await
            else {
                continue;
            };
            let leader = ms.members().iter().find(|m| m.id() == st.leader());
            if let Some(i) = leader
                .and_then(|m| m.client_urls().first())
                .and_then(|u| urls.iter().position(|x| x == u.trim_end_matches('/')))
            {
                return Ok(i);
            }
        }
        bail!("no etcd member named a leader")
    }

    /// Makes etcd member `to` the Raft leader (etcd's move-leader, sent to the current leader);
    /// returns once a member names it leader.
    ///
    /// # Errors
    /// No leader, or the move did not happen within 10 s.
    pub async fn move_etcd_leader(&self, to: usize) -> Result<()> {
        let urls = self.etcd_urls();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let from = self.etcd_leader().await?;
            if from == to {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("etcd member {to} did not become leader (member {from} is)");
            }
            let mut c = etcd_client::Client::connect([urls[from].as_str()], None).await?;
            let ms = c.member_list().await?;
            let target = ms
                .members()
                .iter()
                .find(|m| {
                    m.client_urls()
                        .iter()
                        .any(|u| u.trim_end_matches('/') == urls[to])
                })
                .ok_or_else(|| anyhow!("etcd member {to} is not in the member list"))?
                .id();
            let _ = c.move_leader(target).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    fn spawn_etcd_member(&mut self, i: usize) -> Result<()> {
        let etcd = find_etcd()?;
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let ports: Vec<(u16, u16)> = std::iter::once((self.etcd_port, self.etcd_peer_port))
            .chain(self.more_etcd.iter().map(|m| (m.1, m.2)))
            .collect();
        let single = ports.len() == 1;
        let name = |k: usize| {
            if single {
                "praetor".to_string()
            } else {
                format!("etcd{k}")
            }
        };
        let (client_port, peer_port) = ports[i];
        let data = self.dir.join(if single {
            "etcd".into()
        } else {
            format!("etcd{i}")
        });
        std::fs::create_dir_all(&data)?;
        let log_name = if single {
            "etcd.log".into()
        } else {
            format!("etcd{i}.log")
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(log_name))?;
        let client = format!("{scheme}://{}:{client_port}", self.etcd_addr(i));
        let peer = format!("http://{}:{peer_port}", self.etcd_addr(i));
        let cluster: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(k, (_, pp))| format!("{}=http://{}:{pp}", name(k), self.etcd_addr(k)))
            .collect();
        let mut cmd = match &self.network {
            Some(net) => net.command(i, &etcd),
            None => Command::new(&etcd),
        };
        if let Some(t) = &self.tls {
            cmd.arg(format!("--cert-file={}", t.cert.display()))
                .arg(format!("--key-file={}", t.key.display()))
                .arg(format!("--trusted-ca-file={}", t.ca.display()))
                .arg("--client-cert-auth");
        }
        cmd.arg(format!("--name={}", name(i)))
            .arg(format!("--data-dir={}", data.display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster={}", cluster.join(",")))
            .arg(format!("--initial-cluster-token={}", self.scope))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        if !single {
            // A local cluster: heartbeats and elections at etcd's defaults (100 ms, 1 s), and
            // pre-vote as etcd 3.5+ defaults to (docs/production.md §2): a member back from a
            // partition does not force an election on the majority.
            cmd.arg("--heartbeat-interval=100")
                .arg("--election-timeout=1000")
                .arg("--pre-vote");
        }
        let child = cmd.spawn().context("starting etcd")?;
        if i == 0 {
            self.etcd = Some(child);
        } else {
            self.more_etcd[i - 1].0 = Some(child);
        }
        Ok(())
    }

    async fn wait_etcd(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(d) = self.dcs().await {
                if d.load().await.is_ok() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "etcd did not answer within 20 s; see the etcd logs in {}",
                    self.dir.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops etcd (SIGKILL, every member) — the "etcd is down" fault.
    pub fn stop_etcd(&mut self) {
        for i in 0..self.etcd_members() {
            self.kill_etcd_member(i);
        }
    }

    /// A DCS client on the scope's prefix.
    ///
    /// # Errors
    /// Invalid endpoint.
    pub async fn dcs(&self) -> Result<EtcdDcs> {
        EtcdDcs::connect(
            &self.etcd_config(),
            &format!("/service/{}/", self.scope),
            "testbed",
            Duration::from_secs(2),
        )
        .await
    }

    /// Reads the scope.
    ///
    /// # Errors
    /// etcd unreachable.
    pub async fn view(&self) -> Result<ClusterView> {
        self.dcs().await?.load().await
    }

    /// Reads one Citus group of the scope.
    ///
    /// # Errors
    /// etcd unreachable.
    pub async fn view_group(&self, group: u32) -> Result<ClusterView> {
        let d = self.dcs().await?;
        d.load_prefix(&format!("/service/{}/{group}/", self.scope))
            .await
    }
}

/// Records when etcd deleted a key (a leader key's lease expiring, or its release), seen on a
/// direct watch. Lease TTLs have 1 s granularity; the event time is the precise moment.
///
/// # Errors
/// etcd unreachable.
pub async fn watch_deletes(etcd_url: &str, key: String) -> Result<Arc<Mutex<Vec<Instant>>>> {
    let deletes: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let mut c = etcd_client::Client::connect([etcd_url], None).await?;
    let (watcher, mut stream) = c.watch(key, None).await?;
    let d = deletes.clone();
    tokio::spawn(async move {
        let _keep = (watcher, c);
        while let Ok(Some(resp)) = stream.message().await {
            for ev in resp.events() {
                if ev.event_type() == etcd_client::EventType::Delete {
                    d.lock().expect("not poisoned").push(Instant::now());
                }
            }
        }
    });
    Ok(deletes)
}
