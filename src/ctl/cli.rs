//! praetorctl's command line: patronictl 4.1's global options, commands (listed alphabetically,
//! as click lists them), arguments and options, with the same names, defaults and choices.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::render::Format;

/// Command-line interface for interacting with praetor and Patroni clusters.
#[derive(Parser)]
#[command(version, about)]
pub struct Cli {
    /// Configuration file (an agent's, or one with scope, etcd3 and ctl).
    #[arg(short = 'c', long = "config-file", env = "PATRONICTL_CONFIG_FILE")]
    pub config: Option<PathBuf>,
    /// etcd3://host:port[/namespace] instead of (or overriding) the file's etcd section.
    #[arg(short = 'd', long = "dcs-url", alias = "dcs", env = "DCS_URL")]
    pub dcs_url: Option<String>,
    /// Cluster name, for use with --dcs-url instead of a configuration file (a CLUSTER_NAME
    /// argument wins). A praetor addition.
    #[arg(long)]
    pub scope: Option<String>,
    /// Do not verify the REST APIs' TLS certificates.
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// The command to run.
    #[command(subcommand)]
    pub command: Cmd,
}

/// praetorctl's commands: patronictl's, with its names.
#[derive(Subcommand)]
pub enum Cmd {
    /// Turn the cluster into a standby cluster of a remote primary.
    DemoteCluster(DemoteClusterArgs),
    /// libpq connection string of a member (the leader by default).
    Dsn(DsnArgs),
    /// Edit the dynamic configuration (in $EDITOR, or with --set / --pg / --apply / --replace).
    EditConfig(EditConfigArgs),
    /// Manual failover to a named candidate (also when the cluster has no leader).
    Failover(FailoverArgs),
    /// Cancel scheduled restarts or a scheduled switchover.
    Flush(FlushArgs),
    /// Timeline history.
    History(HistoryArgs),
    /// List the members of a cluster.
    List(ListArgs),
    /// Maintenance mode on: no automatic failover.
    Pause(PauseArgs),
    /// Turn a standby cluster into an independent one.
    PromoteCluster(PromoteClusterArgs),
    /// Run SQL on a member.
    Query(QueryArgs),
    /// Rebuild standbys from the leader (fresh basebackup).
    Reinit(ReinitArgs),
    /// Reload the configuration on members.
    Reload(ReloadArgs),
    /// Remove the cluster's keys from etcd (asks for confirmation).
    Remove(RemoveArgs),
    /// Restart PostgreSQL on members.
    Restart(RestartArgs),
    /// Maintenance mode off.
    Resume(ResumeArgs),
    /// Show the dynamic configuration.
    ShowConfig(ShowConfigArgs),
    /// Planned switchover: the leader hands over to a standby.
    Switchover(SwitchoverArgs),
    /// The cluster as a tree: the leader, then its standbys.
    Topology(TopologyArgs),
    /// praetorctl's version, and each member's for a named cluster.
    Version(VersionArgs),
}

/// patronictl's `--role` choices (`master` is still read as `primary`, unlisted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// The leader of a cluster or of a standby cluster.
    Leader,
    /// The leader of a cluster that is not a standby cluster.
    Primary,
    /// The leader of a standby cluster.
    StandbyLeader,
    /// Any member but the leader.
    Replica,
    /// Same as replica.
    Standby,
    /// Any member.
    Any,
    /// Old name of primary.
    #[value(hide = true)]
    Master,
}

impl Role {
    /// The choice as typed (`standby-leader`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Primary | Role::Master => "primary",
            Role::StandbyLeader => "standby-leader",
            Role::Replica => "replica",
            Role::Standby => "standby",
            Role::Any => "any",
        }
    }
}

/// The optional CLUSTER_NAME argument (default: `--scope` or the configuration's `scope`) and
/// `--group`.
#[derive(Args)]
pub struct ClusterArgs {
    /// Cluster name.
    #[arg(value_name = "CLUSTER_NAME")]
    pub cluster: Option<String>,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
}

/// The CLUSTER_NAME argument, required, and `--group`.
#[derive(Args)]
pub struct RequiredClusterArgs {
    /// Cluster name.
    #[arg(value_name = "CLUSTER_NAME")]
    pub cluster: String,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
}

/// `-W` / `-w N`: redraw every 2 or N seconds.
#[derive(Args)]
pub struct WatchArgs {
    /// Redraw every 2 seconds.
    #[arg(short = 'W')]
    pub watch_default: bool,
    /// Redraw every SECONDS seconds.
    #[arg(short = 'w', long = "watch")]
    pub watch: Option<f64>,
}

impl WatchArgs {
    /// Seconds between redraws; `None` to draw once (`-w 0` without `-W` draws once).
    pub fn every(&self) -> Option<f64> {
        match self.watch {
            Some(s) if s != 0.0 => Some(s),
            _ if self.watch_default => Some(2.0),
            _ => None,
        }
    }
}

/// `demote-cluster`.
#[derive(Args)]
pub struct DemoteClusterArgs {
    /// Cluster name.
    #[arg(value_name = "CLUSTER_NAME")]
    pub cluster: Option<String>,
    /// Ask nothing; go ahead.
    #[arg(long)]
    pub force: bool,
    /// Host of the remote primary.
    #[arg(long)]
    pub host: Option<String>,
    /// Port of the remote primary.
    #[arg(long)]
    pub port: Option<u16>,
    /// restore_command for WAL from the remote primary's archive.
    #[arg(long = "restore-command")]
    pub restore_command: Option<String>,
    /// Replication slot to use on the remote primary.
    #[arg(long = "primary-slot-name")]
    pub primary_slot_name: Option<String>,
}

/// `dsn`.
#[derive(Args)]
pub struct DsnArgs {
    /// CLUSTER_NAME and `--group`.
    #[command(flatten)]
    pub target: ClusterArgs,
    /// A member with this role.
    #[arg(short = 'r', long, value_enum)]
    pub role: Option<Role>,
    /// This member.
    #[arg(short = 'm', long)]
    pub member: Option<String>,
}

/// `edit-config`.
#[derive(Args)]
pub struct EditConfigArgs {
    /// CLUSTER_NAME and `--group` (default: the configuration's `citus.group`).
    #[command(flatten)]
    pub target: ClusterArgs,
    /// Do not print the diff.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// key.path=value to set (repeatable).
    #[arg(short = 's', long = "set", value_name = "KVPAIRS")]
    pub set: Vec<String>,
    /// parameter=value to set under postgresql.parameters (repeatable).
    #[arg(short = 'p', long = "pg", value_name = "PGKVPAIRS")]
    pub pg: Vec<String>,
    /// Merge this file (- for standard input) into the configuration.
    #[arg(long, value_name = "APPLY_FILENAME")]
    pub apply: Option<String>,
    /// Replace the configuration with this file (- for standard input).
    #[arg(long, value_name = "REPLACE_FILENAME")]
    pub replace: Option<String>,
    /// Ask nothing; go ahead.
    #[arg(long)]
    pub force: bool,
}

/// `failover`.
#[derive(Args)]
pub struct FailoverArgs {
    /// CLUSTER_NAME and `--group`.
    #[command(flatten)]
    pub target: ClusterArgs,
    /// Member to promote.
    #[arg(long)]
    pub candidate: Option<String>,
    /// Ask nothing; go ahead.
    #[arg(long)]
    pub force: bool,
    /// Accepted for patronictl 3's scripts (gone in 4.x): must name the current leader.
    #[arg(long, alias = "primary", alias = "master", hide = true)]
    pub leader: Option<String>,
}

/// `flush CLUSTER_NAME [MEMBER_NAMES]... {restart|switchover}`.
#[derive(Args)]
pub struct FlushArgs {
    /// CLUSTER_NAME, then MEMBER_NAMES, then the event to discard: restart or switchover.
    #[arg(
        required = true,
        num_args = 2..,
        value_name = "CLUSTER_NAME [MEMBER_NAMES]... {restart|switchover}"
    )]
    pub args: Vec<String>,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
    /// Only members with this role.
    #[arg(short = 'r', long, value_enum, default_value = "any")]
    pub role: Role,
    /// Ask nothing; go ahead.
    #[arg(long)]
    pub force: bool,
}

/// What `flush` discards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushTarget {
    /// Scheduled restarts.
    Restart,
    /// The scheduled switchover.
    Switchover,
}

impl FlushArgs {
    /// The cluster name (the first argument).
    pub fn cluster(&self) -> &str {
        &self.args[0]
    }

    /// The member names (between the cluster name and the target).
    pub fn members(&self) -> &[String] {
        &self.args[1..self.args.len() - 1]
    }

    /// The target (the last argument).
    ///
    /// # Errors
    /// click's message for a value that is neither `restart` nor `switchover`.
    pub fn target(&self) -> Result<FlushTarget, String> {
        match self.args.last().map(String::as_str) {
            Some("restart") => Ok(FlushTarget::Restart),
            Some("switchover") => Ok(FlushTarget::Switchover),
            other => Err(format!(
                "Invalid value for '{{restart|switchover}}': '{}' is not one of 'restart', 'switchover'.",
                other.unwrap_or("")
            )),
        }
    }
}

/// `history`.
#[derive(Args)]
pub struct HistoryArgs {
    /// CLUSTER_NAME and `--group` (default: the configuration's `citus.group`).
    #[command(flatten)]
    pub target: ClusterArgs,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Pretty)]
    pub format: Format,
}

/// `list`.
#[derive(Args)]
pub struct ListArgs {
    /// Cluster names (default: the configuration's scope).
    #[arg(value_name = "CLUSTER_NAMES")]
    pub clusters: Vec<String>,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
    /// Extra columns: pending and scheduled restarts, tags.
    #[arg(short = 'e', long)]
    pub extended: bool,
    /// Print the time above the table.
    #[arg(short = 't', long)]
    pub timestamp: bool,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Pretty)]
    pub format: Format,
    /// `-W` / `-w`.
    #[command(flatten)]
    pub watch: WatchArgs,
}

/// `pause` and `resume`.
#[derive(Args)]
pub struct PauseArgs {
    /// CLUSTER_NAME and `--group` (default: the configuration's `citus.group`).
    #[command(flatten)]
    pub target: ClusterArgs,
    /// Wait until every member has taken the change.
    #[arg(long)]
    pub wait: bool,
}

/// `resume` takes `pause`'s arguments.
pub type ResumeArgs = PauseArgs;

/// `promote-cluster`.
#[derive(Args)]
pub struct PromoteClusterArgs {
    /// Cluster name.
    #[arg(value_name = "CLUSTER_NAME")]
    pub cluster: Option<String>,
    /// Ask nothing; go ahead.
    #[arg(long)]
    pub force: bool,
}

fn readable_file(s: &str) -> Result<PathBuf, String> {
    std::fs::File::open(s)
        .map(|_| PathBuf::from(s))
        .map_err(|e| format!("'{s}': {e}"))
}

/// `query`.
#[derive(Args)]
pub struct QueryArgs {
    /// CLUSTER_NAME and `--group`.
    #[command(flatten)]
    pub target: ClusterArgs,
    /// Output format (pretty, tsv, json, yaml).
    #[arg(long = "format", value_enum, default_value_t = Format::Tsv)]
    pub format: Format,
    /// Read the SQL from this file.
    #[arg(short = 'f', long = "file", value_parser = readable_file)]
    pub file: Option<PathBuf>,
    /// Ask for the password.
    #[arg(long)]
    pub password: bool,
    /// Role to connect as.
    #[arg(short = 'U', long)]
    pub username: Option<String>,
    /// `-W` / `-w`.
    #[command(flatten)]
    pub watch: WatchArgs,
    /// Run on a member with this role.
    #[arg(short = 'r', long, value_enum)]
    pub role: Option<Role>,
    /// Run on this member.
    #[arg(short = 'm', long)]
    pub member: Option<String>,
    /// Column separator.
    #[arg(long, default_value = "\t")]
    pub delimiter: String,
    /// The SQL to run.
    #[arg(short = 'c', long = "command")]
    pub command: Option<String>,
    /// Database to connect to.
    #[arg(short = 'd', long)]
    pub dbname: Option<String>,
}

/// `reinit`.
#[derive(Args)]
pub struct ReinitArgs {
    /// CLUSTER_NAME and `--group`.
    #[command(flatten)]
    pub target: RequiredClusterArgs,
    /// Members.
    #[arg(value_name = "MEMBER_NAMES")]
    pub members: Vec<String>,
    /// Ask nothing; go ahead.
    #[arg(long)]
    pub force: bool,
    /// Take the base backup from the leader.
    #[arg(long = "from-leader")]
    pub from_leader: bool,
    /// Wait until the rebuild has finished.
    #[arg(long)]
    pub wait: bool,
}

/// `reload`.
#[derive(Args)]
pub struct ReloadArgs {
    /// CLUSTER_NAME and `--group`.
    #[command(flatten)]
    pub target: RequiredClusterArgs,
    /// Members (default: all).
    #[arg(value_name = "MEMBER_NAMES")]
    pub members: Vec<String>,
    /// Only members with this role.
    #[arg(short = 'r', long, value_enum, default_value = "any")]
    pub role: Role,
    /// Ask nothing; go ahead.
    #[arg(long)]
    pub force: bool,
}

/// `remove`.
#[derive(Args)]
pub struct RemoveArgs {
    /// CLUSTER_NAME and `--group` (required for a Citus cluster).
    #[command(flatten)]
    pub target: RequiredClusterArgs,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Pretty)]
    pub format: Format,
}

/// `restart`.
#[derive(Args)]
pub struct RestartArgs {
    /// CLUSTER_NAME and `--group`.
    #[command(flatten)]
    pub target: RequiredClusterArgs,
    /// Members (default: all).
    #[arg(value_name = "MEMBER_NAMES")]
    pub members: Vec<String>,
    /// Only members with this role.
    #[arg(short = 'r', long, value_enum, default_value = "any")]
    pub role: Role,
    /// Any one of the chosen members.
    #[arg(long = "any")]
    pub any: bool,
    /// When to restart (ISO 8601 time).
    #[arg(long)]
    pub scheduled: Option<String>,
    /// Only members whose PostgreSQL is older than this version (e.g. 15.6).
    #[arg(long = "pg-version", value_name = "VERSION")]
    pub pg_version: Option<String>,
    /// Only members that wait for a restart.
    #[arg(long)]
    pub pending: bool,
    /// Seconds the restart may take before it counts as failed (then failover may follow).
    #[arg(long)]
    pub timeout: Option<String>,
    /// Ask nothing; go ahead.
    #[arg(long)]
    pub force: bool,
}

/// `show-config`.
#[derive(Args)]
pub struct ShowConfigArgs {
    /// CLUSTER_NAME and `--group` (default: the configuration's `citus.group`).
    #[command(flatten)]
    pub target: ClusterArgs,
}

/// `switchover`.
#[derive(Args)]
pub struct SwitchoverArgs {
    /// CLUSTER_NAME and `--group`.
    #[command(flatten)]
    pub target: ClusterArgs,
    /// The current leader.
    #[arg(long, alias = "primary", alias = "master")]
    pub leader: Option<String>,
    /// Member to promote.
    #[arg(long)]
    pub candidate: Option<String>,
    /// When to switch over (ISO 8601 time, or now).
    #[arg(long)]
    pub scheduled: Option<String>,
    /// Ask nothing; go ahead.
    #[arg(long)]
    pub force: bool,
}

/// `topology`.
#[derive(Args)]
pub struct TopologyArgs {
    /// Cluster names (default: the configuration's scope).
    #[arg(value_name = "CLUSTER_NAMES")]
    pub clusters: Vec<String>,
    /// Citus group.
    #[arg(long)]
    pub group: Option<u32>,
    /// `-W` / `-w`.
    #[command(flatten)]
    pub watch: WatchArgs,
}

/// `version`.
#[derive(Args)]
pub struct VersionArgs {
    /// CLUSTER_NAME (no default: without it only praetorctl's version is printed) and `--group`.
    #[command(flatten)]
    pub target: ClusterArgs,
    /// Members.
    #[arg(value_name = "MEMBER_NAMES")]
    pub members: Vec<String>,
}

impl Cmd {
    /// The CLUSTER_NAME argument (the first one for `list` and `topology`), where given.
    pub fn cluster(&self) -> Option<String> {
        match self {
            Cmd::List(a) => a.clusters.first().cloned(),
            Cmd::Topology(a) => a.clusters.first().cloned(),
            Cmd::Flush(a) => Some(a.cluster().to_string()),
            Cmd::DemoteCluster(a) => a.cluster.clone(),
            Cmd::PromoteCluster(a) => a.cluster.clone(),
            Cmd::Switchover(a) => a.target.cluster.clone(),
            Cmd::Failover(a) => a.target.cluster.clone(),
            Cmd::Pause(a) | Cmd::Resume(a) => a.target.cluster.clone(),
            Cmd::EditConfig(a) => a.target.cluster.clone(),
            Cmd::ShowConfig(a) => a.target.cluster.clone(),
            Cmd::History(a) => a.target.cluster.clone(),
            Cmd::Dsn(a) => a.target.cluster.clone(),
            Cmd::Query(a) => a.target.cluster.clone(),
            Cmd::Version(a) => a.target.cluster.clone(),
            Cmd::Restart(a) => Some(a.target.cluster.clone()),
            Cmd::Reinit(a) => Some(a.target.cluster.clone()),
            Cmd::Remove(a) => Some(a.target.cluster.clone()),
            Cmd::Reload(a) => Some(a.target.cluster.clone()),
        }
    }

    /// The `--group` option (a Citus group), where the command has one.
    pub fn group(&self) -> Option<u32> {
        match self {
            Cmd::List(a) => a.group,
            Cmd::Topology(a) => a.group,
            Cmd::Flush(a) => a.group,
            Cmd::DemoteCluster(_) | Cmd::PromoteCluster(_) => None,
            Cmd::Switchover(a) => a.target.group,
            Cmd::Failover(a) => a.target.group,
            Cmd::Pause(a) | Cmd::Resume(a) => a.target.group,
            Cmd::EditConfig(a) => a.target.group,
            Cmd::ShowConfig(a) => a.target.group,
            Cmd::History(a) => a.target.group,
            Cmd::Dsn(a) => a.target.group,
            Cmd::Query(a) => a.target.group,
            Cmd::Version(a) => a.target.group,
            Cmd::Restart(a) => a.target.group,
            Cmd::Reinit(a) => a.target.group,
            Cmd::Remove(a) => a.target.group,
            Cmd::Reload(a) => a.target.group,
        }
    }

    /// Commands whose `--group` defaults to the configuration's `citus.group` (patronictl's
    /// `option_default_citus_group`), and the two without `--group`, which act on that group.
    pub fn group_defaults_to_config(&self) -> bool {
        matches!(
            self,
            Cmd::Pause(_)
                | Cmd::Resume(_)
                | Cmd::EditConfig(_)
                | Cmd::ShowConfig(_)
                | Cmd::History(_)
                | Cmd::DemoteCluster(_)
                | Cmd::PromoteCluster(_)
        )
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
    fn patronictl_arguments_keep_their_places() {
        let Cmd::Restart(a) =
            parse("restart c1 m1 m2 --group 2 -r replica --any --pending --force")
        else {
            panic!("not restart");
        };
        assert_eq!(
            (
                a.target.cluster.as_str(),
                a.target.group,
                a.force,
                a.any,
                a.pending
            ),
            ("c1", Some(2), true, true, true)
        );
        assert_eq!(
            (a.members, a.role),
            (vec!["m1".into(), "m2".into()], Role::Replica)
        );
        let Cmd::Reload(a) = parse("reload c1") else {
            panic!("not reload");
        };
        assert_eq!((a.members.len(), a.role), (0, Role::Any));
        let Cmd::Version(a) = parse("version c1 m1 --group 1") else {
            panic!("not version");
        };
        assert_eq!(
            (a.target.cluster.as_deref(), a.members),
            (Some("c1"), vec!["m1".to_string()])
        );
        let Cmd::Query(a) = parse("query c1 -c select -r replica -d db -U u --format yml -W")
        else {
            panic!("not query");
        };
        assert_eq!(
            (a.role, a.dbname.as_deref(), a.format, a.watch.every()),
            (Some(Role::Replica), Some("db"), Format::Yaml, Some(2.0))
        );
        let Cmd::List(a) = parse("list c1 c2 -e -f yml -w 5") else {
            panic!("not list");
        };
        assert_eq!(
            (a.clusters.len(), a.format, a.watch.every()),
            (2, Format::Yaml, Some(5.0))
        );
        let cmd = parse("resume c1 --group 3 --wait");
        assert_eq!(
            (cmd.cluster().as_deref(), cmd.group()),
            (Some("c1"), Some(3))
        );
        assert!(matches!(cmd, Cmd::Resume(PauseArgs { wait: true, .. })));
        let Cmd::Flush(a) = parse("flush c1 m1 m2 restart -r replica --force") else {
            panic!("not flush");
        };
        assert_eq!(
            (a.cluster(), a.members(), a.target(), a.role),
            (
                "c1",
                &["m1".to_string(), "m2".to_string()][..],
                Ok(FlushTarget::Restart),
                Role::Replica
            )
        );
        let Cmd::Flush(a) = parse("flush c1 switchover") else {
            panic!("not flush");
        };
        assert_eq!(
            (a.members().len(), a.target()),
            (0, Ok(FlushTarget::Switchover))
        );
        assert!(parse("flush c1 reboot").cluster().is_some());
        let Cmd::Flush(a) = parse("flush c1 reboot") else {
            panic!("not flush");
        };
        assert!(a.target().is_err());
        let Cmd::Reinit(a) = parse("reinit c1 m1 --from-leader --wait") else {
            panic!("not reinit");
        };
        assert!(a.from_leader && a.wait);
        let Cmd::Switchover(a) = parse("switchover --primary m1 --candidate m2 --scheduled now")
        else {
            panic!("not switchover");
        };
        assert_eq!(a.leader.as_deref(), Some("m1"));
        let Cmd::DemoteCluster(a) = parse("demote-cluster c1 --host h --port 5433 --force") else {
            panic!("not demote-cluster");
        };
        assert_eq!(
            (a.host.as_deref(), a.port, a.force),
            (Some("h"), Some(5433), true)
        );
        assert!(matches!(parse("promote-cluster"), Cmd::PromoteCluster(_)));
        assert!(Cli::try_parse_from(["praetorctl", "restart"]).is_err());
        assert!(Cli::try_parse_from(["praetorctl", "list", "-f", "topology"]).is_err());
        assert!(Cli::try_parse_from(["praetorctl", "dsn", "-r", "boss"]).is_err());
        assert!(Cli::try_parse_from(["praetorctl", "failover", "--scheduled", "now"]).is_err());
    }
}
