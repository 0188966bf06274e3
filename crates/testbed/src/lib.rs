//! A local cluster on 127.0.0.1: one etcd and N praetor agents with their PostgreSQL servers, in a
//! temporary directory. Used by `praetor-demo` (`praetor demo`), by praetor's integration tests
//! and by the bench, so all exercise the
//! same real processes. Everything it starts is stopped when it is dropped.
//!
//! PostgreSQL refuses to run as root: when the caller is root, the directory is handed to the
//! `postgres` OS user, the praetor binary is copied into it (the caller's build directory may not
//! be readable by that user), and the agents run as that user.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use praetor::config::EtcdConfig;
use praetor::dcs::etcd::EtcdDcs;
use praetor::dcs::ClusterView;

/// The SQL stand-in for Citus used when the real extension is not installed (see its header).
pub const CITUS_STANDIN_SQL: &str = include_str!("../../../tests/fixtures/citus_standin.sql");

/// A free TCP port on 127.0.0.1 for a server started later (etcd, PostgreSQL, the REST API).
///
/// The port lies outside the kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`,
/// see [`server_port_range`]): a port from that range, bound and released, can be handed to an
/// outgoing connection (an agent's etcd client, say) before the server binds it, and the server
/// then fails with "Address already in use". Each call in a process returns a different port,
/// counting on from a start picked from the process id and the clock; each is checked by binding
/// it. Falls back to a kernel-chosen port when no range is left outside the ephemeral one.
///
/// # Errors
/// No port could be bound.
pub fn free_port() -> Result<u16> {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;
    static NEXT: OnceLock<AtomicU32> = OnceLock::new();
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|w| w.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999));
    let Some((lo, hi)) = server_port_range(ephemeral) else {
        return Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port());
    };
    let span = u32::from(hi - lo) + 1;
    let next = NEXT.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        AtomicU32::new(std::process::id().wrapping_mul(7919).wrapping_add(nanos))
    });
    for _ in 0..span.min(2000) {
        let port = lo + (next.fetch_add(1, Ordering::Relaxed) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free port on 127.0.0.1 between {lo} and {hi}")
}

/// The ports [`free_port`] hands out, given the kernel's ephemeral range `(first, last)`
/// (inclusive): the larger of the stretch from 10000 up to it and the stretch above it, or `None`
/// when neither holds 1000 ports.
pub fn server_port_range(ephemeral: (u16, u16)) -> Option<(u16, u16)> {
    let (first, last) = ephemeral;
    let below = (first > 11000).then(|| (10000, first - 1));
    let above = (last < 64535).then(|| (last + 1, 65535));
    let len = |r: &Option<(u16, u16)>| r.map_or(0, |(a, b)| b - a);
    if len(&below) >= len(&above) {
        below
    } else {
        above
    }
}

/// A TCP proxy between one agent and etcd, so a test can cut that agent off from etcd while
/// clients still reach its PostgreSQL and REST API, or make etcd answer that agent later.
pub struct EtcdProxy {
    /// Port the agent connects to.
    pub port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl EtcdProxy {
    fn start(etcd_port: u16) -> Result<EtcdProxy> {
        let std_listener = TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let port = std_listener.local_addr()?.port();
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> =
            Default::default();
        let delay_ms = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (c2, k2, d2) = (cut.clone(), conns.clone(), delay_ms.clone());
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if c2.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: the agent sees a reset connection
                }
                let delay = d2.clone();
                let task = tokio::spawn(async move {
                    if let Ok(outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", etcd_port)).await
                    {
                        pump(inbound, outbound, delay).await;
                    }
                });
                k2.lock().expect("not poisoned").push(task.abort_handle());
            }
        });
        Ok(EtcdProxy {
            port,
            cut,
            delay_ms,
            conns,
            accept,
        })
    }

    /// Cuts the agent off from etcd: open connections are dropped, new ones refused.
    pub fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for c in self.conns.lock().expect("not poisoned").drain(..) {
            c.abort();
        }
    }

    /// Lets the agent reach etcd again.
    pub fn restore(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// Delays everything etcd sends to the agent by `delay` (responses and watch events; order
    /// kept), from now on, on open connections too. `Duration::ZERO` removes the delay.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(
            delay.as_millis() as u64,
            std::sync::atomic::Ordering::SeqCst,
        );
    }
}

/// Copies agent→etcd as is and etcd→agent after the proxy's current delay, until either side
/// closes.
async fn pump(
    inbound: tokio::net::TcpStream,
    outbound: tokio::net::TcpStream,
    delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Without this, Nagle's algorithm holds back small gRPC frames for a delayed ACK (40 ms).
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (mut agent_r, mut agent_w) = inbound.into_split();
    let (mut etcd_r, mut etcd_w) = outbound.into_split();
    let up = async move {
        let _ = tokio::io::copy(&mut agent_r, &mut etcd_w).await;
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let read = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match etcd_r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let d = Duration::from_millis(delay_ms.load(std::sync::atomic::Ordering::SeqCst));
            if tx
                .send((tokio::time::Instant::now() + d, buf[..n].to_vec()))
                .is_err()
            {
                break;
            }
        }
    };
    let write = async move {
        while let Some((at, bytes)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if agent_w.write_all(&bytes).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        _ = up => {}
        _ = async { tokio::join!(read, write) } => {}
    }
}

impl Drop for EtcdProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

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
}

/// Timing of the testbed's cluster (seconds).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Lease length.
    pub ttl: u64,
    /// Cycle period.
    pub loop_wait: u64,
    /// Retry budget.
    pub retry_timeout: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            ttl: 30,
            loop_wait: 10,
            retry_timeout: 10,
        }
    }
}

/// TLS and credentials for a testbed (files generated by the caller): etcd serves HTTPS with
/// client-certificate auth and etcd user/password auth, the REST APIs serve HTTPS, and PostgreSQL
/// accepts TCP connections over TLS only (`hostssl`).
#[derive(Debug, Clone)]
pub struct TestTls {
    /// CA certificate (PEM) that signed `cert`.
    pub ca: PathBuf,
    /// Certificate for 127.0.0.1 / localhost with server and client use, shared by etcd, the REST
    /// APIs, PostgreSQL and every client.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// etcd `root` user's password (auth is enabled after etcd starts).
    pub etcd_password: String,
    /// `restapi.verify_client` per member (`required` when not listed).
    pub verify_client: BTreeMap<String, String>,
    /// `restapi.allowlist` per member, as a YAML flow sequence.
    pub allowlist: BTreeMap<String, String>,
}

/// A local etcd plus praetor agents.
pub struct Testbed {
    /// Root directory (removed on drop unless `keep` is set).
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    run_as: Option<(u32, u32)>,
    exe: PathBuf,
    etcd: Option<Child>,
    /// etcd client port (of the first member).
    pub etcd_port: u16,
    etcd_peer_port: u16,
    /// The other members of a multi-member etcd cluster ([`Testbed::start_etcd_cluster`]):
    /// (process, client port, peer port); empty for the usual single member.
    more_etcd: Vec<(Option<Child>, u16, u16)>,
    /// Agents by name.
    pub agents: BTreeMap<String, AgentProc>,
    /// Scope name.
    pub scope: String,
    /// Timing written to every agent's bootstrap.dcs.
    pub timing: Timing,
    /// Extra YAML appended to the `bootstrap.dcs` section (indented by the caller with 4 spaces).
    pub extra_dcs: String,
    /// Per-member `tags` as a YAML flow mapping, e.g. `{nofailover: true}`.
    pub tags: BTreeMap<String, String>,
    /// `restapi.authentication` (user, password) for every member.
    pub rest_auth: Option<(String, String)>,
    /// Citus group of each member; members not listed get no `citus` section.
    pub citus_groups: BTreeMap<String, u32>,
    /// Script configured for every `postgresql.callbacks` action.
    pub callback_script: Option<PathBuf>,
    /// Give each agent a `watchdog` section in automatic mode whose device is the plain file
    /// `<dir>/<name>.watchdog` (keepalives and the magic close land in it).
    pub file_watchdogs: bool,
    /// Give each agent its own proxy in front of etcd (see [`EtcdProxy`]); needs a tokio runtime.
    pub use_etcd_proxies: bool,
    /// The per-agent etcd proxies.
    pub etcd_proxies: BTreeMap<String, EtcdProxy>,
    /// Program started for each member instead of praetor (for example Patroni's `patroni`, which
    /// takes the same configuration file argument).
    pub agent_program: Option<PathBuf>,
    /// TLS everywhere (see [`TestTls`]); set before [`Testbed::start_etcd`], then call
    /// [`Testbed::enable_etcd_auth`].
    pub tls: Option<TestTls>,
    /// YAML appended to a member's configuration file (top-level sections it lacks, e.g. `log`).
    pub extra_config: BTreeMap<String, String>,
    /// Environment variables set for one member's agent only (e.g. systemd's `NOTIFY_SOCKET`),
    /// without touching the test process's own environment.
    pub agent_env: BTreeMap<String, Vec<(String, String)>>,
    etcd_auth: bool,
}

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

fn postgres_user() -> Result<(u32, u32)> {
    let u = nix::unistd::User::from_name("postgres")?
        .ok_or_else(|| anyhow!("running as root needs the `postgres` OS user (install postgresql-15, which creates it)"))?;
    Ok((u.uid.as_raw(), u.gid.as_raw()))
}

fn chown_r(path: &Path, uid: u32, gid: u32) -> Result<()> {
    nix::unistd::chown(
        path,
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
    )?;
    if path.is_dir() {
        for e in std::fs::read_dir(path)? {
            chown_r(&e?.path(), uid, gid)?;
        }
    }
    Ok(())
}

impl Testbed {
    /// Creates the directory (under `/tmp`) and copies `praetor_exe` into it.
    ///
    /// # Errors
    /// No `postgres` user while running as root; I/O errors.
    pub fn new(praetor_exe: &Path, scope: &str, timing: Timing) -> Result<Testbed> {
        let tmp = tempfile::Builder::new()
            .prefix("praetor-")
            .tempdir_in("/tmp")?;
        let dir = tmp.path().to_path_buf();
        let run_as = if nix::unistd::geteuid().is_root() {
            Some(postgres_user()?)
        } else {
            None
        };
        std::fs::create_dir_all(dir.join("bin"))?;
        let exe = dir.join("bin/praetor");
        std::fs::copy(praetor_exe, &exe)
            .with_context(|| format!("copying {}", praetor_exe.display()))?;
        // The standalone fence guard, when it was built alongside.
        let guard = praetor_exe.with_file_name("praetor-fence-guard");
        if guard.exists() {
            std::fs::copy(&guard, dir.join("bin/praetor-fence-guard"))
                .with_context(|| format!("copying {}", guard.display()))?;
        }
        if let Some((uid, gid)) = run_as {
            chown_r(&dir, uid, gid)?;
        }
        Ok(Testbed {
            dir,
            _tmp: Some(tmp),
            run_as,
            exe,
            etcd: None,
            etcd_port: free_port()?,
            etcd_peer_port: free_port()?,
            more_etcd: Vec::new(),
            agents: BTreeMap::new(),
            scope: scope.to_string(),
            timing,
            extra_dcs: String::new(),
            tags: BTreeMap::new(),
            rest_auth: None,
            agent_program: None,
            citus_groups: BTreeMap::new(),
            callback_script: None,
            use_etcd_proxies: false,
            file_watchdogs: false,
            etcd_proxies: BTreeMap::new(),
            tls: None,
            extra_config: BTreeMap::new(),
            agent_env: BTreeMap::new(),
            etcd_auth: false,
        })
    }

    /// Keeps the directory after drop (for inspecting logs).
    pub fn keep(&mut self) {
        if let Some(t) = self._tmp.take() {
            let _ = t.keep();
        }
    }

    fn as_user(&self, cmd: &mut Command) {
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid).env("HOME", &self.dir);
        }
    }

    /// The etcd endpoint URL.
    pub fn etcd_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.etcd_port)
    }

    /// Every etcd member's client URL, the first member first.
    pub fn etcd_urls(&self) -> Vec<String> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        std::iter::once(self.etcd_port)
            .chain(self.more_etcd.iter().map(|m| m.1))
            .map(|p| format!("{scheme}://127.0.0.1:{p}"))
            .collect()
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

    /// Hands the TLS files to the agents' user with mode 0600 (PostgreSQL refuses a key others
    /// can read).
    ///
    /// # Errors
    /// I/O errors.
    pub fn own_tls_files(&self) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        if let Some(t) = &self.tls {
            for f in [&t.ca, &t.cert, &t.key] {
                std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o600))?;
                if let Some((uid, gid)) = self.run_as {
                    chown_r(f, uid, gid)?;
                }
            }
        }
        Ok(())
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
        let client = format!("{scheme}://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let cluster: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(k, (_, pp))| format!("{}=http://127.0.0.1:{pp}", name(k)))
            .collect();
        let mut cmd = Command::new(etcd);
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
            // A local cluster: heartbeats and elections at etcd's defaults (100 ms, 1 s).
            cmd.arg("--heartbeat-interval=100")
                .arg("--election-timeout=1000");
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

    /// The YAML configuration of member `name`.
    pub fn config_yaml(&self, name: &str, rest_port: u16, pg_port: u16, data_dir: &Path) -> String {
        let etcd_hosts = match self.etcd_proxies.get(name) {
            // Behind its proxy the agent must not find the members themselves.
            Some(p) => format!("127.0.0.1:{}\n  use_proxies: true", p.port),
            None => std::iter::once(self.etcd_port)
                .chain(self.more_etcd.iter().map(|m| m.1))
                .map(|p| format!("127.0.0.1:{p}"))
                .collect::<Vec<_>>()
                .join(","),
        };
        let t = self.timing;
        format!(
            r#"scope: {scope}
namespace: /service/
name: {name}
restapi:
  listen: 127.0.0.1:{rest_port}
  connect_address: 127.0.0.1:{rest_port}
{rest_auth}{rest_tls}etcd3:
  hosts: {etcd_hosts}
{etcd_tls}bootstrap:
  dcs:
    ttl: {ttl}
    loop_wait: {lw}
    retry_timeout: {rt}
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        max_connections: 50
        shared_buffers: 16MB
{extra}{post_bootstrap}  initdb:
  - encoding: UTF8
  - data-checksums
postgresql:
  listen: 127.0.0.1:{pg_port}
  connect_address: 127.0.0.1:{pg_port}
  data_dir: {data}
  bin_dir: {bin_dir}
  authentication:
    superuser: {{username: postgres, password: super-secret{pg_client_su}}}
    replication: {{username: replicator, password: rep-secret{pg_client}}}
    rewind: {{username: rewind_user, password: rewind-secret{pg_client}}}
  parameters:
    unix_socket_directories: {sock}
    fsync: 'off'
    log_min_messages: warning
{pg_ssl}{callbacks}  pg_hba:
    - local all all trust
    - {hba} replication replicator 127.0.0.1/32 md5
    - {hba} all all 127.0.0.1/32 md5
{tags}{auth}{citus}{watchdog}{extra_config}"#,
            extra_config = self.extra_config.get(name).cloned().unwrap_or_default(),
            rest_tls = self.tls.as_ref().map(|t| {
                let mut y = format!(
                    "  certfile: {}\n  keyfile: {}\n  cafile: {}\n  verify_client: {}\n",
                    t.cert.display(),
                    t.key.display(),
                    t.ca.display(),
                    t.verify_client.get(name).map_or("required", String::as_str)
                );
                if let Some(a) = t.allowlist.get(name) {
                    y.push_str(&format!("  allowlist: {a}\n"));
                }
                y
            }).unwrap_or_default(),
            etcd_tls = self.tls.as_ref().map(|t| format!(
                "  protocol: https\n  cacert: {}\n  cert: {}\n  key: {}\n  username: root\n  password: {}\n",
                t.ca.display(), t.cert.display(), t.key.display(), t.etcd_password
            )).unwrap_or_default(),
            pg_client_su = if self.tls.is_some() { ", sslmode: require" } else { "" },
            pg_client = self.tls.as_ref().map(|t| format!(
                ", sslmode: verify-full, sslrootcert: {}", t.ca.display()
            )).unwrap_or_default(),
            pg_ssl = self.tls.as_ref().map(|t| format!(
                "    ssl: 'on'\n    ssl_cert_file: {}\n    ssl_key_file: {}\n    ssl_ca_file: {}\n",
                t.cert.display(), t.key.display(), t.ca.display()
            )).unwrap_or_default(),
            hba = if self.tls.is_some() { "hostssl" } else { "host" },
            scope = self.scope,
            rest_auth = self
                .rest_auth
                .as_ref()
                .map(|(u, p)| format!("  authentication: {{username: {u}, password: {p}}}\n"))
                .unwrap_or_default(),
            ttl = t.ttl,
            lw = t.loop_wait,
            rt = t.retry_timeout,
            extra = self.extra_dcs,
            data = data_dir.display(),
            sock = self.dir.display(),
            bin_dir = praetor::postgres::find_bin_dir(None)
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            tags = self
                .tags
                .get(name)
                .map(|t| format!("tags: {t}\n"))
                .unwrap_or_default(),
            watchdog = if self.file_watchdogs {
                format!("watchdog: {{mode: automatic, device: {}, safety_margin: 5}}\n", self.dir.join(format!("{name}.watchdog")).display())
            } else {
                String::new()
            },
            callbacks = self
                .callback_script
                .as_ref()
                .map(|p| {
                    let p = p.display();
                    format!("  callbacks: {{on_start: {p}, on_stop: {p}, on_restart: {p}, on_reload: {p}, on_role_change: {p}}}\n")
                })
                .unwrap_or_default(),
            citus = self
                .citus_groups
                .get(name)
                .map(|g| format!("citus: {{group: {g}, database: citus}}\n"))
                .unwrap_or_default(),
            post_bootstrap = match (
                self.citus_groups.contains_key(name),
                self.citus_standin_script()
            ) {
                (true, Some(script)) => format!("  post_bootstrap: sh {}\n", script.display()),
                _ => String::new(),
            },
            auth = self
                .rest_auth
                .as_ref()
                .map(|(u, p)| match &self.tls {
                    None => format!("ctl: {{authentication: {{username: {u}, password: {p}}}}}\n"),
                    Some(t) => format!(
                        "ctl: {{authentication: {{username: {u}, password: {p}}}, certfile: {}, keyfile: {}, cacert: {}}}\n",
                        t.cert.display(), t.key.display(), t.ca.display()
                    ),
                })
                .unwrap_or_default(),
        )
    }

    /// Whether the real Citus library is installed for the PostgreSQL in use.
    pub fn citus_installed() -> bool {
        praetor::postgres::find_bin_dir(None)
            .ok()
            .and_then(|b| b.parent().map(|p| p.join("lib").join("citus.so").exists()))
            .unwrap_or(false)
    }

    /// When Citus is not installed: writes the SQL stand-in (tests/fixtures/citus_standin.sql) and a
    /// `post_bootstrap` script that loads it into template1, and returns the script's path.
    fn citus_standin_script(&self) -> Option<PathBuf> {
        if Self::citus_installed() {
            return None;
        }
        let sql = self.dir.join("citus_standin.sql");
        let script = self.dir.join("load-citus-standin.sh");
        if !script.exists() {
            let psql = praetor::postgres::find_bin_dir(None).ok()?.join("psql");
            std::fs::write(&sql, CITUS_STANDIN_SQL).ok()?;
            let body = format!(
                "#!/bin/sh\n# Loads the Citus stand-in into template1 (the Citus database is created from it).\nexec {} \"${{1%/*}}/template1\" -v ON_ERROR_STOP=1 -q -f {}\n",
                psql.display(),
                sql.display()
            );
            std::fs::write(&script, body).ok()?;
            if let Some((uid, gid)) = self.run_as {
                let _ = chown_r(&sql, uid, gid);
                let _ = chown_r(&script, uid, gid);
            }
        }
        Some(script)
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
        let rest_port = free_port()?;
        let pg_port = free_port()?;
        let data_dir = self.dir.join(format!("{name}-data"));
        let config = self.dir.join(format!("{name}.yml"));
        std::fs::write(
            &config,
            self.config_yaml(name, rest_port, pg_port, &data_dir),
        )?;
        let log = self.dir.join(format!("{name}.log"));
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
        let mut cmd = Command::new(self.agent_program.as_ref().unwrap_or(&self.exe));
        cmd.arg(&a.config)
            // The level comes from the configuration's `log` section (default INFO), as in
            // production; a RUST_LOG in the caller's environment would override it.
            .env_remove("RUST_LOG")
            .envs(self.agent_env.get(name).into_iter().flatten().cloned())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        self.as_user(&mut cmd);
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

    /// PID of member `name`'s postmaster, from `postmaster.pid`.
    pub fn postmaster_pid(&self, name: &str) -> Option<i32> {
        let a = self.agents.get(name)?;
        let text = std::fs::read_to_string(a.data_dir.join("postmaster.pid")).ok()?;
        let pid: i32 = text.lines().next()?.trim().parse().ok()?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
            .is_ok()
            .then_some(pid)
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
            "host=127.0.0.1 port={} user=postgres password=super-secret dbname=postgres connect_timeout=2",
            a.pg_port
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
                    let leader_running = v
                        .member(&l.name)
                        .is_some_and(|m| m.is_running() && m.role() == Some(praetor::types::Role::Primary));
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

impl Drop for Testbed {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Row ids for the `probe` table, unique within this process (a second writer or prober on the
/// same table must not collide with an earlier one's rows).
pub fn next_probe_id() -> i64 {
    static NEXT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
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

/// A client that commits one row every 10 ms through whichever member is primary (libpq's
/// `target_session_attrs=read-write` over all members), reconnecting at once after an error, as
/// an application behind a multi-host connection string does. Needs a `probe` table.
pub struct Writer {
    stop: Arc<std::sync::atomic::AtomicBool>,
    /// Acknowledged commits: (row id, member port, when acknowledged).
    pub acks: Arc<Mutex<Vec<(i64, u16, Instant)>>>,
    /// Failed attempts (connect or commit).
    pub errors: Arc<std::sync::atomic::AtomicUsize>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl Writer {
    /// Starts writing to the members at these `(name, port)`s with this `synchronous_commit`.
    pub fn start(members: Vec<(String, u16)>, synchronous_commit: &'static str) -> Writer {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let acks: Arc<Mutex<Vec<(i64, u16, Instant)>>> = Arc::default();
        let errors: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let (s, a, e) = (stop.clone(), acks.clone(), errors.clone());
        let hosts = vec!["127.0.0.1"; members.len()].join(",");
        let ports: Vec<String> = members.iter().map(|(_, p)| p.to_string()).collect();
        let conn = format!(
            "host={hosts} port={} user=postgres password=super-secret dbname=postgres \
             connect_timeout=1 target_session_attrs=read-write",
            ports.join(",")
        );
        let handle = tokio::spawn(async move {
            let mut client: Option<(tokio_postgres::Client, u16)> = None;
            while !s.load(std::sync::atomic::Ordering::SeqCst) {
                let started = Instant::now();
                if client.as_ref().is_none_or(|(c, _)| c.is_closed()) {
                    client = None;
                    let connected = tokio::time::timeout(
                        Duration::from_secs(2),
                        tokio_postgres::connect(&conn, tokio_postgres::NoTls),
                    )
                    .await;
                    if let Ok(Ok((c, connection))) = connected {
                        tokio::spawn(connection);
                        let port = c
                            .query_one("SELECT current_setting('port')::int", &[])
                            .await
                            .ok()
                            .map(|r| r.get::<_, i32>(0) as u16);
                        let _ = c
                            .batch_execute(&format!(
                                "SET synchronous_commit = {synchronous_commit}"
                            ))
                            .await;
                        if let Some(p) = port {
                            client = Some((c, p));
                        }
                    }
                    if client.is_none() {
                        e.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                }
                let (c, port) = client.as_ref().expect("connected above");
                let id = next_probe_id();
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&id, &"writer"];
                let q = c.execute("INSERT INTO probe(id, member) VALUES ($1, $2)", &params);
                match tokio::time::timeout(Duration::from_secs(2), q).await {
                    Ok(Ok(_)) => a
                        .lock()
                        .expect("not poisoned")
                        .push((id, *port, Instant::now())),
                    _ => {
                        e.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        client = None;
                    }
                }
                tokio::time::sleep(Duration::from_millis(10).saturating_sub(started.elapsed()))
                    .await;
            }
        });
        Writer {
            stop,
            acks,
            errors,
            handle: Some(handle),
        }
    }

    /// Stops writing and waits for the client task.
    pub async fn stop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }

    /// First acknowledgement at or after `t` by the member on `port`.
    pub fn first_ack_after(&self, t: Instant, port: u16) -> Option<Instant> {
        self.acks
            .lock()
            .unwrap()
            .iter()
            .find(|(_, p, at)| *at >= t && *p == port)
            .map(|(_, _, at)| *at)
    }

    /// Acknowledged ids missing on `member`.
    ///
    /// # Errors
    /// The member cannot be reached or read.
    pub async fn missing_on(&self, tb: &Testbed, member: &str) -> Result<Vec<i64>> {
        let c = tb.pg(member).await?;
        let present: std::collections::BTreeSet<i64> = c
            .query("SELECT id FROM probe WHERE member = 'writer'", &[])
            .await
            .context("reading the probe table")?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok(self
            .acks
            .lock()
            .unwrap()
            .iter()
            .map(|(id, _, _)| *id)
            .filter(|id| !present.contains(id))
            .collect())
    }

    /// The longest time between two consecutive acknowledgements in `[from, to]`.
    pub fn longest_gap(&self, from: Instant, to: Instant) -> Duration {
        let acks = self.acks.lock().expect("not poisoned");
        let times: Vec<Instant> = acks
            .iter()
            .map(|(_, _, at)| *at)
            .filter(|at| *at >= from && *at <= to)
            .collect();
        times
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::server_port_range;

    #[test]
    fn server_ports_avoid_the_ephemeral_range() {
        let cases = [
            ((32768, 60999), Some((10000, 32767))), // Linux's default
            ((1024, 60999), Some((61000, 65535))),
            ((49152, 65535), Some((10000, 49151))), // the IANA range
            ((1024, 65000), None),
        ];
        for (ephemeral, want) in cases {
            assert_eq!(server_port_range(ephemeral), want, "{ephemeral:?}");
        }
    }

    #[test]
    fn free_ports_differ_and_lie_outside_the_ephemeral_range() {
        let a = super::free_port().unwrap();
        let b = super::free_port().unwrap();
        assert_ne!(a, b);
        let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
        let v: Vec<u16> = range
            .split_whitespace()
            .map(|w| w.parse().unwrap())
            .collect();
        if let Some((lo, hi)) = server_port_range((v[0], v[1])) {
            assert!(
                (lo..=hi).contains(&a) && (lo..=hi).contains(&b),
                "{a} {b} vs {range}"
            );
        }
    }
}
