//! keepalived counts as fault tolerance only while it runs: a configuration
//! file left behind by a stopped daemon is not a standby balancer.

use std::net::IpAddr;

use crate::facts::FactKind;

use super::parse::{cap, keepalived_vips};

/// `running`: Some(true) keepalived unit active, Some(false) inactive,
/// None unknown (no systemd: a shared process list cannot attribute it).
pub fn keepalived_facts(conf: &str, addrs: &[IpAddr], running: Option<bool>) -> Vec<FactKind> {
    let vips = keepalived_vips(conf);
    if vips.is_empty() {
        return vec![];
    }
    match running {
        Some(true) => vips
            .into_iter()
            .map(|vip| {
                let role = if addrs.contains(&vip) {
                    "held by this host (master)"
                } else {
                    "not held here (backup)"
                };
                cap(
                    "fault-tolerance",
                    true,
                    format!("keepalived floating address {vip}, {role}"),
                )
            })
            .collect(),
        Some(false) => vec![FactKind::CannotCheck {
            what: "fault-tolerance".into(),
            reason: "keepalived is configured but not running".into(),
        }],
        None => vec![FactKind::CannotCheck {
            what: "fault-tolerance".into(),
            reason: "keepalived is configured, but whether it runs on this host cannot be verified (no systemd)".into(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str =
        "vrrp_instance VI_1 {\n virtual_ipaddress {\n  198.51.100.100/24 dev eth0\n }\n}\n";

    fn evidence(f: &[FactKind]) -> bool {
        f.iter()
            .any(|k| matches!(k, FactKind::Capability { name, present: true, .. } if name == "fault-tolerance"))
    }

    #[test]
    fn running_keepalived_is_evidence() {
        assert!(evidence(&keepalived_facts(CONF, &[], Some(true))));
    }

    #[test]
    fn stopped_keepalived_is_no_evidence() {
        let f = keepalived_facts(CONF, &[], Some(false));
        assert!(!evidence(&f));
        assert!(
            matches!(&f[..], [FactKind::CannotCheck { reason, .. }] if reason.contains("not running"))
        );
        assert!(!evidence(&keepalived_facts(CONF, &[], None)));
    }
}
