//! Patroni's control endpoints against a real three-member group: switchover (no split brain, the
//! old leader follows), failover, scheduled switchover and its cancellation, the 400/401/412 cases,
//! restart, reinitialize, pause through PATCH /config, and /metrics.

mod common;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Api {
    http: reqwest::Client,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        port: u16,
        path: &str,
        body: Option<Value>,
        auth: bool,
    ) -> (u16, String) {
        let mut r = self
            .http
            .request(method, format!("http://127.0.0.1:{port}{path}"));
        if auth {
            r = r.basic_auth("admin", Some("admin-secret"));
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let code = resp.status().as_u16();
        (code, resp.text().await.unwrap())
    }
    async fn post(&self, port: u16, path: &str, body: Value) -> (u16, String) {
        self.call(reqwest::Method::POST, port, path, Some(body), true)
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_endpoints_behave_like_patroni() {
    let mut tb = common::testbed("control");
    tb.rest_auth = Some(("admin".into(), "admin-secret".into()));
    tb.tags.insert("m3".into(), "{nofailover: true}".into());
    tb.start_etcd().await.unwrap();
    for m in ["m1", "m2", "m3"] {
        tb.add_agent(m).unwrap();
    }
    let leader = tb.wait_healthy(2, Duration::from_secs(120)).await.unwrap();
    let port = |n: &str| tb.agents[n].rest_port;
    let api = Api {
        http: reqwest::Client::new(),
    };
    let other = ["m1", "m2"]
        .into_iter()
        .find(|m| *m != leader)
        .unwrap()
        .to_string();
    let lp = port(&leader);

    // Auth and bad requests.
    let (code, _) = api
        .call(
            reqwest::Method::POST,
            lp,
            "/switchover",
            Some(json!({"leader": leader})),
            false,
        )
        .await;
    assert_eq!(code, 401);
    assert_eq!(
        api.call(reqwest::Method::POST, lp, "/switchover", None, true)
            .await
            .0,
        400
    );
    let (code, body) = api
        .post(lp, "/switchover", json!({"candidate": other}))
        .await;
    assert_eq!(
        (code, body.as_str()),
        (
            400,
            "Switchover could be performed only from a specific leader"
        )
    );
    assert_eq!(
        api.post(
            lp,
            "/switchover",
            json!({"leader": leader, "candidate": leader})
        )
        .await
        .0,
        400
    );
    let bad = api
        .http
        .post(format!("http://127.0.0.1:{lp}/switchover"))
        .basic_auth("admin", Some("admin-secret"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let (code, body) = api
        .post(
            lp,
            "/switchover",
            json!({"leader": leader, "candidate": "ghost"}),
        )
        .await;
    assert_eq!(code, 412, "{body}");
    assert!(body.contains("not a member"), "{body}");
    let (code, body) = api
        .post(
            lp,
            "/switchover",
            json!({"leader": leader, "candidate": "m3"}),
        )
        .await;
    assert_eq!(code, 412, "{body}");
    assert!(body.contains("nofailover"), "{body}");
    let (code, body) = api
        .post(
            lp,
            "/switchover",
            json!({"leader": other, "candidate": leader}),
        )
        .await;
    assert_eq!(code, 412, "{body}");
    let (code, body) = api
        .post(
            lp,
            "/switchover",
            json!({"leader": leader, "scheduled_at": "2030-01-01T00:00:00"}),
        )
        .await;
    assert_eq!(
        (code, body.as_str()),
        (
            400,
            "Timezone information is mandatory for the scheduled switchover"
        )
    );
    let (code, _) = api
        .post(
            lp,
            "/switchover",
            json!({"leader": leader, "scheduled_at": "2001-01-01T00:00:00+00:00"}),
        )
        .await;
    assert_eq!(code, 422);

    // Scheduled switchover: accepted, visible in /cluster, cancelled.
    let (code, body) = api.post(lp, "/switchover", json!({"leader": leader, "candidate": other, "scheduled_at": "2099-01-01T00:00:00+00:00"})).await;
    assert_eq!((code, body.as_str()), (202, "Switchover scheduled"));
    let cl: Value = api
        .http
        .get(format!("http://127.0.0.1:{lp}/cluster"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cl["scheduled_switchover"]["to"], other.as_str());
    assert_eq!(
        api.call(reqwest::Method::DELETE, lp, "/switchover", None, true)
            .await
            .0,
        200
    );
    assert_eq!(
        api.call(reqwest::Method::DELETE, lp, "/switchover", None, true)
            .await
            .0,
        404
    );

    // A planned switchover under a writer: no two writable members, the candidate leads.
    let mut prober = common::start_probing(&tb, &leader).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t0 = Instant::now();
    let (code, body) = api
        .post(
            lp,
            "/switchover",
            json!({"leader": leader, "candidate": other}),
        )
        .await;
    println!("switchover answered in {:?}: {code} {body}", t0.elapsed());
    assert_eq!(
        (code, body.clone()),
        (200, format!("Successfully switched over to \"{other}\""))
    );
    tb.wait_healthy(2, Duration::from_secs(60)).await.unwrap();
    let v = tb.view().await.unwrap();
    assert_eq!(v.leader.as_ref().unwrap().name, other);
    assert_eq!(
        v.member(&leader).unwrap().data.replication_state.as_deref(),
        Some("streaming")
    );
    prober.stop().await;
    assert!(
        prober.split_brain_rounds().is_empty(),
        "two writable members: {:?}",
        prober.split_brain_rounds()
    );
    assert_eq!(prober.dual_primary_moments(), 0, "two writable primaries");
    let missing = prober.missing_on(&tb, &other).await;
    assert!(
        missing.is_empty(),
        "acknowledged rows lost by the switchover: {missing:?}"
    );
    let acked: usize = prober.acked.lock().unwrap().values().map(Vec::len).sum();
    assert!(acked > 0);
    let rounds = prober.rounds.lock().unwrap().clone();
    let writes: Vec<Instant> = rounds
        .iter()
        .filter(|r| !r.writable.is_empty())
        .map(|r| r.at)
        .collect();
    let gap = writes
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    println!("longest gap between acknowledged writes during the switchover: {gap:?}");

    // Failover back to the old leader.
    let op = port(&other);
    let (code, body) = api
        .post(op, "/failover", json!({"candidate": leader}))
        .await;
    assert_eq!(
        (code, body.clone()),
        (200, format!("Successfully failed over to \"{leader}\""))
    );
    tb.wait_healthy(2, Duration::from_secs(60)).await.unwrap();

    // Restart: role filter, then a real restart of a standby.
    let sp = port(&other);
    let (code, body) = api.post(sp, "/restart", json!({"role": "primary"})).await;
    assert_eq!(
        (code, body.as_str()),
        (503, "restart conditions are not satisfied")
    );
    assert_eq!(
        api.post(sp, "/restart", json!({"role": "nonsense"}))
            .await
            .0,
        400
    );
    assert_eq!(api.post(sp, "/restart", json!({"bogus": 1})).await.0, 400);
    let pid = tb.postmaster_pid(&other).unwrap();
    let (code, body) = api.post(sp, "/restart", json!({})).await;
    assert_eq!((code, body.as_str()), (200, "restarted successfully"));
    assert_ne!(tb.postmaster_pid(&other), Some(pid));
    let (code, _) = api
        .post(
            sp,
            "/restart",
            json!({"schedule": "2099-01-01T00:00:00+00:00"}),
        )
        .await;
    assert_eq!(code, 202);
    assert_eq!(
        api.post(
            sp,
            "/restart",
            json!({"schedule": "2099-01-01T00:00:00+00:00"})
        )
        .await
        .0,
        409
    );
    assert_eq!(
        api.call(reqwest::Method::DELETE, sp, "/restart", None, true)
            .await
            .0,
        200
    );
    assert_eq!(
        api.call(reqwest::Method::DELETE, sp, "/restart", None, true)
            .await
            .0,
        404
    );

    // Reinitialize: refused on the leader, done on a standby.
    let (code, body) = api.post(port(&leader), "/reinitialize", json!({})).await;
    assert_eq!(
        (code, body.as_str()),
        (503, "I am the leader, can not reinitialize")
    );
    // Answered as soon as it has started (Patroni), not after the base backup.
    let standby = other.clone();
    let started_at = |c: tokio_postgres::Client| async move {
        c.query_one("SELECT pg_postmaster_start_time()::text", &[])
            .await
            .ok()
            .map(|r| r.get::<_, String>(0))
    };
    let before = started_at(tb.pg(&standby).await.unwrap()).await;
    let t0 = Instant::now();
    let (code, body) = api.post(sp, "/reinitialize", json!({"force": "on"})).await;
    assert_eq!((code, body.as_str()), (200, "reinitialize started"));
    println!("reinitialize answered in {:?}", t0.elapsed());
    let rebuilt = common::wait_for(Duration::from_secs(60), || async {
        let c = tb.pg(&standby).await.ok()?;
        let now = started_at(c).await?;
        (Some(&now) != before.as_ref()).then_some(())
    })
    .await;
    assert!(rebuilt.is_some(), "{standby} was not rebuilt");
    tb.wait_healthy(2, Duration::from_secs(60)).await.unwrap();

    // Pause through PATCH /config; invalid config is refused.
    let (code, body) = api
        .call(
            reqwest::Method::PATCH,
            lp,
            "/config",
            Some(json!({"ttl": "soon"})),
            true,
        )
        .await;
    assert_eq!(code, 400, "{body}");
    // A key praetor does not honour is never stored for the members to ignore.
    let (code, body) = api
        .call(
            reqwest::Method::PATCH,
            lp,
            "/config",
            Some(json!({"synchronous_mode": "remote_write"})),
            true,
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("synchronous_mode"), "{body}");
    let (code, body) = api
        .call(
            reqwest::Method::PATCH,
            lp,
            "/config",
            Some(json!({"pause": true})),
            true,
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let paused = common::wait_for(Duration::from_secs(15), || async {
        let p: Value = reqwest::get(format!("http://127.0.0.1:{lp}/patroni"))
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (p["pause"] == true).then_some(())
    })
    .await;
    assert!(paused.is_some());
    let (code, cfg) = api
        .call(
            reqwest::Method::PATCH,
            lp,
            "/config",
            Some(json!({"pause": null})),
            true,
        )
        .await;
    assert_eq!(code, 200);
    assert!(!cfg.contains("pause"), "{cfg}");
    assert_eq!(api.post(lp, "/reload", json!({})).await.0, 202);

    // Metrics.
    let m = reqwest::get(format!("http://127.0.0.1:{lp}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains(&format!(
            "patroni_primary{{scope=\"control\",name=\"{leader}\"}} 1"
        )),
        "{m}"
    );
    assert!(m.contains("patroni_postgres_running{"), "{m}");
}
