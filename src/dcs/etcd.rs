//! etcd v3 adapter (etcd-client over gRPC): one lease per agent carrying its leader and member keys,
//! compare-and-set transactions for every leader-key change, and a prefix watch that wakes the HA loop.
//!
//! Mechanics follow Patroni's `patroni/dcs/etcd3.py` (reference §1.2, §1.4): acquire compares
//! `create_revision == 0`, renew and release compare the key's value with our name.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, PutOptions, Txn, TxnOp,
    WatchOptions,
};
use tokio::sync::{Mutex, Notify};

use super::{keys, ClusterView, MemberData};
use crate::config::EtcdConfig;

/// A connection to the etcd cluster scoped to one group prefix.
#[derive(Clone)]
pub struct EtcdDcs {
    /// Replaced by a new login when etcd forgets the auth token (see [`EtcdDcs::with_timeout`]).
    client: Arc<std::sync::RwLock<Client>>,
    /// What [`EtcdDcs::connect`] was given, for logging in again.
    etcd: Arc<EtcdConfig>,
    /// `/<namespace>/<scope>[/<group>]/`.
    pub prefix: String,
    name: String,
    lease: Arc<Mutex<Option<i64>>>,
    /// Per-request deadline.
    timeout: Duration,
    /// The group prefix as the running watch last saw it; `None` while no watch is in sync.
    cache: Arc<std::sync::Mutex<Option<Cache>>>,
}

/// A copy of the group prefix kept current by the watch (as Patroni's etcd3 client keeps one):
/// one range read when the watch starts, then events from the revision after it.
#[derive(Default)]
struct Cache {
    /// Relative key → (value, lease, mod_revision).
    kvs: BTreeMap<String, (Vec<u8>, i64, i64)>,
    /// Store revision of the last event or read applied.
    revision: i64,
    /// When the watch last delivered anything (or the copy was read).
    touched: Option<std::time::Instant>,
}

/// A copy the watch has not refreshed for this long is not trusted (a watch that stalled without
/// an error would otherwise serve an old view for ever); reads then go to etcd, as without it.
const CACHE_TRUST: Duration = Duration::from_secs(60);

/// TLS settings for https endpoints: `cacert` verifies etcd's certificate (host name included),
/// `cert`/`key` are presented for etcd's `--client-cert-auth`.
///
/// # Errors
/// Unreadable files, named by their key.
fn tls_options(cfg: &EtcdConfig) -> Result<Option<etcd_client::TlsOptions>> {
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

/// Marks a watch etcd refused at creation (see `watch_once`).
const WATCH_REFUSED: &str = "permission denied or unknown auth token";

/// Whether an etcd error means the auth token is unknown or expired (etcd's
/// `ErrInvalidAuthToken` / `ErrAuthOldRevision`), so logging in again will help.
fn is_auth_token_error(msg: &str) -> bool {
    msg.contains("invalid auth token") || msg.contains("revision of auth store is old")
}

impl EtcdDcs {
    /// Connects to `cfg.endpoints` (lazily: an unreachable etcd makes later calls fail, not this one).
    ///
    /// # Errors
    /// Invalid endpoint URLs, or etcd auth rejected.
    pub async fn connect(
        cfg: &EtcdConfig,
        prefix: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<EtcdDcs> {
        let client = connect_client(cfg, timeout).await?;
        Ok(EtcdDcs {
            client: Arc::new(std::sync::RwLock::new(client)),
            etcd: Arc::new(cfg.clone()),
            prefix: prefix.to_string(),
            name: name.to_string(),
            lease: Arc::new(Mutex::new(None)),
            timeout,
            cache: Arc::default(),
        })
    }

    fn client(&self) -> Client {
        self.client.read().expect("not poisoned").clone()
    }

    /// Logs in to etcd again with a new connection (etcd's simple auth tokens live only in the
    /// memory of the etcd member that issued them and expire after `--auth-token-ttl` unused; the
    /// client library does not renew them).
    async fn login_again(&self) {
        match connect_client(&self.etcd, self.timeout).await {
            Ok(c) => {
                *self.client.write().expect("not poisoned") = c;
                tracing::info!("etcd: the auth token was no longer valid; logged in again");
            }
            Err(e) => tracing::warn!("etcd: logging in again after an invalid auth token: {e:#}"),
        }
    }
}

/// Opens a client for `cfg` (endpoints, TLS files, user and password) with per-request `timeout`.
///
/// # Errors
/// Invalid endpoints or TLS files, etcd unreachable within the timeout, or the login refused.
async fn connect_client(cfg: &EtcdConfig, timeout: Duration) -> Result<Client> {
    {
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
            Client::connect(&cfg.endpoints, Some(opts)),
        )
        .await
        .map_err(|_| {
            anyhow!(
                "connecting to etcd at {}: timed out",
                cfg.endpoints.join(",")
            )
        })?
        .with_context(|| format!("connecting to etcd at {}", cfg.endpoints.join(",")))?;
        Ok(client)
    }
}

impl EtcdDcs {
    fn key(&self, k: &str) -> String {
        format!("{}{}", self.prefix, k)
    }

    async fn with_timeout<T>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T> {
        let r = match tokio::time::timeout(self.timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(anyhow!("etcd {what}: {e}")),
            Err(_) => Err(anyhow!("etcd {what}: no answer within {:?}", self.timeout)),
        };
        if let Err(e) = &r {
            // etcd may be unreachable: stop trusting the watch-fed copy until the watch restarts.
            *self.cache.lock().expect("not poisoned") = None;
            if self.etcd.username.is_some() && is_auth_token_error(&e.to_string()) {
                self.login_again().await;
            }
        }
        r
    }

    /// Runs a transaction; returns whether its comparison held.
    async fn txn_succeeded(&self, what: &str, txn: Txn) -> Result<bool> {
        let mut c = self.client();
        Ok(self.with_timeout(what, c.txn(txn)).await?.succeeded())
    }

    /// The group prefix: from the watch-fed copy while the watch ([`EtcdDcs::spawn_watch`]) is in
    /// sync (no request), else read from etcd.
    ///
    /// # Errors
    /// etcd unreachable or slower than the request deadline.
    pub async fn load(&self) -> Result<ClusterView> {
        {
            let cache = self.cache.lock().expect("not poisoned");
            if let Some(c) = cache
                .as_ref()
                .filter(|c| c.touched.is_some_and(|t| t.elapsed() < CACHE_TRUST))
            {
                let kvs: Vec<(String, Vec<u8>, i64, i64)> = c
                    .kvs
                    .iter()
                    .map(|(k, (v, lease, rev))| (k.clone(), v.clone(), *lease, *rev))
                    .collect();
                return Ok(ClusterView::decode(&kvs, c.revision));
            }
        }
        self.load_fresh().await
    }

    /// Reads the group prefix from etcd (one range request), bypassing the watch-fed copy: used
    /// right after our own writes, which the watch may not have delivered yet.
    ///
    /// # Errors
    /// As [`EtcdDcs::load`].
    pub async fn load_fresh(&self) -> Result<ClusterView> {
        self.load_prefix(&self.prefix).await
    }

    /// Reads an arbitrary prefix and decodes it as one group (used by praetorctl for other groups).
    ///
    /// # Errors
    /// As [`EtcdDcs::load`].
    pub async fn load_prefix(&self, prefix: &str) -> Result<ClusterView> {
        let mut c = self.client();
        let resp = self
            .with_timeout(
                "range read",
                c.get(prefix, Some(GetOptions::new().with_prefix())),
            )
            .await?;
        let revision = resp.header().map(|h| h.revision()).unwrap_or(0);
        let kvs: Vec<(String, Vec<u8>, i64, i64)> = resp
            .kvs()
            .iter()
            .filter_map(|kv| {
                let k = kv.key_str().ok()?;
                let rel = k.strip_prefix(prefix)?;
                Some((
                    rel.to_string(),
                    kv.value().to_vec(),
                    kv.lease(),
                    kv.mod_revision(),
                ))
            })
            .collect();
        Ok(ClusterView::decode(&kvs, revision))
    }

    /// Lists the raw keys under a prefix (praetorctl uses it to find Citus groups).
    ///
    /// # Errors
    /// As [`EtcdDcs::load`].
    pub async fn list_keys(&self, prefix: &str) -> Result<Vec<String>> {
        let mut c = self.client();
        let resp = self
            .with_timeout(
                "range read",
                c.get(
                    prefix,
                    Some(GetOptions::new().with_prefix().with_keys_only()),
                ),
            )
            .await?;
        Ok(resp
            .kvs()
            .iter()
            .filter_map(|kv| kv.key_str().ok().map(String::from))
            .collect())
    }

    /// The current lease, granting one of `ttl` seconds when there is none.
    ///
    /// # Errors
    /// etcd unreachable.
    pub async fn ensure_lease(&self, ttl: u64) -> Result<i64> {
        let mut guard = self.lease.lock().await;
        if let Some(id) = *guard {
            return Ok(id);
        }
        let mut c = self.client();
        let resp = self
            .with_timeout("lease grant", c.lease_grant(ttl as i64, None))
            .await?;
        *guard = Some(resp.id());
        Ok(resp.id())
    }

    /// Renews the lease once. Returns `Ok(false)` when etcd says the lease no longer exists (it is
    /// then forgotten, and the next [`EtcdDcs::ensure_lease`] grants a new one).
    ///
    /// # Errors
    /// etcd unreachable or slower than the request deadline.
    pub async fn keepalive(&self, ttl: u64) -> Result<bool> {
        let id = self.ensure_lease(ttl).await?;
        let mut c = self.client();
        // Opening the keep-alive stream sends one renewal and waits for its answer (etcd-client
        // reports a lease etcd no longer knows as "lease not found"): one round trip.
        let fut = async move { c.lease_keep_alive(id).await.map(|_| ()) };
        match self.with_timeout("lease keepalive", fut).await {
            Ok(()) => Ok(true),
            // etcd says the lease expired (e.g. the agent was paused past its ttl): forget it so the
            // next call grants a new one and the keys are written again.
            Err(e) if e.to_string().contains("lease not found") => {
                *self.lease.lock().await = None;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Drops the lease so the next call grants a new one (after a ttl change).
    pub async fn forget_lease(&self) {
        *self.lease.lock().await = None;
    }

    /// Revokes the lease at once (graceful shutdown): the member key and, if held, the leader key vanish.
    ///
    /// # Errors
    /// etcd unreachable.
    pub async fn revoke_lease(&self) -> Result<()> {
        let id = self.lease.lock().await.take();
        if let Some(id) = id {
            let mut c = self.client();
            self.with_timeout("lease revoke", c.lease_revoke(id))
                .await?;
        }
        Ok(())
    }

    /// Writes our member key bound to our lease.
    ///
    /// # Errors
    /// etcd unreachable.
    pub async fn touch_member(&self, data: &MemberData, ttl: u64) -> Result<()> {
        let lease = self.ensure_lease(ttl).await?;
        let value = serde_json::to_string(data)?;
        let mut c = self.client();
        let key = self.key(&format!("{}{}", keys::MEMBERS, self.name));
        let r = self
            .with_timeout(
                "put member key",
                c.put(
                    key.clone(),
                    value.clone(),
                    Some(PutOptions::new().with_lease(lease)),
                ),
            )
            .await;
        if let Err(e) = r {
            if e.to_string().contains("lease not found") {
                self.forget_lease().await;
                let lease = self.ensure_lease(ttl).await?;
                self.with_timeout(
                    "put member key",
                    c.put(key, value, Some(PutOptions::new().with_lease(lease))),
                )
                .await?;
                return Ok(());
            }
            return Err(e);
        }
        Ok(())
    }

    /// Takes the leader key if nobody holds it (`create_revision == 0`). Returns whether we got it.
    ///
    /// # Errors
    /// etcd unreachable.
    pub async fn acquire_leader(&self, ttl: u64) -> Result<bool> {
        // The keepalive goes out together with the transaction, not before it (one round trip
        // less at the moment that matters). Both leave after the caller's t0, so the lease
        // still lasts at least ttl from t0 — provided the keepalive succeeded, hence the `?`.
        // A put bound to an expired lease fails with "lease not found": grant a new one.
        let lease = self.ensure_lease(ttl).await?;
        let (alive, taken) = tokio::join!(self.keepalive(ttl), self.try_acquire(lease));
        match taken {
            Err(e) if e.to_string().contains("lease not found") => {
                self.forget_lease().await;
                let lease = self.ensure_lease(ttl).await?;
                self.try_acquire(lease).await
            }
            Ok(true) if !alive? => Err(anyhow!(
                "the leader key was taken but etcd says our lease {lease} is gone"
            )),
            r => r,
        }
    }

    async fn try_acquire(&self, lease: i64) -> Result<bool> {
        let key = self.key(keys::LEADER);
        let txn = Txn::new()
            .when(vec![Compare::create_revision(
                key.clone(),
                CompareOp::Equal,
                0,
            )])
            .and_then(vec![TxnOp::put(
                key,
                self.name.clone(),
                Some(PutOptions::new().with_lease(lease)),
            )]);
        self.txn_succeeded("take leader key", txn).await
    }

    /// Renews our hold on the leader key: lease keepalive, and when the key is bound to another
    /// lease of ours (re-granted) or missing its lease, re-put it guarded by `value == our name`.
    /// Returns `Ok(false)` when we no longer hold the key.
    ///
    /// # Errors
    /// etcd unreachable or slower than the deadline: the caller must treat it as "not renewed".
    pub async fn update_leader(&self, ttl: u64, current_leader_lease: Option<i64>) -> Result<bool> {
        let alive = self.keepalive(ttl).await?;
        let lease = self.ensure_lease(ttl).await?;
        if alive && current_leader_lease == Some(lease) {
            return Ok(true);
        }
        let key = self.key(keys::LEADER);
        let txn = Txn::new()
            .when(vec![Compare::value(
                key.clone(),
                CompareOp::Equal,
                self.name.clone(),
            )])
            .and_then(vec![TxnOp::put(
                key,
                self.name.clone(),
                Some(PutOptions::new().with_lease(lease)),
            )]);
        self.txn_succeeded("renew leader key", txn).await
    }

    /// Deletes the leader key if it still holds our name. Returns whether it was deleted.
    ///
    /// With `optime` (an LSN, bytes: the primary's shutdown checkpoint), the same transaction
    /// writes `/status` as `{"optime": <lsn>}`, as Patroni does when its leader shuts down, so the
    /// standbys racing for the key compare their position with the primary's last one.
    ///
    /// # Errors
    /// etcd unreachable.
    pub async fn release_leader(&self, optime: Option<u64>) -> Result<bool> {
        let key = self.key(keys::LEADER);
        let mut ops = vec![TxnOp::delete(key.clone(), None)];
        if let Some(lsn) = optime {
            ops.push(TxnOp::put(
                self.key(keys::STATUS),
                serde_json::json!({ "optime": lsn }).to_string(),
                None,
            ));
        }
        let txn = Txn::new()
            .when(vec![Compare::value(
                key,
                CompareOp::Equal,
                self.name.clone(),
            )])
            .and_then(ops);
        self.txn_succeeded("release leader key", txn).await
    }

    /// Takes the leader key right after our own bootstrap. Like every leader-key change it is a
    /// transaction: it succeeds only if the key does not exist (`create_revision == 0`) or already
    /// holds our name.
    ///
    /// # Errors
    /// etcd unreachable, or another member holds the key.
    pub async fn take_leader(&self, ttl: u64) -> Result<()> {
        let lease = self.ensure_lease(ttl).await?;
        let key = self.key(keys::LEADER);
        let put = || {
            TxnOp::put(
                key.clone(),
                self.name.clone(),
                Some(PutOptions::new().with_lease(lease)),
            )
        };
        let txn = Txn::new()
            .when(vec![Compare::create_revision(
                key.clone(),
                CompareOp::Equal,
                0,
            )])
            .and_then(vec![put()])
            .or_else(vec![TxnOp::txn(
                Txn::new()
                    .when(vec![Compare::value(
                        key.clone(),
                        CompareOp::Equal,
                        self.name.clone(),
                    )])
                    .and_then(vec![put()]),
            )]);
        let mut c = self.client();
        let r = self.with_timeout("take leader key", c.txn(txn)).await?;
        if r.succeeded() {
            return Ok(());
        }
        let nested_ok = r.op_responses().into_iter().any(|op| match op {
            etcd_client::TxnOpResponse::Txn(t) => t.succeeded(),
            _ => false,
        });
        if nested_ok {
            Ok(())
        } else {
            bail!("the leader key is held by another member")
        }
    }

    /// Races for `initialize` with a create-only put of `value`. Returns whether we won.
    ///
    /// # Errors
    /// etcd unreachable.
    pub async fn initialize_race(&self, value: &str) -> Result<bool> {
        let key = self.key(keys::INITIALIZE);
        let txn = Txn::new()
            .when(vec![Compare::create_revision(
                key.clone(),
                CompareOp::Equal,
                0,
            )])
            .and_then(vec![TxnOp::put(key, value, None)]);
        self.txn_succeeded("race for initialize", txn).await
    }

    /// Plain put of a key relative to the prefix.
    ///
    /// # Errors
    /// etcd unreachable.
    pub async fn put(&self, key: &str, value: &str) -> Result<()> {
        self.put_absolute(&self.key(key), value).await
    }

    /// Plain put of a full key path (praetorctl acts on other groups' prefixes).
    ///
    /// # Errors
    /// etcd unreachable.
    pub async fn put_absolute(&self, key: &str, value: &str) -> Result<()> {
        let mut c = self.client();
        self.with_timeout(&format!("put {key}"), c.put(key, value, None))
            .await?;
        Ok(())
    }

    /// Put guarded by `mod_revision == revision` (0 = must not exist). Returns whether it was written.
    ///
    /// # Errors
    /// etcd unreachable.
    pub async fn put_if_revision(&self, key: &str, value: &str, revision: i64) -> Result<bool> {
        self.put_absolute_if_revision(&self.key(key), value, revision)
            .await
    }

    /// [`EtcdDcs::put_if_revision`] on a full key path.
    ///
    /// # Errors
    /// etcd unreachable.
    pub async fn put_absolute_if_revision(
        &self,
        key: &str,
        value: &str,
        revision: i64,
    ) -> Result<bool> {
        let txn = Txn::new()
            .when(vec![Compare::mod_revision(key, CompareOp::Equal, revision)])
            .and_then(vec![TxnOp::put(key, value, None)]);
        self.txn_succeeded(&format!("compare-and-set {key}"), txn)
            .await
    }

    /// Deletes a key relative to the prefix.
    ///
    /// # Errors
    /// etcd unreachable.
    pub async fn delete(&self, key: &str) -> Result<()> {
        self.delete_absolute(&self.key(key)).await
    }

    /// Deletes a full key path.
    ///
    /// # Errors
    /// etcd unreachable.
    pub async fn delete_absolute(&self, key: &str) -> Result<()> {
        let mut c = self.client();
        self.with_timeout(&format!("delete {key}"), c.delete(key, None))
            .await?;
        Ok(())
    }

    /// Starts a background task that watches the prefix and calls `wake.notify_one()` on events the
    /// HA loop must react to at once: any change of `leader`, `failover`, `config` or `initialize`,
    /// and other members' keys appearing, disappearing or changing role or state.
    pub fn spawn_watch(&self, wake: Arc<Notify>) -> tokio::task::JoinHandle<()> {
        self.spawn_watch_on(self.prefix.clone(), false, wake)
    }

    /// Like [`EtcdDcs::spawn_watch`] on another prefix; with `groups`, keys below the prefix start
    /// with a Citus group number (`1/leader`), as when the coordinator watches the whole scope.
    pub fn spawn_watch_on(
        &self,
        prefix: String,
        groups: bool,
        wake: Arc<Notify>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = me.watch_once(&prefix, groups, &wake).await {
                    tracing::debug!("etcd watch on {prefix} ended: {e:#}; reconnecting");
                    let msg = format!("{e:#}");
                    if me.etcd.username.is_some()
                        && (is_auth_token_error(&msg) || msg.contains(WATCH_REFUSED))
                    {
                        me.login_again().await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    }

    /// Reads a whole Citus scope (`/<namespace>/<scope>/`) and splits it by group.
    ///
    /// # Errors
    /// etcd unreachable.
    pub async fn load_groups(&self, scope_prefix: &str) -> Result<BTreeMap<u32, ClusterView>> {
        let mut c = self.client();
        let resp = self
            .with_timeout(
                "range read",
                c.get(scope_prefix, Some(GetOptions::new().with_prefix())),
            )
            .await?;
        let revision = resp.header().map(|h| h.revision()).unwrap_or(0);
        let mut by_group: BTreeMap<u32, Vec<(String, Vec<u8>, i64, i64)>> = BTreeMap::new();
        for kv in resp.kvs() {
            let Ok(k) = kv.key_str() else { continue };
            let Some(rel) = k.strip_prefix(scope_prefix) else {
                continue;
            };
            let Some((g, rest)) = rel.split_once('/') else {
                continue;
            };
            let Ok(g) = g.parse::<u32>() else { continue };
            by_group.entry(g).or_default().push((
                rest.to_string(),
                kv.value().to_vec(),
                kv.lease(),
                kv.mod_revision(),
            ));
        }
        Ok(by_group
            .into_iter()
            .map(|(g, kvs)| (g, ClusterView::decode(&kvs, revision)))
            .collect())
    }

    async fn watch_once(&self, prefix: &str, groups: bool, wake: &Notify) -> Result<()> {
        // Our own group prefix also feeds the cache: read it, then watch from the next revision.
        let caching = !groups && prefix == self.prefix;
        let mut opts = WatchOptions::new().with_prefix().with_prev_key();
        let mut seed = None;
        if caching {
            let mut c = self.client();
            let resp = self
                .with_timeout(
                    "range read",
                    c.get(prefix, Some(GetOptions::new().with_prefix())),
                )
                .await?;
            let revision = resp.header().map(|h| h.revision()).unwrap_or(0);
            let mut cache = Cache {
                revision,
                touched: Some(std::time::Instant::now()),
                ..Default::default()
            };
            for kv in resp.kvs() {
                if let Some(rel) = kv.key_str().ok().and_then(|k| k.strip_prefix(prefix)) {
                    cache.kvs.insert(
                        rel.to_string(),
                        (kv.value().to_vec(), kv.lease(), kv.mod_revision()),
                    );
                }
            }
            opts = opts.with_start_revision(revision + 1);
            seed = Some(cache);
        }
        let mut c = self.client();
        let (watcher, mut stream) = c.watch(prefix, Some(opts)).await?;
        if watcher.watch_id() < 0 {
            // etcd answers a watch it refuses (permission denied, which is also what an auth
            // token it no longer knows yields) with a created-and-canceled response and no id;
            // the stream then stays silent, so it must not feed the cache.
            bail!("watch refused by etcd: {WATCH_REFUSED}");
        }
        // Invalidates the cache however this function returns.
        struct Invalidate<'a>(&'a std::sync::Mutex<Option<Cache>>, bool);
        impl Drop for Invalidate<'_> {
            fn drop(&mut self) {
                if self.1 {
                    *self.0.lock().expect("not poisoned") = None;
                }
            }
        }
        let _invalidate = Invalidate(&self.cache, caching);
        if let Some(seed) = seed {
            *self.cache.lock().expect("not poisoned") = Some(seed);
        }
        let own_member = self.key(&format!("{}{}", keys::MEMBERS, self.name));
        while let Some(resp) = stream.message().await? {
            if resp.canceled() {
                bail!("watch canceled: {}", resp.cancel_reason());
            }
            if caching {
                let mut guard = self.cache.lock().expect("not poisoned");
                if guard.is_none() {
                    bail!("a request failed meanwhile: reading the prefix again");
                }
                if let Some(cache) = guard.as_mut() {
                    cache.touched = Some(std::time::Instant::now());
                    for ev in resp.events() {
                        let Some(kv) = ev.kv() else { continue };
                        let Some(rel) = kv.key_str().ok().and_then(|k| k.strip_prefix(prefix))
                        else {
                            continue;
                        };
                        match ev.event_type() {
                            EventType::Put => {
                                cache.kvs.insert(
                                    rel.to_string(),
                                    (kv.value().to_vec(), kv.lease(), kv.mod_revision()),
                                );
                            }
                            EventType::Delete => {
                                cache.kvs.remove(rel);
                            }
                        }
                        cache.revision = cache.revision.max(kv.mod_revision());
                    }
                    if let Some(h) = resp.header() {
                        cache.revision = cache.revision.max(h.revision());
                    }
                }
            }
            let mut wake_up = false;
            for ev in resp.events() {
                let Some(kv) = ev.kv() else { continue };
                let Ok(key) = kv.key_str() else { continue };
                let Some(mut rel) = key.strip_prefix(prefix) else {
                    continue;
                };
                if groups {
                    match rel.split_once('/') {
                        Some((g, rest)) if g.parse::<u32>().is_ok() => rel = rest,
                        _ => continue,
                    }
                }
                wake_up |= match rel {
                    keys::LEADER | keys::CONFIG | keys::INITIALIZE => true,
                    keys::FAILOVER => {
                        ev.event_type() == EventType::Put
                            && !kv.value().is_empty()
                            && kv.value() != b"{}"
                    }
                    _ if rel.starts_with(keys::MEMBERS) && key != own_member => {
                        match (ev.event_type(), ev.prev_kv()) {
                            (EventType::Delete, _) | (_, None) => true,
                            (EventType::Put, Some(prev)) => {
                                member_changed(prev.value(), kv.value())
                            }
                        }
                    }
                    _ => false,
                };
            }
            if wake_up {
                wake.notify_one();
            }
        }
        Ok(())
    }
}

/// Whether a member key update changed something the HA loop reacts to (role, state, timeline).
fn member_changed(prev: &[u8], cur: &[u8]) -> bool {
    let p: Option<MemberData> = serde_json::from_slice(prev).ok();
    let c: Option<MemberData> = serde_json::from_slice(cur).ok();
    match (p, c) {
        (Some(p), Some(c)) => p.role != c.role || p.state != c.state || p.timeline != c.timeline,
        _ => true,
    }
}
