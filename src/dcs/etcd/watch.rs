//! The prefix watch: it wakes the HA loop on the events it must react to, keeps the watch-fed
//! copy of the group prefix current, and starts again on another member when the current one
//! changes.

use super::*;

impl EtcdDcs {
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
                let mut switched = me.pool.switched.subscribe();
                let Ok((url, client)) = me.pool.client().await else {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                };
                let r = tokio::select! {
                    r = me.watch_once(client, &prefix, groups, &wake) => r,
                    _ = switched.changed() => {
                        tracing::debug!("etcd watch on {prefix}: the current member changed; watching there");
                        continue;
                    }
                };
                if let Err(e) = r {
                    tracing::debug!("etcd watch on {prefix} at {url} ended: {e:#}; reconnecting");
                    let msg = format!("{e:#}");
                    if me.pool.etcd.username.is_some()
                        && (is_auth_token_error(&msg) || msg.contains(WATCH_REFUSED))
                    {
                        me.pool.forget_client(&url);
                    } else if is_member_fault(&msg) {
                        me.pool.failed(&url);
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    }

    async fn watch_once(
        &self,
        mut c: Client,
        prefix: &str,
        groups: bool,
        wake: &Notify,
    ) -> Result<()> {
        // Our own group prefix also feeds the cache: read it, then watch from the next revision.
        let caching = !groups && prefix == self.prefix;
        let mut opts = WatchOptions::new().with_prefix().with_prev_key();
        let mut seed = None;
        if caching {
            let resp = self.range(prefix).await?;
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
        let (mut watcher, mut stream) =
            tokio::time::timeout(self.pool.attempt, c.watch(prefix, Some(opts)))
                .await
                .map_err(|_| {
                    anyhow!(
                        "creating the watch: no answer within {:?}",
                        self.pool.attempt
                    )
                })??;
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
        loop {
            // A quiet group sends nothing: ask etcd for a progress notification (an empty
            // response carrying the current revision) before the copy stops being trusted, so
            // an idle cycle keeps reading it instead of etcd.
            let resp = if caching {
                match tokio::time::timeout(PROGRESS_AFTER, stream.message()).await {
                    Ok(r) => r?,
                    Err(_) => {
                        watcher
                            .request_progress()
                            .await
                            .context("asking etcd for watch progress")?;
                        continue;
                    }
                }
            } else {
                stream.message().await?
            };
            let Some(resp) = resp else { break };
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
                    if !resp.events().is_empty() {
                        cache.decoded = None;
                    }
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
