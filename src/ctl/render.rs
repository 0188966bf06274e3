//! Pure rendering of praetorctl's output, as patronictl 4.1 prints it: the members table of `list`
//! and `topology` (a PrettyTable box whose top border carries the cluster's title, reference §5.1),
//! its TSV, JSON and YAML forms, `history`, query results, the dynamic configuration as YAML and its
//! diff, `-s`/`-p`/`--apply` edits, `--dcs-url` and `--scheduled` parsing.
//!
//! Python's own printing (PyYAML, `json.dumps`, `str()`, `difflib`) is reproduced in [`pyfmt`] and
//! `difflib`, so scripts that parse patronictl's text parse praetorctl's.
//!
//! The output styles ([`Format`], [`Style`]) are defined here; the rest is in submodules whose
//! items are re-exported from this one: `table` (the PrettyTable box and `print_output`, which
//! every table goes through), `members` (the members table of `list` and `topology` and what it is
//! drawn from), `config` (`history`, and the dynamic configuration: its YAML, its diff, its edits)
//! and `args` (`--dcs-url`, `--scheduled` timestamps, `--pg-version`).

mod args;
mod config;
mod difflib;
mod members;
pub mod pyfmt;
mod table;

pub use args::{
    check_pg_version, format_pg_version, parse_datetime, parse_dcs_url, parse_scheduled,
    py_isoformat, PyDateTime,
};
pub use config::{
    apply_set, config_diff, config_yaml, parse_set_value, patch_config, render_history, text_diff,
};
pub use members::{
    cluster_members, member_address, render_list, render_members, service_info, sync_matches,
    topology_order, ClusterMember, GlobalConfig, ListSpec,
};
pub use pyfmt::Doc;
pub use table::{pretty_table, print_output, table_box};

/// `-f/--format` of `list`, `history` and `remove`, `--format` of `query` (patronictl's choices;
/// `yml` is `yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Boxed table.
    Pretty,
    /// Tab-separated with a header row.
    Tsv,
    /// JSON list of objects.
    Json,
    /// YAML list of objects.
    #[value(alias = "yml")]
    Yaml,
}

/// How a table is printed: a [`Format`], or `topology` (the pretty table with the members as a
/// replication tree and the tags in YAML flow style).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Boxed table.
    Pretty,
    /// Boxed table, members as a tree.
    Topology,
    /// Tab-separated values.
    Tsv,
    /// `json.dumps` of a list of objects.
    Json,
    /// `yaml.safe_dump` of a list of objects.
    Yaml,
}

impl From<Format> for Style {
    fn from(f: Format) -> Style {
        match f {
            Format::Pretty => Style::Pretty,
            Format::Tsv => Style::Tsv,
            Format::Json => Style::Json,
            Format::Yaml => Style::Yaml,
        }
    }
}

impl Style {
    fn boxed(self) -> bool {
        matches!(self, Style::Pretty | Style::Topology)
    }
}

#[cfg(test)]
mod tests;
