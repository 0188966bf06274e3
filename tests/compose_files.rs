//! The docker-compose Citus demo (docker-compose-citus.yml, config/, Dockerfile.citus) is checked
//! with praetor's own configuration loader, so the files cannot drift apart: every praetor service
//! mounts a config that loads, names itself and its addresses after the service, is in the right
//! Citus group, talks to the compose file's etcd members; HAProxy's servers are those services.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use praetor::config::Config;
use serde_yaml::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn compose_file_and_every_mounted_config_agree() {
    let text = std::fs::read_to_string(root().join("docker-compose-citus.yml")).unwrap();
    let mut compose: Value = serde_yaml::from_str(&text).expect("docker-compose-citus.yml is YAML");
    // Anchors merge anchors (x-etcd merges x-image): resolve until no merge key is left.
    for _ in 0..3 {
        compose.apply_merge().expect("merge keys resolve");
    }
    let services = compose["services"].as_mapping().expect("services");
    let names: BTreeSet<String> = services
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let etcd: BTreeSet<String> = names
        .iter()
        .filter(|n| n.starts_with("etcd"))
        .cloned()
        .collect();
    assert_eq!(etcd.len(), 3, "three etcd members");

    let mut praetor_services: BTreeMap<String, Config> = BTreeMap::new();
    for (name, svc) in services {
        let name = name.as_str().unwrap();
        assert_eq!(
            svc["image"].as_str(),
            Some("praetor-citus"),
            "{name} uses the demo image"
        );
        assert_eq!(
            svc["build"]["dockerfile"].as_str(),
            Some("Dockerfile.citus"),
            "{name} can build it"
        );
        let Some(vols) = svc["volumes"].as_sequence() else {
            continue;
        };
        for v in vols {
            let v = v.as_str().unwrap();
            let (src, dst) = v.split_once(':').unwrap();
            assert!(
                root().join(src).exists(),
                "{name} mounts {src}, which exists"
            );
            if dst.starts_with("/etc/praetor/praetor.yml") {
                let env: BTreeMap<String, String> = svc["environment"]
                    .as_mapping()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| {
                                (
                                    k.as_str().unwrap().to_string(),
                                    v.as_str().unwrap_or("").to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let cfg =
                    Config::load(Some(&root().join(src)), &env).unwrap_or_else(|e| panic!("{e}"));
                praetor_services.insert(name.to_string(), cfg);
            }
        }
    }
    assert_eq!(
        praetor_services.len(),
        7,
        "coord1..3, work1-1/1-2, work2-1/2-2"
    );
    for (name, cfg) in &praetor_services {
        assert_eq!(cfg.scope, "demo");
        assert_eq!(&cfg.name, name);
        assert_eq!(cfg.restapi.connect_address, format!("{name}:8008"));
        assert_eq!(cfg.postgresql.connect_address, format!("{name}:5432"));
        let group = cfg.citus.as_ref().expect("citus section").group;
        let want = if name.starts_with("coord") {
            0
        } else {
            name[4..5].parse().unwrap()
        };
        assert_eq!(group, want, "{name}'s Citus group");
        for ep in &cfg.etcd.endpoints {
            let host = ep.trim_start_matches("http://").split(':').next().unwrap();
            assert!(
                etcd.contains(host),
                "{name} talks to etcd member {host} of the compose file"
            );
        }
        assert!(
            cfg.restapi.authentication.is_some(),
            "/citus needs the same REST credentials everywhere"
        );
        assert_eq!(
            cfg.citus.as_ref().unwrap().databases(),
            ["citus", "citus2"],
            "{name}: the demo's two Citus databases"
        );
        if name.starts_with("work") {
            assert_eq!(
                cfg.postgresql.proxy_address.as_deref(),
                Some(format!("{name}:6432").as_str()),
                "{name} publishes the PgBouncer beside it"
            );
            let svc = &services[name.as_str()];
            let command: Vec<&str> = svc["command"]
                .as_sequence()
                .map(|c| c.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            assert!(
                command
                    .iter()
                    .any(|c| c.contains("pgbouncer -d /etc/pgbouncer/pgbouncer.ini")
                        && c.contains("exec praetor /etc/praetor/praetor.yml")),
                "{name} starts PgBouncer, then the agent: {command:?}"
            );
            assert!(svc["volumes"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|v| v.as_str() == Some("./config/pgbouncer:/etc/pgbouncer:ro")));
        }
    }
    let ini = std::fs::read_to_string(root().join("config/pgbouncer/pgbouncer.ini")).unwrap();
    assert!(
        ini.contains("listen_port = 6432") && ini.contains("auth_file = /etc/pgbouncer/users.txt")
    );
    let users = std::fs::read_to_string(root().join("config/pgbouncer/users.txt")).unwrap();
    let su = &praetor_services["work1-1"]
        .postgresql
        .authentication
        .superuser;
    assert_eq!(
        users.trim(),
        format!(
            "\"{}\" \"{}\"",
            su.username.as_deref().unwrap(),
            su.password.as_deref().unwrap()
        ),
        "PgBouncer knows the superuser Citus connects as"
    );
    let creds: BTreeSet<String> = praetor_services
        .values()
        .map(|c| {
            format!(
                "{:?}{:?}",
                c.restapi.authentication.as_ref().map(|a| &a.password),
                c.postgresql.authentication.superuser.password
            )
        })
        .collect();
    assert_eq!(
        creds.len(),
        1,
        "superuser and REST credentials are identical on every member"
    );

    // HAProxy: 5000 → the coordinator group's members, 5001 → the workers', checked on /primary.
    let hap = std::fs::read_to_string(root().join("config/haproxy.cfg")).unwrap();
    let mut section = String::new();
    let mut servers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in hap.lines().map(str::trim) {
        if let Some(s) = line.strip_prefix("listen ") {
            section = s.to_string();
        } else if let Some(rest) = line.strip_prefix("server ") {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            let svc = parts[0];
            let cfg = &praetor_services[svc];
            assert_eq!(
                parts[1], cfg.postgresql.connect_address,
                "haproxy server {svc}"
            );
            assert!(rest.ends_with(&format!(
                "check port {}",
                cfg.restapi.connect_address.rsplit(':').next().unwrap()
            )));
            servers
                .entry(section.clone())
                .or_default()
                .insert(svc.to_string());
        }
    }
    let coords: BTreeSet<String> = praetor_services
        .keys()
        .filter(|n| n.starts_with("coord"))
        .cloned()
        .collect();
    let workers: BTreeSet<String> = praetor_services
        .keys()
        .filter(|n| n.starts_with("work"))
        .cloned()
        .collect();
    assert_eq!(servers["coordinator"], coords);
    assert_eq!(servers["workers"], workers);
    assert!(
        hap.contains("bind *:5000")
            && hap.contains("bind *:5001")
            && hap.contains("OPTIONS /primary")
    );
    let ports = services["haproxy"]["ports"].as_sequence().unwrap();
    assert!(
        ports.iter().any(|p| p.as_str() == Some("5000:5000"))
            && ports.iter().any(|p| p.as_str() == Some("5001:5001"))
    );

    // The Dockerfile builds praetor and installs (never builds) Citus, etcd and HAProxy.
    let df = std::fs::read_to_string(root().join("Dockerfile.citus")).unwrap();
    assert!(df.contains("cargo build --release"));
    assert!(df.contains("FROM postgres:15"));
    assert!(
        df.contains("postgresql-15-citus")
            && df.contains("etcd-server")
            && df.contains("haproxy")
            && df.contains("pgbouncer")
    );
}
