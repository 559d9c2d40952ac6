//! HTTP(S) probe: on every port the scan found answering HTTP or HTTPS, the
//! requests of catalog/http.toml (each at most once), products recognised
//! from the answers, a one-line summary of the home page (status, Server,
//! X-Powered-By, WWW-Authenticate, cookie names, title), and the count of
//! Prometheus alerting rules (an explicit negative when there are none).
//!
//! Also the shared HTTP plumbing of the web probes (resources, applications,
//! load-balancer spread): a client that never leaves the inventory's scope
//! (no system DNS, no proxy, redirects checked), capped bodies, one timeout
//! per request, a permit of the global limit per request.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use regex::bytes::Regex;
use reqwest::redirect::Policy;
use rustls::ClientConfig;
use tokio::sync::Semaphore;

use super::deep::{BoxFuture, HostTarget};
use super::tls::{RecordingVerifier, observing_config};
use crate::catalog::http::{HttpCatalog, ProductDef};
use crate::facts::{Fact, FactKind, HostFacts, Outcome};
use crate::inventory::Inventory;
use crate::untrusted;

/// Bodies are read up to this size; the rest is dropped.
pub const MAX_BODY: usize = 256 * 1024;
/// Requests one host gets from the HTTP probe, all ports together.
pub const MAX_REQUESTS_PER_HOST: usize = 160;
/// Redirects followed (inside the scope only).
pub const MAX_REDIRECTS: usize = 3;
/// A port that failed this many requests in a row is given up.
const MAX_FAILURES: usize = 3;

// ---------------------------------------------------------------- plumbing

/// Name resolution that resolves nothing: labcheck never asks the auditor's
/// resolver. Inventory host names are mapped to their addresses by
/// `ClientBuilder::resolve` before this is consulted.
struct NoDns;

impl reqwest::dns::Resolve for NoDns {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_string();
        Box::pin(async move {
            Err(
                format!("`{name}` is not an inventory host: labcheck does not resolve names")
                    .into(),
            )
        })
    }
}

/// Whether a URL points inside the scope (an address in scope, or the name
/// of an inventory host whose address is in scope).
pub fn url_in_scope(inv: &Inventory, url: &url::Url) -> bool {
    match url_address(inv, url) {
        Some(a) => inv.in_scope(a),
        None => false,
    }
}

/// The address a URL's host stands for, without DNS.
pub fn url_address(inv: &Inventory, url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
        url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
        url::Host::Domain(d) => inv
            .hosts
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(d))
            .map(|h| h.address),
    }
}

/// A client for one audit's web probes. `tls`: an observing config (never
/// send a secret with it) or one verifying against the lab's CA.
pub fn client(
    inv: &Arc<Inventory>,
    timeout: Duration,
    tls: ClientConfig,
    follow_redirects: bool,
) -> Result<reqwest::Client, String> {
    let scope = inv.clone();
    let policy = if follow_redirects {
        Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                attempt.stop()
            } else if url_in_scope(&scope, attempt.url()) {
                attempt.follow()
            } else {
                // Out of scope: the 3xx itself is the answer.
                attempt.stop()
            }
        })
    } else {
        Policy::none()
    };
    let mut b = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .dns_resolver(Arc::new(NoDns))
        .redirect(policy)
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_max_idle_per_host(2)
        .user_agent(concat!("labcheck/", env!("CARGO_PKG_VERSION")));
    for h in &inv.hosts {
        if inv.in_scope(h.address) {
            b = b.resolve(&h.name, SocketAddr::new(h.address, 0));
        }
    }
    b.build().map_err(|e| format!("HTTP client: {e}"))
}

/// An observing client (accepts any certificate; never for secrets).
pub fn observing_client(
    inv: &Arc<Inventory>,
    timeout: Duration,
) -> Result<reqwest::Client, String> {
    let recorder = Arc::new(RecordingVerifier::new(crate::tls_provider::provider()));
    client(inv, timeout, observing_config(recorder), true)
}

/// One answer, body capped.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// (lower-case name, value as sent, lossy).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn headers_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    /// The answer as the catalog's patterns see it.
    pub fn text(&self) -> Vec<u8> {
        let mut t = format!("HTTP/1.1 {}\r\n", self.status).into_bytes();
        for (n, v) in &self.headers {
            t.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        t.extend_from_slice(b"\r\n");
        t.extend_from_slice(&self.body);
        t
    }
    /// `<title>`, quoted.
    pub fn title(&self) -> Option<String> {
        static TITLE: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
            Regex::new(r"(?is)<title[^>]*>\s*(.*?)\s*</title>").expect("valid regex")
        });
        let c = TITLE.captures(&self.body)?;
        let t = c.get(1)?.as_bytes();
        (!t.is_empty()).then(|| untrusted::quote(t, 100))
    }
    pub fn is_html(&self) -> bool {
        self.header("content-type")
            .is_some_and(|c| c.to_ascii_lowercase().contains("html"))
    }
}

/// A request as the probes send it.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    pub method: &'a str,
    pub url: String,
    pub headers: Vec<(&'a str, &'a str)>,
    pub body: Option<&'a str>,
    /// HTTP Basic credentials: the password is only ever placed here.
    pub basic: Option<(&'a str, &'a str)>,
}

/// Sends one request under the global limit; failures are values.
pub async fn fetch(
    client: &reqwest::Client,
    limit: &Semaphore,
    req: &Request<'_>,
) -> Result<Answer, String> {
    let _permit = limit.acquire().await.expect("semaphore open");
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut rb = client.request(method, &req.url);
    for (n, v) in &req.headers {
        rb = rb.header(*n, *v);
    }
    if let Some(b) = req.body {
        rb = rb.body(b.to_string());
    }
    if let Some((user, password)) = req.basic {
        rb = rb.basic_auth(user, Some(password));
    }
    let mut resp = rb.send().await.map_err(describe)?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .take(64)
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes())
                    .chars()
                    .take(512)
                    .collect(),
            )
        })
        .collect();
    let mut body = Vec::new();
    while body.len() < MAX_BODY {
        match resp.chunk().await {
            Ok(Some(c)) => body.extend_from_slice(&c[..c.len().min(MAX_BODY - body.len())]),
            Ok(None) => break,
            // A body cut short still says what it said so far.
            Err(_) => break,
        }
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// A reqwest error, without the URL's credentials (there are none: Basic
/// auth goes in a header) and with the root cause.
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return "timeout".into();
    }
    let mut s = if e.is_connect() {
        "connect: ".to_string()
    } else {
        String::new()
    };
    let mut src: Option<&dyn std::error::Error> = Some(&e);
    let mut last = String::new();
    while let Some(x) = src {
        last = x.to_string();
        src = x.source();
    }
    s.push_str(&untrusted::quote(last.as_bytes(), 160));
    s
}

/// HTTP(S) ports of a scanned host: (port, tls).
pub fn http_ports(scanned: &HostFacts) -> Vec<(u16, bool)> {
    scanned
        .ports
        .iter()
        .filter(|o| o.outcome == Outcome::Open)
        .filter_map(|o| {
            if o.product.as_deref() == Some("https") {
                Some((o.port, true))
            } else if o.banner.as_deref().is_some_and(|b| b.starts_with("HTTP/")) {
                Some((o.port, false))
            } else {
                None
            }
        })
        .collect()
}

pub fn base_url(address: IpAddr, port: u16, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    match address {
        IpAddr::V4(a) => format!("{scheme}://{a}:{port}"),
        IpAddr::V6(a) => format!("{scheme}://[{a}]:{port}"),
    }
}

/// Products the port scan already named on a port.
pub fn scanned_products(scanned: &HostFacts, port: u16) -> HashSet<String> {
    scanned
        .facts
        .iter()
        .filter(|f| f.port == Some(port))
        .filter_map(|f| match &f.kind {
            FactKind::Service { product, .. } => Some(product.clone()),
            _ => None,
        })
        .chain(
            scanned
                .ports
                .iter()
                .filter(|o| o.port == port)
                .filter_map(|o| o.product.clone()),
        )
        .collect()
}

// ---------------------------------------------------------------- the probe

/// Registered in deep.rs.
pub fn probe(t: &HostTarget) -> BoxFuture<'_, Vec<Fact>> {
    Box::pin(run(t))
}

async fn run(t: &HostTarget) -> Vec<Fact> {
    let address = t.host.address;
    let ports = http_ports(&t.scanned);
    if ports.is_empty() || !t.inventory.in_scope(address) {
        return vec![];
    }
    let client = match observing_client(&t.inventory, t.timeout) {
        Ok(c) => c,
        Err(reason) => {
            return vec![cannot(None, "HTTP", reason)];
        }
    };
    let catalog = HttpCatalog::embedded();
    let mut facts = vec![];
    let mut budget = MAX_REQUESTS_PER_HOST;
    for (port, tls) in ports {
        let base = base_url(address, port, tls);
        let already = scanned_products(&t.scanned, port);
        let mut found: Vec<(&ProductDef, Option<String>)> = vec![];
        let mut failures = 0;
        for r in catalog.requests_for(port) {
            if budget == 0 || failures >= MAX_FAILURES {
                break;
            }
            budget -= 1;
            let req = Request {
                method: &r.method,
                url: format!("{base}{}", r.path),
                headers: r
                    .headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect(),
                body: r.body.as_deref(),
                basic: None,
            };
            let answer = match fetch(&client, &t.limit, &req).await {
                Ok(a) => {
                    failures = 0;
                    a
                }
                Err(reason) => {
                    failures += 1;
                    if r.id == "root" {
                        facts.push(cannot(Some(port), "HTTP", reason));
                        break;
                    }
                    continue;
                }
            };
            let text = answer.text();
            if r.id == "root" {
                facts.push(summary(port, tls, &answer));
                if tls {
                    // In clear the port scan saw these headers already.
                    for hint in t.catalog.os_hints("http", &text) {
                        facts.push(Fact {
                            probe: "http".into(),
                            port: Some(port),
                            kind: FactKind::Os {
                                family: hint.family,
                                name: hint.name,
                                version: hint.version,
                                strength: hint.strength,
                            },
                        });
                    }
                }
            }
            for id in catalog.identify(&r.id, answer.status, &text) {
                // A later answer may name the version an earlier one did not.
                match found.iter_mut().find(|(p, _)| p.id == id.product.id) {
                    Some((_, v)) if v.is_none() => *v = id.version,
                    Some(_) => {}
                    None => found.push((id.product, id.version)),
                }
            }
        }
        let prometheus = found.iter().any(|(p, _)| p.id == "prometheus");
        for (p, version) in found {
            if already.contains(&p.id) {
                continue;
            }
            let mut caps = p.capabilities.clone();
            if tls {
                caps.extend(p.tls_capabilities.iter().cloned());
            }
            facts.push(Fact {
                probe: "http".into(),
                port: Some(port),
                kind: FactKind::Service {
                    product: p.id.clone(),
                    name: p.name.clone(),
                    version: version.map(|v| untrusted::quote(v.as_bytes(), 64)),
                    capabilities: caps,
                    open_source: p.open_source,
                },
            });
        }
        if (prometheus || already.contains("prometheus")) && budget > 0 {
            facts.push(alert_rules(&client, &t.limit, &base, port).await);
        }
    }
    facts
}

fn cannot(port: Option<u16>, what: &str, reason: String) -> Fact {
    Fact {
        probe: "http".into(),
        port,
        kind: FactKind::CannotCheck {
            what: what.into(),
            reason,
        },
    }
}

/// The home page in one line: what a reader checks first.
fn summary(port: u16, tls: bool, a: &Answer) -> Fact {
    let q = |s: &str| untrusted::quote(s.as_bytes(), 80);
    let mut parts = vec![format!(
        "{} {}",
        if tls { "HTTPS" } else { "HTTP" },
        a.status
    )];
    for (h, label) in [
        ("server", "Server"),
        ("x-powered-by", "X-Powered-By"),
        ("www-authenticate", "WWW-Authenticate"),
        ("location", "Location"),
    ] {
        if let Some(v) = a.header(h) {
            parts.push(format!("{label}: {}", q(v)));
        }
    }
    let cookies: Vec<String> = a
        .headers_all("set-cookie")
        .filter_map(|c| c.split('=').next())
        .map(|n| untrusted::quote(n.trim().as_bytes(), 40))
        .take(8)
        .collect();
    if !cookies.is_empty() {
        parts.push(format!("cookies: {}", cookies.join(", ")));
    }
    if let Some(t) = a.title() {
        parts.push(format!("title “{t}”"));
    }
    Fact {
        probe: "http".into(),
        port: Some(port),
        kind: FactKind::Service {
            product: "http".into(),
            name: parts.join(" · "),
            version: None,
            capabilities: vec![],
            open_source: None,
        },
    }
}

/// Prometheus `/api/v1/rules`: alerting rules loaded, or explicitly none.
pub async fn alert_rules(
    client: &reqwest::Client,
    limit: &Semaphore,
    base: &str,
    port: u16,
) -> Fact {
    let req = Request {
        method: "GET",
        url: format!("{base}/api/v1/rules"),
        ..Default::default()
    };
    let outcome = match fetch(client, limit, &req).await {
        Ok(a) if a.status == 200 => count_alerting_rules(&a.body),
        Ok(a) => Err(format!("/api/v1/rules answered {}", a.status)),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(n) => Fact {
            probe: "http:prometheus-rules".into(),
            port: Some(port),
            kind: FactKind::Capability {
                name: "monitoring.alerts".into(),
                present: n > 0,
                detail: format!(
                    "{n} alerting rule{} loaded in Prometheus (port {port})",
                    if n == 1 { "" } else { "s" }
                ),
            },
        },
        Err(reason) => Fact {
            probe: "http:prometheus-rules".into(),
            port: Some(port),
            kind: FactKind::CannotCheck {
                what: "Prometheus alerting rules".into(),
                reason,
            },
        },
    }
}

/// Alerting rules in a Prometheus `/api/v1/rules` answer.
pub fn count_alerting_rules(body: &[u8]) -> Result<usize, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "/api/v1/rules: not JSON".to_string())?;
    if v.get("status").and_then(|s| s.as_str()) != Some("success") {
        return Err("/api/v1/rules: status is not success".into());
    }
    let groups = v
        .pointer("/data/groups")
        .and_then(|g| g.as_array())
        .ok_or("/api/v1/rules: no data.groups")?;
    Ok(groups
        .iter()
        .filter_map(|g| g.get("rules").and_then(|r| r.as_array()))
        .flatten()
        .filter(|r| r.get("type").and_then(|t| t.as_str()) == Some("alerting"))
        .count())
}

// ---------------------------------------------------------------- HAProxy stats

/// One server line of HAProxy's statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerState {
    pub backend: String,
    pub server: String,
    pub up: bool,
    pub status: String,
}

/// Servers of HAProxy's CSV statistics (`<stats uri>;csv`).
pub fn parse_haproxy_csv(body: &[u8]) -> Option<Vec<ServerState>> {
    let text = String::from_utf8_lossy(body);
    let mut lines = text.lines();
    let header = lines.next()?.strip_prefix("# ")?;
    let cols: Vec<&str> = header.split(',').collect();
    let idx = |name: &str| cols.iter().position(|c| *c == name);
    let (px, sv, st) = (idx("pxname")?, idx("svname")?, idx("status")?);
    let q = |s: &str| untrusted::quote(s.as_bytes(), 60);
    let servers = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f.len() > st && f.len() > sv && f.len() > px)
        .filter(|f| f[sv] != "FRONTEND" && f[sv] != "BACKEND")
        .map(|f| ServerState {
            backend: q(f[px]),
            server: q(f[sv]),
            // "UP", "UP 1/2" (going down), "no check" (never checked: assumed up).
            up: f[st].starts_with("UP") || f[st] == "no check",
            status: q(f[st]),
        })
        .collect();
    Some(servers)
}

/// HAProxy's statistics, tried at the usual URIs of each HTTP port.
pub async fn haproxy_stats(
    client: &reqwest::Client,
    limit: &Semaphore,
    address: IpAddr,
    ports: &[(u16, bool)],
) -> Option<(u16, Vec<ServerState>)> {
    for &(port, tls) in ports {
        for path in ["/stats;csv", "/haproxy?stats;csv"] {
            let req = Request {
                method: "GET",
                url: format!("{}{path}", base_url(address, port, tls)),
                ..Default::default()
            };
            if let Ok(a) = fetch(client, limit, &req).await
                && a.status == 200
                && let Some(s) = parse_haproxy_csv(&a.body)
            {
                return Some((port, s));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerting_rules_are_counted() {
        // Shape of Prometheus 2.42's /api/v1/rules (Debian prometheus).
        let body =
            br#"{"status":"success","data":{"groups":[{"name":"lab","file":"/x.yml","rules":[
            {"state":"inactive","name":"HostDown","type":"alerting"},
            {"name":"job:up:sum","type":"recording"},
            {"state":"firing","name":"DiskFull","type":"alerting"}],"interval":15}]}}"#;
        assert_eq!(count_alerting_rules(body), Ok(2));
        let none = br#"{"status":"success","data":{"groups":[]}}"#;
        assert_eq!(count_alerting_rules(none), Ok(0));
        assert!(count_alerting_rules(b"<html>").is_err());
        assert!(count_alerting_rules(br#"{"status":"error"}"#).is_err());
    }

    #[test]
    fn haproxy_csv_is_parsed() {
        let csv = b"# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight\n\
stats,FRONTEND,,,0,1,512,3,0,0,0,0,0,,,,,OPEN,\n\
web,web1,0,0,0,1,,5,0,0,,0,,0,0,0,0,UP,1\n\
web,web2,0,0,0,1,,5,0,0,,0,,0,0,0,0,DOWN,1\n\
web,BACKEND,0,0,0,1,52,10,0,0,0,0,,0,0,0,0,UP,1\n";
        let s = parse_haproxy_csv(csv).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s[0].up && s[0].server == "web1");
        assert!(!s[1].up && s[1].status == "DOWN");
        assert!(parse_haproxy_csv(b"<html>").is_none());
    }

    #[test]
    fn scope_of_urls() {
        let inv = crate::inventory::local_default("sisr");
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert!(url_in_scope(&inv, &u("http://127.0.0.1:8080/")));
        assert!(!url_in_scope(&inv, &u("http://192.0.2.1/")));
        assert!(!url_in_scope(&inv, &u("https://example.org/")));
    }
}
