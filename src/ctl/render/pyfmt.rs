//! How patronictl's Python libraries print values, so praetorctl's machine-readable output is the
//! same text: PyYAML's `safe_dump` (block or flow style, keys sorted, width 200, YAML 1.1 quoting
//! of strings that would read back as another type), `json.dumps` with its default separators and
//! ASCII escapes, `str()` of lists, Python's float `repr` and its half-to-even `round`.
//!
//! Everything here is pure; [`Doc`] is the value model (a Python object made of dicts, lists and
//! scalars; dicts keep their insertion order, as Python's do).
//!
//! The value model and its conversion from JSON are here; the rest is in submodules whose items
//! are re-exported from this one: `python` (`str()`, `repr()`, the float `repr`, `round()`,
//! `json.dumps`), `resolver` (YAML 1.1's implicit types as PyYAML resolves them: which plain
//! scalars read back as something other than a string, and what `safe_load` makes of them) and
//! `emitter` (PyYAML's `safe_dump`).

mod emitter;
mod python;
mod resolver;

use serde_json::Value;

pub use emitter::py_yaml;
pub use python::{float_repr, py_json, round_half_even, str_repr};
pub use resolver::{plain_is_not_str, yaml11_plain};

/// A value as patronictl holds it before printing: dicts keep insertion order.
#[derive(Debug, Clone, PartialEq)]
pub enum Doc {
    /// `None`.
    Null,
    /// `True` / `False`.
    Bool(bool),
    /// An integer.
    Int(i128),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A list.
    List(Vec<Doc>),
    /// A dict, in insertion order.
    Map(Vec<(String, Doc)>),
}

impl Doc {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Doc {
        Doc::Str(s.into())
    }
}

impl From<&Value> for Doc {
    fn from(v: &Value) -> Doc {
        match v {
            Value::Null => Doc::Null,
            Value::Bool(b) => Doc::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Doc::Int(i128::from(i))
                } else if let Some(u) = n.as_u64() {
                    Doc::Int(i128::from(u))
                } else {
                    Doc::Float(n.as_f64().unwrap_or(0.0))
                }
            }
            Value::String(s) => Doc::Str(s.clone()),
            Value::Array(a) => Doc::List(a.iter().map(Doc::from).collect()),
            Value::Object(o) => {
                Doc::Map(o.iter().map(|(k, v)| (k.clone(), Doc::from(v))).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, Doc)]) -> Doc {
        Doc::Map(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn yaml_quotes_what_pyyaml_quotes() {
        let d = map(&[
            ("b", Doc::str("*")),
            ("a", Doc::str("max_connections: 100->200")),
            ("ts", Doc::str("2023-09-11T22:11:27.125527+00:00")),
            ("d", Doc::str("2030-01-01")),
            ("on", Doc::str("on")),
            ("n", Doc::str("010")),
            ("f", Doc::str("1.5")),
            ("e", Doc::str("")),
            ("plain", Doc::str("0/6300000")),
            ("u", Doc::str("1e3")),
            ("x", Doc::Int(5)),
            ("y", Doc::Bool(true)),
            ("z", Doc::Null),
            ("fl", Doc::Float(1e-5)),
            ("l", Doc::List(vec![Doc::Int(1), Doc::str("a b")])),
            ("m", map(&[("k", Doc::str("v"))])),
            ("em", Doc::Map(vec![])),
            ("multi", Doc::str("a: 1\nb: 2")),
        ]);
        // Checked against PyYAML 6.0.3's safe_dump(default_flow_style=False, width=200).
        assert_eq!(
            py_yaml(&d, false),
            "a: 'max_connections: 100->200'\nb: '*'\nd: '2030-01-01'\ne: ''\nem: {}\nf: '1.5'\nfl: 1.0e-05\nl:\n- 1\n- a b\nm:\n  k: v\nmulti: 'a: 1\n\n  b: 2'\nn: '010'\n'on': 'on'\nplain: 0/6300000\nts: '2023-09-11T22:11:27.125527+00:00'\nu: 1e3\nx: 5\ny: true\nz: null\n"
        );
        assert_eq!(
            py_yaml(
                &map(&[
                    ("nofailover", Doc::Bool(true)),
                    ("replicatefrom", Doc::str("c"))
                ]),
                true
            ),
            "{nofailover: true, replicatefrom: c}\n"
        );
        assert_eq!(py_yaml(&Doc::str("x"), false), "x\n...\n");
        let nested = Doc::List(vec![
            Doc::List(vec![Doc::Int(1), Doc::Int(2)]),
            map(&[(
                "a",
                Doc::List(vec![map(&[("b", Doc::Int(1)), ("c", Doc::List(vec![]))])]),
            )]),
        ]);
        assert_eq!(
            py_yaml(&nested, false),
            "- - 1\n  - 2\n- a:\n  - b: 1\n    c: []\n"
        );
        let lists = map(&[(
            "a",
            Doc::List(vec![
                Doc::List(vec![Doc::Int(1), Doc::Int(2)]),
                Doc::List(vec![Doc::str("x")]),
            ]),
        )]);
        assert_eq!(py_yaml(&lists, false), "a:\n- - 1\n  - 2\n- - x\n");
        let long = map(&[("k", Doc::Str("x ".repeat(120)))]);
        assert_eq!(
            py_yaml(&long, false),
            format!("k: '{}x\n  {}'\n", "x ".repeat(98), "x ".repeat(21))
        );
        let odd = map(&[
            ("k", Doc::str("tab\there")),
            ("c", Doc::str("\u{1}")),
            ("nb", Doc::str("a\u{a0}b")),
            ("q", Doc::str("it's")),
            ("hash", Doc::str("a #b")),
            ("col", Doc::str("a:b")),
            ("dash", Doc::str("- x")),
            ("lead", Doc::str(" x")),
        ]);
        assert_eq!(
            py_yaml(&odd, false),
            "c: \"\\x01\"\ncol: a:b\ndash: '- x'\nhash: 'a #b'\nk: \"tab\\there\"\nlead: ' x'\nnb: a\u{a0}b\nq: it's\n"
        );
        let flow = map(&[
            (
                "a",
                map(&[(
                    "b",
                    Doc::List(vec![
                        Doc::Int(1),
                        map(&[("c", Doc::str("d")), ("e", Doc::str("f"))]),
                    ]),
                )]),
            ),
            (
                "z",
                Doc::List(vec![map(&[("y", map(&[("x", Doc::Int(1))]))])]),
            ),
        ]);
        assert_eq!(
            py_yaml(&flow, true),
            "{a: {b: [1, {c: d, e: f}]}, z: [{y: {x: 1}}]}\n"
        );
    }

    #[test]
    fn json_and_repr_as_python() {
        let d = Doc::List(vec![map(&[
            ("b", Doc::Int(1)),
            ("a", Doc::str("é\"")),
            ("f", Doc::Float(2.0)),
        ])]);
        assert_eq!(py_json(&d), r#"[{"b": 1, "a": "\u00e9\"", "f": 2.0}]"#);
        assert_eq!(
            Doc::List(vec![Doc::str("m1"), Doc::str("it's")]).py_str(),
            r#"['m1', "it's"]"#
        );
        assert_eq!(
            (float_repr(1e16), float_repr(0.0001), float_repr(3.0)),
            ("1e+16".into(), "0.0001".into(), "3.0".into())
        );
        assert_eq!(
            [0.5, 1.5, 2.5, 2.4, -0.5].map(round_half_even),
            [0, 2, 2, 2, 0]
        );
    }

    #[test]
    fn yaml11_scalars() {
        assert_eq!(yaml11_plain("on"), Doc::Bool(true));
        assert_eq!(yaml11_plain("010"), Doc::Int(8));
        assert_eq!(yaml11_plain("1:30"), Doc::Int(90));
        assert_eq!(yaml11_plain("8MB"), Doc::str("8MB"));
        assert_eq!(yaml11_plain("1e3"), Doc::str("1e3"));
        assert_eq!(yaml11_plain("1.5"), Doc::Float(1.5));
        assert_eq!(yaml11_plain("~"), Doc::Null);
        assert!(plain_is_not_str("2001-12-14 21:59:43.10 -5"));
        assert!(!plain_is_not_str("2001-12-14x"));
    }
}
