//! Facts: what was observed, each with the probe that produced it.
//!
//! Probes write facts; the evaluator reads them. Nothing here decides
//! conformity.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Everything observed during one audit.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Facts {
    pub hosts: Vec<HostFacts>,
    /// Lab-wide observations (DNS records, …) that belong to no single host.
    pub lab: Vec<Fact>,
}

impl Facts {
    pub fn host(&self, name: &str) -> Option<&HostFacts> {
        self.hosts.iter().find(|h| h.name == name)
    }
    pub fn host_mut(&mut self, name: &str) -> Option<&mut HostFacts> {
        self.hosts.iter_mut().find(|h| h.name == name)
    }
    /// Every fact with the host it belongs to (`None` for lab-wide facts).
    pub fn all(&self) -> impl Iterator<Item = (Option<&HostFacts>, &Fact)> {
        self.lab.iter().map(|f| (None, f)).chain(
            self.hosts
                .iter()
                .flat_map(|h| h.facts.iter().map(move |f| (Some(h), f))),
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostFacts {
    pub name: String,
    pub address: IpAddr,
    pub reachability: Reachability,
    /// One entry per TCP/UDP port probed.
    pub ports: Vec<PortObservation>,
    pub facts: Vec<Fact>,
}

impl HostFacts {
    pub fn new(name: impl Into<String>, address: IpAddr) -> Self {
        HostFacts {
            name: name.into(),
            address,
            reachability: Reachability::NotProbed,
            ports: vec![],
            facts: vec![],
        }
    }
    pub fn is_up(&self) -> bool {
        matches!(self.reachability, Reachability::Up)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Reachability {
    /// Answered (a port accepted or actively refused a connection).
    Up,
    /// Nothing answered within the timeout.
    Unreachable { reason: String },
    /// Outside the scope, or nothing was planned for it.
    NotProbed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// What happened on one port.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PortObservation {
    pub port: u16,
    pub proto: Proto,
    pub outcome: Outcome,
    /// Product identified on it, if any (catalog id).
    pub product: Option<String>,
    /// The first bytes the service sent, escaped for display.
    pub banner: Option<String>,
}

/// A probe's outcome. Failures are values, never panics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "kebab-case")]
pub enum Outcome {
    /// Connected (and possibly identified).
    Open,
    /// Actively refused (RST): the host is up, the port is closed.
    Refused,
    /// No answer within the per-probe timeout.
    Timeout,
    /// No route, host down, network unreachable.
    Unreachable(String),
    /// Connected, but the exchange failed or made no sense.
    ProtocolError(String),
    /// Not attempted (host found dead, out of scope…), with the reason.
    Skipped(String),
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Open => "open",
            Outcome::Refused => "refused",
            Outcome::Timeout => "timeout",
            Outcome::Unreachable(_) => "unreachable",
            Outcome::ProtocolError(_) => "protocol-error",
            Outcome::Skipped(_) => "skipped",
        }
    }
}

/// One observation with its evidence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Fact {
    /// Probe id (`tcp-banner`, `http`, `local`, `ssh:os-release`…).
    pub probe: String,
    pub port: Option<u16>,
    pub kind: FactKind,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum FactKind {
    /// A product identified by a catalog fingerprint.
    Service {
        product: String,
        name: String,
        version: Option<String>,
        capabilities: Vec<String>,
        open_source: Option<bool>,
    },
    /// An OS signal. Several signals of one host are combined by the evaluator.
    Os {
        family: OsFamily,
        name: Option<String>,
        version: Option<String>,
        strength: Strength,
    },
    /// A capability observed present or, explicitly, absent (e.g. a
    /// Prometheus with zero alert rules: `monitoring.alerts` absent).
    Capability {
        name: String,
        present: bool,
        detail: String,
    },
    /// Age of the latest backup of a backup tool.
    BackupAge {
        tool: String,
        age_secs: u64,
        detail: String,
    },
    /// A declared flow tested from a vantage host.
    Flow {
        from: String,
        to: String,
        expect_allow: bool,
        open: Option<bool>,
        detail: String,
    },
    /// A declared secured resource tried anonymously and with its account.
    Resource {
        name: String,
        anonymous_refused: Option<bool>,
        account_accepted: Option<bool>,
        detail: String,
    },
    /// A declared application checked over the network.
    Application {
        name: String,
        tls: bool,
        auth_required: bool,
        api_answers: bool,
        detail: String,
    },
    /// A probe could not complete an in-host or credentialed check.
    CannotCheck { what: String, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OsFamily {
    Linux,
    Windows,
    Bsd,
    Macos,
    Other,
}

impl OsFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            OsFamily::Linux => "linux",
            OsFamily::Windows => "windows",
            OsFamily::Bsd => "bsd",
            OsFamily::Macos => "macos",
            OsFamily::Other => "other",
        }
    }
    pub fn open_source(self) -> bool {
        matches!(self, OsFamily::Linux | OsFamily::Bsd)
    }
    pub fn parse(s: &str) -> Option<OsFamily> {
        Some(match s {
            "linux" => OsFamily::Linux,
            "windows" => OsFamily::Windows,
            "bsd" => OsFamily::Bsd,
            "macos" => OsFamily::Macos,
            "other" => OsFamily::Other,
            _ => return None,
        })
    }
}

/// How much an OS signal proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strength {
    /// A banner or header the administrator can change (SSH banner, HTTP Server).
    Weak,
    /// Read from inside the host (os-release, sysinfo) or a protocol detail
    /// that is hard to imitate (NTLM version of a Windows SMB server).
    Strong,
}
