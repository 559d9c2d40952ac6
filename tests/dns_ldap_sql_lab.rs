//! DNS, LDAP and SQL probes against the real test lab (tests/lab/up:
//! dnsmasq and slapd on dc, PostgreSQL and MariaDB on db). The lab must be
//! up: without it these tests fail loudly rather than pass by skipping.

mod common;
use common::capabilities as capability;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use labcheck::catalog::Catalog;
use labcheck::facts::{Fact, FactKind, HostFacts, Outcome, PortObservation, Proto, Reachability};
use labcheck::inventory::{self, Inventory};
use labcheck::probe::deep::{HostTarget, LabTarget};
use labcheck::probe::{dns, ldap, sql};
use tokio::sync::Semaphore;

fn inventory() -> Inventory {
    common::export_lab_env();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/inventory.toml");
    // Keys this build does not know yet (another probe's) are not our concern.
    let (inv, diags) = inventory::load_with_diagnostics(&path, &[]);
    inv.unwrap_or_else(|| panic!("lab inventory unreadable: {diags:?}"))
}

fn host_target(inv: Inventory, name: &str, open: &[u16]) -> HostTarget {
    let host = inv.host(name).expect("host in the lab inventory").clone();
    let mut scanned = HostFacts::new(name, host.address);
    scanned.reachability = Reachability::Up;
    for &port in open {
        scanned.ports.push(PortObservation {
            port,
            proto: Proto::Tcp,
            outcome: Outcome::Open,
            product: None,
            banner: None,
        });
    }
    HostTarget {
        host,
        scanned,
        inventory: Arc::new(inv),
        catalog: Arc::new(Catalog::embedded()),
        timeout: Duration::from_secs(3),
        limit: Arc::new(Semaphore::new(4)),
        trust_on_first_use: false,
    }
}

fn cannot(facts: &[Fact]) -> Vec<String> {
    facts
        .iter()
        .filter_map(|f| match &f.kind {
            FactKind::CannotCheck { what, reason } => Some(format!("{what}: {reason}")),
            _ => None,
        })
        .collect()
}

/// Points a declared credential at another environment variable.
fn with_password(mut inv: Inventory, cred: &str, var: &str, value: &str) -> Inventory {
    // SAFETY: a variable no other test reads or writes.
    unsafe { std::env::set_var(var, value) };
    for (n, c) in inv.credentials.0.iter_mut() {
        if n == cred {
            c.password_env = Some(var.into());
            c.password_file = None;
        }
    }
    inv
}

fn assert_no_secret(facts: &[Fact], secret: &str) {
    let text = serde_json::to_string(facts).unwrap();
    assert!(!text.contains(secret), "a secret leaked into the facts");
}

#[tokio::test]
async fn dns_asks_the_lab_resolver_for_srv_hosts_and_round_robin() {
    let inv = inventory();
    let target = LabTarget {
        inventory: Arc::new(inv),
        scanned: vec![],
        timeout: Duration::from_secs(3),
        limit: Arc::new(Semaphore::new(4)),
    };
    let facts = dns::probe(&target).await;
    let dns = capability(&facts, "dns");
    assert!(
        dns.iter().any(|(p, d)| *p
            && d.contains("198.18.10.10")
            && d.contains("dc.lab.test → 198.18.10.10")),
        "{facts:#?}"
    );
    // A SRV record advertises a directory; it proves nothing by itself.
    assert!(
        capability(&facts, "auth.advertised")
            .iter()
            .any(|(p, d)| *p && d.contains("_ldap._tcp.lab.test") && d.contains("dc.lab.test:389")),
        "{facts:#?}"
    );
    assert!(
        capability(&facts, "auth.directory").is_empty(),
        "{facts:#?}"
    );
    assert!(
        capability(&facts, "auth.kerberos").is_empty(),
        "no KDC answers: {facts:#?}"
    );
    // Round robin without knowing whether the targets serve: observed not spreading.
    let rr = capability(&facts, "dns.round-robin");
    assert!(
        rr.iter()
            .any(|(p, d)| !*p && d.starts_with("www.lab.test") && d.contains("0 of them answer")),
        "{facts:#?}"
    );
    // With both web servers seen answering on port 80, it spreads.
    let web = |name: &str, addr: &str| {
        let mut h = labcheck::facts::HostFacts::new(name, addr.parse().unwrap());
        h.reachability = labcheck::facts::Reachability::Up;
        h.ports.push(labcheck::facts::PortObservation {
            port: 80,
            proto: labcheck::facts::Proto::Tcp,
            outcome: labcheck::facts::Outcome::Open,
            product: Some("nginx".into()),
            banner: None,
        });
        h
    };
    let target = LabTarget {
        inventory: target.inventory.clone(),
        scanned: vec![web("web1", "198.51.100.11"), web("web2", "198.51.100.12")],
        timeout: Duration::from_secs(3),
        limit: Arc::new(Semaphore::new(4)),
    };
    let facts = dns::probe(&target).await;
    let rr = capability(&facts, "dns.round-robin");
    assert!(
        rr.iter().any(|(p, d)| *p
            && d.starts_with("www.lab.test")
            && d.contains("198.51.100.11")
            && d.contains("198.51.100.12")
            && d.contains("2 of them answer")),
        "{facts:#?}"
    );
    // One resolver, one directory server: no continuity from DNS.
    assert!(capability(&facts, "continuity").is_empty(), "{facts:#?}");
}

#[tokio::test]
async fn dns_never_asks_a_resolver_outside_the_scope() {
    let mut inv = inventory();
    inv.lab.dns = vec!["10.255.255.1".parse::<IpAddr>().unwrap()];
    let target = LabTarget {
        inventory: Arc::new(inv),
        scanned: vec![],
        timeout: Duration::from_secs(1),
        limit: Arc::new(Semaphore::new(1)),
    };
    let started = std::time::Instant::now();
    let facts = dns::probe(&target).await;
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "it waited for an answer"
    );
    assert_eq!(facts.len(), 1, "{facts:#?}");
    assert!(cannot(&facts)[0].contains("outside the scope"));
}

#[tokio::test]
async fn ldap_root_dse_and_verified_bind() {
    let target = host_target(inventory(), "dc", &[389, 636]);
    let facts = ldap::probe(&target).await;
    assert!(
        capability(&facts, "auth.directory")
            .iter()
            .any(|(p, d)| *p && d.starts_with("OpenLDAP") && d.contains("dc=lab,dc=test")),
        "{facts:#?}"
    );
    assert_eq!(
        capability(&facts, "auth.verified"),
        vec![(
            true,
            "bind as cn=audit,dc=lab,dc=test accepted, wrong password refused"
        )],
        "{facts:#?}"
    );
    assert!(
        !capability(&facts, "encryption").is_empty(),
        "LDAPS: {facts:#?}"
    );
    assert!(!facts.iter().any(|f| matches!(f.kind, FactKind::Os { .. })));
    assert_no_secret(&facts, &std::env::var("LAB_LDAP_PASSWORD").unwrap());
}

#[tokio::test]
async fn ldap_refused_credentials_cannot_verify() {
    let wrong = "not-the-password-Zq81";
    let inv = with_password(inventory(), "ldap", "LABCHECK_TEST_LDAP_WRONG", wrong);
    let target = host_target(inv, "dc", &[389]);
    let facts = ldap::probe(&target).await;
    assert!(capability(&facts, "auth.verified").is_empty(), "{facts:#?}");
    let reasons = cannot(&facts);
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("refused") && r.contains("cannot verify")),
        "{reasons:?}"
    );
    assert_no_secret(&facts, wrong);
}

fn service_version(facts: &[Fact], product: &str) -> Option<String> {
    facts.iter().find_map(|f| match &f.kind {
        FactKind::Service {
            product: p,
            version,
            ..
        } if p == product => version.clone(),
        _ => None,
    })
}

#[tokio::test]
async fn sql_versions_and_procedures_with_the_declared_accounts() {
    let target = host_target(inventory(), "db", &[5432, 3306]);
    let facts = sql::probe(&target).await;
    let pg = service_version(&facts, "postgresql").expect("PostgreSQL version");
    assert!(pg.chars().next().unwrap().is_ascii_digit(), "{pg}");
    let maria = service_version(&facts, "mariadb").expect("MariaDB version");
    assert!(
        maria.starts_with("10.") || maria.starts_with("11."),
        "{maria}"
    );
    let procs = capability(&facts, "dbms.procedures");
    assert_eq!(procs.len(), 2, "{facts:#?}");
    assert!(procs.iter().all(|(p, _)| *p), "{facts:#?}");
    assert!(cannot(&facts).is_empty(), "{facts:#?}");
    assert_no_secret(&facts, &std::env::var("LAB_PG_PASSWORD").unwrap());
    assert_no_secret(&facts, &std::env::var("LAB_MYSQL_PASSWORD").unwrap());
}

#[tokio::test]
async fn sql_refused_credentials_cannot_verify() {
    let wrong = "not-the-password-Kp27";
    let inv = with_password(inventory(), "postgres", "LABCHECK_TEST_PG_WRONG", wrong);
    let inv = with_password(inv, "mysql", "LABCHECK_TEST_MY_WRONG", wrong);
    let target = host_target(inv, "db", &[5432, 3306]);
    let facts = sql::probe(&target).await;
    assert!(
        capability(&facts, "dbms.procedures").is_empty(),
        "{facts:#?}"
    );
    let reasons = cannot(&facts);
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .all(|r| r.contains("refused the credentials")),
        "{reasons:?}"
    );
    assert_no_secret(&facts, wrong);
}

#[tokio::test]
async fn nothing_is_tried_on_closed_ports_or_out_of_scope_hosts() {
    let target = host_target(inventory(), "db", &[]);
    assert!(sql::probe(&target).await.is_empty());
    let mut inv = inventory();
    inv.lab
        .scope
        .retain(|n| !n.contains(&"198.18.10.10".parse::<IpAddr>().unwrap()));
    let target = host_target(inv, "dc", &[389]);
    assert!(ldap::probe(&target).await.is_empty());
}

#[tokio::test]
async fn radius_on_the_lab_accepts_alice_and_rejects_a_wrong_password() {
    common::export_lab_env();
    let secret = |var: &str| {
        labcheck::inventory::Secret::new(
            std::env::var(var).unwrap_or_else(|_| panic!("{var} missing from the lab env file")),
        )
    };
    let facts = labcheck::probe::udp::radius_check(
        "198.18.10.10".parse().unwrap(),
        labcheck::probe::udp::RADIUS_PORT,
        "alice",
        &secret("LAB_ALICE_PASSWORD"),
        &secret("LAB_RADIUS_SECRET"),
        Duration::from_secs(3),
    )
    .await;
    assert_eq!(
        capability(&facts, "auth.verified"),
        vec![(true, "RADIUS accepts alice, rejects a wrong password")],
        "{facts:#?}"
    );
    assert_no_secret(&facts, &std::env::var("LAB_RADIUS_SECRET").unwrap());
}
