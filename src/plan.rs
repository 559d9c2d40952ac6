//! The plan: which host:port gets probed, each once. One connection and one
//! exchange per (port, probe) is shared by every product that matches on it.

use std::net::IpAddr;

use serde::Serialize;

use crate::catalog::Catalog;
use crate::inventory::Inventory;

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub hosts: Vec<HostPlan>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostPlan {
    pub name: String,
    pub address: IpAddr,
    /// TCP ports to probe, most telling first.
    pub tcp_ports: Vec<u16>,
    /// Collect local facts (this machine).
    pub local: bool,
    /// Why the host is not probed (outside the scope).
    pub skip: Option<String>,
}

/// Ports that answer on most servers: probed first, and used to decide
/// quickly whether a host is alive at all.
const TELLING_PORTS: &[u16] = &[22, 80, 443, 445, 3389, 53, 389, 3306, 5432, 135, 25, 8080];

/// Builds the plan. Only addresses inside the inventory's scope are planned.
pub fn build(inventory: &Inventory, catalog: &Catalog) -> Plan {
    let catalog_ports = catalog.tcp_ports();
    let hosts = inventory
        .hosts
        .iter()
        .map(|h| {
            let mut ports: Vec<u16> = Vec::new();
            for p in h.ports.iter().chain(catalog_ports.iter()) {
                if !ports.contains(p) {
                    ports.push(*p);
                }
            }
            order_ports(&mut ports);
            let skip = (!inventory.in_scope(h.address))
                .then(|| format!("{} is outside the declared scope", h.address));
            HostPlan {
                name: h.name.clone(),
                address: h.address,
                tcp_ports: ports,
                local: h.local,
                skip,
            }
        })
        .collect();
    Plan { hosts }
}

/// Puts the telling ports first, keeping the rest in their order.
pub fn order_ports(ports: &mut [u16]) {
    ports.sort_by_key(|p| {
        TELLING_PORTS
            .iter()
            .position(|t| t == p)
            .unwrap_or(usize::MAX)
    });
}

impl Plan {
    pub fn probe_count(&self) -> usize {
        self.hosts
            .iter()
            .filter(|h| h.skip.is_none())
            .map(|h| h.tcp_ports.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_scope_hosts_are_skipped_and_ports_deduplicated() {
        let mut inv = crate::inventory::local_default("sisr");
        inv.hosts[0].ports = vec![22, 7001, 22];
        let mut outside = inv.hosts[0].clone();
        outside.name = "outside".into();
        outside.address = "198.51.100.7".parse().unwrap();
        inv.hosts.push(outside);
        let plan = build(&inv, &Catalog::embedded());
        assert_eq!(
            plan.hosts[0].tcp_ports.iter().filter(|p| **p == 22).count(),
            1
        );
        assert_eq!(plan.hosts[0].tcp_ports[0], 22, "telling ports first");
        assert!(plan.hosts[0].tcp_ports.contains(&7001));
        assert!(plan.hosts[0].skip.is_none());
        assert!(
            plan.hosts[1]
                .skip
                .as_deref()
                .unwrap()
                .contains("outside the declared scope")
        );
    }
}
