//! TLS, HTTP, secured-resource and load-balancer probes against real servers
//! started on loopback: nginx (plain, HTTPS with a CA-signed certificate,
//! HTTPS with an expired self-signed one, Basic auth), HAProxy (two nginx
//! backends, statistics page) and Prometheus (with and without alerting
//! rules). Certificates are made by the openssl CLI, as a lab would.

mod common;
use common::capabilities;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Server, free_port, require, wait_port};
use labcheck::catalog::Catalog;
use labcheck::facts::{Fact, FactKind, HostFacts, Outcome, PortObservation, Proto, Reachability};
use labcheck::inventory::{self, Inventory};
use labcheck::probe::deep::{HostTarget, LabTarget};
use labcheck::probe::{http, lbspread, resources, tls};
use tokio::sync::Semaphore;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn openssl(dir: &Path, args: &[&str]) {
    let st = Command::new(require("/usr/bin/openssl", "openssl"))
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(st.success(), "openssl {args:?}");
}

/// A CA, a certificate for 127.0.0.1 signed by it, and an expired
/// self-signed one (OpenSSL 3.0: `ca -selfsign` sets explicit dates).
fn make_certs(d: &Path) {
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "3",
            "-subj",
            "/O=labcheck test/CN=test CA",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "web.key",
            "-out",
            "web.csr",
            "-subj",
            "/CN=web.test",
            "-addext",
            "subjectAltName=DNS:web.test,IP:127.0.0.1",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "web.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "3",
            "-copy_extensions",
            "copy",
            "-out",
            "web.crt",
        ],
    );
    std::fs::write(d.join("index.txt"), "").unwrap();
    std::fs::write(d.join("serial"), "1000\n").unwrap();
    std::fs::write(
        d.join("ca.cnf"),
        format!(
            "[ca]\ndefault_ca = x\n[x]\ndatabase = {0}/index.txt\nnew_certs_dir = {0}\nserial = {0}/serial\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\nunique_subject = no\n[p]\ncommonName = supplied\n",
            d.display()
        ),
    )
    .unwrap();
    openssl(
        d,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "expired.key",
            "-out",
            "expired.csr",
            "-subj",
            "/CN=expired.test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
    );
    openssl(
        d,
        &[
            "ca",
            "-batch",
            "-notext",
            "-config",
            "ca.cnf",
            "-selfsign",
            "-keyfile",
            "expired.key",
            "-in",
            "expired.csr",
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20210101000000Z",
            "-out",
            "expired.crt",
        ],
    );
}

struct Ports {
    web1: u16,
    web2: u16,
    https: u16,
    expired: u16,
}

const PASSWORD: &str = "s3cret-Alice-42";

/// One real nginx: two plain backends, HTTPS (CA-signed, Basic auth on
/// /intranet/, a redirect out of scope) and HTTPS with the expired cert.
fn start_web(d: &Path) -> (Server, Ports) {
    let nginx = require("/usr/sbin/nginx", "nginx-light");
    make_certs(d);
    let out = Command::new("/usr/bin/openssl")
        .args(["passwd", "-apr1", PASSWORD])
        .output()
        .unwrap();
    std::fs::write(
        d.join("htpasswd"),
        format!("alice:{}", String::from_utf8_lossy(&out.stdout)),
    )
    .unwrap();
    std::fs::create_dir_all(d.join("www/intranet")).unwrap();
    std::fs::write(
        d.join("www/index.html"),
        "<!doctype html><title>GSB portal</title>\n",
    )
    .unwrap();
    std::fs::write(d.join("www/intranet/index.html"), "intranet\n").unwrap();
    // nginx workers run as nobody: everything they serve must be readable.
    Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(d)
        .status()
        .unwrap();
    let p = Ports {
        web1: free_port(),
        web2: free_port(),
        https: free_port(),
        expired: free_port(),
    };
    let dd = d.display();
    let backend = |port: u16, name: &str| {
        format!(
            "  server {{ listen 127.0.0.1:{port}; add_header X-Backend {name} always; location / {{ return 200 \"backend: {name}\\n\"; }} }}\n"
        )
    };
    let conf = format!(
        "daemon off;\npid {dd}/nginx.pid;\nerror_log {dd}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {dd}/body;\n  proxy_temp_path {dd}/proxy;\n  fastcgi_temp_path {dd}/fastcgi;\n  uwsgi_temp_path {dd}/uwsgi;\n  scgi_temp_path {dd}/scgi;\n  types {{ text/html html; }}\n{}{}  server {{ listen 127.0.0.1:{}  ssl; ssl_protocols TLSv1.2 TLSv1.3; ssl_certificate {dd}/web.crt; ssl_certificate_key {dd}/web.key; root {dd}/www;\n    location /intranet/ {{ auth_basic \"GSB intranet\"; auth_basic_user_file {dd}/htpasswd; }}\n    location = /away {{ return 302 http://127.0.0.2:{}/; }}\n  }}\n  server {{ listen 127.0.0.1:{} ssl; ssl_certificate {dd}/expired.crt; ssl_certificate_key {dd}/expired.key; location / {{ return 200 \"expired\"; }} }}\n}}\n",
        backend(p.web1, "web1"),
        backend(p.web2, "web2"),
        p.https,
        p.web1,
        p.expired,
    );
    std::fs::write(d.join("nginx.conf"), conf).unwrap();
    let mut child = Command::new(nginx)
        .arg("-p")
        .arg(d)
        .arg("-c")
        .arg(d.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    for port in [p.web1, p.web2, p.https, p.expired] {
        wait_port(port, &mut child, "nginx");
    }
    (Server(child), p)
}

/// A real HAProxy balancing over two servers, with its statistics page.
fn start_haproxy(d: &Path, servers: [u16; 2]) -> (Server, u16, u16) {
    let haproxy = require("/usr/sbin/haproxy", "haproxy");
    let (front, stats) = (free_port(), free_port());
    let conf = format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\nfrontend www\n  bind 127.0.0.1:{front}\n  default_backend web\nbackend web\n  balance roundrobin\n  option httpchk GET /\n  server web1 127.0.0.1:{} check inter 200ms fall 1 rise 1\n  server web2 127.0.0.1:{} check inter 200ms fall 1 rise 1\nlisten stats\n  bind 127.0.0.1:{stats}\n  stats enable\n  stats uri /stats\n",
        servers[0], servers[1]
    );
    let cfg = d.join(format!("haproxy-{front}.cfg"));
    std::fs::write(&cfg, conf).unwrap();
    let mut child = Command::new(haproxy)
        .arg("-db")
        .arg("-f")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start haproxy");
    wait_port(front, &mut child, "haproxy");
    wait_port(stats, &mut child, "haproxy");
    // Let the health checks settle (inter 200ms, fall 1).
    std::thread::sleep(Duration::from_millis(800));
    (Server(child), front, stats)
}

/// A real Prometheus with `alerts` alerting rules (and one recording rule).
fn start_prometheus(d: &Path, alerts: usize) -> (Server, u16) {
    let prometheus = require("/usr/bin/prometheus", "prometheus");
    let port = free_port();
    let dir = d.join(format!("prom-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rules = String::from(
        "groups:\n  - name: lab\n    rules:\n      - record: job:up:sum\n        expr: sum(up)\n",
    );
    for i in 0..alerts {
        rules.push_str(&format!(
            "      - alert: Test{i}\n        expr: up == 0\n        for: 1m\n"
        ));
    }
    std::fs::write(dir.join("rules.yml"), rules).unwrap();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1m\nrule_files:\n  - {}/rules.yml\n",
            dir.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(prometheus)
        .arg(format!("--config.file={}/prometheus.yml", dir.display()))
        .arg(format!("--storage.tsdb.path={}/data", dir.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    wait_port(port, &mut child, "prometheus");
    // The API answers before the rule manager has loaded the rules.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        if get(port, "/api/v1/rules").contains("job:up:sum") {
            return (Server(child), port);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("prometheus did not load its rules within 15s");
}

/// A plain HTTP/1.0 GET, for readiness checks.
fn get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn load_inventory(d: &Path, extra: &str) -> Inventory {
    let path = d.join(format!("inventory-{}.toml", free_port()));
    std::fs::write(
        &path,
        format!("[lab]\nname = \"loopback\"\nscope = [\"127.0.0.1/32\"]\n{extra}\n[[host]]\nname = \"web\"\naddress = \"127.0.0.1\"\n"),
    )
    .unwrap();
    inventory::load(&path, &[]).unwrap_or_else(|d| panic!("inventory: {d}"))
}

/// What the port scan would have left: open ports, products, HTTP banners.
fn target(inv: Inventory, open: &[(u16, Option<&str>)]) -> HostTarget {
    let host = inv.host("web").unwrap().clone();
    let mut scanned = HostFacts::new("web", LOCAL);
    scanned.reachability = Reachability::Up;
    for &(port, product) in open {
        scanned.ports.push(PortObservation {
            port,
            proto: Proto::Tcp,
            outcome: Outcome::Open,
            product: product.map(str::to_string),
            banner: (product != Some("https")).then(|| "HTTP/1.1 200 OK".to_string()),
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

fn services(facts: &[Fact]) -> Vec<(String, Option<String>, Option<u16>)> {
    facts
        .iter()
        .filter_map(|f| match &f.kind {
            FactKind::Service {
                product, version, ..
            } => Some((product.clone(), version.clone(), f.port)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_probe_reports_trusted_and_expired_self_signed_certificates() {
    let d = tempfile::tempdir().unwrap();
    let (_nginx, p) = start_web(d.path());
    let ca = format!("ca = \"{}/ca.crt\"", d.path().display());
    let t = target(
        load_inventory(d.path(), &ca),
        &[(p.https, Some("https")), (p.expired, Some("https"))],
    );
    let facts = tls::probe(&t).await;
    let enc = capabilities(&facts, "encryption");
    assert_eq!(enc.len(), 2, "{facts:#?}");
    let good = facts.iter().find(|f| f.port == Some(p.https)).unwrap();
    let FactKind::Capability {
        present, detail, ..
    } = &good.kind
    else {
        panic!("{good:?}")
    };
    assert!(present);
    assert!(detail.starts_with("TLS 1.3, CN=web.test"), "{detail}");
    assert!(
        detail.contains("issuer O=labcheck test, CN=test CA"),
        "{detail}"
    );
    assert!(detail.contains("chain trusted by the lab CA"), "{detail}");
    let bad = facts.iter().find(|f| f.port == Some(p.expired)).unwrap();
    let FactKind::Capability {
        present, detail, ..
    } = &bad.kind
    else {
        panic!("{bad:?}")
    };
    // Still encryption (the probe observes), but the detail says what it is worth.
    assert!(present);
    assert!(detail.contains("self-signed"), "{detail}");
    assert!(detail.contains("expired since 2021-01-01"), "{detail}");
    assert!(
        detail.contains("not trusted by the lab CA: expired"),
        "{detail}"
    );

    // Without a CA the chain is reported as not checked, never as trusted.
    let t = target(load_inventory(d.path(), ""), &[(p.https, Some("https"))]);
    let facts = tls::probe(&t).await;
    let enc = capabilities(&facts, "encryption");
    assert!(enc[0].1.contains("chain not checked"), "{enc:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_probe_recognises_nginx_haproxy_and_prometheus_alert_rules() {
    let d = tempfile::tempdir().unwrap();
    let (_nginx, p) = start_web(d.path());
    let (_haproxy, front, stats) = start_haproxy(d.path(), [p.web1, p.web2]);
    let (_prom, prom) = start_prometheus(d.path(), 2);
    let (_prom0, prom0) = start_prometheus(d.path(), 0);
    let t = target(
        load_inventory(d.path(), ""),
        &[
            (front, None),
            (stats, None),
            (prom, None),
            (prom0, None),
            (p.https, Some("https")),
        ],
    );
    let facts = http::probe(&t).await;
    let svc = services(&facts);
    let has = |id: &str, port: u16| svc.iter().find(|(p, _, po)| p == id && *po == Some(port));
    assert!(has("nginx", p.https).is_some(), "{svc:?}");
    let ha = has("haproxy", stats).unwrap_or_else(|| panic!("{svc:?}"));
    assert!(
        ha.1.as_deref().is_some_and(|v| v.starts_with("2.")),
        "{ha:?}"
    );
    let pr = has("prometheus", prom).unwrap_or_else(|| panic!("{svc:?}"));
    assert!(
        pr.1.as_deref().is_some_and(|v| v.starts_with("2.")),
        "{pr:?}"
    );
    // The summary line of the HTTPS home page.
    let summary = svc
        .iter()
        .find(|(id, _, po)| id == "http" && *po == Some(p.https));
    assert!(summary.is_some(), "{svc:?}");
    let alerts = capabilities(&facts, "monitoring.alerts");
    assert!(
        alerts.contains(&(
            true,
            format!("2 alerting rules loaded in Prometheus (port {prom})").as_str()
        )),
        "{alerts:?}"
    );
    // The explicit negative the evaluator relies on.
    assert!(
        alerts.contains(&(
            false,
            format!("0 alerting rules loaded in Prometheus (port {prom0})").as_str()
        )),
        "{alerts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_out_of_scope_are_not_followed() {
    let d = tempfile::tempdir().unwrap();
    let (_nginx, p) = start_web(d.path());
    let inv = Arc::new(load_inventory(d.path(), ""));
    let client = http::observing_client(&inv, Duration::from_secs(3)).unwrap();
    let limit = Semaphore::new(2);
    let req = http::Request {
        method: "GET",
        url: format!("https://127.0.0.1:{}/away", p.https),
        ..Default::default()
    };
    // 127.0.0.2 is outside the inventory's scope (127.0.0.1/32): the 302 is the answer.
    let a = http::fetch(&client, &limit, &req).await.unwrap();
    assert_eq!(a.status, 302);
    // Names that are not inventory hosts are never resolved.
    let req = http::Request {
        method: "GET",
        url: "http://not-an-inventory-host.invalid/".into(),
        ..Default::default()
    };
    let e = http::fetch(&client, &limit, &req).await.unwrap_err();
    assert!(e.contains("does not resolve names"), "{e}");
}

fn resource_facts(facts: &[Fact]) -> Vec<(Option<bool>, Option<bool>, String)> {
    facts
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
        .collect()
}

async fn check_resource(
    d: &Path,
    port: u16,
    ca: bool,
    var: &str,
    password: &str,
) -> (Vec<(Option<bool>, Option<bool>, String)>, usize) {
    // SAFETY: each call uses its own variable, read by no other test.
    unsafe { std::env::set_var(var, password) };
    let ca = if ca {
        format!("ca = \"{}/ca.crt\"", d.display())
    } else {
        String::new()
    };
    let extra = format!(
        "{ca}\n[[resource]]\nname = \"intranet\"\nurl = \"https://127.0.0.1:{port}/intranet/\"\naccount = {{ user = \"alice\", password_env = \"{var}\" }}\n"
    );
    let t = LabTarget {
        inventory: Arc::new(load_inventory(d, &extra)),
        scanned: vec![],
        timeout: Duration::from_secs(3),
        limit: Arc::new(Semaphore::new(2)),
    };
    let facts = resources::probe(&t).await;
    let text = serde_json::to_string(&facts).unwrap();
    assert!(!text.contains(password), "a secret leaked into the facts");
    let secure = capabilities(&facts, "secure-access").len();
    (resource_facts(&facts), secure)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secured_resource_refuses_anonymous_and_accepts_the_account() {
    let d = tempfile::tempdir().unwrap();
    let (_nginx, p) = start_web(d.path());
    let (r, secure) = check_resource(d.path(), p.https, true, "LC_TEST_ALICE_OK", PASSWORD).await;
    assert_eq!(r.len(), 1);
    assert_eq!(secure, 1, "HTTPS + authentication shown: secure access");
    assert_eq!((r[0].0, r[0].1), (Some(true), Some(true)), "{r:?}");
    assert!(r[0].2.contains("anonymous: 401"), "{r:?}");
    let (r, secure) = check_resource(
        d.path(),
        p.https,
        true,
        "LC_TEST_ALICE_BAD",
        "wrong-password",
    )
    .await;
    assert_eq!((r[0].0, r[0].1), (Some(true), Some(false)), "{r:?}");
    assert_eq!(secure, 0);
    // No CA to verify the server: the password is not sent at all.
    let (r, secure) =
        check_resource(d.path(), p.https, false, "LC_TEST_ALICE_NOCA", PASSWORD).await;
    assert_eq!(r[0].1, None, "{r:?}");
    assert_eq!(secure, 0);
    assert!(r[0].2.contains("password not sent"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lb_spread_sees_two_backends_then_one_down() {
    let d = tempfile::tempdir().unwrap();
    let (_nginx, p) = start_web(d.path());
    let (_haproxy, front, stats) = start_haproxy(d.path(), [p.web1, p.web2]);
    let t = target(
        load_inventory(d.path(), ""),
        &[(front, None), (stats, Some("haproxy"))],
    );
    let facts = lbspread::probe(&t).await;
    let spread = capabilities(&facts, "lb.spread");
    assert_eq!(spread.len(), 1, "{facts:#?}");
    assert!(spread[0].0, "{spread:?}");
    assert!(spread[0].1.contains("reached web1, web2"), "{spread:?}");
    assert!(spread[0].1.contains("2/2 backends UP"), "{spread:?}");

    // web2 stopped: its server points at a closed port.
    let closed = free_port();
    let (_haproxy2, front2, stats2) = start_haproxy(d.path(), [p.web1, closed]);
    let t = target(
        load_inventory(d.path(), ""),
        &[(front2, None), (stats2, Some("haproxy"))],
    );
    let facts = lbspread::probe(&t).await;
    let spread = capabilities(&facts, "lb.spread");
    assert_eq!(spread.len(), 1, "{facts:#?}");
    assert!(!spread[0].0, "{spread:?}");
    assert!(spread[0].1.contains("reached only web1"), "{spread:?}");
    assert!(spread[0].1.contains("1/2 backends UP"), "{spread:?}");
}

/// A real Cockpit web service (Debian cockpit-ws), in clear.
fn start_cockpit() -> (Server, u16) {
    let ws = require("/usr/lib/cockpit/cockpit-ws", "cockpit-ws");
    let port = free_port();
    let mut child = Command::new(ws)
        .args([
            "--no-tls",
            "--address",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start cockpit-ws");
    wait_port(port, &mut child, "cockpit-ws");
    (Server(child), port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cockpit_is_recognised_and_is_remote_admin_only_over_tls() {
    let d = tempfile::tempdir().unwrap();
    let (_cockpit, port) = start_cockpit();
    let t = target(load_inventory(d.path(), ""), &[(port, None)]);
    let facts = http::probe(&t).await;
    let cockpit: Vec<&Fact> = facts
        .iter()
        .filter(|f| matches!(&f.kind, FactKind::Service { product, .. } if product == "cockpit"))
        .collect();
    assert_eq!(cockpit.len(), 1, "{facts:#?}");
    let FactKind::Service { capabilities, .. } = &cockpit[0].kind else {
        unreachable!()
    };
    // In clear, Cockpit is no *secure* remote administration.
    assert!(
        !capabilities.iter().any(|c| c == "remote-admin"),
        "{capabilities:?}"
    );
}
