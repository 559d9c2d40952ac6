//! Load-balancer spread: on a host where the scan or the HTTP probe found a
//! balancer (a product with capability `lb`, e.g. HAProxy's stats page), a
//! bounded series of requests to its HTTP ports, counting the distinct
//! backends that answered (a backend header, a `backend: NAME` body marker,
//! HAProxy's SERVERID cookie, else the ETag). HAProxy's statistics, when
//! exposed, say how many servers are UP.
//!
//! Decision material, not a verdict: two backends seen is spread; one seen
//! is absence only if the statistics also show fewer than two servers UP
//! (otherwise stickiness or luck could explain it: cannot check).

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::bytes::Regex;

use super::deep::{BoxFuture, HostTarget};
use super::http::{self, Answer, Request, ServerState};
use crate::facts::{Fact, FactKind};
use crate::untrusted;

/// Requests sent to each candidate port.
pub const REQUESTS: usize = 12;
/// Headers naming the backend that answered (lower case).
const BACKEND_HEADERS: &[&str] = &[
    "x-backend",
    "x-backend-server",
    "x-served-by",
    "x-server",
    "x-upstream",
];

/// Registered in deep.rs.
pub fn probe(t: &HostTarget) -> BoxFuture<'_, Vec<Fact>> {
    Box::pin(run(t))
}

fn has_lb(t: &HostTarget) -> bool {
    let caps_of = |id: &str| {
        t.catalog
            .product(id)
            .map(|p| p.capabilities.iter().any(|c| c == "lb"))
            .unwrap_or(false)
    };
    t.scanned.ports.iter().any(|o| o.product.as_deref().is_some_and(caps_of))
        || t.scanned.facts.iter().any(|f| {
            matches!(&f.kind, FactKind::Service { capabilities, .. } if capabilities.iter().any(|c| c == "lb"))
        })
}

async fn run(t: &HostTarget) -> Vec<Fact> {
    let address = t.host.address;
    if !has_lb(t) || !t.inventory.in_scope(address) {
        return vec![];
    }
    let ports = http::http_ports(&t.scanned);
    let client = match http::observing_client(&t.inventory, t.timeout) {
        Ok(c) => c,
        Err(e) => return vec![fact_cannot(None, e)],
    };
    let stats = http::haproxy_stats(&client, &t.limit, address, &ports).await;
    // Frontends: HTTP ports that are not the statistics page nor a
    // monitoring agent.
    let frontends: Vec<(u16, bool)> = ports
        .iter()
        .copied()
        .filter(|(p, _)| stats.as_ref().is_none_or(|(sp, _)| sp != p))
        .filter(|(p, _)| !is_monitoring(t, *p))
        .collect();
    let mut best: Option<(u16, BTreeSet<String>, usize)> = None;
    for (port, tls) in frontends {
        let base = http::base_url(address, port, tls);
        let mut seen = BTreeSet::new();
        let mut answered = 0;
        for _ in 0..REQUESTS {
            let req = Request {
                method: "GET",
                url: format!("{base}/"),
                ..Default::default()
            };
            if let Ok(a) = http::fetch(&client, &t.limit, &req).await {
                answered += 1;
                if let Some(m) = marker(&a) {
                    seen.insert(m);
                }
            }
        }
        if best.as_ref().is_none_or(|(_, s, _)| seen.len() > s.len()) && answered > 0 {
            best = Some((port, seen, answered));
        }
    }
    vec![decide(best, stats.map(|(_, s)| s))]
}

fn is_monitoring(t: &HostTarget, port: u16) -> bool {
    http::scanned_products(&t.scanned, port).iter().any(|id| {
        t.catalog.product(id).is_some_and(|p| {
            p.capabilities
                .iter()
                .any(|c| c == "monitoring" || c == "monitoring.agent")
        })
    })
}

/// The backend an answer came from, if it says.
pub fn marker(a: &Answer) -> Option<String> {
    static BODY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)\b(?:backend|served by|upstream)\s*[:=]\s*([A-Za-z0-9][A-Za-z0-9_.-]{0,40})",
        )
        .expect("valid regex")
    });
    static COOKIE: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"(?i)^\s*SERVERID=([^;]{1,40})").expect("valid regex"));
    let q = |s: &[u8]| untrusted::quote(s, 40);
    for h in BACKEND_HEADERS {
        if let Some(v) = a.header(h) {
            return Some(q(v.trim().as_bytes()));
        }
    }
    if let Some(c) = BODY.captures(&a.body) {
        return Some(q(&c[1]));
    }
    for c in a.headers_all("set-cookie") {
        if let Some(m) = COOKIE.captures(c) {
            return Some(q(m[1].as_bytes()));
        }
    }
    a.header("etag")
        .map(|e| format!("ETag {}", q(e.as_bytes())))
}

fn fact_cannot(port: Option<u16>, reason: String) -> Fact {
    Fact {
        probe: "lb-spread".into(),
        port,
        kind: FactKind::CannotCheck {
            what: "load-balancer spread".into(),
            reason,
        },
    }
}

/// The fact from what was seen: (port, backends seen, answers) and stats.
pub fn decide(
    best: Option<(u16, BTreeSet<String>, usize)>,
    stats: Option<Vec<ServerState>>,
) -> Fact {
    let stats_text = stats.as_ref().map(|s| {
        let up: Vec<&str> = s
            .iter()
            .filter(|x| x.up)
            .map(|x| x.server.as_str())
            .collect();
        let down: Vec<String> = s
            .iter()
            .filter(|x| !x.up)
            .map(|x| format!("{} {}", x.server, x.status))
            .collect();
        let mut t = format!("{}/{} backends UP", up.len(), s.len());
        if !down.is_empty() {
            t.push_str(&format!(" ({})", down.join(", ")));
        }
        (up.len(), t)
    });
    let Some((port, seen, answered)) = best else {
        return match stats_text {
            Some((up, t)) if up < 2 => capability(None, false, format!("HAProxy statistics: {t}")),
            Some((_, t)) => fact_cannot(
                None,
                format!("no frontend answered; HAProxy statistics: {t}"),
            ),
            None => fact_cannot(None, "no HTTP frontend answered".into()),
        };
    };
    let names: Vec<&str> = seen.iter().map(String::as_str).collect();
    let stats_suffix = stats_text
        .as_ref()
        .map(|(_, t)| format!("; HAProxy statistics: {t}"))
        .unwrap_or_default();
    if seen.len() >= 2 {
        return capability(
            Some(port),
            true,
            format!(
                "{answered} requests reached {}{stats_suffix}",
                names.join(", ")
            ),
        );
    }
    let reached = if names.is_empty() {
        format!("{answered} requests, no backend marker in the answers")
    } else {
        format!("{answered} requests reached only {}", names[0])
    };
    match stats_text {
        Some((up, _)) if up < 2 => {
            capability(Some(port), false, format!("{reached}{stats_suffix}"))
        }
        _ => fact_cannot(
            Some(port),
            format!(
                "{reached}{}",
                if stats_suffix.is_empty() {
                    "; no statistics page to tell whether other backends are UP".to_string()
                } else {
                    stats_suffix
                }
            ),
        ),
    }
}

fn capability(port: Option<u16>, present: bool, detail: String) -> Fact {
    Fact {
        probe: "lb-spread".into(),
        port,
        kind: FactKind::Capability {
            name: "lb.spread".into(),
            present,
            detail,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(headers: &[(&str, &str)], body: &str) -> Answer {
        Answer {
            status: 200,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn server(name: &str, up: bool) -> ServerState {
        ServerState {
            backend: "web".into(),
            server: name.into(),
            up,
            status: if up { "UP" } else { "DOWN" }.into(),
        }
    }

    #[test]
    fn markers() {
        assert_eq!(
            marker(&answer(&[("x-backend", "web1")], "")),
            Some("web1".into())
        );
        assert_eq!(
            marker(&answer(&[], "<p>backend: web2</p>")),
            Some("web2".into())
        );
        assert_eq!(
            marker(&answer(&[("set-cookie", "SERVERID=s1; path=/")], "")),
            Some("s1".into())
        );
        assert_eq!(marker(&answer(&[], "hello")), None);
    }

    #[test]
    fn decisions() {
        let two: BTreeSet<String> = ["web1".into(), "web2".into()].into();
        let one: BTreeSet<String> = ["web1".into()].into();
        let present = |f: &Fact| match &f.kind {
            FactKind::Capability { present, .. } => Some(*present),
            _ => None,
        };
        let f = decide(Some((80, two, 12)), None);
        assert_eq!(present(&f), Some(true));
        let f = decide(
            Some((80, one.clone(), 12)),
            Some(vec![server("web1", true), server("web2", false)]),
        );
        assert_eq!(present(&f), Some(false));
        match &f.kind {
            FactKind::Capability { detail, .. } => {
                assert!(detail.contains("1/2 backends UP"), "{detail}")
            }
            _ => unreachable!(),
        }
        // One seen, no stats: not a proof of absence.
        assert_eq!(present(&decide(Some((80, one.clone(), 12)), None)), None);
        // One seen, stats say two UP (sticky sessions?): cannot check either.
        let up2 = vec![server("web1", true), server("web2", true)];
        assert_eq!(present(&decide(Some((80, one, 12)), Some(up2))), None);
    }
}
