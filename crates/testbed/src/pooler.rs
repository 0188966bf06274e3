//! PgBouncer (Debian's `pgbouncer`) beside a member: the connection pooler a member announces
//! with `postgresql.proxy_address`, for the pg_dist_poolinfo tests.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};

use crate::{free_port, Testbed};

/// A running PgBouncer; stopped on drop.
pub struct Pooler {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Pooler {
    /// Stops it (SIGKILL).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Pooler {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `pgbouncer` program.
///
/// # Errors
/// Not installed.
pub fn find_pgbouncer() -> Result<PathBuf> {
    ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| anyhow!("pgbouncer is not installed: apt-get install pgbouncer"))
}

impl Testbed {
    /// Starts PgBouncer on a free 127.0.0.1 port in front of member `name`'s server (configured
    /// already, [`Testbed::configure_agent`]): session pooling, every database, SCRAM with the
    /// test superuser's password, run as the agents' OS user. Returns once it accepts
    /// connections.
    ///
    /// # Errors
    /// pgbouncer missing, no such member, or it did not start within 10 s.
    pub fn start_pooler(&self, name: &str) -> Result<Pooler> {
        let exe = find_pgbouncer()?;
        let a = self
            .agents
            .get(name)
            .ok_or_else(|| anyhow!("no member {name}"))?;
        let port = free_port()?;
        let base = self.dir.join(format!("{name}-pgbouncer"));
        std::fs::create_dir_all(&base)?;
        let users = base.join("users.txt");
        std::fs::write(&users, "\"postgres\" \"super-secret\"\n")?;
        let ini = base.join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host=127.0.0.1 port={pg}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
                 listen_port = {port}\nunix_socket_dir =\nauth_type = scram-sha-256\n\
                 auth_file = {users}\npool_mode = session\nlogfile = {log}\npidfile = {pid}\n\
                 admin_users = postgres\n\
                 ignore_startup_parameters = extra_float_digits,options,statement_timeout\n",
                pg = a.pg_port,
                users = users.display(),
                log = base.join("pgbouncer.log").display(),
                pid = base.join("pgbouncer.pid").display(),
            ),
        )?;
        self.give_to_agents(&base)?;
        let mut cmd = Command::new(exe);
        self.as_user(&mut cmd);
        cmd.arg(&ini)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let child = cmd.spawn().context("starting pgbouncer")?;
        let mut pooler = Pooler { child, port };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = pooler.child.try_wait() {
                bail!(
                    "pgbouncer for {name} exited ({st}); see {}",
                    base.join("pgbouncer.log").display()
                );
            }
            if std::time::Instant::now() > deadline {
                pooler.stop();
                bail!("pgbouncer for {name} does not listen on {port}");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Ok(pooler)
    }
}
