//! praetor: a high-availability agent for PostgreSQL and Citus, a drop-in for Patroni on etcd.
//!
//! See ARCHITECTURE.md for the module map and one HA cycle. In short: [`config`] reads Patroni's
//! YAML; [`dcs`] speaks Patroni's etcd layout; [`postgres`] runs the local server; [`ha`] decides
//! (pure); [`agent`] runs the loop that carries the decisions out; [`api`] serves Patroni's REST endpoints; [`ctl`] backs `praetorctl`.
//! The local clusters of the demo, the integration tests and the bench live in the workspace
//! crate `praetor-testbed` (crates/testbed), outside the agent.

#![warn(missing_docs)]

pub mod agent;
pub mod api;
pub mod citus;
pub mod config;
pub mod ctl;
pub mod dcs;
pub mod fence;
pub mod ha;
pub mod logging;
pub mod peer;
pub mod postgres;
pub mod tls;
pub mod types;
pub mod watchdog;
