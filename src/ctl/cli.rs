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

/// The optional CLUSTER argument (default: the scope from `--scope` or the configuration) and
/// `--group`, as most commands take them.
#[derive(Args)]
pub struct ClusterArgs {
    /// Cluster name.
    pub cluster: Option<String>,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
}

/// The CLUSTER argument, required, and `--group`: for the commands that act on members.
#[derive(Args)]
pub struct RequiredClusterArgs {
    /// Cluster name.
    pub cluster: String,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
}

/// The MEMBERS arguments and `-r ROLE`: which members a command acts on (default: all).
#[derive(Args)]
pub struct MemberFilter {
    /// Members (default: all).
    pub members: Vec<String>,
    /// Only members with this role.
    #[arg(short = 'r', long, default_value = "any")]
    pub role: String,
}

/// `-W` / `-w N`: redraw every 2 or N seconds.
#[derive(Args)]
pub struct WatchArgs {
    /// Refresh every 2 seconds.
    #[arg(short = 'W')]
    pub watch_default: bool,
    /// Refresh every N seconds.
    #[arg(short = 'w', long = "watch")]
    pub watch: Option<f64>,
}

impl WatchArgs {
    /// Seconds between redraws; `None` to draw once.
    pub fn every(&self) -> Option<f64> {
        self.watch.or(self.watch_default.then_some(2.0))
    }
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
    /// `-W` / `-w`.
    #[command(flatten)]
    pub watch: WatchArgs,
}

/// The cluster as a tree: the leader, then its standbys.
#[derive(Args)]
pub struct TopologyArgs {
    /// Cluster name.
    pub cluster: Option<String>,
    /// Only this Citus group.
    #[arg(long)]
    pub group: Option<u32>,
    /// `-W` / `-w`.
    #[command(flatten)]
    pub watch: WatchArgs,
}

/// Who hands over to whom: the arguments `switchover` and `failover` share.
#[derive(Args)]
pub struct HandoverArgs {
    /// The current leader (failover: deprecated in patronictl; accepted and must match it).
    #[arg(long, alias = "master", alias = "primary")]
    pub leader: Option<String>,
    /// The member to hand over to (switchover: default the healthiest).
    #[arg(long)]
    pub candidate: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub force: bool,
}

/// Planned switchover: the leader hands over to a standby.
#[derive(Args)]
pub struct SwitchoverArgs {
    /// CLUSTER and `--group`.
    #[command(flatten)]
    pub target: ClusterArgs,
    /// `--leader`, `--candidate`, `--force`.
    #[command(flatten)]
    pub handover: HandoverArgs,
    /// When: ISO 8601 with a time zone, or `now`.
    #[arg(long)]
    pub scheduled: Option<String>,
}

/// Manual failover to a named candidate (also when the cluster has no leader).
#[derive(Args)]
pub struct FailoverArgs {
    /// CLUSTER and `--group`.
    #[command(flatten)]
    pub target: ClusterArgs,
    /// `--leader`, `--candidate`, `--force`.
    #[command(flatten)]
    pub handover: HandoverArgs,
}

/// Restart PostgreSQL on members.
#[derive(Args)]
pub struct RestartArgs {
    /// CLUSTER and `--group`.
    #[command(flatten)]
    pub target: RequiredClusterArgs,
    /// MEMBERS and `--role`.
    #[command(flatten)]
    pub filter: MemberFilter,
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
    /// CLUSTER and `--group`.
    #[command(flatten)]
    pub target: RequiredClusterArgs,
    /// Members.
    pub members: Vec<String>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub force: bool,
    /// Wait until each member runs again.
    #[arg(long)]
    pub wait: bool,
}

/// Maintenance mode on (`pause`) or off (`resume`).
#[derive(Args)]
pub struct PauseArgs {
    /// CLUSTER and `--group`.
    #[command(flatten)]
    pub target: ClusterArgs,
    /// Wait until every member reports it.
    #[arg(long)]
    pub wait: bool,
}

/// Maintenance mode off: `resume` takes `pause`'s arguments.
pub type ResumeArgs = PauseArgs;

/// Edit the dynamic configuration (in $EDITOR, or with --set / --pg / --apply / --replace).
#[derive(Args)]
pub struct EditConfigArgs {
    /// CLUSTER and `--group`.
    #[command(flatten)]
    pub target: ClusterArgs,
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
    /// CLUSTER and `--group`.
    #[command(flatten)]
    pub target: ClusterArgs,
}

/// Timeline history.
#[derive(Args)]
pub struct HistoryArgs {
    /// CLUSTER and `--group`.
    #[command(flatten)]
    pub target: ClusterArgs,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Pretty)]
    pub format: Format,
}

/// Remove the cluster's keys from etcd (asks for confirmation).
#[derive(Args)]
pub struct RemoveArgs {
    /// CLUSTER and `--group`.
    #[command(flatten)]
    pub target: RequiredClusterArgs,
    /// Output format of the table shown first.
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Pretty)]
    pub format: Format,
}

/// Reload the configuration on members.
#[derive(Args)]
pub struct ReloadArgs {
    /// CLUSTER and `--group`.
    #[command(flatten)]
    pub target: RequiredClusterArgs,
    /// MEMBERS and `--role`.
    #[command(flatten)]
    pub filter: MemberFilter,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub force: bool,
}

/// `-r ROLE` / `-m MEMBER`: which one member a command connects to (the leader by default).
#[derive(Args)]
pub struct PickArgs {
    /// Role to pick.
    #[arg(short = 'r', long)]
    pub role: Option<String>,
    /// Member to pick.
    #[arg(short = 'm', long)]
    pub member: Option<String>,
}

/// libpq connection string of a member (the leader by default).
#[derive(Args)]
pub struct DsnArgs {
    /// CLUSTER and `--group`.
    #[command(flatten)]
    pub target: ClusterArgs,
    /// `-r` / `-m`.
    #[command(flatten)]
    pub pick: PickArgs,
}

/// Run SQL on a member.
#[derive(Args)]
pub struct QueryArgs {
    /// CLUSTER and `--group`.
    #[command(flatten)]
    pub target: ClusterArgs,
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
    /// `-r` / `-m`.
    #[command(flatten)]
    pub pick: PickArgs,
    /// Column delimiter.
    #[arg(long, default_value = "\t")]
    pub delimiter: String,
}

/// praetorctl's version and each member's.
#[derive(Args)]
pub struct VersionArgs {
    /// CLUSTER and `--group`.
    #[command(flatten)]
    pub target: ClusterArgs,
    /// Members.
    pub members: Vec<String>,
}

impl Cmd {
    /// The CLUSTER argument, where the command has one.
    pub fn cluster(&self) -> Option<String> {
        self.target().0.cloned()
    }

    /// The `--group` option (a Citus group).
    pub fn group(&self) -> Option<u32> {
        self.target().1
    }

    /// The CLUSTER argument and `--group`.
    fn target(&self) -> (Option<&String>, Option<u32>) {
        match self {
            Cmd::List(a) => (a.cluster.as_ref(), a.group),
            Cmd::Topology(a) => (a.cluster.as_ref(), a.group),
            Cmd::Switchover(a) => a.target.parts(),
            Cmd::Failover(a) => a.target.parts(),
            Cmd::Pause(a) | Cmd::Resume(a) => a.target.parts(),
            Cmd::EditConfig(a) => a.target.parts(),
            Cmd::ShowConfig(a) => a.target.parts(),
            Cmd::History(a) => a.target.parts(),
            Cmd::Dsn(a) => a.target.parts(),
            Cmd::Query(a) => a.target.parts(),
            Cmd::Version(a) => a.target.parts(),
            Cmd::Restart(a) => a.target.parts(),
            Cmd::Reinit(a) => a.target.parts(),
            Cmd::Remove(a) => a.target.parts(),
            Cmd::Reload(a) => a.target.parts(),
        }
    }
}

impl ClusterArgs {
    fn parts(&self) -> (Option<&String>, Option<u32>) {
        (self.cluster.as_ref(), self.group)
    }
}

impl RequiredClusterArgs {
    fn parts(&self) -> (Option<&String>, Option<u32>) {
        (Some(&self.cluster), self.group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }

    fn parse(line: &str) -> Cmd {
        Cli::try_parse_from(std::iter::once("praetorctl").chain(line.split(' ')))
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .command
    }

    #[test]
    fn shared_arguments_keep_their_places() {
        let Cmd::Restart(a) = parse("restart c1 m1 m2 --group 2 -r replica --force") else {
            panic!("not restart");
        };
        assert_eq!(
            (a.target.cluster.as_str(), a.target.group, a.force),
            ("c1", Some(2), true)
        );
        assert_eq!(
            (a.filter.members, a.filter.role),
            (vec!["m1".into(), "m2".into()], "replica".to_string())
        );
        let Cmd::Reload(a) = parse("reload c1") else {
            panic!("not reload");
        };
        assert_eq!((a.filter.members.len(), a.filter.role.as_str()), (0, "any"));
        let Cmd::Version(a) = parse("version c1 m1 --group 1") else {
            panic!("not version");
        };
        assert_eq!(
            (a.target.cluster.as_deref(), a.members),
            (Some("c1"), vec!["m1".to_string()])
        );
        let Cmd::Query(a) = parse("query c1 -c select -r replica -m m1") else {
            panic!("not query");
        };
        assert_eq!(
            (a.pick.role.as_deref(), a.pick.member.as_deref()),
            (Some("replica"), Some("m1"))
        );
        let Cmd::List(a) = parse("list -W") else {
            panic!("not list");
        };
        assert_eq!(a.watch.every(), Some(2.0));
        let cmd = parse("resume c1 --group 3 --wait");
        assert_eq!(
            (cmd.cluster().as_deref(), cmd.group()),
            (Some("c1"), Some(3))
        );
        assert!(matches!(cmd, Cmd::Resume(PauseArgs { wait: true, .. })));
        assert!(Cli::try_parse_from(["praetorctl", "restart"]).is_err());
    }
}
