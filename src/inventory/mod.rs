//! The inventory: loading (format v1), secret references, and a validation
//! pass that reports every problem with its position.

mod model;
pub mod secret;

pub use model::*;
pub use secret::{Secret, SecretError, SecretRef};

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use ipnet::IpNet;
use toml::Spanned;
use toml::de::DeValue;

use crate::diag::{self, Code, Diagnostics, Source};

const TOP_LEVEL: &[&str] = &[
    "lab",
    "zone",
    "host",
    "credentials",
    "resource",
    "application",
    "flow",
    "attest",
];

/// Loads and validates an inventory file. `known_ids` are the requirement
/// ids attestations may name.
pub fn load(path: &Path, known_ids: &[String]) -> Result<Inventory, Diagnostics> {
    let (inv, diags) = load_with_diagnostics(path, known_ids);
    match inv {
        Some(i) if !diags.has_errors() => Ok(i),
        _ => Err(diags),
    }
}

/// Loads an inventory and returns every diagnostic, warnings included.
pub fn load_with_diagnostics(
    path: &Path,
    known_ids: &[String],
) -> (Option<Inventory>, Diagnostics) {
    let mut src = match Source::read(path) {
        Ok(s) => s,
        Err(d) => return (None, d),
    };
    let inv = parse(&mut src, known_ids);
    (inv, src.diags)
}

/// Parses from text (used by `load` and by tests).
pub fn parse(src: &mut Source, known_ids: &[String]) -> Option<Inventory> {
    let text = src.text.clone();
    let root = src.parse(&text)?;
    let root_value = Spanned::new(root.span(), DeValue::Table(root.get_ref().clone()));
    for (k, _) in root.get_ref().iter() {
        let name = k.get_ref().as_ref();
        if !TOP_LEVEL.contains(&name) {
            src.error(
                Code::UnknownKey,
                Some(k.span()),
                format!("unknown top-level key `{name}` in an inventory"),
                Some(format!("an inventory has {}", TOP_LEVEL.join(", "))),
            );
        }
    }
    report_inline_secrets(src, &root_value, "");

    let lab = match diag::get(root.get_ref(), "lab") {
        // An invalid [lab] must not hide the file's other problems: go on
        // with what can be read of it; the error already makes the file invalid.
        Some(v) => src
            .deserialize::<Lab>(v, "[lab]")
            .or_else(|| Some(lenient_lab(v))),
        None => {
            src.error(
                Code::InvalidValue,
                Some(0..0),
                "missing [lab] table (name, scope)",
                Some("start the file with [lab] name = \"…\" scope = [\"198.18.10.0/24\"]".into()),
            );
            None
        }
    };
    let zones = items::<Zone>(src, &root_value, "zone");
    let hosts = items::<Host>(src, &root_value, "host");
    let resources = items::<Resource>(src, &root_value, "resource");
    let applications = items::<Application>(src, &root_value, "application");
    let flows = items::<Flow>(src, &root_value, "flow");
    let attestations = items::<Attestation>(src, &root_value, "attest");
    let mut credentials = Credentials::default();
    if let Some(c) = diag::get(root.get_ref(), "credentials") {
        match c.get_ref() {
            DeValue::Table(t) => {
                for (k, v) in t.iter() {
                    let name = k.get_ref().to_string();
                    if let Some(cred) =
                        src.deserialize::<Credential>(v, &format!("[credentials.{name}]"))
                    {
                        let inline = match v.get_ref() {
                            DeValue::Table(t) => t.iter().any(|(k, _)| {
                                secret::INLINE_SECRET_KEYS.contains(&k.get_ref().as_ref())
                            }),
                            _ => false,
                        };
                        if !cred.any_secret_given() && !inline {
                            src.error(
                                Code::InvalidValue,
                                Some(k.span()),
                                format!("[credentials.{name}] gives no secret reference"),
                                Some(
                                    "add password_env = \"VAR\" or password_file = \"path\"".into(),
                                ),
                            );
                        }
                        credentials.0.push((name, cred));
                    }
                }
            }
            _ => src.error(
                Code::InvalidValue,
                Some(c.span()),
                "`credentials` must be a table of [credentials.NAME] tables",
                None,
            ),
        }
    }

    let lab = lab?;
    let inv = Inventory {
        path: Some(src.path.clone()),
        lab,
        zones: zones.iter().map(|(z, _)| z.clone()).collect(),
        hosts: hosts.iter().map(|(h, _)| h.clone()).collect(),
        credentials,
        resources: resources.iter().map(|(r, _)| r.clone()).collect(),
        applications: applications.iter().map(|(a, _)| a.clone()).collect(),
        flows: flows.iter().map(|(f, _)| f.clone()).collect(),
        attestations: attestations.iter().map(|(a, _)| a.clone()).collect(),
    };
    let spans = Spans {
        lab: diag::get(root.get_ref(), "lab").cloned(),
        zones,
        hosts,
        resources,
        applications,
        flows,
        attestations,
    };
    validate(src, &inv, &spans, known_ids);
    Some(inv)
}

/// The readable part of an invalid `[lab]`: valid scope entries only.
fn lenient_lab(v: &Spanned<DeValue<'_>>) -> Lab {
    let DeValue::Table(t) = v.get_ref() else {
        return Lab {
            name: String::new(),
            option: None,
            domain: None,
            dns: vec![],
            scope: vec![],
            ca: None,
        };
    };
    let strings = |key: &str| -> Vec<String> {
        match diag::get(t, key).map(|v| v.get_ref()) {
            Some(DeValue::Array(a)) => a
                .iter()
                .filter_map(|x| x.get_ref().as_str().map(str::to_string))
                .collect(),
            _ => vec![],
        }
    };
    Lab {
        name: diag::get(t, "name")
            .and_then(|v| v.get_ref().as_str())
            .unwrap_or_default()
            .to_string(),
        option: None,
        domain: None,
        dns: strings("dns")
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect(),
        scope: strings("scope")
            .iter()
            .filter_map(|s| parse_net(s).ok())
            .collect(),
        ca: None,
    }
}

/// Each item with the spanned value it came from, for positions.
struct Spans<'t> {
    lab: Option<Spanned<DeValue<'t>>>,
    zones: Vec<(Zone, &'t Spanned<DeValue<'t>>)>,
    hosts: Vec<(Host, &'t Spanned<DeValue<'t>>)>,
    resources: Vec<(Resource, &'t Spanned<DeValue<'t>>)>,
    applications: Vec<(Application, &'t Spanned<DeValue<'t>>)>,
    flows: Vec<(Flow, &'t Spanned<DeValue<'t>>)>,
    attestations: Vec<(Attestation, &'t Spanned<DeValue<'t>>)>,
}

fn items<'a, 't, T: serde::de::DeserializeOwned>(
    src: &mut Source,
    root: &'a Spanned<DeValue<'t>>,
    key: &str,
) -> Vec<(T, &'a Spanned<DeValue<'t>>)> {
    crate::profile::array(root, key, src)
        .into_iter()
        .filter_map(|v| {
            src.deserialize::<T>(v, &format!("[[{key}]]"))
                .map(|t| (t, v))
        })
        .collect()
}

fn report_inline_secrets(src: &mut Source, v: &Spanned<DeValue<'_>>, path: &str) {
    match v.get_ref() {
        DeValue::Table(t) => {
            for (k, child) in t.iter() {
                let name = k.get_ref().as_ref();
                let here = if path.is_empty() {
                    name.to_string()
                } else {
                    format!("{path}.{name}")
                };
                if secret::INLINE_SECRET_KEYS.contains(&name) {
                    src.error(
                        Code::InlineSecret,
                        Some(k.span()),
                        format!("`{here}` writes a secret inline; secrets are only given by reference"),
                        Some(format!("replace it with `{name}_env = \"VARIABLE\"` or `{name}_file = \"path\"` (for passwords: password_env / password_file)")),
                    );
                } else {
                    report_inline_secrets(src, child, &here);
                }
            }
        }
        DeValue::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                report_inline_secrets(src, child, &format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
}

fn validate(src: &mut Source, inv: &Inventory, sp: &Spans<'_>, known_ids: &[String]) {
    let lab_span = sp.lab.as_ref().map(|l| diag::value_span(l, "scope"));
    if inv.lab.scope.is_empty() {
        src.error(
            Code::InvalidValue,
            lab_span.clone(),
            "[lab] declares no scope: nothing could be probed",
            Some("add scope = [\"198.18.10.0/24\", …]: the networks labcheck may probe".into()),
        );
    }
    if let Some(opt) = &inv.lab.option
        && !crate::profile::SELECTABLE.contains(&opt.as_str())
    {
        let span = sp.lab.as_ref().map(|l| diag::value_span(l, "option"));
        src.error(
            Code::InvalidValue,
            span,
            format!("unknown option `{opt}`"),
            Some("option is \"sisr\" or \"slam\"".into()),
        );
    }
    for (i, dns) in inv.lab.dns.iter().enumerate() {
        if !inv.in_scope(*dns) {
            let span = sp
                .lab
                .as_ref()
                .and_then(|l| diag::span_at(l, &format!("dns.{i}")));
            src.error(
                Code::OutOfScope,
                span,
                format!("resolver {dns} is outside the lab's scope"),
                Some("add its network to [lab] scope, or use the lab's own resolver".into()),
            );
        }
    }

    if let Some(ca) = &inv.lab.ca
        && !resolve_path(src, ca).exists()
    {
        let span = sp.lab.as_ref().map(|l| diag::value_span(l, "ca"));
        src.warning(
            Code::MissingFile,
            span,
            format!("CA file {} does not exist (yet)", ca.display()),
            Some("TLS chains will be reported as not verifiable".into()),
        );
    }

    let mut zone_names = HashSet::new();
    for (z, v) in &sp.zones {
        if !zone_names.insert(z.name.as_str()) {
            src.error(
                Code::Duplicate,
                Some(diag::value_span(v, "name")),
                format!("zone `{}` is declared twice", z.name),
                None,
            );
        }
        if !inv.lab.scope.iter().any(|s| s.contains(&z.cidr)) {
            src.warning(
                Code::OutOfScope,
                Some(diag::value_span(v, "cidr")),
                format!(
                    "zone `{}` ({}) is not inside the scope: its hosts cannot be probed",
                    z.name, z.cidr
                ),
                None,
            );
        }
    }

    let mut host_names = HashSet::new();
    let mut addresses = HashSet::new();
    for (h, v) in &sp.hosts {
        if !host_names.insert(h.name.as_str()) {
            src.error(
                Code::Duplicate,
                Some(diag::value_span(v, "name")),
                format!("host `{}` is declared twice", h.name),
                Some("host names must be unique".into()),
            );
        }
        if !addresses.insert(h.address) {
            src.warning(
                Code::Duplicate,
                Some(diag::value_span(v, "address")),
                format!("address {} is used by more than one host", h.address),
                None,
            );
        }
        if !inv.in_scope(h.address) {
            src.error(
                Code::OutOfScope,
                Some(diag::value_span(v, "address")),
                format!(
                    "host `{}` ({}) is outside the lab's scope and would not be probed",
                    h.name, h.address
                ),
                Some(format!(
                    "add its network to [lab] scope, or correct the address (scope: {})",
                    join(&inv.lab.scope)
                )),
            );
        }
        match &h.zone {
            Some(zone) => match inv.zones.iter().find(|z| &z.name == zone) {
                None => src.error(
                    Code::UnknownReference,
                    Some(diag::value_span(v, "zone")),
                    format!("host `{}` names unknown zone `{zone}`", h.name),
                    Some(format!(
                        "declared zones: {}",
                        inv.zones
                            .iter()
                            .map(|z| z.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                ),
                Some(z) if !z.cidr.contains(&h.address) => src.warning(
                    Code::Suspicious,
                    Some(diag::value_span(v, "address")),
                    format!(
                        "host `{}` ({}) is not inside its zone `{}` ({})",
                        h.name, h.address, z.name, z.cidr
                    ),
                    None,
                ),
                _ => {}
            },
            None if !inv.zones.is_empty() => {
                src.warning(
                    Code::Suspicious,
                    Some(v.span()),
                    format!("host `{}` has no zone", h.name),
                    Some("set zone = \"…\" so perimeters can be checked".into()),
                );
            }
            None => {}
        }
        if let Some(ssh) = &h.ssh {
            let sv = diag::get(table(v), "ssh");
            for (key, file) in [
                ("key", &ssh.key),
                ("known_hosts", &ssh.known_hosts),
                ("password_file", &ssh.password_file),
            ] {
                if let Some(f) = file
                    && !resolve_path(src, f).exists()
                {
                    let span = sv.map(|s| diag::value_span(s, key));
                    src.warning(
                        Code::MissingFile,
                        span,
                        format!(
                            "ssh {key} file {} of host `{}` does not exist (yet)",
                            f.display(),
                            h.name
                        ),
                        None,
                    );
                }
            }
            if ssh.key.is_none() && !ssh.secret().is_given() {
                src.warning(
                    Code::Suspicious,
                    sv.map(|s| s.span()),
                    format!(
                        "ssh access of host `{}` has neither a key nor a password reference",
                        h.name
                    ),
                    Some("the SSH agent will be tried; add key = \"path\" to be explicit".into()),
                );
            }
        }
    }

    for (r, v) in &sp.resources {
        check_url(
            src,
            inv,
            &r.url,
            diag::value_span(v, "url"),
            &format!("resource `{}`", r.name),
        );
        if let Some(acc) = &r.account
            && !acc.secret().is_given()
        {
            src.error(
                Code::InvalidValue,
                Some(diag::value_span(v, "account")),
                format!(
                    "the account of resource `{}` gives no password reference",
                    r.name
                ),
                Some("account = { user = \"alice\", password_env = \"VAR\" }".into()),
            );
        }
    }
    for (a, v) in &sp.applications {
        for (key, url) in [
            ("url", &a.url),
            ("api", &a.api),
            ("repository", &a.repository),
        ] {
            if let Some(u) = url {
                check_url(
                    src,
                    inv,
                    u,
                    diag::value_span(v, key),
                    &format!("application `{}`", a.name),
                );
            }
        }
        if let Some(host) = &a.host
            && inv.host(host).is_none()
        {
            src.error(
                Code::UnknownReference,
                Some(diag::value_span(v, "host")),
                format!("application `{}` names unknown host `{host}`", a.name),
                None,
            );
        }
        for s in &a.situations {
            if !["thick-client", "browser", "mobile", "server"].contains(&s.as_str()) {
                src.error(
                    Code::InvalidValue,
                    Some(diag::value_span(v, "situations")),
                    format!("unknown situation `{s}`"),
                    Some("situations are thick-client, browser, mobile, server".into()),
                );
            }
        }
    }
    for (f, v) in &sp.flows {
        match inv.host(&f.from) {
            None => src.error(
                Code::UnknownReference,
                Some(diag::value_span(v, "from")),
                format!("flow from unknown host `{}`", f.from),
                None,
            ),
            Some(h) if h.ssh.is_none() => src.warning(
                Code::Suspicious,
                Some(diag::value_span(v, "from")),
                format!(
                    "flow from `{}`, which has no ssh access: it cannot be tested from there",
                    f.from
                ),
                Some("add ssh = { user = …, key = … } to that host".into()),
            ),
            _ => {}
        }
        match parse_target(&f.to, inv) {
            Ok((addr, _)) if !inv.in_scope(addr) => src.error(
                Code::OutOfScope,
                Some(diag::value_span(v, "to")),
                format!("flow target {} is outside the lab's scope", f.to),
                None,
            ),
            Ok(_) => {}
            Err(e) => src.error(
                Code::InvalidValue,
                Some(diag::value_span(v, "to")),
                e,
                Some("write to = \"host:port\" or \"address:port\"".into()),
            ),
        }
    }
    let mut attested = HashSet::new();
    for (a, v) in &sp.attestations {
        if !known_ids.is_empty() && !known_ids.contains(&a.id) {
            let hint = closest(&a.id, known_ids)
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| "see `labcheck profiles list`".into());
            src.error(
                Code::UnknownReference,
                Some(diag::value_span(v, "id")),
                format!("attestation for unknown requirement `{}`", a.id),
                Some(hint),
            );
        }
        if !attested.insert(a.id.as_str()) {
            src.error(
                Code::Duplicate,
                Some(diag::value_span(v, "id")),
                format!("`{}` is attested twice", a.id),
                None,
            );
        }
        if jiff::civil::Date::strptime("%Y-%m-%d", &a.date).is_err() {
            src.error(
                Code::InvalidValue,
                Some(diag::value_span(v, "date")),
                format!("date `{}` is not YYYY-MM-DD", a.date),
                None,
            );
        }
        for (key, val) in [("by", &a.by), ("evidence", &a.evidence)] {
            if val.trim().is_empty() {
                src.error(
                    Code::InvalidValue,
                    Some(diag::value_span(v, key)),
                    format!("attestation `{}` has an empty `{key}`", a.id),
                    Some("say who attests and what evidence backs it".into()),
                );
            }
        }
    }
}

fn table<'a, 't>(v: &'a Spanned<DeValue<'t>>) -> &'a toml::de::DeTable<'t> {
    match v.get_ref() {
        DeValue::Table(t) => t,
        _ => unreachable!("items are tables: they deserialized into structs"),
    }
}

/// Relative paths in an inventory are relative to the inventory's folder.
pub fn resolve_path(src: &Source, p: &Path) -> std::path::PathBuf {
    if p.is_absolute() {
        return p.to_path_buf();
    }
    src.path
        .parent()
        .map(|d| d.join(p))
        .unwrap_or_else(|| p.to_path_buf())
}

fn check_url(
    src: &mut Source,
    inv: &Inventory,
    raw: &str,
    span: std::ops::Range<usize>,
    what: &str,
) {
    match url::Url::parse(raw) {
        Err(e) => src.error(
            Code::InvalidValue,
            Some(span),
            format!("{what}: `{raw}` is not a URL ({e})"),
            None,
        ),
        Ok(u) => {
            let addr = match u.host() {
                Some(url::Host::Ipv4(a)) => Some(IpAddr::V4(a)),
                Some(url::Host::Ipv6(a)) => Some(IpAddr::V6(a)),
                Some(url::Host::Domain(d)) => inv.host(d).map(|h| h.address),
                None => None,
            };
            if let Some(a) = addr
                && !inv.in_scope(a)
            {
                src.error(
                    Code::OutOfScope,
                    Some(span),
                    format!("{what}: {raw} points outside the lab's scope"),
                    None,
                );
            }
        }
    }
}

/// `host:port` or `address:port` → address and port.
pub fn parse_target(to: &str, inv: &Inventory) -> Result<(IpAddr, u16), String> {
    let (h, p) = to
        .rsplit_once(':')
        .ok_or_else(|| format!("`{to}` has no port"))?;
    let port: u16 = p
        .parse()
        .map_err(|_| format!("`{p}` is not a port number in `{to}`"))?;
    let h = h.trim_start_matches('[').trim_end_matches(']');
    if let Ok(a) = h.parse::<IpAddr>() {
        return Ok((a, port));
    }
    inv.host(h)
        .map(|x| (x.address, port))
        .ok_or_else(|| format!("`{h}` in `{to}` is neither a declared host nor an address"))
}

fn join(nets: &[IpNet]) -> String {
    nets.iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The known id nearest to a misspelt one (edit distance ≤ 3).
fn closest<'a>(id: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (levenshtein(id, k), k))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The embedded default: this machine alone, over loopback, with local facts.
pub fn local_default(option: &str) -> Inventory {
    let hostname = sysinfo::System::host_name().unwrap_or_else(|_| "localhost".into());
    Inventory {
        path: None,
        lab: Lab {
            name: format!("{hostname} (local machine)"),
            option: Some(option.to_string()),
            domain: None,
            dns: vec![],
            scope: vec!["127.0.0.0/8".parse().expect("valid CIDR")],
            ca: None,
        },
        zones: vec![],
        hosts: vec![Host {
            name: hostname,
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            zone: None,
            roles: vec![],
            ssh: None,
            ports: vec![],
            local: true,
        }],
        credentials: Credentials::default(),
        resources: vec![],
        applications: vec![],
        flows: vec![],
        attestations: vec![],
    }
}

#[cfg(test)]
mod tests;
