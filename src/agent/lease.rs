//! The leader lease between HA cycles: the lease keeper and the fence guard it arms.
//!
//! The HA loop decides whether this member keeps leading ([`crate::ha::Action::RenewLeader`]); each
//! time it renews successfully it *endorses* the lease here. A separate task, the keeper, renews
//! the etcd lease whenever the last renewal is older than half the ttl while the latest
//! endorsement is younger than one ttl. So a slow PostgreSQL query, a slow REST request or a slow
//! action inside one cycle never makes the renewal late, yet a stuck HA loop cannot keep the lease
//! alive for ever: one ttl after its last endorsement the keeper stops, and the fence guard
//! ([`crate::fence`]), armed with the time left after every renewal, stops PostgreSQL a margin
//! before the lease can expire.
//!
//! Endorsement and guard share one lock, so the keeper never re-arms the guard after the HA loop
//! withdrew (lost or released the lock).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::dcs::etcd::EtcdDcs;
use crate::fence::Guard;

#[derive(Default)]
struct Inner {
    guard: Option<Guard>,
    guard_armed: bool,
    /// When the HA loop last renewed or took the lock; `None` while not leading.
    endorsed: Option<Instant>,
    /// Start (before the request) of the latest successful renewal by either side. Only a
    /// renewal etcd confirmed sets it: [`LeaseKeep::renewed_until`] counts the lease from it.
    renewed: Option<Instant>,
    /// After a failed renewal: when the keeper tries again (sooner than half a ttl).
    retry_at: Option<Instant>,
    /// Lease ttl.
    ttl: Duration,
    /// Maintenance mode: renew, but never arm the guard.
    pause: bool,
}

/// Shared by the HA loop and the keeper task. Cheap to clone.
#[derive(Clone, Default)]
pub struct LeaseKeep {
    inner: Arc<Mutex<Inner>>,
    /// Wakes the keeper when the HA loop endorses (it sleeps otherwise: no polling while idle).
    endorsed: Arc<Notify>,
}

impl LeaseKeep {
    /// Wraps the fence guard (`None` when it could not be started: the lease is still kept).
    pub fn new(guard: Option<Guard>) -> LeaseKeep {
        LeaseKeep {
            inner: Arc::new(Mutex::new(Inner {
                guard,
                ..Default::default()
            })),
            endorsed: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The HA loop renewed (or took) the leader lease with a request sent at `t0`: endorse it for
    /// one `ttl`, and arm the guard with the time left unless in maintenance mode.
    pub fn endorse(&self, t0: Instant, ttl: Duration, pause: bool) {
        let mut i = self.lock();
        i.endorsed = Some(Instant::now());
        i.renewed = Some(i.renewed.map_or(t0, |r| r.max(t0)));
        i.retry_at = None;
        i.ttl = ttl;
        i.pause = pause;
        if !pause {
            arm(&mut i, t0);
        }
        drop(i);
        self.endorsed.notify_one();
    }

    /// No longer leading (lost, released or demoting): the keeper stops renewing. The guard stays
    /// armed until [`LeaseKeep::disarm`], so a demotion in progress is still fenced.
    pub fn withdraw(&self) {
        let mut i = self.lock();
        i.endorsed = None;
        i.renewed = None;
        i.retry_at = None;
    }

    /// Disarms the guard (not primary, or paused).
    pub fn disarm(&self) {
        let mut i = self.lock();
        if i.guard_armed {
            if let Some(g) = &mut i.guard {
                g.disarm();
            }
            i.guard_armed = false;
        }
    }

    /// Checks the guard process is alive, restarting it if it died.
    pub fn check_guard(&self) {
        if let Some(g) = &mut self.lock().guard {
            g.check();
        }
    }

    /// `(pid, armed, restarts)` of the guard, for `/patroni`.
    pub fn guard_status(&self) -> Option<(u32, bool, u32)> {
        let i = self.lock();
        i.guard
            .as_ref()
            .map(|g| (g.pid(), i.guard_armed, g.restarts))
    }

    /// Disarms and drops the guard's handle (graceful shutdown).
    pub fn shutdown(&self) {
        self.disarm();
        self.withdraw();
    }

    /// When the lease etcd last confirmed ends: the start (before the request) of the latest
    /// successful renewal by the HA loop or the keeper plus the ttl it was renewed for, while
    /// leading; `None` otherwise.
    pub fn renewed_until(&self) -> Option<Instant> {
        let i = self.lock();
        i.endorsed.and(i.renewed).map(|r| r + i.ttl)
    }

    /// When the keeper should renew next: `None` when not endorsed (or the endorsement is older
    /// than one ttl: the HA loop is stuck and the lease must be allowed to run out).
    fn due(&self) -> Option<(Instant, Duration)> {
        let i = self.lock();
        let endorsed = i.endorsed?;
        if endorsed.elapsed() >= i.ttl {
            return None;
        }
        let renewed = i.renewed.unwrap_or(endorsed);
        let at = renewed + i.ttl / 2;
        Some((i.retry_at.map_or(at, |r| r.min(at)), i.ttl))
    }

    /// Starts the keeper task. It renews through `dcs` (one lease keepalive) when due, and wakes the
    /// HA loop through `wake` when etcd says the lease is gone.
    pub fn spawn_keeper(&self, dcs: EtcdDcs, wake: Arc<Notify>) -> tokio::task::JoinHandle<()> {
        let keep = self.clone();
        tokio::spawn(async move {
            loop {
                let Some((at, ttl)) = keep.due() else {
                    // Not leading, or the endorsement ran out: sleep until the next one.
                    keep.endorsed.notified().await;
                    continue;
                };
                let now = Instant::now();
                if at > now {
                    // A fresh endorsement (with its renewal) moves the due time: wake for it.
                    let _ = tokio::time::timeout(at - now, keep.endorsed.notified()).await;
                    continue;
                }
                let t0 = Instant::now();
                let r = dcs.keepalive(ttl.as_secs()).await;
                let mut i = keep.lock();
                if i.endorsed.is_none() {
                    continue;
                }
                match r {
                    Ok(true) => {
                        i.renewed = Some(t0);
                        i.retry_at = None;
                        if !i.pause {
                            arm(&mut i, t0);
                        }
                        tracing::debug!("lease renewed between HA cycles");
                    }
                    Ok(false) => {
                        tracing::warn!("renewing the leader lease between HA cycles: etcd says the lease is gone");
                        i.endorsed = None;
                        drop(i);
                        wake.notify_one();
                    }
                    Err(e) => {
                        tracing::warn!("renewing the leader lease between HA cycles: {e:#}");
                        // Try again shortly rather than half a ttl later; `renewed` stays the
                        // last renewal etcd confirmed.
                        i.retry_at = Some(Instant::now() + Duration::from_millis(500));
                    }
                }
            }
        })
    }
}

/// Arms the guard with what is left of a lease renewed by a request sent at `t0`.
fn arm(i: &mut Inner, t0: Instant) {
    let left = (t0 + i.ttl).saturating_duration_since(Instant::now());
    if let Some(g) = &mut i.guard {
        g.arm(left);
        i.guard_armed = true;
    }
}
