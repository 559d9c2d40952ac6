//! Deeper probes, run after the port scan: per host (they see which ports
//! answered and what was identified) and lab-wide (DNS). Each probe module
//! registers one function here; the runner calls them concurrently, under
//! the same global limit and timeout, and never lets one fail the audit.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::catalog::Catalog;
use crate::facts::{Fact, HostFacts};
use crate::inventory::{Host, Inventory};

/// What a per-host probe gets to look at.
pub struct HostTarget {
    pub host: Host,
    /// The port scan's observations of this host (ports, products).
    pub scanned: HostFacts,
    pub inventory: Arc<Inventory>,
    pub catalog: Arc<Catalog>,
    pub timeout: Duration,
    /// Global connection limit shared with the port scan.
    pub limit: Arc<Semaphore>,
    /// SSH: accept and record unknown host keys (explicit user choice).
    pub trust_on_first_use: bool,
}

/// What a lab-wide probe gets to look at.
pub struct LabTarget {
    pub inventory: Arc<Inventory>,
    /// Every host's port scan, for probes that need to know what answered.
    pub scanned: Vec<HostFacts>,
    pub timeout: Duration,
    pub limit: Arc<Semaphore>,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub type HostProbe = for<'a> fn(&'a HostTarget) -> BoxFuture<'a, Vec<Fact>>;
pub type LabProbe = for<'a> fn(&'a LabTarget) -> BoxFuture<'a, Vec<Fact>>;

/// Per-host probes, in the order their facts are listed. Add one line per module.
pub const HOST_PROBES: &[(&str, HostProbe)] = &[
    ("ldap", super::ldap::probe),
    ("sql", super::sql::probe),
    ("inspect", crate::inspect::probe),
    ("smb_rdp", super::smb_rdp::probe),
    ("udp", super::udp::probe),
    ("tls", super::tls::probe),
    ("http", super::http::probe),
    ("lb-spread", super::lbspread::probe),
];

/// Lab-wide probes. Add one line per module.
pub const LAB_PROBES: &[(&str, LabProbe)] = &[
    ("dns", super::dns::probe),
    ("resources", super::resources::probe),
];
