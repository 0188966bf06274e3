//! How patronictl's Python libraries print values, so praetorctl's machine-readable output is the
//! same text: PyYAML's `safe_dump` (block or flow style, keys sorted, width 200, YAML 1.1 quoting
//! of strings that would read back as another type), `json.dumps` with its default separators and
//! ASCII escapes, `str()` of lists, Python's float `repr` and its half-to-even `round`.
//!
//! Everything here is pure; [`Doc`] is the value model (a Python object made of dicts, lists and
//! scalars; dicts keep their insertion order, as Python's do).

use serde_json::Value;

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

// ---- YAML 1.1 implicit types (PyYAML's resolver) ----

fn all_in(s: &str, ok: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.chars().all(ok)
}

fn strip_sign(s: &str) -> &str {
    s.strip_prefix(['-', '+']).unwrap_or(s)
}

/// `[0-9][0-9_]*`
fn digits_underscore(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit()) && s.chars().all(|c| c.is_ascii_digit() || c == '_')
}

/// `(:[0-5]?[0-9])+` after the first part: every segment one digit, or two with the first 0-5.
fn sexagesimal_tail(segments: &[&str]) -> bool {
    !segments.is_empty()
        && segments.iter().all(|s| {
            let b = s.as_bytes();
            match b.len() {
                1 => b[0].is_ascii_digit(),
                2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
                _ => false,
            }
        })
}

fn yaml11_int(s: &str) -> bool {
    let u = strip_sign(s);
    if let Some(b) = u.strip_prefix("0b") {
        return all_in(b, |c| c == '0' || c == '1' || c == '_');
    }
    if let Some(x) = u.strip_prefix("0x") {
        return all_in(x, |c| c.is_ascii_hexdigit() || c == '_');
    }
    if u == "0" {
        return true;
    }
    if let Some(o) = u.strip_prefix('0') {
        return all_in(o, |c| ('0'..='7').contains(&c) || c == '_');
    }
    let parts: Vec<&str> = u.split(':').collect();
    let first = parts[0];
    if !(first.starts_with(|c: char| ('1'..='9').contains(&c)) && digits_underscore(first)) {
        return false;
    }
    parts.len() == 1 || sexagesimal_tail(&parts[1..])
}

fn exponent_ok(e: &str) -> bool {
    // `[eE][-+][0-9]+`
    let mut c = e.chars();
    matches!(c.next(), Some('e' | 'E'))
        && matches!(c.next(), Some('-' | '+'))
        && all_in(c.as_str(), |c| c.is_ascii_digit())
}

fn fraction_ok(f: &str) -> bool {
    // `[0-9_]*` then an optional exponent.
    let end = f
        .find(|c: char| !(c.is_ascii_digit() || c == '_'))
        .unwrap_or(f.len());
    end == f.len() || exponent_ok(&f[end..])
}

fn yaml11_float(s: &str) -> bool {
    if matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let u = strip_sign(s);
    if matches!(u, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    if let Some(f) = s.strip_prefix('.') {
        // `\.[0-9][0-9_]*` (no sign) then an optional exponent.
        return f.starts_with(|c: char| c.is_ascii_digit()) && fraction_ok(f);
    }
    let Some((int, frac)) = u.split_once('.') else {
        return false;
    };
    let parts: Vec<&str> = int.split(':').collect();
    if !digits_underscore(parts[0]) {
        return false;
    }
    if parts.len() == 1 {
        fraction_ok(frac)
    } else {
        sexagesimal_tail(&parts[1..]) && frac.chars().all(|c| c.is_ascii_digit() || c == '_')
    }
}

fn yaml11_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let d = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    // `YYYY-MM-DD`
    if b.len() == 10
        && (0..4).all(d)
        && b[4] == b'-'
        && d(5)
        && d(6)
        && b[7] == b'-'
        && d(8)
        && d(9)
    {
        return true;
    }
    // `YYYY-M[M]-D[D](T|t|[ \t]+)H[H]:MM:SS(.f*)?([ \t]*(Z|[-+]H[H](:MM)?))?`
    let mut i = 0;
    let take_digits = |i: &mut usize, min: usize, max: usize| -> bool {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - start < max {
            *i += 1;
        }
        *i - start >= min
    };
    if !take_digits(&mut i, 4, 4) || b.get(i) != Some(&b'-') {
        return false;
    }
    i += 1;
    if !take_digits(&mut i, 1, 2) || b.get(i) != Some(&b'-') {
        return false;
    }
    i += 1;
    if !take_digits(&mut i, 1, 2) {
        return false;
    }
    match b.get(i) {
        Some(b'T' | b't') => i += 1,
        Some(b' ' | b'\t') => {
            while matches!(b.get(i), Some(b' ' | b'\t')) {
                i += 1;
            }
        }
        _ => return false,
    }
    if !take_digits(&mut i, 1, 2) || b.get(i) != Some(&b':') {
        return false;
    }
    i += 1;
    if !take_digits(&mut i, 2, 2) || b.get(i) != Some(&b':') {
        return false;
    }
    i += 1;
    if !take_digits(&mut i, 2, 2) {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if i == b.len() {
        return true;
    }
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'-' | b'+') => {
            i += 1;
            if !take_digits(&mut i, 1, 2) {
                return false;
            }
            if i == b.len() {
                return true;
            }
            if b[i] != b':' {
                return false;
            }
            i += 1;
            take_digits(&mut i, 2, 2) && i == b.len()
        }
        _ => false,
    }
}

fn yaml11_bool(s: &str) -> Option<bool> {
    match s {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

fn yaml11_null(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

/// Whether PyYAML would read the plain (unquoted) scalar `s` as something other than a string,
/// so `safe_dump` must quote it.
pub fn plain_is_not_str(s: &str) -> bool {
    yaml11_bool(s).is_some()
        || yaml11_null(s)
        || yaml11_int(s)
        || yaml11_float(s)
        || yaml11_timestamp(s)
        || s == "<<"
        || s == "="
}

/// `yaml.safe_load` of a plain scalar (`-s key=value` in patronictl): YAML 1.1 types, so `on`
/// is true, `010` is octal 8, `1:30` is 90, and `2024-01-01` stays text here (a date in Python,
/// which `json.dumps` could not write anyway).
pub fn yaml11_plain(s: &str) -> Doc {
    if yaml11_null(s) {
        return Doc::Null;
    }
    if let Some(b) = yaml11_bool(s) {
        return Doc::Bool(b);
    }
    if yaml11_int(s) {
        let neg = s.starts_with('-');
        let u: String = strip_sign(s).chars().filter(|c| *c != '_').collect();
        let v = if let Some(b) = u.strip_prefix("0b") {
            i128::from_str_radix(b, 2).ok()
        } else if let Some(x) = u.strip_prefix("0x") {
            i128::from_str_radix(x, 16).ok()
        } else if u.contains(':') {
            u.split(':')
                .try_fold(0i128, |acc, p| p.parse::<i128>().ok().map(|n| acc * 60 + n))
        } else if u.len() > 1 && u.starts_with('0') {
            i128::from_str_radix(&u[1..], 8).ok()
        } else {
            u.parse().ok()
        };
        if let Some(v) = v {
            return Doc::Int(if neg { -v } else { v });
        }
    }
    if yaml11_float(s) {
        let neg = s.starts_with('-');
        let u: String = strip_sign(s).chars().filter(|c| *c != '_').collect();
        let v = match u.to_lowercase().as_str() {
            ".inf" => Some(f64::INFINITY),
            ".nan" => Some(f64::NAN),
            _ if u.contains(':') => {
                let (int, frac) = u.split_once('.').unwrap_or((&u, ""));
                let base = int
                    .split(':')
                    .try_fold(0f64, |acc, p| p.parse::<f64>().ok().map(|n| acc * 60.0 + n));
                base.map(|b| b + format!("0.{frac}0").parse::<f64>().unwrap_or(0.0))
            }
            t => t.parse().ok(),
        };
        if let Some(v) = v {
            return Doc::Float(if neg { -v } else { v });
        }
    }
    Doc::Str(s.to_string())
}

// ---- PyYAML's emitter, for the documents patronictl dumps ----

/// What PyYAML's `analyze_scalar` decides about a string.
struct Analysis {
    empty: bool,
    multiline: bool,
    flow_plain: bool,
    block_plain: bool,
    single_quoted: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_space_or_break(c: Option<char>) -> bool {
    matches!(c, None | Some('\0' | ' ' | '\t' | '\r')) || c.is_some_and(is_break)
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            empty: true,
            multiline: false,
            flow_plain: false,
            block_plain: true,
            single_quoted: true,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let (mut block_ind, mut flow_ind) = (false, false);
    if s.starts_with("---") || s.starts_with("...") {
        block_ind = true;
        flow_ind = true;
    }
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    let mut preceded_by_ws = true;
    for i in 0..n {
        let ch = chars[i];
        let followed_by_ws = i + 1 >= n || is_space_or_break(Some(chars[i + 1]));
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(ch) {
                flow_ind = true;
                block_ind = true;
            }
            if ch == '?' || ch == ':' {
                flow_ind = true;
                if followed_by_ws {
                    block_ind = true;
                }
            }
            if ch == '-' && followed_by_ws {
                flow_ind = true;
                block_ind = true;
            }
        } else {
            if ",?[]{}".contains(ch) {
                flow_ind = true;
            }
            if ch == ':' {
                flow_ind = true;
                if followed_by_ws {
                    block_ind = true;
                }
            }
            if ch == '#' && preceded_by_ws {
                flow_ind = true;
                block_ind = true;
            }
        }
        if is_break(ch) {
            line_breaks = true;
        }
        if !(ch == '\n' || (' '..='~').contains(&ch)) {
            let printable_unicode = (ch == '\u{85}'
                || ('\u{a0}'..='\u{d7ff}').contains(&ch)
                || ('\u{e000}'..='\u{fffd}').contains(&ch)
                || ('\u{10000}'..'\u{10ffff}').contains(&ch))
                && ch != '\u{feff}';
            // allow_unicode=True: printable non-ASCII is written as is.
            if !printable_unicode {
                special = true;
            }
        }
        if ch == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == n - 1 {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(ch) {
            if i == 0 {
                leading_break = true;
            }
            if i == n - 1 {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = is_space_or_break(Some(ch));
    }
    let mut a = Analysis {
        empty: false,
        multiline: line_breaks,
        flow_plain: true,
        block_plain: true,
        single_quoted: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.flow_plain = false;
        a.block_plain = false;
    }
    if break_space {
        a.flow_plain = false;
        a.block_plain = false;
        a.single_quoted = false;
    }
    if space_break || special {
        a.flow_plain = false;
        a.block_plain = false;
        a.single_quoted = false;
    }
    if line_breaks {
        a.flow_plain = false;
        a.block_plain = false;
    }
    if flow_ind {
        a.flow_plain = false;
    }
    if block_ind {
        a.block_plain = false;
    }
    a
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
}

/// PyYAML's `safe_dump(value, default_flow_style=flow, allow_unicode=True, width=200)`: what
/// patronictl prints for `show-config`, `-f yaml` and the Tags cells.
pub fn py_yaml(d: &Doc, flow: bool) -> String {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
        flow_level: 0,
    };
    let is_collection =
        matches!(d, Doc::List(l) if !l.is_empty()) || matches!(d, Doc::Map(m) if !m.is_empty());
    if flow || !is_collection {
        let style = e.node(d, None, flow, false);
        e.line_break();
        // A plain scalar at the root leaves the document open: PyYAML closes it with `...`.
        if style == Some(Style::Plain) && !is_collection {
            e.out.push_str("...\n");
        }
    } else {
        e.node(d, Some(0), false, false);
        e.line_break();
    }
    e.out
}

struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    flow_level: usize,
}

const WIDTH: usize = 200;

impl Emitter {
    fn write(&mut self, s: &str) {
        self.out.push_str(s);
        self.column += s.chars().count();
    }

    fn line_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
        self.whitespace = true;
        self.indention = true;
    }

    fn indent(&mut self, indent: usize) {
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.line_break();
        }
        if self.column < indent {
            self.whitespace = true;
            let pad = " ".repeat(indent - self.column);
            self.write(&pad);
        }
    }

    /// Writes an indicator (`-`, `:`, `,`, `{`…) with a space before it when asked and needed.
    fn indicator(&mut self, ind: &str, need_ws: bool, whitespace: bool, indention: bool) {
        if self.whitespace || !need_ws {
            self.write(ind);
        } else {
            self.write(&format!(" {ind}"));
        }
        self.whitespace = whitespace;
        self.indention = self.indention && indention;
    }

    /// Emits one node. `block_indent` is the indentation of a block collection (None in flow
    /// context). Returns the scalar style used, for scalars.
    fn node(
        &mut self,
        d: &Doc,
        block_indent: Option<usize>,
        flow: bool,
        simple_key: bool,
    ) -> Option<Style> {
        match d {
            Doc::List(l) if !l.is_empty() && !flow && self.flow_level == 0 => {
                self.block_seq(l, block_indent.unwrap_or(0));
                None
            }
            Doc::Map(m) if !m.is_empty() && !flow && self.flow_level == 0 => {
                self.block_map(m, block_indent.unwrap_or(0));
                None
            }
            Doc::List(l) => {
                self.flow_seq(l, block_indent.unwrap_or(0));
                None
            }
            Doc::Map(m) => {
                self.flow_map(m, block_indent.unwrap_or(0));
                None
            }
            scalar => Some(self.scalar(scalar, block_indent.unwrap_or(0), simple_key)),
        }
    }

    fn block_seq(&mut self, items: &[Doc], indent: usize) {
        for item in items {
            self.indent(indent);
            self.indicator("-", true, false, true);
            self.child(item, indent + 2, false);
        }
    }

    fn block_map(&mut self, entries: &[(String, Doc)], indent: usize) {
        let mut sorted: Vec<&(String, Doc)> = entries.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, v) in sorted {
            self.indent(indent);
            self.scalar(&Doc::Str(k.clone()), indent + 2, true);
            self.indicator(":", false, false, false);
            match v {
                // A list under a key is not indented further (PyYAML's indentless sequence).
                Doc::List(l) if !l.is_empty() => self.block_seq(l, indent),
                Doc::Map(m) if !m.is_empty() => self.block_map(m, indent + 2),
                scalar => {
                    self.node(scalar, Some(indent + 2), false, false);
                }
            }
        }
    }

    /// A node inside a block sequence item: a mapping or sequence starts on the `- ` line.
    fn child(&mut self, d: &Doc, indent: usize, _flow: bool) {
        match d {
            Doc::List(l) if !l.is_empty() => self.block_seq(l, indent),
            Doc::Map(m) if !m.is_empty() => self.block_map(m, indent),
            scalar => {
                self.node(scalar, Some(indent), false, false);
            }
        }
    }

    fn flow_seq(&mut self, items: &[Doc], indent: usize) {
        self.indicator("[", true, true, false);
        self.flow_level += 1;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.indicator(",", false, false, false);
            }
            if self.column > WIDTH {
                self.indent(indent + 2);
            }
            self.node(item, Some(indent + 2), true, false);
        }
        self.flow_level -= 1;
        self.indicator("]", false, false, false);
    }

    fn flow_map(&mut self, entries: &[(String, Doc)], indent: usize) {
        self.indicator("{", true, true, false);
        self.flow_level += 1;
        let mut sorted: Vec<&(String, Doc)> = entries.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (k, v)) in sorted.into_iter().enumerate() {
            if i > 0 {
                self.indicator(",", false, false, false);
            }
            if self.column > WIDTH {
                self.indent(indent + 2);
            }
            self.scalar(&Doc::Str(k.clone()), indent + 2, true);
            self.indicator(":", false, false, false);
            self.node(v, Some(indent + 2), true, false);
        }
        self.flow_level -= 1;
        self.indicator("}", false, false, false);
    }

    fn scalar(&mut self, d: &Doc, indent: usize, simple_key: bool) -> Style {
        let (text, is_str) = match d {
            Doc::Null => ("null".to_string(), false),
            Doc::Bool(b) => (if *b { "true" } else { "false" }.to_string(), false),
            Doc::Int(i) => (i.to_string(), false),
            Doc::Float(f) => (
                match float_repr(*f).as_str() {
                    "nan" => ".nan".to_string(),
                    "inf" => ".inf".to_string(),
                    "-inf" => "-.inf".to_string(),
                    s if !s.contains('.') && s.contains('e') => s.replacen('e', ".0e", 1),
                    s => s.to_string(),
                },
                false,
            ),
            Doc::Str(s) => (s.clone(), true),
            Doc::List(_) | Doc::Map(_) => unreachable!("collections are not scalars"),
        };
        let a = analyze(&text);
        let implicit_plain = !is_str || !plain_is_not_str(&text);
        let style = if implicit_plain
            && !(simple_key && (a.empty || a.multiline))
            && ((self.flow_level > 0 && a.flow_plain) || (self.flow_level == 0 && a.block_plain))
        {
            Style::Plain
        } else if a.single_quoted && !(simple_key && a.multiline) {
            Style::Single
        } else {
            Style::Double
        };
        let split = !simple_key;
        match style {
            Style::Plain => self.plain(&text, indent, split),
            Style::Single => self.single_quoted(&text, indent, split),
            Style::Double => self.double_quoted(&text),
        }
        style
    }

    fn plain(&mut self, text: &str, indent: usize, split: bool) {
        if text.is_empty() {
            return;
        }
        if !self.whitespace {
            self.write(" ");
        }
        self.whitespace = false;
        self.indention = false;
        let chars: Vec<char> = text.chars().collect();
        let mut start = 0;
        let mut spaces = false;
        for end in 0..=chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > WIDTH && split {
                        self.indent(indent);
                        self.whitespace = false;
                        self.indention = false;
                    } else {
                        let s: String = chars[start..end].iter().collect();
                        self.write(&s);
                    }
                    start = end;
                }
            } else if ch.is_none() || ch == Some(' ') {
                let s: String = chars[start..end].iter().collect();
                self.write(&s);
                start = end;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
            }
        }
    }

    fn single_quoted(&mut self, text: &str, indent: usize, split: bool) {
        self.indicator("'", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        let mut start = 0;
        for end in 0..=chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end
                        && self.column > WIDTH
                        && split
                        && start != 0
                        && end != chars.len()
                    {
                        self.indent(indent);
                    } else {
                        let s: String = chars[start..end].iter().collect();
                        self.write(&s);
                    }
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(is_break) {
                    if chars[start] == '\n' {
                        self.line_break();
                    }
                    for br in &chars[start..end] {
                        if *br == '\n' {
                            self.line_break();
                        } else {
                            self.out.push(*br);
                            self.column = 0;
                            self.whitespace = true;
                            self.indention = true;
                        }
                    }
                    self.indent(indent);
                    start = end;
                }
            } else if ch.is_none()
                || ch == Some(' ')
                || ch.is_some_and(is_break)
                || ch == Some('\'')
            {
                if start < end {
                    let s: String = chars[start..end].iter().collect();
                    self.write(&s);
                    start = end;
                }
            }
            if ch == Some('\'') {
                self.write("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
        }
        self.indicator("'", false, false, false);
    }

    fn double_quoted(&mut self, text: &str) {
        self.indicator("\"", true, false, false);
        let mut s = String::new();
        for c in text.chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                '\0' => s.push_str("\\0"),
                '\u{7}' => s.push_str("\\a"),
                '\u{8}' => s.push_str("\\b"),
                '\t' => s.push_str("\\t"),
                '\n' => s.push_str("\\n"),
                '\u{b}' => s.push_str("\\v"),
                '\u{c}' => s.push_str("\\f"),
                '\r' => s.push_str("\\r"),
                '\u{1b}' => s.push_str("\\e"),
                '\u{85}' => s.push_str("\\N"),
                '\u{a0}' => s.push_str("\\_"),
                '\u{2028}' => s.push_str("\\L"),
                '\u{2029}' => s.push_str("\\P"),
                c if (' '..='~').contains(&c) => s.push(c),
                c if (('\u{a0}'..='\u{d7ff}').contains(&c)
                    || ('\u{e000}'..='\u{fffd}').contains(&c)
                    || ('\u{10000}'..'\u{10ffff}').contains(&c))
                    && c != '\u{feff}' =>
                {
                    s.push(c)
                }
                c if (c as u32) <= 0xff => s.push_str(&format!("\\x{:02X}", c as u32)),
                c if (c as u32) <= 0xffff => s.push_str(&format!("\\u{:04X}", c as u32)),
                c => s.push_str(&format!("\\U{:08X}", c as u32)),
            }
        }
        self.write(&s);
        self.indicator("\"", false, false, false);
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
