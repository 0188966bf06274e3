//! Each configuration of the corpus (tests/fixtures/configs) that praetor accepts bootstraps a
//! real three-member group with real etcd and PostgreSQL 15: one primary that takes a write and
//! two standbys that stream it.
//!
//! A fixture describes machines that do not exist here, so each member's copy is *localized*
//! before it runs, and only in what names this machine: the member names (`<base>-1..3`, so a
//! `replicatefrom` naming `<base>-1` points at a member), addresses and ports (127.0.0.1 and free
//! ports; pg_hba networks become 127.0.0.1/32, `0.0.0.0/0` stays), directories (data,
//! `config_dir`, socket, log, pgpass under the test's directory), certificates (made by the
//! test: a server certificate for 127.0.0.1 and one client certificate per role name, so
//! `clientcert=verify-full` holds), scripts (callbacks, `post_bootstrap`, `before_stop` become
//! `/bin/true`; a Citus member's `post_bootstrap` loads the SQL stand-in when Citus is not
//! installed, and `citus` is then not preloaded), the etcd endpoint and its credentials (the
//! test's etcd; `root` when it runs with auth), locales the machine lacks (C.UTF-8),
//! `shared_buffers` (32MB), the timing (ttl 10, loop_wait 2, retry_timeout 4) and, where the file
//! sets no `basebackup` options, a fast checkpoint for the clones (a spread one paces their start
//! over minutes). Everything else — roles, passwords, password encryption, initdb options,
//! pg_hba methods and users, pg_ident, parameters, tags, synchronous mode, slots — runs as
//! written.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use praetor::config::Credentials;
use praetor_testbed::{TestTls, Testbed};
use serde_yaml::{Mapping, Value as Yaml};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/configs");

/// What a member's localized copy points at.
struct Member {
    name: String,
    rest_port: u16,
    pg_port: u16,
    data_dir: PathBuf,
    /// The test's directory.
    dir: PathBuf,
}

/// Test certificates: CA, server certificate and key, and the directory of client certificates
/// (`<role>.crt`, `<role>.key`).
struct Certs {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    dir: PathBuf,
}

fn key(s: &str) -> Yaml {
    Yaml::String(s.to_string())
}

fn map_mut<'a>(v: &'a mut Yaml, k: &str) -> Option<&'a mut Mapping> {
    v.as_mapping_mut()?.get_mut(k)?.as_mapping_mut()
}

fn set(m: &mut Mapping, k: &str, v: impl Into<Yaml>) {
    m.insert(key(k), v.into());
}

/// Sets `k` only where the fixture has it.
fn replace(m: &mut Mapping, k: &str, v: impl Into<Yaml>) {
    if m.contains_key(k) {
        m.insert(key(k), v.into());
    }
}

/// A pg_hba line with its network (other than `0.0.0.0/0`) narrowed to 127.0.0.1/32.
fn local_hba(line: &str) -> String {
    line.split_whitespace()
        .map(|w| {
            let is_net = w.contains('/')
                && w.split('/')
                    .next()
                    .is_some_and(|a| a.parse::<std::net::IpAddr>().is_ok());
            if is_net && w != "0.0.0.0/0" {
                "127.0.0.1/32".to_string()
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn localize_hba(v: Option<&mut Yaml>) {
    if let Some(Yaml::Sequence(lines)) = v {
        for l in lines {
            if let Yaml::String(s) = l {
                *s = local_hba(s);
            }
        }
    }
}

fn locales() -> Vec<String> {
    std::process::Command::new("locale")
        .arg("-a")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(|l| l.to_lowercase().replace('-', ""))
                .collect()
        })
        .unwrap_or_default()
}

fn localize_parameters(p: Option<&mut Mapping>, m: &Member, certs: &Option<Certs>) {
    let Some(p) = p else { return };
    replace(
        p,
        "unix_socket_directories",
        m.dir.join("sock").display().to_string(),
    );
    p.remove("log_directory");
    if !Testbed::citus_installed() {
        // The SQL stand-in has no library to preload.
        if let Some(Yaml::String(libs)) = p.get_mut("shared_preload_libraries") {
            *libs = libs
                .split(',')
                .map(str::trim)
                .filter(|l| *l != "citus")
                .collect::<Vec<_>>()
                .join(",");
        }
    }
    if p.contains_key("shared_buffers") {
        set(p, "shared_buffers", "32MB");
    }
    if let Some(c) = certs {
        replace(p, "ssl_cert_file", c.cert.display().to_string());
        replace(p, "ssl_key_file", c.key.display().to_string());
        replace(p, "ssl_ca_file", c.ca.display().to_string());
    }
}

fn localize_role(r: &mut Mapping, certs: &Option<Certs>) {
    let Some(c) = certs else { return };
    let user = r
        .get("username")
        .and_then(Yaml::as_str)
        .unwrap_or("postgres")
        .to_string();
    replace(r, "sslrootcert", c.ca.display().to_string());
    replace(
        r,
        "sslcert",
        c.dir.join(format!("{user}.crt")).display().to_string(),
    );
    replace(
        r,
        "sslkey",
        c.dir.join(format!("{user}.key")).display().to_string(),
    );
}

/// Member `m`'s copy of `doc` (see the module documentation for what changes).
fn localize(doc: &Yaml, tb: &Testbed, m: &Member, certs: &Option<Certs>, citus: bool) -> Yaml {
    let mut doc = doc.clone();
    let root = doc.as_mapping_mut().expect("a mapping");
    if root.contains_key("name") {
        set(root, "name", m.name.clone());
    }
    if root.contains_key("scope") {
        set(root, "scope", tb.scope.clone());
        set(root, "namespace", "/service/");
    }
    let bin_dir = praetor::postgres::find_bin_dir(None)
        .unwrap()
        .display()
        .to_string();
    if let Some(r) = map_mut(&mut doc, "restapi") {
        let at = format!("127.0.0.1:{}", m.rest_port);
        set(r, "listen", at.clone());
        set(r, "connect_address", at);
        replace(r, "allowlist", vec![key("127.0.0.1")]);
        if let Some(c) = certs {
            replace(r, "certfile", c.cert.display().to_string());
            replace(r, "keyfile", c.key.display().to_string());
            replace(r, "cafile", c.ca.display().to_string());
        }
    }
    if let Some(r) = map_mut(&mut doc, "ctl") {
        if let Some(c) = certs {
            replace(r, "certfile", c.cert.display().to_string());
            replace(r, "keyfile", c.key.display().to_string());
            replace(r, "cacert", c.ca.display().to_string());
        } else {
            for k in ["certfile", "keyfile", "cacert", "keyfile_password"] {
                r.remove(k);
            }
        }
    }
    if let Some(e) = map_mut(&mut doc, "etcd3") {
        for k in ["host", "hosts", "url", "proxy", "srv", "srv_suffix"] {
            e.remove(k);
        }
        set(e, "hosts", format!("127.0.0.1:{}", tb.etcd_port));
        match (certs, &tb.tls) {
            (Some(c), Some(t)) => {
                replace(e, "cacert", c.ca.display().to_string());
                replace(e, "cert", c.cert.display().to_string());
                replace(e, "key", c.key.display().to_string());
                set(e, "username", "root");
                set(e, "password", t.etcd_password.clone());
            }
            _ => {
                e.remove("username");
                e.remove("password");
            }
        }
    }
    if let Some(l) = map_mut(&mut doc, "log") {
        replace(
            l,
            "dir",
            m.dir.join(format!("{}-log", m.name)).display().to_string(),
        );
    }
    let available = locales();
    if let Some(b) = map_mut(&mut doc, "bootstrap") {
        if let Some(d) = b.get_mut("dcs").and_then(Yaml::as_mapping_mut) {
            set(d, "ttl", common::TIMING.ttl);
            set(d, "loop_wait", common::TIMING.loop_wait);
            set(d, "retry_timeout", common::TIMING.retry_timeout);
            if let Some(p) = d.get_mut("postgresql").and_then(Yaml::as_mapping_mut) {
                localize_hba(p.get_mut("pg_hba"));
                localize_parameters(
                    p.get_mut("parameters").and_then(Yaml::as_mapping_mut),
                    m,
                    certs,
                );
            }
        }
        localize_hba(b.get_mut("pg_hba"));
        if let Some(Yaml::Sequence(opts)) = b.get_mut("initdb") {
            for o in opts {
                if let Some(l) = o.as_mapping_mut() {
                    let known = l
                        .get("locale")
                        .and_then(Yaml::as_str)
                        .map(|v| available.contains(&v.to_lowercase().replace('-', "")));
                    if known == Some(false) {
                        set(l, "locale", "C.UTF-8");
                    }
                }
            }
        }
        for k in ["post_bootstrap", "post_init"] {
            replace(b, k, "/bin/true");
        }
        if citus {
            if let Some(s) = tb.citus_standin_script() {
                set(b, "post_bootstrap", format!("sh {}", s.display()));
            }
        }
    }
    if let Some(p) = map_mut(&mut doc, "postgresql") {
        let at = format!("127.0.0.1:{}", m.pg_port);
        set(p, "listen", at.clone());
        set(p, "connect_address", at);
        set(p, "data_dir", m.data_dir.display().to_string());
        replace(
            p,
            "config_dir",
            m.dir.join(format!("{}-conf", m.name)).display().to_string(),
        );
        replace(
            p,
            "pgpass",
            m.dir
                .join(format!("{}.pgpass", m.name))
                .display()
                .to_string(),
        );
        replace(p, "bin_dir", bin_dir);
        if !p.contains_key("basebackup") {
            // A spread checkpoint paces the clone's writes over minutes; the test waits for it.
            set(
                p,
                "basebackup",
                vec![Yaml::Mapping(Mapping::from_iter([(
                    key("checkpoint"),
                    key("fast"),
                )]))],
            );
        }
        for k in ["before_stop", "pre_promote"] {
            replace(p, k, "/bin/true");
        }
        if let Some(c) = p.get_mut("callbacks").and_then(Yaml::as_mapping_mut) {
            for (_, v) in c.iter_mut() {
                *v = key("/bin/true");
            }
        }
        localize_hba(p.get_mut("pg_hba"));
        localize_parameters(
            p.get_mut("parameters").and_then(Yaml::as_mapping_mut),
            m,
            certs,
        );
        let roles: Vec<Yaml> = p.keys().cloned().collect();
        for r in roles {
            // authentication.<role>, and the legacy postgresql.<role> / pg_rewind layout.
            if let Some(a) = p.get_mut(&r).and_then(Yaml::as_mapping_mut) {
                if a.contains_key("username") || a.contains_key("password") {
                    localize_role(a, certs);
                }
            }
        }
        if let Some(a) = p.get_mut("authentication").and_then(Yaml::as_mapping_mut) {
            for (_, r) in a.iter_mut() {
                if let Some(r) = r.as_mapping_mut() {
                    localize_role(r, certs);
                }
            }
        }
    }
    doc
}

/// The superuser's credentials in a localized copy (`authentication.superuser`, or the legacy
/// `postgresql.superuser`), with the password from `PATRONI_SUPERUSER_PASSWORD` when the file
/// has none.
fn superuser(doc: &Yaml, env: &[(String, String)]) -> Credentials {
    let p = &doc["postgresql"];
    let v = if p["authentication"]["superuser"].is_mapping() {
        p["authentication"]["superuser"].clone()
    } else {
        p["superuser"].clone()
    };
    let mut c: Credentials = serde_yaml::from_value(v).unwrap_or_default();
    for (k, val) in env {
        match k.as_str() {
            "PATRONI_SUPERUSER_USERNAME" => c.username = Some(val.clone()),
            "PATRONI_SUPERUSER_PASSWORD" => c.password = Some(val.clone()),
            _ => {}
        }
    }
    c
}

async fn connect(port: u16, creds: &Credentials) -> anyhow::Result<tokio_postgres::Client> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host("127.0.0.1")
        .port(port)
        .dbname("postgres")
        .user(creds.username.as_deref().unwrap_or("postgres"))
        .connect_timeout(Duration::from_secs(2));
    if let Some(p) = &creds.password {
        cfg.password(p.as_str());
    }
    praetor::tls::pg_connect(&mut cfg, creds, "corpus").await
}

/// Makes the PKI of the TLS fixture: server certificate, one client certificate per role.
fn make_certs(dir: &Path) -> Certs {
    let pki = common::pki::Pki::new("corpus");
    let (ca, cert, key) = pki.write(dir, "");
    let clients = dir.join("clients");
    std::fs::create_dir_all(&clients).unwrap();
    for role in ["postgres", "replicator", "rewind_user"] {
        let (c, k) = pki.client(role);
        std::fs::write(clients.join(format!("{role}.crt")), c).unwrap();
        std::fs::write(clients.join(format!("{role}.key")), k).unwrap();
    }
    Certs {
        ca,
        cert,
        key,
        dir: clients,
    }
}

/// Encrypts (PKCS#8, AES-256) each role's client key that has an `sslpassword` in the localized
/// copy `doc`, with that passphrase, as `openssl pkcs8 -topk8` does for a user (once: the members
/// share the files).
fn encrypt_keys(tb: &Testbed, doc: &Yaml) {
    let Some(roles) = doc["postgresql"]["authentication"].as_mapping() else {
        return;
    };
    for (_, r) in roles {
        let (Some(key), Some(pass)) = (r["sslkey"].as_str(), r["sslpassword"].as_str()) else {
            continue;
        };
        if std::fs::read_to_string(key).unwrap().contains("ENCRYPTED") {
            continue;
        }
        let out = format!("{key}.enc");
        let st = std::process::Command::new("openssl")
            .args([
                "pkcs8",
                "-topk8",
                "-v2",
                "aes-256-cbc",
                "-in",
                key,
                "-out",
                &out,
            ])
            .arg("-passout")
            .arg(format!("pass:{pass}"))
            .status()
            .expect("running openssl");
        assert!(st.success(), "openssl pkcs8 -topk8 on {key}");
        std::fs::rename(&out, key).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600)).unwrap();
        tb.give_to_agents(Path::new(key)).unwrap();
    }
}

/// A Debian cluster's configuration directory as `pg_createcluster` leaves it: the package's
/// `postgresql.conf` naming the data directory and the files beside it, and a `conf.d`.
fn debian_config_dir(conf: &Path, data: &Path, sock: &Path) {
    std::fs::create_dir_all(conf.join("conf.d")).unwrap();
    std::fs::write(
        conf.join("postgresql.conf"),
        format!(
            "data_directory = '{data}'\nhba_file = '{c}/pg_hba.conf'\nident_file = '{c}/pg_ident.conf'\n\
             unix_socket_directories = '{sock}'\nmax_connections = 100\ninclude_dir = 'conf.d'\n",
            data = data.display(),
            c = conf.display(),
            sock = sock.display()
        ),
    )
    .unwrap();
    std::fs::write(
        conf.join("conf.d/local.conf"),
        "log_line_prefix = '%m [%p] debian '\n",
    )
    .unwrap();
    std::fs::write(conf.join("pg_ident.conf"), "").unwrap();
}

/// The variables case 6 gives each member instead of a file (as its container would).
fn container_env(m: &Member, etcd_port: u16) -> Vec<(String, String)> {
    let at = |p: u16| format!("127.0.0.1:{p}");
    [
        ("PATRONI_NAME", m.name.clone()),
        ("PATRONI_SCOPE", "corpus".to_string()),
        ("PATRONI_NAMESPACE", "/service/".to_string()),
        ("PATRONI_RESTAPI_LISTEN", at(m.rest_port)),
        ("PATRONI_RESTAPI_CONNECT_ADDRESS", at(m.rest_port)),
        ("PATRONI_RESTAPI_USERNAME", "admin".to_string()),
        ("PATRONI_RESTAPI_PASSWORD", "shop-rest-Ee1x".to_string()),
        ("PATRONI_ETCD3_HOSTS", format!("'127.0.0.1:{etcd_port}'")),
        ("PATRONI_POSTGRESQL_LISTEN", at(m.pg_port)),
        ("PATRONI_POSTGRESQL_CONNECT_ADDRESS", at(m.pg_port)),
        (
            "PATRONI_POSTGRESQL_DATA_DIR",
            m.data_dir.display().to_string(),
        ),
        (
            "PATRONI_POSTGRESQL_PGPASS",
            m.dir
                .join(format!("{}.pgpass", m.name))
                .display()
                .to_string(),
        ),
        ("PATRONI_SUPERUSER_USERNAME", "postgres".to_string()),
        ("PATRONI_SUPERUSER_PASSWORD", "shop-su-Oo9z".to_string()),
        ("PATRONI_REPLICATION_USERNAME", "standby".to_string()),
        ("PATRONI_REPLICATION_PASSWORD", "shop-repl-Rr2d".to_string()),
        ("PATRONI_LOG_LEVEL", "INFO".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Bootstraps fixture `file` as a three-member group and checks a write reaches both standbys.
async fn bootstrap_group(file: &str) {
    let text = std::fs::read_to_string(Path::new(DIR).join(file)).unwrap();
    let doc: Yaml = serde_yaml::from_str(&text).unwrap();
    let env_only = doc.get("postgresql").is_none();
    let mut tb = common::testbed("corpus");
    let tls = doc["etcd3"]["protocol"].as_str() == Some("https");
    let needs_certs = tls || text.contains("ssl_cert_file") || text.contains("certfile");
    let certs = needs_certs.then(|| make_certs(&tb.dir));
    if let Some(c) = &certs {
        tb.tls = tls.then(|| TestTls {
            ca: c.ca.clone(),
            cert: c.cert.clone(),
            key: c.key.clone(),
            etcd_password: "corpus-etcd".into(),
            verify_client: Default::default(),
            allowlist: Default::default(),
        });
        use std::os::unix::fs::PermissionsExt;
        let clients = std::fs::read_dir(&c.dir)
            .unwrap()
            .map(|f| f.unwrap().path());
        for f in [c.ca.clone(), c.cert.clone(), c.key.clone()]
            .into_iter()
            .chain(clients)
        {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
            tb.give_to_agents(&f).unwrap();
        }
        tb.give_to_agents(&c.dir).unwrap();
    }
    let citus = doc["citus"]["group"].as_u64().map(|g| g as u32);
    tb.start_etcd().await.unwrap();
    if tls {
        tb.enable_etcd_auth().await.unwrap();
    }
    let sock = tb.dir.join("sock");
    std::fs::create_dir_all(&sock).unwrap();
    tb.give_to_agents(&sock).unwrap();
    let base = doc["name"]
        .as_str()
        .and_then(|n| n.rsplit_once('-').map(|(b, _)| b.to_string()))
        .unwrap_or_else(|| "pg".to_string());
    let mut su = None;
    let mut names = Vec::new();
    for i in 1..=3 {
        let name = format!("{base}-{i}");
        let data_dir = tb.configure_agent(&name).unwrap();
        let a = &tb.agents[&name];
        let m = Member {
            name: name.clone(),
            rest_port: a.rest_port,
            pg_port: a.pg_port,
            data_dir,
            dir: tb.dir.clone(),
        };
        let mine = localize(&doc, &tb, &m, &certs, citus.is_some());
        let env = if env_only {
            container_env(&m, tb.etcd_port)
        } else {
            Vec::new()
        };
        su.get_or_insert_with(|| superuser(&mine, &env));
        if let Some(conf) = mine["postgresql"]["config_dir"].as_str() {
            debian_config_dir(Path::new(conf), &m.data_dir, &sock);
            tb.give_to_agents(Path::new(conf)).unwrap();
        }
        encrypt_keys(&tb, &mine);
        if let Some(d) = mine["log"]["dir"].as_str() {
            std::fs::create_dir_all(d).unwrap();
            tb.give_to_agents(Path::new(d)).unwrap();
        }
        std::fs::write(
            &tb.agents[&name].config,
            serde_yaml::to_string(&mine).unwrap(),
        )
        .unwrap();
        tb.agent_env.insert(name.clone(), env);
        names.push(name);
    }
    if env_only {
        tb.scope = "corpus".into();
    }
    for n in &names {
        tb.start_agent(n).unwrap();
    }
    let leader = match tb.wait_healthy_in(citus, 2, Duration::from_secs(150)).await {
        Ok(l) => l,
        Err(e) => {
            common::dump_logs(&tb);
            panic!("{file}: {e:#}");
        }
    };
    let su = su.unwrap();
    let port = |n: &str| tb.agents[n].pg_port;
    let pg = connect(port(&leader), &su)
        .await
        .unwrap_or_else(|e| panic!("{file}: connecting to the primary {leader}: {e:#}"));
    pg.batch_execute("CREATE TABLE corpus_probe(id int); INSERT INTO corpus_probe VALUES (17)")
        .await
        .unwrap_or_else(|e| panic!("{file}: writing on the primary: {e:#}"));
    for n in names.iter().filter(|n| **n != leader) {
        let seen = common::wait_for(Duration::from_secs(30), || async {
            let c = connect(port(n), &su).await.ok()?;
            let row = c
                .query_opt("SELECT id FROM corpus_probe", &[])
                .await
                .ok()??;
            (row.get::<_, i32>(0) == 17).then_some(())
        })
        .await;
        if seen.is_none() {
            common::dump_logs(&tb);
            panic!("{file}: the write did not reach the standby {n}");
        }
    }
    if doc["postgresql"]["config_dir"].is_string() {
        for n in &names {
            let conf = tb.dir.join(format!("{n}-conf"));
            let written = std::fs::read_to_string(conf.join("postgresql.conf")).unwrap();
            assert!(
                written.contains("include_if_exists 'postgresql.base.conf'"),
                "{file}: {n}: {written}"
            );
            let base = std::fs::read_to_string(conf.join("postgresql.base.conf")).unwrap();
            assert!(
                base.contains("data_directory"),
                "{file}: {n}: the package's file is kept"
            );
            assert!(
                std::fs::read_to_string(conf.join("pg_hba.conf"))
                    .unwrap()
                    .contains("scram-sha-256"),
                "{file}: {n}: pg_hba.conf is written in config_dir"
            );
            // Each server runs with the files in its config_dir, conf.d included.
            let c = connect(port(n), &su).await.unwrap();
            let row = c
                .query_one(
                    "SELECT current_setting('config_file'), current_setting('log_line_prefix')",
                    &[],
                )
                .await
                .unwrap();
            let config_file: String = row.get(0);
            assert!(
                config_file.ends_with(&format!("{n}-conf/postgresql.conf")),
                "{file}: {n}: {config_file}"
            );
            assert_eq!(
                row.get::<_, String>(1),
                "%m [%p] debian ",
                "{file}: {n}: conf.d"
            );
        }
    }
    tb.stop_all();
}

static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

macro_rules! corpus_group {
    ($test:ident, $file:literal) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            // One group at a time: three servers each, on a machine of two cores.
            let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
            bootstrap_group($file).await;
        }
    };
}

corpus_group!(scram_everywhere, "01-scram-sha-256.yml");
corpus_group!(md5_with_initdb_auth_options, "02-md5-initdb-auth.yml");
corpus_group!(unix_socket_local_connections, "03-unix-socket.yml");
corpus_group!(debian_config_dir_layout, "04-debian-config-dir.yml");
corpus_group!(pg_hba_only_in_bootstrap_dcs, "05-pg-hba-in-dcs.yml");
corpus_group!(
    configuration_from_variables_alone,
    "06-env-only-bootstrap.yml"
);
corpus_group!(tls_on_every_hop, "07-tls-everywhere.yml");
corpus_group!(citus_worker, "08-citus-worker.yml");
corpus_group!(legacy_names, "09-legacy-names.yml");
corpus_group!(
    legacy_authentication_layout,
    "09b-legacy-authentication-layout.yml"
);
corpus_group!(legacy_and_new_timeouts, "09c-legacy-and-new-timeouts.yml");
corpus_group!(every_harmless_key, "10-harmless-keys.yml");
