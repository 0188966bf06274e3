//! The `watchdog` section's settings (Patroni's `mode`, `device`, `safety_margin`); the device
//! itself is driven by [`crate::watchdog`].

use std::path::PathBuf;

use serde_json::Value as Json;

/// `watchdog.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Not used.
    Off,
    /// Used when the device can be opened.
    Automatic,
    /// Must be usable for this member to become leader.
    Required,
}

/// The `watchdog` section.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchdogConfig {
    /// Mode.
    pub mode: Mode,
    /// Device path (default `/dev/watchdog`).
    pub device: PathBuf,
    /// Seconds before the lease ends at which the machine is reset (default 5; -1: ttl / 2).
    pub safety_margin: i64,
}

/// Reads `watchdog.mode` as Patroni does: `require`/`required`, `auto`/`automatic` and
/// `off`/`disable`/`disabled` (any case), `false` for off; anything else (YAML `true` or `on`
/// included, which Patroni reads as the string "true") disables the watchdog, and the key
/// table warns about it by name ([`crate::config::keys`]).
pub fn parse_mode(v: &Json) -> Mode {
    let s = match v {
        Json::Bool(false) => return Mode::Off,
        Json::String(s) => s.to_lowercase(),
        other => other.to_string().to_lowercase(),
    };
    match s.as_str() {
        "require" | "required" => Mode::Required,
        "auto" | "automatic" => Mode::Automatic,
        _ => Mode::Off,
    }
}

/// Whether `v` is a `watchdog.mode` Patroni recognises ([`parse_mode`]).
pub fn mode_recognised(v: &Json) -> bool {
    match v {
        // An explicit null is Patroni's "none": not recognised, watchdog disabled with a warning.
        Json::Bool(false) => true,
        Json::String(s) => matches!(
            s.to_lowercase().as_str(),
            "require" | "required" | "auto" | "automatic" | "off" | "disable" | "disabled"
        ),
        _ => false,
    }
}

impl Default for WatchdogConfig {
    /// Patroni's defaults: `automatic` (the device is used when it can be opened), even without
    /// a `watchdog` section.
    fn default() -> Self {
        WatchdogConfig {
            mode: Mode::Automatic,
            device: PathBuf::from("/dev/watchdog"),
            safety_margin: 5,
        }
    }
}

impl WatchdogConfig {
    /// Parses the `watchdog` section (JSON form of the YAML); an absent or empty section is
    /// Patroni's default, `automatic`.
    ///
    /// # Errors
    /// `(key, message)` naming the field and what was expected.
    pub fn from_json(v: Option<&Json>) -> Result<WatchdogConfig, (String, String)> {
        let mut c = WatchdogConfig::default();
        let Some(v) = v.filter(|v| !v.is_null()) else {
            return Ok(c);
        };
        let Some(m) = v.as_object() else {
            return Err((
                "watchdog".into(),
                "expected a mapping with mode, device, safety_margin".into(),
            ));
        };
        if let Some(mode) = m.get("mode") {
            c.mode = parse_mode(mode);
        }
        if let Some(d) = m.get("device") {
            c.device = PathBuf::from(
                d.as_str()
                    .ok_or(("watchdog.device".to_string(), "expected a path".to_string()))?,
            );
        }
        if let Some(s) = m.get("safety_margin") {
            c.safety_margin = s.as_i64().ok_or((
                "watchdog.safety_margin".to_string(),
                "expected an integer number of seconds".to_string(),
            ))?;
        }
        Ok(c)
    }

    /// The device timeout for a lease of `ttl` seconds.
    pub fn timeout(&self, ttl: u64) -> u64 {
        if self.safety_margin < 0 {
            (ttl / 2).max(1)
        } else {
            ttl.saturating_sub(self.safety_margin as u64).max(1)
        }
    }
}
