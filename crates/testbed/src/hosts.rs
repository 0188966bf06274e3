//! Hosts, not processes: N test hosts as Linux network namespaces the test creates itself, each
//! with one interface (a veth pair) on a bridge the test owns, and faults applied to a host with
//! nftables rules inside its namespace (drop everything, drop but keep some peers, one direction
//! only) or by taking its link down.
//!
//! The bridge lives in the test's own namespace with the last address of the subnet: the test
//! process is the *client host* (writer, prober, REST and SQL checks) and reaches every host
//! directly. No host has a default route, and nothing routes the subnet anywhere: traffic stays
//! between the hosts and the client. Everything created — namespaces, veth pairs, the bridge, the
//! hosts' nftables tables (they live in the namespaces) — is removed when the [`Network`] is
//! dropped, also when a test panics.
//!
//! Needs root, `ip` (iproute2) and `nft` (nftables); [`Network::unavailable`] says which is
//! missing so a test can print why it is skipped.

use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};

/// A set of test hosts on one bridge.
pub struct Network {
    /// Short unique prefix of every name created (namespaces, links).
    id: String,
    /// Third octet of the hosts' 10.231.x.0/24 subnet.
    subnet: u8,
    hosts: usize,
}

/// A fault applied to one host ([`Network::fault`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Drop every packet in and out (no RST, no ICMP: a silent host).
    Isolate,
    /// Drop every packet in and out except to and from these addresses.
    IsolateExcept(Vec<Ipv4Addr>),
    /// Drop packets between this host and that one, both ways.
    DropWith(Ipv4Addr),
    /// Drop what this host receives (it can still send).
    DropIn,
    /// Drop what this host sends (it can still receive).
    DropOut,
    /// Drop TCP to and from this port on the host's link, both ways (e.g. 2380: its etcd member
    /// cut from its peers while local clients still reach it).
    DropPort(u16),
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn ip(args: &[&str]) -> Result<()> {
    run(Command::new("ip").args(args))
}

impl Network {
    /// Why hosts cannot be made here (`None`: they can): not root, or `ip` or `nft` missing.
    pub fn unavailable() -> Option<String> {
        if !nix::unistd::geteuid().is_root() {
            return Some("network namespaces need root".into());
        }
        for (prog, pkg) in [("ip", "iproute2"), ("nft", "nftables")] {
            let found = Command::new(prog)
                .arg("-V")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok();
            if !found {
                return Some(format!("`{prog}` is not installed (package {pkg})"));
            }
        }
        None
    }

    /// Creates `hosts` hosts (namespaces `<id>h0`…) on a new bridge.
    ///
    /// # Errors
    /// [`Network::unavailable`], or an `ip` command failed (what was created is removed).
    pub fn create(hosts: usize) -> Result<Network> {
        if let Some(why) = Self::unavailable() {
            bail!("{why}");
        }
        if hosts == 0 || hosts > 200 {
            bail!("hosts: expected 1 to 200, got {hosts}");
        }
        // Names stay under the 15 bytes Linux allows for a link: "pt" + 5 digits + "h" + index + "x".
        let n = (std::process::id() as u64 * 7919
            + std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos() as u64)
                .unwrap_or(0))
            % 100_000;
        let id = format!("pt{n:05}");
        let subnet = (n % 250) as u8 + 1;
        let net = Network { id, subnet, hosts };
        net.build().inspect_err(|_| net.remove())?;
        Ok(net)
    }

    fn bridge(&self) -> String {
        format!("{}br", self.id)
    }

    /// The namespace of host `i`.
    pub fn namespace(&self, i: usize) -> String {
        format!("{}h{i}", self.id)
    }

    fn outer_link(&self, i: usize) -> String {
        format!("{}h{i}x", self.id)
    }

    /// Host `i`'s address.
    pub fn host_ip(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 231, self.subnet, i as u8 + 1)
    }

    /// The client's address (the test process, on the bridge).
    pub fn client_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 231, self.subnet, 254)
    }

    /// The hosts' subnet with the client, as `10.231.x.0/24`.
    pub fn cidr(&self) -> String {
        format!("10.231.{}.0/24", self.subnet)
    }

    /// How many hosts.
    pub fn len(&self) -> usize {
        self.hosts
    }

    /// Whether there are no hosts (never, once created).
    pub fn is_empty(&self) -> bool {
        self.hosts == 0
    }

    fn build(&self) -> Result<()> {
        let br = self.bridge();
        ip(&["link", "add", &br, "type", "bridge"])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/24", self.client_ip()),
            "dev",
            &br,
        ])?;
        ip(&["link", "set", &br, "up"])?;
        for i in 0..self.hosts {
            let ns = self.namespace(i);
            let outer = self.outer_link(i);
            let inner = format!("{}h{i}i", self.id);
            ip(&["netns", "add", &ns])?;
            ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ])?;
            ip(&["link", "set", &inner, "netns", &ns])?;
            ip(&["link", "set", &outer, "master", &br])?;
            ip(&["link", "set", &outer, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            ip(&["-n", &ns, "link", "set", &inner, "name", "eth0"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", self.host_ip(i)),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        }
        Ok(())
    }

    /// A command that runs inside host `i`'s namespace (entered between fork and exec).
    pub fn command(&self, i: usize, program: impl AsRef<std::ffi::OsStr>) -> Command {
        self.command_as(i, program, None)
    }

    /// [`Network::command`] that then runs as `user` (uid, gid): entering a namespace needs
    /// root, so the user is taken after it (Command's own uid/gid would be taken before).
    pub fn command_as(
        &self,
        i: usize,
        program: impl AsRef<std::ffi::OsStr>,
        user: Option<(u32, u32)>,
    ) -> Command {
        let path = format!("/run/netns/{}", self.namespace(i));
        let mut cmd = Command::new(program);
        // SAFETY: between fork and exec only async-signal-safe calls are made (open, setns,
        // close, setgroups, setgid, setuid), and no allocation happens: the path is prepared
        // before.
        let cpath = std::ffi::CString::new(path).expect("no NUL in a namespace name");
        unsafe {
            cmd.pre_exec(move || {
                let fd =
                    nix::libc::open(cpath.as_ptr(), nix::libc::O_RDONLY | nix::libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let r = nix::libc::setns(fd, nix::libc::CLONE_NEWNET);
                nix::libc::close(fd);
                if r != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some((uid, gid)) = user {
                    if nix::libc::setgroups(0, std::ptr::null()) != 0
                        || nix::libc::setgid(gid) != 0
                        || nix::libc::setuid(uid) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        cmd
    }

    /// Runs `f` on a thread that entered host `i`'s namespace: sockets it opens belong to the
    /// host (and keep belonging to it when handed back).
    ///
    /// # Errors
    /// Entering the namespace failed.
    pub fn within<T: Send + 'static>(
        &self,
        i: usize,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let path = format!("/run/netns/{}", self.namespace(i));
        std::thread::spawn(move || -> Result<T> {
            let ns = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
            use std::os::fd::AsRawFd;
            // SAFETY: setns on a valid descriptor only changes this thread's namespace.
            if unsafe { nix::libc::setns(ns.as_raw_fd(), nix::libc::CLONE_NEWNET) } != 0 {
                bail!("setns {path}: {}", std::io::Error::last_os_error());
            }
            Ok(f())
        })
        .join()
        .map_err(|_| anyhow!("the thread in host {i} panicked"))?
    }

    /// Applies `fault` to host `i` (replacing the one in force there, if any).
    ///
    /// # Errors
    /// `nft` failed.
    pub fn fault(&self, i: usize, fault: &Fault) -> Result<()> {
        self.heal(i)?;
        let rules = match fault {
            Fault::Isolate => {
                "  chain in { type filter hook input priority 0; iif lo accept; drop; }\n  chain out { type filter hook output priority 0; oif lo accept; drop; }\n".to_string()
            }
            Fault::IsolateExcept(keep) => {
                let set = keep
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "  chain in {{ type filter hook input priority 0; iif lo accept; ip saddr {{ {set} }} accept; drop; }}\n  chain out {{ type filter hook output priority 0; oif lo accept; ip daddr {{ {set} }} accept; drop; }}\n"
                )
            }
            Fault::DropWith(peer) => format!(
                "  chain in {{ type filter hook input priority 0; ip saddr {peer} drop; }}\n  chain out {{ type filter hook output priority 0; ip daddr {peer} drop; }}\n"
            ),
            Fault::DropIn => {
                "  chain in { type filter hook input priority 0; iif lo accept; drop; }\n".to_string()
            }
            Fault::DropPort(port) => format!(
                "  chain in {{ type filter hook input priority 0; iifname \"eth0\" tcp dport {port} drop; iifname \"eth0\" tcp sport {port} drop; }}\n  chain out {{ type filter hook output priority 0; oifname \"eth0\" tcp dport {port} drop; oifname \"eth0\" tcp sport {port} drop; }}\n"
            ),
            Fault::DropOut => {
                "  chain out { type filter hook output priority 0; oif lo accept; drop; }\n".to_string()
            }
        };
        let script = format!("table inet praetor_fault {{\n{rules}}}\n");
        let mut child = self
            .command(i, "nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("running nft")?;
        use std::io::Write;
        child
            .stdin
            .take()
            .ok_or_else(|| anyhow!("nft stdin"))?
            .write_all(script.as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "nft on host {i}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// Removes the fault in force on host `i`, if any.
    ///
    /// # Errors
    /// `nft` could not be run.
    pub fn heal(&self, i: usize) -> Result<()> {
        // Deleting a table that is not there fails; that is the healthy state.
        let _ = self
            .command(i, "nft")
            .args(["delete", "table", "inet", "praetor_fault"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("running nft")?;
        Ok(())
    }

    /// Takes host `i`'s link down (`up` false) or up again.
    ///
    /// # Errors
    /// `ip` failed.
    pub fn link(&self, i: usize, up: bool) -> Result<()> {
        ip(&[
            "link",
            "set",
            &self.outer_link(i),
            if up { "up" } else { "down" },
        ])
    }

    /// Removes every namespace, link and rule this network created (best effort).
    fn remove(&self) {
        for i in 0..self.hosts {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.namespace(i)])
                .stderr(Stdio::null())
                .status();
            let _ = Command::new("ip")
                .args(["link", "del", &self.outer_link(i)])
                .stderr(Stdio::null())
                .status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge()])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        self.remove();
    }
}
