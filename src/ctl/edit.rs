//! `praetorctl edit-config`: the dynamic configuration changed by `--replace`, `--apply`, `-s`
//! and `-p` (in that order) or in an editor, shown as patronictl's diff, and written with a
//! compare-and-set on the key's revision.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use super::cli::EditConfigArgs;
use super::context::*;
use super::render::*;

fn read_source(src: &str) -> Result<String> {
    if src == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        Ok(s)
    } else {
        std::fs::read_to_string(src).with_context(|| format!("reading {src}"))
    }
}

fn yaml_value(text: &str, what: &str) -> Result<Value> {
    let y: serde_yaml::Value =
        serde_yaml::from_str(text).with_context(|| format!("{what}: not valid YAML"))?;
    Ok(serde_json::to_value(y)?)
}

/// patronictl's `apply_yaml_file`: `config` patched with the YAML mapping in `src` (`-`: stdin).
fn apply_yaml_file(config: &Value, src: &str) -> Result<Value> {
    let patch = yaml_value(&read_source(src)?, src)?;
    if !patch.is_object() {
        bail!("{src}: expected a YAML mapping");
    }
    let mut out = config.clone();
    patch_config(&mut out, &patch);
    Ok(out)
}

/// The editor patronictl runs: `$EDITOR`, else `editor` or `vi` from `PATH`.
fn editor() -> Result<String> {
    if let Some(e) = std::env::var("EDITOR").ok().filter(|e| !e.is_empty()) {
        return Ok(e);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["editor", "vi"] {
        if std::env::split_paths(&path).any(|d| d.join(name).is_file()) {
            return Ok(name.to_string());
        }
    }
    bail!("EDITOR environment variable is not set. editor or vi are not available")
}

/// Opens `before` in the editor; returns the edited text and its YAML value.
fn invoke_editor(before: &str, scope: &str) -> Result<(String, Value)> {
    let editor = editor()?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!("{}-config-", scope.replace('/', "_")))
        .suffix(".yaml")
        .tempfile()?;
    std::fs::write(tmp.path(), before)?;
    // Through the shell, so an EDITOR with arguments works too (patronictl runs it as one program).
    let st = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(tmp.path())
        .status()
        .with_context(|| format!("running the editor {editor}"))?;
    if !st.success() {
        bail!("Editor exited with return code {}", st.code().unwrap_or(-1));
    }
    let after = std::fs::read_to_string(tmp.path())?;
    let value = yaml_value(&after, "the edited configuration")?;
    Ok((after, value))
}

/// `praetorctl edit-config`.
pub(super) async fn edit_config(ctx: &Ctx, args: EditConfigArgs) -> Result<()> {
    let EditConfigArgs {
        quiet,
        set,
        pg,
        apply,
        replace,
        force,
        ..
    } = args;
    let pool = ctx.pool().await?;
    let view = pool.main();
    let old = view.config_raw.clone().ok_or_else(|| {
        anyhow!(
            "The config key does not exist in the cluster {}",
            pool.scope
        )
    })?;
    let before = config_yaml(&old);
    let mut after: Option<String> = None;
    let mut new = old.clone();
    if let Some(r) = &replace {
        new = apply_yaml_file(&json!({}), r)?;
        after = Some(config_yaml(&new));
    }
    if let Some(a) = &apply {
        new = apply_yaml_file(&new, a)?;
        after = Some(config_yaml(&new));
    }
    if !set.is_empty() || !pg.is_empty() {
        let pairs = set.iter().cloned().chain(
            pg.iter()
                .map(|p| format!("postgresql.parameters.{}", p.trim_start())),
        );
        for pair in pairs {
            apply_set(&mut new, &pair)?;
        }
        after = Some(config_yaml(&new));
    }
    let after = match after {
        Some(a) => a,
        None => {
            let (text, value) = invoke_editor(&before, &pool.scope)?;
            new = value;
            text
        }
    };
    if new == old {
        if !quiet {
            println!("Not changed");
        }
        return Ok(());
    }
    // A praetor addition: a configuration the agents would reject is never written.
    let checked = if new.is_null() {
        json!({})
    } else {
        new.clone()
    };
    if let Err((k, m)) = crate::config::DynamicConfig::check_edit(&checked) {
        bail!(
            "the new configuration is invalid: {}{m}",
            if k.is_empty() {
                String::new()
            } else {
                format!("{k}: ")
            }
        );
    }
    if !quiet {
        for line in text_diff(&before, &after) {
            println!("{line}");
        }
    }
    if (apply.as_deref() == Some("-") || replace.as_deref() == Some("-")) && !force {
        println!("Use --force option to apply changes");
        return Ok(());
    }
    if force || confirm("Apply these changes?")? {
        let key = format!("{}config", ctx.main_prefix(&pool));
        if !ctx
            .dcs
            .put_absolute_if_revision(&key, &new.to_string(), view.config_revision)
            .await?
        {
            bail!("Config modification aborted due to concurrent changes");
        }
        println!("Configuration changed");
    }
    Ok(())
}
