//! Small helpers shared by the network-identification probes (LDAP, SQL,
//! SMB, UDP): which ports the scan found open, fact constructors, and the
//! credentials of the inventory resolved without ever showing the secret.

use std::time::Duration;

use super::deep::HostTarget;
use crate::facts::{Fact, FactKind, Outcome};
use crate::inventory::{Credential, Secret};

/// Whether the port scan connected to this TCP port.
pub fn tcp_open(t: &HostTarget, port: u16) -> bool {
    t.scanned
        .ports
        .iter()
        .any(|p| p.port == port && p.outcome == Outcome::Open)
}

/// Whether the host may be contacted at all: inside the scope and not found dead.
pub fn may_probe(t: &HostTarget) -> bool {
    t.inventory.in_scope(t.host.address)
        && !matches!(
            t.scanned.reachability,
            crate::facts::Reachability::Unreachable { .. }
        )
}

pub fn capability(probe: &str, port: u16, name: &str, present: bool, detail: String) -> Fact {
    Fact {
        probe: probe.into(),
        port: Some(port),
        kind: FactKind::Capability {
            name: name.into(),
            present,
            detail,
        },
    }
}

pub fn cannot(probe: &str, port: u16, what: &str, reason: String) -> Fact {
    Fact {
        probe: probe.into(),
        port: Some(port),
        kind: FactKind::CannotCheck {
            what: what.into(),
            reason,
        },
    }
}

/// A declared credential and its secret, or why it cannot be used (the
/// reason names the reference, never the value).
pub fn credential<'a>(
    t: &'a HostTarget,
    name: &str,
) -> Option<Result<(&'a Credential, Secret), String>> {
    let cred = t.inventory.credentials.get(name)?;
    Some(
        cred.secret()
            .resolve()
            .map(|s| (cred, s))
            .map_err(|e| format!("[credentials.{name}]: {e}")),
    )
}

/// A password that is certainly not the right one: the right one with a
/// suffix, so it differs whatever the real one is.
pub fn wrong_password(right: &Secret) -> Secret {
    Secret::new(format!("{}-labcheck-wrong", right.expose()))
}

/// The bound of a whole credentialed exchange (connect, login, a few queries).
pub fn session_bound(timeout: Duration) -> Duration {
    timeout * 3
}
