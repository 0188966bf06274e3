//! `praetorctl edit-config`: the dynamic configuration edited in $EDITOR or with --set, --pg,
//! --apply, --replace, shown as a diff and written with a compare-and-set.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use super::context::*;
use super::render::*;

pub(super) fn read_yaml_source(src: &str) -> Result<Value> {
    let text = if src == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        std::fs::read_to_string(src).with_context(|| format!("reading {src}"))?
    };
    let y: serde_yaml::Value =
        serde_yaml::from_str(&text).with_context(|| format!("{src}: not valid YAML"))?;
    Ok(serde_json::to_value(y)?)
}

pub(super) async fn edit_config(
    ctx: &Ctx,
    quiet: bool,
    set: Vec<String>,
    pg: Vec<String>,
    apply: Option<String>,
    replace: Option<String>,
    force: bool,
) -> Result<()> {
    let view = ctx.view().await?;
    let old = view
        .config_raw
        .clone()
        .ok_or_else(|| anyhow!("no configuration in DCS for {}", ctx.scope))?;
    let mut new = old.clone();
    let interactive = set.is_empty() && pg.is_empty() && apply.is_none() && replace.is_none();
    if let Some(r) = &replace {
        new = read_yaml_source(r)?;
    }
    if let Some(a) = &apply {
        crate::config::merge_patch(&mut new, &read_yaml_source(a)?);
    }
    for s in &set {
        apply_set(&mut new, s)?;
    }
    for p in &pg {
        apply_set(&mut new, &format!("postgresql.parameters.{p}"))?;
    }
    if interactive {
        let editor = std::env::var("EDITOR").unwrap_or_else(|_| "vi".into());
        let tmp = tempfile::Builder::new()
            .prefix(&format!("{}-config-", ctx.scope))
            .suffix(".yaml")
            .tempfile()?;
        std::fs::write(tmp.path(), config_yaml(&old))?;
        let st = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{editor} \"$1\""))
            .arg("sh")
            .arg(tmp.path())
            .status()
            .with_context(|| format!("running the editor {editor}"))?;
        if !st.success() {
            bail!("the editor {editor} exited with {st}");
        }
        new = read_yaml_source(&tmp.path().display().to_string())?;
    }
    if new.is_null() {
        new = json!({});
    }
    if let Err((k, m)) = crate::config::DynamicConfig::from_json(&new) {
        bail!(
            "the new configuration is invalid: {}{m}",
            if k.is_empty() {
                String::new()
            } else {
                format!("{k}: ")
            }
        );
    }
    let diff = config_diff(&old, &new);
    if diff.is_empty() {
        println!("Not changed");
        return Ok(());
    }
    if !quiet {
        println!("---");
        println!("+++");
        print!(
            "{}",
            diff.lines()
                .filter(|l| !l.starts_with("---") && !l.starts_with("+++"))
                .map(|l| format!("{l}\n"))
                .collect::<String>()
        );
        println!();
    }
    if !force && !confirm("Apply these changes?")? {
        bail!("Aborted: configuration not changed");
    }
    if !ctx
        .dcs
        .put_absolute_if_revision(
            &format!("{}config", ctx.prefix()),
            &new.to_string(),
            view.config_revision,
        )
        .await?
    {
        bail!("The config key was changed concurrently; nothing written. Run edit-config again");
    }
    println!("Configuration changed");
    Ok(())
}
