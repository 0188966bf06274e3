//! The per-agent TCP proxies in front of etcd, through which a test cuts an agent off from etcd,
//! restores it, or delays what etcd sends it.

use std::net::TcpListener;
use std::time::Duration;

use anyhow::Result;

/// A TCP proxy between one agent and etcd, so a test can cut that agent off from etcd while
/// clients still reach its PostgreSQL and REST API, or make etcd answer that agent later.
pub struct EtcdProxy {
    /// Port the agent connects to.
    pub port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl EtcdProxy {
    pub(crate) fn start(etcd_port: u16) -> Result<EtcdProxy> {
        let std_listener = TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let port = std_listener.local_addr()?.port();
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> =
            Default::default();
        let delay_ms = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (c2, k2, d2) = (cut.clone(), conns.clone(), delay_ms.clone());
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if c2.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: the agent sees a reset connection
                }
                let delay = d2.clone();
                let task = tokio::spawn(async move {
                    if let Ok(outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", etcd_port)).await
                    {
                        pump(inbound, outbound, delay).await;
                    }
                });
                k2.lock().expect("not poisoned").push(task.abort_handle());
            }
        });
        Ok(EtcdProxy {
            port,
            cut,
            delay_ms,
            conns,
            accept,
        })
    }

    /// Cuts the agent off from etcd: open connections are dropped, new ones refused.
    pub fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for c in self.conns.lock().expect("not poisoned").drain(..) {
            c.abort();
        }
    }

    /// Lets the agent reach etcd again.
    pub fn restore(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// Delays everything etcd sends to the agent by `delay` (responses and watch events; order
    /// kept), from now on, on open connections too. `Duration::ZERO` removes the delay.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(
            delay.as_millis() as u64,
            std::sync::atomic::Ordering::SeqCst,
        );
    }
}

/// Copies agent→etcd as is and etcd→agent after the proxy's current delay, until either side
/// closes.
async fn pump(
    inbound: tokio::net::TcpStream,
    outbound: tokio::net::TcpStream,
    delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Without this, Nagle's algorithm holds back small gRPC frames for a delayed ACK (40 ms).
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (mut agent_r, mut agent_w) = inbound.into_split();
    let (mut etcd_r, mut etcd_w) = outbound.into_split();
    let up = async move {
        let _ = tokio::io::copy(&mut agent_r, &mut etcd_w).await;
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let read = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match etcd_r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let d = Duration::from_millis(delay_ms.load(std::sync::atomic::Ordering::SeqCst));
            if tx
                .send((tokio::time::Instant::now() + d, buf[..n].to_vec()))
                .is_err()
            {
                break;
            }
        }
    };
    let write = async move {
        while let Some((at, bytes)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if agent_w.write_all(&bytes).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        _ = up => {}
        _ = async { tokio::join!(read, write) } => {}
    }
}

impl Drop for EtcdProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
