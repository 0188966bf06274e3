//! The fate of every key of Patroni 4.1's YAML configuration, decided in one table ([`KEYS`]),
//! and the walk over a configuration document that reports every key whose fate is not
//! "implemented".
//!
//! Each key praetor meets is in one of four states:
//!
//! - **implemented**: praetor gives it Patroni's meaning (it is read where it matters, not only
//!   parsed);
//! - **refused**: praetor cannot honour it, and running as if it were absent could change what
//!   happens to the data or to which member is primary (a standby cluster run as an independent
//!   primary, initdb instead of a restore, a replica made by basebackup instead of the configured
//!   method, …): the configuration does
//!   not load;
//! - **warned**: praetor does not honour it, but nothing a member decides depends on it (thread
//!   pools, log files, extra HTTP headers, …): one warning line, and the configuration loads;
//! - **unknown**: not a key of Patroni's configuration (a typo, most likely): one warning naming
//!   the nearest known key.
//!
//! Some keys are decided by their value ([`Fate::ByValue`]): `synchronous_mode: quorum` is refused
//! while `on` is implemented, `bootstrap.method: initdb` is what praetor does anyway, and so on.
//! A warned or refused key whose value asks for nothing (null, `""`, `[]`, `{}` or `false`, e.g.
//! Patroni's own example's `nostream: false`) is not reported: Patroni does nothing with it either.
//!
//! Key names come from Patroni's documentation (`docs/yaml_configuration.rst`,
//! `docs/dynamic_configuration.rst`) and its schema (`patroni/validator.py`) at v4.1.4; a few keys
//! of Patroni's development branch after 4.1 are listed too, so a file written for it is not
//! silently half-read. The dynamic configuration's keys are listed under `bootstrap.dcs.`, the
//! place a local file gives them; [`check_dynamic`] walks a `/config` document with the same
//! entries.

use serde_yaml::{Mapping, Value as Yaml};

mod table;

pub use table::KEYS;

/// What praetor does with one key.
#[derive(Clone, Copy)]
pub enum Fate {
    /// Read and given Patroni's meaning.
    Implemented,
    /// Not honoured, and harmless to ignore: one warning with this reason (none for a value that
    /// asks for nothing: null, `""`, `[]`, `{}`, `false`).
    Warned(&'static str),
    /// Not honoured, and ignoring it could change what happens to data or roles: a configuration
    /// error with this reason (none for a value that asks for nothing, as for `Warned`).
    Refused(&'static str),
    /// Decided by the value alone: the function returns one of the three fates above for it (the
    /// "asks for nothing" rule does not apply; the function decides).
    ByValue(fn(&Yaml) -> Fate),
}

impl std::fmt::Debug for Fate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fate::Implemented => f.write_str("Implemented"),
            Fate::Warned(r) => f.debug_tuple("Warned").field(r).finish(),
            Fate::Refused(r) => f.debug_tuple("Refused").field(r).finish(),
            Fate::ByValue(_) => f.write_str("ByValue(..)"),
        }
    }
}

impl Fate {
    /// The fate for `value`: a [`Fate::ByValue`] asks its function; a warned or refused key
    /// whose value asks for nothing (null, `""`, `[]`, `{}`, `false`) is implemented (nothing to
    /// honour); the others are themselves. A function that answers `ByValue` again counts as
    /// implemented (none in the table does).
    pub fn resolve(self, value: &Yaml) -> Fate {
        match self {
            Fate::ByValue(f) => match f(value) {
                Fate::ByValue(_) => Fate::Implemented,
                other => other,
            },
            Fate::Warned(_) | Fate::Refused(_) if asks_nothing(value) => Fate::Implemented,
            other => other,
        }
    }
}

/// One key of Patroni's configuration and its fate.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// Dotted path from the top of the file. `*` stands for any one name (a GUC under
    /// `postgresql.parameters`, a custom tag); `<method>` for the section named by
    /// `bootstrap.method`, `<replica_method>` for a section named in
    /// `postgresql.create_replica_methods`.
    pub path: &'static str,
    /// What praetor does with it.
    pub fate: Fate,
}

/// Whether a finding stops the configuration from loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// A refused key: the configuration does not load.
    Error,
    /// An ignored or unknown key: the configuration loads; the agent logs the line once at start.
    Warning,
}

/// One problem with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// Dotted path of the key, as in the file (`postgresql.parameters.max_connections`).
    pub key: String,
    /// What is wrong, starting with [`REFUSED`], [`IGNORED`] or [`UNKNOWN`].
    pub message: String,
}

/// How the message of a refused key begins; the table's reason follows.
pub const REFUSED: &str = "not supported by praetor: ";
/// How the message of a warned key begins; the table's reason follows.
pub const IGNORED: &str = "ignored by praetor: ";
/// How the message of an unknown key begins; the nearest known key follows.
pub const UNKNOWN: &str = "unknown key, ignored; the nearest known key is ";

use Fate::{ByValue, Implemented, Refused, Warned};

// ---- value checks --------------------------------------------------------------------------

fn is_empty(v: &Yaml) -> bool {
    match v {
        Yaml::Null => true,
        Yaml::String(s) => s.trim().is_empty(),
        Yaml::Sequence(s) => s.is_empty(),
        Yaml::Mapping(m) => m.is_empty(),
        _ => false,
    }
}

/// A value that asks for nothing: empty, or `false`.
fn asks_nothing(v: &Yaml) -> bool {
    is_empty(v) || matches!(v, Yaml::Bool(false))
}

// ---- the walk ------------------------------------------------------------------------------

/// Every problem with the keys of a configuration document (after the `PATRONI_*` overrides are
/// applied), in document order: errors for refused keys and refused values, warnings for ignored
/// and unknown keys. Pure; never panics; a document that is not a mapping has no keys to check
/// (the typed parse reports it).
pub fn check(doc: &Yaml) -> Vec<Finding> {
    let mut w = Walker {
        root: doc,
        strip: 0,
        out: Vec::new(),
    };
    if let Yaml::Mapping(m) = doc {
        w.walk(m, &mut Vec::new());
    }
    w.out
}

/// [`check`] for a dynamic configuration (the `/config` key's document, or `bootstrap.dcs`):
/// the same entries of [`KEYS`] (those under `bootstrap.dcs.`), keys reported relative to it
/// (`postgresql.pg_hba`).
pub fn check_dynamic(doc: &Yaml) -> Vec<Finding> {
    let mut dcs = Mapping::new();
    dcs.insert(Yaml::from("dcs"), doc.clone());
    let mut bootstrap = Mapping::new();
    bootstrap.insert(Yaml::from("bootstrap"), Yaml::Mapping(dcs));
    let root = Yaml::Mapping(bootstrap);
    let mut w = Walker {
        root: &root,
        strip: 2,
        out: Vec::new(),
    };
    if let Yaml::Mapping(m) = doc {
        w.walk(m, &mut vec!["bootstrap".into(), "dcs".into()]);
    }
    w.out
}

/// The table entry whose path is exactly `path` (wildcards written as in the table).
pub fn lookup(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.path == path)
}

struct Walker<'a> {
    /// The whole document (for `bootstrap.method` and `postgresql.create_replica_methods`).
    root: &'a Yaml,
    /// Leading path segments left out of reported keys.
    strip: usize,
    out: Vec<Finding>,
}

/// A YAML mapping key as a path segment (numbers and booleans as written, other forms named).
fn segment(k: &Yaml) -> String {
    match k {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Null => "null".into(),
        _ => "(non-scalar key)".into(),
    }
}

impl Walker<'_> {
    fn name(&self, path: &[String]) -> String {
        path.get(self.strip..).unwrap_or_default().join(".")
    }

    fn shown(&self, table_path: &str) -> String {
        if self.strip == 2 {
            table_path
                .strip_prefix("bootstrap.dcs.")
                .unwrap_or(table_path)
                .to_string()
        } else {
            table_path.to_string()
        }
    }

    fn push(&mut self, severity: Severity, path: &[String], message: String) {
        self.out.push(Finding {
            severity,
            key: self.name(path),
            message,
        });
    }

    /// Walks mapping `m` found at `path`.
    fn walk(&mut self, m: &Mapping, path: &mut Vec<String>) {
        for (key, value) in m {
            path.push(segment(key));
            match entry_for(self.root, path) {
                Some((entry, wildcard)) => match entry.fate.resolve(value) {
                    Implemented => {
                        if wildcard {
                            self.near_miss(path);
                        }
                        let prefix = format!("{}.", entry.path);
                        if let Yaml::Mapping(inner) = value {
                            if KEYS.iter().any(|k| k.path.starts_with(&prefix)) {
                                self.walk(inner, path);
                            }
                        }
                    }
                    Warned(reason) => {
                        self.push(Severity::Warning, path, format!("{IGNORED}{reason}"))
                    }
                    Refused(reason) => {
                        self.push(Severity::Error, path, format!("{REFUSED}{reason}"))
                    }
                    ByValue(_) => {}
                },
                None => {
                    let nearest = self.shown(nearest(path));
                    self.push(Severity::Warning, path, format!("{UNKNOWN}{nearest}"));
                }
            }
            path.pop();
        }
    }

    /// A name taken by a wildcard (a custom tag) that is one or two edits from a known sibling
    /// (`tags.nofailver`) is most likely that sibling mistyped: a warning says so.
    fn near_miss(&mut self, path: &[String]) {
        let Some((last, parent)) = path.split_last() else {
            return;
        };
        if last.chars().count() < 4 {
            return;
        }
        let close = siblings(parent)
            .filter(|k| {
                k.path
                    .rsplit('.')
                    .next()
                    .is_some_and(|s| s != last && strsim::damerau_levenshtein(s, last) <= 2)
            })
            .map(|k| k.path)
            .next();
        if let Some(known) = close {
            let known = self.shown(known);
            self.push(
                Severity::Warning,
                path,
                format!("taken as a custom key; did you mean {known}?"),
            );
        }
    }
}

/// Whether table segment `pat` matches path segment `seg` at `path[..i]` in `root`.
fn segment_matches(root: &Yaml, path: &[String], i: usize, pat: &str, seg: &str) -> bool {
    match pat {
        "*" => true,
        "<method>" => {
            i == 1
                && path.first().is_some_and(|p| p == "bootstrap")
                && seg != "initdb"
                && root
                    .get("bootstrap")
                    .and_then(|b| b.get("method"))
                    .and_then(Yaml::as_str)
                    == Some(seg)
        }
        "<replica_method>" => {
            i == 1
                && path.first().is_some_and(|p| p == "postgresql")
                && seg != "basebackup"
                && match root
                    .get("postgresql")
                    .and_then(|p| p.get("create_replica_methods"))
                {
                    Some(Yaml::Sequence(s)) => s.iter().any(|m| m.as_str() == Some(seg)),
                    Some(Yaml::String(s)) => s.split(',').any(|m| m.trim() == seg),
                    _ => false,
                }
        }
        lit => lit == seg,
    }
}

/// The entry for `path` and whether a wildcard matched it: the entry with the most literal
/// segments among those that match.
fn entry_for(root: &Yaml, path: &[String]) -> Option<(&'static Key, bool)> {
    let mut best: Option<(&'static Key, usize)> = None;
    for (key, pats) in KEYS.iter().zip(segments()) {
        if pats.len() != path.len() {
            continue;
        }
        let all = pats
            .iter()
            .zip(path)
            .enumerate()
            .all(|(i, (p, s))| segment_matches(root, path, i, p, s));
        if !all {
            continue;
        }
        let literal = pats
            .iter()
            .zip(path)
            .filter(|(p, s)| **p == s.as_str())
            .count();
        if best.is_none_or(|(_, l)| literal > l) {
            best = Some((key, literal));
        }
    }
    best.map(|(k, literal)| (k, literal < path.len()))
}

/// Each [`KEYS`] entry's path split at its dots, in table order: split once, not for every key
/// of every document checked.
fn segments() -> &'static [Vec<&'static str>] {
    static SEGMENTS: std::sync::LazyLock<Vec<Vec<&'static str>>> =
        std::sync::LazyLock::new(|| KEYS.iter().map(|k| k.path.split('.').collect()).collect());
    &SEGMENTS
}

/// Entries directly under `parent` (a path of the document) with a literal last segment.
fn siblings(parent: &[String]) -> impl Iterator<Item = &'static Key> + '_ {
    KEYS.iter().zip(segments()).filter_map(move |(k, pats)| {
        let (last, init) = pats.split_last()?;
        let sibling = !last.starts_with('<')
            && *last != "*"
            && init.len() == parent.len()
            && init
                .iter()
                .zip(parent)
                .all(|(p, s)| *p == "*" || p.starts_with('<') || *p == s.as_str());
        sibling.then_some(k)
    })
}

/// The known key nearest to unknown `path`: a close sibling; else the same name elsewhere in
/// the table (a dynamic setting written at the top level, say); else the closest sibling; else
/// the closest name anywhere.
fn nearest(path: &[String]) -> &'static str {
    let Some((last, parent)) = path.split_last() else {
        return "scope";
    };
    let score = |k: &Key| strsim::jaro_winkler(k.path.rsplit('.').next().unwrap_or(k.path), last);
    let best_sibling = siblings(parent).max_by(|a, b| score(a).total_cmp(&score(b)));
    if let Some(s) = best_sibling.filter(|s| score(s) >= 0.85) {
        return s.path;
    }
    // Of the same name elsewhere: the one sharing most leading segments with `path`, then an
    // implemented one, then the shortest.
    let shared = |k: &Key| {
        k.path
            .split('.')
            .zip(path)
            .take_while(|(a, b)| *a == b.as_str())
            .count()
    };
    let same_name = KEYS
        .iter()
        .filter(|k| k.path.rsplit('.').next() == Some(last.as_str()))
        .filter(|k| !k.path.contains('*') && !k.path.contains('<'))
        .min_by_key(|k| {
            (
                std::cmp::Reverse(shared(k)),
                !matches!(k.fate, Implemented | ByValue(_)),
                k.path.split('.').count(),
            )
        });
    if let Some(k) = same_name {
        return k.path;
    }
    if let Some(s) = best_sibling {
        return s.path;
    }
    KEYS.iter()
        .filter(|k| !k.path.contains('*') && !k.path.contains('<'))
        .max_by(|a, b| score(a).total_cmp(&score(b)))
        .map_or("scope", |k| k.path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document holding `path` (mappings on the way) with `leaf` at the end.
    fn doc_with(path: &[String], leaf: Yaml) -> Yaml {
        let mut v = leaf;
        for seg in path.iter().rev() {
            let mut m = Mapping::new();
            m.insert(Yaml::String(seg.clone()), v);
            v = Yaml::Mapping(m);
        }
        v
    }

    /// A concrete path for a table path: wildcards become a made-up name.
    fn concrete(path: &str) -> Vec<String> {
        path.split('.')
            .map(|s| match s {
                "*" | "<method>" | "<replica_method>" => "custom_x".to_string(),
                s => s.to_string(),
            })
            .collect()
    }

    fn yaml(text: &str) -> Yaml {
        serde_yaml::from_str(text).unwrap()
    }

    /// What the walk must report for a document holding only `path`: the first of its ancestors
    /// (or itself) whose fate for its value there is not implemented.
    fn expected(doc: &Yaml, path: &[String]) -> Option<(String, Fate)> {
        let mut v = doc;
        for i in 0..path.len() {
            v = v.get(path[i].as_str())?;
            let (entry, _) = entry_for(doc, &path[..=i])?;
            match entry.fate.resolve(v) {
                Implemented => {}
                f => return Some((path[..=i].join("."), f)),
            }
        }
        None
    }

    #[test]
    fn every_entry_gets_exactly_its_fate() {
        for key in KEYS {
            if matches!(key.fate, ByValue(_)) {
                continue; // by_value_entries_follow_their_values
            }
            let path = concrete(key.path);
            let mut doc = doc_with(&path, Yaml::from("x"));
            let mut extra = None;
            if key.path.starts_with("bootstrap.<method>") {
                doc["bootstrap"]["method"] = Yaml::from("custom_x");
                extra = Some("bootstrap.method");
            }
            if key.path.starts_with("postgresql.<replica_method>") {
                doc["postgresql"]["create_replica_methods"] = yaml("[custom_x]");
                extra = Some("postgresql.create_replica_methods");
            }
            let found: Vec<Finding> = check(&doc)
                .into_iter()
                .filter(|f| Some(f.key.as_str()) != extra)
                .collect();
            match expected(&doc, &path) {
                None => assert!(found.is_empty(), "{}: {found:?}", key.path),
                Some((at, Refused(reason))) => assert_eq!(
                    found,
                    vec![Finding {
                        severity: Severity::Error,
                        key: at,
                        message: format!("not supported by praetor: {reason}"),
                    }],
                    "{}",
                    key.path
                ),
                Some((at, Warned(reason))) => assert_eq!(
                    found,
                    vec![Finding {
                        severity: Severity::Warning,
                        key: at,
                        message: format!("ignored by praetor: {reason}"),
                    }],
                    "{}",
                    key.path
                ),
                Some((_, ByValue(_))) | Some((_, Implemented)) => unreachable!(),
            }
        }
    }

    #[test]
    fn by_value_entries_follow_their_values() {
        // (path, value, expected severity or None for implemented)
        let cases: &[(&str, &str, Option<Severity>)] = &[
            ("log.format", "json", None),
            ("log.format", "plain", None),
            (
                "log.format",
                "'%(asctime)s %(message)s'",
                Some(Severity::Warning),
            ),
            (
                "log.format",
                "[message, levelname]",
                Some(Severity::Warning),
            ),
            ("bootstrap.dcs.synchronous_mode", "true", None),
            ("bootstrap.dcs.synchronous_mode", "'on'", None),
            ("bootstrap.dcs.synchronous_mode", "off", None),
            ("bootstrap.dcs.synchronous_mode", "quorum", None),
            ("bootstrap.dcs.synchronous_mode", "Quorum", None),
            (
                "bootstrap.dcs.synchronous_mode",
                "maybe",
                Some(Severity::Error),
            ),
            ("postgresql.basebackup", "{max-rate: 100M}", None),
            ("postgresql.basebackup", "[{max-rate: 100M}, verbose]", None),
            (
                "postgresql.basebackup",
                "[verbose, {pgdata: /x}]",
                Some(Severity::Warning),
            ),
            (
                "postgresql.basebackup",
                "[{a: 1, b: 2}]",
                Some(Severity::Error),
            ),
            ("postgresql.basebackup", "fast", Some(Severity::Error)),
            ("watchdog.driver", "default", None),
            ("watchdog.driver", "testing", Some(Severity::Warning)),
            ("watchdog.mode", "automatic", None),
            ("watchdog.mode", "sometimes", Some(Severity::Warning)),
            ("watchdog.mode", "null", Some(Severity::Warning)),
            ("watchdog.mode", "false", None),
            ("postgresql.pre_promote", "/bin/fence --now", None),
            (
                "postgresql.pre_promote",
                "\"/bin/fence 'x\"",
                Some(Severity::Error),
            ),
            ("postgresql.before_stop", "/bin/true", None),
            ("log.dir", "/var/log/praetor", None),
            ("tags.sync_priority", "2", None),
            ("tags.sync_priority", "0", None),
            ("tags.sync_priority", "high", Some(Severity::Error)),
            ("bootstrap.dcs.maximum_lag_on_syncnode", "-1", None),
            ("bootstrap.dcs.maximum_lag_on_syncnode", "0", None),
            (
                "bootstrap.dcs.maximum_lag_on_syncnode",
                "1048576",
                Some(Severity::Warning),
            ),
            ("bootstrap.dcs.max_timelines_history", "0", None),
            (
                "bootstrap.dcs.max_timelines_history",
                "100",
                Some(Severity::Warning),
            ),
            ("bootstrap.dcs.primary_race_backoff", "0", None),
            (
                "bootstrap.dcs.primary_race_backoff",
                "5",
                Some(Severity::Error),
            ),
            ("etcd", "{}", Some(Severity::Error)),
            ("etcd", "{hosts: 'a:2379'}", Some(Severity::Error)),
            ("consul", "{}", Some(Severity::Error)),
            ("consul", "{host: 'a:8500'}", Some(Severity::Error)),
            (
                "exhibitor",
                "{hosts: [a], port: 8181}",
                Some(Severity::Error),
            ),
            ("kubernetes", "{labels: {app: x}}", Some(Severity::Error)),
            ("raft", "{self_addr: 'a:1'}", Some(Severity::Error)),
            ("zookeeper", "{hosts: ['a:2181']}", Some(Severity::Error)),
            ("postgresql.bin_name.pg_ctl", "pg_ctl", None),
            (
                "postgresql.bin_name.pg_ctl",
                "pg_ctl15",
                Some(Severity::Warning),
            ),
            ("postgresql.bin_name.pg_isready", "pg_isready", None),
            (
                "postgresql.bin_name.pg_isready",
                "isready",
                Some(Severity::Warning),
            ),
            ("postgresql.bin_name.initdb", "initdb", None),
            (
                "postgresql.bin_name.initdb",
                "initdb15",
                Some(Severity::Error),
            ),
            ("postgresql.bin_name.pg_controldata", "pg_controldata", None),
            (
                "postgresql.bin_name.pg_controldata",
                "x",
                Some(Severity::Error),
            ),
            ("postgresql.bin_name.pg_basebackup", "pg_basebackup", None),
            (
                "postgresql.bin_name.pg_basebackup",
                "x",
                Some(Severity::Error),
            ),
            ("postgresql.bin_name.postgres", "postgres", None),
            (
                "postgresql.bin_name.postgres",
                "postgres15",
                Some(Severity::Error),
            ),
            ("postgresql.bin_name.pg_rewind", "pg_rewind", None),
            ("postgresql.bin_name.pg_rewind", "x", Some(Severity::Error)),
        ];
        for key in KEYS.iter().filter(|k| matches!(k.fate, ByValue(_))) {
            assert!(
                cases.iter().any(|(p, _, _)| *p == key.path),
                "no case for {}",
                key.path
            );
        }
        for (p, v, want) in cases {
            let path = concrete(p);
            let found = check(&doc_with(&path, yaml(v)));
            match want {
                None => assert!(found.is_empty(), "{p}: {v}: {found:?}"),
                Some(s) => {
                    assert_eq!(found.len(), 1, "{p}: {v}: {found:?}");
                    assert_eq!(found[0].severity, *s, "{p}: {v}: {found:?}");
                    assert_eq!(found[0].key, *p, "{p}: {v}");
                }
            }
        }
        assert!(check(&yaml("bootstrap: {dcs: {synchronous_mode: quorum}}")).is_empty());
        let f = check(&yaml("bootstrap: {dcs: {synchronous_mode: sometimes}}"));
        assert!(f[0].message.starts_with(REFUSED), "{}", f[0].message);
    }

    #[test]
    fn the_table_is_a_tree_without_repeats() {
        let mut seen = std::collections::BTreeSet::new();
        for key in KEYS {
            assert!(seen.insert(key.path), "{} twice", key.path);
            if let Some((parent, _)) = key.path.rsplit_once('.') {
                assert!(lookup(parent).is_some(), "{} has no parent entry", key.path);
            }
            match key.fate {
                Warned(r) | Refused(r) => assert!(!r.is_empty(), "{}", key.path),
                _ => {}
            }
        }
    }

    #[test]
    fn unknown_keys_name_the_nearest_known_key() {
        let f = check(&yaml("postgresq: {listen: 'x:1'}"));
        assert_eq!(
            f,
            vec![Finding {
                severity: Severity::Warning,
                key: "postgresq".into(),
                message: format!("{UNKNOWN}postgresql"),
            }]
        );
        let f = check(&yaml(
            "postgresql: {authentication: {superuser: {sslmdoe: require}}}",
        ));
        assert_eq!(f[0].key, "postgresql.authentication.superuser.sslmdoe");
        assert!(
            f[0].message
                .ends_with("postgresql.authentication.superuser.sslmode"),
            "{f:?}"
        );
        // A dynamic setting at the top level points to where it belongs.
        let f = check(&yaml("ttl: 30"));
        assert_eq!(f[0].message, format!("{UNKNOWN}bootstrap.dcs.ttl"));
        // The same name nearest the key's own section (an unknown key under ctl).
        let f = check(&yaml("ctl: {username: u}"));
        assert_eq!(
            f[0].message,
            format!("{UNKNOWN}ctl.authentication.username")
        );
        // A custom tag one edit from a known tag is pointed out; others are custom tags.
        let f = check(&yaml("tags: {nofailver: true, rack: r1}"));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].key, "tags.nofailver");
        assert!(f[0].message.contains("tags.nofailover"), "{f:?}");
    }

    #[test]
    fn method_sections_are_known_only_when_named() {
        // Named by bootstrap.method or create_replica_methods: implemented (config::backup
        // checks their commands), their other keys passed to the command.
        let f = check(&yaml(
            "bootstrap: {method: restore, restore: {command: x, target: t}, initdb: [data-checksums]}\n\
             postgresql: {create_replica_methods: [wal_g, basebackup], wal_g: {command: y, threads: 4}, basebackup: {max-rate: 1M}}",
        ));
        assert!(f.is_empty(), "{f:?}");
        // Not named by a method: an unknown key.
        let f = check(&yaml("bootstrap: {restore: {command: x}}"));
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(f[0].message.starts_with(UNKNOWN));
    }

    #[test]
    fn dynamic_documents_use_the_same_entries() {
        let f = check_dynamic(&yaml(
            "ttl: 30\npostgresql: {pg_hba: [x], pg_ident: [y], parameters: {max_connections: 10}}\nsynchronous_mode: sometimes\nlop_wait: 3",
        ));
        let got: Vec<(&str, Severity)> = f.iter().map(|f| (f.key.as_str(), f.severity)).collect();
        assert_eq!(
            got,
            [
                ("synchronous_mode", Severity::Error),
                ("lop_wait", Severity::Warning)
            ]
        );
        assert_eq!(f[1].message, format!("{UNKNOWN}loop_wait"));
    }

    #[test]
    fn values_that_ask_for_nothing_are_not_reported() {
        // Patroni's own example (postgres0.yml) writes `nostream: false`.
        let f = check(&yaml(
            "tags: {nostream: false, replicatefrom: null}\n\
             postgresql: {pg_ident: [], pre_promote: '', use_unix_socket: false, recovery_conf: {}}\n\
             log: {deduplicate_heartbeat_logs: false}\n\
             bootstrap: {method: '', dcs: {slots: {}, ignore_slots: [], postgresql: {pg_hba: []}}}",
        ));
        assert!(f.is_empty(), "{f:?}");
        let f = check(&yaml(
            "tags: {nostream: true}\npostgresql: {pre_promote: /bin/true, custom_conf: /etc/x.conf}",
        ));
        assert!(f.is_empty(), "{f:?}");
    }

    /// Permanent slots (under each of Patroni's three names) and ignore_slots are implemented:
    /// nothing is reported for them; an unknown key inside a slot is.
    #[test]
    fn slots_and_ignore_slots_are_implemented() {
        let f = check(&yaml(
            "bootstrap: {dcs: {\
             slots: {a: {type: logical, database: d, plugin: p}, b: {type: physical, cluster_type: primary}, c: null}, \
             permanent_slots: {d: {type: physical}}, \
             permanent_replication_slots: {e: {database: d, plugin: p}}, \
             ignore_slots: [{name: x}, {type: logical, database: d, plugin: p}]}}",
        ));
        assert!(f.is_empty(), "{f:?}");
        let f = check_dynamic(&yaml("slots: {a: {type: physical, lsn: 5}}"));
        let got: Vec<(&str, Severity)> = f.iter().map(|f| (f.key.as_str(), f.severity)).collect();
        assert_eq!(got, [("slots.a.lsn", Severity::Warning)]);
        for key in [
            "bootstrap.dcs.slots",
            "bootstrap.dcs.slots.*.type",
            "bootstrap.dcs.permanent_slots",
            "bootstrap.dcs.permanent_replication_slots",
            "bootstrap.dcs.ignore_slots",
        ] {
            assert!(
                matches!(lookup(key).map(|k| k.fate), Some(Implemented)),
                "{key}"
            );
        }
    }

    #[test]
    fn odd_documents_do_not_panic() {
        for text in [
            "",
            "[1, 2]",
            "x",
            "{1: 2, true: x, null: y, [a]: b}",
            "postgresql: [1]",
            "bootstrap: {method: [x], dcs: 5}",
            "postgresql: {create_replica_methods: 7, parameters: {a.b: 1}}",
            "tags: {ab: 1, '': 2}",
        ] {
            let _ = check(&yaml(text));
            let _ = check_dynamic(&yaml(text));
        }
    }
}
