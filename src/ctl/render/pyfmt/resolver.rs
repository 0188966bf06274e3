//! YAML 1.1's implicit types as PyYAML's resolver reads plain scalars: whether one would read back
//! as a bool, null, int, float or timestamp (so `safe_dump` must quote such a string), and what
//! `safe_load` makes of one (`-s key=value`).

use super::Doc;

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
