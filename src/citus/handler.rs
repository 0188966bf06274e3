//! The coordinator side of Citus support, and each group's bootstrap.
//!
//! One task per coordinator agent ([`CitusHandler`]) owns a dedicated connection to the Citus
//! database and serialises every pg_dist_node change, as Patroni's handler thread does (reference
//! §3.3–3.6). Periodic reconciliations come from the HA loop ([`CitusMsg::Sync`]); worker switchover
//! events come from `POST /citus` ([`CitusMsg::Event`]). A `before_demote` opens a transaction and
//! renames the group's primary row to `<host>-demoted`, so Citus holds new distributed writes to the
//! group; `before_promote` points the row at the new primary inside the same transaction;
//! `after_promote` commits. If the deadline (the worker's ttl) passes first, the transaction is rolled
//! back and the next reconciliation restores the rows from etcd.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::{
    plan, plan_group, plan_pause, plan_poolinfo, CitusOp, CredentialChange, DesiredGroup, DistNode,
    NodeRole, PoolInfo, PoolOp, RotationNode, RotationPrepare,
};
use crate::config::Config;
use crate::dcs::ClusterView;
use crate::postgres::LocalPostgres;

/// A worker's switchover event (`POST /citus` body), Patroni's JSON.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CitusEvent {
    /// `before_demote`, `before_promote` or `after_promote`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The worker's Citus group.
    pub group: u32,
    /// The sending member, which must hold its group's leader key.
    pub leader: String,
    /// The worker's ttl, seconds: the pause transaction's deadline.
    pub timeout: f64,
    /// The worker's retry_timeout, seconds: Citus's lock_cooldown.
    pub cooldown: f64,
}

/// Messages to the handler task.
#[derive(Debug)]
pub enum CitusMsg {
    /// Reconcile every group towards `desired`.
    Sync(Vec<DesiredGroup>),
    /// A worker event with its group's desired state; replied to once applied.
    Event(
        CitusEvent,
        DesiredGroup,
        oneshot::Sender<Result<(), String>>,
    ),
    /// We are no longer the coordinator leader: roll back and forget the connection.
    Reset,
}

/// What etcd says each group should look like (reference §3.3): the leader-key holder when it runs
/// as primary with a `conn_url`, and the other running members not tagged `noloadbalance` as
/// secondaries. Group 0's leader is the coordinator itself.
pub fn desired_groups(views: &BTreeMap<u32, ClusterView>) -> Vec<DesiredGroup> {
    views
        .iter()
        .map(|(group, v)| {
            let leader = v.leader.as_ref().map(|l| l.name.as_str());
            let primary = v
                .leader_member()
                .filter(|m| m.role() == Some(crate::types::Role::Primary) && m.is_running())
                .and_then(|m| m.host_port());
            let secondaries = v
                .members
                .iter()
                .filter(|m| Some(m.name.as_str()) != leader)
                .filter(|m| m.is_running() && !m.tags().noloadbalance)
                .filter_map(|m| m.host_port())
                .collect();
            let poolers = v
                .members
                .iter()
                .filter_map(|m| Some((m.host_port()?, m.pooler()?)))
                .collect();
            DesiredGroup {
                group: *group,
                primary,
                secondaries,
                poolers,
            }
        })
        .collect()
}

/// A handle on the coordinator's handler tasks: one per Citus database, each with its own
/// connection, so each database's metadata is kept and paused independently and at once.
#[derive(Clone)]
pub struct CitusHandler {
    /// (database, its task's queue).
    tasks: Vec<(String, mpsc::Sender<CitusMsg>)>,
}

impl CitusHandler {
    /// Starts one task per database for the local coordinator server.
    pub fn start(pg: std::sync::Arc<LocalPostgres>, databases: Vec<String>) -> CitusHandler {
        let several = databases.len() > 1;
        let tasks = databases
            .into_iter()
            .map(|db| {
                let (tx, rx) = mpsc::channel(32);
                tokio::spawn(run(pg.clone(), db.clone(), several, rx));
                (db, tx)
            })
            .collect();
        CitusHandler { tasks }
    }

    /// Queues a message for every database's task (dropped for a task that is gone). An event's
    /// reply comes once every database applied it (or the first errors, each naming its
    /// database).
    pub async fn send(&self, msg: CitusMsg) {
        match msg {
            CitusMsg::Sync(desired) => {
                for (_, tx) in &self.tasks {
                    let _ = tx.send(CitusMsg::Sync(desired.clone())).await;
                }
            }
            CitusMsg::Reset => {
                for (_, tx) in &self.tasks {
                    let _ = tx.send(CitusMsg::Reset).await;
                }
            }
            CitusMsg::Event(ev, desired, reply) => {
                let mut answers = Vec::new();
                for (db, tx) in &self.tasks {
                    let (t, r) = oneshot::channel();
                    let _ = tx
                        .send(CitusMsg::Event(ev.clone(), desired.clone(), t))
                        .await;
                    answers.push((db.clone(), r));
                }
                tokio::spawn(async move {
                    let mut errors = Vec::new();
                    for (db, r) in answers {
                        match r.await {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => errors.push(format!("database {db}: {e}")),
                            Err(_) => errors.push(format!("database {db}: its task is gone")),
                        }
                    }
                    let _ = reply.send(if errors.is_empty() {
                        Ok(())
                    } else {
                        Err(errors.join("; "))
                    });
                });
            }
        }
    }
}

struct InFlight {
    group: u32,
    deadline: Instant,
}

struct State {
    pg: std::sync::Arc<LocalPostgres>,
    database: String,
    /// Appended to its log lines when there are several Citus databases.
    label: String,
    client: Option<tokio_postgres::Client>,
    in_flight: Option<InFlight>,
    cooldown_ms: i32,
}

impl State {
    async fn client(&mut self) -> Result<&tokio_postgres::Client> {
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            let c = self
                .pg
                .connect_db(&self.database)
                .await
                .context("connecting to the Citus database")?;
            c.batch_execute(
                "SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0",
            )
            .await?;
            self.client = Some(c);
            self.in_flight = None;
        }
        Ok(self.client.as_ref().expect("just connected"))
    }

    async fn exec(&mut self, sql: &str) -> Result<()> {
        tracing::info!("citus: {sql}{}", self.label);
        self.client()
            .await?
            .batch_execute(sql)
            .await
            .with_context(|| format!("running {sql}"))
    }

    async fn rows(&mut self) -> Result<Vec<DistNode>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT nodeid, groupid, nodename, nodeport, noderole::text FROM pg_catalog.pg_dist_node
                 WHERE noderole::text IN ('primary', 'secondary')",
                &[],
            )
            .await
            .context("reading pg_dist_node")?;
        Ok(rows
            .iter()
            .map(|r| DistNode {
                nodeid: r.get(0),
                group: r.get::<_, i32>(1) as u32,
                host: r.get(2),
                port: r.get::<_, i32>(3) as u16,
                role: if r.get::<_, String>(4) == "primary" {
                    NodeRole::Primary
                } else {
                    NodeRole::Secondary
                },
            })
            .collect())
    }

    /// pg_dist_poolinfo.
    async fn pools(&mut self) -> Result<Vec<PoolInfo>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT nodeid, poolinfo FROM pg_catalog.pg_dist_poolinfo",
                &[],
            )
            .await
            .context("reading pg_dist_poolinfo")?;
        Ok(rows
            .iter()
            .map(|r| PoolInfo {
                nodeid: r.get(0),
                poolinfo: r.get(1),
            })
            .collect())
    }

    /// Brings pg_dist_poolinfo in line with `desired` ([`plan_poolinfo`]) for pg_dist_node as it
    /// is now (`nodes`, when just read). Inside the switchover transaction (`in_txn`) it runs
    /// under a savepoint: a refused row is logged and rolled back to it, and the pause
    /// transaction goes on (its pg_dist_node change matters more).
    async fn sync_pools(
        &mut self,
        desired: &[DesiredGroup],
        nodes: Option<Vec<DistNode>>,
        in_txn: bool,
    ) -> Result<()> {
        if !in_txn {
            return self.sync_pools_now(desired, nodes).await;
        }
        self.exec("SAVEPOINT praetor_poolinfo").await?;
        match self.sync_pools_now(desired, nodes).await {
            Ok(()) => self.exec("RELEASE SAVEPOINT praetor_poolinfo").await,
            Err(e) => {
                tracing::warn!("citus: updating pg_dist_poolinfo: {e:#}; left as it was");
                self.exec("ROLLBACK TO SAVEPOINT praetor_poolinfo").await
            }
        }
    }

    async fn sync_pools_now(
        &mut self,
        desired: &[DesiredGroup],
        nodes: Option<Vec<DistNode>>,
    ) -> Result<()> {
        let nodes = match nodes {
            Some(n) => n,
            None => self.rows().await?,
        };
        let pools = self.pools().await?;
        let lit = |s: &str| format!("'{}'", s.replace('\'', "''"));
        for op in plan_poolinfo(&nodes, &pools, desired) {
            let sql = match op {
                PoolOp::Set(p) => format!(
                    "INSERT INTO pg_catalog.pg_dist_poolinfo (nodeid, poolinfo) VALUES ({}, {}) \
                     ON CONFLICT (nodeid) DO UPDATE SET poolinfo = EXCLUDED.poolinfo",
                    p.nodeid,
                    lit(&p.poolinfo)
                ),
                PoolOp::Delete { nodeid } => {
                    format!("DELETE FROM pg_catalog.pg_dist_poolinfo WHERE nodeid = {nodeid}")
                }
            };
            self.exec(&sql).await?;
        }
        Ok(())
    }

    /// The rows of Citus group `group`.
    async fn group_rows(&mut self, group: u32) -> Result<Vec<DistNode>> {
        let mut rows = self.rows().await?;
        rows.retain(|r| r.group == group);
        Ok(rows)
    }

    fn sql(&self, op: &CitusOp) -> String {
        let lit = |s: &str| format!("'{}'", s.replace('\'', "''"));
        match op {
            CitusOp::Add {
                host,
                port,
                group,
                role,
            } => format!(
                "SELECT pg_catalog.citus_add_node({}, {port}, {group}, {}, 'default')",
                lit(host),
                lit(role.as_str())
            ),
            CitusOp::Update { nodeid, host, port } => format!(
                "SELECT pg_catalog.citus_update_node({nodeid}, {}, {port}, true, {})",
                lit(host),
                self.cooldown_ms
            ),
            CitusOp::Remove { host, port } => {
                format!("SELECT pg_catalog.citus_remove_node({}, {port})", lit(host))
            }
        }
    }

    async fn apply(&mut self, ops: &[CitusOp], own_txn: bool) -> Result<()> {
        let wrap = own_txn && ops.len() > 1;
        if wrap {
            self.exec("BEGIN").await?;
        }
        for op in ops {
            let sql = self.sql(op);
            if let Err(e) = self.exec(&sql).await {
                if wrap {
                    let _ = self.exec("ROLLBACK").await;
                }
                return Err(e);
            }
        }
        if wrap {
            self.exec("COMMIT").await?;
        }
        Ok(())
    }

    async fn rollback_in_flight(&mut self, why: &str) {
        if let Some(f) = self.in_flight.take() {
            tracing::warn!(
                "citus: rolling back the pause transaction of group {}: {why}",
                f.group
            );
            if self.exec("ROLLBACK").await.is_err() {
                self.client = None;
            }
        }
    }

    async fn sync(&mut self, desired: Vec<DesiredGroup>) -> Result<()> {
        if let Some(f) = &self.in_flight {
            if Instant::now() < f.deadline {
                return Ok(()); // the switchover in progress owns the connection until its deadline
            }
            self.rollback_in_flight("its deadline passed").await;
        }
        let rows = self.rows().await?;
        let plans = plan(&rows, &desired);
        for (group, ops) in &plans {
            tracing::info!("citus: reconciling group {group}: {} change(s)", ops.len());
            self.apply(ops, true).await?;
        }
        let unchanged = plans.is_empty().then_some(rows);
        self.sync_pools(&desired, unchanged, false).await
    }

    async fn event(&mut self, ev: &CitusEvent, desired: &DesiredGroup) -> Result<()> {
        self.cooldown_ms = (ev.cooldown * 1000.0).round().clamp(0.0, i32::MAX as f64) as i32;
        if let Some(f) = &self.in_flight {
            if f.group != ev.group {
                if Instant::now() < f.deadline {
                    bail!(
                        "group {} is switching over; event for group {} refused",
                        f.group,
                        ev.group
                    );
                }
                self.rollback_in_flight("its deadline passed").await;
            }
        }
        let deadline = Instant::now() + Duration::from_secs_f64(ev.timeout.max(1.0));
        match ev.kind.as_str() {
            "before_demote" | "before_promote" => {
                if self.in_flight.is_none() {
                    self.exec("BEGIN").await?;
                    self.in_flight = Some(InFlight {
                        group: ev.group,
                        deadline,
                    });
                }
                let rows = self.group_rows(ev.group).await?;
                let mut ops = if ev.kind == "before_demote" {
                    plan_pause(&rows)
                } else {
                    plan_group(&rows, desired)
                };
                ops.retain(|o| !matches!(o, CitusOp::Add { .. } | CitusOp::Remove { .. }));
                self.apply(&ops, false).await?;
                // The group's poolers move with its rows, in the same transaction.
                self.sync_pools(std::slice::from_ref(desired), None, true)
                    .await?;
                if let Some(f) = &mut self.in_flight {
                    f.deadline = deadline;
                }
                Ok(())
            }
            "after_promote" => {
                let rows = self.group_rows(ev.group).await?;
                let ops = plan_group(&rows, desired);
                if self.in_flight.take().is_some() {
                    self.apply(&ops, false).await?;
                    self.sync_pools(std::slice::from_ref(desired), None, true)
                        .await?;
                    self.exec("COMMIT").await
                } else {
                    self.apply(&ops, true).await?;
                    self.sync_pools(std::slice::from_ref(desired), None, false)
                        .await
                }
            }
            other => bail!("unknown event type {other:?}"),
        }
    }
}

async fn run(
    pg: std::sync::Arc<LocalPostgres>,
    database: String,
    several: bool,
    mut rx: mpsc::Receiver<CitusMsg>,
) {
    let mut st = State {
        pg,
        label: if several {
            format!(" (database {database})")
        } else {
            String::new()
        },
        database,
        client: None,
        in_flight: None,
        cooldown_ms: 10_000,
    };
    loop {
        let deadline = st.in_flight.as_ref().map(|f| f.deadline);
        let msg = tokio::select! {
            m = rx.recv() => m,
            _ = async { tokio::time::sleep_until(deadline.expect("some")).await }, if deadline.is_some() => {
                st.rollback_in_flight("its deadline passed before after_promote").await;
                continue;
            }
        };
        let Some(msg) = msg else { return };
        match msg {
            CitusMsg::Sync(desired) => {
                if let Err(e) = st.sync(desired).await {
                    tracing::warn!("citus: reconciling pg_dist_node: {e:#}");
                    st.client = None;
                    st.in_flight = None;
                }
            }
            CitusMsg::Event(ev, desired, reply) => {
                let r = st.event(&ev, &desired).await;
                if let Err(e) = &r {
                    tracing::warn!(
                        "citus: handling {} from {} (group {}): {e:#}",
                        ev.kind,
                        ev.leader,
                        ev.group
                    );
                    if st.client.as_ref().is_none_or(|c| c.is_closed()) {
                        st.in_flight = None;
                    }
                }
                let _ = reply.send(r.map_err(|e| format!("{e:#}")));
            }
            CitusMsg::Reset => {
                st.rollback_in_flight("this member is no longer the coordinator leader")
                    .await;
                st.client = None;
            }
        }
    }
}

/// What a rotation task found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationOutcome {
    /// The sweep rolled back this many leftover prepared transactions.
    Swept(usize),
    /// Every node already holds the configured credentials.
    InStep,
    /// The credentials were rotated on every node.
    Rotated,
}

/// Checks that every step of `plan` (each node, each Citus database) accepts the configured
/// superuser credentials and holds `change.authinfo` as the role's `pg_dist_authinfo` row; when
/// one does not, carries out the rotation ([`rotate_credentials`]). A coordinator member that
/// reloaded the same credentials the nodes already hold (its leader rotated them) thus changes
/// nothing.
///
/// # Errors
/// A node was unreachable for another reason than its credentials, or the rotation failed.
pub async fn ensure_credentials(
    pg: &LocalPostgres,
    change: &CredentialChange,
    plan: &[RotationPrepare],
) -> Result<RotationOutcome> {
    let mut differs = None;
    for step in plan {
        let addr = match &step.node {
            RotationNode::Coordinator => None,
            RotationNode::Worker { addr, .. } => Some((addr.0.as_str(), addr.1)),
        };
        let c = match pg.connect_configured(addr, &step.database).await {
            Ok(c) => c,
            Err(e) if crate::postgres::is_auth_failure(&e) => {
                differs = Some(format!(
                    "{} refuses the configured credentials",
                    step.describe()
                ));
                break;
            }
            Err(e) => return Err(e.context(format!("checking {}", step.describe()))),
        };
        let held: Option<String> = c
            .query_opt(
                "SELECT authinfo FROM pg_catalog.pg_dist_authinfo WHERE nodeid = 0 AND rolename = $1",
                &[&change.role],
            )
            .await
            .with_context(|| format!("reading pg_dist_authinfo on {}", step.describe()))?
            .map(|r| r.get(0));
        if held != change.authinfo {
            differs = Some(format!(
                "{} holds other credentials in pg_dist_authinfo",
                step.describe()
            ));
            break;
        }
    }
    let Some(why) = differs else {
        return Ok(RotationOutcome::InStep);
    };
    tracing::info!(
        "citus: rotating the superuser's credentials ({} prepared transactions): {why}",
        plan.len()
    );
    rotate_credentials(pg, change, plan).await?;
    Ok(RotationOutcome::Rotated)
}

/// Prepared-transaction names of a credential rotation start with this.
const ROTATION_GID: &str = "praetor_credentials";

/// One open transaction of a rotation.
struct Prepared {
    step: RotationPrepare,
    client: tokio_postgres::Client,
    gid: String,
}

impl RotationPrepare {
    fn describe(&self) -> String {
        match &self.node {
            RotationNode::Coordinator => format!("the coordinator, database {}", self.database),
            RotationNode::Worker { group, addr } => format!(
                "group {group}'s primary {}:{}, database {}",
                addr.0, addr.1, self.database
            ),
        }
    }
}

/// Carries out a credential rotation planned by [`super::plan_rotation`]: opens every
/// transaction, sets the role's password (as a SCRAM or md5 verifier, following each server's
/// `password_encryption`, so the password appears in no server log) and the `pg_dist_authinfo`
/// row, prepares them all, then commits them all at once; if any step fails before that, all are
/// rolled back. Citus's own propagation of `ALTER ROLE` is turned off in these transactions:
/// praetor changes every primary itself. Leftover prepared transactions of an earlier attempt are
/// rolled back first on every node and in every database ([`sweep_rotations`]), so an attempt
/// can always be repeated. Connections use the configured
/// superuser credentials, or those before the reload where the password is still the old one.
///
/// # Errors
/// A node was unreachable or refused a statement (the message names it); nothing was committed,
/// unless the error says that a commit failed (the next attempt redoes every node).
pub async fn rotate_credentials(
    pg: &LocalPostgres,
    change: &CredentialChange,
    plan: &[RotationPrepare],
) -> Result<()> {
    let mut nodes: Vec<RotationNode> = plan.iter().map(|s| s.node.clone()).collect();
    nodes.dedup();
    sweep_rotations(pg, &nodes).await?;
    let mut open = Vec::new();
    let mut failed = None;
    for step in plan {
        match prepare_rotation(pg, change, step).await {
            Ok(p) => open.push(p),
            Err(e) => {
                failed = Some(e.context(format!("preparing the rotation on {}", step.describe())));
                break;
            }
        }
    }
    if let Some(e) = failed {
        for p in &open {
            let sql = format!("ROLLBACK PREPARED '{}'", p.gid);
            if let Err(r) = p.client.batch_execute(&sql).await {
                tracing::warn!(
                    "citus: rolling back the rotation on {}: {r}",
                    p.step.describe()
                );
            }
        }
        return Err(e);
    }
    let commits = open.iter().map(|p| async move {
        p.client
            .batch_execute(&format!("COMMIT PREPARED '{}'", p.gid))
            .await
            .with_context(|| format!("committing the rotation on {}", p.step.describe()))
    });
    let errors: Vec<String> = futures::future::join_all(commits)
        .await
        .into_iter()
        .filter_map(|r| r.err().map(|e| format!("{e:#}")))
        .collect();
    if !errors.is_empty() {
        bail!("{}", errors.join("; "));
    }
    Ok(())
}

/// Rolls back the prepared transactions an interrupted rotation left on `nodes` (an agent
/// stopped or demoted between `PREPARE` and `COMMIT PREPARED`), in whichever database they are.
/// Returns how many it rolled back.
///
/// # Errors
/// A node was unreachable or refused (the message names it).
pub async fn sweep_rotations(pg: &LocalPostgres, nodes: &[RotationNode]) -> Result<usize> {
    let mut done = 0;
    for node in nodes {
        let connect = |db: String| async move {
            match node {
                RotationNode::Coordinator => pg.connect_db(&db).await,
                RotationNode::Worker { addr, .. } => pg.connect_to(&addr.0, addr.1, &db).await,
            }
        };
        let name = |db: &str| {
            RotationPrepare {
                node: node.clone(),
                database: db.to_string(),
                set_password: false,
            }
            .describe()
        };
        let c = connect("postgres".into())
            .await
            .with_context(|| format!("looking for leftover rotations on {}", name("postgres")))?;
        let rows = c
            .query(
                "SELECT gid, database::text FROM pg_catalog.pg_prepared_xacts WHERE starts_with(gid, $1)",
                &[&ROTATION_GID],
            )
            .await
            .context("reading pg_prepared_xacts")?;
        for row in rows {
            let (gid, db): (String, String) = (row.get(0), row.get(1));
            let d = connect(db.clone()).await?;
            d.batch_execute(&format!("ROLLBACK PREPARED '{}'", gid.replace('\'', "''")))
                .await
                .with_context(|| format!("rolling back {gid} on {}", name(&db)))?;
            tracing::info!(
                "citus: rolled back the interrupted rotation {gid} on {}",
                name(&db)
            );
            done += 1;
        }
    }
    Ok(done)
}

/// Opens, fills and prepares one transaction of a rotation.
async fn prepare_rotation(
    pg: &LocalPostgres,
    change: &CredentialChange,
    step: &RotationPrepare,
) -> Result<Prepared> {
    let client = match &step.node {
        RotationNode::Coordinator => pg.connect_db(&step.database).await?,
        RotationNode::Worker { addr, .. } => pg.connect_to(&addr.0, addr.1, &step.database).await?,
    };
    // The database's name in hexadecimal: unique on the server and safe in a literal.
    let hex: String = step.database.bytes().map(|b| format!("{b:02x}")).collect();
    let gid = format!("{ROTATION_GID}_{hex}");
    client
        .batch_execute(
            "BEGIN; SET LOCAL citus.enable_ddl_propagation = off; \
             SET LOCAL citus.enable_alter_role_propagation = off; \
             SET LOCAL log_statement = 'none'; SET LOCAL log_min_duration_statement = -1; \
             SET LOCAL log_parameter_max_length = 0; SET LOCAL log_parameter_max_length_on_error = 0; \
             SET LOCAL lock_timeout = '5s'; \
             SET LOCAL statement_timeout = '10s'",
        )
        .await?;
    let role = format!("\"{}\"", change.role.replace('"', "\"\""));
    if step.set_password {
        let sql = match change.password.as_ref().and_then(|p| p.as_ref()) {
            None => format!("ALTER ROLE {role} PASSWORD NULL"),
            Some(password) => {
                let method: String = client
                    .query_one("SHOW password_encryption", &[])
                    .await?
                    .get(0);
                let verifier = if method == "md5" {
                    postgres_protocol::password::md5(password.as_bytes(), &change.role)
                } else {
                    postgres_protocol::password::scram_sha_256(password.as_bytes())
                };
                format!(
                    "ALTER ROLE {role} PASSWORD '{}'",
                    verifier.replace('\'', "''")
                )
            }
        };
        client
            .batch_execute(&sql)
            .await
            .with_context(|| format!("ALTER ROLE {role} PASSWORD …"))?;
    }
    match &change.authinfo {
        Some(text) => client
            .execute(
                "INSERT INTO pg_catalog.pg_dist_authinfo (nodeid, rolename, authinfo) VALUES (0, $1, $2) \
                 ON CONFLICT (rolename, nodeid) DO UPDATE SET authinfo = EXCLUDED.authinfo",
                &[&change.role, text],
            )
            .await
            .context("writing pg_dist_authinfo")?,
        None => client
            .execute(
                "DELETE FROM pg_catalog.pg_dist_authinfo WHERE nodeid = 0 AND rolename = $1",
                &[&change.role],
            )
            .await
            .context("deleting from pg_dist_authinfo")?,
    };
    client
        .batch_execute(&format!("PREPARE TRANSACTION '{gid}'"))
        .await
        .context("PREPARE TRANSACTION (max_prepared_transactions must be above 0)")?;
    Ok(Prepared {
        step: step.clone(),
        client,
        gid,
    })
}

/// Bootstraps Citus on a group's new primary (reference §3.2), in each Citus database
/// (`citus.databases`, or `citus.database`): the database (idempotent), the extension (or a
/// pre-loaded stand-in), the `pg_dist_authinfo` row for the superuser's credentials, and on the
/// coordinator `citus_set_coordinator_host`.
///
/// # Errors
/// SQL failed, or neither Citus nor a stand-in is available.
pub async fn bootstrap_node(pg: &LocalPostgres, cfg: &Config) -> Result<()> {
    let citus = cfg
        .citus
        .as_ref()
        .ok_or_else(|| anyhow!("no citus section"))?;
    let c = pg.connect().await?;
    c.batch_execute("SET synchronous_commit = local; SET statement_timeout = 0")
        .await?;
    for database in citus.databases() {
        bootstrap_database(pg, cfg, &c, &database).await?;
    }
    Ok(())
}

/// [`bootstrap_node`] for one Citus database (`c`: a session in the `postgres` database).
async fn bootstrap_database(
    pg: &LocalPostgres,
    cfg: &Config,
    c: &tokio_postgres::Client,
    database: &str,
) -> Result<()> {
    let citus = cfg
        .citus
        .as_ref()
        .ok_or_else(|| anyhow!("no citus section"))?;
    if database != "postgres" {
        let sql = format!("CREATE DATABASE \"{}\"", database.replace('"', "\"\""));
        match c.batch_execute(&sql).await {
            Ok(()) => tracing::info!("citus: created database {}", database),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
            Err(e) => {
                return Err(e).with_context(|| format!("creating the Citus database {database}"))
            }
        }
    }
    let d = pg.connect_db(database).await?;
    // The pg_dist_authinfo row holds the password: no statement of this session is logged.
    d.batch_execute(
        "SET synchronous_commit = local; SET statement_timeout = 0; SET log_statement = 'none'; \
         SET log_min_duration_statement = -1; SET log_parameter_max_length = 0; \
         SET log_parameter_max_length_on_error = 0",
    )
    .await?;
    let available: bool = d
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'citus')",
            &[],
        )
        .await?
        .get(0);
    if available {
        d.batch_execute("CREATE EXTENSION IF NOT EXISTS citus")
            .await
            .context("CREATE EXTENSION citus")?;
    } else {
        let standin: bool = d
            .query_one("SELECT to_regprocedure('pg_catalog.citus_add_node(text,integer,integer,noderole,name)') IS NOT NULL", &[])
            .await?
            .get(0);
        if !standin {
            bail!("the citus extension is not available (install Citus for PostgreSQL, or load a stand-in with bootstrap.post_bootstrap)");
        }
        tracing::warn!(
            "citus: extension not available; using the stand-in loaded into {}",
            database
        );
    }
    if let Some(authinfo) = super::authinfo_text(&cfg.postgresql.authentication.superuser) {
        d.execute(
            "INSERT INTO pg_catalog.pg_dist_authinfo VALUES (0, pg_catalog.current_user(), $1) ON CONFLICT DO NOTHING",
            &[&authinfo],
        )
        .await
        .context("writing pg_dist_authinfo")?;
    }
    if citus.group == 0 {
        let (host, port) = crate::postgres::split_host_port(&cfg.postgresql.connect_address);
        d.execute(
            "SELECT pg_catalog.citus_set_coordinator_host($1, $2, 'primary', 'default')",
            &[&host, &(port as i32)],
        )
        .await
        .context("citus_set_coordinator_host")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dcs::{LeaderKey, Member, MemberData};

    fn m(name: &str, port: u16, role: &str, state: &str, noloadbalance: bool) -> Member {
        Member {
            name: name.into(),
            data: MemberData {
                conn_url: format!("postgres://10.0.0.1:{port}/postgres"),
                role: role.into(),
                state: state.into(),
                tags: noloadbalance.then(|| crate::config::Tags {
                    noloadbalance: true,
                    ..Default::default()
                }),
                ..Default::default()
            },
            lease: 0,
        }
    }

    #[test]
    fn desired_state_from_etcd() {
        let mut views = BTreeMap::new();
        views.insert(
            1,
            ClusterView {
                leader: Some(LeaderKey {
                    name: "w1".into(),
                    lease: 1,
                    mod_revision: 1,
                }),
                members: vec![
                    m("w1", 5432, "primary", "running", false),
                    m("w2", 5433, "replica", "running", false),
                    m("w3", 5434, "replica", "running", true),
                    m("w4", 5435, "replica", "stopped", false),
                ],
                ..Default::default()
            },
        );
        views.insert(
            2,
            ClusterView {
                leader: Some(LeaderKey {
                    name: "x1".into(),
                    lease: 1,
                    mod_revision: 1,
                }),
                members: vec![m("x1", 6432, "replica", "running", false)],
                ..Default::default()
            },
        );
        let d = desired_groups(&views);
        assert_eq!(
            d[0],
            DesiredGroup {
                group: 1,
                primary: Some(("10.0.0.1".into(), 5432)),
                secondaries: vec![("10.0.0.1".into(), 5433)],
                poolers: Default::default(),
            }
        );
        assert_eq!(
            d[1].primary, None,
            "a leader still promoting is not registered yet"
        );
    }
}
