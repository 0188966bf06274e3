//! Access control for the unsafe (state-changing) endpoints, in Patroni's order
//! (reference §4.3, Patroni's REST API docs):
//!
//! 1. `restapi.allowlist` / `allowlist_include_members`: a client whose address is not listed
//!    gets **403** `Access is denied`;
//! 2. `restapi.verify_client: optional`: a client without a verified certificate gets **403**;
//! 3. `restapi.authentication`: missing or wrong basic credentials get **401** with
//!    `WWW-Authenticate`.
//!
//! Safe methods (GET, HEAD, OPTIONS) are never checked, so HAProxy probes keep working. Every
//! refusal is logged with the client's address, the request and the reason, never the secret.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use super::error::ApiError;
use super::server::Peer;
use crate::agent::driver::Shared;
use crate::config::{RestApi, VerifyClient};

/// The middleware: runs the checks above on POST, PUT, PATCH and DELETE.
pub async fn guard(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    if !matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        return next.run(req).await;
    }
    let peer = req.extensions().get::<Peer>().copied();
    let what = format!("{} {}", req.method(), req.uri().path());
    let who = peer.map_or_else(
        || "an unknown address".to_string(),
        |p| p.addr.ip().to_string(),
    );
    let api = &s.cfg().restapi;
    if !allowed(&s, api, peer.map(|p| p.addr.ip())).await {
        tracing::warn!(
            "REST API: refused {what} from {who}: address not in restapi.allowlist (403)"
        );
        return ApiError::Forbidden("Access is denied".into()).into_response();
    }
    if api.verify_client == VerifyClient::Optional && !peer.is_some_and(|p| p.client_cert) {
        tracing::warn!("REST API: refused {what} from {who}: no client certificate (403)");
        return ApiError::Forbidden("client certificate required".into()).into_response();
    }
    if let Err(reason) = check_basic(api, req.headers()) {
        tracing::warn!("REST API: refused {what} from {who}: {reason} (401)");
        return ApiError::Unauthorized.into_response();
    }
    next.run(req).await
}

/// `Ok` when `restapi.authentication` is unset or the request carries its credentials; otherwise
/// why not, naming at most the user (never the password).
pub fn check_basic(api: &RestApi, headers: &HeaderMap) -> Result<(), String> {
    let Some(auth) = &api.authentication else {
        return Ok(());
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err("no Authorization header".into());
    };
    let given = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    let Some(given) = given else {
        return Err("the Authorization header is not HTTP basic auth".into());
    };
    let (user, password) = given.split_once(':').unwrap_or((&given, ""));
    // Compare both fields in full so the time taken does not tell which one differed first.
    let user_ok = constant_time_eq(user.as_bytes(), auth.username.as_bytes());
    let password_ok = constant_time_eq(password.as_bytes(), auth.password.as_bytes());
    match (user_ok, password_ok) {
        (true, true) => Ok(()),
        (false, _) => Err(format!("unknown user {user:?}")),
        (true, false) => Err(format!("wrong password for user {user:?}")),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0));
    }
    diff == 0
}

/// Whether `ip` may call unsafe endpoints under `allowlist` / `allowlist_include_members`.
async fn allowed(s: &Shared, api: &RestApi, ip: Option<IpAddr>) -> bool {
    if api.allowlist.is_empty() && !api.allowlist_include_members {
        return true;
    }
    let Some(ip) = ip.map(|i| i.to_canonical()) else {
        return false;
    };
    for entry in &api.allowlist {
        if matches(entry, ip).await {
            return true;
        }
    }
    if api.allowlist_include_members {
        for host in member_hosts(s).await {
            if matches(&host, ip).await {
                return true;
            }
        }
    }
    false
}

/// The hosts of every registered member's `api_url` (all Citus groups on a Citus cluster, since
/// workers call the coordinator's `/citus`).
async fn member_hosts(s: &Shared) -> Vec<String> {
    let views = if s.cfg().citus.is_some() {
        match s.dcs.load_groups(&s.cfg().scope_prefix()).await {
            Ok(g) => g.into_values().collect(),
            Err(e) => {
                tracing::warn!(
                    "REST API: reading the members for allowlist_include_members: {e:#}"
                );
                Vec::new()
            }
        }
    } else {
        match s.dcs.load().await {
            Ok(v) => vec![v],
            Err(e) => {
                tracing::warn!(
                    "REST API: reading the members for allowlist_include_members: {e:#}"
                );
                Vec::new()
            }
        }
    };
    views
        .iter()
        .flat_map(|v| v.members.iter())
        .filter_map(|m| url_host(&m.data.api_url))
        .collect()
}

/// `https://host:8008/patroni` → `host` (brackets removed from IPv6 literals).
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    (!host.is_empty()).then(|| host.to_string())
}

/// Whether allowlist `entry` (CIDR network, address or host name) covers `ip`.
pub async fn matches(entry: &str, ip: IpAddr) -> bool {
    if let Ok(net) = entry.parse::<ipnet::IpNet>() {
        return net.contains(&ip);
    }
    if let Ok(a) = entry.parse::<IpAddr>() {
        return a.to_canonical() == ip;
    }
    match tokio::time::timeout(Duration::from_secs(2), tokio::net::lookup_host((entry, 0))).await {
        Ok(Ok(addrs)) => addrs.into_iter().any(|a| a.ip().to_canonical() == ip),
        Ok(Err(e)) => {
            tracing::debug!("REST API: resolving allowlist entry {entry}: {e}");
            false
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_from_api_urls() {
        assert_eq!(
            url_host("http://10.0.0.1:8008/patroni").as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(
            url_host("https://db-1.example:8008/patroni").as_deref(),
            Some("db-1.example")
        );
        assert_eq!(
            url_host("https://[::1]:8008/patroni").as_deref(),
            Some("::1")
        );
        assert_eq!(url_host("http:///x"), None);
    }

    #[tokio::test]
    async fn entries() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        assert!(matches("10.0.0.0/8", ip).await);
        assert!(!matches("10.1.3.0/24", ip).await);
        assert!(matches("10.1.2.3", ip).await);
        assert!(matches("localhost", "127.0.0.1".parse().unwrap()).await);
        assert!(!matches("localhost", ip).await);
    }

    #[test]
    fn basic_auth_reasons_never_hold_the_password() {
        let api: RestApi = serde_json::from_value(serde_json::json!({
            "listen": "127.0.0.1:8008", "connect_address": "127.0.0.1:8008",
            "authentication": {"username": "admin", "password": "s3cret"}
        }))
        .unwrap();
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            let b = base64::engine::general_purpose::STANDARD.encode(v);
            m.insert(header::AUTHORIZATION, format!("Basic {b}").parse().unwrap());
            m
        };
        assert!(check_basic(&api, &h("admin:s3cret")).is_ok());
        let e = check_basic(&api, &h("admin:guess-s3cret")).unwrap_err();
        assert!(e.contains("wrong password") && !e.contains("s3cret"), "{e}");
        assert!(check_basic(&api, &h("root:s3cret"))
            .unwrap_err()
            .contains("unknown user"));
        assert!(check_basic(&api, &HeaderMap::new()).is_err());
    }
}
