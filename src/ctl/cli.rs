//! praetorctl's command line: patronictl's global options, commands and their options (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::render::Format;

/// Control a praetor / Patroni cluster.
#[derive(Parser)]
#[command(version, about)]
pub struct Cli {
    /// Configuration file (an agent's, or one with scope, etcd3 and ctl).
    #[arg(short = 'c', long = "config-file", env = "PATRONICTL_CONFIG_FILE")]
    pub config: Option<PathBuf>,
    /// etcd3://host:port[/namespace] instead of (or overriding) the file's etcd section.
    #[arg(short = 'd', long = "dcs-url", alias = "dcs", env = "DCS_URL")]
    pub dcs_url: Option<String>,
    /// Cluster name, for use with --dcs-url instead of a configuration file (a positional
    /// CLUSTER argument wins).
    #[arg(long)]
    pub scope: Option<String>,
    /// Do not verify the REST APIs' TLS certificates.
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// The command to run.
    #[command(subcommand)]
    pub command: Cmd,
}

/// praetorctl's commands (patronictl's names).
#[derive(Subcommand)]
pub enum Cmd {
    /// List the members of a cluster.
    List(ListArgs),
    /// The cluster as a tree: the leader, then its standbys.
    Topology(TopologyArgs),
    /// Planned switchover: the leader hands over to a standby.
    Switchover(SwitchoverArgs),
    /// Manual failover to a named candidate (also when the cluster has no leader).
    Failover(FailoverArgs),
    /// Restart PostgreSQL on members.
    Restart(RestartArgs),
    /// Rebuild standbys from the leader (fresh basebackup).
    Reinit(ReinitArgs),
    /// Maintenance mode on: no automatic failover.
    Pause(PauseArgs),
    /// Maintenance mode off.
    Resume(ResumeArgs),
    /// Edit the dynamic configuration (in $EDITOR, or with --set / --pg / --apply / --replace).
    EditConfig(EditConfigArgs),
    /// Show the dynamic configuration.
    ShowConfig(ShowConfigArgs),
    /// Timeline history.
    History(HistoryArgs),
    /// Remove the cluster's keys from etcd (asks for confirmation).
    Remove(RemoveArgs),
    /// Reload the configuration on members.
    Reload(ReloadArgs),
    /// libpq connection string of a member (the leader by default).
    Dsn(DsnArgs),
    /// Run SQL on a member.
    Query(QueryArgs),
    /// praetorctl's version and each member's.
    Version(VersionArgs),
}

/// List the members of a cluster.
#[derive(Args)]
pub struct ListArgs {
    /// Cluster name (default: scope from the configuration).
    pub cluster: Option<String>,
    /// Only this Citus group.
    #[arg(long)]
    pub group: Option<u32>,
    /// Show all columns.
    #[arg(short = 'e', long)]
    pub extended: bool,
    /// Print a timestamp before the table.
    #[arg(short = 't', long)]
    pub timestamp: bool,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Pretty)]
    pub format: Format,
    /// Refresh every 2 seconds.
    #[arg(short = 'W')]
    pub watch_default: bool,
    /// Refresh every N seconds.
    #[arg(short = 'w', long = "watch")]
    pub watch: Option<f64>,
}

/// The cluster as a tree: the leader, then its standbys.
#[derive(Args)]
pub struct TopologyArgs {
    /// Cluster name.
    pub cluster: Option<String>,
    /// Only this Citus group.
    #[arg(long)]
    pub group: Option<u32>,
    /// Refresh every 2 seconds.
    #[arg(short = 'W')]
    pub watch_default: bool,
    /// Refresh every N seconds.
    #[arg(short = 'w', long = "watch")]
    pub watch: Option<f64>,
}

/// Planned switchover: the leader hands over to a standby.
#[derive(Args)]
pub struct SwitchoverArgs {
    /// Cluster name.
    pub cluster: Option<String>,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
    /// Current leader.
    #[arg(long, alias = "master", alias = "primary")]
    pub leader: Option<String>,
    /// The member to switch over to (default: the healthiest).
    #[arg(long)]
    pub candidate: Option<String>,
    /// When: ISO 8601 with a time zone, or `now`.
    #[arg(long)]
    pub scheduled: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub force: bool,
}

/// Manual failover to a named candidate (also when the cluster has no leader).
#[derive(Args)]
pub struct FailoverArgs {
    /// Cluster name.
    pub cluster: Option<String>,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
    /// Deprecated in patronictl; accepted and must match the leader.
    #[arg(long, alias = "master", alias = "primary")]
    pub leader: Option<String>,
    /// The member to fail over to.
    #[arg(long)]
    pub candidate: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub force: bool,
}

/// Restart PostgreSQL on members.
#[derive(Args)]
pub struct RestartArgs {
    /// Cluster name.
    pub cluster: String,
    /// Members (default: all).
    pub members: Vec<String>,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
    /// Only members with this role.
    #[arg(short = 'r', long, default_value = "any")]
    pub role: String,
    /// Only members with a pending restart.
    #[arg(long)]
    pub pending: bool,
    /// When: ISO 8601 with a time zone, or `now`.
    #[arg(long)]
    pub scheduled: Option<String>,
    /// Only if the running version is older than this (e.g. 15.6).
    #[arg(long = "pg-version")]
    pub pg_version: Option<String>,
    /// Seconds to wait for the restart.
    #[arg(long)]
    pub timeout: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub force: bool,
}

/// Rebuild standbys from the leader (fresh basebackup).
#[derive(Args)]
pub struct ReinitArgs {
    /// Cluster name.
    pub cluster: String,
    /// Members.
    pub members: Vec<String>,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub force: bool,
    /// Wait until each member runs again.
    #[arg(long)]
    pub wait: bool,
}

/// Maintenance mode on: no automatic failover.
#[derive(Args)]
pub struct PauseArgs {
    /// Cluster name.
    pub cluster: Option<String>,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
    /// Wait until every member reports it.
    #[arg(long)]
    pub wait: bool,
}

/// Maintenance mode off.
#[derive(Args)]
pub struct ResumeArgs {
    /// Cluster name.
    pub cluster: Option<String>,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
    /// Wait until every member reports it.
    #[arg(long)]
    pub wait: bool,
}

/// Edit the dynamic configuration (in $EDITOR, or with --set / --pg / --apply / --replace).
#[derive(Args)]
pub struct EditConfigArgs {
    /// Cluster name.
    pub cluster: Option<String>,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
    /// Do not show the diff.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// key.path=value (YAML value; null deletes).
    #[arg(short = 's', long = "set")]
    pub set: Vec<String>,
    /// PostgreSQL parameter=value.
    #[arg(short = 'p', long = "pg")]
    pub pg: Vec<String>,
    /// Apply the changes in this YAML file (- for stdin).
    #[arg(long)]
    pub apply: Option<String>,
    /// Replace the whole configuration with this YAML file (- for stdin).
    #[arg(long)]
    pub replace: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub force: bool,
}

/// Show the dynamic configuration.
#[derive(Args)]
pub struct ShowConfigArgs {
    /// Cluster name.
    pub cluster: Option<String>,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
}

/// Timeline history.
#[derive(Args)]
pub struct HistoryArgs {
    /// Cluster name.
    pub cluster: Option<String>,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Pretty)]
    pub format: Format,
}

/// Remove the cluster's keys from etcd (asks for confirmation).
#[derive(Args)]
pub struct RemoveArgs {
    /// Cluster name.
    pub cluster: String,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
    /// Output format of the table shown first.
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Pretty)]
    pub format: Format,
}

/// Reload the configuration on members.
#[derive(Args)]
pub struct ReloadArgs {
    /// Cluster name.
    pub cluster: String,
    /// Members (default: all).
    pub members: Vec<String>,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
    /// Only members with this role.
    #[arg(short = 'r', long, default_value = "any")]
    pub role: String,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub force: bool,
}

/// libpq connection string of a member (the leader by default).
#[derive(Args)]
pub struct DsnArgs {
    /// Cluster name.
    pub cluster: Option<String>,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
    /// Role to pick.
    #[arg(short = 'r', long)]
    pub role: Option<String>,
    /// Member to pick.
    #[arg(short = 'm', long)]
    pub member: Option<String>,
}

/// Run SQL on a member.
#[derive(Args)]
pub struct QueryArgs {
    /// Cluster name.
    pub cluster: Option<String>,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
    /// SQL to run.
    #[arg(short = 'c', long = "command")]
    pub command: Option<String>,
    /// File with SQL to run.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Database.
    #[arg(short = 'd', long, default_value = "postgres")]
    pub dbname: String,
    /// User (default: the configuration's superuser).
    #[arg(short = 'U', long)]
    pub username: Option<String>,
    /// Ask for the password.
    #[arg(long)]
    pub password: bool,
    /// Role to pick.
    #[arg(short = 'r', long)]
    pub role: Option<String>,
    /// Member to pick.
    #[arg(short = 'm', long)]
    pub member: Option<String>,
    /// Column delimiter.
    #[arg(long, default_value = "\t")]
    pub delimiter: String,
}

/// praetorctl's version and each member's.
#[derive(Args)]
pub struct VersionArgs {
    /// Cluster name.
    pub cluster: Option<String>,
    /// Members.
    pub members: Vec<String>,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
}

impl Cmd {
    /// The CLUSTER argument, where the command has one.
    pub fn cluster(&self) -> Option<String> {
        match self {
            Cmd::List(a) => a.cluster.clone(),
            Cmd::Topology(a) => a.cluster.clone(),
            Cmd::Switchover(a) => a.cluster.clone(),
            Cmd::Failover(a) => a.cluster.clone(),
            Cmd::Pause(a) => a.cluster.clone(),
            Cmd::Resume(a) => a.cluster.clone(),
            Cmd::EditConfig(a) => a.cluster.clone(),
            Cmd::ShowConfig(a) => a.cluster.clone(),
            Cmd::History(a) => a.cluster.clone(),
            Cmd::Dsn(a) => a.cluster.clone(),
            Cmd::Query(a) => a.cluster.clone(),
            Cmd::Version(a) => a.cluster.clone(),
            Cmd::Restart(a) => Some(a.cluster.clone()),
            Cmd::Reinit(a) => Some(a.cluster.clone()),
            Cmd::Remove(a) => Some(a.cluster.clone()),
            Cmd::Reload(a) => Some(a.cluster.clone()),
        }
    }

    /// The `--group` option (a Citus group).
    pub fn group(&self) -> Option<u32> {
        match self {
            Cmd::List(a) => a.group,
            Cmd::Topology(a) => a.group,
            Cmd::Switchover(a) => a.group,
            Cmd::Failover(a) => a.group,
            Cmd::Restart(a) => a.group,
            Cmd::Reinit(a) => a.group,
            Cmd::Pause(a) => a.group,
            Cmd::Resume(a) => a.group,
            Cmd::EditConfig(a) => a.group,
            Cmd::ShowConfig(a) => a.group,
            Cmd::History(a) => a.group,
            Cmd::Remove(a) => a.group,
            Cmd::Reload(a) => a.group,
            Cmd::Dsn(a) => a.group,
            Cmd::Query(a) => a.group,
            Cmd::Version(a) => a.group,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
