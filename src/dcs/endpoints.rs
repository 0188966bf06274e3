//! Which etcd member to ask next: the pure part of the etcd client's failover between members.
//!
//! The agent is given every member of the etcd cluster (`etcd3.hosts`) and, unless
//! `etcd3.use_proxies` is set, adds the client URLs etcd lists for its members (as Patroni's etcd3
//! client does). It keeps talking to one member, the *current* one, while it answers. A request
//! that fails on it for a reason of that member's (unreachable, no answer in time, no Raft leader
//! or quorum) marks it failed and moves on to the member that has gone longest without failing, within the
//! same request budget (`retry_timeout`); a failed member is skipped while others answer and is
//! used again once it is the best left (it answers again, or every other failed more recently).
//!
//! Nothing here does I/O; [`super::etcd`] carries the choices out.

use std::time::{Duration, Instant};

/// The etcd members known to the agent and which of them to ask.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Client URLs (`http(s)://host:port`), configured first, discovered after.
    urls: Vec<String>,
    /// When each URL last failed a request (`None`: not since it last answered).
    failed_at: Vec<Option<Instant>>,
    /// Index of the member requests go to.
    current: usize,
}

impl Endpoints {
    /// The configured endpoints, in their order; the first is asked first.
    ///
    /// # Panics
    /// Never: an empty list is kept empty and [`Endpoints::current`] then answers `None`.
    pub fn new(urls: &[String]) -> Endpoints {
        let mut e = Endpoints {
            urls: Vec::new(),
            failed_at: Vec::new(),
            current: 0,
        };
        for u in urls {
            e.add(u);
        }
        e
    }

    /// The member requests go to now.
    pub fn current(&self) -> Option<&str> {
        self.urls.get(self.current).map(String::as_str)
    }

    /// Every known URL, configured ones first.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// Adds a discovered URL (a trailing `/` is ignored). Returns whether it was new.
    pub fn add(&mut self, url: &str) -> bool {
        let url = url.trim_end_matches('/');
        if url.is_empty() || self.urls.iter().any(|u| u == url) {
            return false;
        }
        self.urls.push(url.to_string());
        self.failed_at.push(None);
        true
    }

    /// A request to `url` answered: it is healthy again, and it becomes the current member.
    pub fn succeeded(&mut self, url: &str) {
        if let Some(i) = self.index(url) {
            self.failed_at[i] = None;
            self.current = i;
        }
    }

    /// A request to `url` failed for a reason of that member's at `now`. Returns the member to try
    /// next (the current one after the call), or `None` when no member is known.
    ///
    /// The next member is the one after `url` in list order that has not failed since it last
    /// answered; when every member has failed, the one that failed longest ago.
    pub fn failed(&mut self, url: &str, now: Instant) -> Option<&str> {
        let Some(i) = self.index(url) else {
            return self.current();
        };
        self.failed_at[i] = Some(now);
        if i == self.current {
            let n = self.urls.len();
            let next = (1..=n)
                .map(|k| (i + k) % n)
                .min_by_key(|&j| (self.failed_at[j], (j + n - i - 1) % n))
                .unwrap_or(i);
            self.current = next;
        }
        self.current()
    }

    /// Whether `url` has failed a request since it last answered.
    pub fn is_failed(&self, url: &str) -> bool {
        self.index(url).is_some_and(|i| self.failed_at[i].is_some())
    }

    fn index(&self, url: &str) -> Option<usize> {
        let url = url.trim_end_matches('/');
        self.urls.iter().position(|u| u == url)
    }
}

/// The deadline of one attempt of a request whose whole budget is `budget` (`retry_timeout`)
/// over `members` etcd members: the budget shared so that every member can be asked once, but
/// never less than one second (a slow healthy member must be able to answer) nor more than the
/// budget. Patroni's etcd clients share their `retry_timeout` between members the same way.
pub fn attempt_timeout(budget: Duration, members: usize) -> Duration {
    let share = budget / (members.max(1) as u32);
    share.max(Duration::from_secs(1)).min(budget)
}

/// Whether an etcd error says the *member* could not serve the request (so another member may):
/// it could not be reached or did not answer (transport errors, `Unavailable`, deadlines), or it
/// has no Raft leader or lost it (a member outside the quorum). Errors about the request itself
/// (a lease etcd no longer knows, permission denied, a compacted revision, a failed comparison)
/// are the same on every member and are not retried elsewhere.
pub fn is_member_fault(message: &str) -> bool {
    const MEMBER: &[&str] = &[
        "transport error",
        "tcp connect error",
        "connection refused",
        "connection reset",
        "broken pipe",
        "Unavailable",
        "DeadlineExceeded",
        "deadline has elapsed",
        "timed out",
        "no leader",
        "leader changed",
        "not capable",
        "too many requests",
        "h2 protocol error",
        "error trying to connect",
        "operation was canceled",
        "Cancelled",
        "no answer within",
    ];
    const REQUEST: &[&str] = &[
        "lease not found",
        "permission denied",
        "invalid auth token",
        "authentication failed",
        "compacted",
    ];
    !REQUEST.iter().any(|p| message.contains(p)) && MEMBER.iter().any(|p| message.contains(p))
}

/// Whether a member fault leaves the request's outcome unknown (it may have been applied): etcd
/// said the request timed out or its leader changed while it was in flight, or the deadline ran
/// out. A refused connection, by contrast, never reached etcd.
pub fn outcome_unknown(message: &str) -> bool {
    [
        "request timed out",
        "leader changed",
        "DeadlineExceeded",
        "timed out",
        "Timeout expired",
        "Cancelled",
    ]
    .iter()
    .any(|p| message.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eps(n: usize) -> Endpoints {
        let urls: Vec<String> = (1..=n).map(|i| format!("http://e{i}:2379")).collect();
        Endpoints::new(&urls)
    }

    #[test]
    fn the_first_configured_member_is_asked_first_and_kept_while_it_answers() {
        let mut e = eps(3);
        assert_eq!(e.current(), Some("http://e1:2379"));
        e.succeeded("http://e1:2379");
        assert_eq!(e.current(), Some("http://e1:2379"));
    }

    #[test]
    fn a_failed_member_is_left_for_the_next_healthy_one_and_not_gone_back_to() {
        let mut e = eps(3);
        let t = Instant::now();
        assert_eq!(e.failed("http://e1:2379", t), Some("http://e2:2379"));
        e.succeeded("http://e2:2379");
        // e2 keeps answering: e1 is never asked again meanwhile.
        assert_eq!(e.current(), Some("http://e2:2379"));
        assert!(e.is_failed("http://e1:2379"));
        // e2 fails too: e3 has never failed, so it comes before e1.
        assert_eq!(
            e.failed("http://e2:2379", t + Duration::from_secs(1)),
            Some("http://e3:2379")
        );
        // Then every member has failed: the one that failed longest ago (e1) is next.
        assert_eq!(
            e.failed("http://e3:2379", t + Duration::from_secs(2)),
            Some("http://e1:2379")
        );
        // It answers again: healthy and current.
        e.succeeded("http://e1:2379");
        assert!(!e.is_failed("http://e1:2379"));
        assert_eq!(e.current(), Some("http://e1:2379"));
    }

    #[test]
    fn the_failure_of_a_member_that_is_not_current_does_not_move_the_current_one() {
        let mut e = eps(3);
        let t = Instant::now();
        e.failed("http://e1:2379", t);
        assert_eq!(e.current(), Some("http://e2:2379"));
        // A late answer from an attempt still on e1 fails after the switch.
        assert_eq!(e.failed("http://e1:2379", t), Some("http://e2:2379"));
    }

    #[test]
    fn one_member_is_asked_again_after_it_failed() {
        let mut e = eps(1);
        assert_eq!(
            e.failed("http://e1:2379", Instant::now()),
            Some("http://e1:2379")
        );
    }

    #[test]
    fn discovered_members_are_added_once_after_the_configured_ones() {
        let mut e = eps(2);
        assert!(!e.add("http://e2:2379/"));
        assert!(e.add("http://e3:2379/"));
        assert!(!e.add(""));
        assert_eq!(
            e.urls(),
            ["http://e1:2379", "http://e2:2379", "http://e3:2379"]
        );
    }

    #[test]
    fn the_budget_is_shared_between_members_but_an_attempt_gets_a_second() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        let cases = [
            (s(10), 1, s(10)),
            (s(10), 3, ms(3333)),
            (s(3), 3, s(1)),
            (s(3), 5, s(1)),
            (s(1), 3, s(1)),
            (ms(500), 3, ms(500)),
            (s(10), 0, s(10)),
        ];
        for (budget, n, want) in cases {
            let got = attempt_timeout(budget, n);
            assert!(
                got.abs_diff(want) < ms(1),
                "{budget:?} over {n} members: {got:?}, expected {want:?}"
            );
        }
    }

    #[test]
    fn member_faults_are_told_from_request_errors() {
        let member = [
            "grpc request error: status: Unavailable, message: \"tcp connect error\"",
            "transport error",
            "etcdserver: no leader",
            "etcdserver: request timed out",
            "etcdserver: leader changed",
            "status: DeadlineExceeded, message: \"Timeout expired\"",
        ];
        for m in member {
            assert!(is_member_fault(m), "{m}");
        }
        let request = [
            "grpc request error: status: NotFound, message: \"etcdserver: requested lease not found\"",
            "etcdserver: permission denied",
            "etcdserver: invalid auth token",
            "etcdserver: authentication failed, invalid user ID or password",
            "etcdserver: mvcc: required revision has been compacted",
            "etcdserver: duplicate key given in txn request",
        ];
        for m in request {
            assert!(!is_member_fault(m), "{m}");
        }
        assert!(outcome_unknown("etcdserver: request timed out"));
        assert!(outcome_unknown("etcdserver: leader changed"));
        assert!(!outcome_unknown(
            "grpc request error: status: Unavailable, message: \"tcp connect error\""
        ));
    }
}
