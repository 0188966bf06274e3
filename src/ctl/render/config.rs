//! What patronictl prints of a group's keys besides its members, and the edits to its
//! configuration: `history` (the `/history` timelines), the dynamic configuration as YAML
//! (`show-config`, the editor's file) and its diff (`edit-config`), `-s`/`-p` values read as
//! YAML 1.1 and applied to it, and Patroni's `patch_config`.

use anyhow::{bail, Result};
use serde_json::{json, Value};

use crate::dcs::ClusterView;

use super::{difflib, print_output, pyfmt, Doc, Format};

/// `history`: `TL | LSN | Reason | Timestamp | New Leader`, the LSN in bytes, as patronictl.
///
/// # Errors
/// Never; kept fallible for callers written against the earlier signature.
pub fn render_history(view: &ClusterView, format: Format) -> Result<String> {
    let rows: Vec<Vec<Doc>> = view
        .history
        .iter()
        .map(|h| {
            vec![
                Doc::Int(i128::from(h.timeline)),
                Doc::Int(i128::from(h.switch_lsn.0)),
                Doc::str(&h.reason),
                Doc::str(h.timestamp.clone().unwrap_or_default()),
                Doc::str(h.new_leader.clone().unwrap_or_default()),
            ]
        })
        .collect();
    Ok(print_output(
        Some(&["TL", "LSN", "Reason", "Timestamp", "New Leader"]),
        rows,
        &["TL", "LSN"],
        format.into(),
        "",
        "\t",
    ))
}

// ---- the dynamic configuration ----

/// YAML text of a configuration as patronictl shows it (`show-config`, the editor's file, the
/// diff): PyYAML block style, keys sorted.
pub fn config_yaml(v: &Value) -> String {
    pyfmt::py_yaml(&Doc::from(v), false)
}

/// `difflib.unified_diff` of two texts, one printed line per element (`--- `, `+++ `, hunks);
/// empty when the texts are equal.
pub fn text_diff(before: &str, after: &str) -> Vec<String> {
    let a: Vec<&str> = before.trim_end_matches('\n').split('\n').collect();
    let b: Vec<&str> = after.trim_end_matches('\n').split('\n').collect();
    difflib::unified_diff(&a, &b)
}

/// The diff patronictl shows between two configurations' YAML forms, as one text; empty when equal.
pub fn config_diff(old: &Value, new: &Value) -> String {
    text_diff(&config_yaml(old), &config_yaml(new))
        .into_iter()
        .map(|l| l + "\n")
        .collect()
}

impl Doc {
    /// The JSON value (what is written to etcd); NaN and infinities become null.
    pub fn to_value(&self) -> Value {
        match self {
            Doc::Null => Value::Null,
            Doc::Bool(b) => json!(b),
            Doc::Int(i) => i64::try_from(*i)
                .map(|n| json!(n))
                .or_else(|_| u64::try_from(*i).map(|n| json!(n)))
                .unwrap_or_else(|_| json!(*i as f64)),
            Doc::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Doc::Str(s) => json!(s),
            Doc::List(l) => Value::Array(l.iter().map(Doc::to_value).collect()),
            Doc::Map(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_value())).collect())
            }
        }
    }
}

fn yaml_to_json(y: serde_yaml::Value) -> Value {
    serde_json::to_value(y).unwrap_or(Value::Null)
}

/// `yaml.safe_load` of a `-s`/`-p` value: plain scalars with YAML 1.1's types (`on` is true,
/// empty is null), quoted scalars as text, flow collections as such.
///
/// # Errors
/// Text that is not YAML.
pub fn parse_set_value(raw: &str) -> Result<Value> {
    let t = raw.trim();
    let plain = !t.starts_with(['\'', '"', '[', '{', '|', '>', '&', '*', '!']);
    let parsed: serde_yaml::Value = match serde_yaml::from_str(t) {
        Ok(v) => v,
        Err(e) => bail!("{raw:?} is not a YAML value: {e}"),
    };
    match parsed {
        serde_yaml::Value::Null
        | serde_yaml::Value::Bool(_)
        | serde_yaml::Value::Number(_)
        | serde_yaml::Value::String(_)
            if plain =>
        {
            let text = t.split(" #").next().unwrap_or("").trim_end();
            Ok(pyfmt::yaml11_plain(text).to_value())
        }
        other => Ok(yaml_to_json(other)),
    }
}

/// Applies `-s key.path=value` to a dynamic configuration as patronictl does: the path is split
/// on dots (below `postgresql.parameters` the rest is one name, so GUCs with dots work), the value
/// is YAML (`null` or nothing deletes the key), a non-mapping on the way is replaced by one, and
/// mappings left empty by a deletion are removed.
///
/// # Errors
/// No `=` in the argument (`Invalid parameter setting …`), or a value that is not YAML.
pub fn apply_set(config: &mut Value, arg: &str) -> Result<()> {
    let Some((path, raw)) = arg.split_once('=') else {
        bail!("Invalid parameter setting {arg}");
    };
    let value = parse_set_value(raw)?;
    let keys: Vec<String> = path.trim().split('.').map(String::from).collect();
    if !config.is_object() {
        *config = json!({});
    }
    set_path(config, &keys, value, 0);
    Ok(())
}

fn set_path(config: &mut Value, path: &[String], value: Value, depth: usize) {
    let Some(obj) = config.as_object_mut() else {
        return;
    };
    let joined;
    let path: &[String] = if depth == 2 && path.len() > 1 {
        joined = [path.join(".")];
        &joined
    } else {
        path
    };
    let key = &path[0];
    if path.len() == 1 {
        if value.is_null() {
            obj.remove(key);
        } else {
            obj.insert(key.clone(), value);
        }
        return;
    }
    if !obj.get(key).is_some_and(Value::is_object) {
        obj.insert(key.clone(), json!({}));
    }
    let below_parameters = depth == 1 && key == "parameters";
    let next_depth = match depth {
        0 if key == "postgresql" => 1,
        1 if below_parameters => 2,
        _ => 3,
    };
    let child = obj.get_mut(key).expect("inserted above");
    set_path(child, &path[1..], value, next_depth);
    if child.as_object().is_some_and(serde_json::Map::is_empty) {
        obj.remove(key);
    }
}

/// Patroni's `patch_config`: merges `patch` into `config`; a null deletes, mappings merge, other
/// values replace when their text differs (so `1` does not replace `"1"`).
pub fn patch_config(config: &mut Value, patch: &Value) {
    let (Some(c), Some(p)) = (config.as_object_mut(), patch.as_object()) else {
        return;
    };
    for (k, v) in p {
        if v.is_null() {
            c.remove(k);
        } else if let Some(old) = c.get_mut(k) {
            if v.is_object() {
                if old.is_object() {
                    patch_config(old, v);
                } else {
                    *old = v.clone();
                }
            } else if Doc::from(&*old).py_str() != Doc::from(v).py_str() {
                *old = v.clone();
            }
        } else {
            c.insert(k.clone(), v.clone());
        }
    }
}
