//! Values given on praetorctl's command line, read as patronictl reads them: `--dcs-url`, the
//! `--scheduled` timestamp (as `dateutil` parses it, with Python's `isoformat`), `--pg-version`
//! (and Patroni's printing of a server version number).

use anyhow::{bail, Result};
use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone};

/// Parses `--dcs-url` as patronictl does (`[scheme://]host[:port][/namespace]`; no scheme means
/// etcd, localhost and port 2379 are the defaults) into (endpoint URL, namespace). praetor speaks
/// etcd v3 only, so `etcd://` is read as `etcd3://`.
///
/// # Errors
/// An unknown scheme (`Unknown dcs scheme: …`), or one of the stores praetor does not speak.
pub fn parse_dcs_url(url: &str) -> Result<(String, Option<String>)> {
    let (scheme, rest) = match url.split_once("//") {
        Some((s, r)) => (s.strip_suffix(':').unwrap_or(s), r),
        None => ("", url),
    };
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let hostport = hostport.rsplit('@').next().unwrap_or("");
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, p) = v6.split_once(']').unwrap_or((v6, ""));
        (format!("[{h}]"), p.strip_prefix(':').unwrap_or(""))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (hostport.to_string(), ""),
        }
    };
    let port: Option<u16> = if port.is_empty() {
        None
    } else {
        match port.parse() {
            Ok(p) => Some(p),
            Err(_) => bail!("Port could not be cast to integer value as {port:?}"),
        }
    };
    let scheme = match scheme {
        "" => match port {
            Some(2181) => "zookeeper",
            Some(8181) => "exhibitor",
            Some(8500) => "consul",
            _ => "etcd",
        },
        s => s,
    };
    match scheme {
        "etcd" | "etcd3" => {}
        "zookeeper" | "exhibitor" | "consul" => {
            bail!("praetorctl speaks etcd v3 only: {scheme} is not supported (--dcs-url {url})")
        }
        other => bail!("Unknown dcs scheme: {other}"),
    }
    let host = if host.is_empty() {
        "localhost".to_string()
    } else {
        host.to_lowercase()
    };
    let path = path.trim();
    let ns = (!path.is_empty() && path != "/").then(|| crate::config::normalise_namespace(path));
    Ok((format!("http://{host}:{}", port.unwrap_or(2379)), ns))
}

/// A date and time as `dateutil` parses it: with its UTC offset when the text has one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PyDateTime {
    /// Wall-clock date and time.
    pub naive: NaiveDateTime,
    /// Its UTC offset, when given.
    pub offset: Option<FixedOffset>,
}

impl PyDateTime {
    /// Python's `isoformat(sep)`: `2030-01-01T10:00:00+00:00`, microseconds only when not zero.
    pub fn isoformat(&self, sep: char) -> String {
        let mut s = self
            .naive
            .format(&format!("%Y-%m-%d{sep}%H:%M:%S"))
            .to_string();
        let micros = self.naive.and_utc().timestamp_subsec_micros();
        if micros != 0 {
            s.push_str(&format!(".{micros:06}"));
        }
        if let Some(o) = self.offset {
            let secs = o.local_minus_utc();
            let sign = if secs < 0 { '-' } else { '+' };
            let a = secs.abs();
            s.push_str(&format!("{sign}{:02}:{:02}", a / 3600, a % 3600 / 60));
            if a % 60 != 0 {
                s.push_str(&format!(":{:02}", a % 60));
            }
        }
        s
    }
}

/// Parses the timestamps patronictl's users give (`2030-01-01T10:00`, `2030-01-01 10:00:00+02:00`,
/// `…Z`, `…-3`, a date alone); `None` for anything else.
pub fn parse_datetime(text: &str) -> Option<PyDateTime> {
    let t = text.trim();
    if t.len() < 10 || !t.is_char_boundary(10) {
        return None;
    }
    let date = NaiveDate::parse_from_str(&t[..10], "%Y-%m-%d").ok()?;
    let rest = &t[10..];
    if rest.is_empty() {
        return Some(PyDateTime {
            naive: date.and_hms_opt(0, 0, 0)?,
            offset: None,
        });
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?.trim_start();
    // Split the time from a zone suffix: Z, UTC, or a sign.
    let (time, zone) = match rest
        .find(['Z', 'z', '+', '-', ' '])
        .or_else(|| rest.find("UTC"))
    {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let time = NaiveTime::parse_from_str(time, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(time, "%H:%M"))
        .ok()?;
    let offset = match zone {
        "" => None,
        "Z" | "z" | "UTC" | "GMT" => Some(FixedOffset::east_opt(0)?),
        z => {
            let sign = match z.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits = z[1..].replace(':', "");
            if digits.is_empty() || digits.len() > 4 || !digits.chars().all(|c| c.is_ascii_digit())
            {
                return None;
            }
            let (h, m): (i32, i32) = if digits.len() <= 2 {
                (digits.parse().ok()?, 0)
            } else {
                let split = digits.len() - 2;
                (digits[..split].parse().ok()?, digits[split..].parse().ok()?)
            };
            Some(FixedOffset::east_opt(sign * (h * 3600 + m * 60))?)
        }
    };
    Some(PyDateTime {
        naive: date.and_time(time),
        offset,
    })
}

/// Python's `datetime.isoformat()` of a timestamp as `dateutil` parses it (`2030-01-01T10:00Z` →
/// `2030-01-01T10:00:00+00:00`); `None` when it does not parse.
pub fn py_isoformat(text: &str) -> Option<String> {
    parse_datetime(text).map(|d| d.isoformat('T'))
}

/// patronictl's `--scheduled`: `None` for nothing or `now`, else the time with its zone (the
/// local one, `local`, when the text names none).
///
/// # Errors
/// `Unable to parse scheduled timestamp (…). It should be in an unambiguous format (e.g. ISO 8601)`.
pub fn parse_scheduled<Tz: TimeZone>(text: Option<&str>, local: &Tz) -> Result<Option<PyDateTime>> {
    let Some(t) = text.filter(|t| !t.is_empty() && *t != "now") else {
        return Ok(None);
    };
    let Some(mut d) = parse_datetime(t) else {
        bail!("Unable to parse scheduled timestamp ({t}). It should be in an unambiguous format (e.g. ISO 8601)");
    };
    if d.offset.is_none() {
        d.offset = local
            .offset_from_local_datetime(&d.naive)
            .earliest()
            .map(|o| o.fix());
    }
    Ok(Some(d))
}

/// Patroni's `format_pg_version`: 90624 → `9.6.24`, 140008 → `14.8`.
pub fn format_pg_version(v: i64) -> String {
    if v < 100000 {
        format!("{}.{}.{}", v / 10000, v / 100 % 100, v % 100)
    } else {
        format!("{}.{}", v / 10000, v % 100)
    }
}

/// Patroni's `postgres_version_to_int` check of `--pg-version`.
///
/// # Errors
/// Patroni's messages: `Invalid PostgreSQL version: …`, `Invalid PostgreSQL version format: X.Y or
/// X.Y.Z is accepted: …`.
pub fn check_pg_version(v: &str) -> Result<i64> {
    let Ok(parts) = v
        .split('.')
        .map(|p| p.trim().parse::<i64>())
        .collect::<Result<Vec<_>, _>>()
    else {
        bail!("Invalid PostgreSQL version: {v}");
    };
    if parts.len() < 2 || (parts.len() == 2 && parts[0] < 10) || parts.len() > 3 {
        bail!("Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: {v}");
    }
    Ok(match parts.as_slice() {
        [a, b] => a * 10000 + b,
        [a, b, c] => a * 10000 + b * 100 + c,
        _ => 0,
    })
}
