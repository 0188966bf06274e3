//! Pure parsers of what PostgreSQL leaves on disk: `pg_controldata`'s output, the timelines of WAL
//! segment names, a timeline's `.history` file and a `/proc/<pid>/stat` line. Formats: PostgreSQL
//! docs "pg_controldata", "WAL Internals" (segment file names), "Timelines" (history files).

use crate::types::{DataDir, Lsn};

/// A data directory's state from `pg_controldata`'s output (`name: value` lines);
/// `backup_label` says whether `backup_label` exists. Missing fields read as empty or 0.
pub fn controldata(out: &str, backup_label: bool) -> DataDir {
    let field = |name: &str| {
        out.lines().find_map(|l| {
            l.strip_prefix(name)
                .and_then(|r| r.strip_prefix(':'))
                .map(|v| v.trim().to_string())
        })
    };
    DataDir::Present {
        sysid: field("Database system identifier").unwrap_or_default(),
        state: field("Database cluster state").unwrap_or_default(),
        timeline: field("Latest checkpoint's TimeLineID")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0),
        checkpoint_lsn: field("Latest checkpoint location")
            .and_then(|l| Lsn::parse(&l))
            .unwrap_or_default(),
        min_recovery: field("Min recovery ending loc's timeline")
            .and_then(|t| t.parse::<u32>().ok())
            .filter(|t| *t != 0)
            .and_then(|t| {
                let lsn = field("Minimum recovery ending location").and_then(|l| Lsn::parse(&l))?;
                Some((t, lsn))
            }),
        backup_label,
    }
}

/// The timeline of a WAL segment file name (24 hexadecimal digits, the first 8 the timeline);
/// `None` for any other name (history files, `archive_status`, partial segments).
pub fn segment_timeline(name: &str) -> Option<u32> {
    (name.len() == 24 && name.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u32::from_str_radix(&name[..8], 16).ok())
        .flatten()
}

/// The last switch row of a timeline's `.history` file: `(parent timeline, switch LSN, reason)`.
pub fn history_last_switch(text: &str) -> Option<(u32, Lsn, String)> {
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))?;
    let mut parts = last.split('\t');
    let tl: u32 = parts.next()?.trim().parse().ok()?;
    let lsn = Lsn::parse(parts.next()?.trim())?;
    let reason = parts.next().unwrap_or("").trim().to_string();
    Some((tl, lsn, reason))
}

/// The parent pid in a `/proc/<pid>/stat` line (the field after the state, which follows the
/// command name in parentheses — a name that may itself hold spaces or parentheses).
pub fn stat_parent(stat: &str) -> Option<i32> {
    stat.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Whether a `/proc/<pid>/stat` line is a zombie's (state `Z`).
pub fn stat_is_zombie(stat: &str) -> bool {
    stat.rsplit(')')
        .next()
        .is_some_and(|r| r.trim_start().starts_with('Z'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controldata_fields() {
        let out = "pg_control version number:            1300\n\
                   Database system identifier:           7310000000000000001\n\
                   Database cluster state:               shut down in recovery\n\
                   Latest checkpoint location:           0/3000060\n\
                   Latest checkpoint's TimeLineID:       3\n\
                   Minimum recovery ending location:     0/504B688\n\
                   Min recovery ending loc's timeline:   3\n";
        assert_eq!(
            controldata(out, true),
            DataDir::Present {
                sysid: "7310000000000000001".into(),
                state: "shut down in recovery".into(),
                timeline: 3,
                checkpoint_lsn: Lsn(0x3000060),
                min_recovery: Some((3, Lsn(0x504B688))),
                backup_label: true,
            }
        );
        // A primary's: no minimum recovery point.
        let primary = "Latest checkpoint location:           0/3000060\n\
                       Minimum recovery ending location:     0/0\n\
                       Min recovery ending loc's timeline:   0\n";
        assert!(matches!(
            controldata(primary, false),
            DataDir::Present {
                min_recovery: None,
                ..
            }
        ));
    }

    #[test]
    fn segment_names() {
        assert_eq!(segment_timeline("0000000A0000000000000003"), Some(10));
        assert_eq!(segment_timeline("0000000A.history"), None);
        assert_eq!(segment_timeline("0000000A0000000000000003.partial"), None);
    }

    #[test]
    fn history_file() {
        let text =
            "1\t0/3000060\tno recovery target specified\n\n2\t0/5000000\tbefore 2000-01-01\n";
        assert_eq!(
            history_last_switch(text),
            Some((2, Lsn(0x5000000), "before 2000-01-01".into()))
        );
        assert_eq!(history_last_switch("# only a comment\n"), None);
    }

    #[test]
    fn proc_stat() {
        let stat = "4242 (postgres: walsender (x) ) S 4100 4242 4242 0 -1";
        assert_eq!(stat_parent(stat), Some(4100));
        assert!(!stat_is_zombie(stat));
        assert!(stat_is_zombie("7 (postgres) Z 1 7 7"));
    }
}
