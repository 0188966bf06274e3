//! The layering in ARCHITECTURE.md, checked mechanically: which module may name which. A wrong
//! arrow (an adapter importing the core, the core doing I/O, the configuration importing an
//! adapter, the CLI importing the REST handlers) fails here with the file and line.
//!
//! The check reads the source: every non-comment line that names `crate::<module>` (or, in the
//! binaries, `praetor::<module>`), and for the pure core the I/O it must not do.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("reading src") {
        let p = e.expect("a directory entry").path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// (file relative to the crate root, line number, code line) for every line outside comments
/// and outside `#[cfg(test)]` modules (tests may use what they like).
fn code_lines() -> Vec<(String, usize, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    let mut out = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(root)
            .expect("under the root")
            .display()
            .to_string();
        let text = std::fs::read_to_string(&f).expect("reading a source file");
        // The item after `#[cfg(test)]` (a test module) is skipped up to its closing brace.
        let mut skipping = false;
        let mut depth = 0i32;
        let mut opened = false;
        for (i, line) in text.lines().enumerate() {
            let t = line.trim_start();
            if t.starts_with("//") {
                continue;
            }
            if t == "#[cfg(test)]" {
                (skipping, depth, opened) = (true, 0, false);
                continue;
            }
            if skipping {
                for c in line.chars() {
                    match c {
                        '{' => {
                            depth += 1;
                            opened = true;
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                if (opened && depth <= 0) || (!opened && t.ends_with(';')) {
                    skipping = false;
                }
                continue;
            }
            out.push((rel.clone(), i + 1, line.to_string()));
        }
    }
    out
}

/// Whether `line` names module `m` of praetor (`crate::m` or `praetor::m`, followed by `::`,
/// `;`, `,`, `}` or a space).
fn names(line: &str, m: &str) -> bool {
    // A grouped import, `use crate::{ha, api::x}`: each member counts as named.
    for p in ["crate::{", "praetor::{"] {
        if let Some(i) = line.find(p) {
            let inner = &line[i + p.len()..];
            let inner = &inner[..inner.find('}').unwrap_or(inner.len())];
            let top = m.split("::").next().unwrap_or(m);
            if inner
                .split(',')
                .map(|x| x.trim())
                .any(|x| x == top || x.starts_with(&format!("{top}::")))
                && !m.contains("::")
            {
                return true;
            }
        }
    }
    ["crate::", "praetor::"].iter().any(|p| {
        let pat = format!("{p}{m}");
        line.match_indices(&pat).any(|(i, _)| {
            let rest = &line[i + pat.len()..];
            rest.is_empty() || rest.starts_with([':', ';', ',', '}', ' ', ')'])
        })
    })
}

struct Rule {
    /// Files the rule applies to (path prefixes).
    files: &'static [&'static str],
    /// Modules they must not name.
    never: &'static [&'static str],
    /// Words (I/O) they must not use.
    never_words: &'static [&'static str],
    why: &'static str,
}

const RULES: &[Rule] = &[
    Rule {
        files: &[
            "src/ha/",
            "src/dcs/endpoints.rs",
            "src/citus/mod.rs",
            "src/postgres/render.rs",
            "src/postgres/parse.rs",
            "src/ctl/render.rs",
            "src/peer.rs",
        ],
        never: &[
            "agent",
            "api",
            "postgres",
            "dcs::etcd",
            "citus::handler",
            "tls",
            "watchdog",
            "fence",
            "testbed",
        ],
        never_words: &[
            "tokio",
            "std::fs",
            "std::process",
            "std::net",
            "Instant::now",
            "SystemTime::now",
            "Utc::now",
            "Local::now",
            "async fn",
            ".await",
        ],
        why: "the pure core decides over a snapshot; it does no I/O and reads no clock",
    },
    Rule {
        files: &[
            "src/postgres/",
            "src/dcs/",
            "src/tls.rs",
            "src/watchdog.rs",
            "src/fence.rs",
            "src/citus/handler.rs",
        ],
        never: &["ha", "agent", "api"],
        never_words: &[],
        why: "adapters carry out; they never import the core or the runtime",
    },
    Rule {
        files: &["src/config/", "src/types.rs"],
        never: &[
            "agent", "api", "ha", "postgres", "dcs", "tls", "watchdog", "fence", "citus", "ctl",
            "testbed",
        ],
        never_words: &[],
        why: "configuration and types are the ground floor: they import nothing of praetor above them",
    },
    Rule {
        files: &["src/ctl/", "src/bin/praetorctl.rs"],
        never: &["api", "agent"],
        never_words: &[],
        why: "the CLI talks to etcd and the REST APIs; it never imports the server",
    },
];

fn violations() -> Vec<String> {
    let mut bad = Vec::new();
    for (file, n, line) in code_lines() {
        for r in RULES {
            if !r.files.iter().any(|f| file.starts_with(f)) {
                continue;
            }
            for m in r.never {
                if names(&line, m) {
                    bad.push(format!(
                        "{file}:{n}: names {m}: {} ({})",
                        line.trim(),
                        r.why
                    ));
                }
            }
            for w in r.never_words {
                if line.contains(w) {
                    bad.push(format!("{file}:{n}: uses {w}: {} ({})", line.trim(), r.why));
                }
            }
        }
    }
    bad
}

#[test]
fn the_layers_hold() {
    let bad = violations();
    assert!(bad.is_empty(), "layering broken:\n{}", bad.join("\n"));
}

#[test]
fn the_check_sees_a_wrong_arrow() {
    assert!(names("use crate::ha::{DataDir, PgState};", "ha"));
    assert!(names("    crate::ha::sync::guc_value(&n, 1)", "ha"));
    assert!(names("use praetor::api::control::merge_patch;", "api"));
    assert!(!names("use crate::hash::Thing;", "ha"));
    assert!(!names("use crate::types::Lsn;", "ha"));
    assert!(names("use crate::dcs::etcd::EtcdDcs;", "dcs::etcd"));
    assert!(!names("use crate::dcs::ClusterView;", "dcs::etcd"));
    assert!(names("use crate::{config, ha::Action};", "ha"));
    assert!(!names("use crate::{config, hash};", "ha"));
}
