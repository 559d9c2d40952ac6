//! TLS, HTTP, secured-resource and load-balancer probes against the real
//! test lab (tests/lab/up: nginx with the lab CA's certificate and Basic auth
//! on web1, HAProxy over web1/web2 on lb, Prometheus with alerting rules on
//! mon, an expired self-signed certificate on hostile:7443). The lab must be
//! up: without it these tests fail loudly rather than pass by skipping.

mod common;
use common::capabilities;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use labcheck::catalog::Catalog;
use labcheck::facts::{FactKind, HostFacts, Outcome, PortObservation, Proto, Reachability};
use labcheck::inventory::{self, Inventory};
use labcheck::probe::deep::{HostTarget, LabTarget};
use labcheck::probe::{http, lbspread, resources, tls};
use tokio::sync::Semaphore;

fn inventory() -> Inventory {
    common::export_lab_env();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/inventory.toml");
    let (inv, diags) = inventory::load_with_diagnostics(&path, &[]);
    inv.unwrap_or_else(|| panic!("lab inventory unreadable: {diags:?}"))
}

/// The port scan's view: (port, product), HTTP banners for plain ports.
fn target(name: &str, open: &[(u16, &str)]) -> HostTarget {
    let inv = inventory();
    let host = inv.host(name).expect("host in the lab inventory").clone();
    let mut scanned = HostFacts::new(name, host.address);
    scanned.reachability = Reachability::Up;
    for &(port, product) in open {
        scanned.ports.push(PortObservation {
            port,
            proto: Proto::Tcp,
            outcome: Outcome::Open,
            product: Some(product.to_string()),
            banner: (product != "https").then(|| "HTTP/1.1 200 OK".to_string()),
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

fn host_name(address: &str) -> String {
    let inv = inventory();
    inv.hosts
        .iter()
        .find(|h| h.address.to_string() == address)
        .unwrap_or_else(|| panic!("no host {address} in the lab inventory"))
        .name
        .clone()
}

#[tokio::test]
async fn web1_certificate_is_trusted_and_hostile_one_expired() {
    let t = target(&host_name("198.51.100.11"), &[(443, "https")]);
    let facts = tls::probe(&t).await;
    let enc = capabilities(&facts, "encryption");
    assert_eq!(enc.len(), 1, "{facts:#?}");
    assert!(enc[0].0);
    assert!(enc[0].1.contains("CN=web1.lab.test"), "{enc:?}");
    assert!(enc[0].1.contains("chain trusted by the lab CA"), "{enc:?}");

    let t = target(&host_name("198.18.10.66"), &[(7443, "https")]);
    let facts = tls::probe(&t).await;
    let enc = capabilities(&facts, "encryption");
    assert_eq!(enc.len(), 1, "{facts:#?}");
    assert!(enc[0].0, "still encryption: the evaluator judges");
    assert!(enc[0].1.contains("self-signed"), "{enc:?}");
    assert!(enc[0].1.contains("expired since 2021-01-01"), "{enc:?}");
}

#[tokio::test]
async fn prometheus_on_mon_has_alerting_rules() {
    let t = target(&host_name("198.18.10.30"), &[(9090, "prometheus")]);
    let facts = http::probe(&t).await;
    let alerts = capabilities(&facts, "monitoring.alerts");
    assert_eq!(alerts.len(), 1, "{facts:#?}");
    assert!(alerts[0].0, "{alerts:?}");
    assert!(alerts[0].1.contains("alerting rules loaded"), "{alerts:?}");
}

#[tokio::test]
async fn haproxy_on_lb_spreads_over_web1_and_web2() {
    let t = target(
        &host_name("198.51.100.10"),
        &[(80, "nginx"), (8404, "haproxy")],
    );
    let facts = lbspread::probe(&t).await;
    let spread = capabilities(&facts, "lb.spread");
    assert_eq!(spread.len(), 1, "{facts:#?}");
    // Healthy lab: both backends; scenario lb-backend-down: 1/2 UP, present false.
    let broken = Path::new("/tmp/labcheck-lab/broken/lb-backend-down").exists();
    if broken {
        assert!(!spread[0].0, "{spread:?}");
        assert!(spread[0].1.contains("1/2 backends UP"), "{spread:?}");
    } else {
        assert!(spread[0].0, "{spread:?}");
        assert!(
            spread[0].1.contains("web1") && spread[0].1.contains("web2"),
            "{spread:?}"
        );
    }
}

#[tokio::test]
async fn intranet_refuses_anonymous_and_accepts_alice() {
    let inv = inventory();
    assert!(
        !inv.resources.is_empty(),
        "the lab inventory declares the intranet"
    );
    let t = LabTarget {
        inventory: Arc::new(inv),
        scanned: vec![],
        timeout: Duration::from_secs(3),
        limit: Arc::new(Semaphore::new(2)),
    };
    let facts = resources::probe(&t).await;
    let text = serde_json::to_string(&facts).unwrap();
    let secret = std::env::var("LAB_ALICE_PASSWORD").unwrap();
    assert!(!text.contains(&secret), "a secret leaked into the facts");
    let r: Vec<_> = facts
        .iter()
        .filter_map(|f| match &f.kind {
            FactKind::Resource {
                anonymous_refused,
                account_accepted,
                detail,
                ..
            } => Some((*anonymous_refused, *account_accepted, detail.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(r.len(), 1, "{facts:#?}");
    assert_eq!((r[0].0, r[0].1), (Some(true), Some(true)), "{r:?}");
}
