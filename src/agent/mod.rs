//! The runtime: the only place that holds both the pure core ([`crate::ha`]) and the adapters
//! ([`crate::dcs::etcd`], [`crate::postgres`], peers' REST APIs, the fence guard).
//!
//! [`driver`] runs the HA loop (observe → [`crate::ha::decide`] → carry out the actions →
//! publish) and the commands the REST API sends it; [`lease`] renews the leader lease between
//! cycles and arms the fence guard. Neither decides an outcome the core does not see.

pub mod driver;
pub mod lease;
