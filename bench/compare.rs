//! praetor against the real Patroni, side by side on this machine (issue: benchmarks).
//!
//! Run through `bash bench/run`, which installs what is needed and sets `PRAETOR_BENCH_VENV` to a
//! virtualenv holding `patroni[etcd3]==4.1.5`. Each run starts a fresh three-member group on
//! 127.0.0.1 (real etcd, real PostgreSQL 15, synchronous_mode on, the same generated YAML for both
//! agents) and goes through: bootstrap, idle footprint, planned switchover under a writer,
//! postmaster crash, node loss. Runs alternate Patroni, praetor, Patroni, praetor for each timing
//! set (30/10/10 and 20/2/3), then praetor's fast profile (5/1/2) repeats node loss, and a scale run
//! drives one coordinator through 64 worker groups; the etcd-member-loss scenario kills one etcd
//! member of three (the Raft leader, then every agent's first endpoint) under a writer, for Patroni
//! and praetor alternately; the quorum scenario repeats the group's life (short idle window) at
//! 20/2/3 with `synchronous_mode: true` and `quorum` for both agents, to put switchover gap and
//! failover time under quorum commit next to priority mode; the hosts scenario runs both agents
//! on three test hosts (network namespaces, root only) through etcd and host faults at 10/2/4; the
//! citus scenario (praetor only: Patroni's Citus support needs the real extension) measures a worker
//! switchover's pause with one and with two Citus databases and how soon a worker failover reaches
//! pg_dist_node. Raw numbers go to
//! `bench/results/<utc>.json` (and `latest.json`); tables print as Markdown and go to `latest.md`.
//!
//! Environment: `PRAETOR_BENCH_RUNS` (runs per agent and timing set, default 2),
//! `PRAETOR_BENCH_IDLE` (idle footprint window in seconds, default 60), `PRAETOR_BENCH_ONLY`
//! (comma list of `compare`, `fast`, `members`, `scale`, `quorum`, `hosts`, `citus`; such a partial run writes
//! `latest-<list>.md` and `.json`, leaving the full run's `latest.*` alone), `PRAETOR_BENCH_AGENTS` (`patroni,praetor`),
//! `PRAETOR_BENCH_TIMINGS` (`30/10/10,20/2/3`): subsets for a quick look; `PRAETOR_BENCH_KEEP`
//! (set: each group's directory, logs included, is kept and its path printed), `PRAETOR_BENCH_BIN_DIR`
//! (the directory of the praetor programs measured; bench/run sets it to the statically linked
//! release build that ships, otherwise cargo's build of the bench is used).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use praetor_testbed::{self as testbed, Testbed, Timing, Writer};
use serde_json::{json, Value};

const MEMBERS: [&str; 3] = ["m1", "m2", "m3"];

#[derive(Clone, Copy, PartialEq, Debug)]
enum Agent {
    Patroni,
    Praetor,
}

impl Agent {
    fn name(self) -> &'static str {
        match self {
            Agent::Patroni => "patroni",
            Agent::Praetor => "praetor",
        }
    }
}

struct Ctx {
    praetor: PathBuf,
    praetorctl: PathBuf,
    venv: PathBuf,
    idle: Duration,
    /// `synchronous_mode` in `bootstrap.dcs`: `true` (priority) or `quorum`.
    sync_mode: &'static str,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn timing_name(t: Timing) -> String {
    format!("{}/{}/{}", t.ttl, t.loop_wait, t.retry_timeout)
}

async fn wait_until<T, F, Fut>(timeout: Duration, step: Duration, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("not reached within {timeout:?}");
        }
        tokio::time::sleep(step).await;
    }
}

/// A member's PostgreSQL accepts a write right now.
async fn writable(port: u16) -> bool {
    let conn = format!(
        "host=127.0.0.1 port={port} user=postgres password=super-secret dbname=postgres connect_timeout=1"
    );
    let Ok(Ok((c, conn))) = tokio::time::timeout(
        Duration::from_secs(1),
        tokio_postgres::connect(&conn, tokio_postgres::NoTls),
    )
    .await
    else {
        return false;
    };
    tokio::spawn(conn);
    matches!(
        c.query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .map(|r| r.get::<_, bool>(0)),
        Ok(false)
    )
}

fn new_testbed(ctx: &Ctx, agent: Agent, timing: Timing, scope: &str) -> Result<Testbed> {
    let mut tb = Testbed::new(&ctx.praetor, scope, timing)?;
    if std::env::var_os("PRAETOR_BENCH_KEEP").is_some() {
        // Every member's log and data directory stay for a look after the run.
        tb.keep();
        eprintln!("keeping {}", tb.dir.display());
    }
    tb.extra_dcs = format!("    synchronous_mode: {}\n", ctx.sync_mode);
    if agent == Agent::Patroni {
        tb.agent_program = Some(ctx.venv.join("bin/patroni"));
    }
    if std::env::var_os("PRAETOR_TEST_KEEP").is_some() {
        tb.keep();
        eprintln!("keeping {}", tb.dir.display());
    }
    Ok(tb)
}

/// `grpc_server_msg_received_total` on etcd's /metrics by gRPC method: every unary request and
/// every message on a stream (lease keepalives, watch requests).
async fn etcd_requests_by_method(tb: &Testbed) -> Result<BTreeMap<String, f64>> {
    let text = reqwest::get(format!("{}/metrics", tb.etcd_url()))
        .await?
        .text()
        .await?;
    let mut by = BTreeMap::new();
    for l in text
        .lines()
        .filter(|l| l.starts_with("grpc_server_msg_received_total"))
    {
        let method = l
            .split("grpc_method=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("?")
            .to_string();
        if let Some(v) = l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
            *by.entry(method).or_insert(0.0) += v;
        }
    }
    Ok(by)
}

/// The sum over every method of [`etcd_requests_by_method`].
async fn etcd_requests(tb: &Testbed) -> Result<f64> {
    Ok(etcd_requests_by_method(tb).await?.values().sum())
}

/// The agent's processes: its own pid plus, for praetor, its fence guard (a child).
fn agent_pids(tb: &Testbed, name: &str) -> Vec<i32> {
    let Some(pid) = tb.agents[name].child.as_ref().map(|c| c.id() as i32) else {
        return vec![];
    };
    let mut pids = vec![pid];
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            let after = stat.rsplit(')').next().unwrap_or("");
            let ppid: i32 = after
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            if ppid == pid && !comm.starts_with("postgres") {
                pids.push(p);
            }
        }
    }
    pids
}

fn rss_bytes(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Context switches (voluntary and not) of every thread of `pid` so far, by thread id: each one
/// is a wake-up of a sleeping thread or a preemption (`/proc/PID/task/*/status`).
fn context_switches(pid: i32) -> BTreeMap<(i32, String), u64> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return BTreeMap::new();
    };
    tasks
        .flatten()
        .filter_map(|t| {
            let tid = t.file_name().to_string_lossy().to_string();
            let status = std::fs::read_to_string(t.path().join("status")).ok()?;
            let n = status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum();
            Some(((pid, tid), n))
        })
        .collect()
}

/// Context switches between two samples of [`context_switches`]: threads in both count their
/// difference, threads that appeared count all of theirs (a thread started for a request, as
/// Patroni's REST API does, wakes as it runs); threads that ended are lost from both.
fn switches_between(
    before: &BTreeMap<(i32, String), u64>,
    after: &BTreeMap<(i32, String), u64>,
) -> u64 {
    after
        .iter()
        .map(|(k, n)| n.saturating_sub(before.get(k).copied().unwrap_or(0)))
        .sum()
}

/// Sessions established so far on member `name`'s server, all databases
/// (`pg_stat_database.sessions`, PostgreSQL 14+; the reading's own session included).
async fn sessions(tb: &Testbed, name: &str) -> Result<i64> {
    let c = tb.pg(name).await?;
    let row = c
        .query_one(
            "SELECT COALESCE(sum(sessions), 0)::bigint FROM pg_stat_database",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// CPU time of every thread of `pid`, seconds: the scheduler's own count in nanoseconds
/// (`/proc/PID/task/*/schedstat`, first field), so an idle minute's few milliseconds are measured
/// rather than rounded to 10 ms clock ticks; utime + stime in ticks where schedstat is missing.
fn cpu_seconds(pid: i32) -> f64 {
    let mut ns = 0u64;
    let mut read = false;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Some(v) = std::fs::read_to_string(t.path().join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            {
                ns += v;
                read = true;
            }
        }
    }
    if read {
        return ns as f64 / 1e9;
    }
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let f: Vec<&str> = s.rsplit(')').next()?.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / ticks)
        })
        .unwrap_or(0.0)
}

/// The backends serving the agent on member `name`'s server: praetor's (`application_name`
/// praetor) or Patroni's (`Patroni heartbeat`, `Patroni restapi`, …).
async fn agent_backends(tb: &Testbed, name: &str) -> Result<Vec<i32>> {
    let c = tb.pg(name).await?;
    let rows = c
        .query(
            "SELECT pid FROM pg_stat_activity
              WHERE application_name = 'praetor' OR application_name LIKE 'Patroni%'",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

async fn leader(tb: &Testbed) -> Result<String> {
    wait_until(
        Duration::from_secs(60),
        Duration::from_millis(50),
        || async { tb.view().await.ok()?.leader.map(|l| l.name) },
    )
    .await
}

async fn sync_listed(tb: &Testbed, leader: &str) -> Result<()> {
    wait_until(
        Duration::from_secs(60),
        Duration::from_millis(100),
        || async {
            let v = tb.view().await.ok()?;
            v.sync
                .filter(|s| s.leader.as_deref() == Some(leader) && !s.members().is_empty())
                .map(|_| ())
        },
    )
    .await
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round()
}

fn members(tb: &Testbed) -> Vec<(String, u16)> {
    tb.agents
        .iter()
        .map(|(n, a)| (n.clone(), a.pg_port))
        .collect()
}

/// One group's life: bootstrap, idle footprint, switchover, postmaster crash, node loss.
async fn lifecycle(ctx: &Ctx, agent: Agent, timing: Timing, run: usize) -> Result<Value> {
    let scope = format!("bench-{}-{}-{run}", agent.name(), timing.ttl);
    let mut tb = new_testbed(ctx, agent, timing, &scope)?;
    tb.start_etcd().await?;
    let mut out = serde_json::Map::new();

    // 1. Bootstrap.
    let t0 = Instant::now();
    for m in MEMBERS {
        tb.add_agent(m)?;
    }
    let first = wait_until(
        Duration::from_secs(180),
        Duration::from_millis(50),
        || async {
            let l = tb.view().await.ok()?.leader?.name;
            writable(tb.agents[&l].pg_port).await.then_some(l)
        },
    )
    .await
    .context("bootstrap: no writable leader")?;
    out.insert(
        "bootstrap_leader_writable_ms".into(),
        json!(ms(t0.elapsed())),
    );
    tb.wait_healthy(2, Duration::from_secs(180))
        .await
        .context("bootstrap: standbys not streaming")?;
    out.insert(
        "bootstrap_standbys_streaming_ms".into(),
        json!(ms(t0.elapsed())),
    );
    tb.pg(&first)
        .await?
        .batch_execute(
            "CREATE TABLE probe (id bigint PRIMARY KEY, member text, at timestamptz DEFAULT now())",
        )
        .await?;
    sync_listed(&tb, &first).await.context("no sync standby")?;

    // 5. Footprint at steady state.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pids: Vec<i32> = MEMBERS.iter().flat_map(|m| agent_pids(&tb, m)).collect();
    let cpu0: f64 = pids.iter().map(|p| cpu_seconds(*p)).sum();
    let switches0: BTreeMap<(i32, String), u64> =
        pids.iter().flat_map(|p| context_switches(*p)).collect();
    let mut backends = Vec::new();
    for m in MEMBERS {
        backends.extend(agent_backends(&tb, m).await?);
    }
    let pg_cpu0: f64 = backends.iter().map(|p| cpu_seconds(*p)).sum();
    let mut sessions0 = 0;
    for m in MEMBERS {
        sessions0 += sessions(&tb, m).await?;
    }
    let by0 = etcd_requests_by_method(&tb).await?;
    let req0: f64 = by0.values().sum();
    let w0 = Instant::now();
    let mut rss_max = 0u64;
    while w0.elapsed() < ctx.idle {
        tokio::time::sleep(Duration::from_secs(5)).await;
        for m in MEMBERS {
            let rss: u64 = agent_pids(&tb, m).iter().map(|p| rss_bytes(*p)).sum();
            rss_max = rss_max.max(rss);
        }
    }
    let window = w0.elapsed().as_secs_f64();
    let cpu1: f64 = pids.iter().map(|p| cpu_seconds(*p)).sum();
    let pg_cpu1: f64 = backends.iter().map(|p| cpu_seconds(*p)).sum();
    let switches1: BTreeMap<(i32, String), u64> =
        pids.iter().flat_map(|p| context_switches(*p)).collect();
    let mut sessions1 = 0;
    for m in MEMBERS {
        sessions1 += sessions(&tb, m).await?;
    }
    let by1 = etcd_requests_by_method(&tb).await?;
    let req1: f64 = by1.values().sum();
    let per_method: serde_json::Map<String, Value> = by1
        .iter()
        .map(|(m, v)| {
            let rate = (v - by0.get(m).copied().unwrap_or(0.0)) / 3.0 / window;
            (m.clone(), json!((rate * 1000.0).round() / 1000.0))
        })
        .filter(|(_, v)| v.as_f64().unwrap_or(0.0) > 0.0)
        .collect();
    out.insert(
        "etcd_req_per_s_per_agent_by_method".into(),
        Value::Object(per_method),
    );
    let rss_each: Vec<u64> = pids.iter().map(|p| rss_bytes(*p) / 1024).collect();
    out.insert("rss_kib_per_process".into(), json!(rss_each));
    out.insert(
        "rss_mib".into(),
        json!((rss_max as f64 / 1048576.0 * 10.0).round() / 10.0),
    );
    out.insert(
        "idle_wakeups_per_min".into(),
        json!((switches_between(&switches0, &switches1) as f64 / 3.0 / window * 60.0).round()),
    );
    // Each member's first reading is its own new session (counted in the second).
    let new_sessions = (sessions1 - sessions0 - MEMBERS.len() as i64).max(0);
    out.insert(
        "idle_new_pg_sessions_per_min".into(),
        json!((new_sessions as f64 / 3.0 / window * 60.0 * 10.0).round() / 10.0),
    );
    out.insert(
        "idle_pg_cpu_s_per_hour".into(),
        json!(((pg_cpu1 - pg_cpu0).max(0.0) / 3.0 / window * 3600.0 * 100.0).round() / 100.0),
    );
    out.insert(
        "idle_cpu_s_per_hour".into(),
        json!(((cpu1 - cpu0) / 3.0 / window * 3600.0 * 100.0).round() / 100.0),
    );
    out.insert(
        "etcd_req_per_s_per_agent".into(),
        json!(((req1 - req0) / 3.0 / window * 100.0).round() / 100.0),
    );

    // 2. Planned switchover, seen by a client committing every 10 ms.
    let old = leader(&tb).await?;
    let candidate = tb
        .view()
        .await?
        .sync
        .map(|s| s.members())
        .unwrap_or_default();
    let candidate = candidate
        .first()
        .cloned()
        .ok_or_else(|| anyhow!("no sync standby to switch over to"))?;
    let mut writer = Writer::start(members(&tb), "on");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ts = Instant::now();
    let errors0 = writer.errors.load(std::sync::atomic::Ordering::SeqCst);
    let cli = match agent {
        Agent::Patroni => ctx.venv.join("bin/patronictl"),
        Agent::Praetor => ctx.praetorctl.clone(),
    };
    let st = Command::new(&cli)
        .arg("-c")
        .arg(&tb.agents[&old].config)
        .args([
            "switchover",
            "--leader",
            &old,
            "--candidate",
            &candidate,
            "--force",
        ])
        .arg(&scope)
        .output()?;
    if !st.status.success() {
        bail!(
            "switchover CLI failed: {}{}",
            String::from_utf8_lossy(&st.stdout),
            String::from_utf8_lossy(&st.stderr)
        );
    }
    out.insert("switchover_cli_ms".into(), json!(ms(ts.elapsed())));
    let new_port = tb.agents[&candidate].pg_port;
    wait_until(
        Duration::from_secs(60),
        Duration::from_millis(20),
        || async { writer.first_ack_after(ts, new_port).map(|_| ()) },
    )
    .await
    .context("switchover: no commit on the candidate")?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    writer.stop().await;
    out.insert(
        "switchover_longest_gap_ms".into(),
        json!(ms(
            writer.longest_gap(ts - Duration::from_millis(500), Instant::now())
        )),
    );
    out.insert(
        "switchover_client_errors".into(),
        json!(writer.errors.load(std::sync::atomic::Ordering::SeqCst) - errors0),
    );
    out.insert(
        "switchover_lost_rows".into(),
        json!(writer.missing_on(&tb, &candidate).await?.len()),
    );

    // 4. Postmaster crash on the primary (agent alive).
    tb.wait_healthy(2, Duration::from_secs(120))
        .await
        .context("not healthy after the switchover")?;
    let primary = leader(&tb).await?;
    sync_listed(&tb, &primary).await?;
    let mut writer = Writer::start(members(&tb), "on");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = tb
        .postmaster_pid(&primary)
        .ok_or_else(|| anyhow!("no postmaster pid for {primary}"))?;
    let tc = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    let back = wait_until(
        Duration::from_secs(120),
        Duration::from_millis(20),
        || async {
            writer
                .acks
                .lock()
                .expect("not poisoned")
                .iter()
                .find(|(_, _, at)| *at > tc + Duration::from_millis(1))
                .map(|(_, _, at)| *at)
        },
    )
    .await
    .context("postmaster crash: writes did not come back")?;
    writer.stop().await;
    out.insert("crash_writes_back_ms".into(), json!(ms(back - tc)));

    // 3. Node loss: kill -9 of the primary's agent and postmaster together.
    tb.wait_healthy(2, Duration::from_secs(180))
        .await
        .context("not healthy after the crash")?;
    let (nl, nl_deleted, nl_lost) = node_loss(&mut tb).await?;
    out.insert("node_loss_writes_back_ms".into(), json!(ms(nl)));
    out.insert(
        "node_loss_after_lease_expiry_ms".into(),
        json!(nl_deleted.map(ms)),
    );
    out.insert("node_loss_lost_rows".into(), json!(nl_lost));
    tb.stop_all();
    Ok(Value::Object(out))
}

/// Kills the primary's agent and postmaster; returns (kill → first commit on the new primary,
/// leader key delete event → first commit, acknowledged rows missing on the new primary).
async fn node_loss(tb: &mut Testbed) -> Result<(Duration, Option<Duration>, usize)> {
    let old = leader(tb).await?;
    sync_listed(tb, &old).await?;
    let deletes =
        testbed::watch_deletes(&tb.etcd_url(), format!("/service/{}/leader", tb.scope)).await?;
    let mut writer = Writer::start(members(tb), "on");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let tk = Instant::now();
    tb.kill_member(&old);
    let (new, at) = wait_until(
        Duration::from_secs(180),
        Duration::from_millis(10),
        || async {
            let acks = writer.acks.lock().expect("not poisoned");
            let old_port = tb.agents[&old].pg_port;
            acks.iter()
                .find(|(_, p, at)| *at > tk && *p != old_port)
                .and_then(|(_, p, at)| {
                    let name = tb.agents.iter().find(|(_, a)| a.pg_port == *p)?.0.clone();
                    Some((name, *at))
                })
        },
    )
    .await
    .context("node loss: no commit on another member")?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    writer.stop().await;
    let deleted = deletes
        .lock()
        .expect("not poisoned")
        .iter()
        .copied()
        .find(|d| *d > tk);
    let lost = writer.missing_on(tb, &new).await?.len();
    Ok((
        at - tk,
        deleted.map(|d| at.saturating_duration_since(d)),
        lost,
    ))
}

/// One etcd member of three lost under a writer (issue: one etcd member down must go unnoticed):
/// a three-member etcd cluster, every agent given all three endpoints, synchronous mode; kill -9
/// of the etcd Raft leader for ttl + 2 s, then of every agent's first endpoint for as long, each
/// restarted after. Reports the longest client gap, the client errors and whether the primary
/// stayed (same postmaster, same leader).
async fn etcd_member_loss(ctx: &Ctx, agent: Agent, timing: Timing, run: usize) -> Result<Value> {
    let scope = format!("bench-etcd-{}-{run}", agent.name());
    let mut tb = new_testbed(ctx, agent, timing, &scope)?;
    tb.start_etcd_cluster(3).await?;
    for m in MEMBERS {
        tb.add_agent(m)?;
    }
    tb.wait_healthy(2, Duration::from_secs(120)).await?;
    let l = leader(&tb).await?;
    sync_listed(&tb, &l).await?;
    tb.pg(&l)
        .await?
        .batch_execute(
            "CREATE TABLE probe (id bigint PRIMARY KEY, member text, at timestamptz DEFAULT now())",
        )
        .await?;
    let mut writer = Writer::start(members(&tb), "on");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = tb.postmaster_pid(&l);
    let down = Duration::from_secs(timing.ttl + 2);
    let mut out = serde_json::Map::new();
    let etcd_leader = tb.etcd_leader().await?;
    for (key, member) in [("leader", etcd_leader), ("first_endpoint", 0)] {
        let errors = writer.errors.load(std::sync::atomic::Ordering::SeqCst);
        let from = Instant::now();
        tb.kill_etcd_member(member);
        tokio::time::sleep(down).await;
        tb.restart_etcd_member(member)?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        out.insert(
            format!("etcd_{key}_down_longest_gap_ms"),
            json!(ms(writer.longest_gap(from, Instant::now()))),
        );
        out.insert(
            format!("etcd_{key}_down_client_errors"),
            json!(writer.errors.load(std::sync::atomic::Ordering::SeqCst) - errors),
        );
    }
    writer.stop().await;
    let now = leader(&tb).await?;
    out.insert(
        "etcd_member_loss_primary_kept".into(),
        json!(if now == l && tb.postmaster_pid(&l) == pid {
            1
        } else {
            0
        }),
    );
    out.insert(
        "etcd_member_loss_lost_rows".into(),
        json!(writer.missing_on(&tb, &now).await?.len()),
    );
    tb.stop_all();
    Ok(Value::Object(out))
}

/// The multi-host bed (issue: hosts, not processes): three test hosts as network namespaces,
/// an etcd member, PostgreSQL and the agent on each, the bench process as the client host with a
/// writer (`synchronous_commit = on`, a multi-host connection string). Host faults, each measured
/// as the outage (the longest time between two acknowledged commits from the fault until the
/// group is healthy again), rows lost and whether the primary stayed: kill -9 of the etcd leader
/// (ttl + 2 s), the primary's etcd member cut from its peers (2 × ttl), two of three etcd members
/// down for ttl − 1 s, the primary's host isolated (the etcd leader on another host).
async fn host_faults(ctx: &Ctx, agent: Agent, timing: Timing, run: usize) -> Result<Value> {
    use testbed::hosts::{Fault, Network};
    if let Some(why) = Network::unavailable() {
        bail!("the multi-host bed cannot run here: {why}");
    }
    let net = std::sync::Arc::new(Network::create(3)?);
    let scope = format!("bench-hosts-{}-{run}", agent.name());
    let mut tb = new_testbed(ctx, agent, timing, &scope)?;
    tb.network = Some(net.clone());
    tb.start_etcd_on_hosts(3).await?;
    for m in MEMBERS {
        tb.add_agent(m)?;
    }
    tb.wait_healthy(2, Duration::from_secs(180)).await?;
    let l = leader(&tb).await?;
    tb.pg(&l)
        .await?
        .batch_execute(
            "CREATE TABLE probe (id bigint PRIMARY KEY, member text, at timestamptz DEFAULT now())",
        )
        .await?;
    let ttl = Duration::from_secs(timing.ttl);
    let mut out = serde_json::Map::new();
    for key in [
        "etcd_leader_killed",
        "etcd_member_cut",
        "etcd_majority_down",
        "host_isolated",
    ] {
        let old = leader(&tb).await?;
        sync_listed(&tb, &old).await?;
        let host = tb.agents[&old]
            .host_index
            .context("a member without a host")?;
        if key == "host_isolated" {
            tb.move_etcd_leader((host + 1) % 3).await?;
        }
        let addrs = tb
            .agents
            .iter()
            .map(|(n, a)| (n.clone(), a.host.clone(), a.pg_port))
            .collect();
        let mut writer = Writer::start_on(addrs, "on");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let t0 = Instant::now();
        match key {
            "etcd_leader_killed" => {
                let i = tb.etcd_leader().await?;
                tb.kill_etcd_member(i);
                tokio::time::sleep(ttl + Duration::from_secs(2)).await;
                tb.restart_etcd_member(i)?;
            }
            "etcd_member_cut" => {
                net.fault(host, &Fault::DropPort(2380))?;
                tokio::time::sleep(ttl * 2).await;
                net.heal(host)?;
            }
            "etcd_majority_down" => {
                let down: Vec<usize> = (0..3).filter(|k| *k != host).collect();
                for &k in &down {
                    tb.kill_etcd_member(k);
                }
                tokio::time::sleep(ttl - Duration::from_secs(1)).await;
                for &k in &down {
                    tb.restart_etcd_member(k)?;
                }
            }
            _ => {
                net.fault(host, &Fault::Isolate)?;
                let moved = wait_until(ttl * 4, Duration::from_millis(100), || async {
                    tb.view()
                        .await
                        .ok()?
                        .leader
                        .filter(|l| l.name != old)
                        .map(|_| ())
                })
                .await;
                tokio::time::sleep(Duration::from_secs(3)).await;
                net.heal(host)?;
                moved.context("the primary's host isolated: no new primary")?;
            }
        }
        tb.wait_healthy(2, Duration::from_secs(180)).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        writer.stop().await;
        let now = leader(&tb).await?;
        out.insert(
            format!("{key}_outage_ms"),
            json!(ms(
                writer.longest_gap(t0 - Duration::from_millis(500), Instant::now())
            )),
        );
        out.insert(
            format!("{key}_primary_kept"),
            json!(if now == old { 1 } else { 0 }),
        );
        out.insert(
            format!("{key}_lost_rows"),
            json!(writer.missing_on(&tb, &now).await?.len()),
        );
    }
    tb.stop_all();
    Ok(Value::Object(out))
}

fn host_faults_table(runs: &[Value]) -> String {
    if runs.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "\n### Host faults on three test hosts (10/2/4, synchronous mode, a three-member etcd, one member per host)\n\n| scenario | Patroni median | praetor median | Patroni min–max | praetor min–max | runs |\n|---|---|---|---|---|---|\n",
    );
    for (key, label) in [
        (
            "etcd_leader_killed",
            "kill -9 of the etcd leader (ttl + 2 s)",
        ),
        (
            "etcd_member_cut",
            "the primary's etcd member cut from its peers (2 × ttl)",
        ),
        (
            "etcd_majority_down",
            "two of three etcd members down (ttl − 1 s)",
        ),
        (
            "host_isolated",
            "the primary's host isolated (the etcd leader elsewhere)",
        ),
    ] {
        for (suffix, what) in [
            ("outage_ms", "outage (ms)"),
            ("primary_kept", "primary kept (1 = yes)"),
            ("lost_rows", "acknowledged rows lost"),
        ] {
            let k = format!("{key}_{suffix}");
            let p = values(runs, "patroni", "10/2/4", &k);
            let q = values(runs, "praetor", "10/2/4", &k);
            md.push_str(&format!(
                "| {label}: {what} | {} | {} | {} | {} | {}+{} |\n",
                fmt(median(p.clone())),
                fmt(median(q.clone())),
                range(&p),
                range(&q),
                p.len(),
                q.len()
            ));
        }
    }
    md
}

/// praetor's fast profile: node loss only.
async fn fast_node_loss(ctx: &Ctx, run: usize) -> Result<Value> {
    let timing = Timing {
        ttl: 5,
        loop_wait: 1,
        retry_timeout: 2,
    };
    let mut tb = new_testbed(ctx, Agent::Praetor, timing, &format!("bench-fast-{run}"))?;
    tb.start_etcd().await?;
    for m in MEMBERS {
        tb.add_agent(m)?;
    }
    tb.wait_healthy(2, Duration::from_secs(120)).await?;
    let l = leader(&tb).await?;
    tb.pg(&l)
        .await?
        .batch_execute(
            "CREATE TABLE probe (id bigint PRIMARY KEY, member text, at timestamptz DEFAULT now())",
        )
        .await?;
    let (nl, deleted, lost) = node_loss(&mut tb).await?;
    tb.stop_all();
    Ok(json!({
        "node_loss_writes_back_ms": ms(nl),
        "node_loss_after_lease_expiry_ms": deleted.map(ms),
        "node_loss_lost_rows": lost,
    }))
}

/// One praetor coordinator (group 0, two members) and `groups` worker groups whose leader and
/// member keys the harness writes itself (stand-ins for worker agents, no servers behind them).
/// Measures how long the coordinator takes to bring pg_dist_node in line after every worker
/// primary changes at once, and the coordinator agents' etcd load.
async fn scale(ctx: &Ctx, groups: u32) -> Result<Value> {
    let timing = Timing {
        ttl: 20,
        loop_wait: 2,
        retry_timeout: 3,
    };
    let mut tb = Testbed::new(&ctx.praetor, "bench-scale", timing)?;
    for m in ["c1", "c2"] {
        tb.citus_groups.insert(m.into(), 0);
    }
    tb.start_etcd().await?;
    for m in ["c1", "c2"] {
        tb.add_agent(m)?;
    }
    tb.wait_healthy_in(Some(0), 1, Duration::from_secs(120))
        .await?;
    let dcs = tb.dcs().await?;
    let base = format!("/service/{}/", tb.scope);
    let member = |port: u16, role: &str| {
        json!({
            "conn_url": format!("postgres://127.0.0.1:{port}/citus"),
            "api_url": format!("http://127.0.0.1:1/patroni"),
            "state": "running",
            "role": role,
            "version": "4.1.5",
        })
        .to_string()
    };
    let write_groups = |flip: bool| {
        let dcs = dcs.clone();
        let base = base.clone();
        async move {
            for g in 1..=groups {
                let (a, b) = (format!("w{g}a"), format!("w{g}b"));
                let (pa, pb) = (20000 + g as u16 * 2, 20001 + g as u16 * 2);
                let (lead, lead_port, other, other_port) =
                    if flip { (b, pb, a, pa) } else { (a, pa, b, pb) };
                dcs.put_absolute(
                    &format!("{base}{g}/members/{lead}"),
                    &member(lead_port, "primary"),
                )
                .await?;
                dcs.put_absolute(
                    &format!("{base}{g}/members/{other}"),
                    &member(other_port, "replica"),
                )
                .await?;
                dcs.put_absolute(&format!("{base}{g}/leader"), &lead)
                    .await?;
            }
            anyhow::Ok(())
        }
    };
    let coord_port = |tb: &Testbed, l: &str| tb.agents[l].pg_port;
    let primaries_match = |port: u16, flip: bool| async move {
        let conn =
            format!("host=127.0.0.1 port={port} user=postgres password=super-secret dbname=citus");
        let (c, conn) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
            .await
            .ok()?;
        tokio::spawn(conn);
        let rows = c
            .query("SELECT groupid, nodeport FROM pg_dist_node WHERE noderole = 'primary' AND groupid > 0", &[])
            .await
            .ok()?;
        let ok = (1..=groups).all(|g| {
            let want = if flip {
                20001 + g as i32 * 2
            } else {
                20000 + g as i32 * 2
            };
            rows.iter()
                .any(|r| r.get::<_, i32>(0) == g as i32 && r.get::<_, i32>(1) == want)
        });
        ok.then_some(())
    };
    write_groups(false).await?;
    let l = tb
        .view_group(0)
        .await?
        .leader
        .map(|l| l.name)
        .unwrap_or_default();
    let port = coord_port(&tb, &l);
    let t_initial = Instant::now();
    wait_until(Duration::from_secs(120), Duration::from_millis(20), || {
        primaries_match(port, false)
    })
    .await
    .context("scale: initial pg_dist_node")?;
    let initial = t_initial.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let req0 = etcd_requests(&tb).await?;
    let w0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(20)).await;
    let req_rate = (etcd_requests(&tb).await? - req0) / 2.0 / w0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    write_groups(true).await?;
    let written = t0.elapsed();
    wait_until(Duration::from_secs(120), Duration::from_millis(10), || {
        primaries_match(port, true)
    })
    .await
    .context("scale: pg_dist_node after the change")?;
    let done = t0.elapsed();
    tb.stop_all();
    Ok(json!({
        "groups": groups,
        "initial_reconcile_ms": ms(initial),
        "keys_written_ms": ms(written),
        "reconciled_after_change_ms": ms(done),
        "reconciled_after_last_key_ms": ms(done.saturating_sub(written)),
        "etcd_req_per_s_per_coordinator_agent": (req_rate * 100.0).round() / 100.0,
    }))
}

/// Seconds since midnight of a log line's leading RFC 3339 timestamp (`…THH:MM:SS.ffffffZ`).
fn log_seconds(line: &str) -> Option<f64> {
    let t = line.split_whitespace().next()?.split('T').nth(1)?;
    let t = t.trim_end_matches('Z');
    let mut parts = t.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    Some(h.parse::<f64>().ok()? * 3600.0 + m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?)
}

async fn citus_leader(tb: &Testbed, g: u32) -> Result<String> {
    wait_until(
        Duration::from_secs(60),
        Duration::from_millis(20),
        || async { tb.view_group(g).await.ok()?.leader.map(|l| l.name) },
    )
    .await
}

/// Group 1's primary port in pg_dist_node of database `db` on the coordinator at `port`.
async fn citus_primary_port(port: u16, db: &str) -> Option<u16> {
    let conn =
        format!("host=127.0.0.1 port={port} user=postgres password=super-secret dbname={db}");
    let (c, conn) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
        .await
        .ok()?;
    tokio::spawn(conn);
    c.query_opt(
        "SELECT nodeport FROM pg_dist_node WHERE groupid = 1 AND noderole = 'primary'",
        &[],
    )
    .await
    .ok()?
    .map(|r| r.get::<_, i32>(0) as u16)
}

/// Waits until group 1's standby is a quorum voter and every database's pg_dist_node points at
/// its primary; returns (primary, standby).
async fn citus_ready(tb: &Testbed, coord_port: u16, dbs: &[String]) -> Result<(String, String)> {
    let old = citus_leader(tb, 1).await?;
    let other = if old == "w1a" { "w1b" } else { "w1a" };
    wait_until(
        Duration::from_secs(60),
        Duration::from_millis(100),
        || async {
            let v = tb.view_group(1).await.ok()?;
            v.sync
                .filter(|s| s.members().iter().any(|m| m == other))
                .map(|_| ())
        },
    )
    .await?;
    let want = tb.agents[&old].pg_port;
    for db in dbs {
        wait_until(
            Duration::from_secs(60),
            Duration::from_millis(50),
            || async { (citus_primary_port(coord_port, db).await == Some(want)).then_some(()) },
        )
        .await?;
    }
    Ok((old, other.to_string()))
}

/// A Citus cluster on the SQL stand-in (or real Citus when installed), praetor only, at 20/2/3:
/// a coordinator group of two and worker group 1 of two, with `databases` Citus databases.
/// Measures a worker switchover's pause (the coordinator's pause transaction, BEGIN to COMMIT in
/// its log, in each database; the longest counts) and a worker failover (kill -9 of the
/// primary's agent and postmaster): from the new primary taking writes, and from the kill, to
/// pg_dist_node pointing at it.
async fn citus_pause(ctx: &Ctx, databases: usize, run: usize) -> Result<Value> {
    let timing = Timing {
        ttl: 20,
        loop_wait: 2,
        retry_timeout: 3,
    };
    let mut tb = Testbed::new(
        &ctx.praetor,
        &format!("bench-citus{databases}-{run}"),
        timing,
    )?;
    let groups: [(u32, [&str; 2]); 2] = [(0, ["c1", "c2"]), (1, ["w1a", "w1b"])];
    for (g, ms) in groups {
        for m in ms {
            tb.citus_groups.insert(m.into(), g);
        }
    }
    let dbs: Vec<String> = (1..=databases)
        .map(|i| {
            if i == 1 {
                "citus".into()
            } else {
                format!("citus{i}")
            }
        })
        .collect();
    if databases > 1 {
        tb.citus_databases = Some(dbs.clone());
    }
    tb.start_etcd().await?;
    for (_, ms) in groups {
        for m in ms {
            tb.add_agent(m)?;
        }
    }
    for (g, _) in groups {
        tb.wait_healthy_in(Some(g), 1, Duration::from_secs(120))
            .await?;
    }
    let coord = citus_leader(&tb, 0).await?;
    let coord_port = tb.agents[&coord].pg_port;
    // Switchover.
    let (old, new) = citus_ready(&tb, coord_port, &dbs).await?;
    let log = tb.agents[&coord].log.clone();
    let before = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .count();
    let r = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/switchover",
            tb.agents[&old].rest_port
        ))
        .json(&json!({"leader": old, "candidate": new}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("switchover: {}", r.status());
    }
    tb.wait_healthy_in(Some(1), 1, Duration::from_secs(60))
        .await?;
    let lines: Vec<String> = std::fs::read_to_string(&log)?
        .lines()
        .skip(before)
        .map(String::from)
        .collect();
    let mut pauses = Vec::new();
    for db in &dbs {
        let mine = |l: &&String| databases == 1 || l.ends_with(&format!("(database {db})"));
        let at = |pat: &str| {
            lines
                .iter()
                .filter(mine)
                .find(|l| l.contains(pat))
                .and_then(|l| log_seconds(l))
        };
        match (at("citus: BEGIN"), at("citus: COMMIT")) {
            (Some(b), Some(c)) => pauses.push(((c - b).rem_euclid(86400.0) * 1000.0).round()),
            _ => bail!("database {db}: no pause transaction in the coordinator's log"),
        }
    }
    // Failover: kill -9 of the worker primary.
    let (old, _) = citus_ready(&tb, coord_port, &dbs).await?;
    let mut standbys = Vec::new();
    for name in ["w1a", "w1b"].into_iter().filter(|n| *n != old) {
        standbys.push((tb.pg(name).await?, tb.agents[name].pg_port));
    }
    let promoted = tokio::spawn(async move {
        let until = Instant::now() + Duration::from_secs(90);
        while Instant::now() < until {
            for (c, port) in &standbys {
                if let Ok(r) = c.query_one("SELECT pg_is_in_recovery()", &[]).await {
                    if !r.get::<_, bool>(0) {
                        return Some((Instant::now(), *port));
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        None
    });
    let (c, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={coord_port} user=postgres password=super-secret dbname=citus"
        ),
        tokio_postgres::NoTls,
    )
    .await?;
    tokio::spawn(conn);
    let old_port = tb.agents[&old].pg_port;
    let killed = Instant::now();
    tb.kill_member(&old);
    let moved_at = wait_until(
        Duration::from_secs(90),
        Duration::from_millis(5),
        || async {
            let row = c
                .query_opt(
                    "SELECT nodeport FROM pg_dist_node WHERE groupid = 1 AND noderole = 'primary'",
                    &[],
                )
                .await
                .ok()??;
            let port = row.get::<_, i32>(0) as u16;
            (port != old_port).then(Instant::now)
        },
    )
    .await?;
    let (promoted_at, _) = promoted
        .await?
        .ok_or_else(|| anyhow!("no standby took writes"))?;
    let after_promotion = ms(moved_at.saturating_duration_since(promoted_at));
    let after_kill = ms(moved_at - killed);
    tb.stop_all();
    Ok(json!({
        "databases": databases,
        "switchover_pause_ms": pauses.iter().cloned().fold(0.0, f64::max),
        "switchover_pause_by_database_ms": pauses,
        "failover_pg_dist_node_after_promotion_ms": after_promotion,
        "failover_pg_dist_node_after_kill_ms": after_kill,
        "citus": if Testbed::citus_installed() { "real" } else { "stand-in" },
    }))
}

fn citus_table(runs: &[Value]) -> String {
    if runs.is_empty() {
        return String::new();
    }
    let cell = |dbs: u64, key: &str| {
        let v: Vec<f64> = runs
            .iter()
            .filter(|r| r["databases"].as_u64() == Some(dbs))
            .filter_map(|r| r[key].as_f64())
            .collect();
        format!("{} ({})", fmt(median(v.clone())), range(&v))
    };
    let mut md = format!(
        "\n### Citus (praetor only, 20/2/3, Citus {}): one and two databases\n\n| measure | one database | two databases |\n|---|---|---|\n",
        runs[0]["citus"].as_str().unwrap_or("?")
    );
    for (key, label) in [
        (
            "switchover_pause_ms",
            "worker switchover: pause transaction, longest database (ms)",
        ),
        (
            "failover_pg_dist_node_after_promotion_ms",
            "worker failover: pg_dist_node on the new primary after it took writes (ms)",
        ),
        (
            "failover_pg_dist_node_after_kill_ms",
            "worker failover: pg_dist_node on the new primary after the kill (ms)",
        ),
    ] {
        md.push_str(&format!(
            "| {label} | {} | {} |\n",
            cell(1, key),
            cell(2, key)
        ));
    }
    md
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn values(runs: &[Value], agent: &str, timing: &str, key: &str) -> Vec<f64> {
    runs.iter()
        .filter(|r| r["agent"] == agent && r["timing"] == timing)
        .filter_map(|r| r["result"][key].as_f64())
        .collect()
}

/// `min–max` of `v`, or `-` when empty.
fn range(v: &[f64]) -> String {
    let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if v.is_empty() {
        "-".to_string()
    } else {
        format!("{}–{}", fmt(Some(min)), fmt(Some(max)))
    }
}

fn fmt(v: Option<f64>) -> String {
    match v {
        Some(x) if x.fract() == 0.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
        None => "-".into(),
    }
}

fn table(runs: &[Value], fast: &[Value]) -> String {
    let metrics = [
        (
            "bootstrap_leader_writable_ms",
            "bootstrap: leader writable (ms)",
        ),
        (
            "bootstrap_standbys_streaming_ms",
            "bootstrap: both standbys streaming (ms)",
        ),
        (
            "switchover_longest_gap_ms",
            "switchover: longest client gap (ms)",
        ),
        ("switchover_client_errors", "switchover: client errors"),
        ("switchover_lost_rows", "switchover: acknowledged rows lost"),
        ("crash_writes_back_ms", "postmaster crash: writes back (ms)"),
        (
            "node_loss_writes_back_ms",
            "node loss: writes back after the kill (ms)",
        ),
        (
            "node_loss_after_lease_expiry_ms",
            "node loss: first commit after the lease expired (ms)",
        ),
        (
            "node_loss_lost_rows",
            "node loss: acknowledged rows lost (sync mode)",
        ),
        ("rss_mib", "agent RSS (MiB)"),
        ("idle_cpu_s_per_hour", "idle CPU (s per hour per agent)"),
        (
            "idle_pg_cpu_s_per_hour",
            "idle PostgreSQL CPU serving the agent (s per hour per agent, its backends)",
        ),
        (
            "idle_wakeups_per_min",
            "idle wake-ups per minute per agent (context switches, all threads)",
        ),
        (
            "idle_new_pg_sessions_per_min",
            "idle new PostgreSQL sessions per minute per agent",
        ),
        (
            "etcd_req_per_s_per_agent",
            "etcd requests per second per agent",
        ),
    ];
    let mut md = String::new();
    for timing in ["30/10/10", "20/2/3"] {
        if !runs.iter().any(|r| r["timing"] == timing) {
            continue;
        }
        md.push_str(&format!(
            "\n### ttl/loop_wait/retry_timeout = {timing}\n\n| scenario | Patroni median | praetor median | ratio | Patroni min–max | praetor min–max | runs |\n|---|---|---|---|---|---|---|\n"
        ));
        for (key, label) in metrics {
            let p = values(runs, "patroni", timing, key);
            let q = values(runs, "praetor", timing, key);
            let (mp, mq) = (median(p.clone()), median(q.clone()));
            let ratio = match (mp, mq) {
                (Some(a), Some(b)) if a > 0.0 => format!("{:.2}", b / a),
                _ => "-".into(),
            };
            md.push_str(&format!(
                "| {label} | {} | {} | {ratio} | {} | {} | {}+{} |\n",
                fmt(mp),
                fmt(mq),
                range(&p),
                range(&q),
                p.len(),
                q.len()
            ));
        }
    }
    if !fast.is_empty() {
        let p = values(runs, "patroni", "20/2/3", "node_loss_writes_back_ms");
        let pe = values(runs, "patroni", "20/2/3", "node_loss_after_lease_expiry_ms");
        let q: Vec<f64> = fast
            .iter()
            .filter_map(|r| r["node_loss_writes_back_ms"].as_f64())
            .collect();
        let qe: Vec<f64> = fast
            .iter()
            .filter_map(|r| r["node_loss_after_lease_expiry_ms"].as_f64())
            .collect();
        let lost: f64 = fast
            .iter()
            .filter_map(|r| r["node_loss_lost_rows"].as_f64())
            .sum();
        md.push_str(&format!(
            "\n### Fast profile: praetor at 5/1/2 vs Patroni at its minimum 20/2/3\n\n| scenario | Patroni 20/2/3 median | praetor 5/1/2 median | ratio | runs |\n|---|---|---|---|---|\n| node loss: writes back after the kill (ms) | {} | {} | {} | {}+{} |\n| node loss: first commit after the lease expired (ms) | {} | {} | - | {}+{} |\n| node loss: acknowledged rows lost, all runs | - | {lost:.0} | - | {} |\n",
            fmt(median(p.clone())),
            fmt(median(q.clone())),
            match (median(p.clone()), median(q.clone())) {
                (Some(a), Some(b)) if a > 0.0 => format!("{:.2}", b / a),
                _ => "-".into(),
            },
            p.len(),
            q.len(),
            fmt(median(pe.clone())),
            fmt(median(qe.clone())),
            pe.len(),
            qe.len(),
            q.len()
        ));
    }
    md
}

/// The etcd-member-loss table: Patroni and praetor in the same run.
fn member_loss_table(runs: &[Value]) -> String {
    if runs.is_empty() {
        return String::new();
    }
    let rows = [
        (
            "etcd_leader_down_longest_gap_ms",
            "etcd leader down: longest client gap (ms)",
        ),
        (
            "etcd_leader_down_client_errors",
            "etcd leader down: client errors",
        ),
        (
            "etcd_first_endpoint_down_longest_gap_ms",
            "every agent's first etcd endpoint down: longest client gap (ms)",
        ),
        (
            "etcd_first_endpoint_down_client_errors",
            "every agent's first etcd endpoint down: client errors",
        ),
        ("etcd_member_loss_primary_kept", "primary kept (1 = yes)"),
        ("etcd_member_loss_lost_rows", "acknowledged rows lost"),
    ];
    let mut md = String::from(
        "\n### One etcd member of three down for ttl + 2 s (20/2/3, synchronous mode)\n\n| scenario | Patroni median | praetor median | Patroni min–max | praetor min–max | runs |\n|---|---|---|---|---|---|\n",
    );
    for (key, label) in rows {
        let p = values(runs, "patroni", "20/2/3", key);
        let q = values(runs, "praetor", "20/2/3", key);
        md.push_str(&format!(
            "| {label} | {} | {} | {} | {} | {}+{} |\n",
            fmt(median(p.clone())),
            fmt(median(q.clone())),
            range(&p),
            range(&q),
            p.len(),
            q.len()
        ));
    }
    md
}

/// Switchover and failover under quorum commit next to priority mode (runs keyed by agent and,
/// in `timing`, the `synchronous_mode`).
fn quorum_table(runs: &[Value]) -> String {
    if runs.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "\n### Quorum commit next to priority mode (20/2/3, three members, synchronous_node_count 1)\n\n| measure | Patroni priority | praetor priority | Patroni quorum | praetor quorum |\n|---|---|---|---|---|\n",
    );
    for (key, label) in [
        (
            "switchover_longest_gap_ms",
            "switchover: longest client gap (ms)",
        ),
        ("switchover_lost_rows", "switchover: acknowledged rows lost"),
        (
            "node_loss_writes_back_ms",
            "node loss: writes back after the kill (ms)",
        ),
        ("node_loss_lost_rows", "node loss: acknowledged rows lost"),
    ] {
        let cell = |agent: &str, mode: &str| fmt(median(values(runs, agent, mode, key)));
        md.push_str(&format!(
            "| {label} | {} | {} | {} | {} |\n",
            cell("patroni", "true"),
            cell("praetor", "true"),
            cell("patroni", "quorum"),
            cell("praetor", "quorum"),
        ));
    }
    md
}

fn utc_stamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y%m%dT%H%M%SZ"])
        .output();
    out.ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| secs.to_string())
}

/// The program `name` from `PRAETOR_BENCH_BIN_DIR` (bench/run sets it to the statically linked
/// release build that ships, scripts/build-release.sh; the fence guard is taken from beside the
/// agent), or cargo's own build of it (`built`) when unset.
fn shipped(name: &str, built: &str) -> PathBuf {
    match std::env::var_os("PRAETOR_BENCH_BIN_DIR") {
        Some(dir) => PathBuf::from(dir).join(name),
        None => PathBuf::from(built),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let venv = PathBuf::from(
        std::env::var("PRAETOR_BENCH_VENV")
            .context("PRAETOR_BENCH_VENV is not set: run bash bench/run")?,
    );
    let ctx = Ctx {
        praetor: shipped("praetor", env!("CARGO_BIN_EXE_praetor")),
        praetorctl: shipped("praetorctl", env!("CARGO_BIN_EXE_praetorctl")),
        venv,
        idle: Duration::from_secs(env_u64("PRAETOR_BENCH_IDLE", 60)),
        sync_mode: "true",
    };
    let runs_per = env_u64("PRAETOR_BENCH_RUNS", 2) as usize;
    let only = std::env::var("PRAETOR_BENCH_ONLY")
        .unwrap_or_else(|_| "compare,fast,members,scale,quorum,hosts,citus".into());
    let agents = std::env::var("PRAETOR_BENCH_AGENTS").unwrap_or_else(|_| "patroni,praetor".into());
    let timings =
        std::env::var("PRAETOR_BENCH_TIMINGS").unwrap_or_else(|_| "30/10/10,20/2/3".into());
    let started = Instant::now();
    let mut runs: Vec<Value> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    if only.contains("compare") {
        for timing in [
            Timing {
                ttl: 30,
                loop_wait: 10,
                retry_timeout: 10,
            },
            Timing {
                ttl: 20,
                loop_wait: 2,
                retry_timeout: 3,
            },
        ] {
            if !timings.contains(&timing_name(timing)) {
                continue;
            }
            for run in 0..runs_per {
                for agent in [Agent::Patroni, Agent::Praetor] {
                    if !agents.contains(agent.name()) {
                        continue;
                    }
                    eprintln!(
                        "[{:>5.0} s] {} {} run {}",
                        started.elapsed().as_secs_f64(),
                        agent.name(),
                        timing_name(timing),
                        run + 1
                    );
                    match lifecycle(&ctx, agent, timing, run).await {
                        Ok(r) => {
                            eprintln!("    {r}");
                            runs.push(json!({"agent": agent.name(), "timing": timing_name(timing), "run": run + 1, "result": r}));
                        }
                        Err(e) => {
                            eprintln!("    failed: {e:#}");
                            failures.push(format!(
                                "{} {} run {}: {e:#}",
                                agent.name(),
                                timing_name(timing),
                                run + 1
                            ));
                        }
                    }
                }
            }
        }
    }
    let mut fast = Vec::new();
    if only.contains("fast") {
        for run in 0..runs_per.max(3) {
            eprintln!(
                "[{:>5.0} s] praetor fast profile node loss run {}",
                started.elapsed().as_secs_f64(),
                run + 1
            );
            match fast_node_loss(&ctx, run).await {
                Ok(r) => {
                    eprintln!("    {r}");
                    fast.push(r);
                }
                Err(e) => failures.push(format!("fast run {}: {e:#}", run + 1)),
            }
        }
    }
    let mut member_loss: Vec<Value> = Vec::new();
    if only.contains("members") {
        let timing = Timing {
            ttl: 20,
            loop_wait: 2,
            retry_timeout: 3,
        };
        for run in 0..runs_per {
            for agent in [Agent::Patroni, Agent::Praetor] {
                if !agents.contains(agent.name()) {
                    continue;
                }
                eprintln!(
                    "[{:>5.0} s] {} etcd member loss run {}",
                    started.elapsed().as_secs_f64(),
                    agent.name(),
                    run + 1
                );
                match etcd_member_loss(&ctx, agent, timing, run).await {
                    Ok(r) => {
                        eprintln!("    {r}");
                        member_loss.push(json!({"agent": agent.name(), "timing": timing_name(timing), "run": run + 1, "result": r}));
                    }
                    Err(e) => failures.push(format!(
                        "{} etcd member loss run {}: {e:#}",
                        agent.name(),
                        run + 1
                    )),
                }
            }
        }
    }
    // Quorum commit next to priority mode, both agents, 20/2/3, a short idle window.
    let mut quorum_runs: Vec<Value> = Vec::new();
    if only.contains("quorum") {
        let timing = Timing {
            ttl: 20,
            loop_wait: 2,
            retry_timeout: 3,
        };
        for run in 0..runs_per {
            for mode in ["true", "quorum"] {
                let mctx = Ctx {
                    praetor: ctx.praetor.clone(),
                    praetorctl: ctx.praetorctl.clone(),
                    venv: ctx.venv.clone(),
                    idle: Duration::from_secs(5),
                    sync_mode: mode,
                };
                for agent in [Agent::Patroni, Agent::Praetor] {
                    if !agents.contains(agent.name()) {
                        continue;
                    }
                    eprintln!(
                        "[{:>5.0} s] {} synchronous_mode {mode} run {}",
                        started.elapsed().as_secs_f64(),
                        agent.name(),
                        run + 1
                    );
                    match lifecycle(&mctx, agent, timing, run).await {
                        Ok(r) => {
                            eprintln!("    {r}");
                            quorum_runs.push(json!({"agent": agent.name(), "timing": mode, "run": run + 1, "result": r}));
                        }
                        Err(e) => failures.push(format!(
                            "{} synchronous_mode {mode} run {}: {e:#}",
                            agent.name(),
                            run + 1
                        )),
                    }
                }
            }
        }
    }
    let mut host_runs: Vec<Value> = Vec::new();
    if only.contains("hosts") {
        let timing = Timing {
            ttl: 10,
            loop_wait: 2,
            retry_timeout: 4,
        };
        for run in 0..runs_per {
            for agent in [Agent::Patroni, Agent::Praetor] {
                if !agents.contains(agent.name()) {
                    continue;
                }
                eprintln!(
                    "[{:>5.0} s] {} host faults run {}",
                    started.elapsed().as_secs_f64(),
                    agent.name(),
                    run + 1
                );
                match host_faults(&ctx, agent, timing, run).await {
                    Ok(r) => {
                        eprintln!("    {r}");
                        host_runs.push(json!({"agent": agent.name(), "timing": timing_name(timing), "run": run + 1, "result": r}));
                    }
                    Err(e) => failures.push(format!(
                        "{} host faults run {}: {e:#}",
                        agent.name(),
                        run + 1
                    )),
                }
            }
        }
    }
    let mut scale_result = Value::Null;
    if only.contains("scale") {
        eprintln!(
            "[{:>5.0} s] praetor scale: 64 worker groups",
            started.elapsed().as_secs_f64()
        );
        match scale(&ctx, 64).await {
            Ok(r) => {
                eprintln!("    {r}");
                scale_result = r;
            }
            Err(e) => failures.push(format!("scale: {e:#}")),
        }
    }
    let mut citus_runs = Vec::new();
    if only.contains("citus") {
        for run in 0..runs_per {
            for databases in [1, 2] {
                eprintln!(
                    "[{:>5.0} s] praetor citus, {databases} database(s), run {}",
                    started.elapsed().as_secs_f64(),
                    run + 1
                );
                match citus_pause(&ctx, databases, run).await {
                    Ok(r) => {
                        eprintln!("    {r}");
                        citus_runs.push(r);
                    }
                    Err(e) => failures.push(format!("citus {databases} run {}: {e:#}", run + 1)),
                }
            }
        }
    }
    let mut md = table(&runs, &fast);
    md.push_str(&member_loss_table(&member_loss));
    md.push_str(&quorum_table(&quorum_runs));
    md.push_str(&host_faults_table(&host_runs));
    md.push_str(&citus_table(&citus_runs));
    if !scale_result.is_null() {
        md.push_str(&format!(
            "\n### Scale (praetor only): one coordinator, {} worker groups\n\n| measure | value |\n|---|---|\n| pg_dist_node reconciled after every worker primary changed at once (ms, from the first key written) | {} |\n| … from the last key written (ms) | {} |\n| initial reconcile of all groups (ms) | {} |\n| etcd requests per second per coordinator agent | {} |\n",
            scale_result["groups"],
            scale_result["reconciled_after_change_ms"],
            scale_result["reconciled_after_last_key_ms"],
            scale_result["initial_reconcile_ms"],
            scale_result["etcd_req_per_s_per_coordinator_agent"],
        ));
    }
    if !Testbed::citus_installed() {
        md.push_str(
            "\nCitus worker switchover pause (scenario 7): not run, the citus extension is not \
             installed on this machine (tests/citus.rs measures praetor's pause against the SQL \
             stand-in instead).\n",
        );
    }
    if !failures.is_empty() {
        md.push_str("\nFailed runs:\n\n");
        for f in &failures {
            md.push_str(&format!("- {f}\n"));
        }
    }
    println!("{md}");
    let machine = json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
    });
    let doc = json!({
        "generated": utc_stamp(),
        "machine": machine,
        "patroni": "4.1.5",
        "praetor": env!("CARGO_PKG_VERSION"),
        "praetor_binary": ctx.praetor.display().to_string(),
        "runs": runs,
        "fast_profile": fast,
        "scale": scale_result,
        "etcd_member_loss": member_loss,
        "quorum": quorum_runs,
        "host_faults": host_runs,
        "citus": citus_runs,
        "failures": failures,
        "duration_s": started.elapsed().as_secs(),
    });
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/results");
    std::fs::create_dir_all(&dir)?;
    let text = serde_json::to_string_pretty(&doc)?;
    // A run of some scenarios only (PRAETOR_BENCH_ONLY) keeps the full run's latest.* intact.
    let suffix = match std::env::var("PRAETOR_BENCH_ONLY") {
        Ok(o) => format!("-{}", o.replace(',', "-")),
        Err(_) => String::new(),
    };
    std::fs::write(
        dir.join(format!(
            "{}{suffix}.json",
            doc["generated"].as_str().unwrap_or("run")
        )),
        &text,
    )?;
    std::fs::write(dir.join(format!("latest{suffix}.json")), &text)?;
    std::fs::write(dir.join(format!("latest{suffix}.md")), &md)?;
    eprintln!(
        "wrote {}",
        dir.join(format!("latest{suffix}.json")).display()
    );
    Ok(())
}
