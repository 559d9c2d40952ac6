//! The catalog: product fingerprints as data, in the spirit of nmap's
//! service-probe file but small and readable. A `[[probe]]` says what to send
//! to a port; a `[[product]]` says how to recognise an answer and what the
//! product provides; an `[[os_signal]]` says what an answer tells of the OS.

use std::collections::HashSet;
use std::path::Path;

use regex::bytes::Regex;
use serde::{Deserialize, Serialize};
use toml::de::DeValue;

use crate::diag::{self, Code, Diagnostics, Source};
use crate::facts::{OsFamily, Strength};

/// Catalog files shipped in the binary.
pub const EMBEDDED: &[(&str, &str)] =
    &[("catalog/tcp.toml", include_str!("../../catalog/tcp.toml"))];

/// What to send on a fresh TCP connection (nothing: read the banner).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ProbeDef {
    pub id: String,
    #[serde(default)]
    pub description: String,
    /// Text to send; `{address}` and `{version}` are substituted; `\r\n` escapes are TOML's.
    #[serde(default)]
    pub send: Option<String>,
    /// Bytes to send, as hex (for binary protocols).
    #[serde(default)]
    pub send_hex: Option<String>,
    /// Ports where this probe is tried.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// Also try it on ports no probe claims (local listening ports).
    #[serde(default)]
    pub fallback: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MatchDef {
    pub probe: String,
    /// Regex over the raw answer (bytes). A `version` named group, when
    /// present, gives the version.
    pub pattern: String,
    /// Only trust the match on these ports (empty: any port).
    #[serde(default)]
    pub ports: Vec<u16>,
    /// Turns the bytes of the `version` group into text (see decode.rs),
    /// for versions a binary protocol carries as numbers.
    #[serde(default)]
    pub version_decoder: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ProductDef {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub open_source: Option<bool>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(rename = "match")]
    pub matches: Vec<MatchDef>,
    /// A catch-all ("some web server"): the port's other probes are still
    /// tried, and a specific product found by them wins.
    #[serde(default)]
    pub generic: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OsSignalDef {
    pub probe: String,
    pub pattern: String,
    /// The signal does not count when the answer also matches this (an
    /// imitation: Samba answering like Active Directory).
    #[serde(default)]
    pub unless: Option<String>,
    pub family: OsFamily,
    /// Distribution or edition (`debian`, `ubuntu`, `windows-server`).
    #[serde(default)]
    pub name: Option<String>,
    /// Regex group `version` of `pattern` when present.
    #[serde(default = "weak")]
    pub strength: Strength,
}

fn weak() -> Strength {
    Strength::Weak
}

/// A compiled catalog.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub probes: Vec<ProbeDef>,
    pub products: Vec<Product>,
    pub os_signals: Vec<OsSignal>,
}

#[derive(Debug, Clone)]
pub struct Product {
    pub def: ProductDef,
    pub matches: Vec<(MatchDef, Regex)>,
}

#[derive(Debug, Clone)]
pub struct OsSignal {
    pub def: OsSignalDef,
    pub regex: Regex,
    pub unless: Option<Regex>,
}

/// A recognised product.
#[derive(Debug, Clone)]
pub struct Identified<'a> {
    pub product: &'a ProductDef,
    pub version: Option<String>,
}

/// An OS signal found in an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct OsHint {
    pub family: OsFamily,
    pub name: Option<String>,
    pub version: Option<String>,
    pub strength: Strength,
}

impl Catalog {
    /// The embedded catalog. It is tested, so failing here is a build bug.
    pub fn embedded() -> Catalog {
        let (cat, diags) =
            Catalog::load_sources(EMBEDDED.iter().map(|(p, t)| Source::new(*p, *t)).collect());
        assert!(!diags.has_errors(), "embedded catalog is invalid:\n{diags}");
        cat
    }

    pub fn lint_file(path: &Path) -> Diagnostics {
        match Source::read(path) {
            Ok(src) => Catalog::load_sources(vec![src]).1,
            Err(d) => d,
        }
    }

    fn load_sources(sources: Vec<Source>) -> (Catalog, Diagnostics) {
        let mut cat = Catalog::default();
        let mut all = Diagnostics::default();
        for mut src in sources {
            cat.parse_into(&mut src);
            all.extend(src.diags);
        }
        (cat, all)
    }

    fn parse_into(&mut self, src: &mut Source) {
        let text = src.text.clone();
        let Some(root) = src.parse(&text) else { return };
        let root_value = toml::Spanned::new(root.span(), DeValue::Table(root.get_ref().clone()));
        for (k, _) in root.get_ref().iter() {
            let name = k.get_ref().as_ref();
            if !["probe", "product", "os_signal"].contains(&name) {
                src.error(
                    Code::UnknownKey,
                    Some(k.span()),
                    format!("unknown top-level key `{name}` in a catalog"),
                    Some("a catalog has [[probe]], [[product]] and [[os_signal]]".into()),
                );
            }
        }
        for v in crate::profile::array(&root_value, "probe", src) {
            if let Some(p) = src.deserialize::<ProbeDef>(v, "[[probe]]") {
                if let Some(hex) = &p.send_hex
                    && decode_hex(hex).is_none()
                {
                    src.error(
                        Code::InvalidValue,
                        Some(diag::value_span(v, "send_hex")),
                        format!("probe `{}`: send_hex is not hexadecimal", p.id),
                        None,
                    );
                }
                self.probes.push(p);
            }
        }
        let probe_ids: HashSet<String> = self.probes.iter().map(|p| p.id.clone()).collect();
        for v in crate::profile::array(&root_value, "product", src) {
            let Some(def) = src.deserialize::<ProductDef>(v, "[[product]]") else {
                continue;
            };
            let mut matches = Vec::new();
            for (i, m) in def.matches.iter().enumerate() {
                let span = diag::span_at(v, &format!("match.{i}")).or(Some(v.span()));
                if !probe_ids.contains(&m.probe) {
                    src.error(
                        Code::UnknownReference,
                        span.clone(),
                        format!(
                            "product `{}` matches on unknown probe `{}`",
                            def.id, m.probe
                        ),
                        None,
                    );
                }
                if let Some(d) = &m.version_decoder
                    && !decode::DECODERS.contains(&d.as_str())
                {
                    src.error(
                        Code::InvalidValue,
                        span.clone(),
                        format!("product `{}`: unknown version_decoder `{d}`", def.id),
                        Some(format!("known decoders: {}", decode::DECODERS.join(", "))),
                    );
                }
                match Regex::new(&m.pattern) {
                    Ok(r) => matches.push((m.clone(), r)),
                    Err(e) => src.error(
                        Code::InvalidPattern,
                        span,
                        format!("product `{}`: {}", def.id, first_line(&e.to_string())),
                        None,
                    ),
                }
            }
            for c in &def.capabilities {
                if !crate::capability::is_known(c) {
                    src.error(
                        Code::UnknownReference,
                        Some(diag::value_span(v, "capabilities")),
                        format!("product `{}` provides unknown capability `{c}`", def.id),
                        Some("see src/capability.rs for the vocabulary".into()),
                    );
                }
            }
            if self.products.iter().any(|p| p.def.id == def.id) {
                src.error(
                    Code::Duplicate,
                    Some(diag::value_span(v, "id")),
                    format!("product `{}` is declared twice", def.id),
                    None,
                );
            }
            self.products.push(Product { def, matches });
        }
        for v in crate::profile::array(&root_value, "os_signal", src) {
            let Some(def) = src.deserialize::<OsSignalDef>(v, "[[os_signal]]") else {
                continue;
            };
            let unless = match def.unless.as_deref().map(Regex::new) {
                None => None,
                Some(Ok(r)) => Some(r),
                Some(Err(e)) => {
                    src.error(
                        Code::InvalidPattern,
                        Some(diag::value_span(v, "unless")),
                        first_line(&e.to_string()),
                        None,
                    );
                    continue;
                }
            };
            match Regex::new(&def.pattern) {
                Ok(regex) => self.os_signals.push(OsSignal { def, regex, unless }),
                Err(e) => src.error(
                    Code::InvalidPattern,
                    Some(diag::value_span(v, "pattern")),
                    first_line(&e.to_string()),
                    None,
                ),
            }
        }
    }

    pub fn probe(&self, id: &str) -> Option<&ProbeDef> {
        self.probes.iter().find(|p| p.id == id)
    }

    pub fn product(&self, id: &str) -> Option<&ProductDef> {
        self.products
            .iter()
            .find(|p| p.def.id == id)
            .map(|p| &p.def)
    }

    /// TCP ports some probe is declared for, in catalog order, deduplicated.
    pub fn tcp_ports(&self) -> Vec<u16> {
        let mut seen = HashSet::new();
        self.probes
            .iter()
            .flat_map(|p| p.ports.iter().copied())
            .filter(|p| seen.insert(*p))
            .collect()
    }

    /// Probes to try on a port, most specific first. A port no probe claims
    /// gets the fallback probes (banner first, then generic requests).
    pub fn probes_for_port(&self, port: u16) -> Vec<&ProbeDef> {
        let claimed: Vec<&ProbeDef> = self
            .probes
            .iter()
            .filter(|p| p.ports.contains(&port))
            .collect();
        if claimed.is_empty() {
            self.probes.iter().filter(|p| p.fallback).collect()
        } else {
            claimed
        }
    }

    /// The first product whose fingerprint matches an answer.
    pub fn identify(&self, probe: &str, port: u16, answer: &[u8]) -> Option<Identified<'_>> {
        for p in &self.products {
            for (m, re) in &p.matches {
                if m.probe != probe || (!m.ports.is_empty() && !m.ports.contains(&port)) {
                    continue;
                }
                if let Some(caps) = re.captures(answer) {
                    let version = caps.name("version").and_then(|v| match &m.version_decoder {
                        Some(d) => decode::decode(d, v.as_bytes()),
                        None => Some(String::from_utf8_lossy(v.as_bytes()).into_owned()),
                    });
                    return Some(Identified {
                        product: &p.def,
                        version,
                    });
                }
            }
        }
        None
    }

    /// Every OS signal an answer carries.
    pub fn os_hints(&self, probe: &str, answer: &[u8]) -> Vec<OsHint> {
        self.os_signals
            .iter()
            .filter(|s| s.def.probe == probe)
            .filter(|s| !s.unless.as_ref().is_some_and(|u| u.is_match(answer)))
            .filter_map(|s| {
                s.regex.captures(answer).map(|c| OsHint {
                    family: s.def.family,
                    name: s.def.name.clone(),
                    version: c
                        .name("version")
                        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
                    strength: s.def.strength,
                })
            })
            .collect()
    }

    /// Every capability some product provides (for documentation).
    pub fn capabilities(&self) -> HashSet<&str> {
        self.products
            .iter()
            .flat_map(|p| p.def.capabilities.iter().map(String::as_str))
            .collect()
    }
}

impl ProbeDef {
    /// The bytes to send, with placeholders filled.
    pub fn payload(&self, address: &str) -> Vec<u8> {
        if let Some(hex) = &self.send_hex {
            return decode_hex(hex).unwrap_or_default();
        }
        match &self.send {
            Some(s) => s
                .replace("{address}", address)
                .replace("{version}", env!("CARGO_PKG_VERSION"))
                .into_bytes(),
            None => Vec::new(),
        }
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn first_line(s: &str) -> String {
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

pub mod decode;
pub mod http;
#[cfg(test)]
mod tests;
