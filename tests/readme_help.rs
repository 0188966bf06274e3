//! The package ships no man page; `--help` is the reference, and README.md must agree with it:
//! every praetorctl command `--help` lists has its own README entry, every README entry is a real
//! command, and the agent's options and commands appear in README's usage block.

use std::process::Command;

fn help(exe: &str) -> String {
    let out = Command::new(exe).arg("--help").output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// Command names from clap's `Commands:` block.
fn commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect()
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

#[test]
fn readme_documents_every_praetorctl_command_and_no_other() {
    let listed = commands(&help(env!("CARGO_BIN_EXE_praetorctl")));
    assert!(listed.len() > 10, "{listed:?}");
    let readme = readme();
    for c in &listed {
        assert!(
            readme.contains(&format!("**{c}**")),
            "README.md has no entry for praetorctl {c}"
        );
    }
    let section = readme
        .split("## praetorctl")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap();
    for entry in section.split("**").skip(1).step_by(2) {
        assert!(
            listed.iter().any(|c| c == entry),
            "README.md documents `{entry}`, which praetorctl --help does not list"
        );
    }
    let ctl = help(env!("CARGO_BIN_EXE_praetorctl"));
    for opt in ["--config-file", "--dcs-url", "--insecure"] {
        assert!(ctl.contains(opt) && readme.contains(opt), "{opt}");
    }
}

#[test]
fn readme_usage_matches_praetor_help() {
    let h = help(env!("CARGO_BIN_EXE_praetor"));
    let readme = readme();
    for c in commands(&h) {
        assert!(
            readme.contains(&format!("praetor {c}")),
            "README.md lacks `praetor {c}`"
        );
    }
    assert!(h.contains("--validate-config") && readme.contains("praetor --validate-config"));
}
