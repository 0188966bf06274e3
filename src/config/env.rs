//! Patroni's `PATRONI_*` environment overrides, applied onto the YAML document before it is typed.

use std::collections::BTreeMap;

use serde_yaml::Value as Yaml;

/// Sets `doc[path...] = value`, creating mappings on the way.
pub(super) fn set_path(doc: &mut Yaml, path: &[&str], value: Yaml) {
    let mut cur = doc;
    for (i, key) in path.iter().enumerate() {
        if !cur.is_mapping() {
            *cur = Yaml::Mapping(Default::default());
        }
        let map = cur.as_mapping_mut().expect("just made a mapping");
        let k = Yaml::String((*key).to_string());
        if i == path.len() - 1 {
            map.insert(k, value);
            return;
        }
        if !map.contains_key(&k) {
            map.insert(k.clone(), Yaml::Mapping(Default::default()));
        }
        cur = map.get_mut(&k).expect("just inserted");
    }
}

/// Applies Patroni's documented `PATRONI_*` environment overrides (§6.3) to the YAML document.
pub(super) fn apply_env(doc: &mut Yaml, env: &BTreeMap<String, String>) {
    let s = |v: &String| Yaml::String(v.clone());
    for (k, v) in env {
        let Some(rest) = k.strip_prefix("PATRONI_") else {
            continue;
        };
        let path: Option<Vec<String>> = match rest {
            "NAME" | "NAMESPACE" | "SCOPE" => Some(vec![rest.to_lowercase()]),
            "LOG_LEVEL" | "LOGLEVEL" => Some(vec!["log".into(), "level".into()]),
            "LOG_FORMAT" => Some(vec!["log".into(), "format".into()]),
            "LOG_TYPE" => Some(vec!["log".into(), "type".into()]),
            "RESTAPI_USERNAME" => Some(vec![
                "restapi".into(),
                "authentication".into(),
                "username".into(),
            ]),
            "RESTAPI_PASSWORD" => Some(vec![
                "restapi".into(),
                "authentication".into(),
                "password".into(),
            ]),
            "CITUS_DATABASE" => Some(vec!["citus".into(), "database".into()]),
            "CITUS_GROUP" => {
                let val = v
                    .parse::<u64>()
                    .map(|n| Yaml::Number(n.into()))
                    .unwrap_or_else(|_| s(v));
                set_path(doc, &["citus", "group"], val);
                None
            }
            _ => {
                if let Some(key) = rest.strip_prefix("RESTAPI_") {
                    Some(vec!["restapi".into(), key.to_lowercase()])
                } else if let Some(key) = rest.strip_prefix("POSTGRESQL_BIN_") {
                    Some(vec![
                        "postgresql".into(),
                        "bin_name".into(),
                        key.to_lowercase(),
                    ])
                } else if let Some(key) = rest.strip_prefix("POSTGRESQL_") {
                    matches!(
                        key,
                        "LISTEN"
                            | "CONNECT_ADDRESS"
                            | "PROXY_ADDRESS"
                            | "CONFIG_DIR"
                            | "DATA_DIR"
                            | "PGPASS"
                            | "BIN_DIR"
                    )
                    .then(|| vec!["postgresql".into(), key.to_lowercase()])
                } else if let Some(key) = rest.strip_prefix("CTL_") {
                    Some(vec!["ctl".into(), key.to_lowercase()])
                } else if let Some((role, key)) = ["SUPERUSER_", "REPLICATION_", "REWIND_"]
                    .iter()
                    .find_map(|p| rest.strip_prefix(p).map(|k| (p.trim_end_matches('_'), k)))
                {
                    Some(vec![
                        "postgresql".into(),
                        "authentication".into(),
                        role.to_lowercase(),
                        key.to_lowercase(),
                    ])
                } else if let Some((dcs, key)) = ["ETCD3_", "ETCD_"]
                    .iter()
                    .find_map(|p| rest.strip_prefix(p).map(|k| (p.trim_end_matches('_'), k)))
                {
                    let val = match key {
                        "PORT" => v
                            .parse::<u64>()
                            .map(|n| Yaml::Number(n.into()))
                            .unwrap_or_else(|_| s(v)),
                        _ => s(v),
                    };
                    set_path(doc, &[&dcs.to_lowercase(), &key.to_lowercase()], val);
                    None
                } else {
                    None
                }
            }
        };
        if let Some(p) = path {
            let refs: Vec<&str> = p.iter().map(String::as_str).collect();
            set_path(doc, &refs, s(v));
        }
    }
}

/// The process environment as a sorted map (for [`Config::load`]).
pub fn process_env() -> BTreeMap<String, String> {
    std::env::vars().collect()
}
