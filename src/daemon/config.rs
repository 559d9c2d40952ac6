//! The daemon's configuration file (TOML): the server, the labs and their
//! schedules, the alerts. [`Config::load`] validates everything, including
//! each lab's inventory and profile, and reports every problem at once: a
//! bad file at start-up stops the daemon, a bad file on SIGHUP keeps the old
//! configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::audit::{self, AuditOptions};
use crate::duration;
use crate::inventory::Secret;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    server: ServerSection,
    #[serde(default, rename = "lab")]
    labs: Vec<LabSection>,
    #[serde(default)]
    alerts: AlertsSection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    listen: Option<String>,
    db: Option<PathBuf>,
    token_env: Option<String>,
    retention_days: Option<u32>,
    max_parallel_audits: Option<usize>,
    timeout: Option<String>,
    concurrency: Option<usize>,
    shutdown_grace: Option<String>,
    sla_window: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LabSection {
    name: String,
    inventory: PathBuf,
    profile: Option<String>,
    every: Option<String>,
    cron: Option<String>,
    timeout: Option<String>,
    #[serde(default)]
    sla: Vec<SlaSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlaSection {
    name: String,
    host: String,
    port: u16,
    target: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AlertsSection {
    webhook: Option<String>,
    timeout: Option<String>,
    retries: Option<u32>,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub listen: SocketAddr,
    /// From the file, resolved against its folder; `None`: the default path.
    pub db: Option<PathBuf>,
    /// The API token (from `token_env`), required for `POST` when set.
    pub token: Option<Secret>,
    pub retention_days: u32,
    pub max_parallel_audits: usize,
    pub timeout: Duration,
    pub concurrency: usize,
    pub shutdown_grace: Duration,
    pub sla_window: Duration,
    pub labs: Vec<LabConfig>,
    pub alerts: Alerts,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LabConfig {
    pub name: String,
    pub inventory: PathBuf,
    pub profile: Option<String>,
    pub schedule: Schedule,
    pub timeout: Duration,
    pub sla: Vec<Sla>,
}

impl LabConfig {
    pub fn audit_options(&self, concurrency: usize) -> AuditOptions {
        AuditOptions {
            profile: self.profile.clone(),
            inventory: Some(self.inventory.clone()),
            timeout: self.timeout,
            concurrency,
            ..AuditOptions::default()
        }
    }
}

/// A declared service level: `host:port` of the inventory, and the
/// availability target in percent (else read from the `sisr.sla-service`
/// attestation of the inventory).
#[derive(Debug, Clone, PartialEq)]
pub struct Sla {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub target: Option<f64>,
}

#[derive(Debug, Clone)]
pub enum Schedule {
    Every(Duration),
    Cron {
        expr: String,
        cron: Box<croner::Cron>,
    },
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.describe() == other.describe()
    }
}

impl Schedule {
    pub fn describe(&self) -> String {
        match self {
            Schedule::Every(d) => format!("every {}", human(*d)),
            Schedule::Cron { expr, .. } => format!("cron {expr}"),
        }
    }

    /// When the next audit is due, given when the last one started.
    pub fn next_after(
        &self,
        last: Option<jiff::Timestamp>,
        now: jiff::Timestamp,
    ) -> jiff::Timestamp {
        match self {
            Schedule::Every(d) => match last {
                None => now,
                Some(l) => {
                    let due = l + jiff::SignedDuration::try_from(*d).unwrap_or_default();
                    // A daemon that was down does not catch up on missed runs: one now.
                    if due < now { now } else { due }
                }
            },
            Schedule::Cron { cron, .. } => {
                let zoned = now.to_zoned(jiff::tz::TimeZone::system());
                cron.find_next_occurrence(&zoned, false)
                    .map(|z| z.timestamp())
                    .unwrap_or(now + jiff::SignedDuration::from_hours(24))
            }
        }
    }
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_millis() != 0 {
        format!("{}ms", d.as_millis())
    } else if s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

#[derive(Debug, Clone, Default)]
pub struct Alerts {
    pub webhook: Option<url::Url>,
    pub timeout: Duration,
    pub retries: u32,
}

impl Config {
    /// Reads and validates a configuration file: every problem at once.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let file: File = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut errors = Vec::new();
        let mut err = |m: String| errors.push(m);
        let dur = |what: &str, v: &Option<String>, default: &str, err: &mut dyn FnMut(String)| {
            let s = v.as_deref().unwrap_or(default);
            match duration::parse(s) {
                Ok(d) if !d.is_zero() => d,
                Ok(_) => {
                    err(format!("{what} = \"{s}\": must be more than zero"));
                    Duration::from_secs(1)
                }
                Err(e) => {
                    err(format!("{what}: {e}"));
                    Duration::from_secs(1)
                }
            }
        };

        let s = &file.server;
        let listen_text = s.listen.as_deref().unwrap_or("127.0.0.1:8088");
        let listen: SocketAddr = listen_text.parse().unwrap_or_else(|_| {
            err(format!(
                "server.listen = \"{listen_text}\": expected address:port, such as 127.0.0.1:8088"
            ));
            SocketAddr::from(([127, 0, 0, 1], 8088))
        });
        let token = match &s.token_env {
            Some(var) => match std::env::var(var) {
                Ok(v) if v.len() >= 16 => Some(Secret::new(v)),
                Ok(_) => {
                    err(format!(
                        "server.token_env: the variable {var} holds fewer than 16 characters; use a long random token"
                    ));
                    None
                }
                Err(_) => {
                    err(format!(
                        "server.token_env: the environment variable {var} is not set"
                    ));
                    None
                }
            },
            None => None,
        };
        if !listen.ip().is_loopback() && s.token_env.is_none() {
            err(format!(
                "server.listen = \"{listen}\" is not a loopback address: set server.token_env to the name of a variable holding the API token"
            ));
        }
        let timeout = dur("server.timeout", &s.timeout, "2s", &mut err);
        let shutdown_grace = dur("server.shutdown_grace", &s.shutdown_grace, "10s", &mut err);
        let sla_window = dur("server.sla_window", &s.sla_window, "7d", &mut err);
        let max_parallel_audits = s.max_parallel_audits.unwrap_or(2);
        if max_parallel_audits == 0 {
            err("server.max_parallel_audits must be at least 1".into());
        }
        let concurrency = s.concurrency.unwrap_or(128);
        if !(1..=4096).contains(&concurrency) {
            err("server.concurrency must be between 1 and 4096".into());
        }

        let mut labs: Vec<LabConfig> = Vec::new();
        for (i, l) in file.labs.iter().enumerate() {
            let what = format!("lab[{i}] `{}`", l.name);
            if l.name.is_empty()
                || !l
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                err(format!(
                    "{what}: the name may only hold letters, digits, '-', '_' and '.' (it is used in URLs)"
                ));
            }
            if labs.iter().any(|o| o.name == l.name) {
                err(format!("{what}: another lab has the same name"));
            }
            let schedule = match (&l.every, &l.cron) {
                (Some(e), None) => match duration::parse(e) {
                    Ok(d) if d >= Duration::from_secs(1) => Schedule::Every(d),
                    Ok(_) => {
                        err(format!("{what}: every = \"{e}\": at least 1s"));
                        Schedule::Every(Duration::from_secs(1))
                    }
                    Err(m) => {
                        err(format!("{what}: every: {m}"));
                        Schedule::Every(Duration::from_secs(1))
                    }
                },
                (None, Some(c)) => match c.parse::<croner::Cron>() {
                    Ok(cron) => Schedule::Cron {
                        expr: c.clone(),
                        cron: Box::new(cron),
                    },
                    Err(e) => {
                        err(format!("{what}: cron = \"{c}\": {e}"));
                        Schedule::Every(Duration::from_secs(1))
                    }
                },
                _ => {
                    err(format!(
                        "{what}: give exactly one schedule, every = \"15m\" or cron = \"0 */2 * * *\""
                    ));
                    Schedule::Every(Duration::from_secs(1))
                }
            };
            let inventory = base.join(&l.inventory);
            let profile = l.profile.as_ref().map(|p| {
                if p.ends_with(".toml") || p.contains('/') {
                    base.join(p).display().to_string()
                } else {
                    p.clone()
                }
            });
            let lab_timeout = match &l.timeout {
                Some(_) => dur(&format!("{what}: timeout"), &l.timeout, "2s", &mut err),
                None => timeout,
            };
            let sla: Vec<Sla> = l
                .sla
                .iter()
                .map(|s| Sla {
                    name: s.name.clone(),
                    host: s.host.clone(),
                    port: s.port,
                    target: s.target,
                })
                .collect();
            for s in &sla {
                if let Some(t) = s.target
                    && !(0.0..=100.0).contains(&t)
                {
                    err(format!(
                        "{what}: sla `{}`: target {t} is not a percentage (0 to 100)",
                        s.name
                    ));
                }
            }
            let lab = LabConfig {
                name: l.name.clone(),
                inventory,
                profile,
                schedule,
                timeout: lab_timeout,
                sla,
            };
            match audit::load_inputs(&lab.audit_options(concurrency)) {
                Ok((_, inv)) => {
                    for s in &lab.sla {
                        if inv.host(&s.host).is_none() {
                            err(format!(
                                "{what}: sla `{}`: no host `{}` in {}",
                                s.name,
                                s.host,
                                lab.inventory.display()
                            ));
                        }
                    }
                }
                Err(e) => err(format!("{what}: {}", e.to_string().trim_end())),
            }
            labs.push(lab);
        }

        let a = &file.alerts;
        let webhook = a.webhook.as_ref().and_then(|w| match url::Url::parse(w) {
            Ok(u) if u.scheme() == "http" && u.host().is_some() => Some(u),
            Ok(_) => {
                err(format!(
                    "alerts.webhook = \"{w}\": only http:// URLs are supported (put a TLS proxy in front for https)"
                ));
                None
            }
            Err(e) => {
                err(format!("alerts.webhook = \"{w}\": {e}"));
                None
            }
        });
        let alerts = Alerts {
            webhook,
            timeout: dur("alerts.timeout", &a.timeout, "5s", &mut err),
            retries: a.retries.unwrap_or(3),
        };
        if !errors.is_empty() {
            return Err(format!(
                "{}: {} problem(s):\n  - {}",
                path.display(),
                errors.len(),
                errors.join("\n  - ")
            ));
        }
        Ok(Config {
            path: path.to_path_buf(),
            listen,
            db: s.db.as_ref().map(|d| base.join(d)),
            token,
            retention_days: s.retention_days.unwrap_or(90),
            max_parallel_audits,
            timeout,
            concurrency,
            shutdown_grace,
            sla_window,
            labs,
            alerts,
        })
    }

    /// Whether `POST` needs the token: always when one is configured, and
    /// a token is mandatory off loopback (checked by [`Config::load`]).
    pub fn token_required(&self) -> bool {
        self.token.is_some()
    }
}

/// The first percentage in a text (`disponibilité 99,5 %` → 99.5).
pub fn percent_in(text: &str) -> Option<f64> {
    let re = regex::Regex::new(r"(\d{1,3}(?:[.,]\d+)?)\s*%").ok()?;
    let m = re.captures(text)?;
    let v: f64 = m[1].replace(',', ".").parse().ok()?;
    (0.0..=100.0).contains(&v).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    const INV: &str = "[lab]\nname = \"t\"\noption = \"sisr\"\nscope = [\"127.0.0.0/8\"]\n\n[[host]]\nname = \"srv\"\naddress = \"127.0.0.1\"\nports = [22]\n";

    #[test]
    fn a_good_config_loads() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "lab.toml", INV);
        let c = write(
            d.path(),
            "c.toml",
            "[server]\nlisten = \"127.0.0.1:0\"\n\n[[lab]]\nname = \"b12\"\ninventory = \"lab.toml\"\nprofile = \"sisr\"\nevery = \"15m\"\n\n[[lab]]\nname = \"b13\"\ninventory = \"lab.toml\"\ncron = \"0 */2 * * *\"\n[[lab.sla]]\nname = \"ssh\"\nhost = \"srv\"\nport = 22\ntarget = 99.5\n\n[alerts]\nwebhook = \"http://127.0.0.1:9999/hook\"\n",
        );
        let cfg = Config::load(&c).unwrap();
        assert_eq!(cfg.labs.len(), 2);
        assert_eq!(cfg.labs[0].schedule.describe(), "every 15m");
        let now = jiff::Timestamp::now();
        let next = cfg.labs[1].schedule.next_after(None, now);
        assert!(next > now && next <= now + jiff::SignedDuration::from_hours(2));
        assert_eq!(cfg.labs[1].sla[0].target, Some(99.5));
    }

    #[test]
    fn every_problem_is_reported() {
        let d = tempfile::tempdir().unwrap();
        let c = write(
            d.path(),
            "c.toml",
            "[server]\nlisten = \"0.0.0.0:8088\"\n\n[[lab]]\nname = \"b 12\"\ninventory = \"missing.toml\"\nevery = \"soon\"\n\n[alerts]\nwebhook = \"https://127.0.0.1/x\"\n",
        );
        let e = Config::load(&c).unwrap_err();
        for needle in [
            "not a loopback",
            "the name may only",
            "every",
            "missing.toml",
            "only http://",
        ] {
            assert!(e.contains(needle), "{needle} not in {e}");
        }
    }

    #[test]
    fn percent_is_read_from_an_attestation_note() {
        assert_eq!(percent_in("disponibilité 99,5 %, GTR 4 h"), Some(99.5));
        assert_eq!(percent_in("SLA 99.9% uptime"), Some(99.9));
        assert_eq!(percent_in("no figure"), None);
    }
}
