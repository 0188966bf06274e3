//! Serving the router over plain TCP or TLS (rustls), one task per connection.
//!
//! Each request carries a [`Peer`] extension (the client's address and whether it presented a
//! verified client certificate), which [`super::access`] uses for the allowlist and
//! `verify_client: optional`. With `verify_client: required` a client without a certificate is
//! refused during the handshake and never reaches the router.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Who is on the other end of a request's connection.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// A client certificate was presented and verified against `restapi.cafile`.
    pub client_cert: bool,
}

/// How long a client may take to complete the TLS handshake, seconds.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where each new connection gets its TLS configuration (`None`: plain HTTP); a reload may swap
/// it (renewed certificate files).
pub type TlsSource = Arc<dyn Fn() -> Option<Arc<rustls::ServerConfig>> + Send + Sync>;

/// The addresses to bind for `restapi.listen`, in the order to try them. An empty host or `*`
/// (`:8008`, `*:8008`) means every interface, as in Patroni: `[::]:port`, which also takes IPv4
/// connections where the system has dual-stack sockets (`dual_stack`), then `0.0.0.0:port`; any
/// other value is bound as given. Pure.
pub fn listen_addresses(listen: &str, dual_stack: bool) -> Vec<String> {
    match listen.rsplit_once(':') {
        Some(("" | "*", port)) if dual_stack => {
            vec![format!("[::]:{port}"), format!("0.0.0.0:{port}")]
        }
        Some(("" | "*", port)) => vec![format!("0.0.0.0:{port}")],
        _ => vec![listen.to_string()],
    }
}

/// Binds the REST API's listener to `restapi.listen` (see [`listen_addresses`]). Dual-stack
/// sockets are assumed where Linux's `net.ipv6.bindv6only` is 0 (its default), as Patroni checks
/// before binding `[::]` for an empty host.
///
/// # Errors
/// No address could be bound (the last attempt's error: the port is taken, the host is not one
/// of this machine's addresses, …).
pub async fn bind(listen: &str) -> std::io::Result<TcpListener> {
    let dual_stack =
        std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only").is_ok_and(|v| v.trim() == "0");
    let mut last = std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("no address to bind in {listen:?}"),
    );
    for addr in listen_addresses(listen, dual_stack) {
        match TcpListener::bind(&addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Accepts connections on `listener` for ever, over TLS when `tls` yields a configuration.
pub async fn serve(listener: TcpListener, app: Router, tls: TlsSource) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("REST API: accepting a connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let acceptor = tls().map(tokio_rustls::TlsAcceptor::from);
        tokio::spawn(async move {
            match acceptor {
                None => {
                    let peer = Peer {
                        addr,
                        client_cert: false,
                    };
                    serve_connection(TokioIo::new(stream), app, peer).await
                }
                Some(acceptor) => {
                    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::warn!("REST API: refused a TLS connection from {addr}: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::warn!(
                                "REST API: TLS handshake from {addr} did not finish within {}s",
                                HANDSHAKE_TIMEOUT.as_secs()
                            );
                            return;
                        }
                    };
                    let client_cert = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .is_some_and(|c| !c.is_empty());
                    serve_connection(TokioIo::new(tls), app, Peer { addr, client_cert }).await
                }
            }
        });
    }
}

async fn serve_connection<I>(io: TokioIo<I>, app: Router, peer: Peer)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(peer);
        app.clone().oneshot(req.map(axum::body::Body::new))
    });
    if let Err(e) = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(io, svc)
        .await
    {
        tracing::debug!("REST API: connection from {}: {e}", peer.addr);
    }
}

#[cfg(test)]
mod tests {
    use super::listen_addresses;

    #[test]
    fn restapi_listen_config_with_an_empty_host_binds_every_interface() {
        assert_eq!(
            listen_addresses(":8008", true),
            ["[::]:8008", "0.0.0.0:8008"]
        );
        assert_eq!(listen_addresses("*:8008", false), ["0.0.0.0:8008"]);
        assert_eq!(listen_addresses("10.0.0.1:8008", true), ["10.0.0.1:8008"]);
        assert_eq!(listen_addresses("[::1]:8008", true), ["[::1]:8008"]);
    }
}
