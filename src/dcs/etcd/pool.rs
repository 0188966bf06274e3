//! One client per etcd member, and which member requests go to ([`super::super::endpoints`]
//! decides); the TLS and login settings of each connection.

use super::*;

/// The etcd members this agent talks to, with one client (one gRPC connection) per member it
/// has used. Requests go to the current member; one it cannot serve moves them to another
/// ([`super::endpoints::Endpoints`]) and tells the watches to start again there.
pub(super) struct Pool {
    /// What [`EtcdDcs::connect`] was given (endpoints, TLS, credentials).
    pub(super) etcd: EtcdConfig,
    /// Per-attempt deadline of a connection's requests.
    pub(super) attempt: Duration,
    pub(super) state: std::sync::Mutex<PoolState>,
    /// Bumped whenever the current member changes: running watches end and start again on the
    /// new one (a watch on a member that lost its quorum would otherwise stay silent).
    pub(super) switched: tokio::sync::watch::Sender<u64>,
}

pub(super) struct PoolState {
    pub(super) endpoints: Endpoints,
    /// Connected clients by URL.
    pub(super) clients: BTreeMap<String, Client>,
    /// Whether etcd's member list was read since the current member last changed.
    pub(super) discovered: bool,
}

impl Pool {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current member's URL and its client, connecting first if there is none.
    ///
    /// # Errors
    /// The connection (or, with etcd auth, the login) failed; the member is then marked failed.
    pub(super) async fn client(&self) -> Result<(String, Client)> {
        let url = {
            let st = self.lock();
            let url = st
                .endpoints
                .current()
                .ok_or_else(|| anyhow!("no etcd endpoint configured"))?
                .to_string();
            if let Some(c) = st.clients.get(&url) {
                return Ok((url, c.clone()));
            }
            url
        };
        match connect_client(&self.etcd, std::slice::from_ref(&url), self.attempt).await {
            Ok(c) => {
                self.lock().clients.insert(url.clone(), c.clone());
                Ok((url, c))
            }
            Err(e) => {
                self.failed(&url);
                Err(e)
            }
        }
    }

    /// A request to `url` failed for a reason of that member's: move on to another member.
    pub(super) fn failed(&self, url: &str) {
        let mut st = self.lock();
        let before = st.endpoints.current().map(String::from);
        let was_failed = st.endpoints.is_failed(url);
        st.endpoints.failed(url, Instant::now());
        let after = st.endpoints.current().map(String::from);
        // Its connection is dropped: the next use connects afresh.
        st.clients.remove(url);
        if before != after {
            st.discovered = false;
            drop(st);
            let next = after.as_deref().unwrap_or("none");
            if was_failed {
                // Going round members that all failed (etcd down, or without quorum): said once.
                tracing::debug!("etcd member {url} did not serve a request; trying {next}");
            } else {
                tracing::warn!("etcd member {url} did not serve a request; using {next} now");
            }
            self.switched.send_modify(|g| *g += 1);
        }
    }

    /// A request to `url` was served.
    pub(super) fn succeeded(&self, url: &str) {
        let mut st = self.lock();
        if st.endpoints.is_failed(url) {
            tracing::info!("etcd member {url} answers again");
        }
        let before = st.endpoints.current().map(String::from);
        st.endpoints.succeeded(url);
        let moved = before.as_deref() != st.endpoints.current();
        drop(st);
        if moved {
            // A late answer moved requests back to another member: the watches follow.
            self.switched.send_modify(|g| *g += 1);
        }
    }

    /// Drops the connection to `url` (etcd forgot its auth token: the next use logs in again).
    pub(super) fn forget_client(&self, url: &str) {
        self.lock().clients.remove(url);
    }

    /// Whether etcd's member list should be read now (once after each change of member, unless
    /// `use_proxies`); marks it as read.
    pub(super) fn wants_discovery(&self) -> bool {
        if self.etcd.use_proxies {
            return false;
        }
        let mut st = self.lock();
        !std::mem::replace(&mut st.discovered, true)
    }

    /// Adds the client URLs of etcd's members to the endpoints.
    pub(super) fn add_discovered(&self, urls: Vec<String>) {
        let mut st = self.lock();
        for u in urls {
            if st.endpoints.add(&u) {
                tracing::info!("etcd member {u} found in the cluster's member list");
            }
        }
    }
}

/// TLS settings for https endpoints: `cacert` verifies etcd's certificate (host name included),
/// `cert`/`key` are presented for etcd's `--client-cert-auth`.
///
/// # Errors
/// Unreadable files, named by their key.
pub(super) fn tls_options(cfg: &EtcdConfig) -> Result<Option<etcd_client::TlsOptions>> {
    let Some(ca) = &cfg.cacert else {
        return Ok(None);
    };
    let read = |p: &std::path::Path, key: &str| {
        std::fs::read(p).with_context(|| format!("etcd3.{key}: cannot read {}", p.display()))
    };
    crate::tls::load_certs(ca, "etcd3.cacert")?;
    let mut tls = etcd_client::TlsOptions::new()
        .ca_certificate(etcd_client::Certificate::from_pem(read(ca, "cacert")?));
    if let (Some(cert), Some(key)) = (&cfg.cert, &cfg.key) {
        crate::tls::load_certs(cert, "etcd3.cert")?;
        crate::tls::load_key(key, "etcd3.key")?;
        tls = tls.identity(etcd_client::Identity::from_pem(
            read(cert, "cert")?,
            read(key, "key")?,
        ));
    }
    Ok(Some(tls))
}

/// Opens a client for `endpoints` with `cfg`'s TLS files, user and password, and per-request
/// deadline `timeout`.
///
/// # Errors
/// Invalid endpoints or TLS files, etcd unreachable within the timeout, or the login refused.
pub(super) async fn connect_client(
    cfg: &EtcdConfig,
    endpoints: &[String],
    timeout: Duration,
) -> Result<Client> {
    let mut opts = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(2).min(timeout))
        .with_timeout(timeout)
        // etcd's server drops a connection whose client pings more often than every 5 s
        // while no data flows (--grpc-keepalive-min-time), which would cut the watch.
        .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5));
    if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
        opts = opts.with_user(u.clone(), p.clone());
    }
    if let Some(tls) = tls_options(cfg)? {
        opts = opts.with_tls(tls);
    }
    let client = tokio::time::timeout(
        timeout + Duration::from_secs(1),
        Client::connect(endpoints, Some(opts)),
    )
    .await
    .map_err(|_| anyhow!("connecting to etcd at {}: timed out", endpoints.join(",")))?
    .with_context(|| format!("connecting to etcd at {}", endpoints.join(",")))?;
    Ok(client)
}
