//! The agents' YAML configuration files, and the SQL stand-in loaded when Citus is not installed.

use std::path::{Path, PathBuf};

use crate::{chown_r, Testbed};

/// The SQL stand-in for Citus used when the real extension is not installed (see its header).
pub const CITUS_STANDIN_SQL: &str = include_str!("../../../tests/fixtures/citus_standin.sql");

impl Testbed {
    /// The YAML configuration of member `name` on 127.0.0.1.
    pub fn config_yaml(&self, name: &str, rest_port: u16, pg_port: u16, data_dir: &Path) -> String {
        self.config_yaml_on(name, "127.0.0.1", rest_port, pg_port, data_dir)
    }

    /// The YAML configuration of member `name` whose servers listen on `addr`.
    pub fn config_yaml_on(
        &self,
        name: &str,
        addr: &str,
        rest_port: u16,
        pg_port: u16,
        data_dir: &Path,
    ) -> String {
        let etcd_hosts = match self.etcd_proxies.get(name) {
            // Behind its proxy the agent must not find the members themselves.
            Some(p) => format!("127.0.0.1:{}\n  use_proxies: true", p.port),
            None => (0..self.etcd_members())
                .map(|k| format!("{}:{}", self.etcd_addr(k), self.etcd_client_port(k)))
                .collect::<Vec<_>>()
                .join(","),
        };
        // Clients and peers: this machine, or every test host and the client on the bridge.
        let net = self
            .network
            .as_ref()
            .map_or("127.0.0.1/32".to_string(), |n| n.cidr());
        // One socket directory per member: on test hosts every server uses port 5432.
        let sock = match &self.network {
            Some(_) => self.dir.join(format!("{name}-sock")),
            None => self.dir.clone(),
        };
        let t = self.timing;
        format!(
            r#"scope: {scope}
namespace: /service/
name: {name}
restapi:
  listen: {addr}:{rest_port}
  connect_address: {addr}:{rest_port}
{rest_auth}{rest_tls}etcd3:
  hosts: {etcd_hosts}
{etcd_tls}bootstrap:
  dcs:
    ttl: {ttl}
    loop_wait: {lw}
    retry_timeout: {rt}
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        max_connections: 50
        shared_buffers: 16MB
{extra}{post_bootstrap}  initdb:
  - encoding: UTF8
  - data-checksums
postgresql:
  listen: {addr}:{pg_port}
  connect_address: {addr}:{pg_port}
  data_dir: {data}
  bin_dir: {bin_dir}
  basebackup:
    - checkpoint: fast
  authentication:
    superuser: {{username: postgres, password: super-secret{pg_client_su}}}
    replication: {{username: replicator, password: rep-secret{pg_client}}}
    rewind: {{username: rewind_user, password: rewind-secret{pg_client}}}
  parameters:
    unix_socket_directories: {sock}
    fsync: 'off'
    log_min_messages: warning
{pg_ssl}{callbacks}{extra_postgresql}  pg_hba:
    - local all all trust
    - {hba} replication replicator {net} scram-sha-256
    - {hba} all all {net} scram-sha-256
{tags}{auth}{citus}{watchdog}{extra_config}"#,
            extra_config = self.extra_config.get(name).cloned().unwrap_or_default(),
            extra_postgresql = self.extra_postgresql.get(name).cloned().unwrap_or_default(),
            rest_tls = self.tls.as_ref().map(|t| {
                let mut y = format!(
                    "  certfile: {}\n  keyfile: {}\n  cafile: {}\n  verify_client: {}\n",
                    t.cert.display(),
                    t.key.display(),
                    t.ca.display(),
                    t.verify_client.get(name).map_or("required", String::as_str)
                );
                if let Some(a) = t.allowlist.get(name) {
                    y.push_str(&format!("  allowlist: {a}\n"));
                }
                y
            }).unwrap_or_default(),
            etcd_tls = self.tls.as_ref().map(|t| format!(
                "  protocol: https\n  cacert: {}\n  cert: {}\n  key: {}\n  username: root\n  password: {}\n",
                t.ca.display(), t.cert.display(), t.key.display(), t.etcd_password
            )).unwrap_or_default(),
            pg_client_su = if self.tls.is_some() { ", sslmode: require" } else { "" },
            pg_client = self.tls.as_ref().map(|t| format!(
                ", sslmode: verify-full, sslrootcert: {}", t.ca.display()
            )).unwrap_or_default(),
            pg_ssl = self.tls.as_ref().map(|t| format!(
                "    ssl: 'on'\n    ssl_cert_file: {}\n    ssl_key_file: {}\n    ssl_ca_file: {}\n",
                t.cert.display(), t.key.display(), t.ca.display()
            )).unwrap_or_default(),
            hba = if self.tls.is_some() { "hostssl" } else { "host" },
            scope = self.scope,
            rest_auth = self
                .rest_auth
                .as_ref()
                .map(|(u, p)| format!("  authentication: {{username: {u}, password: {p}}}\n"))
                .unwrap_or_default(),
            ttl = t.ttl,
            lw = t.loop_wait,
            rt = t.retry_timeout,
            extra = self.extra_dcs,
            data = data_dir.display(),
            sock = sock.display(),
            bin_dir = praetor::postgres::find_bin_dir(None)
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            tags = self
                .tags
                .get(name)
                .map(|t| format!("tags: {t}\n"))
                .unwrap_or_default(),
            watchdog = if self.file_watchdogs {
                format!("watchdog: {{mode: automatic, device: {}, safety_margin: 5}}\n", self.dir.join(format!("{name}.watchdog")).display())
            } else {
                String::new()
            },
            callbacks = self
                .callback_script
                .as_ref()
                .map(|p| {
                    let p = p.display();
                    format!("  callbacks: {{on_start: {p}, on_stop: {p}, on_restart: {p}, on_reload: {p}, on_role_change: {p}}}\n")
                })
                .unwrap_or_default(),
            citus = self
                .citus_groups
                .get(name)
                .map(|g| match &self.citus_databases {
                    Some(dbs) => format!("citus: {{group: {g}, databases: [{}]}}\n", dbs.join(", ")),
                    None => format!("citus: {{group: {g}, database: citus}}\n"),
                })
                .unwrap_or_default(),
            post_bootstrap = match (
                self.citus_groups.contains_key(name),
                self.citus_standin_script()
            ) {
                (true, Some(script)) => format!("  post_bootstrap: sh {}\n", script.display()),
                (false, _) => self
                    .post_bootstrap
                    .as_ref()
                    .map(|c| format!("  post_bootstrap: {c}\n"))
                    .unwrap_or_default(),
                _ => String::new(),
            },
            auth = self
                .rest_auth
                .as_ref()
                .map(|(u, p)| match &self.tls {
                    None => format!("ctl: {{authentication: {{username: {u}, password: {p}}}}}\n"),
                    Some(t) => format!(
                        "ctl: {{authentication: {{username: {u}, password: {p}}}, certfile: {}, keyfile: {}, cacert: {}}}\n",
                        t.cert.display(), t.key.display(), t.ca.display()
                    ),
                })
                .unwrap_or_default(),
        )
    }

    /// Whether the real Citus library is installed for the PostgreSQL in use.
    pub fn citus_installed() -> bool {
        praetor::postgres::find_bin_dir(None)
            .ok()
            .and_then(|b| b.parent().map(|p| p.join("lib").join("citus.so").exists()))
            .unwrap_or(false)
    }

    /// When Citus is not installed: writes the SQL stand-in (tests/fixtures/citus_standin.sql) and a
    /// `post_bootstrap` script that loads it into template1, and returns the script's path.
    pub fn citus_standin_script(&self) -> Option<PathBuf> {
        if Self::citus_installed() {
            return None;
        }
        let sql = self.dir.join("citus_standin.sql");
        let script = self.dir.join("load-citus-standin.sh");
        if !script.exists() {
            let psql = praetor::postgres::find_bin_dir(None).ok()?.join("psql");
            std::fs::write(&sql, CITUS_STANDIN_SQL).ok()?;
            let body = format!(
                "#!/bin/sh\n# Loads the Citus stand-in into template1 (the Citus database is created from it).\nexec {} \"${{1%/*}}/template1\" -v ON_ERROR_STOP=1 -q -f {}\n",
                psql.display(),
                sql.display()
            );
            std::fs::write(&script, body).ok()?;
            if let Some((uid, gid)) = self.run_as {
                let _ = chown_r(&sql, uid, gid);
                let _ = chown_r(&script, uid, gid);
            }
        }
        Some(script)
    }
}
