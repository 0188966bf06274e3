//! A corpus of realistic Patroni configurations (`tests/fixtures/configs/`), each with the outcome
//! `praetor --validate-config` gives it today: the exit status and the exact keys reported as
//! errors and as warnings. A key whose fate changes (implemented, refused, warned, unknown) shows
//! up here as a failed case naming the file. Each fixture starts with a comment saying what it
//! represents and what praetor is expected to say; the table below is the same thing in code.
//!
//! Every case runs the real binary with a clean environment (PATH and the variables the case
//! sets, nothing else), so a `PATRONI_*` variable of the machine running the tests changes
//! nothing. Validation starts no server.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value as Yaml;

/// Where the fixtures are.
const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/configs");

/// The variables a container would set for case 6 (the file holds only `bootstrap:`).
const CONTAINER_ENV: &[(&str, &str)] = &[
    ("PATRONI_NAME", "pg-0"),
    ("PATRONI_SCOPE", "shop"),
    ("PATRONI_RESTAPI_LISTEN", "0.0.0.0:8008"),
    ("PATRONI_RESTAPI_CONNECT_ADDRESS", "10.244.1.17:8008"),
    ("PATRONI_RESTAPI_USERNAME", "admin"),
    ("PATRONI_RESTAPI_PASSWORD", "shop-rest-Ee1x"),
    (
        "PATRONI_ETCD3_HOSTS",
        "'etcd-0.etcd:2379','etcd-1.etcd:2379','etcd-2.etcd:2379'",
    ),
    ("PATRONI_POSTGRESQL_LISTEN", "0.0.0.0:5432"),
    ("PATRONI_POSTGRESQL_CONNECT_ADDRESS", "10.244.1.17:5432"),
    (
        "PATRONI_POSTGRESQL_DATA_DIR",
        "/home/postgres/pgdata/pgroot/data",
    ),
    ("PATRONI_POSTGRESQL_PGPASS", "/tmp/pgpass"),
    ("PATRONI_SUPERUSER_USERNAME", "postgres"),
    ("PATRONI_SUPERUSER_PASSWORD", "shop-su-Oo9z"),
    ("PATRONI_REPLICATION_USERNAME", "standby"),
    ("PATRONI_REPLICATION_PASSWORD", "shop-repl-Rr2d"),
    ("PATRONI_LOG_LEVEL", "INFO"),
];

/// One configuration and what `praetor --validate-config` says about it.
struct Case {
    /// The fixture given as the file argument; `None` runs praetor without one.
    file: Option<&'static str>,
    /// A fixture whose text is given as `PATRONI_CONFIGURATION` (with `file: None`).
    configuration_env: Option<&'static str>,
    /// Variables set besides PATH.
    env: &'static [(&'static str, &'static str)],
    /// Exit status: 0 valid, 2 invalid.
    code: i32,
    /// Keys of the `praetor: invalid configuration: SOURCE: KEY: ...` lines, in any order.
    errors: &'static [&'static str],
    /// Keys of the `praetor: warning: SOURCE: KEY: ...` lines, in any order.
    warnings: &'static [&'static str],
    /// (key, text its message must contain).
    messages: &'static [(&'static str, &'static str)],
}

const NONE: &[&str] = &[];
const NO_MESSAGES: &[(&str, &str)] = &[];

/// The table. Keep it in step with the header of each fixture.
const CASES: &[Case] = &[
    // 1. scram-sha-256 everywhere.
    Case {
        file: Some("01-scram-sha-256.yml"),
        configuration_env: None,
        env: &[],
        code: 0,
        errors: NONE,
        warnings: NONE,
        messages: NO_MESSAGES,
    },
    // 2. md5, initdb --auth-host=md5 --auth-local=trust.
    Case {
        file: Some("02-md5-initdb-auth.yml"),
        configuration_env: None,
        env: &[],
        code: 0,
        errors: NONE,
        warnings: NONE,
        messages: NO_MESSAGES,
    },
    // 3. Unix-socket local connections: use_unix_socket is implemented; use_unix_socket_repl has
    // nothing to act on (praetor makes no local replication connection) and is warned about.
    Case {
        file: Some("03-unix-socket.yml"),
        configuration_env: None,
        env: &[],
        code: 0,
        errors: NONE,
        warnings: &["postgresql.use_unix_socket_repl"],
        messages: &[(
            "postgresql.use_unix_socket_repl",
            "no replication connection to its own server",
        )],
    },
    // 4. Debian layout: config_dir is implemented.
    Case {
        file: Some("04-debian-config-dir.yml"),
        configuration_env: None,
        env: &[],
        code: 0,
        errors: NONE,
        warnings: NONE,
        messages: NO_MESSAGES,
    },
    // 5. pg_hba and pg_ident only in the dynamic configuration.
    Case {
        file: Some("05-pg-hba-in-dcs.yml"),
        configuration_env: None,
        env: &[],
        code: 0,
        errors: NONE,
        warnings: NONE,
        messages: NO_MESSAGES,
    },
    // 6. A container: PATRONI_* variables and a file with only `bootstrap:`.
    Case {
        file: Some("06-env-only-bootstrap.yml"),
        configuration_env: None,
        env: CONTAINER_ENV,
        code: 0,
        errors: NONE,
        warnings: NONE,
        messages: NO_MESSAGES,
    },
    // 6, without a file: the configuration comes from the variables alone (Patroni's order); with
    // no bootstrap section this member would wait for another to bootstrap.
    Case {
        file: None,
        configuration_env: None,
        env: CONTAINER_ENV,
        code: 0,
        errors: NONE,
        warnings: NONE,
        messages: NO_MESSAGES,
    },
    // 6, the bootstrap document given as PATRONI_CONFIGURATION: used alone, the variables do not
    // apply to it (Patroni merges them over a file only), so the required keys are missing.
    Case {
        file: None,
        configuration_env: Some("06-env-only-bootstrap.yml"),
        env: CONTAINER_ENV,
        code: 2,
        errors: &["scope"],
        warnings: NONE,
        messages: &[("scope", "required key is missing")],
    },
    // 7. TLS on every hop; the certificate files are not read by validation.
    Case {
        file: Some("07-tls-everywhere.yml"),
        configuration_env: None,
        env: &[],
        code: 0,
        errors: NONE,
        warnings: NONE,
        messages: NO_MESSAGES,
    },
    // 8. A Citus worker.
    Case {
        file: Some("08-citus-worker.yml"),
        configuration_env: None,
        env: &[],
        code: 0,
        errors: NONE,
        warnings: NONE,
        messages: NO_MESSAGES,
    },
    // 9. Legacy names Patroni 4.1 still reads, and the legacy PATRONI_LOGLEVEL.
    Case {
        file: Some("09-legacy-names.yml"),
        configuration_env: None,
        env: &[("PATRONI_LOGLEVEL", "DEBUG")],
        code: 0,
        errors: NONE,
        warnings: &["bootstrap.users"],
        messages: &[("bootstrap.users", "post_bootstrap")],
    },
    // 9b. The old credentials layout: converted as Patroni 4.1 converts it; valid, silent.
    Case {
        file: Some("09b-legacy-authentication-layout.yml"),
        configuration_env: None,
        env: &[],
        code: 0,
        errors: NONE,
        warnings: NONE,
        messages: NO_MESSAGES,
    },
    // 9c. Old and new timeout names together: the new one is read, as in Patroni.
    Case {
        file: Some("09c-legacy-and-new-timeouts.yml"),
        configuration_env: None,
        env: &[],
        code: 0,
        errors: NONE,
        warnings: NONE,
        messages: NO_MESSAGES,
    },
    // 10. Every harmless key: valid, one warning per key.
    Case {
        file: Some("10-harmless-keys.yml"),
        configuration_env: None,
        env: &[],
        code: 0,
        errors: NONE,
        warnings: &[
            "thread_pool_size",
            "thread_stack_size",
            "log.format",
            "log.dateformat",
            "log.traceback_level",
            "log.static_fields",
            "log.max_queue_size",
            "log.loggers",
            "log.deduplicate_heartbeat_logs",
            "restapi.ciphers",
            "restapi.http_extra_headers",
            "restapi.https_extra_headers",
            "restapi.request_queue_size",
            "restapi.server_tokens",
            "restapi.thread_pool_size",
            "ctl.keyfile_password",
            "etcd3.srv_suffix",
            "bootstrap.dcs.maximum_lag_on_syncnode",
            "bootstrap.dcs.max_timelines_history",
            "bootstrap.dcs.postgresql.pg_ctl_timeout",
            "bootstrap.dcs.postgresql.listen",
            "bootstrap.dcs.postgresql.connect_address",
            "bootstrap.dcs.postgresql.proxy_address",
            "bootstrap.dcs.postgresql.config_dir",
            "bootstrap.dcs.postgresql.data_dir",
            "bootstrap.dcs.postgresql.pgpass",
            "bootstrap.dcs.postgresql.authentication",
            "bootstrap.users",
            "postgresql.bin_name.pg_isready",
            "postgresql.use_slots",
            "postgresql.rewind",
            "postgresql.authentication.superuser.sslnegotiation",
            "postgresql.authentication.replication.sslnegotiation",
            "postgresql.authentication.rewind.sslnegotiation",
        ],
        messages: &[
            ("log.loggers", "ignored by praetor"),
            ("restapi.server_tokens", "ignored by praetor"),
            ("thread_pool_size", "ignored by praetor"),
        ],
    },
    // 11. Several refused keys at once, and a typo. (Its permanent slot, its WAL-E bootstrap
    // method and its standby cluster are implemented: nothing is reported for them.)
    Case {
        file: Some("11-several-refused.yml"),
        configuration_env: None,
        env: &[],
        code: 2,
        errors: &["consul", "bootstrap.dcs.synchronous_mode", "etcd3"],
        warnings: &["postgresq"],
        messages: &[
            ("postgresq", "the nearest known key is postgresql"),
            (
                "bootstrap.dcs.synchronous_mode",
                "on, off, true, false or quorum",
            ),
            ("consul", "etcd3"),
            ("etcd3", "required section is missing"),
        ],
    },
    // 12. Patroni's etcd v2 section.
    Case {
        file: Some("12-etcd-v2.yml"),
        configuration_env: None,
        env: &[],
        code: 2,
        errors: &["etcd", "etcd3"],
        warnings: NONE,
        messages: &[
            ("etcd", "v3 API (the etcd3 section)"),
            ("etcd3", "required section is missing"),
        ],
    },
];

fn fixture(name: &str) -> PathBuf {
    Path::new(DIR).join(name)
}

/// praetor with nothing in its environment but PATH and `env`.
fn praetor(env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_praetor"));
    cmd.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// What one run printed, split into its lines.
struct Outcome {
    code: i32,
    stdout: String,
    /// (key, message) of each error line, in order.
    errors: Vec<(String, String)>,
    /// (key, message) of each warning line, in order.
    warnings: Vec<(String, String)>,
}

/// Runs `praetor --validate-config [extra] [FILE]` for `case`; the source praetor names in its
/// lines (the path, `PATRONI_CONFIGURATION` or `(environment)`) is checked on every line.
fn run(case: &Case, extra: &[&str]) -> Outcome {
    let mut cmd = praetor(case.env);
    cmd.arg("--validate-config").args(extra);
    let source = match (case.file, case.configuration_env) {
        (Some(f), _) => {
            let p = fixture(f);
            cmd.arg(&p);
            p.display().to_string()
        }
        (None, Some(f)) => {
            let text = std::fs::read_to_string(fixture(f)).unwrap();
            cmd.env("PATRONI_CONFIGURATION", text);
            "PATRONI_CONFIGURATION".to_string()
        }
        (None, None) => "(environment)".to_string(),
    };
    let out = cmd.output().expect("running praetor");
    let stderr = String::from_utf8(out.stderr).expect("stderr is UTF-8");
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for line in stderr.lines() {
        let (list, rest) = if let Some(r) = line.strip_prefix("praetor: invalid configuration: ") {
            (&mut errors, r)
        } else if let Some(r) = line.strip_prefix("praetor: warning: ") {
            (&mut warnings, r)
        } else {
            panic!("{source}: unexpected line on stderr: {line:?}\n{stderr}");
        };
        let rest = rest
            .strip_prefix(&format!("{source}: "))
            .unwrap_or_else(|| panic!("{source}: line does not name the source: {line:?}"));
        let (key, message) = rest
            .split_once(": ")
            .unwrap_or_else(|| panic!("{source}: line without KEY: MESSAGE: {line:?}"));
        list.push((key.to_string(), message.to_string()));
    }
    if case.code == 0 && extra.is_empty() {
        let n = warnings.len();
        let expected = match n {
            0 => format!("{source}: configuration is valid\n"),
            1 => format!("{source}: configuration is valid (1 warning)\n"),
            _ => format!("{source}: configuration is valid ({n} warnings)\n"),
        };
        assert_eq!(stdout, expected, "{source}: stdout");
    }
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout,
        errors,
        warnings,
    }
}

fn sorted(keys: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = keys.into_iter().collect();
    v.sort();
    v
}

fn name(case: &Case) -> String {
    match (case.file, case.configuration_env) {
        (Some(f), _) => f.to_string(),
        (None, Some(f)) => format!("PATRONI_CONFIGURATION={f}"),
        (None, None) => "no file".to_string(),
    }
}

#[test]
fn every_configuration_has_its_expected_outcome() {
    let mut failures = Vec::new();
    for case in CASES {
        let out = run(case, &[]);
        let what = name(case);
        let mut fail = |s: String| failures.push(format!("{what}: {s}"));
        if out.code != case.code {
            fail(format!("exit status {} (expected {})", out.code, case.code));
        }
        let got_errors = sorted(out.errors.iter().map(|(k, _)| k.clone()));
        let want_errors = sorted(case.errors.iter().map(|k| k.to_string()));
        if got_errors != want_errors {
            fail(format!(
                "errors on {got_errors:?}, expected on {want_errors:?}"
            ));
        }
        let got_warnings = sorted(out.warnings.iter().map(|(k, _)| k.clone()));
        let want_warnings = sorted(case.warnings.iter().map(|k| k.to_string()));
        if got_warnings != want_warnings {
            let extra: Vec<_> = got_warnings
                .iter()
                .filter(|k| !want_warnings.contains(k))
                .collect();
            let missing: Vec<_> = want_warnings
                .iter()
                .filter(|k| !got_warnings.contains(k))
                .collect();
            fail(format!(
                "warnings differ: not expected {extra:?}, missing {missing:?} (duplicates count too)"
            ));
        }
        for (key, text) in case.messages {
            let found = out
                .errors
                .iter()
                .chain(&out.warnings)
                .any(|(k, m)| k == key && m.contains(text));
            if !found {
                fail(format!("no message on {key} containing {text:?}"));
            }
        }
        // Whatever the key, a refused key says why and an ignored key says it is ignored.
        for (k, m) in &out.warnings {
            if !(m.starts_with("ignored by praetor: ")
                || m.starts_with("unknown key, ignored; the nearest known key is ")
                || m.starts_with("taken as a custom key"))
            {
                fail(format!("warning on {k} of an unknown form: {m:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatch(es):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_fixture_is_in_the_table_and_says_what_it_is() {
    let used: BTreeSet<&str> = CASES
        .iter()
        .flat_map(|c| c.file.into_iter().chain(c.configuration_env))
        .collect();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(DIR).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".yml") || name.ends_with(".yaml") {
            files.push(name);
        }
    }
    files.sort();
    assert!(files.len() >= 10, "at least ten configurations: {files:?}");
    for f in &files {
        assert!(used.contains(f.as_str()), "{f} has no case in the table");
        let text = std::fs::read_to_string(fixture(f)).unwrap();
        assert!(
            text.starts_with("# Case "),
            "{f} starts with a comment saying what it represents"
        );
        let header: String = text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            header.contains("Expected from `praetor --validate-config"),
            "{f}: the header says what praetor is expected to say"
        );
        // Each is a YAML mapping (the header is a comment, not part of the document).
        let doc: Yaml = serde_yaml::from_str(&text).unwrap();
        assert!(doc.is_mapping(), "{f} is a YAML mapping");
    }
    for f in used {
        assert!(
            fixture(f).is_file(),
            "the table names a missing fixture {f}"
        );
    }
}

/// Every value under a key named like a file of TLS material.
fn tls_paths(v: &Yaml, out: &mut Vec<String>) {
    const FILE_KEYS: &[&str] = &[
        "certfile",
        "keyfile",
        "cafile",
        "cacert",
        "cert",
        "key",
        "sslcert",
        "sslkey",
        "sslrootcert",
        "ssl_cert_file",
        "ssl_key_file",
        "ssl_ca_file",
    ];
    if let Yaml::Mapping(m) = v {
        for (k, v) in m {
            match (k.as_str(), v) {
                (Some(k), Yaml::String(s)) if FILE_KEYS.contains(&k) => out.push(s.clone()),
                _ => tls_paths(v, out),
            }
        }
    }
}

#[test]
fn validation_does_not_read_the_certificate_files() {
    // Case 7 is valid although none of its certificate, key and CA files exists here.
    let text = std::fs::read_to_string(fixture("07-tls-everywhere.yml")).unwrap();
    let doc: Yaml = serde_yaml::from_str(&text).unwrap();
    let mut paths = Vec::new();
    tls_paths(&doc, &mut paths);
    assert!(paths.len() >= 15, "{paths:?}");
    for p in &paths {
        assert!(!Path::new(p).exists(), "{p} exists on this machine");
    }
    let case = CASES
        .iter()
        .find(|c| c.file == Some("07-tls-everywhere.yml"))
        .unwrap();
    let out = run(case, &[]);
    assert_eq!(out.code, 0, "{:?}", out.errors);
}

#[test]
fn the_harmless_file_names_every_ignored_key() {
    // Cases 3 and 10 together name every key the table ignores whatever its value, so a key
    // that starts or stops being ignored changes an expected outcome above.
    use praetor::config::keys::{Fate, KEYS};
    let mut named = BTreeSet::new();
    for f in ["03-unix-socket.yml", "10-harmless-keys.yml"] {
        let case = CASES.iter().find(|c| c.file == Some(f)).unwrap();
        named.extend(run(case, &[]).warnings.into_iter().map(|(k, _)| k));
    }
    let missing: Vec<&str> = KEYS
        .iter()
        .filter(|k| matches!(k.fate, Fate::Warned(_)))
        .map(|k| k.path)
        .filter(|p| !p.contains('*') && !p.contains('<'))
        .filter(|p| !named.contains(*p))
        .collect();
    assert!(
        missing.is_empty(),
        "ignored keys no fixture uses (add them to 10-harmless-keys.yml and its case): {missing:?}"
    );
}

/// `doc` with the value of every password-like key replaced as `--print` shows it.
fn redacted(doc: &Yaml) -> Yaml {
    const SECRET: &[&str] = &[
        "password",
        "sslpassword",
        "keyfile_password",
        "key_password",
    ];
    match doc {
        Yaml::Mapping(m) => Yaml::Mapping(
            m.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        (Some(k), Yaml::String(_) | Yaml::Number(_)) if SECRET.contains(&k) => {
                            Yaml::from("<redacted>")
                        }
                        _ => redacted(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Yaml::Sequence(s) => Yaml::Sequence(s.iter().map(redacted).collect()),
        v => v.clone(),
    }
}

/// Every password-like value in `doc`.
fn secrets(doc: &Yaml, out: &mut Vec<String>) {
    if let Yaml::Mapping(m) = doc {
        for (k, v) in m {
            match (k.as_str(), v) {
                (Some(k), Yaml::String(s)) if k.ends_with("password") => out.push(s.clone()),
                _ => secrets(v, out),
            }
        }
    }
}

#[test]
fn print_shows_the_configuration_with_passwords_redacted() {
    // Passwords in the file (REST API, ctl, etcd, the three PostgreSQL roles, a key passphrase).
    let case = CASES
        .iter()
        .find(|c| c.file == Some("07-tls-everywhere.yml"))
        .unwrap();
    let out = run(case, &["--print"]);
    assert_eq!(out.code, 0, "{:?}", out.errors);
    let text = std::fs::read_to_string(fixture("07-tls-everywhere.yml")).unwrap();
    let file: Yaml = serde_yaml::from_str(&text).unwrap();
    let printed: Yaml = serde_yaml::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("--print output is not YAML: {e}\n{}", out.stdout));
    assert_eq!(printed, redacted(&file), "{}", out.stdout);
    let mut hidden = Vec::new();
    secrets(&file, &mut hidden);
    assert_eq!(hidden.len(), 7, "{hidden:?}");
    for s in &hidden {
        assert!(
            !out.stdout.contains(s.as_str()),
            "{s} printed:\n{}",
            out.stdout
        );
    }
    assert_eq!(
        out.stdout.matches("<redacted>").count(),
        7,
        "{}",
        out.stdout
    );

    // Passwords from PATRONI_* variables (case 6): the printed document is the merged one.
    let case = CASES
        .iter()
        .find(|c| c.file == Some("06-env-only-bootstrap.yml"))
        .unwrap();
    let out = run(case, &["--print"]);
    assert_eq!(out.code, 0, "{:?}", out.errors);
    let printed: Yaml = serde_yaml::from_str(&out.stdout).unwrap();
    assert_eq!(printed["name"], Yaml::from("pg-0"));
    assert_eq!(printed["scope"], Yaml::from("shop"));
    assert_eq!(
        printed["postgresql"]["data_dir"],
        Yaml::from("/home/postgres/pgdata/pgroot/data")
    );
    assert_eq!(
        printed["etcd3"]["hosts"],
        serde_yaml::from_str::<Yaml>("[etcd-0.etcd:2379, etcd-1.etcd:2379, etcd-2.etcd:2379]")
            .unwrap()
    );
    let auth = &printed["postgresql"]["authentication"];
    assert_eq!(auth["superuser"]["username"], Yaml::from("postgres"));
    assert_eq!(auth["replication"]["username"], Yaml::from("standby"));
    for p in [
        &auth["superuser"]["password"],
        &auth["replication"]["password"],
        &printed["restapi"]["authentication"]["password"],
    ] {
        assert_eq!(*p, Yaml::from("<redacted>"), "{}", out.stdout);
    }
    let env: BTreeMap<&str, &str> = CONTAINER_ENV.iter().copied().collect();
    for (k, v) in &env {
        if k.ends_with("_PASSWORD") {
            assert!(!out.stdout.contains(v), "{k} printed:\n{}", out.stdout);
        }
    }
}
