//! Each kind of configuration mistake gives one error naming the file and the key, and exit status 2,
//! with `--validate-config` and when starting the agent (which then starts nothing).

use std::process::Command;

const GOOD: &str = r#"scope: demo
name: node1
restapi:
  listen: 127.0.0.1:8008
  connect_address: 127.0.0.1:8008
etcd3:
  hosts: 127.0.0.1:2379
bootstrap:
  dcs:
    ttl: 30
    loop_wait: 10
    retry_timeout: 10
postgresql:
  listen: 127.0.0.1:5432
  connect_address: 127.0.0.1:5432
  data_dir: /nonexistent/praetor-test
"#;

fn run(text: &str, validate: bool) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yml");
    std::fs::write(&path, text).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_praetor"));
    if validate {
        cmd.arg("--validate-config");
    }
    let out = cmd.arg(&path).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!err.contains("panicked"), "{err}");
    (
        out.status.code().unwrap_or(-1),
        err.replace(&path.display().to_string(), "FILE"),
    )
}

#[test]
fn good_config_validates() {
    let (code, err) = run(GOOD, true);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn each_mistake_names_file_and_key_and_exits_2() {
    let cases: Vec<(String, &str, &str)> = vec![
        (
            GOOD.replace("  data_dir: /nonexistent/praetor-test\n", ""),
            "postgresql.data_dir",
            "required key is missing",
        ),
        (
            GOOD.replace("scope: demo\n", ""),
            "scope",
            "required key is missing",
        ),
        (
            GOOD.replace("    ttl: 30", "    ttl: thirty"),
            "bootstrap.dcs.ttl",
            "invalid type",
        ),
        (
            GOOD.replace("  listen: 127.0.0.1:5432", "  listen: [1, 2]"),
            "postgresql.listen",
            "invalid type",
        ),
        (
            GOOD.replace("  hosts: 127.0.0.1:2379", "  hosts: zk://127.0.0.1:2181"),
            "etcd3.hosts",
            "unknown etcd address form",
        ),
        (
            GOOD.replace("  hosts: 127.0.0.1:2379", "  host: 127.0.0.1:port"),
            "etcd3.host",
            "unknown etcd address form",
        ),
        (
            GOOD.replace(
                "  connect_address: 127.0.0.1:8008",
                "  connect_address: nowhere",
            ),
            "restapi.connect_address",
            "expected host:port",
        ),
        ("scope: [unclosed\n".to_string(), "(file)", "not valid YAML"),
        // Backup integration (Patroni's keys): what Patroni would quietly do otherwise is refused.
        (
            format!("{GOOD}  create_replica_methods: [pgbackrest, basebackup]\n  pgbackrest:\n    keep_data: true\n"),
            "postgresql.pgbackrest.command",
            "required",
        ),
        (
            format!("{GOOD}  create_replica_methods: [wal_g]\n  wal_g:\n    command: /nonexistent/wal-g backup-fetch\n"),
            "postgresql.wal_g.command",
            "not an executable file",
        ),
        (
            format!("{GOOD}  recovery_conf:\n    restore_command: cp /a/%f %p\n    recovery_min_apply_dela: 1h\n"),
            "postgresql.recovery_conf.recovery_min_apply_dela",
            "not a recovery setting",
        ),
        (
            GOOD.replace("bootstrap:\n", "bootstrap:\n  method: restore\n"),
            "bootstrap.restore",
            "required",
        ),
    ];
    for (text, key, what) in cases {
        for validate in [true, false] {
            let (code, err) = run(&text, validate);
            assert_eq!(code, 2, "{key}: {err}");
            assert!(
                err.contains(&format!("FILE: {key}: ")),
                "expected key {key} in: {err}"
            );
            assert!(err.contains(what), "expected {what:?} in: {err}");
            assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        }
    }
}

#[test]
fn missing_file_exits_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_praetor"))
        .arg("/nonexistent/praetor.yml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("/nonexistent/praetor.yml: (file): cannot read"));
}

/// A configuration refused at start touches nothing: the data directory and what is in it stay.
#[test]
fn a_refused_backup_setting_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("PG_VERSION"), "15\n").unwrap();
    let text = GOOD.replace("/nonexistent/praetor-test", &data.display().to_string())
        + "  create_replica_methods: [restore]\n  restore:\n    command: /nonexistent/restore\n";
    let (code, err) = run(&text, false);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("postgresql.restore.command"), "{err}");
    assert_eq!(
        std::fs::read_to_string(data.join("PG_VERSION")).unwrap(),
        "15\n"
    );
}
