//! What `praetorctl` reads from a configuration file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::Value as Yaml;

use super::*;

/// What `praetorctl` reads from a configuration file: an agent's full file, or a patronictl-style
/// file holding only `scope`, `namespace`, `etcd3`/`etcd`, `ctl` (and `citus`).
#[derive(Debug, Clone)]
pub struct CtlConfig {
    /// Cluster name, when the file has one.
    pub scope: Option<String>,
    /// Key prefix in `/service/` form.
    pub namespace: String,
    /// etcd access.
    pub etcd: EtcdConfig,
    /// Basic auth for the members' REST APIs: `ctl.authentication`, else `restapi.authentication`.
    pub auth: Option<BasicAuth>,
    /// Citus group of the file's member, when it has a `citus` section.
    pub citus_group: Option<u32>,
    /// The file's Citus databases (`citus.databases`, else `citus.database`); empty without a
    /// `citus` section.
    pub citus_databases: Vec<String>,
    /// Superuser credentials for `praetorctl query` (`postgresql.authentication.superuser`).
    pub superuser: Credentials,
    /// TLS for the members' REST APIs: `ctl.cacert` (else `restapi.cafile`), `ctl.certfile` /
    /// `ctl.keyfile` (else `restapi.certfile` / `keyfile`), `ctl.insecure`.
    pub http_tls: tls::HttpClientTls,
}

impl CtlConfig {
    /// Loads `path` with `PATRONI_*` overrides from `env`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file and key.
    pub fn load(path: &Path, env: &BTreeMap<String, String>) -> Result<CtlConfig, ConfigError> {
        let source = path.display().to_string();
        let err = |key: &str, message: String| ConfigError {
            file: source.clone(),
            key: key.into(),
            message,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| err("(file)", format!("cannot read the file: {e}")))?;
        let mut doc: Yaml = serde_yaml::from_str(&text)
            .map_err(|e| err("(file)", format!("not valid YAML: {e}")))?;
        if !doc.is_mapping() {
            return Err(err(
                "(file)",
                "expected a YAML mapping at the top level".into(),
            ));
        }
        apply_env(&mut doc, env);
        let etcd = match (doc.get("etcd3"), doc.get("etcd")) {
            (Some(v), _) => parse_etcd(v, "etcd3", &source)?,
            (None, Some(v)) => parse_etcd(v, "etcd", &source)?,
            (None, None) => return Err(err("etcd3", "required section is missing".into())),
        };
        let get_str = |v: Option<&Yaml>, key: &str| -> Result<Option<String>, ConfigError> {
            match v {
                None | Some(Yaml::Null) => Ok(None),
                Some(Yaml::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(err(key, "expected a string".into())),
            }
        };
        let auth_at = |v: Option<&Yaml>, key: &str| -> Result<Option<BasicAuth>, ConfigError> {
            match v {
                None | Some(Yaml::Null) => Ok(None),
                Some(v) => typed::<BasicAuth>(v, key, &source).map(Some),
            }
        };
        let auth = match auth_at(
            doc.get("ctl").and_then(|c| c.get("authentication")),
            "ctl.authentication",
        )? {
            Some(a) => Some(a),
            None => auth_at(
                doc.get("restapi").and_then(|c| c.get("authentication")),
                "restapi.authentication",
            )?,
        };
        let citus = match doc.get("citus") {
            None => None,
            Some(v) => Some(typed::<Citus>(v, "citus", &source)?),
        };
        let citus_group = citus.as_ref().map(|c| c.group);
        let citus_databases = citus.map(|c| c.databases()).unwrap_or_default();
        let superuser = match doc
            .get("postgresql")
            .and_then(|p| p.get("authentication"))
            .and_then(|a| a.get("superuser"))
        {
            Some(v) => typed::<Credentials>(v, "postgresql.authentication.superuser", &source)?,
            None => Credentials::default(),
        };
        let path_at = |sec: &str, k: &str| -> Result<Option<PathBuf>, ConfigError> {
            Ok(
                get_str(doc.get(sec).and_then(|c| c.get(k)), &format!("{sec}.{k}"))?
                    .map(PathBuf::from),
            )
        };
        let insecure = match doc.get("ctl").and_then(|c| c.get("insecure")) {
            None | Some(Yaml::Null) => false,
            Some(Yaml::Bool(b)) => *b,
            Some(_) => return Err(err("ctl.insecure", "expected true or false".into())),
        };
        let http_tls = match path_at("ctl", "certfile")? {
            Some(certfile) => tls::HttpClientTls {
                cacert: path_at("ctl", "cacert")?.or(path_at("restapi", "cafile")?),
                certfile: Some(certfile),
                keyfile: path_at("ctl", "keyfile")?,
                insecure,
            },
            None => tls::HttpClientTls {
                cacert: path_at("ctl", "cacert")?.or(path_at("restapi", "cafile")?),
                certfile: path_at("restapi", "certfile")?,
                keyfile: path_at("restapi", "keyfile")?,
                insecure,
            },
        };
        Ok(CtlConfig {
            http_tls,
            scope: get_str(doc.get("scope"), "scope")?,
            namespace: normalise_namespace(
                get_str(doc.get("namespace"), "namespace")?
                    .as_deref()
                    .unwrap_or("/service/"),
            ),
            etcd,
            auth,
            citus_group,
            citus_databases,
            superuser,
        })
    }
}
