//! Citus support: the pure pg_dist_node planner ([`plan_group`], [`plan_pause`]) and, in
//! [`handler`], the coordinator side that applies plans and holds the pause transaction.
//!
//! Catalog shapes and function signatures are Citus's (`pg_dist_node`, `citus_add_node`,
//! `citus_update_node`, `citus_remove_node`, `citus_set_coordinator_host`). The transition rules are
//! the ones Patroni 4 follows (reference §3.7): nodename/nodeport are unique across rows, the primary
//! row of a group keeps its nodeid, and rows are neither added nor removed in a batch that moved a
//! group's primary (add/remove are two-phase across all primaries and fail while metadata is out of
//! sync; the next reconciliation does them).

pub mod handler;

use std::collections::BTreeMap;

/// `pg_dist_node.noderole` values praetor manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeRole {
    /// The group's primary.
    Primary,
    /// A read-only standby registered for reads.
    Secondary,
}

impl NodeRole {
    /// Citus's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Primary => "primary",
            NodeRole::Secondary => "secondary",
        }
    }
}

/// A host and port.
pub type Addr = (String, u16);

/// One `pg_dist_node` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistNode {
    /// `nodeid`.
    pub nodeid: i32,
    /// `groupid`.
    pub group: u32,
    /// `nodename`.
    pub host: String,
    /// `nodeport`.
    pub port: u16,
    /// `noderole`.
    pub role: NodeRole,
}

impl DistNode {
    fn addr(&self) -> Addr {
        (self.host.clone(), self.port)
    }
}

/// What etcd says a group should look like: its primary (the leader-key holder, running, role
/// primary) and its running standbys not tagged `noloadbalance`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DesiredGroup {
    /// Citus group.
    pub group: u32,
    /// Primary address; `None` when the group has no usable leader (nothing is changed then).
    pub primary: Option<Addr>,
    /// Secondary addresses.
    pub secondaries: Vec<Addr>,
    /// The connection pooler in front of a member (its `proxy_url`, Patroni's
    /// `postgresql.proxy_address`), by the member's own address: the primary's and each
    /// secondary's pg_dist_node row gets a pg_dist_poolinfo row pointing at it.
    pub poolers: BTreeMap<Addr, Addr>,
}

/// One metadata change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CitusOp {
    /// `SELECT pg_catalog.citus_add_node(host, port, group, role, 'default')`.
    Add {
        /// nodename.
        host: String,
        /// nodeport.
        port: u16,
        /// groupid.
        group: u32,
        /// noderole.
        role: NodeRole,
    },
    /// `SELECT pg_catalog.citus_update_node(nodeid, host, port, true, cooldown_ms)`.
    Update {
        /// nodeid.
        nodeid: i32,
        /// new nodename.
        host: String,
        /// new nodeport.
        port: u16,
    },
    /// `SELECT pg_catalog.citus_remove_node(host, port)`.
    Remove {
        /// nodename.
        host: String,
        /// nodeport.
        port: u16,
    },
}

/// One `pg_dist_poolinfo` row: where Citus connects for a node instead of its nodename/nodeport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolInfo {
    /// `nodeid` (a pg_dist_node row's).
    pub nodeid: i32,
    /// `poolinfo`: `host=<host> port=<port>` (Citus accepts host, port and dbname there).
    pub poolinfo: String,
}

/// One `pg_dist_poolinfo` change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolOp {
    /// Insert the node's row, or replace its `poolinfo`.
    Set(PoolInfo),
    /// Delete the node's row.
    Delete {
        /// nodeid.
        nodeid: i32,
    },
}

/// The `poolinfo` text for a pooler at `addr`.
pub fn poolinfo_of(addr: &Addr) -> String {
    format!("host={} port={}", addr.0, addr.1)
}

/// The pg_dist_poolinfo changes that make `pools` match `desired` for the nodes of the groups in
/// `desired`, given pg_dist_node as it is after that plan's node changes (`nodes`). A node whose
/// member publishes a pooler gets a row pointing at it; one whose member publishes none (or whose
/// row is a paused `-demoted` primary, or a member etcd no longer lists) has its row deleted. Rows
/// of nodes that are no longer in pg_dist_node at all are deleted too. Groups not in `desired`
/// are left alone. In nodeid order, deletions first.
pub fn plan_poolinfo(
    nodes: &[DistNode],
    pools: &[PoolInfo],
    desired: &[DesiredGroup],
) -> Vec<PoolOp> {
    let wanted: BTreeMap<i32, String> = nodes
        .iter()
        .filter_map(|n| {
            let d = desired.iter().find(|d| d.group == n.group)?;
            let pooler = d.poolers.get(&n.addr())?;
            Some((n.nodeid, poolinfo_of(pooler)))
        })
        .collect();
    let planned: std::collections::BTreeSet<i32> = nodes
        .iter()
        .filter(|n| desired.iter().any(|d| d.group == n.group))
        .map(|n| n.nodeid)
        .collect();
    let mut deletes = Vec::new();
    let mut sets = Vec::new();
    for p in pools {
        let orphan = !nodes.iter().any(|n| n.nodeid == p.nodeid);
        if (orphan || planned.contains(&p.nodeid)) && !wanted.contains_key(&p.nodeid) {
            deletes.push(PoolOp::Delete { nodeid: p.nodeid });
        }
    }
    for (nodeid, poolinfo) in &wanted {
        let current = pools.iter().find(|p| p.nodeid == *nodeid);
        if current.map(|p| &p.poolinfo) != Some(poolinfo) {
            sets.push(PoolOp::Set(PoolInfo {
                nodeid: *nodeid,
                poolinfo: poolinfo.clone(),
            }));
        }
    }
    deletes.sort_by_key(|o| match o {
        PoolOp::Delete { nodeid } => *nodeid,
        PoolOp::Set(p) => p.nodeid,
    });
    deletes.extend(sets);
    deletes
}

/// The suffix a paused primary row's host gets while its group switches over.
pub const DEMOTED_SUFFIX: &str = "-demoted";

fn demoted(host: &str) -> String {
    format!("{host}{DEMOTED_SUFFIX}")
}

/// Pausing writes to a group before its primary demotes: rename the primary row's host to
/// `<host>-demoted` (Citus then holds new distributed writes to that group on the metadata lock).
/// Empty when the group has no primary row or it is already paused.
pub fn plan_pause(rows: &[DistNode]) -> Vec<CitusOp> {
    rows.iter()
        .find(|r| r.role == NodeRole::Primary)
        .filter(|r| !r.host.ends_with(DEMOTED_SUFFIX))
        .map(|r| {
            vec![CitusOp::Update {
                nodeid: r.nodeid,
                host: demoted(&r.host),
                port: r.port,
            }]
        })
        .unwrap_or_default()
}

/// The minimal list of changes that turns one group's `rows` into `desired`, in execution order.
pub fn plan_group(rows: &[DistNode], desired: &DesiredGroup) -> Vec<CitusOp> {
    let Some(want_primary) = desired.primary.clone() else {
        return vec![];
    };
    let primary_row = rows.iter().find(|r| r.role == NodeRole::Primary);
    let mut secondaries: Vec<&DistNode> = rows
        .iter()
        .filter(|r| r.role == NodeRole::Secondary)
        .collect();
    secondaries.sort_by_key(|r| r.nodeid);
    let mut ops = Vec::new();

    let Some(primary_row) = primary_row else {
        // Empty group (or one without a primary row): register everything.
        ops.push(CitusOp::Add {
            host: want_primary.0.clone(),
            port: want_primary.1,
            group: desired.group,
            role: NodeRole::Primary,
        });
        for s in desired.secondaries.iter().filter(|s| **s != want_primary) {
            if !secondaries.iter().any(|r| r.addr() == *s) {
                ops.push(CitusOp::Add {
                    host: s.0.clone(),
                    port: s.1,
                    group: desired.group,
                    role: NodeRole::Secondary,
                });
            }
        }
        return ops;
    };

    // Which secondary rows are still wanted, and which wanted secondaries have no row.
    let wanted: Vec<Addr> = desired
        .secondaries
        .iter()
        .filter(|s| **s != want_primary)
        .cloned()
        .collect();
    let mut missing: Vec<Addr> = wanted
        .iter()
        .filter(|s| !secondaries.iter().any(|r| r.addr() == **s))
        .cloned()
        .collect();
    let primary_moves = primary_row.addr() != want_primary;
    // Rows that hold an address nobody wants any more (the new primary's old row counts as free).
    let mut free: Vec<&DistNode> = secondaries
        .iter()
        .filter(|r| !wanted.contains(&r.addr()))
        .copied()
        .collect();

    if primary_moves {
        let old = primary_row.addr();
        let paused = primary_row.host.ends_with(DEMOTED_SUFFIX);
        let new_primary_row = secondaries
            .iter()
            .find(|r| r.addr() == want_primary)
            .copied();
        if let Some(np) = new_primary_row {
            // Free the new primary's address: first take the old primary's address out of the
            // way (unless paused already), then give the secondary row another address.
            if !paused {
                ops.push(CitusOp::Update {
                    nodeid: primary_row.nodeid,
                    host: demoted(&old.0),
                    port: old.1,
                });
            }
            let old_plain = (old.0.trim_end_matches(DEMOTED_SUFFIX).to_string(), old.1);
            // The promoted secondary's row goes to the old primary when it stays as a standby,
            // else to a new standby that has no row yet, else (old primary gone) to the old
            // primary's address, which a later reconciliation removes.
            let replacement = if wanted.contains(&old_plain) || missing.is_empty() {
                missing.retain(|m| *m != old_plain);
                old_plain
            } else {
                missing.remove(0)
            };
            ops.push(CitusOp::Update {
                nodeid: np.nodeid,
                host: replacement.0,
                port: replacement.1,
            });
            free.retain(|r| r.nodeid != np.nodeid);
        }
        ops.push(CitusOp::Update {
            nodeid: primary_row.nodeid,
            host: want_primary.0.clone(),
            port: want_primary.1,
        });
        // Reuse free rows for missing secondaries; no adds or removes in this batch.
        for (row, addr) in free.iter().zip(missing.iter()) {
            if ops
                .iter()
                .any(|o| matches!(o, CitusOp::Update { nodeid, .. } if *nodeid == row.nodeid))
            {
                continue;
            }
            ops.push(CitusOp::Update {
                nodeid: row.nodeid,
                host: addr.0.clone(),
                port: addr.1,
            });
        }
        return ops;
    }

    // Same primary: reuse free secondary rows, then add or remove what is left.
    let mut free_iter = free.into_iter();
    let mut leftover_free = Vec::new();
    for addr in missing {
        match free_iter.next() {
            Some(row) => ops.push(CitusOp::Update {
                nodeid: row.nodeid,
                host: addr.0,
                port: addr.1,
            }),
            None => ops.push(CitusOp::Add {
                host: addr.0,
                port: addr.1,
                group: desired.group,
                role: NodeRole::Secondary,
            }),
        }
    }
    leftover_free.extend(free_iter);
    for row in leftover_free {
        ops.push(CitusOp::Remove {
            host: row.host.clone(),
            port: row.port,
        });
    }
    ops
}

/// Plans every group: `rows` is the whole pg_dist_node, `desired` one entry per group known to etcd.
/// Groups are planned independently; group 0 (the coordinator) first.
pub fn plan(rows: &[DistNode], desired: &[DesiredGroup]) -> BTreeMap<u32, Vec<CitusOp>> {
    let mut out = BTreeMap::new();
    for d in desired {
        let group_rows: Vec<DistNode> = rows
            .iter()
            .filter(|r| r.group == d.group)
            .cloned()
            .collect();
        let ops = plan_group(&group_rows, d);
        if !ops.is_empty() {
            out.insert(d.group, ops);
        }
    }
    out
}

/// The `pg_dist_authinfo.authinfo` text for the superuser's credentials: its `password`,
/// `sslcert` and `sslkey` as libpq `key=value` pairs (quoted as libpq reads them), or `None` when
/// it has none of them (no row then). Citus uses this row for its connections to other nodes.
pub fn authinfo_text(su: &crate::config::Credentials) -> Option<String> {
    let pairs: Vec<String> = [
        ("password", &su.password),
        ("sslcert", &su.sslcert),
        ("sslkey", &su.sslkey),
    ]
    .into_iter()
    .filter_map(|(k, v)| {
        v.as_ref()
            .map(|v| format!("{k}={}", crate::types::conninfo_value(v)))
    })
    .collect();
    (!pairs.is_empty()).then(|| pairs.join(" "))
}

/// What a reload that changed the superuser's credentials asks of every Citus node. `Debug`
/// output hides the password and the authinfo text.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialChange {
    /// The superuser's role name.
    pub role: String,
    /// The new password when it changed (`Some(None)`: the password was removed).
    pub password: Option<Option<String>>,
    /// The new `pg_dist_authinfo` text ([`authinfo_text`]); `None` deletes the row.
    pub authinfo: Option<String>,
}

impl std::fmt::Debug for CredentialChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialChange")
            .field("role", &self.role)
            .field(
                "password",
                &self.password.as_ref().map(|p| p.as_ref().map(|_| "…")),
            )
            .field("authinfo", &self.authinfo.as_ref().map(|_| "…"))
            .finish()
    }
}

/// The change a reload from `old` to `new` superuser credentials asks for, or `None` when
/// nothing Citus uses changed (`password`, `sslcert`, `sslkey`). A changed role name is not a
/// rotation (the agent keeps the running name until it restarts).
pub fn credential_change(
    old: &crate::config::Credentials,
    new: &crate::config::Credentials,
) -> Option<CredentialChange> {
    if old.username != new.username || authinfo_text(old) == authinfo_text(new) {
        return None;
    }
    Some(CredentialChange {
        role: new.username.clone().unwrap_or_else(|| "postgres".into()),
        password: (old.password != new.password).then(|| new.password.clone()),
        authinfo: authinfo_text(new),
    })
}

/// The change that installs `su`'s credentials whatever the nodes hold now: the password is
/// always set (a node may hold any earlier one), and the `pg_dist_authinfo` row written.
pub fn target_change(su: &crate::config::Credentials) -> CredentialChange {
    CredentialChange {
        role: su.username.clone().unwrap_or_else(|| "postgres".into()),
        password: Some(su.password.clone()),
        authinfo: authinfo_text(su),
    }
}

/// A server a credential rotation touches: the coordinator itself or a worker group's primary.
/// Standbys follow their primary through WAL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RotationNode {
    /// This coordinator's own server.
    Coordinator,
    /// The primary of worker group `group` at `addr`.
    Worker {
        /// Citus group.
        group: u32,
        /// host and port from its member key.
        addr: Addr,
    },
}

/// One prepared transaction of a rotation: on `node`, in `database`, set the role's password
/// (once per node) and the `pg_dist_authinfo` row, then `PREPARE TRANSACTION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationPrepare {
    /// Where.
    pub node: RotationNode,
    /// Which Citus database.
    pub database: String,
    /// `ALTER ROLE … PASSWORD` in this transaction (the first database of each node).
    pub set_password: bool,
}

/// The servers a credential rotation touches: the coordinator, then each worker group's primary
/// in group order.
///
/// # Errors
/// A worker group has no running primary in etcd (a failover is under way).
pub fn rotation_nodes(groups: &[DesiredGroup]) -> Result<Vec<RotationNode>, String> {
    let mut nodes = vec![RotationNode::Coordinator];
    for g in groups.iter().filter(|g| g.group != 0) {
        let addr = g
            .primary
            .clone()
            .ok_or_else(|| format!("Citus group {} has no running primary", g.group))?;
        nodes.push(RotationNode::Worker {
            group: g.group,
            addr,
        });
    }
    Ok(nodes)
}

/// The prepared transactions of a credential rotation, in order: the coordinator's, then each
/// worker group's primary, each in every Citus database. All are committed once all are
/// prepared (`COMMIT PREPARED` on every node at once), or all rolled back: the role's password and
/// the `pg_dist_authinfo` rows change together, so no node holds the new password while another
/// still sends the old one for longer than the commits take.
///
/// # Errors
/// A worker group has no running primary in etcd (a failover is under way): the rotation waits.
pub fn plan_rotation(
    change: &CredentialChange,
    databases: &[String],
    groups: &[DesiredGroup],
) -> Result<Vec<RotationPrepare>, String> {
    Ok(rotation_nodes(groups)?
        .into_iter()
        .flat_map(|node| {
            databases
                .iter()
                .enumerate()
                .map(move |(i, database)| RotationPrepare {
                    node: node.clone(),
                    database: database.clone(),
                    set_password: i == 0 && change.password.is_some(),
                })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(nodeid: i32, host: &str, role: NodeRole) -> DistNode {
        DistNode {
            nodeid,
            group: 1,
            host: host.into(),
            port: 5432,
            role,
        }
    }
    fn a(h: &str) -> Addr {
        (h.into(), 5432)
    }
    fn want(p: Option<&str>, s: &[&str]) -> DesiredGroup {
        DesiredGroup {
            group: 1,
            primary: p.map(a),
            secondaries: s.iter().map(|h| a(h)).collect(),
            poolers: BTreeMap::new(),
        }
    }
    fn upd(nodeid: i32, host: &str) -> CitusOp {
        CitusOp::Update {
            nodeid,
            host: host.into(),
            port: 5432,
        }
    }
    fn add(host: &str, role: NodeRole) -> CitusOp {
        CitusOp::Add {
            host: host.into(),
            port: 5432,
            group: 1,
            role,
        }
    }
    fn rm(host: &str) -> CitusOp {
        CitusOp::Remove {
            host: host.into(),
            port: 5432,
        }
    }
    use NodeRole::{Primary as P, Secondary as S};

    #[test]
    fn transitions() {
        #[allow(clippy::type_complexity)]
        let cases: Vec<(&str, Vec<DistNode>, DesiredGroup, Vec<CitusOp>)> = vec![
            (
                "empty group",
                vec![],
                want(Some("h1"), &["h2"]),
                vec![add("h1", P), add("h2", S)],
            ),
            (
                "steady",
                vec![row(1, "h1", P), row(2, "h2", S)],
                want(Some("h1"), &["h2"]),
                vec![],
            ),
            (
                "no leader: leave alone",
                vec![row(1, "h1", P)],
                want(None, &["h2"]),
                vec![],
            ),
            (
                "switchover to a registered secondary",
                vec![row(1, "h1", P), row(2, "h2", S)],
                want(Some("h2"), &["h1"]),
                vec![upd(1, "h1-demoted"), upd(2, "h1"), upd(1, "h2")],
            ),
            (
                "paused switchover",
                vec![row(1, "h1-demoted", P), row(2, "h2", S)],
                want(Some("h2"), &["h1"]),
                vec![upd(2, "h1"), upd(1, "h2")],
            ),
            (
                "failover, old primary gone: listed as secondary until a later loop",
                vec![row(1, "h1", P), row(2, "h2", S)],
                want(Some("h2"), &[]),
                vec![upd(1, "h1-demoted"), upd(2, "h1"), upd(1, "h2")],
            ),
            (
                "after that failover: remove the gone one",
                vec![row(1, "h2", P), row(2, "h1", S)],
                want(Some("h2"), &[]),
                vec![rm("h1")],
            ),
            (
                "failover, old primary gone, a new standby takes the freed row",
                vec![row(1, "h1", P), row(2, "h2", S), row(3, "h3", S)],
                want(Some("h2"), &["h3", "h4"]),
                vec![upd(1, "h1-demoted"), upd(2, "h4"), upd(1, "h2")],
            ),
            (
                "primary moved to an unregistered host: no add in that batch",
                vec![row(1, "h1", P)],
                want(Some("h3"), &["h1"]),
                vec![upd(1, "h3")],
            ),
            (
                "then the old primary is added as secondary",
                vec![row(1, "h3", P)],
                want(Some("h3"), &["h1"]),
                vec![add("h1", S)],
            ),
            (
                "secondary added",
                vec![row(1, "h1", P)],
                want(Some("h1"), &["h2"]),
                vec![add("h2", S)],
            ),
            (
                "secondary removed",
                vec![row(1, "h1", P), row(2, "h2", S)],
                want(Some("h1"), &[]),
                vec![rm("h2")],
            ),
            (
                "secondary replaced: nodeid reused",
                vec![row(1, "h1", P), row(2, "h2", S)],
                want(Some("h1"), &["h3"]),
                vec![upd(2, "h3")],
            ),
            (
                "two replaced, one more added",
                vec![row(1, "h1", P), row(2, "h2", S), row(3, "h3", S)],
                want(Some("h1"), &["h4", "h5", "h6"]),
                vec![upd(2, "h4"), upd(3, "h5"), add("h6", S)],
            ),
            (
                "primary moved, a gone secondary's row is reused, no removes",
                vec![row(1, "h1", P), row(2, "h2", S), row(3, "h9", S)],
                want(Some("h2"), &["h1", "h3"]),
                vec![
                    upd(1, "h1-demoted"),
                    upd(2, "h1"),
                    upd(1, "h2"),
                    upd(3, "h3"),
                ],
            ),
        ];
        for (name, rows, desired, expected) in cases {
            assert_eq!(plan_group(&rows, &desired), expected, "case: {name}");
        }
    }

    #[test]
    fn pause_marks_primary_demoted_once() {
        let rows = vec![row(1, "h1", P), row(2, "h2", S)];
        assert_eq!(plan_pause(&rows), vec![upd(1, "h1-demoted")]);
        assert_eq!(plan_pause(&[row(1, "h1-demoted", P)]), vec![]);
        assert_eq!(plan_pause(&[]), vec![]);
    }

    #[test]
    fn plans_each_group_separately() {
        let rows = vec![
            DistNode {
                nodeid: 1,
                group: 0,
                host: "c1".into(),
                port: 5432,
                role: P,
            },
            row(2, "h1", P),
        ];
        let desired = vec![
            DesiredGroup {
                group: 0,
                primary: Some(a("c2")),
                secondaries: vec![a("c1")],
                poolers: BTreeMap::new(),
            },
            want(Some("h1"), &[]),
            DesiredGroup {
                group: 2,
                primary: Some(a("w2")),
                secondaries: vec![],
                poolers: BTreeMap::new(),
            },
        ];
        let p = plan(&rows, &desired);
        assert_eq!(p[&0], vec![upd(1, "c2")]);
        assert!(!p.contains_key(&1));
        assert_eq!(
            p[&2],
            vec![CitusOp::Add {
                host: "w2".into(),
                port: 5432,
                group: 2,
                role: P
            }]
        );
    }

    fn pool(nodeid: i32, host: &str) -> PoolInfo {
        PoolInfo {
            nodeid,
            poolinfo: poolinfo_of(&(host.to_string(), 6432)),
        }
    }
    fn with_poolers(mut d: DesiredGroup, members: &[&str]) -> DesiredGroup {
        d.poolers = members
            .iter()
            .map(|m| (a(m), (format!("{m}-pool"), 6432)))
            .collect();
        d
    }

    /// pg_dist_poolinfo follows pg_dist_node and the poolers members publish, as exact lists.
    #[test]
    fn poolinfo_transitions() {
        use PoolOp::*;
        let set = |nodeid: i32, host: &str| Set(pool(nodeid, &format!("{host}-pool")));
        let nodes = vec![
            row(1, "h1", NodeRole::Primary),
            row(2, "h2", NodeRole::Secondary),
        ];
        #[rustfmt::skip]
        let cases: Vec<(&str, Vec<DistNode>, Vec<PoolInfo>, DesiredGroup, Vec<PoolOp>)> = vec![
            ("no poolers, no rows: nothing", nodes.clone(), vec![],
             want(Some("h1"), &["h2"]), vec![]),
            ("both members publish a pooler: a row for each node", nodes.clone(), vec![],
             with_poolers(want(Some("h1"), &["h2"]), &["h1", "h2"]), vec![set(1, "h1"), set(2, "h2")]),
            ("in step: nothing", nodes.clone(), vec![pool(1, "h1-pool"), pool(2, "h2-pool")],
             with_poolers(want(Some("h1"), &["h2"]), &["h1", "h2"]), vec![]),
            ("after a switchover the primary row (nodeid 1) is h2's: its pooler follows",
             vec![row(1, "h2", NodeRole::Primary), row(2, "h1", NodeRole::Secondary)],
             vec![pool(1, "h1-pool"), pool(2, "h2-pool")],
             with_poolers(want(Some("h2"), &["h1"]), &["h1", "h2"]), vec![set(1, "h2"), set(2, "h1")]),
            ("a member drops its pooler: its row goes", nodes.clone(),
             vec![pool(1, "h1-pool"), pool(2, "h2-pool")],
             with_poolers(want(Some("h1"), &["h2"]), &["h1"]), vec![Delete { nodeid: 2 }]),
            ("a paused primary row (-demoted) has no pooler", 
             vec![row(1, "h1-demoted", NodeRole::Primary), row(2, "h2", NodeRole::Secondary)],
             vec![pool(1, "h1-pool"), pool(2, "h2-pool")],
             with_poolers(want(Some("h1"), &["h2"]), &["h1", "h2"]), vec![Delete { nodeid: 1 }]),
            ("a row whose node left pg_dist_node is deleted", vec![row(1, "h1", NodeRole::Primary)],
             vec![pool(1, "h1-pool"), pool(7, "gone-pool")],
             with_poolers(want(Some("h1"), &[]), &["h1"]), vec![Delete { nodeid: 7 }]),
        ];
        for (what, nodes, pools, desired, expected) in cases {
            assert_eq!(
                plan_poolinfo(&nodes, &pools, &[desired]),
                expected,
                "{what}"
            );
        }
        // Another group's rows are not touched by a plan for group 1 only.
        let other = DistNode {
            group: 2,
            ..row(5, "w2", NodeRole::Primary)
        };
        assert_eq!(
            plan_poolinfo(&[other], &[pool(5, "w2-pool")], &[want(Some("h1"), &[])]),
            vec![]
        );
    }

    fn su(password: Option<&str>, sslcert: Option<&str>) -> crate::config::Credentials {
        crate::config::Credentials {
            username: Some("postgres".into()),
            password: password.map(String::from),
            sslcert: sslcert.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn credential_changes() {
        assert_eq!(
            authinfo_text(&su(Some("it's"), Some("/c.pem"))).as_deref(),
            Some("password='it\\'s' sslcert='/c.pem'")
        );
        assert_eq!(authinfo_text(&su(None, None)), None);
        assert_eq!(
            credential_change(&su(Some("a"), None), &su(Some("a"), None)),
            None
        );
        let mut renamed = su(Some("b"), None);
        renamed.username = Some("admin".into());
        assert_eq!(
            credential_change(&su(Some("a"), None), &renamed),
            None,
            "a new role name waits for a restart"
        );
        let mut sslmode = su(Some("a"), None);
        sslmode.sslmode = Some("require".into());
        assert_eq!(credential_change(&su(Some("a"), None), &sslmode), None);
        assert_eq!(
            credential_change(&su(Some("a"), None), &su(Some("b"), None)),
            Some(CredentialChange {
                role: "postgres".into(),
                password: Some(Some("b".into())),
                authinfo: Some("password='b'".into()),
            })
        );
        assert_eq!(
            credential_change(&su(Some("a"), None), &su(Some("a"), Some("/n.pem"))),
            Some(CredentialChange {
                role: "postgres".into(),
                password: None,
                authinfo: Some("password='a' sslcert='/n.pem'".into()),
            }),
            "only the certificate changed: no ALTER ROLE"
        );
        assert_eq!(
            credential_change(&su(Some("a"), None), &su(None, None)),
            Some(CredentialChange {
                role: "postgres".into(),
                password: Some(None),
                authinfo: None,
            })
        );
    }

    #[test]
    fn target_change_always_sets_the_password() {
        assert_eq!(
            target_change(&su(Some("b"), None)),
            CredentialChange {
                role: "postgres".into(),
                password: Some(Some("b".into())),
                authinfo: Some("password='b'".into()),
            }
        );
        assert_eq!(
            format!("{:?}", target_change(&su(Some("secret"), None))),
            "CredentialChange { role: \"postgres\", password: Some(Some(\"…\")), authinfo: Some(\"…\") }",
            "Debug hides the password"
        );
    }

    #[test]
    fn rotation_prepares_every_node_in_every_database() {
        let change = credential_change(&su(Some("a"), None), &su(Some("b"), None)).unwrap();
        let dbs = ["citus".to_string(), "citus2".to_string()];
        let mut g0 = want(Some("c1"), &[]);
        g0.group = 0;
        let mut g2 = want(Some("w2"), &["w2b"]);
        g2.group = 2;
        let groups = [g0, want(Some("w1"), &["w1b"]), g2];
        let p = |node: RotationNode, db: &str, set_password: bool| RotationPrepare {
            node,
            database: db.into(),
            set_password,
        };
        let w = |group: u32, h: &str| RotationNode::Worker { group, addr: a(h) };
        assert_eq!(
            plan_rotation(&change, &dbs, &groups).unwrap(),
            vec![
                p(RotationNode::Coordinator, "citus", true),
                p(RotationNode::Coordinator, "citus2", false),
                p(w(1, "w1"), "citus", true),
                p(w(1, "w1"), "citus2", false),
                p(w(2, "w2"), "citus", true),
                p(w(2, "w2"), "citus2", false),
            ]
        );
        let cert_only =
            credential_change(&su(Some("a"), None), &su(Some("a"), Some("/n.pem"))).unwrap();
        assert!(plan_rotation(&cert_only, &dbs[..1], &groups)
            .unwrap()
            .iter()
            .all(|s| !s.set_password));
        let mut failing_over = groups.clone();
        failing_over[2].primary = None;
        assert_eq!(
            plan_rotation(&change, &dbs, &failing_over),
            Err("Citus group 2 has no running primary".to_string())
        );
    }
}
