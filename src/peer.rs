//! Reading another member's `GET /patroni` answer (Patroni's JSON, reference §3): one decoder
//! for the leader race (the runtime's peer poll) and the REST API's candidate checks.

use serde_json::Value as Json;

use crate::config::Tags;
use crate::ha::PeerStatus;
use crate::types::{Lsn, MemberState, Role};

/// The fields of a `/patroni` answer that decisions use.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PeerAnswer {
    /// `role` (`None` when missing or unknown; `master` reads as primary).
    pub role: Option<Role>,
    /// `state` (`None` when missing or unknown).
    pub state: Option<MemberState>,
    /// The best WAL position it reports: the largest of `xlog.location`,
    /// `xlog.received_location` and `xlog.replayed_location` (0/0 when none).
    pub lsn: Lsn,
    /// `timeline`.
    pub timeline: Option<u32>,
    /// `tags`, when present and readable.
    pub tags: Option<Tags>,
}

impl PeerAnswer {
    /// Decodes an answer; missing or mistyped fields read as empty, never as an error (a peer of
    /// another version may leave some out).
    pub fn decode(body: &Json) -> PeerAnswer {
        let xlog = &body["xlog"];
        let lsn = ["location", "received_location", "replayed_location"]
            .iter()
            .filter_map(|k| xlog[*k].as_u64())
            .max()
            .map_or(Lsn::default(), Lsn);
        PeerAnswer {
            role: body["role"].as_str().and_then(Role::parse),
            state: body["state"].as_str().and_then(MemberState::parse),
            lsn,
            timeline: body["timeline"]
                .as_u64()
                .and_then(|t| u32::try_from(t).ok()),
            tags: serde_json::from_value(body["tags"].clone()).ok(),
        }
    }

    /// The core's view of member `name` that gave this answer; `tags` stand in when the answer
    /// carried none (the member key's).
    pub fn into_status(self, name: String, tags: Tags) -> PeerStatus {
        PeerStatus {
            name,
            reachable: true,
            role: self.role,
            state: self.state,
            lsn: self.lsn,
            timeline: self.timeline,
            tags: self.tags.unwrap_or(tags),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_primary_and_a_replica() {
        let p = PeerAnswer::decode(&serde_json::json!({
            "state": "running", "role": "primary", "timeline": 3,
            "xlog": {"location": 500}, "tags": {"nofailover": true}
        }));
        assert_eq!(p.role, Some(Role::Primary));
        assert_eq!(p.state, Some(MemberState::Running));
        assert_eq!(p.lsn, Lsn(500));
        assert_eq!(p.timeline, Some(3));
        assert!(p.tags.is_some_and(|t| t.nofailover));
        let r = PeerAnswer::decode(&serde_json::json!({
            "state": "running", "role": "replica",
            "xlog": {"received_location": 400, "replayed_location": 380}
        }));
        assert_eq!(r.lsn, Lsn(400));
        assert_eq!(r.tags, None);
        assert_eq!(
            PeerAnswer::decode(&serde_json::json!("junk")),
            PeerAnswer::default()
        );
    }
}
