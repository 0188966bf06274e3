//! Python's own printing of values: `str()` and `repr()` (of strings, lists and dicts), truth
//! values, the float `repr`, `round()` (halves to even) and `json.dumps` with its default
//! separators and ASCII escapes.

use super::Doc;

impl Doc {
    /// Python's `str(value)`: what `print` and PrettyTable show for it.
    pub fn py_str(&self) -> String {
        match self {
            Doc::Null => "None".into(),
            Doc::Bool(true) => "True".into(),
            Doc::Bool(false) => "False".into(),
            Doc::Int(i) => i.to_string(),
            Doc::Float(f) => float_repr(*f),
            Doc::Str(s) => s.clone(),
            Doc::List(_) | Doc::Map(_) => self.py_repr(),
        }
    }

    /// Python's `repr(value)`.
    pub fn py_repr(&self) -> String {
        match self {
            Doc::Str(s) => str_repr(s),
            Doc::List(l) => format!(
                "[{}]",
                l.iter().map(Doc::py_repr).collect::<Vec<_>>().join(", ")
            ),
            Doc::Map(m) => format!(
                "{{{}}}",
                m.iter()
                    .map(|(k, v)| format!("{}: {}", str_repr(k), v.py_repr()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            other => other.py_str(),
        }
    }

    /// Python's truth value (`bool(value)`).
    pub fn truthy(&self) -> bool {
        match self {
            Doc::Null => false,
            Doc::Bool(b) => *b,
            Doc::Int(i) => *i != 0,
            Doc::Float(f) => *f != 0.0,
            Doc::Str(s) => !s.is_empty(),
            Doc::List(l) => !l.is_empty(),
            Doc::Map(m) => !m.is_empty(),
        }
    }
}

/// Python's `repr` of a string: single quotes unless the text holds a single quote and no double
/// quote; backslashes and control characters escaped.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr(float)`: the shortest text that reads back as the same number, exponent form
/// below 1e-4 and from 1e16 (`1e-05`, `1e+16`), `inf`, `nan`.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        // Rust's `{:e}` gives the shortest digits too: 1e-5, 1.5e16.
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        return format!("{mant}e{sign}{digits:0>2}");
    }
    let s = format!("{f:?}");
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

/// Python 3's `round(x)`: to the nearest integer, halves to the even one.
pub fn round_half_even(x: f64) -> i128 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 {
        // Exactly halfway: pick the even neighbour.
        let down = x.floor();
        if (down as i128) % 2 == 0 {
            down as i128
        } else {
            (down + 1.0) as i128
        }
    } else {
        r as i128
    }
}

/// `json.dumps(value)` with Python's defaults: `", "` and `": "` separators, non-ASCII as `\uXXXX`.
pub fn py_json(d: &Doc) -> String {
    let mut out = String::new();
    write_json(d, &mut out);
    out
}

fn write_json(d: &Doc, out: &mut String) {
    match d {
        Doc::Null => out.push_str("null"),
        Doc::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Doc::Int(i) => out.push_str(&i.to_string()),
        Doc::Float(f) => out.push_str(&match float_repr(*f).as_str() {
            "nan" => "NaN".to_string(),
            "inf" => "Infinity".to_string(),
            "-inf" => "-Infinity".to_string(),
            s => s.to_string(),
        }),
        Doc::Str(s) => json_str(s, out),
        Doc::List(l) => {
            out.push('[');
            for (i, v) in l.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(v, out);
            }
            out.push(']');
        }
        Doc::Map(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                json_str(k, out);
                out.push_str(": ");
                write_json(v, out);
            }
            out.push('}');
        }
    }
}

fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
