//! Every praetorctl command against a real three-member praetor group, as an operator would run
//! them (non-interactive flags, and answers on stdin for the prompts).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

struct Ctl {
    config: std::path::PathBuf,
}

impl Ctl {
    fn run(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> (bool, String, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_praetorctl"));
        cmd.arg("-c")
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let (o, e) = (
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        );
        println!("$ praetorctl {}\n{o}{e}", args.join(" "));
        (out.status.success(), o, e)
    }
    fn ok(&self, args: &[&str]) -> String {
        let (ok, o, e) = self.run(args, "", &[]);
        assert!(ok, "praetorctl {args:?} failed: {o}{e}");
        o
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_praetorctl_command_works_against_a_real_group() {
    let mut tb = common::testbed("ctl");
    tb.rest_auth = Some(("admin".into(), "admin-secret".into()));
    tb.start_etcd().await.unwrap();
    for m in ["m1", "m2", "m3"] {
        tb.add_agent(m).unwrap();
    }
    let leader = tb.wait_healthy(2, Duration::from_secs(120)).await.unwrap();
    let others: Vec<String> = ["m1", "m2", "m3"]
        .iter()
        .filter(|m| **m != leader)
        .map(|m| m.to_string())
        .collect();
    let config = tb.dir.join("ctl.yml");
    std::fs::write(
        &config,
        format!(
            "scope: ctl\netcd3:\n  hosts: 127.0.0.1:{}\nctl:\n  authentication: {{username: admin, password: admin-secret}}\npostgresql:\n  authentication:\n    superuser: {{username: postgres, password: super-secret}}\n",
            tb.etcd_port
        ),
    )
    .unwrap();
    let ctl = Ctl { config };

    let out = ctl.ok(&["list"]);
    assert!(out.starts_with("+ Cluster: ctl ("), "{out}");
    assert_eq!(out.matches("| streaming |").count(), 2);
    for f in ["json", "yaml", "tsv"] {
        let out = ctl.ok(&["list", "-f", f]);
        assert!(out.contains(&leader), "{out}");
    }
    let out = ctl.ok(&["topology"]);
    assert!(out.contains(&format!("| + {}", others[0])), "{out}");

    // Dynamic configuration.
    assert!(ctl.ok(&["show-config"]).contains("ttl: 10"));
    let out = ctl.ok(&[
        "edit-config",
        "-s",
        "loop_wait=1",
        "-p",
        "work_mem=8MB",
        "--force",
    ]);
    assert!(
        out.contains("-loop_wait: 2") && out.contains("+loop_wait: 1"),
        "{out}"
    );
    assert!(out.contains("Configuration changed"), "{out}");
    let shown = ctl.ok(&["show-config"]);
    assert!(
        shown.contains("loop_wait: 1") && shown.contains("work_mem: 8MB"),
        "{shown}"
    );
    assert!(ctl
        .ok(&["edit-config", "-s", "loop_wait=1", "--force"])
        .contains("Not changed"));
    let (ok, _, err) = ctl.run(&["edit-config", "-s", "ttl=soon", "--force"], "", &[]);
    assert!(
        !ok && err.starts_with("Error: ") && err.contains("ttl"),
        "{err}"
    );
    let (ok, o, _) = ctl.run(
        &["edit-config", "--force"],
        "",
        &[("EDITOR", "sed -i s/loop_wait:.1/loop_wait:\\ 2/")],
    );
    assert!(ok && o.contains("Configuration changed"), "{o}");
    // Declining is not an error (patronictl exits 0); nothing changes.
    let (ok, o, _) = ctl.run(&["edit-config", "-s", "loop_wait=1"], "n\n", &[]);
    assert!(ok && o.contains("Apply these changes?"), "{o}");
    assert_eq!(tb.view().await.unwrap().config.unwrap().loop_wait, 2);

    // Maintenance mode.
    assert!(ctl
        .ok(&["pause", "--wait"])
        .contains("Success: cluster management is paused"));
    assert!(ctl.ok(&["list"]).contains(" Maintenance mode: on"));
    let (ok, _, err) = ctl.run(&["pause"], "", &[]);
    assert!(!ok && err.contains("already paused"), "{err}");
    assert!(ctl
        .ok(&["resume", "--wait"])
        .contains("Success: cluster management is resumed"));

    // Switchover with flags, then interactively through the prompts.
    let out = ctl.ok(&[
        "switchover",
        "--leader",
        &leader,
        "--candidate",
        &others[0],
        "--force",
    ]);
    assert!(
        out.contains(&format!("Successfully switched over to \"{}\"", others[0])),
        "{out}"
    );
    tb.wait_healthy(2, Duration::from_secs(60)).await.unwrap();
    let (ok, o, e) = ctl.run(
        &["switchover"],
        &format!("{}\n{}\nnow\ny\n", others[0], others[1]),
        &[],
    );
    assert!(ok, "{o}{e}");
    assert!(
        o.contains("Primary")
            && o.contains("Candidate")
            && o.contains("When should the switchover take place"),
        "{o}"
    );
    assert!(
        o.contains(&format!("Successfully switched over to \"{}\"", others[1])),
        "{o}"
    );
    tb.wait_healthy(2, Duration::from_secs(60)).await.unwrap();
    let (ok, _, err) = ctl.run(&["switchover", "--candidate", "ghost", "--force"], "", &[]);
    assert!(!ok && err.contains("ghost"), "{err}");
    let out = ctl.ok(&["failover", "--candidate", &leader, "--force"]);
    assert!(
        out.contains(&format!("Successfully failed over to \"{leader}\"")),
        "{out}"
    );
    tb.wait_healthy(2, Duration::from_secs(60)).await.unwrap();
    let (ok, _, err) = ctl.run(&["failover", "--force"], "", &[]);
    assert!(!ok && err.contains("specific candidate"), "{err}");

    // Restart, reinit, reload.
    assert!(ctl
        .ok(&["restart", "ctl", &others[0], "--force"])
        .contains(&format!("Success: restart on member {}", others[0])));
    let (ok, o, _) = ctl.run(
        &["restart", "ctl", &others[0], "--role", "leader", "--force"],
        "",
        &[],
    );
    assert!(!ok || !o.contains("Success"), "{o}");
    let out = ctl.ok(&["reinit", "ctl", &others[1], "--force", "--wait"]);
    assert!(
        out.contains(&format!("Success: reinitialize for member {}", others[1])),
        "{out}"
    );
    tb.wait_healthy(2, Duration::from_secs(60)).await.unwrap();
    assert!(ctl
        .ok(&["reload", "ctl", "--force"])
        .contains("Reload request received for member"));

    // Read-only commands.
    let hist = ctl.ok(&["history"]);
    assert!(
        hist.contains("| TL |") && hist.contains("New Leader"),
        "{hist}"
    );
    assert_eq!(tb.view().await.unwrap().history.len(), 3);
    let dsn = ctl.ok(&["dsn"]);
    assert_eq!(
        dsn.trim(),
        format!("host=127.0.0.1 port={}", tb.agents[&leader].pg_port)
    );
    let q = ctl.ok(&["query", "-c", "SELECT 40 + 2 AS answer"]);
    assert_eq!(q, "answer\n42\n");
    // Members' versions are listed for a named cluster only (patronictl).
    let v = ctl.ok(&["version", "ctl"]);
    assert!(
        v.starts_with("praetorctl version") && v.contains("PostgreSQL 15"),
        "{v}"
    );

    // Remove: refused on a wrong answer, done with the right ones.
    let (ok, _, err) = ctl.run(&["remove", "ctl"], "wrong\n", &[]);
    assert!(!ok && err.contains("do not match"), "{err}");
    let (ok, o, e) = ctl.run(
        &["remove", "ctl"],
        &format!("ctl\nYes I am aware\n{leader}\n"),
        &[],
    );
    assert!(ok, "{o}{e}");
    // The agents re-publish their own keys at once; the history (three switchovers above) is only
    // written on a promotion, so its absence shows the scope was wiped.
    let v = tb.view().await.unwrap();
    assert!(
        v.history.is_empty(),
        "remove must delete the scope's keys: {:?}",
        v.history
    );
}
