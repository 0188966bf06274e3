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

impl Default for WatchdogConfig {
    fn default() -> Self {
        WatchdogConfig {
            mode: Mode::Off,
            device: PathBuf::from("/dev/watchdog"),
            safety_margin: 5,
        }
    }
}

impl WatchdogConfig {
    /// Parses the `watchdog` section (JSON form of the YAML).
    ///
    /// # Errors
    /// `(key, message)` naming the field and what was expected.
    pub fn from_json(v: Option<&Json>) -> Result<WatchdogConfig, (String, String)> {
        let mut c = WatchdogConfig::default();
        let Some(v) = v else { return Ok(c) };
        let Some(m) = v.as_object() else {
            return Err((
                "watchdog".into(),
                "expected a mapping with mode, device, safety_margin".into(),
            ));
        };
        if let Some(mode) = m.get("mode") {
            c.mode = match mode {
                Json::Bool(false) => Mode::Off,
                Json::Bool(true) => Mode::Automatic,
                Json::String(s) => match s.to_lowercase().as_str() {
                    "off" | "false" => Mode::Off,
                    "automatic" | "on" | "true" => Mode::Automatic,
                    "required" => Mode::Required,
                    other => {
                        return Err((
                            "watchdog.mode".into(),
                            format!("expected off, automatic or required, got {other:?}"),
                        ))
                    }
                },
                other => {
                    return Err((
                        "watchdog.mode".into(),
                        format!("expected off, automatic or required, got {other}"),
                    ))
                }
            };
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
