//! Helpers shared by the integration tests: a testbed with test timing, and a prober that tries a
//! commit on every member every 100 ms and records which members accepted one in each round.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use praetor_testbed::{Testbed, Timing};

pub mod pki;

/// ttl 10 s, loop_wait 2 s, retry_timeout 4 s: loop_wait + 2 * retry_timeout = ttl.
pub const TIMING: Timing = Timing {
    ttl: 10,
    loop_wait: 2,
    retry_timeout: 4,
};

pub fn testbed(scope: &str) -> Testbed {
    testbed_timed(scope, TIMING)
}

/// [`testbed`] with other timing (the fast profile).
#[allow(dead_code)]
pub fn testbed_timed(scope: &str, timing: Timing) -> Testbed {
    let exe = Path::new(env!("CARGO_BIN_EXE_praetor"));
    let mut tb = Testbed::new(exe, scope, timing).expect("creating the testbed");
    if std::env::var_os("PRAETOR_TEST_KEEP").is_some() {
        tb.keep();
        eprintln!("keeping {}", tb.dir.display());
    }
    tb
}

/// Starts etcd and `n` members and waits for one leader and n-1 streaming standbys.
pub async fn three_member_group(scope: &str, n: usize) -> (Testbed, String) {
    let mut tb = testbed(scope);
    tb.start_etcd().await.expect("starting etcd");
    for i in 1..=n {
        tb.add_agent(&format!("m{i}")).expect("starting an agent");
    }
    let leader = healthy(&tb, n - 1, Duration::from_secs(120)).await;
    (tb, leader)
}

/// [`Testbed::wait_healthy`], or a panic with every agent's log tail.
pub async fn healthy(tb: &Testbed, standbys: usize, timeout: Duration) -> String {
    match tb.wait_healthy(standbys, timeout).await {
        Ok(l) => l,
        Err(e) => {
            dump_logs(tb);
            panic!("{e:#}");
        }
    }
}

/// Waits up to `timeout` for agent `name`'s process to exit and returns its exit status; panics
/// with every agent's logs when it does not exit in time.
pub async fn agent_exit(
    tb: &mut Testbed,
    name: &str,
    timeout: Duration,
) -> std::process::ExitStatus {
    let mut child = tb
        .agents
        .get_mut(name)
        .and_then(|a| a.child.take())
        .expect("the agent runs");
    let exited = wait_for(timeout, || {
        let st = child.try_wait().ok().flatten();
        async move { st }
    })
    .await;
    exited.unwrap_or_else(|| {
        dump_logs(tb);
        panic!("{name}'s agent did not exit within {timeout:?}");
    })
}

/// Prints each agent's first and last log lines and the end of its PostgreSQL log: the test's
/// directory is gone after the run, so a CI failure must be explained by what is printed here.
pub fn dump_logs(tb: &Testbed) {
    fn excerpt(path: &std::path::Path, head: usize, tail: usize) {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        eprintln!("---- {} ({} lines) ----", path.display(), lines.len());
        if lines.len() > head + tail {
            lines[..head].iter().for_each(|l| eprintln!("{l}"));
            eprintln!("[...]");
            lines[lines.len() - tail..]
                .iter()
                .for_each(|l| eprintln!("{l}"));
        } else {
            lines.iter().for_each(|l| eprintln!("{l}"));
        }
    }
    for a in tb.agents.values() {
        excerpt(&a.log, 15, 40);
        excerpt(
            &std::path::PathBuf::from(format!("{}.log", a.data_dir.display())),
            0,
            12,
        );
    }
}

/// One probe round: the members whose commit succeeded, and when.
#[derive(Debug, Clone)]
pub struct Round {
    pub at: Instant,
    pub writable: Vec<String>,
    /// For each member in `writable`: when its INSERT was sent and when it was acknowledged.
    /// Connecting is not included (a SCRAM handshake to a member can take a large part of a
    /// round, so two acknowledgements of one round can be a handover, not two primaries).
    pub spans: Vec<(Instant, Instant)>,
}

impl Round {
    /// Whether two members' acknowledged commits in this round may have been concurrent: their
    /// send-to-acknowledgement spans overlap.
    pub fn overlapping(&self) -> bool {
        self.spans.iter().enumerate().any(|(i, (a1, b1))| {
            self.spans
                .iter()
                .skip(i + 1)
                .any(|(a2, b2)| a1 <= b2 && a2 <= b1)
        })
    }
}

/// One probe of one member: connects if `slot` has no open session (1 s), then commits a
/// numbered row (1 s). Returns (member, row id, sent, answered, acknowledged); `None` when it
/// could not connect.
async fn probe_member(
    name: &str,
    host: &str,
    port: u16,
    slot: &mut Option<tokio_postgres::Client>,
    synchronous_commit: &'static str,
) -> Option<(String, i64, Instant, Instant, bool)> {
    if slot.as_ref().is_none_or(|c| c.is_closed()) {
        *slot = None;
        // A statement_timeout would cancel a commit's wait for the synchronous standby, and
        // PostgreSQL then reports the commit as done: with synchronous_commit on, time out on
        // the client side.
        let options = if synchronous_commit == "local" {
            " options='-c statement_timeout=1000'"
        } else {
            ""
        };
        let conn = format!(
            "host={host} port={port} user=postgres password=super-secret dbname=postgres connect_timeout=1{options}"
        );
        match tokio::time::timeout(
            Duration::from_secs(1),
            tokio_postgres::connect(&conn, tokio_postgres::NoTls),
        )
        .await
        {
            Ok(Ok((c, conn))) => {
                tokio::spawn(conn);
                let _ = c
                    .batch_execute(&format!("SET synchronous_commit = {synchronous_commit}"))
                    .await;
                *slot = Some(c);
            }
            _ => return None,
        }
    }
    let c = slot.as_ref()?;
    let id = praetor_testbed::next_probe_id();
    let sent = Instant::now();
    let name_param = name.to_string();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&id, &name_param];
    let q = c.execute("INSERT INTO probe(id, member) VALUES ($1, $2)", &params);
    let outcome = tokio::time::timeout(Duration::from_secs(1), q).await;
    let ok = matches!(outcome, Ok(Ok(_)));
    if outcome.is_err() {
        // An unanswered commit is not acknowledged; reconnect next time. (A refused one, e.g. by
        // a read-only standby, keeps the session.)
        *slot = None;
    }
    Some((name.to_string(), id, sent, Instant::now(), ok))
}

/// Commits a numbered row on every member every 100 ms; records acknowledgements per round.
pub struct Prober {
    stop: Arc<AtomicBool>,
    pub rounds: Arc<Mutex<Vec<Round>>>,
    /// Acknowledged row ids per member.
    pub acked: Arc<Mutex<BTreeMap<String, Vec<i64>>>>,
    /// Every probe: (member, when it finished, acknowledged?).
    pub probes: Arc<Mutex<Vec<(String, Instant, bool)>>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl Prober {
    pub async fn start(members: Vec<(String, u16)>) -> Prober {
        Self::start_with(members, "local").await
    }

    /// Like [`Prober::start`] with the given `synchronous_commit` for the probing sessions (`on`
    /// makes an acknowledgement wait for the synchronous standby).
    pub async fn start_with(
        members: Vec<(String, u16)>,
        synchronous_commit: &'static str,
    ) -> Prober {
        let members = members
            .into_iter()
            .map(|(n, p)| (n, "127.0.0.1".to_string(), p))
            .collect();
        Self::start_on(members, synchronous_commit).await
    }

    /// [`Prober::start_with`] for members at their own addresses: (name, host, port).
    pub async fn start_on(
        members: Vec<(String, String, u16)>,
        synchronous_commit: &'static str,
    ) -> Prober {
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(Mutex::new(Vec::new()));
        let acked: Arc<Mutex<BTreeMap<String, Vec<i64>>>> = Arc::new(Mutex::new(BTreeMap::new()));
        let probes: Arc<Mutex<Vec<(String, Instant, bool)>>> = Arc::new(Mutex::new(Vec::new()));
        let (s, r, a, pr) = (stop.clone(), rounds.clone(), acked.clone(), probes.clone());
        let handle = tokio::spawn(async move {
            // Members are probed concurrently within a round, so a hung member does not delay
            // the others (and the moment writes come back is seen within one round).
            let mut clients: Vec<Option<tokio_postgres::Client>> =
                members.iter().map(|_| None).collect();
            while !s.load(Ordering::SeqCst) {
                let started = Instant::now();
                let results =
                    futures::future::join_all(members.iter().zip(clients.iter_mut()).map(
                        |((name, host, port), slot)| {
                            probe_member(name, host, *port, slot, synchronous_commit)
                        },
                    ))
                    .await;
                let mut writable = Vec::new();
                let mut spans = Vec::new();
                for (name, id, sent, at, ok) in results.into_iter().flatten() {
                    if ok {
                        writable.push(name.clone());
                        spans.push((sent, at));
                        a.lock().unwrap().entry(name.clone()).or_default().push(id);
                    }
                    pr.lock().unwrap().push((name, at, ok));
                }
                r.lock().unwrap().push(Round {
                    at: started,
                    writable,
                    spans,
                });
                tokio::time::sleep(Duration::from_millis(100).saturating_sub(started.elapsed()))
                    .await;
            }
        });
        Prober {
            stop,
            rounds,
            acked,
            probes,
            handle: Some(handle),
        }
    }

    /// Like [`Prober::start_on`], but each member is probed on its own every 100 ms, so a member
    /// that does not answer (a host cut off) does not slow the probing of the others: the probes
    /// (and the times derived from them, [`Prober::acked_outage`]) keep a 100 ms resolution.
    /// `rounds` stays empty.
    #[allow(dead_code)]
    pub async fn start_independent(
        members: Vec<(String, String, u16)>,
        synchronous_commit: &'static str,
    ) -> Prober {
        let stop = Arc::new(AtomicBool::new(false));
        let acked: Arc<Mutex<BTreeMap<String, Vec<i64>>>> = Arc::new(Mutex::new(BTreeMap::new()));
        let probes: Arc<Mutex<Vec<(String, Instant, bool)>>> = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = members
            .into_iter()
            .map(|(name, host, port)| {
                let (s, a, pr) = (stop.clone(), acked.clone(), probes.clone());
                tokio::spawn(async move {
                    let mut slot = None;
                    while !s.load(Ordering::SeqCst) {
                        let started = Instant::now();
                        if let Some((name, id, _, at, ok)) =
                            probe_member(&name, &host, port, &mut slot, synchronous_commit).await
                        {
                            if ok {
                                a.lock().unwrap().entry(name.clone()).or_default().push(id);
                            }
                            pr.lock().unwrap().push((name, at, ok));
                        }
                        tokio::time::sleep(
                            Duration::from_millis(100).saturating_sub(started.elapsed()),
                        )
                        .await;
                    }
                })
            })
            .collect();
        let handle = tokio::spawn(async move {
            for t in tasks {
                let _ = t.await;
            }
        });
        Prober {
            stop,
            rounds: Arc::default(),
            acked,
            probes,
            handle: Some(handle),
        }
    }

    /// Acknowledged probes in time order: (when, member).
    fn acks_in_order(&self) -> Vec<(Instant, String)> {
        let mut v: Vec<(Instant, String)> = self
            .probes
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, ok)| *ok)
            .map(|(m, at, _)| (*at, m.clone()))
            .collect();
        v.sort();
        v
    }

    /// The longest time between two acknowledged probes, of any member (the outage: no writable
    /// member in between, to the probes' 100 ms resolution).
    #[allow(dead_code)]
    pub fn acked_outage(&self) -> Duration {
        self.acks_in_order()
            .windows(2)
            .map(|w| w[1].0 - w[0].0)
            .max()
            .unwrap_or_default()
    }

    /// Leader changes seen in the acknowledged probes: each time the acknowledging member
    /// differs from the one before.
    #[allow(dead_code)]
    pub fn acked_leader_changes(&self) -> usize {
        self.acks_in_order()
            .windows(2)
            .filter(|w| w[0].1 != w[1].1)
            .count()
    }

    /// The first acknowledged probe at or after `t` by a member other than `except`.
    #[allow(dead_code)]
    pub fn first_ack_after(&self, t: Instant, except: &str) -> Option<(Instant, String)> {
        self.acks_in_order()
            .into_iter()
            .find(|(at, m)| *at >= t && m != except)
    }

    pub async fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }

    /// Acknowledged row ids that are missing on `member` (after a failover or switchover: must be
    /// none with synchronous replication or a planned switchover).
    pub async fn missing_on(&self, tb: &Testbed, member: &str) -> Vec<i64> {
        let c = tb.pg(member).await.expect("connecting to the member");
        let present: std::collections::BTreeSet<i64> = c
            .query("SELECT id FROM probe", &[])
            .await
            .expect("reading probe")
            .iter()
            .map(|r| r.get(0))
            .collect();
        let acked = self.acked.lock().unwrap();
        acked
            .values()
            .flatten()
            .filter(|id| !present.contains(id))
            .copied()
            .collect()
    }

    /// Moments two members accepted writes at the same time: each member's runs of consecutive
    /// acknowledged probes, as time intervals, overlapping another member's. A handover (the old
    /// primary's last acknowledgement before the new one's first) is not counted.
    pub fn dual_primary_moments(&self) -> usize {
        let probes = self.probes.lock().unwrap();
        let mut runs: Vec<(String, Instant, Instant)> = Vec::new();
        let mut open: BTreeMap<String, (Instant, Instant)> = BTreeMap::new();
        for (m, at, ok) in probes.iter() {
            match (ok, open.get_mut(m)) {
                (true, Some(run)) => run.1 = *at,
                (true, None) => {
                    open.insert(m.clone(), (*at, *at));
                }
                (false, _) => {
                    if let Some((a, b)) = open.remove(m) {
                        runs.push((m.clone(), a, b));
                    }
                }
            }
        }
        runs.extend(open.into_iter().map(|(m, (a, b))| (m, a, b)));
        let mut n = 0;
        for (i, (m1, a1, b1)) in runs.iter().enumerate() {
            for (m2, a2, b2) in runs.iter().skip(i + 1) {
                if m1 != m2 && a1 <= b2 && a2 <= b1 {
                    n += 1;
                }
            }
        }
        n
    }

    /// Rounds in which two members' acknowledged commits may have been concurrent (see
    /// [`Round::overlapping`]).
    pub fn split_brain_rounds(&self) -> Vec<Round> {
        self.rounds
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.overlapping())
            .cloned()
            .collect()
    }

    /// First round at or after `t` in which some member other than `except` was writable.
    pub fn first_write_after(&self, t: Instant, except: &str) -> Option<(Instant, String)> {
        self.rounds
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.at >= t)
            .find_map(|r| {
                r.writable
                    .iter()
                    .find(|w| *w != except)
                    .map(|w| (r.at, w.clone()))
            })
    }
}

/// Creates the `probe` table, which [`Prober`] and `praetor_testbed::Writer` insert into, on the
/// leader.
pub async fn create_probe_table(tb: &Testbed, leader: &str) {
    let c = tb.pg(leader).await.expect("connecting to the leader");
    c.batch_execute(
        "CREATE TABLE probe (id bigint PRIMARY KEY, member text, at timestamptz DEFAULT now())",
    )
    .await
    .expect("creating the probe table");
}

/// Creates the `probe` table on the leader and starts probing every member.
pub async fn start_probing(tb: &Testbed, leader: &str) -> Prober {
    create_probe_table(tb, leader).await;
    Prober::start(member_ports(tb)).await
}

/// Every member's (name, address, PostgreSQL port), for [`Prober::start_on`].
pub fn member_addrs(tb: &Testbed) -> Vec<(String, String, u16)> {
    tb.agents
        .iter()
        .map(|(n, a)| (n.clone(), a.host.clone(), a.pg_port))
        .collect()
}

pub fn member_ports(tb: &Testbed) -> Vec<(String, u16)> {
    tb.agents
        .iter()
        .map(|(n, a)| (n.clone(), a.pg_port))
        .collect()
}

/// A leader other than `old` whose member key says it runs as the primary, within `within`.
pub async fn new_leader(tb: &Testbed, old: &str, within: Duration) -> Option<String> {
    wait_for(within, || async {
        let v = tb.view().await.ok()?;
        let l = v.leader.clone()?.name;
        (l != old
            && v.member(&l)
                .is_some_and(|m| m.role() == Some(praetor::types::Role::Primary)))
        .then_some(l)
    })
    .await
}

/// Waits for `f` to return Some within `timeout`, polling every 200 ms.
pub async fn wait_for<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A virtualenv with the real Patroni 4.1.5 (and patronictl) from PyPI, created once under /var/tmp
/// with Debian's python3 so the `postgres` OS user can run it. Returns its `bin` directory.
pub fn patroni_venv() -> std::path::PathBuf {
    let dir = std::path::PathBuf::from("/var/tmp/praetor-test-patroni-4.1.5");
    let bin = dir.join("bin");
    if bin.join("patroni").exists() && bin.join("patronictl").exists() {
        return bin;
    }
    let python = ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists() || *p == "python3")
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let st = std::process::Command::new(python)
        .args(["-m", "venv"])
        .arg(&dir)
        .status()
        .expect("running python3 -m venv");
    assert!(
        st.success(),
        "python3 -m venv failed: install python3-venv (scripts/test.sh does it as root)"
    );
    let st = std::process::Command::new(bin.join("pip"))
        .args([
            "install",
            "-q",
            "--disable-pip-version-check",
            "patroni[etcd3]==4.1.5",
            "psycopg2-binary",
        ])
        .status()
        .expect("running pip");
    assert!(
        st.success(),
        "pip install patroni[etcd3]==4.1.5 psycopg2-binary failed"
    );
    // Readable and executable by the postgres OS user.
    let _ = std::process::Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(&dir)
        .status();
    bin
}

/// Writes a patronictl configuration for `tb`'s scope (`/service/` namespace, its etcd) with
/// `extra` YAML appended, and returns its path.
pub fn patronictl_config(tb: &Testbed, extra: &str) -> std::path::PathBuf {
    let cfg = tb.dir.join("patronictl.yml");
    std::fs::write(
        &cfg,
        format!(
            "scope: {}\nnamespace: /service/\netcd3:\n  hosts: 127.0.0.1:{}\n{extra}",
            tb.scope, tb.etcd_port
        ),
    )
    .unwrap();
    cfg
}

/// The real patronictl 4.1.5 with configuration `cfg` (see [`patronictl_config`]), the
/// testbed's superuser password in `PGPASSWORD` and `input` on its standard input: (exit code,
/// stdout followed by stderr).
pub fn patronictl(cfg: &Path, args: &[&str], input: Option<&str>) -> (i32, String) {
    run_with_input(
        std::process::Command::new(patroni_venv().join("patronictl"))
            .arg("-c")
            .arg(cfg)
            .args(args)
            .env("PGPASSWORD", "super-secret"),
        input,
        &format!("patronictl {}", args.join(" ")),
    )
}

/// Runs a command-line tool to completion with `input` on its standard input (closed at once
/// when None): (exit code, stdout followed by stderr), echoed with the `label` as the command
/// line for the test's output.
pub fn run_with_input(
    cmd: &mut std::process::Command,
    input: Option<&str>,
    label: &str,
) -> (i32, String) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(i) = input {
        stdin.write_all(i.as_bytes()).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("$ {label}\n{text}");
    (out.status.code().unwrap_or(-1), text)
}

/// Runs a command-line tool to completion: (success, stdout followed by stderr), echoed with the
/// `label` as the command line for the test's output.
pub fn run_cli(cmd: &mut std::process::Command, label: &str) -> (bool, String) {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("$ {label}\n{text}");
    (out.status.success(), text)
}
