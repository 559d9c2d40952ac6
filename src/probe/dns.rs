//! DNS, asked only of the lab's own resolvers (`[lab] dns`), never the
//! auditor's system resolver: SRV records of a directory and a KDC, the
//! inventory's host names, NS, and names with several A records (DNS round
//! robin). A resolver outside the scope is not asked at all.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

use super::deep::{BoxFuture, LabTarget};
use crate::facts::{Fact, FactKind};
use crate::inventory::Inventory;
use crate::untrusted;

const PROBE: &str = "dns";

pub fn probe(target: &LabTarget) -> BoxFuture<'_, Vec<Fact>> {
    Box::pin(run(target))
}

fn fact(kind: FactKind) -> Fact {
    Fact {
        probe: PROBE.into(),
        port: Some(53),
        kind,
    }
}

fn capability(name: &str, present: bool, detail: String) -> Fact {
    fact(FactKind::Capability {
        name: name.into(),
        present,
        detail,
    })
}

/// A resolver that asks exactly these servers, bounded by `timeout`, no
/// hosts file, no search domain, no cache worth speaking of.
fn resolver(servers: &[IpAddr], timeout: Duration) -> Option<TokioResolver> {
    let config = ResolverConfig::from_name_servers(
        servers
            .iter()
            .map(|ip| NameServerConfig::udp_and_tcp(*ip))
            .collect(),
    );
    let mut opts = ResolverOpts::default();
    opts.timeout = timeout;
    opts.attempts = 1;
    opts.ndots = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.cache_size = 0;
    TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(opts)
        .build()
        .ok()
}

/// A DNS error response (NXDOMAIN, REFUSED, no records) still proves that
/// the server answers; a timeout or a connection error does not.
fn answered(e: &NetError) -> bool {
    matches!(e, NetError::Dns(_))
}

/// Whether the port scan saw `addr` answering on a web port (80 or 443).
fn serves_web(t: &LabTarget, addr: IpAddr) -> bool {
    t.scanned.iter().filter(|h| h.address == addr).any(|h| {
        h.ports
            .iter()
            .any(|p| matches!(p.port, 80 | 443) && p.outcome == crate::facts::Outcome::Open)
    })
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

/// The inventory's names under the domain: host names (short ones get the
/// domain appended), hosts of resource and application URLs, and `www`.
pub fn names_to_resolve(inv: &Inventory, domain: &str) -> Vec<String> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let suffix = format!(".{domain}");
    let mut names = BTreeSet::new();
    for h in &inv.hosts {
        let n = h.name.to_ascii_lowercase();
        if n.ends_with(&suffix) {
            names.insert(n);
        } else if !n.contains('.') {
            names.insert(format!("{n}{suffix}"));
        }
    }
    let urls = inv
        .resources
        .iter()
        .map(|r| Some(r.url.as_str()))
        .chain(inv.applications.iter().map(|a| a.url.as_deref()))
        .chain(inv.applications.iter().map(|a| a.api.as_deref()));
    for u in urls.flatten() {
        if let Ok(u) = url::Url::parse(u)
            && let Some(url::Host::Domain(d)) = u.host()
        {
            let d = d.to_ascii_lowercase();
            if d.ends_with(&suffix) {
                names.insert(d);
            }
        }
    }
    names.insert(format!("www{suffix}"));
    names.into_iter().collect()
}

async fn run(t: &LabTarget) -> Vec<Fact> {
    let inv = &t.inventory;
    let mut facts = Vec::new();
    let (servers, outside): (Vec<IpAddr>, Vec<IpAddr>) =
        inv.lab.dns.iter().partition(|ip| inv.in_scope(**ip));
    for ip in outside {
        facts.push(fact(FactKind::CannotCheck {
            what: "dns".into(),
            reason: format!("resolver {ip} is outside the scope: not asked"),
        }));
    }
    if servers.is_empty() {
        return facts;
    }
    let Ok(_permit) = t.limit.acquire().await else {
        return facts;
    };
    let domain = inv.lab.domain.as_deref().map(|d| d.trim_end_matches('.'));
    // What each resolver is asked to prove it answers: the domain's SOA, or
    // the root's NS without a domain (a REFUSED answer still counts).
    let check_name = domain.map(fqdn).unwrap_or_else(|| ".".into());
    let mut answering = Vec::new();
    for ip in &servers {
        let Some(r) = resolver(&[*ip], t.timeout) else {
            continue;
        };
        let q = if domain.is_some() {
            tokio::time::timeout(t.timeout * 2, r.soa_lookup(check_name.as_str())).await
        } else {
            tokio::time::timeout(t.timeout * 2, r.ns_lookup(check_name.as_str())).await
        };
        match q {
            Ok(Ok(_)) => answering.push(*ip),
            Ok(Err(e)) if answered(&e) => answering.push(*ip),
            Ok(Err(e)) => facts.push(fact(FactKind::CannotCheck {
                what: "dns".into(),
                reason: format!("resolver {ip} did not answer ({e})"),
            })),
            Err(_) => facts.push(fact(FactKind::CannotCheck {
                what: "dns".into(),
                reason: format!("resolver {ip} did not answer within the timeout"),
            })),
        }
    }
    if answering.is_empty() {
        return facts;
    }
    let list: Vec<String> = answering.iter().map(IpAddr::to_string).collect();
    let Some(domain) = domain else {
        facts.push(capability(
            "dns",
            true,
            format!("resolver {} answers", list.join(", ")),
        ));
        return facts;
    };
    let Some(r) = resolver(&answering, t.timeout) else {
        return facts;
    };
    let bound = t.timeout * 2;

    // Names of the inventory: which resolve, which addresses.
    let mut resolved = Vec::new();
    let mut unresolved = Vec::new();
    for name in names_to_resolve(inv, domain) {
        let addrs = addresses(&r, &name, bound).await;
        if addrs.is_empty() {
            unresolved.push(name);
            continue;
        }
        if addrs.iter().filter(|a| a.is_ipv4()).count() >= 2 {
            // Round robin spreads load only over targets that serve: count
            // the addresses the port scan saw answering on a web port.
            let live: Vec<String> = addrs
                .iter()
                .filter(|a| serves_web(t, **a))
                .map(IpAddr::to_string)
                .collect();
            let shown: Vec<String> = addrs.iter().map(IpAddr::to_string).collect();
            let detail = format!(
                "{name} → {} ({} of them answer on 80/443)",
                shown.join(", "),
                live.len()
            );
            facts.push(capability("dns.round-robin", live.len() >= 2, detail));
        }
        resolved.push((name, addrs));
    }
    let mut detail = format!("resolver {} answers for {domain}", list.join(", "));
    if !resolved.is_empty() {
        let shown: Vec<String> = resolved
            .iter()
            .map(|(n, a)| {
                let a: Vec<String> = a.iter().map(IpAddr::to_string).collect();
                format!("{n} → {}", a.join(", "))
            })
            .collect();
        detail.push_str(&format!("; resolves {}", shown.join("; ")));
    }
    if !unresolved.is_empty() {
        detail.push_str(&format!("; no address for {}", unresolved.join(", ")));
    }
    facts.push(capability(
        "dns",
        true,
        untrusted::quote(detail.as_bytes(), 600),
    ));

    // SRV: a directory, a KDC, an Active Directory domain controller.
    let mut ldap_targets = BTreeSet::new();
    for service in ["_ldap._tcp", "_kerberos._tcp", "_ldap._tcp.dc._msdcs"] {
        let name = format!("{service}.{domain}.");
        let targets = srv(&r, &name, bound).await;
        if targets.is_empty() {
            continue;
        }
        if service.starts_with("_ldap") {
            ldap_targets.extend(targets.iter().map(|(h, _)| h.clone()));
        }
        let shown: Vec<String> = targets.iter().map(|(h, p)| format!("{h}:{p}")).collect();
        let what = if service.contains("_msdcs") {
            "Active Directory domain controller"
        } else {
            service
        };
        // A SRV record only advertises a service: the directory or KDC
        // itself must answer to prove it (the LDAP probe does that).
        facts.push(capability(
            "auth.advertised",
            true,
            untrusted::quote(
                format!("SRV {name} ({what}) → {}", shown.join(", ")).as_bytes(),
                400,
            ),
        ));
    }

    // NS: how many name servers of the domain answer.
    let mut ns_answering = BTreeSet::new();
    if let Ok(Ok(ns)) = tokio::time::timeout(bound, r.ns_lookup(fqdn(domain).as_str())).await {
        for rec in ns.answers() {
            if let RData::NS(_) = &rec.data {
                let host = rec.data.to_string();
                for a in addresses(&r, &host, bound).await {
                    if answering.contains(&a) {
                        ns_answering.insert(a);
                    } else if inv.in_scope(a)
                        && let Some(one) = resolver(&[a], t.timeout)
                    {
                        let q = tokio::time::timeout(bound, one.soa_lookup(fqdn(domain).as_str()))
                            .await;
                        if matches!(q, Ok(Ok(_))) || matches!(&q, Ok(Err(e)) if answered(e)) {
                            ns_answering.insert(a);
                        }
                    }
                }
            }
        }
    }
    if ldap_targets.len() >= 2 {
        let shown: Vec<String> = ldap_targets.into_iter().collect();
        facts.push(capability(
            "continuity",
            true,
            untrusted::quote(
                format!(
                    "{} directory servers in _ldap SRV: {}",
                    shown.len(),
                    shown.join(", ")
                )
                .as_bytes(),
                400,
            ),
        ));
    }
    // Two answering resolvers of the lab count as well as two answering NS.
    let servers_up: BTreeSet<IpAddr> = ns_answering.iter().chain(&answering).copied().collect();
    if servers_up.len() >= 2 {
        let shown: Vec<String> = servers_up.iter().map(IpAddr::to_string).collect();
        facts.push(capability(
            "continuity",
            true,
            format!(
                "{} DNS servers answer for {domain}: {}",
                shown.len(),
                shown.join(", ")
            ),
        ));
    }
    facts
}

async fn addresses(r: &TokioResolver, name: &str, bound: Duration) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let name = fqdn(name);
    if let Ok(Ok(l)) = tokio::time::timeout(bound, r.ipv4_lookup(name.as_str())).await {
        for rec in l.answers() {
            if let RData::A(a) = &rec.data {
                out.push(IpAddr::V4(a.0));
            }
        }
    }
    if let Ok(Ok(l)) = tokio::time::timeout(bound, r.ipv6_lookup(name.as_str())).await {
        for rec in l.answers() {
            if let RData::AAAA(a) = &rec.data {
                out.push(IpAddr::V6(a.0));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

async fn srv(r: &TokioResolver, name: &str, bound: Duration) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    if let Ok(Ok(l)) = tokio::time::timeout(bound, r.srv_lookup(name)).await {
        for rec in l.answers() {
            if let RData::SRV(s) = &rec.data {
                let target = s.target.to_string();
                out.push((target.trim_end_matches('.').to_string(), s.port));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}
