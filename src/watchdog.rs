//! The Linux watchdog (`/dev/watchdog`, e.g. the `softdog` module), used as Patroni uses it
//! (reference §2.13): armed before this member promotes, with a timeout of `ttl - safety_margin`
//! seconds (`ttl / 2` when `safety_margin` is -1); kept alive after every successful leader-lease
//! renewal; disarmed with the magic close (`V`) on demotion, in maintenance mode and at shutdown. If
//! the agent stops renewing while primary, the machine is reset before the lease can expire.
//!
//! Optional: `mode: off` (or no `watchdog` section) does nothing; `automatic` uses the device when it
//! can; `required` refuses to take part in leader races or to promote without it.

use std::fs::File;
use std::io::Write;

pub use crate::config::watchdog::{Mode, WatchdogConfig};

/// Whether this member may become leader as far as the watchdog is concerned: always unless
/// `required`, then only if the device is present and writable (checked without arming it).
pub fn usable(cfg: &WatchdogConfig) -> bool {
    cfg.mode != Mode::Required
        || nix::unistd::access(&cfg.device, nix::unistd::AccessFlags::W_OK).is_ok()
}

mod ioctl {
    // WDIOC_SETTIMEOUT from linux/watchdog.h: _IOWR('W', 6, int).
    nix::ioctl_readwrite!(wdioc_settimeout, b'W', 6, nix::libc::c_int);
}

/// An open (armed) watchdog device.
#[derive(Debug)]
pub struct Watchdog {
    cfg: WatchdogConfig,
    file: Option<File>,
    /// The last reason an `automatic` watchdog could not be used, logged once (not every cycle).
    unusable: Option<String>,
}

impl Watchdog {
    /// A disarmed watchdog for `cfg`.
    pub fn new(cfg: WatchdogConfig) -> Watchdog {
        Watchdog {
            cfg,
            file: None,
            unusable: None,
        }
    }

    /// Whether the device is armed.
    pub fn is_active(&self) -> bool {
        self.file.is_some()
    }

    /// Arms the device with the timeout for `ttl`.
    ///
    /// # Errors
    /// In `required` mode: the device cannot be opened or its timeout cannot be set. In
    /// `automatic` mode failures are logged and `Ok` is returned.
    pub fn activate(&mut self, ttl: u64) -> Result<(), String> {
        if self.cfg.mode == Mode::Off || self.file.is_some() {
            return Ok(());
        }
        let timeout = self.cfg.timeout(ttl);
        let result = (|| {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&self.cfg.device)
                .map_err(|e| format!("opening {}: {e}", self.cfg.device.display()))?;
            let mut t = timeout as nix::libc::c_int;
            // SAFETY: WDIOC_SETTIMEOUT reads and writes one c_int through the pointer, which
            // points to a live local for the duration of the call.
            let set =
                unsafe { ioctl::wdioc_settimeout(std::os::fd::AsRawFd::as_raw_fd(&file), &mut t) };
            Ok::<_, String>((file, set.map(|_| t)))
        })();
        match result {
            Ok((file, Ok(t))) => {
                tracing::info!(
                    "watchdog {} armed with a {t} s timeout",
                    self.cfg.device.display()
                );
                self.file = Some(file);
                self.keepalive();
                Ok(())
            }
            Ok((file, Err(e))) => {
                if self.cfg.mode == Mode::Required {
                    return Err(format!(
                        "setting the timeout of {}: {e}",
                        self.cfg.device.display()
                    ));
                }
                tracing::warn!(
                    "watchdog {}: cannot set its timeout ({e}); using it as it is",
                    self.cfg.device.display()
                );
                self.file = Some(file);
                self.keepalive();
                Ok(())
            }
            Err(e) if self.cfg.mode == Mode::Required => Err(e),
            Err(e) => {
                if self.unusable.as_ref() != Some(&e) {
                    tracing::warn!("watchdog not used (mode automatic): {e}");
                    self.unusable = Some(e);
                }
                Ok(())
            }
        }
    }

    /// Resets the device's countdown (any write does, per the Linux watchdog API).
    pub fn keepalive(&mut self) {
        if let Some(f) = &mut self.file {
            if let Err(e) = f.write_all(b"1").and_then(|_| f.flush()) {
                tracing::error!("watchdog keepalive failed: {e}");
            }
        }
    }

    /// Disarms the device with the magic close character and closes it.
    pub fn disable(&mut self) {
        if let Some(mut f) = self.file.take() {
            let _ = f.write_all(b"V").and_then(|_| f.flush());
            tracing::info!("watchdog {} disarmed", self.cfg.device.display());
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.disable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_patroni_settings() {
        assert_eq!(
            WatchdogConfig::from_json(None).unwrap().mode,
            Mode::Automatic
        );
        let c = WatchdogConfig::from_json(Some(
            &json!({"mode": "required", "device": "/dev/wd", "safety_margin": -1}),
        ))
        .unwrap();
        assert_eq!(c.mode, Mode::Required);
        assert_eq!(c.timeout(30), 15);
        assert_eq!(
            WatchdogConfig::from_json(Some(&json!({"mode": false})))
                .unwrap()
                .mode,
            Mode::Off
        );
        assert_eq!(WatchdogConfig::default().timeout(30), 25);
        for (v, want) in [
            (json!("Require"), Mode::Required),
            (json!("auto"), Mode::Automatic),
            (json!("disabled"), Mode::Off),
            (json!(true), Mode::Off),
            (json!("sometimes"), Mode::Off),
        ] {
            let c = WatchdogConfig::from_json(Some(&json!({ "mode": v }))).unwrap();
            assert_eq!(c.mode, want, "{v}");
        }
    }

    #[test]
    fn keepalives_and_magic_close_reach_the_device() {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("watchdog");
        std::fs::write(&dev, "").unwrap();
        let mut w = Watchdog::new(WatchdogConfig {
            mode: Mode::Automatic,
            device: dev.clone(),
            safety_margin: 5,
        });
        w.activate(30).unwrap();
        assert!(w.is_active());
        w.keepalive();
        w.disable();
        assert_eq!(std::fs::read_to_string(&dev).unwrap(), "11V");
        // Required mode refuses a device whose timeout cannot be set.
        let mut r = Watchdog::new(WatchdogConfig {
            mode: Mode::Required,
            device: dev,
            safety_margin: 5,
        });
        assert!(r.activate(30).is_err());
        let missing = WatchdogConfig {
            mode: Mode::Required,
            device: "/nonexistent/wd".into(),
            safety_margin: 5,
        };
        assert!(!usable(&missing));
    }
}
