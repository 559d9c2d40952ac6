//! The HTTP fingerprint catalog (catalog/http.toml): requests to send to an
//! HTTP(S) port and how to recognise products in the answers. Kept apart
//! from the TCP catalog: its matches name requests, not raw probes.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use regex::bytes::Regex;
use serde::Deserialize;

pub const EMBEDDED: (&str, &str) = ("catalog/http.toml", include_str!("../../catalog/http.toml"));

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestDef {
    pub id: String,
    pub path: String,
    #[serde(default = "get")]
    pub method: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Only on these ports (empty: every HTTP port).
    #[serde(default)]
    pub ports: Vec<u16>,
}

fn get() -> String {
    "GET".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchDef {
    pub request: String,
    /// Accepted statuses (empty: any).
    #[serde(default)]
    pub status: Vec<u16>,
    pub pattern: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductDef {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub open_source: Option<bool>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Added when the port speaks TLS.
    #[serde(default)]
    pub tls_capabilities: Vec<String>,
    #[serde(rename = "match")]
    pub matches: Vec<MatchDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    request: Vec<RequestDef>,
    #[serde(default)]
    product: Vec<ProductDef>,
}

#[derive(Debug, Clone)]
pub struct HttpCatalog {
    pub requests: Vec<RequestDef>,
    pub products: Vec<(ProductDef, Vec<(MatchDef, Regex)>)>,
}

/// A product recognised in an answer.
#[derive(Debug, Clone)]
pub struct HttpIdentified<'a> {
    pub product: &'a ProductDef,
    pub version: Option<String>,
}

static EMBEDDED_CATALOG: LazyLock<HttpCatalog> = LazyLock::new(|| {
    // Tested below: failing here is a build bug.
    HttpCatalog::parse(EMBEDDED.1).unwrap_or_else(|e| panic!("{}: {e}", EMBEDDED.0))
});

impl HttpCatalog {
    pub fn embedded() -> &'static HttpCatalog {
        &EMBEDDED_CATALOG
    }

    pub fn parse(text: &str) -> Result<HttpCatalog, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut ids = HashSet::new();
        for r in &file.request {
            if !ids.insert(r.id.as_str()) {
                return Err(format!("request `{}` is declared twice", r.id));
            }
            if !r.path.starts_with('/') {
                return Err(format!("request `{}`: path must start with /", r.id));
            }
            if !["GET", "POST", "HEAD"].contains(&r.method.as_str()) {
                return Err(format!("request `{}`: method GET, POST or HEAD", r.id));
            }
        }
        let mut products = vec![];
        let mut pids = HashSet::new();
        for p in file.product {
            if !pids.insert(p.id.clone()) {
                return Err(format!("product `{}` is declared twice", p.id));
            }
            for c in p.capabilities.iter().chain(&p.tls_capabilities) {
                if !crate::capability::is_known(c) {
                    return Err(format!("product `{}`: unknown capability `{c}`", p.id));
                }
            }
            let mut compiled = vec![];
            for m in &p.matches {
                if !ids.contains(m.request.as_str()) {
                    return Err(format!(
                        "product `{}`: unknown request `{}`",
                        p.id, m.request
                    ));
                }
                let re = Regex::new(&m.pattern).map_err(|e| format!("product `{}`: {e}", p.id))?;
                compiled.push((m.clone(), re));
            }
            products.push((p, compiled));
        }
        Ok(HttpCatalog {
            requests: file.request,
            products,
        })
    }

    /// Requests worth sending on a port, `root` first.
    pub fn requests_for(&self, port: u16) -> Vec<&RequestDef> {
        let mut v: Vec<&RequestDef> = self
            .requests
            .iter()
            .filter(|r| r.ports.is_empty() || r.ports.contains(&port))
            .collect();
        v.sort_by_key(|r| r.id != "root");
        v
    }

    /// Products recognised in the answer to `request` (one per product).
    pub fn identify(&self, request: &str, status: u16, answer: &[u8]) -> Vec<HttpIdentified<'_>> {
        let mut out = vec![];
        for (p, matches) in &self.products {
            for (m, re) in matches {
                if m.request != request || (!m.status.is_empty() && !m.status.contains(&status)) {
                    continue;
                }
                if let Some(c) = re.captures(answer) {
                    out.push(HttpIdentified {
                        product: p,
                        version: c
                            .name("version")
                            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
                    });
                    break;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &str, body: &str) -> Vec<u8> {
        format!("HTTP/1.1 {status}\r\n{headers}\r\n\r\n{body}").into_bytes()
    }

    #[test]
    fn embedded_catalog_loads() {
        let c = HttpCatalog::embedded();
        assert!(c.requests.len() > 10);
        assert_eq!(c.requests_for(80)[0].id, "root");
        assert!(
            !c.requests_for(80)
                .iter()
                .any(|r| r.id == "veeam-serverinfo")
        );
    }

    #[test]
    fn fingerprints_from_documented_answers() {
        let c = HttpCatalog::embedded();
        let id = |req: &str, a: &[u8], status: u16| {
            c.identify(req, status, a)
                .into_iter()
                .map(|i| (i.product.id.clone(), i.version))
                .collect::<Vec<_>>()
        };
        // Nextcloud status.php, as documented by Nextcloud.
        let nc = answer(
            200,
            "Content-Type: application/json",
            r#"{"installed":true,"maintenance":false,"needsDbUpgrade":false,"version":"28.0.1.1","versionstring":"28.0.1","edition":"","productname":"Nextcloud","extendedSupport":false}"#,
        );
        assert_eq!(
            id("status-php", &nc, 200),
            vec![("nextcloud".into(), Some("28.0.1".into()))]
        );
        let glpi = answer(200, "Content-Type: text/plain", "GLPI_OK\n");
        assert_eq!(id("status-php", &glpi, 200)[0].0, "glpi");
        let nagios = answer(401, "WWW-Authenticate: Basic realm=\"Nagios Access\"", "");
        assert_eq!(id("nagios4", &nagios, 401)[0].0, "nagios");
        let zbx = answer(
            200,
            "Content-Type: application/json",
            r#"{"jsonrpc":"2.0","result":"7.0.5","id":1}"#,
        );
        assert_eq!(
            id("zabbix-api", &zbx, 200),
            vec![("zabbix-web".into(), Some("7.0.5".into()))]
        );
        let gitea = answer(
            200,
            "Content-Type: application/json",
            r#"{"version":"1.22.3"}"#,
        );
        assert_eq!(
            id("gitea-version", &gitea, 200),
            vec![("gitea".into(), Some("1.22.3".into()))]
        );
        let jenkins = answer(403, "X-Jenkins: 2.479.1\r\nServer: Jetty(12.0.13)", "");
        assert_eq!(
            id("root", &jenkins, 403),
            vec![("jenkins".into(), Some("2.479.1".into()))]
        );
        // Debian 12 nagios4-cgi: /nagios4/ open to private addresses (htdocs/index.php).
        let nagios = answer(
            200,
            "Content-Type: text/html",
            "<html><head><title>Nagios: mon.lab.test</title>",
        );
        assert_eq!(id("nagios4", &nagios, 200)[0].0, "nagios");
        let webmin = answer(200, "Server: MiniServ/2.105", "");
        assert_eq!(id("root", &webmin, 200)[0].0, "webmin");
        // A 404 of a status.php-less server recognises nothing.
        assert!(id("status-php", &answer(404, "Server: nginx", "GLPI_OK"), 404).is_empty());
    }

    #[test]
    fn bad_catalogs_are_refused() {
        assert!(HttpCatalog::parse("[[request]]\nid='a'\npath='x'\n").is_err());
        assert!(
            HttpCatalog::parse(
                "[[product]]\nid='p'\nname='P'\nmatch=[{request='nope', pattern='x'}]\n"
            )
            .is_err()
        );
        assert!(HttpCatalog::parse("[[request]]\nid='a'\npath='/'\n[[product]]\nid='p'\nname='P'\ncapabilities=['bogus']\nmatch=[{request='a', pattern='x'}]\n").is_err());
        assert!(HttpCatalog::parse("[[request]]\nid='a'\npath='/'\nbogus=1\n").is_err());
    }
}
