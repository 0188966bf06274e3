//! Backups in the loop, with the real pgBackRest (Debian's package) and a local repository in
//! the test's directory: WAL archived through `archive_command` from the dynamic configuration,
//! replicas created from the latest backup (`create_replica_methods`), a fallback to
//! `basebackup` when the restore fails, a standby catching up from the archive after the primary
//! removed the WAL it needed, a failover while archiving, and a whole cluster bootstrapped
//! (`bootstrap.method`) from the repository to a point in time after that failover.
//!
//! pgBackRest is configured as its users do: one configuration file (repository, log and lock
//! paths), and each member's own settings (`pg1-path`, `pg1-port`, the socket directory) in the
//! `PGBACKREST_*` variables of its agent's environment, which PostgreSQL's `archive_command` and
//! `restore_command` inherit. The two tests run one after the other (they share the machine's
//! two cores).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use praetor_testbed::Testbed;

const STANZA: &str = "main";

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The repository and pgBackRest's configuration file of one testbed.
struct Repo {
    conf: PathBuf,
    log_dir: PathBuf,
    repo_dir: PathBuf,
}

fn pgbackrest_installed() -> bool {
    Command::new("pgbackrest")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Writes pgBackRest's configuration (repository under the testbed's directory) and hands it to
/// the agents' user.
fn repo(tb: &Testbed) -> Repo {
    let base = tb.dir.join("pgbackrest");
    let (repo_dir, log_dir) = (base.join("repo"), base.join("log"));
    for d in [&repo_dir, &log_dir, &base.join("lock"), &base.join("spool")] {
        std::fs::create_dir_all(d).unwrap();
    }
    let conf = base.join("pgbackrest.conf");
    std::fs::write(
        &conf,
        format!(
            "[global]\nrepo1-path={repo}\nrepo1-retention-full=4\nlog-path={log}\nlock-path={lock}\n\
             spool-path={spool}\nlog-level-console=warn\nlog-level-file=info\nstart-fast=y\n\
             compress-type=none\n\n[{STANZA}]\npg1-socket-path={sock}\n",
            repo = repo_dir.display(),
            log = log_dir.display(),
            lock = base.join("lock").display(),
            spool = base.join("spool").display(),
            sock = tb.dir.display(),
        ),
    )
    .unwrap();
    tb.give_to_agents(&base).unwrap();
    Repo {
        conf,
        log_dir,
        repo_dir,
    }
}

/// The `PGBACKREST_*` variables of a member: the configuration file and its server.
fn member_env(repo: &Repo, data_dir: &Path, pg_port: u16) -> Vec<(String, String)> {
    vec![
        ("PGBACKREST_CONFIG".into(), repo.conf.display().to_string()),
        ("PGBACKREST_STANZA".into(), STANZA.into()),
        ("PGBACKREST_PG1_PATH".into(), data_dir.display().to_string()),
        ("PGBACKREST_PG1_PORT".into(), pg_port.to_string()),
        ("PGBACKREST_PG1_USER".into(), "postgres".into()),
    ]
}

/// Configures member `name` with its pgBackRest environment (and `extra` under `postgresql`).
fn configure(tb: &mut Testbed, repo: &Repo, name: &str, extra: &str) {
    tb.extra_postgresql.insert(name.into(), extra.into());
    let data_dir = tb.configure_agent(name).unwrap();
    let port = tb.agents[name].pg_port;
    let env = member_env(repo, &data_dir, port);
    tb.agent_env.insert(name.into(), env);
}

/// Runs pgBackRest as the agents' user against member `name`'s server; panics with its output
/// on failure.
fn pgbackrest(tb: &Testbed, repo: &Repo, name: &str, args: &[&str]) -> String {
    let a = &tb.agents[name];
    let mut cmd = Command::new("pgbackrest");
    cmd.args(args)
        .envs(member_env(repo, &a.data_dir, a.pg_port))
        .current_dir(&tb.dir);
    tb.as_user(&mut cmd);
    let out = cmd.output().expect("running pgbackrest");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "pgbackrest {args:?} failed: {text}");
    text
}

/// The dynamic configuration's archiving and restore settings (under `bootstrap.dcs`, after
/// the template's `postgresql.parameters`): WAL goes to pgBackRest, and standbys fetch from it
/// what their upstream no longer has.
const ARCHIVING: &str = "        archive_mode: 'on'\n        archive_command: pgbackrest --stanza=main archive-push %p\n      recovery_conf:\n        restore_command: pgbackrest --stanza=main archive-get %f \"%p\"\n";

/// Waits until the primary `name` has archived the WAL segment holding everything written so far.
async fn archive_all(tb: &Testbed, name: &str) {
    let c = tb.pg(name).await.unwrap();
    let seg: String = c
        .query_one("SELECT pg_walfile_name(pg_current_wal_lsn())", &[])
        .await
        .unwrap()
        .get(0);
    c.batch_execute("SELECT pg_switch_wal()").await.unwrap();
    let done = common::wait_for(Duration::from_secs(60), || async {
        let row = c
            .query_one(
                "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver",
                &[],
            )
            .await
            .ok()?;
        let last: String = row.get(0);
        // Same timeline-independent order: compare the log and segment parts.
        (last.len() >= 24 && last[8..24] >= seg[8..24]).then_some(())
    })
    .await;
    assert!(done.is_some(), "{name} did not archive {seg}");
}

fn base_inode(data_dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(data_dir.join("base")).unwrap().ino()
}

fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn pg_log(tb: &Testbed, name: &str) -> String {
    let mut p = tb.agents[name].data_dir.clone().into_os_string();
    p.push(".log");
    log_of(Path::new(&p))
}

/// A group archiving to pgBackRest, with a full backup taken. Returns the testbed, the
/// repository and the leader.
async fn archiving_group(scope: &str, members: usize) -> (Testbed, Repo, String) {
    let mut tb = common::testbed(scope);
    tb.extra_dcs = ARCHIVING.into();
    let repo = repo(&tb);
    tb.start_etcd().await.unwrap();
    for i in 1..=members {
        configure(
            &mut tb,
            &repo,
            &format!("m{i}"),
            "    log_replication_commands: 'on'\n",
        );
    }
    for i in 1..=members {
        tb.start_agent(&format!("m{i}")).unwrap();
    }
    let leader = common::healthy(&tb, members - 1, Duration::from_secs(120)).await;
    pgbackrest(&tb, &repo, &leader, &["stanza-create"]);
    pgbackrest(&tb, &repo, &leader, &["--type=full", "backup"]);
    (tb, repo, leader)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_come_from_the_backup_and_standbys_catch_up_from_the_archive() {
    if !pgbackrest_installed() {
        eprintln!("skipped: pgbackrest is not installed (scripts/deps.sh --test installs it)");
        return;
    }
    let _serial = SERIAL.lock().await;
    let (mut tb, repo, leader) = archiving_group("backups", 2).await;
    common::create_probe_table(&tb, &leader).await;
    let c = tb.pg(&leader).await.unwrap();
    c.batch_execute("INSERT INTO probe (id, member) VALUES (1, 'before m3')")
        .await
        .unwrap();
    archive_all(&tb, &leader).await;
    let base_backups = pg_log(&tb, &leader).matches("BASE_BACKUP").count();

    // m3 is created from the backup: pgBackRest restores it, the primary sends no base backup.
    configure(
        &mut tb,
        &repo,
        "m3",
        "    log_replication_commands: 'on'\n  create_replica_methods: [pgbackrest, basebackup]\n  pgbackrest:\n    command: pgbackrest --stanza=main --delta restore\n    keep_data: true\n    no_params: true\n",
    );
    tb.start_agent("m3").unwrap();
    common::healthy(&tb, 2, Duration::from_secs(120)).await;
    let m3_log = log_of(&tb.agents["m3"].log);
    assert!(
        m3_log.contains("replica has been created using pgbackrest"),
        "{m3_log}"
    );
    assert_eq!(
        pg_log(&tb, &leader).matches("BASE_BACKUP").count(),
        base_backups,
        "the primary sent a base backup for m3"
    );
    let restore_log = log_of(&repo.log_dir.join(format!("{STANZA}-restore.log")));
    assert!(
        restore_log.contains("restore command end: completed successfully"),
        "{restore_log}"
    );
    let m3 = tb.pg("m3").await.unwrap();
    let row = common::wait_for(Duration::from_secs(30), || async {
        m3.query_opt("SELECT member FROM probe WHERE id = 1", &[])
            .await
            .ok()
            .flatten()
    })
    .await;
    assert!(
        row.is_some(),
        "m3 does not have the row written before it joined"
    );

    // m4's restore fails (a stanza that does not exist, after a few seconds): meanwhile its
    // state is `creating replica` in GET /patroni and in `praetorctl list`; then it falls back
    // to basebackup.
    configure(
        &mut tb,
        &repo,
        "m4",
        "  create_replica_methods: [pgbackrest, basebackup]\n  pgbackrest:\n    command: sh -c 'sleep 4; exec pgbackrest --stanza=nosuchstanza --delta restore'\n    keep_data: true\n    no_params: true\n",
    );
    tb.start_agent("m4").unwrap();
    let m4_api = format!("http://127.0.0.1:{}/patroni", tb.agents["m4"].rest_port);
    let creating = common::wait_for(Duration::from_secs(30), || async {
        let body: serde_json::Value = reqwest::get(&m4_api).await.ok()?.json().await.ok()?;
        (body["state"] == "creating replica").then_some(())
    })
    .await;
    assert!(
        creating.is_some(),
        "GET /patroni never said creating replica"
    );
    let list = ctl(&tb, &["list"]);
    assert!(
        list.lines()
            .any(|l| l.contains("| m4 ") && l.contains("creating replica")),
        "{list}"
    );
    common::healthy(&tb, 3, Duration::from_secs(120)).await;
    let m4_log = log_of(&tb.agents["m4"].log);
    assert!(
        m4_log.contains("Error creating replica using method pgbackrest")
            && m4_log.contains("trying basebackup next")
            && m4_log.contains("replica has been created using basebackup"),
        "{m4_log}"
    );

    // m5 is tagged nostream: no primary_conninfo, no slot on the primary; it replays what the
    // archive gets.
    tb.tags.insert("m5".into(), "{nostream: true}".into());
    configure(&mut tb, &repo, "m5", "");
    tb.start_agent("m5").unwrap();
    let in_archive = common::wait_for(Duration::from_secs(90), || async {
        let v = tb.view().await.ok()?;
        let m = v.member("m5")?;
        (m.is_running() && m.data.replication_state.as_deref() == Some("in archive recovery"))
            .then_some(())
    })
    .await;
    if in_archive.is_none() {
        common::dump_logs(&tb);
        panic!("m5 does not run in archive recovery");
    }
    c.batch_execute("INSERT INTO probe (id, member) VALUES (5, 'for m5')")
        .await
        .unwrap();
    archive_all(&tb, &leader).await;
    let m5 = tb.pg("m5").await.unwrap();
    let row = common::wait_for(Duration::from_secs(60), || async {
        m5.query_opt("SELECT member FROM probe WHERE id = 5", &[])
            .await
            .ok()
            .flatten()
    })
    .await;
    assert!(row.is_some(), "m5 did not replay the archived row");
    let receivers: i64 = m5
        .query_one("SELECT count(*) FROM pg_stat_wal_receiver", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(receivers, 0, "m5 streams");
    let conninfo: String = m5
        .query_one("SELECT current_setting('primary_conninfo')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(conninfo, "");
    let slots: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'm5'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(slots, 0, "the primary keeps a slot for the nostream member");

    // m3 stopped while the primary writes and removes the WAL m3 would need (no slot,
    // wal_keep_size 0): restarted, it catches up from the archive, not by a new copy.
    let r = reqwest::Client::new()
        .patch(format!(
            "http://127.0.0.1:{}/config",
            tb.agents[&leader].rest_port
        ))
        .json(&serde_json::json!({"postgresql": {"use_slots": false, "parameters": {"wal_keep_size": "0"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    tokio::time::sleep(Duration::from_secs(common::TIMING.loop_wait * 2 + 1)).await;
    let inode = base_inode(&tb.agents["m3"].data_dir);
    tb.kill_member("m3");
    let needed: String = c
        .query_one("SELECT pg_walfile_name(pg_current_wal_lsn())", &[])
        .await
        .unwrap()
        .get(0);
    // Every slot goes (use_slots is off; an inactive slot would keep the WAL m3 needs).
    let dropped = common::wait_for(Duration::from_secs(30), || async {
        c.batch_execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active",
        )
        .await
        .ok()?;
        let n: i64 = c
            .query_one("SELECT count(*) FROM pg_replication_slots", &[])
            .await
            .ok()?
            .get(0);
        (n == 0).then_some(())
    })
    .await;
    assert!(dropped.is_some(), "replication slots are still in use");
    for i in 0..6 {
        c.batch_execute(&format!(
            "INSERT INTO probe (id, member) SELECT 100 + {i} * 1000 + g, 'while m3 was down' FROM generate_series(1, 500) g;
             SELECT pg_switch_wal(); CHECKPOINT;"
        ))
        .await
        .unwrap();
    }
    archive_all(&tb, &leader).await;
    c.batch_execute("CHECKPOINT").await.unwrap();
    let gone = common::wait_for(Duration::from_secs(30), || async {
        let row = c
            .query_one(
                "SELECT count(*) FROM pg_ls_waldir() WHERE name = $1",
                &[&needed],
            )
            .await
            .ok()?;
        (row.get::<_, i64>(0) == 0).then_some(())
    })
    .await;
    if gone.is_none() {
        let mut facts = Vec::new();
        for q in [
            "SELECT string_agg(slot_name || ':' || active::text || ':' || coalesce(restart_lsn::text, ''), ', ') FROM pg_replication_slots",
            "SELECT string_agg(name, ', ' ORDER BY name) FROM pg_ls_waldir()",
            "SELECT last_archived_wal || ' failed:' || coalesce(last_failed_wal, '') FROM pg_stat_archiver",
            "SELECT redo_lsn::text || ' ' || redo_wal_file FROM pg_control_checkpoint()",
            "SELECT current_setting('wal_keep_size') || ' ' || current_setting('max_slot_wal_keep_size') || ' ' || current_setting('min_wal_size')",
        ] {
            let v: Option<String> = c.query_one(q, &[]).await.ok().and_then(|r| r.get(0));
            facts.push(format!("{q}: {v:?}"));
        }
        panic!("the primary still has {needed}: {facts:#?}");
    }
    tb.start_agent("m3").unwrap();
    let caught_up = common::wait_for(Duration::from_secs(90), || async {
        let m3 = tb.pg("m3").await.ok()?;
        let n: i64 = m3
            .query_one(
                "SELECT count(*) FROM probe WHERE member = 'while m3 was down'",
                &[],
            )
            .await
            .ok()?
            .get(0);
        (n == 3000).then_some(())
    })
    .await;
    if caught_up.is_none() {
        common::dump_logs(&tb);
        panic!("m3 did not catch up after its restart");
    }
    assert_eq!(
        base_inode(&tb.agents["m3"].data_dir),
        inode,
        "m3 was created again"
    );
    assert!(
        pg_log(&tb, "m3").contains("restored log file"),
        "m3 did not replay from the archive"
    );

    // `praetorctl reinit` rebuilds m3 with its methods: pgBackRest again, no base backup.
    let base_backups = pg_log(&tb, &leader).matches("BASE_BACKUP").count();
    let out = ctl(&tb, &["reinit", "backups", "m3", "--force", "--wait"]);
    assert!(out.contains("Success: reinitialize for member m3"), "{out}");
    common::healthy(&tb, 3, Duration::from_secs(120)).await;
    let m3_log = log_of(&tb.agents["m3"].log);
    assert_eq!(
        m3_log
            .matches("replica has been created using pgbackrest")
            .count(),
        2,
        "{m3_log}"
    );
    assert_eq!(
        pg_log(&tb, &leader).matches("BASE_BACKUP").count(),
        base_backups,
        "the reinitialize took a base backup"
    );
    tb.stop_all();
}

/// Runs praetorctl with m1's configuration file; panics on failure.
fn ctl(tb: &Testbed, args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_praetorctl"));
    cmd.arg("-c").arg(&tb.agents["m1"].config).args(args);
    let (ok, out) = common::run_cli(&mut cmd, &args.join(" "));
    assert!(ok, "praetorctl {args:?}: {out}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_restored_to_a_point_in_time_after_a_failover() {
    if !pgbackrest_installed() {
        eprintln!("skipped: pgbackrest is not installed (scripts/deps.sh --test installs it)");
        return;
    }
    let _serial = SERIAL.lock().await;
    let (mut tb, repo, leader) = archiving_group("pitr", 2).await;
    common::create_probe_table(&tb, &leader).await;
    let standby = if leader == "m1" { "m2" } else { "m1" };
    let replicated = common::wait_for(Duration::from_secs(30), || async {
        let s = tb.pg(standby).await.ok()?;
        s.query_opt("SELECT 1 FROM pg_class WHERE relname = 'probe'", &[])
            .await
            .ok()
            .flatten()
    })
    .await;
    assert!(
        replicated.is_some(),
        "the probe table did not reach {standby}"
    );

    // A failover while archiving: the new primary archives on its timeline, history included.
    tb.kill_member(&leader);
    let new_leader = common::wait_for(Duration::from_secs(60), || async {
        let v = tb.view().await.ok()?;
        let l = v.leader?.name;
        (l != leader
            && v.members
                .iter()
                .any(|m| m.name == l && m.data.role == "primary"))
        .then_some(l)
    })
    .await
    .expect("no failover");
    let c = tb.pg(&new_leader).await.unwrap();
    c.batch_execute("INSERT INTO probe (id, member) VALUES (1, 'first')")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let target: String = c
        .query_one(
            "SELECT (clock_timestamp() AT TIME ZONE 'UTC')::text || '+00'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    c.batch_execute("INSERT INTO probe (id, member) VALUES (2, 'second')")
        .await
        .unwrap();
    archive_all(&tb, &new_leader).await;
    let archive = repo.repo_dir.join("archive").join(STANZA);
    let history = walk(&archive)
        .into_iter()
        .any(|p| p.file_name().is_some_and(|n| n == "00000002.history"));
    assert!(history, "the repository has no 00000002.history");
    tb.stop_all();

    // A new cluster from the repository, to the point between the two inserts.
    let mut restored = common::testbed("restored");
    restored.start_etcd().await.unwrap();
    let method = format!(
        "bootstrap:\n  method: pgbackrest\n  pgbackrest:\n    command: pgbackrest --stanza=main --delta --type=time \"--target={target}\" --target-action=promote restore\n    keep_existing_recovery_conf: true\n    no_params: true\n"
    );
    for name in ["r1", "r2"] {
        let data_dir = restored.configure_agent(name).unwrap();
        let port = restored.agents[name].pg_port;
        // The bootstrap section comes from the testbed's template; the method is added to it.
        let path = restored.agents[name].config.clone();
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.replacen("bootstrap:\n", &method, 1);
        std::fs::write(&path, text).unwrap();
        let env = member_env(&repo, &data_dir, port);
        restored.agent_env.insert(name.into(), env);
    }
    restored.start_agent("r1").unwrap();
    let first = common::wait_for(Duration::from_secs(120), || async {
        let v = restored.view().await.ok()?;
        (v.leader?.name == "r1").then_some(())
    })
    .await;
    if first.is_none() {
        common::dump_logs(&restored);
        panic!("the restored cluster did not come up");
    }
    restored.start_agent("r2").unwrap();
    common::healthy(&restored, 1, Duration::from_secs(120)).await;
    let r1 = restored.pg("r1").await.unwrap();
    let rows: Vec<String> = r1
        .query("SELECT member FROM probe ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, ["first"], "restored to {target}");
    let log = log_of(&restored.agents["r1"].log);
    assert!(log.contains("initialized a new cluster"), "{log}");
    // The restore's recovery settings did not outlive it.
    let auto = std::fs::read_to_string(restored.agents["r1"].data_dir.join("postgresql.auto.conf"))
        .unwrap_or_default();
    assert!(!auto.contains("recovery_target"), "{auto}");
    restored.stop_all();
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A custom bootstrap whose command fails: the agent stops with the state `custom bootstrap
/// failed`, the data directory is moved aside (never removed) with what the command left in it,
/// and `/initialize` is gone, so no half-made cluster is left in etcd. pgBackRest is not needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_restore_leaves_no_cluster_and_deletes_nothing() {
    let _serial = SERIAL.lock().await;
    let mut tb = common::testbed("failedrestore");
    tb.start_etcd().await.unwrap();
    let script = tb.dir.join("restore.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\n# Patroni's arguments: --scope=S --datadir=D --target=T\nfor a in \"$@\"; do case $a in --datadir=*) d=${a#--datadir=};; esac; done\necho \"$@\" > \"$d/partial-restore\"\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    tb.give_to_agents(&script).unwrap();
    let data_dir = tb.configure_agent("m1").unwrap();
    let path = tb.agents["m1"].config.clone();
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "bootstrap:\n",
        &format!(
            "bootstrap:\n  method: restore\n  restore:\n    command: {}\n    target: yesterday\n",
            script.display()
        ),
        1,
    );
    std::fs::write(&path, text).unwrap();
    tb.start_agent("m1").unwrap();
    let status = common::agent_exit(&mut tb, "m1", Duration::from_secs(60)).await;
    assert!(!status.success(), "the agent did not fail");
    let log = log_of(&tb.agents["m1"].log);
    assert!(
        log.contains("custom bootstrap method restore") && log.contains("exited with"),
        "{log}"
    );
    assert!(
        tb.view().await.unwrap().initialize.is_none(),
        "/initialize is left"
    );
    assert!(!data_dir.exists(), "the data directory was not moved aside");
    let parent = data_dir.parent().unwrap();
    let name = data_dir.file_name().unwrap().to_string_lossy().to_string();
    let aside: Vec<PathBuf> = std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{name}_")))
        })
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let partial = std::fs::read_to_string(aside[0].join("partial-restore")).unwrap();
    assert!(
        partial.contains("--scope=failedrestore") && partial.contains("--target=yesterday"),
        "{partial}"
    );
}
