//! The [`Writer`]: a client committing rows through whichever member is primary
//! (`target_session_attrs=read-write`), and the probe row ids it shares with other probers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::Testbed;

/// Row ids for the `probe` table, unique within this process (a second writer or prober on the
/// same table must not collide with an earlier one's rows).
pub fn next_probe_id() -> i64 {
    static NEXT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}

/// A client that commits one row every 10 ms through whichever member is primary (libpq's
/// `target_session_attrs=read-write` over all members), reconnecting at once after an error, as
/// an application behind a multi-host connection string does. Needs a `probe` table.
pub struct Writer {
    stop: Arc<std::sync::atomic::AtomicBool>,
    /// Acknowledged commits: (row id, member port, when acknowledged).
    pub acks: Arc<Mutex<Vec<(i64, u16, Instant)>>>,
    /// Failed attempts (connect or commit).
    pub errors: Arc<std::sync::atomic::AtomicUsize>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl Writer {
    /// Starts writing to the members at these `(name, port)`s on 127.0.0.1 with this
    /// `synchronous_commit`.
    pub fn start(members: Vec<(String, u16)>, synchronous_commit: &'static str) -> Writer {
        let members = members
            .into_iter()
            .map(|(n, p)| (n, "127.0.0.1".to_string(), p))
            .collect();
        Self::start_on(members, synchronous_commit)
    }

    /// [`Writer::start`] for members at their own addresses: `(name, host, port)` (test hosts,
    /// [`crate::hosts::Network`]).
    pub fn start_on(
        members: Vec<(String, String, u16)>,
        synchronous_commit: &'static str,
    ) -> Writer {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let acks: Arc<Mutex<Vec<(i64, u16, Instant)>>> = Arc::default();
        let errors: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let (s, a, e) = (stop.clone(), acks.clone(), errors.clone());
        let hosts: Vec<&str> = members.iter().map(|(_, h, _)| h.as_str()).collect();
        let hosts = hosts.join(",");
        let ports: Vec<String> = members.iter().map(|(_, _, p)| p.to_string()).collect();
        let conn = format!(
            "host={hosts} port={} user=postgres password=super-secret dbname=postgres \
             connect_timeout=1 target_session_attrs=read-write",
            ports.join(",")
        );
        let handle = tokio::spawn(async move {
            let mut client: Option<(tokio_postgres::Client, u16)> = None;
            while !s.load(std::sync::atomic::Ordering::SeqCst) {
                let started = Instant::now();
                if client.as_ref().is_none_or(|(c, _)| c.is_closed()) {
                    client = None;
                    let connected = tokio::time::timeout(
                        Duration::from_secs(2),
                        tokio_postgres::connect(&conn, tokio_postgres::NoTls),
                    )
                    .await;
                    if let Ok(Ok((c, connection))) = connected {
                        tokio::spawn(connection);
                        let port = c
                            .query_one("SELECT current_setting('port')::int", &[])
                            .await
                            .ok()
                            .map(|r| r.get::<_, i32>(0) as u16);
                        let _ = c
                            .batch_execute(&format!(
                                "SET synchronous_commit = {synchronous_commit}"
                            ))
                            .await;
                        if let Some(p) = port {
                            client = Some((c, p));
                        }
                    }
                    if client.is_none() {
                        e.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                }
                let (c, port) = client.as_ref().expect("connected above");
                let id = next_probe_id();
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&id, &"writer"];
                let q = c.execute("INSERT INTO probe(id, member) VALUES ($1, $2)", &params);
                match tokio::time::timeout(Duration::from_secs(2), q).await {
                    Ok(Ok(_)) => a
                        .lock()
                        .expect("not poisoned")
                        .push((id, *port, Instant::now())),
                    _ => {
                        e.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        client = None;
                    }
                }
                tokio::time::sleep(Duration::from_millis(10).saturating_sub(started.elapsed()))
                    .await;
            }
        });
        Writer {
            stop,
            acks,
            errors,
            handle: Some(handle),
        }
    }

    /// Stops writing and waits for the client task.
    pub async fn stop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }

    /// First acknowledgement at or after `t` by the member on `port`.
    pub fn first_ack_after(&self, t: Instant, port: u16) -> Option<Instant> {
        self.acks
            .lock()
            .unwrap()
            .iter()
            .find(|(_, p, at)| *at >= t && *p == port)
            .map(|(_, _, at)| *at)
    }

    /// Acknowledged ids missing on `member`.
    ///
    /// # Errors
    /// The member cannot be reached or read.
    pub async fn missing_on(&self, tb: &Testbed, member: &str) -> Result<Vec<i64>> {
        let c = tb.pg(member).await?;
        let present: std::collections::BTreeSet<i64> = c
            .query("SELECT id FROM probe WHERE member = 'writer'", &[])
            .await
            .context("reading the probe table")?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok(self
            .acks
            .lock()
            .unwrap()
            .iter()
            .map(|(id, _, _)| *id)
            .filter(|id| !present.contains(id))
            .collect())
    }

    /// The longest time between two consecutive acknowledgements in `[from, to]`.
    pub fn longest_gap(&self, from: Instant, to: Instant) -> Duration {
        let acks = self.acks.lock().expect("not poisoned");
        let times: Vec<Instant> = acks
            .iter()
            .map(|(_, _, at)| *at)
            .filter(|at| *at >= from && *at <= to)
            .collect();
        times
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default()
    }
}
