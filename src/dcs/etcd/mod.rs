//! etcd v3 adapter (etcd-client over gRPC): one lease per agent carrying its leader and member keys,
//! compare-and-set transactions for every leader-key change, and a prefix watch that wakes the HA loop.
//!
//! Mechanics follow Patroni's `patroni/dcs/etcd3.py` (reference §1.2, §1.4): acquire compares
//! `create_revision == 0`, renew and release compare the key's value with our name.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, PutOptions, Txn, TxnOp,
    WatchOptions,
};
use tokio::sync::{Mutex, Notify};

use super::endpoints::{attempt_timeout, is_member_fault, outcome_unknown, Endpoints};
use super::{keys, ClusterView, MemberData};
use crate::config::EtcdConfig;

mod pool;
mod watch;
use pool::{Pool, PoolState};

/// Why an etcd request failed, for the callers that branch on it (others just report it).
#[derive(Debug, thiserror::Error)]
#[error("etcd {what}: {detail}")]
pub struct RequestError {
    /// What was asked (`put member key`, `lease keepalive`, …).
    pub what: String,
    /// The last member's error, with the member's URL.
    pub detail: String,
    /// What kind of failure.
    pub kind: RequestErrorKind,
}

/// The failures of an etcd request that callers tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestErrorKind {
    /// etcd no longer knows the lease the request named (it expired, e.g. while the agent was
    /// paused past its ttl): grant a new one and write again.
    LeaseNotFound,
    /// Anything else: refused, or no member served it within the budget.
    Failed,
}

impl RequestError {
    /// Whether `e` is a [`RequestError`] of kind [`RequestErrorKind::LeaseNotFound`].
    pub fn is_lease_not_found(e: &anyhow::Error) -> bool {
        e.downcast_ref::<RequestError>()
            .is_some_and(|r| r.kind == RequestErrorKind::LeaseNotFound)
    }
}

/// etcd's "requested lease not found" (a gRPC status), or etcd-client's own keepalive error for
/// a lease the server answered with ttl 0.
fn lease_not_found(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::LeaseKeepAliveError(m) => m.contains("lease not found"),
        etcd_client::Error::GRpcStatus(s) => s.message().contains("lease not found"),
        _ => false,
    }
}

/// A connection to the etcd cluster scoped to one group prefix.
#[derive(Clone)]
pub struct EtcdDcs {
    /// The etcd members and one client per member (see [`super::endpoints`]).
    pool: Arc<Pool>,
    /// `/<namespace>/<scope>[/<group>]/`.
    pub prefix: String,
    name: String,
    lease: Arc<Mutex<Option<i64>>>,
    /// Budget of one request over every member it may try (`retry_timeout`).
    timeout: Duration,
    /// The group prefix as the running watch last saw it; `None` while no watch is in sync.
    cache: Arc<std::sync::Mutex<Option<Cache>>>,
    /// The lease keep-alive stream kept open after a renewal (see [`EtcdDcs::keepalive`]).
    kept: Arc<Mutex<Option<KeptKeepAlive>>>,
    /// The etcd cluster ID and the highest store revision of a view this client has returned
    /// from it: no later view of that cluster may be older ([`newer_or_same`]).
    seen: Arc<std::sync::Mutex<(u64, i64)>>,
}

/// Marks the error of a read refused because its view was older than one already returned.
pub const OLDER_VIEW: &str = "an etcd view older than one already seen";

/// Whether a view at store revision `got` may be acted on by a client that has already
/// returned a view at revision `seen`: never an older one. etcd's linearizable reads make an
/// older view impossible from a member with quorum; a member cut off from the majority (or a
/// watch on it) can only offer what it had, so this is what keeps a member back from the
/// minority side from acting on it.
pub fn newer_or_same(seen: i64, got: i64) -> bool {
    got >= seen
}

/// An open `LeaseKeepAlive` stream to one etcd member: the next renewal is one message each way
/// on it instead of a new gRPC stream (headers, window updates and a reset) per renewal.
struct KeptKeepAlive {
    /// The member it is open to; it is used only while that member is the current one.
    url: String,
    /// The lease it renews.
    lease: i64,
    keeper: etcd_client::LeaseKeeper,
    stream: etcd_client::LeaseKeepAliveStream,
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
    /// `kvs` decoded, kept until the watch changes a key: an idle cycle reuses it instead of
    /// parsing every value (and checking `/config`'s keys) again.
    decoded: Option<ClusterView>,
}

/// A copy the watch has not refreshed for this long is not trusted (a watch that stalled without
/// an error would otherwise serve an old view for ever); reads then go to etcd, as without it.
const CACHE_TRUST: Duration = Duration::from_secs(60);

/// After this long without a watch response, the watch asks etcd for a progress notification
/// (well inside [`CACHE_TRUST`], so a live watch on an idle group keeps its copy trusted).
const PROGRESS_AFTER: Duration = Duration::from_secs(20);

/// Marks a watch etcd refused at creation (see `watch_once`).
const WATCH_REFUSED: &str = "permission denied or unknown auth token";

/// Whether an etcd error means the auth token is unknown or expired (etcd's
/// `ErrInvalidAuthToken` / `ErrAuthOldRevision`), so logging in again will help.
fn is_auth_token_error(msg: &str) -> bool {
    msg.contains("invalid auth token") || msg.contains("revision of auth store is old")
}

impl EtcdDcs {
    /// Connects to the etcd cluster at `cfg.endpoints`; `timeout` (seconds: `retry_timeout`) is
    /// the budget of each request, shared by the members it tries. Without etcd auth the
    /// connection is made lazily (an unreachable etcd makes later calls fail, not this one); with
    /// it, the first member that answers logs in.
    ///
    /// # Errors
    /// Invalid endpoint URLs or TLS files; with etcd auth, no member reachable or the login refused.
    pub async fn connect(
        cfg: &EtcdConfig,
        prefix: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<EtcdDcs> {
        let attempt = attempt_timeout(timeout, cfg.endpoints.len());
        let pool = Arc::new(Pool {
            etcd: cfg.clone(),
            attempt,
            state: std::sync::Mutex::new(PoolState {
                endpoints: Endpoints::new(&cfg.endpoints),
                clients: BTreeMap::new(),
                discovered: false,
            }),
            switched: tokio::sync::watch::channel(0).0,
        });
        // Connect once now: bad URLs and TLS files are reported here, and with etcd auth the
        // first member that answers logs in (refused credentials are reported here too).
        let mut last = None;
        for _ in 0..cfg.endpoints.len().max(1) {
            match pool.client().await {
                Ok(_) => {
                    last = None;
                    break;
                }
                Err(e) => {
                    let member = is_member_fault(&format!("{e:#}"));
                    last = Some((e, member));
                    if !member {
                        break;
                    }
                }
            }
        }
        if let Some((e, member)) = last {
            if cfg.username.is_some() || !member {
                return Err(e);
            }
        }
        Ok(EtcdDcs {
            pool,
            prefix: prefix.to_string(),
            name: name.to_string(),
            lease: Arc::new(Mutex::new(None)),
            timeout,
            cache: Arc::default(),
            kept: Arc::default(),
            seen: Arc::default(),
        })
    }

    /// The same client with another request budget (the members it tries share it).
    pub fn with_budget(&self, budget: Duration) -> EtcdDcs {
        EtcdDcs {
            timeout: budget,
            ..self.clone()
        }
    }

    /// The request budget (seconds: `retry_timeout` unless [`EtcdDcs::with_budget`] changed it).
    pub fn budget(&self) -> Duration {
        self.timeout
    }

    /// Runs one request: on the current member, and on the next one when a member cannot serve
    /// it ([`is_member_fault`]), until it succeeds or the budget (`retry_timeout`) is spent. An
    /// auth token etcd forgot (etcd's simple tokens live only in the memory of the member that
    /// issued them) leads to a new login and one more try.
    ///
    /// # Errors
    /// `etcd <what>: …` with the last member's error: the request itself was refused, or no
    /// member served it within the budget.
    async fn request<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        F: Fn(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        self.request_tracked(what, f).await.map(|(v, _)| v)
    }

    /// [`EtcdDcs::request`], also telling whether an earlier attempt ended without a known
    /// outcome (no answer in time, or etcd said the request timed out or the leader changed):
    /// such an attempt may have been applied, which matters for a compare-and-set.
    async fn request_tracked<T, F, Fut>(&self, what: &str, f: F) -> Result<(T, bool)>
    where
        F: Fn(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        let started = Instant::now();
        let mut ambiguous = false;
        let members = self.pool.lock().endpoints.urls().len();
        let share = attempt_timeout(self.timeout, members);
        let mut last = String::from("not tried");
        let mut relogged = false;
        let mut tries = 0u32;
        let mut kind = RequestErrorKind::Failed;
        loop {
            let left = self.timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            if tries > 0 && tries as usize % self.pool.lock().endpoints.urls().len().max(1) == 0 {
                // Every member refused at once (all down?): do not spin.
                tokio::time::sleep(Duration::from_millis(100).min(left)).await;
            }
            tries += 1;
            let (url, client) = match tokio::time::timeout(left, self.pool.client()).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    last = format!("{e:#}");
                    if !is_member_fault(&last) {
                        break;
                    }
                    continue;
                }
                Err(_) => {
                    last = format!("connecting: no answer within {left:?}");
                    break;
                }
            };
            let attempt = share.min(left);
            match tokio::time::timeout(attempt, f(client)).await {
                Ok(Ok(v)) => {
                    self.pool.succeeded(&url);
                    self.after_success();
                    return Ok((v, ambiguous));
                }
                Ok(Err(e)) => {
                    last = format!("{e} (etcd member {url})");
                    if lease_not_found(&e) {
                        kind = RequestErrorKind::LeaseNotFound;
                        break;
                    }
                    let msg = e.to_string();
                    if self.pool.etcd.username.is_some() && is_auth_token_error(&msg) && !relogged {
                        relogged = true;
                        self.pool.forget_client(&url);
                        tracing::info!(
                            "etcd: the auth token was no longer valid; logging in again"
                        );
                        continue;
                    }
                    if !is_member_fault(&msg) {
                        break;
                    }
                    ambiguous |= outcome_unknown(&msg);
                    self.pool.failed(&url);
                }
                Err(_) => {
                    last = format!("no answer within {attempt:?} (etcd member {url})");
                    ambiguous = true;
                    self.pool.failed(&url);
                }
            }
        }
        // etcd may be unreachable: stop trusting the watch-fed copy until the watch restarts.
        *self.cache.lock().expect("not poisoned") = None;
        Err(RequestError {
            what: what.to_string(),
            detail: last,
            kind,
        }
        .into())
    }

    /// After a request was served: read etcd's member list once per change of member (in the
    /// background), so members missing from the configuration are used too.
    fn after_success(&self) {
        if !self.pool.wants_discovery() {
            return;
        }
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let Ok((_, mut c)) = pool.client().await else {
                return;
            };
            match tokio::time::timeout(pool.attempt, c.member_list()).await {
                Ok(Ok(resp)) => {
                    let tls = pool
                        .etcd
                        .endpoints
                        .iter()
                        .any(|e| e.starts_with("https://"));
                    let urls = resp
                        .members()
                        .iter()
                        .flat_map(|m| m.client_urls().iter().cloned())
                        .filter(|u| u.starts_with(if tls { "https://" } else { "http://" }))
                        .collect();
                    pool.add_discovered(urls);
                }
                Ok(Err(e)) => tracing::debug!("reading etcd's member list: {e}"),
                Err(_) => tracing::debug!("reading etcd's member list: no answer"),
            }
        });
    }
}

impl EtcdDcs {
    fn key(&self, k: &str) -> String {
        format!("{}{}", self.prefix, k)
    }

    /// Runs a transaction; returns whether its comparison held.
    ///
    /// # Errors
    /// etcd unreachable; or the comparison failed after an earlier attempt whose outcome is
    /// unknown (it may have been applied, and then failed its own comparison on the retry), so
    /// "not applied" cannot be claimed.
    async fn txn_succeeded(&self, what: &str, txn: Txn) -> Result<bool> {
        let (r, ambiguous) = self
            .request_tracked(what, |mut c| {
                let txn = txn.clone();
                async move { c.txn(txn).await }
            })
            .await?;
        if !r.succeeded() && ambiguous {
            bail!(
                "etcd {what}: an earlier attempt got no answer and may have been applied; \
                 its outcome is unknown"
            );
        }
        Ok(r.succeeded())
    }

    /// The group prefix: from the watch-fed copy while the watch ([`EtcdDcs::spawn_watch`]) is in
    /// sync (no request), else read from etcd.
    ///
    /// # Errors
    /// etcd unreachable or slower than the request deadline.
    pub async fn load(&self) -> Result<ClusterView> {
        {
            let seen = self.seen.lock().expect("not poisoned").1;
            let mut cache = self.cache.lock().expect("not poisoned");
            // A copy behind a view already returned (the watch lagging, or on a member cut off
            // from the majority) is not used: etcd is read instead.
            if let Some(c) = cache.as_mut().filter(|c| {
                c.touched.is_some_and(|t| t.elapsed() < CACHE_TRUST)
                    && newer_or_same(seen, c.revision)
            }) {
                let decoded = c.decoded.get_or_insert_with(|| {
                    let kvs: Vec<(String, Vec<u8>, i64, i64)> = c
                        .kvs
                        .iter()
                        .map(|(k, (v, lease, rev))| (k.clone(), v.clone(), *lease, *rev))
                        .collect();
                    ClusterView::decode(&kvs, c.revision)
                });
                // Progress notifications move the revision without changing a key.
                let mut view = decoded.clone();
                view.revision = c.revision;
                let mut seen = self.seen.lock().expect("not poisoned");
                seen.1 = seen.1.max(c.revision);
                return Ok(view);
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
        // Views returned before this read was sent; one returned meanwhile may be newer.
        let (seen_cluster, seen) = *self.seen.lock().expect("not poisoned");
        let resp = self.range(prefix).await?;
        let revision = resp.header().map(|h| h.revision()).unwrap_or(0);
        let cluster = resp.header().map(|h| h.cluster_id()).unwrap_or(0);
        if seen_cluster != 0 && cluster != 0 && cluster != seen_cluster {
            // A new etcd cluster (rebuilt, or restored from a snapshot): its revisions start
            // afresh, and are no evidence of an old view.
            tracing::warn!(
                "etcd cluster changed (cluster id {seen_cluster:x}, now {cluster:x}): revisions                  start again from {revision}"
            );
            *self.seen.lock().expect("not poisoned") = (cluster, revision);
        } else if !newer_or_same(seen, revision) {
            let url = self.pool.lock().endpoints.current().map(String::from);
            let msg = format!(
                "{OLDER_VIEW} (revision {revision} from {}, {seen} seen before): not acting on it",
                url.as_deref().unwrap_or("etcd")
            );
            tracing::warn!("{msg}");
            if let Some(url) = &url {
                self.pool.failed(url);
            }
            bail!("{msg}");
        } else {
            let mut s = self.seen.lock().expect("not poisoned");
            *s = (cluster, s.1.max(revision));
        }
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
        if prefix == self.prefix {
            // The watch-fed copy holding exactly what etcd just returned is current as of this
            // read: it need not be bypassed for being behind it.
            let mut cache = self.cache.lock().expect("not poisoned");
            if let Some(c) = cache.as_mut() {
                let same = c.kvs.len() == kvs.len()
                    && kvs.iter().all(|(k, v, lease, rev)| {
                        c.kvs
                            .get(k)
                            .is_some_and(|(cv, cl, cr)| cv == v && cl == lease && cr == rev)
                    });
                if same {
                    c.revision = c.revision.max(revision);
                }
            }
        }
        Ok(ClusterView::decode(&kvs, revision))
    }

    /// One range read of everything under `prefix`.
    async fn range(&self, prefix: &str) -> Result<etcd_client::GetResponse> {
        self.request("range read", |mut c| async move {
            c.get(prefix, Some(GetOptions::new().with_prefix())).await
        })
        .await
    }

    /// Lists the raw keys under a prefix (praetorctl uses it to find Citus groups).
    ///
    /// # Errors
    /// As [`EtcdDcs::load`].
    pub async fn list_keys(&self, prefix: &str) -> Result<Vec<String>> {
        let resp = self
            .request("range read", |mut c| async move {
                c.get(
                    prefix,
                    Some(GetOptions::new().with_prefix().with_keys_only()),
                )
                .await
            })
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
        let resp = self
            .request("lease grant", |mut c| async move {
                c.lease_grant(ttl as i64, None).await
            })
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
        let mut kept = self.kept.lock().await;
        // The stream kept from the last renewal, while it is open to the current member and for
        // this lease: one message each way. Any failure or silence drops it and the renewal goes
        // the usual way below (with its own retries over the members), so a member that went
        // away costs at most one attempt's share of the budget here.
        if let Some(k) = kept.take() {
            let current = self.pool.lock().endpoints.current().map(String::from);
            if k.lease == id && current.as_deref() == Some(k.url.as_str()) {
                let mut k = k;
                let share = attempt_timeout(self.timeout, self.pool.lock().endpoints.urls().len());
                let renewed = tokio::time::timeout(share, async {
                    k.keeper.keep_alive().await?;
                    k.stream.message().await
                })
                .await;
                match renewed {
                    Ok(Ok(Some(resp))) if resp.ttl() > 0 => {
                        self.pool.succeeded(&k.url);
                        *kept = Some(k);
                        return Ok(true);
                    }
                    Ok(Ok(Some(_))) => {
                        // etcd answers a lease it no longer knows with a ttl of 0.
                        *self.lease.lock().await = None;
                        return Ok(false);
                    }
                    _ => {}
                }
            }
        }
        // Opening the keep-alive stream sends one renewal and waits for its answer (etcd-client
        // reports a lease etcd no longer knows as "lease not found"): one round trip. The
        // stream is kept for the next renewal.
        let r = self
            .request("lease keepalive", |mut c| async move {
                c.lease_keep_alive(id).await
            })
            .await;
        match r {
            Ok((keeper, stream)) => {
                let url = self.pool.lock().endpoints.current().map(String::from);
                if let Some(url) = url {
                    *kept = Some(KeptKeepAlive {
                        url,
                        lease: id,
                        keeper,
                        stream,
                    });
                }
                Ok(true)
            }
            // etcd says the lease expired (e.g. the agent was paused past its ttl): forget it so the
            // next call grants a new one and the keys are written again.
            Err(e) if RequestError::is_lease_not_found(&e) => {
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
            self.request(
                "lease revoke",
                |mut c| async move { c.lease_revoke(id).await },
            )
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
        let key = self.key(&format!("{}{}", keys::MEMBERS, self.name));
        let put = |lease: i64| {
            let (key, value) = (key.clone(), value.clone());
            self.request("put member key", move |mut c| {
                let (key, value) = (key.clone(), value.clone());
                async move {
                    c.put(key, value, Some(PutOptions::new().with_lease(lease)))
                        .await
                }
            })
        };
        let r = put(lease).await;
        if let Err(e) = r {
            if RequestError::is_lease_not_found(&e) {
                self.forget_lease().await;
                let lease = self.ensure_lease(ttl).await?;
                put(lease).await?;
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
            Err(e) if RequestError::is_lease_not_found(&e) => {
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
        // Else-branch: the key already names us on this very lease — an earlier attempt of this
        // request was applied although its answer was lost; that is a take too.
        let txn = Txn::new()
            .when(vec![Compare::create_revision(
                key.clone(),
                CompareOp::Equal,
                0,
            )])
            .and_then(vec![TxnOp::put(
                key.clone(),
                self.name.clone(),
                Some(PutOptions::new().with_lease(lease)),
            )])
            .or_else(vec![TxnOp::txn(Txn::new().when(vec![
                Compare::value(key.clone(), CompareOp::Equal, self.name.clone()),
                Compare::lease(key, CompareOp::Equal, lease),
            ]))]);
        // Not ours after a lost answer means it was not applied, or was and is gone again:
        // either way we do not hold the key, so the answer is definite.
        let r = self
            .request("take leader key", |mut c| {
                let txn = txn.clone();
                async move { c.txn(txn).await }
            })
            .await?;
        let ours = r.succeeded()
            || r.op_responses().into_iter().any(|op| match op {
                etcd_client::TxnOpResponse::Txn(t) => t.succeeded(),
                _ => false,
            });
        Ok(ours)
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
    pub async fn release_leader(&self, optime: Option<crate::types::Lsn>) -> Result<bool> {
        let key = self.key(keys::LEADER);
        let mut ops = vec![TxnOp::delete(key.clone(), None)];
        if let Some(lsn) = optime {
            ops.push(TxnOp::put(
                self.key(keys::STATUS),
                super::encode_status(lsn, &Default::default()),
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
        // The lease was granted before a bootstrap that may have outlasted it (initdb, a
        // basebackup): it is kept alive together with the transaction, and a lease etcd no longer
        // knows is replaced by a fresh one, so the key lives a full ttl from here.
        let lease = self.ensure_lease(ttl).await?;
        let (alive, taken) = tokio::join!(self.keepalive(ttl), self.try_take_leader(lease));
        match taken {
            Err(e) if RequestError::is_lease_not_found(&e) => {}
            Ok(()) if !matches!(alive, Ok(true)) => {}
            r => return r,
        }
        self.forget_lease().await;
        let lease = self.ensure_lease(ttl).await?;
        self.try_take_leader(lease).await
    }

    async fn try_take_leader(&self, lease: i64) -> Result<()> {
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
        let r = self
            .request("take leader key", |mut c| {
                let txn = txn.clone();
                async move { c.txn(txn).await }
            })
            .await?;
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
        self.request(&format!("put {key}"), |mut c| async move {
            c.put(key, value, None).await
        })
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
        self.request(&format!("delete {key}"), |mut c| async move {
            c.delete(key, None).await
        })
        .await?;
        Ok(())
    }

    /// Reads a whole Citus scope (`/<namespace>/<scope>/`) and splits it by group.
    ///
    /// # Errors
    /// etcd unreachable.
    pub async fn load_groups(&self, scope_prefix: &str) -> Result<BTreeMap<u32, ClusterView>> {
        let resp = self.range(scope_prefix).await?;
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
}

#[cfg(test)]
mod view_order_tests {
    use super::newer_or_same;

    #[test]
    fn a_view_older_than_one_returned_is_refused() {
        assert!(newer_or_same(0, 0));
        assert!(newer_or_same(41, 41));
        assert!(newer_or_same(41, 42));
        assert!(!newer_or_same(42, 41));
    }
}
