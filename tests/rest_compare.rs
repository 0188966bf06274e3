//! Endpoint by endpoint, field by field: a praetor group and a group run by the real Patroni
//! 4.1.5 (from PyPI), each a leader and one streaming replica with the same configuration, are
//! asked the same REST requests (every health check with its query parameters and methods, the
//! information endpoints). For each request and role the status code must be equal, and every
//! field of Patroni's JSON answer must be in praetor's with the same JSON type (nested objects
//! and the first element of arrays too; Patroni's `null` matches anything). What differs on
//! purpose is listed once, in [`DIFFERENCES`], with the reason; a difference not listed fails,
//! and so does a listed one that no longer occurs.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

/// Requests asked of both groups: (method, path with query).
const REQUESTS: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/primary"),
    ("GET", "/leader"),
    ("GET", "/master"),
    ("GET", "/read-write"),
    ("GET", "/standby-leader"),
    ("GET", "/standby_leader"),
    ("GET", "/replica"),
    ("GET", "/replica?lag=1MB"),
    ("GET", "/replica?lag=0"),
    ("GET", "/replica?replication_state=streaming"),
    ("GET", "/replica?tag_zone=a"),
    ("GET", "/read-only"),
    ("GET", "/read-only?lag=1MB"),
    ("GET", "/sync"),
    ("GET", "/synchronous"),
    ("GET", "/async"),
    ("GET", "/asynchronous"),
    ("GET", "/async?lag=1MB"),
    ("GET", "/read-only-sync"),
    ("GET", "/read-only-synchronous"),
    ("GET", "/quorum"),
    ("GET", "/read-only-quorum"),
    ("GET", "/health"),
    ("GET", "/liveness"),
    ("GET", "/readiness"),
    ("GET", "/readiness?lag=1MB"),
    ("GET", "/replica-zone-a"),
    ("GET", "/no-such-endpoint"),
    ("GET", "/patroni"),
    ("GET", "/cluster"),
    ("GET", "/history"),
    ("GET", "/config"),
    ("GET", "/metrics"),
    ("OPTIONS", "/primary"),
    ("OPTIONS", "/replica"),
    ("HEAD", "/primary"),
    ("HEAD", "/replica"),
];

/// Differences kept on purpose: (role, request, what differs as this test words it, why).
const DIFFERENCES: &[(&str, &str, &str, &str)] = &[];

/// Status and body of one request.
async fn ask(http: &reqwest::Client, port: u16, method: &str, path: &str) -> (u16, String) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let r = http
        .request(m, format!("http://127.0.0.1:{port}{path}"))
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    (code, r.text().await.unwrap_or_default())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Where `praetor`'s answer lacks a field of `patroni`'s or has it with another type.
fn shape(patroni: &Value, praetor: &Value, at: &str, out: &mut Vec<String>, checked: &mut usize) {
    *checked += 1;
    match (patroni, praetor) {
        (Value::Null, _) => {}
        (Value::Object(p), Value::Object(q)) => {
            for (k, v) in p {
                let here = format!("{at}.{k}");
                match q.get(k) {
                    Some(w) => shape(v, w, &here, out, checked),
                    None => out.push(format!("{here} missing")),
                }
            }
        }
        (Value::Array(p), Value::Array(q)) => match (p.first(), q.first()) {
            (Some(a), Some(b)) => shape(a, b, &format!("{at}[0]"), out, checked),
            (Some(_), None) => out.push(format!("{at} empty")),
            _ => {}
        },
        (p, q) if kind(p) != kind(q) => {
            out.push(format!("{at} is {} (Patroni: {})", kind(q), kind(p)))
        }
        _ => {}
    }
}

/// `/cluster`'s members put in role order (leader first), so the two groups' answers line up.
fn by_role(v: &mut Value) {
    if let Some(ms) = v.get_mut("members").and_then(Value::as_array_mut) {
        ms.sort_by_key(|m| m["role"] != "leader");
    }
}

async fn group(
    scope: &str,
    names: [&str; 2],
    program: Option<std::path::PathBuf>,
) -> (praetor_testbed::Testbed, String, String) {
    let mut tb = common::testbed(scope);
    tb.timing = praetor_testbed::Timing {
        ttl: 20,
        loop_wait: 2,
        retry_timeout: 5,
    };
    tb.agent_program = program;
    tb.start_etcd().await.unwrap();
    for m in names {
        tb.add_agent(m).unwrap();
    }
    let leader = common::healthy(&tb, 1, Duration::from_secs(120)).await;
    let replica = names.iter().find(|n| **n != leader).unwrap().to_string();
    (tb, leader, replica)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_as_patroni_does() {
    let bin = common::patroni_venv();
    let (patroni, p_leader, p_replica) =
        group("cmppatroni", ["p1", "p2"], Some(bin.join("patroni"))).await;
    let (praetor, q_leader, q_replica) = group("cmppraetor", ["m1", "m2"], None).await;
    // Both replicas have replayed everything and report streaming.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let http = reqwest::Client::new();
    let mut found: BTreeSet<(String, String, String)> = BTreeSet::new();
    // Fields of Patroni's answers looked at: the comparison must not pass by comparing nothing.
    let mut checked = 0usize;
    for (role, p_name, q_name) in [
        ("leader", &p_leader, &q_leader),
        ("replica", &p_replica, &q_replica),
    ] {
        let p_port = patroni.agents[p_name].rest_port;
        let q_port = praetor.agents[q_name].rest_port;
        for (method, path) in REQUESTS {
            let req = format!("{method} {path}");
            let (pc, pb) = ask(&http, p_port, method, path).await;
            let (qc, qb) = ask(&http, q_port, method, path).await;
            if pc != qc {
                found.insert((
                    role.into(),
                    req.clone(),
                    format!("status {qc} (Patroni: {pc})"),
                ));
            }
            if *method != "GET" || *path == "/metrics" {
                continue;
            }
            let (Ok(mut pj), Ok(mut qj)) = (
                serde_json::from_str::<Value>(&pb),
                serde_json::from_str::<Value>(&qb),
            ) else {
                if serde_json::from_str::<Value>(&pb).is_ok() {
                    found.insert((role.into(), req.clone(), "not JSON".into()));
                }
                continue;
            };
            by_role(&mut pj);
            by_role(&mut qj);
            let mut out = Vec::new();
            shape(&pj, &qj, "", &mut out, &mut checked);
            for d in out {
                found.insert((role.into(), req.clone(), d));
            }
        }
        // The page Patroni serves and praetor's: the same series.
        let series = |page: &str| -> BTreeSet<String> {
            page.lines()
                .filter(|l| l.starts_with("# TYPE "))
                .map(String::from)
                .collect()
        };
        let (_, pm) = ask(&http, p_port, "GET", "/metrics").await;
        let (_, qm) = ask(&http, q_port, "GET", "/metrics").await;
        for missing in series(&pm).difference(&series(&qm)) {
            found.insert((
                role.into(),
                "GET /metrics".into(),
                format!("{missing} missing"),
            ));
        }
    }
    println!("{checked} fields of Patroni's answers compared");
    assert!(checked > 300, "only {checked} fields compared");
    let listed: BTreeSet<(String, String, String)> = DIFFERENCES
        .iter()
        .map(|(r, q, d, _)| (r.to_string(), q.to_string(), d.to_string()))
        .collect();
    let unlisted: Vec<_> = found.difference(&listed).collect();
    let gone: Vec<_> = listed.difference(&found).collect();
    assert!(
        unlisted.is_empty() && gone.is_empty(),
        "differences from Patroni not listed in DIFFERENCES:\n{}\nlisted but no longer found:\n{}",
        unlisted
            .iter()
            .map(|(r, q, d)| format!("    (\"{r}\", \"{q}\", \"{d}\", \"\"),"))
            .collect::<Vec<_>>()
            .join("\n"),
        gone.iter()
            .map(|(r, q, d)| format!("    {r} {q}: {d}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
}
