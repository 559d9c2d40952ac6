//! LDAP: the anonymous rootDSE (which directory, which naming contexts, the
//! Active Directory functional level) and, with the inventory's
//! `[credentials.ldap]`, proof of an authentication service: the declared
//! account binds and a deliberately wrong password is refused.

use std::collections::HashMap;
use std::time::Duration;

use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};

use super::deep::{BoxFuture, HostTarget};
use super::netid::{self, cannot, capability};
use crate::facts::{Fact, FactKind, OsFamily, Strength};
use crate::inventory::Secret;
use crate::untrusted;

const PROBE: &str = "ldap";
/// LDAP result code of a refused bind.
const INVALID_CREDENTIALS: u32 = 49;

pub fn probe(target: &HostTarget) -> BoxFuture<'_, Vec<Fact>> {
    Box::pin(run(target))
}

/// What the rootDSE says about the directory.
#[derive(Debug, Default, PartialEq)]
pub struct RootDse {
    pub product: Option<&'static str>,
    pub naming_contexts: Vec<String>,
    pub vendor: Option<String>,
    /// Active Directory's `domainControllerFunctionality`.
    pub dc_functionality: Option<u32>,
    pub dns_host_name: Option<String>,
}

/// Reads the attributes of an anonymous rootDSE search.
pub fn read_root_dse(attrs: &HashMap<String, Vec<String>>) -> RootDse {
    let get = |k: &str| {
        attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let vendor = get("vendorName").into_iter().next();
    let dc_functionality = get("domainControllerFunctionality")
        .first()
        .and_then(|v| v.trim().parse().ok());
    let is_ad = dc_functionality.is_some()
        || get("supportedCapabilities")
            .iter()
            .any(|c| c == "1.2.840.113556.1.4.800");
    let samba = vendor.as_deref().is_some_and(|v| v.contains("Samba"));
    let openldap = get("objectClass")
        .iter()
        .any(|c| c.eq_ignore_ascii_case("OpenLDAProotDSE"));
    let product = if samba {
        Some("samba-ad")
    } else if is_ad {
        Some("active-directory")
    } else if openldap {
        Some("openldap")
    } else {
        None
    };
    RootDse {
        product,
        naming_contexts: get("namingContexts"),
        vendor,
        dc_functionality,
        dns_host_name: get("dnsHostName").into_iter().next(),
    }
}

/// The Windows Server version a domain functional level corresponds to
/// (MS-ADTS 6.1.4.2; 7 is used by 2016, 2019 and 2022; 10 = 2025).
pub fn functional_level_name(level: u32) -> &'static str {
    match level {
        0 => "2000",
        1 => "2003 interim",
        2 => "2003",
        3 => "2008",
        4 => "2008 R2",
        5 => "2012",
        6 => "2012 R2",
        7 => "2016 (also 2019/2022)",
        10 => "2025",
        _ => "unknown",
    }
}

fn settings(timeout: Duration) -> LdapConnSettings {
    // The certificate is not judged here (the TLS probe does that): LDAPS
    // is only asked to answer.
    LdapConnSettings::new()
        .set_conn_timeout(timeout)
        .set_no_tls_verify(true)
}

async fn run(t: &HostTarget) -> Vec<Fact> {
    let mut facts = Vec::new();
    if !netid::may_probe(t) {
        return facts;
    }
    let (plain, tls) = (netid::tcp_open(t, 389), netid::tcp_open(t, 636));
    if !plain && !tls {
        return facts;
    }
    let Ok(_permit) = t.limit.acquire().await else {
        return facts;
    };
    let ip = t.host.address;
    let host = if ip.is_ipv6() {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    let (url, port) = if plain {
        (format!("ldap://{host}:389"), 389)
    } else {
        (format!("ldaps://{host}:636"), 636)
    };
    let bound = netid::session_bound(t.timeout);
    match tokio::time::timeout(bound, root_dse(&url, t.timeout)).await {
        Ok(Ok(dse)) => facts.extend(dse_facts(&dse, port)),
        Ok(Err(e)) => facts.push(cannot(
            PROBE,
            port,
            "ldap rootDSE",
            untrusted::quote(
                format!("anonymous rootDSE search failed: {e}").as_bytes(),
                200,
            ),
        )),
        Err(_) => facts.push(cannot(
            PROBE,
            port,
            "ldap rootDSE",
            "no rootDSE answer within the timeout".into(),
        )),
    }
    if plain && tls {
        let url = format!("ldaps://{host}:636");
        if let Ok(Ok(_)) = tokio::time::timeout(bound, root_dse(&url, t.timeout)).await {
            facts.push(capability(
                PROBE,
                636,
                "encryption",
                true,
                "LDAPS answers on 636 (certificate judged by the TLS probe)".into(),
            ));
        }
    }
    match netid::credential(t, "ldap") {
        None => {}
        Some(Err(reason)) => facts.push(cannot(PROBE, port, "auth.verified", reason)),
        Some(Ok((cred, secret))) => {
            let Some(dn) = cred.bind_dn.clone().or_else(|| cred.user.clone()) else {
                facts.push(cannot(
                    PROBE,
                    port,
                    "auth.verified",
                    "[credentials.ldap] has no bind_dn".into(),
                ));
                return facts;
            };
            facts.push(
                match tokio::time::timeout(bound, verify(&url, &dn, &secret, t.timeout)).await {
                    Ok(f) => f(port),
                    Err(_) => cannot(
                        PROBE,
                        port,
                        "auth.verified",
                        "the binds did not complete within the timeout".into(),
                    ),
                },
            );
        }
    }
    facts
}

async fn root_dse(url: &str, timeout: Duration) -> ldap3::result::Result<RootDse> {
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings(timeout), url).await?;
    ldap3::drive!(conn);
    ldap.with_timeout(timeout);
    let (entries, _) = ldap
        .search("", Scope::Base, "(objectClass=*)", vec!["*", "+"])
        .await?
        .success()?;
    let _ = ldap.unbind().await;
    let attrs = entries
        .into_iter()
        .next()
        .map(|e| SearchEntry::construct(e).attrs)
        .unwrap_or_default();
    Ok(read_root_dse(&attrs))
}

fn dse_facts(dse: &RootDse, port: u16) -> Vec<Fact> {
    let mut facts = Vec::new();
    let contexts = untrusted::quote(dse.naming_contexts.join(", ").as_bytes(), 200);
    let mut detail = match dse.product {
        Some("active-directory") => "Active Directory".to_string(),
        Some("samba-ad") => "Samba AD".to_string(),
        Some("openldap") => "OpenLDAP".to_string(),
        _ => "LDAP directory".to_string(),
    };
    detail.push_str(&format!(" rootDSE, naming contexts: {contexts}"));
    if let Some(v) = &dse.vendor {
        detail.push_str(&format!(", vendor {}", untrusted::quote(v.as_bytes(), 80)));
    }
    if let Some(level) = dse.dc_functionality {
        detail.push_str(&format!(
            ", domain controller functional level {level} (Windows Server {})",
            functional_level_name(level)
        ));
    }
    facts.push(capability(PROBE, port, "auth.directory", true, detail));
    // An AD rootDSE without Samba's vendorName is a Windows domain
    // controller; only a weak signal: a directory could imitate it.
    if dse.product == Some("active-directory") {
        facts.push(Fact {
            probe: PROBE.into(),
            port: Some(port),
            kind: FactKind::Os {
                family: OsFamily::Windows,
                name: Some("windows-server".into()),
                version: dse
                    .dc_functionality
                    .map(|l| format!("AD functional level {l}")),
                strength: Strength::Weak,
            },
        });
    }
    facts
}

/// The declared account binds, a wrong password is refused. Returns the
/// fact to emit for a port.
async fn verify(
    url: &str,
    dn: &str,
    secret: &Secret,
    timeout: Duration,
) -> impl FnOnce(u16) -> Fact {
    let shown_dn = untrusted::quote(dn.as_bytes(), 120);
    let right = bind(url, dn, secret, timeout).await;
    let wrong = match right {
        Ok(0) => Some(bind(url, dn, &netid::wrong_password(secret), timeout).await),
        _ => None,
    };
    move |port| match (right, wrong) {
        (Ok(0), Some(Ok(INVALID_CREDENTIALS))) => capability(
            PROBE,
            port,
            "auth.verified",
            true,
            format!("bind as {shown_dn} accepted, wrong password refused"),
        ),
        (Ok(0), Some(Ok(0))) => capability(
            PROBE,
            port,
            "auth.verified",
            false,
            format!("bind as {shown_dn} accepted, but a wrong password was accepted too"),
        ),
        (Ok(0), Some(other)) => cannot(
            PROBE,
            port,
            "auth.verified",
            format!(
                "bind as {shown_dn} accepted; the wrong-password bind gave {}",
                rc_text(&other)
            ),
        ),
        (Ok(INVALID_CREDENTIALS), _) => cannot(
            PROBE,
            port,
            "auth.verified",
            format!("bind as {shown_dn} refused (invalid credentials): cannot verify"),
        ),
        (other, _) => cannot(
            PROBE,
            port,
            "auth.verified",
            format!("bind as {shown_dn}: {}", rc_text(&other)),
        ),
    }
}

fn rc_text(r: &Result<u32, String>) -> String {
    match r {
        Ok(rc) => format!("LDAP result code {rc}"),
        Err(e) => e.clone(),
    }
}

/// One simple bind on a fresh connection: the LDAP result code, or why
/// there is none (the error never contains the password).
async fn bind(url: &str, dn: &str, secret: &Secret, timeout: Duration) -> Result<u32, String> {
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings(timeout), url)
        .await
        .map_err(|e| untrusted::quote(format!("connection failed: {e}").as_bytes(), 200))?;
    ldap3::drive!(conn);
    ldap.with_timeout(timeout);
    let r = ldap
        .simple_bind(dn, secret.expose())
        .await
        .map_err(|e| untrusted::quote(format!("bind failed: {e}").as_bytes(), 200))?;
    let _ = ldap.unbind().await;
    Ok(r.rc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &[&str])]) -> HashMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn openldap_samba_and_ad_are_told_apart() {
        let openldap = read_root_dse(&attrs(&[
            ("objectClass", &["top", "OpenLDAProotDSE"]),
            ("namingContexts", &["dc=lab,dc=test"]),
        ]));
        assert_eq!(openldap.product, Some("openldap"));
        assert_eq!(openldap.naming_contexts, vec!["dc=lab,dc=test"]);
        let samba = read_root_dse(&attrs(&[
            ("vendorName", &["Samba Team (https://www.samba.org)"]),
            ("domainControllerFunctionality", &["4"]),
        ]));
        assert_eq!(samba.product, Some("samba-ad"));
        let ad = read_root_dse(&attrs(&[
            ("domainControllerFunctionality", &["7"]),
            ("dnsHostName", &["DC1.corp.example"]),
        ]));
        assert_eq!(ad.product, Some("active-directory"));
        assert_eq!(ad.dc_functionality, Some(7));
        assert!(dse_facts(&ad, 389).iter().any(|f| matches!(
            f.kind,
            FactKind::Os {
                family: OsFamily::Windows,
                ..
            }
        )));
        assert!(
            !dse_facts(&samba, 389)
                .iter()
                .any(|f| matches!(f.kind, FactKind::Os { .. }))
        );
    }
}
