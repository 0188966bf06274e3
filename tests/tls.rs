//! A production-style group: TLS on every hop and credentials everywhere, with certificates made
//! in the test (rcgen). Shows that
//! - etcd over TLS with client-certificate auth and etcd user/password auth works for the agents
//!   and praetorctl, survives an etcd restart (the agents log in again), and refuses a client
//!   without a certificate, with a certificate from another CA, or with a wrong password;
//! - the REST API serves HTTPS; `verify_client: required` refuses clients without a valid
//!   certificate in the handshake, `optional` refuses them on unsafe endpoints (403), the allowlist
//!   refuses other addresses (403), and wrong basic credentials get 401 with a log line that does
//!   not hold the secret;
//! - standbys stream over TLS (`hostssl` only, `sslmode: verify-full`);
//! - a revocation list (`sslcrl`, or a directory of them in `sslcrldir`) that revokes the
//!   server's certificate makes a verifying connection fail, one that does not lets it through;
//! - praetorctl drives a switchover through all of it;
//! - no password appears in the agents' logs, the REST output, etcd, the written PostgreSQL
//!   configuration, or any process's command line while the group bootstraps; pgpass is 0600.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::pki::Pki;
use praetor::config::EtcdConfig;
use praetor::dcs::etcd::EtcdDcs;
use praetor_testbed::TestTls;

const SECRETS: [&str; 6] = [
    "super-secret",
    "rep-secret",
    "rewind-secret",
    "admin-secret",
    "etcd-secret",
    "not-the-password",
];

/// The certificate the TLS server at 127.0.0.1:`port` presents (DER), using `client_cert`.
async fn served_certificate(port: u16, ca: &Path, cert: &Path, key: &Path) -> Vec<u8> {
    let mut roots = rustls::RootCertStore::empty();
    for c in praetor::tls::load_certs(ca, "ca").unwrap() {
        roots.add(c).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(praetor::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            praetor::tls::load_certs(cert, "cert").unwrap(),
            praetor::tls::load_key(key, "key").unwrap(),
        )
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// Reads every process's command line every few milliseconds until stopped; records any line
/// holding a secret.
fn scan_cmdlines(
    stop: Arc<AtomicBool>,
    leaks: Arc<Mutex<Vec<String>>>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut seen = 0usize;
        while !stop.load(Ordering::Relaxed) {
            for e in std::fs::read_dir("/proc").unwrap().flatten() {
                let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
                    continue;
                };
                seen += 1;
                let line = String::from_utf8_lossy(&raw).replace('\0', " ");
                if SECRETS.iter().any(|s| line.contains(s)) {
                    leaks.lock().unwrap().push(line);
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        seen
    })
}

struct Clients {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Clients {
    fn build(&self, ca: &Path, identity: Option<(&Path, &Path)>, from: &str) -> reqwest::Client {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .timeout(Duration::from_secs(10))
            .local_address(from.parse::<std::net::IpAddr>().unwrap())
            .add_root_certificate(
                reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap(),
            );
        if let Some((c, k)) = identity {
            let mut pem = std::fs::read(c).unwrap();
            pem.extend(std::fs::read(k).unwrap());
            b = b.identity(reqwest::Identity::from_pem(&pem).unwrap());
        }
        b.build().unwrap()
    }
    fn with_cert(&self) -> reqwest::Client {
        self.build(&self.ca, Some((&self.cert, &self.key)), "127.0.0.1")
    }
    fn with_cert_from(&self, addr: &str) -> reqwest::Client {
        self.build(&self.ca, Some((&self.cert, &self.key)), addr)
    }
    fn without_cert(&self) -> reqwest::Client {
        self.build(&self.ca, None, "127.0.0.1")
    }
}

async fn status(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    auth: Option<(&str, &str)>,
) -> Result<u16, String> {
    let mut r = c.request(method, url);
    if let Some((u, p)) = auth {
        r = r.basic_auth(u, Some(p));
    }
    r.send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("{e:?}"))
}

fn praetorctl(config: &Path, args: &[&str]) -> (bool, String) {
    common::run_cli(
        Command::new(env!("CARGO_BIN_EXE_praetorctl"))
            .arg("-c")
            .arg(config)
            .args(args)
            .stdin(Stdio::null()),
        &format!("praetorctl {}", args.join(" ")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_on_every_hop_refuses_wrong_credentials_and_leaks_no_secret() {
    let mut tb = common::testbed("tls");
    let pki = Pki::new("main");
    let (ca, cert, key) = pki.write(&tb.dir, "");
    let (_other_ca, rogue_cert, rogue_key) = Pki::new("rogue").write(&tb.dir, "rogue-");
    tb.rest_auth = Some(("admin".into(), "admin-secret".into()));
    tb.tls = Some(TestTls {
        ca: ca.clone(),
        cert: cert.clone(),
        key: key.clone(),
        etcd_password: "etcd-secret".into(),
        verify_client: BTreeMap::from([("m2".to_string(), "optional".to_string())]),
        allowlist: BTreeMap::from([("m1".to_string(), "[127.0.0.1]".to_string())]),
    });
    tb.own_tls_files().unwrap();
    // m1 logs JSON lines (`log.format: json`); m2 the default plain lines.
    tb.extra_config
        .insert("m1".into(), "log: {format: json, level: INFO}\n".into());

    let stop = Arc::new(AtomicBool::new(false));
    let leaks = Arc::new(Mutex::new(Vec::new()));
    let scanner = scan_cmdlines(stop.clone(), leaks.clone());

    tb.start_etcd().await.unwrap();
    tb.enable_etcd_auth().await.unwrap();
    tb.add_agent("m1").unwrap();
    tb.add_agent("m2").unwrap();
    let leader = common::healthy(&tb, 1, Duration::from_secs(120)).await;
    let standby = if leader == "m1" { "m2" } else { "m1" };

    // Replication runs over TLS: the primary's walsender connection is encrypted.
    let pg = tb.pg(&leader).await.unwrap();
    let row = pg
        .query_one(
            "SELECT count(*) FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) WHERE s.ssl",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1, "the standby streams over TLS");

    // ---- etcd: TLS, client certificates and user/password ----
    let good = tb.etcd_config();
    let try_etcd = |cfg: EtcdConfig| async move {
        match EtcdDcs::connect(&cfg, "/service/tls/", "probe", Duration::from_secs(3)).await {
            Ok(d) => d.load_fresh().await.map(|_| ()),
            Err(e) => Err(e),
        }
    };
    try_etcd(good.clone())
        .await
        .expect("the right credentials work");
    let wrong_password = EtcdConfig {
        password: Some("not-the-password".into()),
        ..good.clone()
    };
    let e = try_etcd(wrong_password).await.unwrap_err();
    assert!(format!("{e:#}").contains("authentication failed"), "{e:#}");
    let no_cert = EtcdConfig {
        cert: None,
        key: None,
        ..good.clone()
    };
    assert!(
        try_etcd(no_cert).await.is_err(),
        "etcd requires a client certificate"
    );
    let rogue = EtcdConfig {
        cert: Some(rogue_cert.clone()),
        key: Some(rogue_key.clone()),
        ..good.clone()
    };
    assert!(
        try_etcd(rogue).await.is_err(),
        "a certificate from another CA is refused"
    );
    let plain = EtcdConfig {
        endpoints: vec![good.endpoints[0].replace("https://", "http://")],
        cacert: None,
        cert: None,
        key: None,
        ..good.clone()
    };
    assert!(try_etcd(plain).await.is_err(), "plain HTTP is refused");

    // ---- REST API ----
    let clients = Clients {
        ca: ca.clone(),
        cert: cert.clone(),
        key: key.clone(),
    };
    let ports: BTreeMap<String, u16> = tb
        .agents
        .iter()
        .map(|(n, a)| (n.clone(), a.rest_port))
        .collect();
    let url = |m: &str, path: &str| format!("https://127.0.0.1:{}{path}", ports[m]);
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    let admin = Some(("admin", "admin-secret"));
    let wrong = Some(("admin", "not-the-password"));

    // What each client gets: a status code, or no HTTP answer at all (refused in the handshake).
    let rogue_client = clients.build(&ca, Some((&rogue_cert, &rogue_key)), "127.0.0.1");
    let (certified, no_cert, outsider) = (
        clients.with_cert(),
        clients.without_cert(),
        clients.with_cert_from("127.0.0.2"),
    );
    const REFUSED: u16 = 0;
    #[rustfmt::skip]
    let cases: [(&str, &reqwest::Client, &reqwest::Method, &str, &str, Option<(&str, &str)>, &[u16]); 12] = [
        // m1: verify_client required, allowlist [127.0.0.1].
        ("m1 with a certificate", &certified, &get, "m1", "/patroni", None, &[200]),
        ("m1 without a certificate", &no_cert, &get, "m1", "/patroni", None, &[REFUSED]),
        ("m1 with another CA's certificate", &rogue_client, &get, "m1", "/patroni", None, &[REFUSED]),
        ("m1 from outside the allowlist", &outsider, &post, "m1", "/reload", admin, &[403]),
        ("m1 GET from outside the allowlist", &outsider, &get, "m1", "/health", None, &[200]),
        ("m1 with certificate and password", &certified, &post, "m1", "/reload", admin, &[200, 202]),
        // m2: verify_client optional.
        ("m2 GET without a certificate", &no_cert, &get, "m2", "/patroni", None, &[200]),
        ("m2 POST without a certificate", &no_cert, &post, "m2", "/reload", admin, &[403]),
        ("m2 POST without a password", &certified, &post, "m2", "/reload", None, &[401]),
        ("m2 POST with a wrong password", &certified, &post, "m2", "/reload", wrong, &[401]),
        ("m2 POST with certificate and password", &certified, &post, "m2", "/reload", admin, &[200, 202]),
        ("m2 GET with a certificate", &certified, &get, "m2", "/patroni", None, &[200]),
    ];
    for (what, client, method, member, path, auth, expect) in cases {
        let got = status(client, method.clone(), &url(member, path), auth)
            .await
            .unwrap_or(REFUSED);
        assert!(
            expect.contains(&got),
            "{what}: got {got}, expected {expect:?} (0 = refused)"
        );
    }
    let plain_url = url("m1", "/patroni").replace("https://", "http://");
    assert_ne!(
        status(&reqwest::Client::new(), get.clone(), &plain_url, None).await,
        Ok(200),
        "plain HTTP does not reach the API"
    );
    let m2_log = std::fs::read_to_string(&tb.agents["m2"].log).unwrap();
    assert!(
        m2_log.contains(
            "refused POST /reload from 127.0.0.1: wrong password for user \"admin\" (401)"
        ),
        "the refusal is logged:\n{m2_log}"
    );
    assert!(m2_log.contains("no client certificate (403)"), "{m2_log}");

    // ---- praetorctl against both ----
    let ctl_yml = |name: &str, extra_etcd: &str, ctl: &str| {
        let p = tb.dir.join(name);
        std::fs::write(
            &p,
            format!(
                "scope: tls\netcd3:\n  hosts: {}\n  cacert: {}\n  cert: {}\n  key: {}\n  username: root\n{extra_etcd}ctl:\n{ctl}",
                good.endpoints[0], ca.display(), cert.display(), key.display()
            ),
        )
        .unwrap();
        p
    };
    let full_ctl = format!(
        "  certfile: {}\n  keyfile: {}\n  cacert: {}\n  authentication: {{username: admin, password: admin-secret}}\n",
        cert.display(),
        key.display(),
        ca.display()
    );
    let good_ctl = ctl_yml("ctl.yml", "  password: etcd-secret\n", &full_ctl);
    let (ok, out) = praetorctl(&good_ctl, &["list"]);
    assert!(ok && out.contains("| streaming |"), "{out}");
    let (ok, out) = praetorctl(&good_ctl, &["reload", "tls", "--force"]);
    assert!(
        ok && out.matches("Reload request received").count() == 2,
        "{out}"
    );
    let bad_etcd = ctl_yml(
        "ctl-bad-etcd.yml",
        "  password: not-the-password\n",
        &full_ctl,
    );
    let (ok, out) = praetorctl(&bad_etcd, &["list"]);
    assert!(
        !ok && out.contains("etcd"),
        "a wrong etcd password is refused: {out}"
    );
    let no_cert_ctl = ctl_yml(
        "ctl-no-cert.yml",
        "  password: etcd-secret\n",
        &format!(
            "  cacert: {}\n  authentication: {{username: admin, password: admin-secret}}\n",
            ca.display()
        ),
    );
    let (ok, out) = praetorctl(&no_cert_ctl, &["reload", "tls", "m1", "--force"]);
    assert!(
        !ok || out.contains("Failed: reload"),
        "m1 requires a client certificate: {out}"
    );
    assert!(!out.contains("Reload request received"), "{out}");
    let (ok, out) = praetorctl(&no_cert_ctl, &["reload", "tls", "m2", "--force"]);
    assert!(
        !ok || out.contains("403"),
        "m2 refuses unsafe calls without one: {out}"
    );
    let bad_auth_ctl = ctl_yml(
        "ctl-bad-auth.yml",
        "  password: etcd-secret\n",
        &full_ctl.replace("admin-secret", "not-the-password"),
    );
    let (ok, out) = praetorctl(&bad_auth_ctl, &["reload", "tls", "m2", "--force"]);
    assert!(
        !ok || out.contains("401"),
        "wrong REST credentials are refused: {out}"
    );

    // Without a CA to check the members' certificates against, praetorctl refuses them (rustls'
    // built-in roots do not hold the test CA) unless `ctl.insecure: true` says not to check.
    let no_ca = |insecure: &str| {
        format!(
            "  certfile: {}\n  keyfile: {}\n{insecure}  authentication: {{username: admin, password: admin-secret}}\n",
            cert.display(),
            key.display()
        )
    };
    let unverified_ctl = ctl_yml("ctl-no-ca.yml", "  password: etcd-secret\n", &no_ca(""));
    let (ok, out) = praetorctl(&unverified_ctl, &["reload", "tls", "m2", "--force"]);
    assert!(
        !out.contains("Reload request received"),
        "an unverifiable member certificate was accepted ({ok}): {out}"
    );
    let insecure_ctl = ctl_yml(
        "ctl-insecure.yml",
        "  password: etcd-secret\n",
        &no_ca("  insecure: true\n"),
    );
    let (ok, out) = praetorctl(&insecure_ctl, &["reload", "tls", "m2", "--force"]);
    assert!(
        ok && out.contains("Reload request received"),
        "ctl.insecure: {out}"
    );

    // etcd restarts and forgets the agents' auth tokens: they log in again.
    tb.stop_etcd();
    tb.start_etcd().await.unwrap();
    let still = tb.wait_healthy(1, Duration::from_secs(60)).await.unwrap();
    assert_eq!(still, leader);

    // A switchover through TLS and auth end to end: praetorctl → leader's REST API → the
    // leader asks the candidate's REST API (with its own client certificate) → etcd.
    let (ok, out) = praetorctl(
        &good_ctl,
        &[
            "switchover",
            "tls",
            "--leader",
            &leader,
            "--candidate",
            standby,
            "--force",
        ],
    );
    assert!(ok, "{out}");
    let new_leader = common::wait_for(Duration::from_secs(60), || async {
        let l = tb.wait_healthy(1, Duration::from_secs(5)).await.ok()?;
        (l == standby).then_some(l)
    })
    .await;
    if new_leader.is_none() {
        common::dump_logs(&tb);
        panic!("the switchover to {standby} did not complete");
    }

    // Certificate rotation: new files in place and a reload; m1 serves the new certificate to
    // new connections, m2 (not reloaded) still the old one.
    let before = served_certificate(ports["m1"], &ca, &cert, &key).await;
    let (new_cert, new_key) = pki.member();
    std::fs::write(&cert, new_cert).unwrap();
    std::fs::write(&key, new_key).unwrap();
    tb.signal_agent("m1", nix::sys::signal::Signal::SIGHUP);
    let rotated = common::wait_for(Duration::from_secs(20), || async {
        let now = served_certificate(ports["m1"], &ca, &cert, &key).await;
        (now != before).then_some(())
    })
    .await;
    assert!(
        rotated.is_some(),
        "m1 still serves the old certificate after a reload"
    );
    assert_eq!(
        served_certificate(ports["m2"], &ca, &cert, &key).await,
        before,
        "m2 was not reloaded"
    );

    // JSON logs: every line of m1's log is one JSON object, one per HA cycle among them.
    let m1_log = std::fs::read_to_string(&tb.agents["m1"].log).unwrap();
    let mut cycles = 0;
    for line in m1_log.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        let msg = v["fields"]["message"].as_str().unwrap_or_default();
        assert!(v["level"].is_string() && !msg.is_empty(), "{line}");
        cycles += usize::from(msg.contains("I am (m1)"));
    }
    assert!(cycles > 0, "no HA cycle line in m1's JSON log");

    // ---- revocation lists: sslcrl and sslcrldir are checked when the server is verified ----
    let crl_dir = tb.dir.join("crls");
    std::fs::create_dir_all(&crl_dir).unwrap();
    let fine = tb.dir.join("crl-fine.pem");
    std::fs::write(&fine, pki.crl(&[99])).unwrap();
    std::fs::write(
        crl_dir.join("revoked.pem"),
        pki.crl(&[common::pki::MEMBER_SERIAL]),
    )
    .unwrap();
    let pg_port = tb.agents[&leader].pg_port;
    let try_pg = |sslcrl: Option<&Path>, sslcrldir: Option<&Path>| {
        let creds = praetor::config::Credentials {
            username: Some("postgres".into()),
            password: Some("super-secret".into()),
            sslmode: Some("verify-full".into()),
            sslrootcert: Some(ca.display().to_string()),
            sslcrl: sslcrl.map(|p| p.display().to_string()),
            sslcrldir: sslcrldir.map(|p| p.display().to_string()),
            ..Default::default()
        };
        async move {
            let mut cfg = tokio_postgres::Config::new();
            cfg.host("127.0.0.1")
                .port(pg_port)
                .user("postgres")
                .password("super-secret")
                .dbname("postgres");
            praetor::tls::pg_connect(&mut cfg, &creds, "test")
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:#}"))
        }
    };
    try_pg(Some(&fine), None)
        .await
        .expect("a revocation list that does not name the server's certificate");
    let e = try_pg(Some(&crl_dir.join("revoked.pem")), None)
        .await
        .expect_err("sslcrl revokes the server's certificate");
    assert!(e.to_lowercase().contains("revoked"), "{e}");
    let e = try_pg(None, Some(&crl_dir))
        .await
        .expect_err("sslcrldir revokes the server's certificate");
    assert!(e.to_lowercase().contains("revoked"), "{e}");

    // ---- no secret anywhere ----
    stop.store(true, Ordering::Relaxed);
    let seen = scanner.join().unwrap();
    assert!(seen > 100, "the scanner read command lines ({seen})");
    let leaks = leaks.lock().unwrap().clone();
    assert!(leaks.is_empty(), "secrets on command lines: {leaks:?}");

    let mut haystack = String::new();
    for m in ["m1", "m2"] {
        for path in ["/patroni", "/config", "/cluster", "/history", "/metrics"] {
            let body = clients
                .with_cert()
                .get(url(m, path))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            haystack.push_str(&body);
        }
        let a = &tb.agents[m];
        haystack.push_str(&std::fs::read_to_string(&a.log).unwrap());
        for f in ["postgresql.conf", "postgresql.auto.conf"] {
            haystack.push_str(&std::fs::read_to_string(a.data_dir.join(f)).unwrap_or_default());
        }
        let mut pgpass = a.data_dir.clone().into_os_string();
        pgpass.push(".pgpass");
        let mode = std::fs::metadata(&pgpass).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "pgpass {:?} mode", pgpass);
    }
    let etcd = tb.dcs().await.unwrap();
    for k in etcd.list_keys("/service/tls/").await.unwrap() {
        haystack.push_str(&k);
    }
    let view = etcd.load_fresh().await.unwrap();
    haystack.push_str(&format!("{view:?}"));
    for s in SECRETS {
        assert!(
            !haystack.contains(s),
            "{s} leaked into logs, REST output, etcd or configuration"
        );
    }
}
