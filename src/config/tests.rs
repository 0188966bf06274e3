use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;

const GOOD: &str = r#"
scope: demo
name: node1
restapi: {listen: "127.0.0.1:8008", connect_address: "127.0.0.1:8008"}
etcd3: {hosts: "127.0.0.1:2379,127.0.0.2:2379"}
bootstrap:
  dcs: {ttl: 30, loop_wait: 10, retry_timeout: 10, postgresql: {use_pg_rewind: true, parameters: {max_connections: 100}}}
  initdb: [{encoding: UTF8}, data-checksums]
postgresql:
  listen: "127.0.0.1:5432"
  connect_address: "127.0.0.1:5432"
  data_dir: /tmp/x
  authentication:
    superuser: {username: postgres, password: secret}
    replication: {username: replicator, password: rep}
tags: {nofailover: false, failover_priority: 2, custom: x}
"#;

fn parse(t: &str) -> Result<Config, ConfigError> {
    Config::parse("test.yml", t, &BTreeMap::new())
}

#[test]
fn passwords_may_be_numbers_and_never_show_in_debug_output() {
    let t = GOOD.replace("password: secret", "password: 90210").replace(
        "etcd3: {hosts: \"127.0.0.1:2379,127.0.0.2:2379\"}",
        "etcd3: {hosts: \"127.0.0.1:2379\", username: u, password: 4242}",
    );
    let c = parse(&t).unwrap();
    let su = &c.postgresql.authentication.superuser;
    assert_eq!(su.password.as_deref(), Some("90210"));
    assert_eq!(c.etcd.password.as_deref(), Some("4242"));
    let shown = format!("{c:?}");
    assert!(!shown.contains("90210") && !shown.contains("4242") && !shown.contains("rep,"));
    assert!(shown.contains("<redacted>"));
}

#[test]
fn tls_settings_are_checked_by_key() {
    let with = |restapi: &str, etcd: &str| {
        let t = GOOD
            .replace(
                "restapi: {listen: \"127.0.0.1:8008\", connect_address: \"127.0.0.1:8008\"}",
                &format!("restapi: {{listen: \"127.0.0.1:8008\", connect_address: \"127.0.0.1:8008\"{restapi}}}"),
            )
            .replace(
                "etcd3: {hosts: \"127.0.0.1:2379,127.0.0.2:2379\"}",
                &format!("etcd3: {{hosts: \"127.0.0.1:2379\"{etcd}}}"),
            );
        parse(&t)
    };
    assert!(with(
        ", certfile: /c.pem, cafile: /ca.pem, verify_client: required",
        ""
    )
    .is_ok());
    let e = with(", certfile: /c.pem, verify_client: optional", "").unwrap_err();
    assert_eq!(e.key, "restapi.cafile");
    let e = with(", verify_client: required, cafile: /ca.pem", "").unwrap_err();
    assert_eq!(e.key, "restapi.verify_client");
    let e = with(", certfile: /c.pem, verify_client: sometimes", "").unwrap_err();
    assert!(e.key.starts_with("restapi"), "{e}");
    let e = with(", allowlist: [10.0.0.0/33]", "").unwrap_err();
    assert_eq!(e.key, "restapi.allowlist[0]");
    let e = with(", keyfile_password: x", "").unwrap_err();
    assert_eq!(e.key, "restapi.keyfile_password");
    let e = with("", ", protocol: https").unwrap_err();
    assert_eq!(e.key, "etcd3.cacert");
    let e = with("", ", cert: /c.pem").unwrap_err();
    assert_eq!(e.key, "etcd3.key");
    let e = with("", ", username: u").unwrap_err();
    assert_eq!(e.key, "etcd3.password");
    let c = with(
        "",
        ", protocol: https, cacert: /ca.pem, cert: /c.pem, key: /k.pem",
    )
    .unwrap();
    assert_eq!(c.etcd.endpoints, vec!["https://127.0.0.1:2379"]);
}

#[test]
fn parses_patroni_config() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.scope, "demo");
    assert_eq!(c.namespace, "/service/");
    assert_eq!(
        c.etcd.endpoints,
        vec!["http://127.0.0.1:2379", "http://127.0.0.2:2379"]
    );
    assert!(c.bootstrap_dcs.postgresql.use_pg_rewind);
    assert_eq!(c.tags.priority(), 2);
    assert_eq!(c.group_prefix(), "/service/demo/");
}

#[test]
fn env_overrides() {
    let mut env = BTreeMap::new();
    env.insert("PATRONI_NAME".to_string(), "other".to_string());
    env.insert(
        "PATRONI_ETCD3_HOSTS".to_string(),
        "'10.0.0.1:2379','10.0.0.2:2379'".to_string(),
    );
    env.insert("PATRONI_SUPERUSER_PASSWORD".to_string(), "zz".to_string());
    env.insert(
        "PATRONI_POSTGRESQL_DATA_DIR".to_string(),
        "/data".to_string(),
    );
    env.insert("PATRONI_CITUS_GROUP".to_string(), "2".to_string());
    env.insert("PATRONI_CITUS_DATABASE".to_string(), "citus".to_string());
    let c = Config::parse("t", GOOD, &env).unwrap();
    assert_eq!(c.name, "other");
    assert_eq!(
        c.etcd.endpoints,
        vec!["http://10.0.0.1:2379", "http://10.0.0.2:2379"]
    );
    assert_eq!(
        c.postgresql.authentication.superuser.password.as_deref(),
        Some("zz")
    );
    assert_eq!(c.postgresql.data_dir, PathBuf::from("/data"));
    assert_eq!(c.citus.as_ref().unwrap().group, 2);
    assert_eq!(c.group_prefix(), "/service/demo/2/");
}

#[test]
fn missing_key_is_named() {
    let e = parse(&GOOD.replace("  data_dir: /tmp/x\n", "")).unwrap_err();
    assert_eq!(e.key, "postgresql.data_dir");
    assert_eq!(
        e.to_string(),
        "test.yml: postgresql.data_dir: required key is missing"
    );
    let e = parse(&GOOD.replace("scope: demo\n", "")).unwrap_err();
    assert_eq!(e.key, "scope");
}

#[test]
fn wrong_type_is_named() {
    let e = parse(&GOOD.replace("ttl: 30", "ttl: thirty")).unwrap_err();
    assert_eq!(e.key, "bootstrap.dcs.ttl");
    assert!(e.message.contains("invalid type"), "{e}");
    let e = parse(&GOOD.replace("nofailover: false", "nofailover: [1]")).unwrap_err();
    assert_eq!(e.key, "tags.nofailover");
}

#[test]
fn legacy_master_timeouts_are_read_and_written_back_under_the_new_names() {
    let v = serde_json::json!({"master_start_timeout": 120, "master_stop_timeout": 5});
    let d = DynamicConfig::from_json(&v).unwrap();
    assert_eq!((d.primary_start_timeout, d.primary_stop_timeout), (120, 5));
    assert!(d.other.is_empty(), "{:?}", d.other);
    let out = d.to_json();
    assert_eq!(out["primary_stop_timeout"], 5);
    assert!(out.get("master_stop_timeout").is_none(), "{out}");
    let d = DynamicConfig::from_json(&serde_json::json!({})).unwrap();
    assert_eq!((d.primary_start_timeout, d.primary_stop_timeout), (300, 0));
    let e =
        DynamicConfig::from_json(&serde_json::json!({"primary_stop_timeout": "soon"})).unwrap_err();
    assert_eq!(e.0, "primary_stop_timeout");
}

#[test]
fn member_slots_ttl_takes_patronis_forms() {
    assert_eq!(DynamicConfig::default().member_slots_ttl, 1800);
    for (v, want) in [
        (serde_json::json!(0), 0),
        (serde_json::json!(600), 600),
        (serde_json::json!("30min"), 1800),
        (serde_json::json!("2h"), 7200),
        (serde_json::json!("90s"), 90),
        (serde_json::json!("1d"), 86400),
        (serde_json::json!("120"), 120),
    ] {
        let d = DynamicConfig::from_json(&serde_json::json!({ "member_slots_ttl": v })).unwrap();
        assert_eq!(d.member_slots_ttl, want, "{v}");
    }
    for bad in [
        serde_json::json!("soon"),
        serde_json::json!("5 weeks"),
        serde_json::json!(-1),
    ] {
        let e =
            DynamicConfig::from_json(&serde_json::json!({ "member_slots_ttl": bad })).unwrap_err();
        assert_eq!(e.0, "member_slots_ttl", "{bad}");
    }
}

#[test]
fn ttl_budget_is_adjusted_as_patroni_adjusts_it() {
    let c = parse(&GOOD.replace("ttl: 30", "ttl: 20")).unwrap();
    assert_eq!(
        (
            c.bootstrap_dcs.ttl,
            c.bootstrap_dcs.loop_wait,
            c.bootstrap_dcs.retry_timeout
        ),
        (20, 1, 9)
    );
}

#[test]
fn unknown_etcd_address_form() {
    let e = parse(&GOOD.replace(
        "hosts: \"127.0.0.1:2379,127.0.0.2:2379\"",
        "hosts: \"tcp://a:1\"",
    ))
    .unwrap_err();
    assert_eq!(e.key, "etcd3.hosts");
    let e = parse(&GOOD.replace("hosts: \"127.0.0.1:2379,127.0.0.2:2379\"", "host: \"a:b\""))
        .unwrap_err();
    assert_eq!(e.key, "etcd3.host");
    let e = parse(&GOOD.replace("hosts: \"127.0.0.1:2379,127.0.0.2:2379\"", "srv: x")).unwrap_err();
    assert_eq!(e.key, "etcd3.srv");
}

#[test]
fn not_yaml() {
    let e = parse("scope: [").unwrap_err();
    assert_eq!(e.key, "(file)");
}

#[test]
fn namespace_normalised() {
    assert_eq!(normalise_namespace("service"), "/service/");
    assert_eq!(normalise_namespace("//a//b/"), "/a/b/");
}

#[test]
fn a_file_without_bootstrap_section_never_bootstraps() {
    assert!(parse(GOOD).unwrap().bootstrap.present);
    let mut doc: serde_yaml::Value = serde_yaml::from_str(GOOD).unwrap();
    doc.as_mapping_mut().unwrap().remove("bootstrap");
    let without = serde_yaml::to_string(&doc).unwrap();
    assert!(!parse(&without).unwrap().bootstrap.present);
}

fn check(t: &str, env: &[(&str, &str)]) -> Report {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::check("test.yml", t, &env)
}

fn keys_of(r: &Report) -> (Vec<&str>, Vec<&str>) {
    (
        r.errors.iter().map(|e| e.key.as_str()).collect(),
        r.warnings.iter().map(|w| w.key.as_str()).collect(),
    )
}

#[test]
fn a_good_file_has_no_findings() {
    let r = check(GOOD, &[]);
    assert_eq!(keys_of(&r), (vec![], vec![]), "{r:?}");
    assert!(r.config.is_some());
}

#[test]
fn every_problem_of_a_file_is_reported_and_parse_returns_the_first() {
    let t = GOOD.replace(
        "dcs: {ttl: 30,",
        "dcs: {ttl: 30, synchronous_mode: sometimes,",
    ) + "consul: {host: 'a:8500'}\npostgresq: {listen: x}\nthread_pool_size: 5\n";
    let r = check(&t, &[]);
    assert_eq!(
        keys_of(&r),
        (
            vec!["bootstrap.dcs.synchronous_mode", "consul"],
            vec!["postgresq", "thread_pool_size"]
        )
    );
    assert!(r.config.is_none());
    assert!(r
        .errors
        .iter()
        .all(|e| e.file == "test.yml" && e.message.starts_with(keys::REFUSED)));
    assert_eq!(
        r.warnings[0].to_string(),
        "test.yml: postgresq: unknown key, ignored; the nearest known key is postgresql"
    );
    assert!(r.warnings[1].message.starts_with(keys::IGNORED));
    let e = parse(&t).unwrap_err();
    assert_eq!(e.key, "bootstrap.dcs.synchronous_mode");
    assert!(e.to_string().starts_with(
        "test.yml: bootstrap.dcs.synchronous_mode: not supported by praetor: praetor reads on, off"
    ));
}

#[test]
fn a_typo_is_a_warning_and_the_file_still_loads() {
    let r = check(&(GOOD.to_string() + "postgresq:\n  listen: x\n"), &[]);
    assert_eq!(keys_of(&r), (vec![], vec!["postgresq"]));
    assert!(r.warnings[0].message.ends_with("postgresql"), "{r:?}");
    assert!(r.config.is_some());
}

#[test]
fn refused_keys_come_from_env_overrides_too() {
    let r = check(
        GOOD,
        &[
            ("PATRONI_SUPERUSER_SSLPASSWORD", "pw"),
            ("PATRONI_REPLICATION_SSLCRL", "/etc/crl.pem"),
            ("PATRONI_POSTGRESQL_CONFIG_DIR", "/etc/postgresql/15/main"),
        ],
    );
    // sslpassword, sslcrl and config_dir are implemented: nothing to report.
    let (errors, _) = keys_of(&r);
    assert!(errors.is_empty(), "{r:?}");
    let r = check(
        GOOD,
        &[
            ("PATRONI_SUPERUSER_SSLPASSWORD", "pw"),
            ("PATRONI_CONSUL_HOST", "c:8500"),
        ],
    );
    let (errors, _) = keys_of(&r);
    assert_eq!(errors, ["consul"], "{r:?}");
    // The value of a password never appears in a message.
    assert!(!format!("{r:?}").contains("pw\""), "{r:?}");
}

#[test]
fn the_etcd_v2_section_is_refused_with_the_way_out() {
    let t = GOOD.replace("etcd3: {hosts:", "etcd: {hosts:");
    let r = check(&t, &[]);
    assert_eq!(r.errors[0].key, "etcd");
    assert!(r.errors[0].message.contains("etcd3"), "{r:?}");
    assert!(r.errors[0].message.contains("invisible"), "{r:?}");
    assert!(r.config.is_none());
}

#[test]
fn rest_api_may_listen_on_every_interface() {
    let with = |listen: &str| {
        parse(&GOOD.replace(
            "listen: \"127.0.0.1:8008\"",
            &format!("listen: \"{listen}\""),
        ))
    };
    assert_eq!(with(":8008").unwrap().restapi.listen, ":8008");
    assert!(with("*:8008").is_ok());
    assert!(with("[::1]:8008").is_ok());
    for bad in ["8008", ":port", ""] {
        assert_eq!(with(bad).unwrap_err().key, "restapi.listen", "{bad}");
    }
    let e = parse(&GOOD.replace(
        "connect_address: \"127.0.0.1:8008\"",
        "connect_address: \":8008\"",
    ))
    .unwrap_err();
    assert_eq!(e.key, "restapi.connect_address");
}

#[test]
fn patronis_log_format_loads_and_type_decides() {
    let r = check(
        &(GOOD.to_string() + "log: {type: json, level: INFO, format: [message, levelname]}\n"),
        &[],
    );
    assert_eq!(keys_of(&r), (vec![], vec!["log.format"]));
    let log = r.config.unwrap().log;
    assert_eq!((log.format, log.kind.as_deref()), (None, Some("json")));
    let c = parse(&(GOOD.to_string() + "log: {format: json}\n")).unwrap();
    assert_eq!(c.log.format.as_deref(), Some("json"));
    let e = parse(&(GOOD.to_string() + "log: {type: xml}\n")).unwrap_err();
    assert_eq!(e.key, "log.type");
}

#[test]
fn log_dir_file_size_file_num_and_mode_are_read_as_patroni_reads_them() {
    let files = |log: &str, env: &[(&str, &str)]| {
        let r = check(&(GOOD.to_string() + log), env);
        match r.config {
            Some(c) => Ok(c.log.files),
            None => Err(r.errors[0].key.clone()),
        }
    };
    assert_eq!(files("", &[]), Ok(None));
    let defaults = files("log: {dir: /var/log/praetor}\n", &[])
        .unwrap()
        .unwrap();
    assert_eq!(
        defaults,
        LogFiles {
            dir: "/var/log/praetor".into(),
            file_size: 25_000_000,
            file_num: 4,
            mode: None
        }
    );
    let set = files(
        "log: {dir: /l, file_size: '1e6', file_num: 9, mode: 0640}\n",
        &[],
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        (set.file_size, set.file_num, set.mode),
        (1_000_000, 9, Some(0o640))
    );
    // 384 is 0600 written in decimal; a quoted "0600" is octal as C's strtol reads it.
    for mode in ["384", "'0600'", "'384'"] {
        let m = files(&format!("log: {{dir: /l, mode: {mode}}}\n"), &[])
            .unwrap()
            .unwrap()
            .mode;
        assert_eq!(m, Some(0o600), "{mode}");
    }
    let env = files(
        "",
        &[
            ("PATRONI_LOG_DIR", "/l"),
            ("PATRONI_LOG_MODE", "0644"),
            ("PATRONI_LOG_FILE_NUM", "2"),
        ],
    )
    .unwrap()
    .unwrap();
    assert_eq!((env.mode, env.file_num), (Some(0o644), 2));
    assert_eq!(
        files("log: {dir: /l, file_num: 0}\n", &[]),
        Err("log.file_num".into())
    );
    assert_eq!(
        files("log: {dir: /l, file_size: big}\n", &[]),
        Err("log.file_size".into())
    );
    assert_eq!(
        files("log: {dir: /l, mode: rw}\n", &[]),
        Err("log.mode".into())
    );
    assert_eq!(files("log: {dir: [a]}\n", &[]), Err("log.dir".into()));
}

#[test]
fn printed_documents_carry_no_password() {
    let r = check(GOOD, &[("PATRONI_RESTAPI_PASSWORD", "hunter2")]);
    let shown = serde_yaml::to_string(&redact_passwords(r.document.as_ref().unwrap())).unwrap();
    assert!(
        !shown.contains("secret") && !shown.contains("hunter2"),
        "{shown}"
    );
    assert!(
        shown.contains("<redacted>") && shown.contains("username: replicator"),
        "{shown}"
    );
}

#[test]
fn the_shipped_configuration_files_have_no_findings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("packaging/praetor.yml")];
    let mut compose: Vec<PathBuf> = std::fs::read_dir(root.join("config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    compose.sort();
    assert!(!compose.is_empty());
    files.extend(compose);
    for f in files {
        let r = Config::check_load(Some(&f), &BTreeMap::new());
        assert_eq!(keys_of(&r), (vec![], vec![]), "{}: {r:?}", f.display());
    }
}

/// The shape of Patroni's own example (`postgres0.yml`): its etcd v2 section is refused, by
/// name, and nothing else is reported.
#[test]
fn patronis_example_is_told_what_praetor_cannot_do() {
    let t = r#"
scope: batman
name: postgresql0
restapi: {listen: 127.0.0.1:8008, connect_address: 127.0.0.1:8008}
etcd: {host: 127.0.0.1:2379}
bootstrap:
  dcs:
    ttl: 30
    loop_wait: 10
    retry_timeout: 10
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      pg_hba: [host replication replicator 127.0.0.1/32 md5, host all all 0.0.0.0/0 md5]
  initdb: [{encoding: UTF8}, data-checksums]
postgresql:
  listen: 127.0.0.1:5432
  connect_address: 127.0.0.1:5432
  data_dir: data/postgresql0
  pgpass: /tmp/pgpass0
  authentication:
    replication: {username: replicator, password: rep-pass}
    superuser: {username: postgres, password: patroni}
    rewind: {username: rewind_user, password: rewind_password}
  parameters: {unix_socket_directories: '..'}
tags: {noloadbalance: false, clonefrom: false, nostream: false}
"#;
    let r = check(t, &[]);
    let (errors, warnings) = keys_of(&r);
    assert_eq!(errors, ["etcd", "etcd3"]);
    assert!(warnings.is_empty(), "{r:?}");
    let r = check(&t.replace("etcd: {", "etcd3: {"), &[]);
    assert!(keys_of(&r).0.is_empty(), "{r:?}");
}

/// Patroni's oldest credentials layout is converted as Patroni converts it.
#[test]
fn the_legacy_credentials_layout_is_read() {
    let text = r#"
scope: s
name: n
restapi: {listen: 127.0.0.1:8008, connect_address: 127.0.0.1:8008}
etcd3: {hosts: 127.0.0.1:2379}
postgresql:
  listen: 127.0.0.1:5432
  connect_address: 127.0.0.1:5432
  data_dir: /var/lib/postgresql/data
  replication: {username: repl, password: r-secret}
  pg_rewind: {username: admin, password: a-secret}
"#;
    let c = parse(text).unwrap();
    let a = &c.postgresql.authentication;
    assert_eq!(a.superuser.username.as_deref(), Some("admin"));
    assert_eq!(a.superuser.password.as_deref(), Some("a-secret"));
    assert_eq!(a.replication.username.as_deref(), Some("repl"));
    assert_eq!(c.postgresql.use_pg_rewind, Some(true));
    // With an authentication section, the old keys are not read (and the table reports them).
    let mixed = text.replace(
        "  replication: {",
        "  authentication: {superuser: {username: postgres}}\n  replication: {",
    );
    let r = Config::check("f", &mixed, &BTreeMap::new());
    assert!(
        r.warnings.iter().any(|w| w.key == "postgresql.replication"),
        "{r:?}"
    );
}

#[test]
fn the_timing_rule_adjusts_with_a_warning_as_patroni_does() {
    let t = GOOD.replace("ttl: 30, loop_wait: 10", "ttl: 25, loop_wait: 10");
    let r = check(&t, &[]);
    assert!(r.errors.is_empty(), "{r:?}");
    assert_eq!(keys_of(&r).1, ["bootstrap.dcs"]);
    assert!(
        r.warnings[0].message.contains("using loop_wait 5 (was 10)"),
        "{r:?}"
    );
    assert!(keys_of(&check(GOOD, &[])).1.is_empty());
}

#[test]
fn an_sslpassword_with_a_line_break_is_refused_by_name() {
    let t = GOOD.replace(
        "superuser: {username: postgres, password: secret}",
        "superuser: {username: postgres, password: secret, sslpassword: \"a\\nb\"}",
    );
    assert_ne!(t, GOOD, "the test's replacement must apply");
    let r = check(&t, &[]);
    assert_eq!(
        keys_of(&r).0,
        ["postgresql.authentication.superuser.sslpassword"],
        "{r:?}"
    );
}

#[test]
fn a_citus_group_defaults_to_quorum_commit_unless_the_file_says_otherwise() {
    let citus = GOOD.to_string() + "citus: {database: citus, group: 1}\n";
    let c = parse(&citus).unwrap();
    assert!(c.bootstrap_dcs.is_quorum());
    assert_eq!(c.bootstrap.dcs["synchronous_mode"], "quorum");
    let off = citus.replace("dcs: {ttl: 30,", "dcs: {synchronous_mode: off, ttl: 30,");
    assert!(!parse(&off).unwrap().bootstrap_dcs.synchronous());
    // Without citus nothing is added.
    let plain = parse(GOOD).unwrap();
    assert!(!plain.bootstrap_dcs.synchronous());
    assert!(plain.bootstrap.dcs.get("synchronous_mode").is_none());
}

/// `citus.databases` (Patroni's multi-database key) lists the Citus databases and overrides
/// `citus.database`, which is warned about by name when it is not among them; neither given, or
/// an empty name, is refused naming the key.
#[test]
fn citus_databases_list_or_single_database() {
    let one = parse(&(GOOD.to_string() + "citus: {database: app, group: 1}\n")).unwrap();
    assert_eq!(one.citus.unwrap().databases(), vec!["app"]);
    let two = GOOD.to_string() + "citus: {databases: [app, reports], group: 0}\n";
    assert_eq!(
        parse(&two).unwrap().citus.unwrap().databases(),
        vec!["app", "reports"]
    );
    let r = Config::check(
        "test.yml",
        &(GOOD.to_string() + "citus: {database: other, databases: [app], group: 0}\n"),
        &BTreeMap::new(),
    );
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.key == "citus.database" && w.message.contains("app")),
        "{:?}",
        r.warnings
    );
    let e = parse(&(GOOD.to_string() + "citus: {group: 1}\n")).unwrap_err();
    assert_eq!(e.key, "citus.database");
    let e = parse(&(GOOD.to_string() + "citus: {databases: [app, ''], group: 1}\n")).unwrap_err();
    assert_eq!(e.key, "citus.databases");
}
