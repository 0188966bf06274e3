//! The `etcd3` / `etcd` section: Patroni's address forms (`host`, `hosts`, `url`, `proxy`, `srv`),
//! protocol, credentials, TLS files and `use_proxies`, checked key by key.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_yaml::Value as Yaml;

use super::*;

#[derive(Deserialize)]
struct RawEtcd {
    host: Option<String>,
    hosts: Option<Yaml>,
    url: Option<String>,
    port: Option<u16>,
    protocol: Option<String>,
    username: Option<String>,
    #[serde(default, deserialize_with = "password_opt")]
    password: Option<String>,
    srv: Option<String>,
    proxy: Option<String>,
    cacert: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    key_password: Option<String>,
    use_proxies: Option<Yaml>,
    #[serde(flatten)]
    _other: BTreeMap<String, Yaml>,
}

/// `/service` → `/service/`; `service` → `/service/`; repeated slashes collapsed.
pub fn normalise_namespace(ns: &str) -> String {
    let parts: Vec<&str> = ns.split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        "/".into()
    } else {
        format!("/{}/", parts.join("/"))
    }
}

pub(super) fn parse_etcd(v: &Yaml, section: &str, source: &str) -> Result<EtcdConfig, ConfigError> {
    let raw: RawEtcd = typed(v, section, source)?;
    let err = |key: &str, message: String| ConfigError {
        file: source.into(),
        key: format!("{section}.{key}"),
        message,
    };
    if raw.srv.is_some() {
        return Err(err(
            "srv",
            "DNS SRV discovery is not supported; list the endpoints under hosts".into(),
        ));
    }
    if raw.proxy.is_some() {
        return Err(err(
            "proxy",
            "etcd proxies are not supported; list the endpoints under hosts".into(),
        ));
    }
    let protocol = raw.protocol.clone().unwrap_or_else(|| "http".into());
    if protocol != "http" && protocol != "https" {
        return Err(err(
            "protocol",
            format!("expected http or https, got {protocol:?}"),
        ));
    }
    let mut addrs: Vec<(String, String)> = Vec::new(); // (key, address)
    if let Some(h) = &raw.hosts {
        match h {
            Yaml::String(s) => {
                for a in s.split(',').map(str::trim).filter(|a| !a.is_empty()) {
                    addrs.push((
                        "hosts".into(),
                        a.trim_matches(|c| c == '"' || c == '\'').to_string(),
                    ));
                }
            }
            Yaml::Sequence(seq) => {
                for (i, item) in seq.iter().enumerate() {
                    match item {
                        Yaml::String(s) => addrs.push((format!("hosts[{i}]"), s.clone())),
                        _ => {
                            return Err(err(
                                &format!("hosts[{i}]"),
                                "expected a host:port string".into(),
                            ))
                        }
                    }
                }
            }
            _ => {
                return Err(err(
                    "hosts",
                    "expected a list of host:port or a comma-separated string".into(),
                ))
            }
        }
    } else if let Some(h) = &raw.host {
        addrs.push(("host".into(), h.clone()));
    } else if let Some(u) = &raw.url {
        addrs.push(("url".into(), u.clone()));
    } else {
        return Err(err("hosts", "required: one of host, hosts or url".into()));
    }
    if addrs.is_empty() {
        return Err(err("hosts", "expected at least one host:port".into()));
    }
    let mut endpoints = Vec::new();
    for (key, a) in addrs {
        endpoints.push(endpoint_url(&a, &protocol, raw.port).map_err(|m| err(&key, m))?);
    }
    if raw.key_password.is_some() {
        return Err(err(
            "key_password",
            "encrypted keys are not supported; give an unencrypted key file with mode 0600".into(),
        ));
    }
    if raw.cert.is_some() != raw.key.is_some() {
        return Err(err(
            if raw.cert.is_some() { "key" } else { "cert" },
            "cert and key go together: expected both or neither".into(),
        ));
    }
    let tls = endpoints.iter().any(|e| e.starts_with("https://"));
    if tls && raw.cacert.is_none() {
        return Err(err(
            "cacert",
            "required with https endpoints: the CA bundle that signed etcd's certificate".into(),
        ));
    }
    if raw.username.is_some() != raw.password.is_some() {
        return Err(err(
            if raw.username.is_some() {
                "password"
            } else {
                "username"
            },
            "username and password go together: expected both or neither".into(),
        ));
    }
    let use_proxies = match &raw.use_proxies {
        None => false,
        Some(Yaml::Bool(b)) => *b,
        // From PATRONI_ETCD3_USE_PROXIES.
        Some(Yaml::String(s))
            if s.eq_ignore_ascii_case("true")
                || s == "1"
                || s.eq_ignore_ascii_case("on")
                || s.eq_ignore_ascii_case("yes") =>
        {
            true
        }
        Some(Yaml::String(s))
            if s.eq_ignore_ascii_case("false")
                || s == "0"
                || s.eq_ignore_ascii_case("off")
                || s.eq_ignore_ascii_case("no") =>
        {
            false
        }
        Some(other) => {
            return Err(err(
                "use_proxies",
                format!("expected true or false, got {other:?}"),
            ))
        }
    };
    Ok(EtcdConfig {
        endpoints,
        use_proxies,
        username: raw.username,
        password: raw.password,
        cacert: raw.cacert,
        cert: raw.cert,
        key: raw.key,
    })
}

/// Turns `host`, `host:port` or `http(s)://host:port` into an endpoint URL; port defaults to 2379.
fn endpoint_url(a: &str, protocol: &str, port: Option<u16>) -> Result<String, String> {
    let (scheme, rest) = match a.split_once("://") {
        Some((s, r)) if s == "http" || s == "https" => (s.to_string(), r.trim_end_matches('/')),
        Some((s, _)) => {
            return Err(format!(
                "unknown etcd address form {a:?}: scheme {s:?}, expected http or https"
            ))
        }
        None => (protocol.to_string(), a),
    };
    let (host, p) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.starts_with('[') => {
            let p: u16 = p.parse().map_err(|_| {
                format!("unknown etcd address form {a:?}: expected host:port with a numeric port")
            })?;
            (h.to_string(), p)
        }
        _ => (rest.to_string(), port.unwrap_or(2379)),
    };
    if host.is_empty() || host.contains('/') || host.contains(' ') {
        return Err(format!(
            "unknown etcd address form {a:?}: expected host:port"
        ));
    }
    Ok(format!("{scheme}://{host}:{p}"))
}
