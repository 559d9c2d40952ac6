//! `--format text`: the terminal report, grouped by section.
//!
//! Every line reads without colour (a mark *and* a status word); ANSI codes
//! are added only when the caller asks for colour (NO_COLOR and isatty are
//! the caller's business). Every dynamic string goes through
//! [`escape::terminal`], so nothing from the lab can emit an escape
//! sequence of its own.
//!
//! This file also holds the small presentation helpers the other formats
//! share (section order, status marks, dates and durations).

use std::fmt::Write as _;

use super::escape::terminal as t;
use super::{AuditReport, GroupReport, HostReport, RequirementReport};
use crate::evaluate::{Evidence, Overall, Status};
use crate::i18n::Lang;
use crate::tr;

// ---------------------------------------------------------------------------
// Shared helpers

/// One section of the report (`1.1`, `2.2`, …) with what belongs to it.
pub(super) struct Section<'a> {
    pub name: &'a str,
    pub requirements: Vec<&'a RequirementReport>,
    pub groups: Vec<&'a GroupReport>,
}

/// Sections in the order they first appear in the report (requirements
/// first, then groups whose section has no requirement).
pub(super) fn sections(report: &AuditReport) -> Vec<Section<'_>> {
    let mut out: Vec<Section<'_>> = Vec::new();
    fn slot<'a, 'b>(out: &'b mut Vec<Section<'a>>, name: &'a str) -> &'b mut Section<'a> {
        let i = match out.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                out.push(Section {
                    name,
                    requirements: Vec::new(),
                    groups: Vec::new(),
                });
                out.len() - 1
            }
        };
        &mut out[i]
    }
    for r in &report.requirements {
        slot(&mut out, &r.section).requirements.push(r);
    }
    for g in &report.groups {
        slot(&mut out, &g.section).groups.push(g);
    }
    out
}

/// The mark shown before a status word.
pub(super) fn mark(status: Status) -> &'static str {
    match status {
        Status::Conform => "✔",
        Status::NonConform => "✘",
        Status::CannotVerify => "?",
        Status::Attested => "✎",
    }
}

/// `12.3 s`, `850 ms`, `2 min 05 s` (decimal comma in French).
pub(super) fn duration(ms: u64, lang: Lang) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        let s = format!("{:.1}", ms as f64 / 1000.0);
        let s = if lang == Lang::Fr {
            s.replace('.', ",")
        } else {
            s
        };
        format!("{s} s")
    } else {
        let secs = ms / 1000;
        format!("{} min {:02} s", secs / 60, secs % 60)
    }
}

/// The start of the audit for people: `2026-11-20 09:00 UTC` (the report
/// stores RFC 3339 in UTC). Falls back to the stored string.
pub(super) fn started(report: &AuditReport) -> String {
    match report.started_at.parse::<jiff::Timestamp>() {
        Ok(ts) => ts.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => report.started_at.clone(),
    }
}

/// A port outcome (`open`, `timeout`, …) in the report's language.
pub(super) fn outcome_label(outcome: &str, lang: Lang) -> &str {
    match (outcome, lang) {
        (_, Lang::En) => outcome,
        ("open", Lang::Fr) => "ouvert",
        ("refused", Lang::Fr) => "refusé",
        ("timeout", Lang::Fr) => "délai dépassé",
        ("unreachable", Lang::Fr) => "injoignable",
        ("protocol-error", Lang::Fr) => "erreur de protocole",
        ("skipped", Lang::Fr) => "non sondé",
        (other, Lang::Fr) => other,
    }
}

/// `host · probe · observed` (no host part when there is none). Not
/// escaped: each format escapes it.
pub(super) fn evidence_line(e: &Evidence) -> String {
    match &e.host {
        Some(h) => format!("{h} · {} · {}", e.probe, e.observed),
        None => format!("{} · {}", e.probe, e.observed),
    }
}

/// The evidence lines to show. The evaluator also records the attestation
/// as an evidence line (probe `attestation`); the formats show the
/// attestation itself instead, so that line is left out when there is one.
pub(super) fn shown_evidence(r: &RequirementReport) -> impl Iterator<Item = &Evidence> {
    r.evidence
        .iter()
        .filter(|e| r.attestation.is_none() || e.probe != "attestation")
}

/// `attested by A. Martin on 2026-11-20: evidence (note: …)`. Not escaped.
pub(super) fn attestation_line(a: &crate::inventory::Attestation, lang: Lang) -> String {
    let mut s = tr!(
        lang,
        "attested by {} on {}: {}",
        "attesté par {} le {} : {}",
        a.by,
        a.date,
        a.evidence
    );
    if let Some(note) = &a.note {
        s.push_str(&tr!(lang, " (note: {})", " (note : {})", note));
    }
    s
}

/// `OpenLDAP 2.5.13` (the display name, else the catalog id, and the
/// version when known). Not escaped.
pub(super) fn service_label(s: &super::ServiceReport) -> String {
    let name = if s.name.is_empty() {
        &s.product
    } else {
        &s.name
    };
    match &s.version {
        Some(v) if !v.is_empty() => format!("{name} {v}"),
        _ => name.clone(),
    }
}

/// Probed ports grouped by outcome: `open 22/tcp 80/tcp · timeout 389/tcp`.
/// Not escaped.
pub(super) fn ports_line(h: &HostReport, lang: Lang) -> String {
    let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
    for p in &h.ports {
        let item = format!("{}/{}", p.port, p.proto);
        match groups.iter_mut().find(|(o, _)| *o == p.outcome) {
            Some((_, v)) => v.push(item),
            None => groups.push((&p.outcome, vec![item])),
        }
    }
    groups
        .iter()
        .map(|(o, v)| format!("{} {}", outcome_label(o, lang), v.join(" ")))
        .collect::<Vec<_>>()
        .join(" · ")
}

// ---------------------------------------------------------------------------
// The text format

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";

fn status_colour(status: Status) -> &'static str {
    match status {
        Status::Conform => "\x1b[32m",
        Status::NonConform => "\x1b[31m",
        Status::CannotVerify => "\x1b[33m",
        Status::Attested => "\x1b[34m",
    }
}

fn overall_colour(o: Overall) -> &'static str {
    match o {
        Overall::Conform => "\x1b[1;32m",
        Overall::NonConform => "\x1b[1;31m",
        Overall::Incomplete => "\x1b[1;33m",
    }
}

/// Wraps our own text in an ANSI style when colour is on.
struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, style: &str, text: &str) -> String {
        if self.color {
            format!("{style}{text}{RESET}")
        } else {
            text.to_string()
        }
    }
}

pub fn render(report: &AuditReport, color: bool) -> String {
    let lang = report.lang;
    let p = Painter { color };
    let mut out = String::new();

    // Header.
    let title = tr!(
        lang,
        "labcheck audit — {}",
        "Audit labcheck — {}",
        t(&report.lab)
    );
    let _ = writeln!(out, "{}", p.paint(BOLD, &title));
    let _ = writeln!(
        out,
        "{}",
        tr!(
            lang,
            "Profile: {}   Date: {}   Duration: {}",
            "Profil : {}   Date : {}   Durée : {}",
            t(&report.profile),
            t(&started(report)),
            duration(report.duration_ms, lang)
        )
    );
    if let Some(inv) = &report.inventory {
        let _ = writeln!(
            out,
            "{}",
            tr!(lang, "Inventory: {}", "Inventaire : {}", t(inv))
        );
    }

    // Requirements and groups, by section.
    let width = [
        Status::Conform,
        Status::NonConform,
        Status::CannotVerify,
        Status::Attested,
    ]
    .iter()
    .map(|s| s.label(lang).chars().count())
    .max()
    .unwrap_or(0);
    let status = |s: Status| {
        let word = format!("{} {:<width$}", mark(s), s.label(lang));
        p.paint(status_colour(s), &word)
    };
    for section in sections(report) {
        out.push('\n');
        let _ = writeln!(
            out,
            "{}",
            p.paint(BOLD, &format!("Section {}", t(section.name)))
        );
        for r in &section.requirements {
            let _ = writeln!(
                out,
                "  {}  {}  {}",
                status(r.status),
                p.paint(BOLD, &t(&r.id)),
                t(&r.title)
            );
            let detail = |out: &mut String, line: &str| {
                let _ = writeln!(out, "      {line}");
            };
            if !r.explanation.is_empty() {
                detail(&mut out, &t(&r.explanation));
            }
            for e in shown_evidence(r) {
                detail(
                    &mut out,
                    &p.paint(DIM, &format!("• {}", t(&evidence_line(e)))),
                );
            }
            for line in flow_matrix(report, r) {
                detail(&mut out, &line);
            }
            if let Some(a) = &r.attestation {
                let line = format!(
                    "{} {}",
                    mark(Status::Attested),
                    t(&attestation_line(a, lang))
                );
                detail(&mut out, &p.paint(status_colour(Status::Attested), &line));
            }
            if let Some(c) = &r.conflict {
                let line = tr!(lang, "conflict: {}", "conflit : {}", t(c));
                detail(&mut out, &p.paint(status_colour(Status::NonConform), &line));
            }
            if !r.status.is_met()
                && let Some(rem) = &r.remediation
            {
                detail(&mut out, &format!("→ {}", t(rem)));
            }
        }
        for g in &section.groups {
            let kind = tr!(lang, "group", "groupe");
            let met = tr!(lang, "{}/{} met", "{}/{} satisfaits", g.met, g.needed);
            let _ = writeln!(
                out,
                "  {}  {}  {} ({kind}, {met})",
                status(g.status),
                p.paint(BOLD, &t(&g.id)),
                t(&g.title)
            );
            let members: Vec<String> = g
                .members
                .iter()
                .map(|m| match report.requirements.iter().find(|r| &r.id == m) {
                    Some(r) => format!("{} {}", mark(r.status), t(m)),
                    None => t(m).into_owned(),
                })
                .collect();
            let _ = writeln!(
                out,
                "      {}",
                tr!(lang, "members: {}", "membres : {}", members.join(", "))
            );
            if !g.status.is_met()
                && let Some(rem) = &g.remediation
            {
                let _ = writeln!(out, "      → {}", t(rem));
            }
        }
    }

    // Hosts.
    if !report.hosts.is_empty() {
        out.push('\n');
        let _ = writeln!(out, "{}", p.paint(BOLD, &tr!(lang, "Hosts", "Hôtes")));
        for h in &report.hosts {
            let mut line = format!("  {}  {}", p.paint(BOLD, &t(&h.name)), t(&h.address));
            if let Some(z) = &h.zone {
                let _ = write!(line, "  [{}]", t(z));
            }
            if h.reachable {
                let _ = write!(
                    line,
                    "  {}",
                    p.paint(
                        status_colour(Status::Conform),
                        &tr!(lang, "reachable", "joignable")
                    )
                );
            } else {
                let word = match h.unreachable_reason.as_deref() {
                    Some(r) => tr!(lang, "unreachable: {}", "injoignable : {}", t(r)),
                    None => tr!(lang, "unreachable", "injoignable"),
                };
                let _ = write!(
                    line,
                    "  {}",
                    p.paint(status_colour(Status::CannotVerify), &word)
                );
            }
            if let Some(os) = &h.os {
                let _ = write!(line, "  {}", t(os));
            }
            let _ = writeln!(out, "{line}");
            for s in &h.services {
                let _ = writeln!(
                    out,
                    "      {}/{}  {}",
                    s.port,
                    t(&s.proto),
                    t(&service_label(s))
                );
            }
            for pb in &h.problems {
                let _ = writeln!(
                    out,
                    "      {}",
                    p.paint(
                        status_colour(Status::CannotVerify),
                        &tr!(
                            lang,
                            "not checked ({}): {}: {}",
                            "non vérifié ({}) : {} : {}",
                            t(&pb.probe),
                            t(&pb.what),
                            t(&pb.reason)
                        )
                    )
                );
            }
            if !h.ports.is_empty() {
                let _ = writeln!(
                    out,
                    "      {}",
                    p.paint(
                        DIM,
                        &tr!(lang, "ports: {}", "ports : {}", t(&ports_line(h, lang)))
                    )
                );
            }
        }
    }

    // Summary.
    out.push('\n');
    let s = &report.summary;
    let counts = [
        (Status::Conform, s.conform),
        (Status::NonConform, s.non_conform),
        (Status::CannotVerify, s.cannot_verify),
        (Status::Attested, s.attested),
    ]
    .iter()
    .map(|(st, n)| {
        p.paint(
            status_colour(*st),
            &tr!(lang, "{}: {}", "{} : {}", st.label(lang), n),
        )
    })
    .collect::<Vec<_>>()
    .join(" · ");
    let groups = if report.groups.is_empty() {
        String::new()
    } else {
        let met = report.groups.iter().filter(|g| g.status.is_met()).count();
        tr!(
            lang,
            " — groups met: {}/{}",
            " — groupes satisfaits : {}/{}",
            met,
            report.groups.len()
        )
    };
    let verdict = p.paint(overall_colour(report.verdict), report.verdict.label(lang));
    let _ = writeln!(
        out,
        "{}",
        tr!(
            lang,
            "Summary: {}{} — verdict: {}",
            "Bilan : {}{} — verdict : {}",
            counts,
            groups,
            verdict
        )
    );
    out
}

/// The zone-to-zone matrix of the flows tested from vantage hosts, from the
/// perimeters evidence (`from → to: open|closed (expect allow|deny) …`).
/// Cells: ✔ all as expected, ✘ one not as expected, ? one not tested; with
/// as-expected/total counts. Empty when no flow evidence.
pub(super) fn flow_matrix(report: &AuditReport, r: &RequirementReport) -> Vec<String> {
    use std::collections::BTreeMap;
    let zone_of = |host: &str| -> String {
        let name = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
        let name = name.trim_start_matches('[').trim_end_matches(']');
        report
            .hosts
            .iter()
            .find(|h| h.name == name || h.address == name)
            .and_then(|h| h.zone.clone())
            .unwrap_or_else(|| "?".into())
    };
    // (from zone, to zone) → (as expected, not tested, total)
    let mut cells: BTreeMap<(String, String), (usize, usize, usize)> = BTreeMap::new();
    for e in &r.evidence {
        if !e.probe.ends_with(":flow") {
            continue;
        }
        let Some((from, rest)) = e.observed.split_once(" → ") else {
            continue;
        };
        let Some((to, rest)) = rest.split_once(": ") else {
            continue;
        };
        let Some((verb, rest)) = rest.split_once(" (expect ") else {
            continue;
        };
        let allow = rest.starts_with("allow");
        let open = match verb {
            "open" | "ouvert" => Some(true),
            "closed" | "fermé" => Some(false),
            _ => None,
        };
        let c = cells.entry((zone_of(from), zone_of(to))).or_default();
        c.2 += 1;
        match open {
            None => c.1 += 1,
            Some(o) if o == allow => c.0 += 1,
            _ => {}
        }
    }
    if cells.is_empty() {
        return vec![];
    }
    let mut zones: Vec<String> = cells
        .keys()
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();
    zones.sort();
    zones.dedup();
    let w = zones
        .iter()
        .map(|z| z.chars().count())
        .max()
        .unwrap_or(0)
        .max(8)
        + 2;
    let lang = report.lang;
    let mut out = vec![tr!(
        lang,
        "zone matrix (from → to; ✔ as expected, ✘ not as expected, ? not tested):",
        "matrice des zones (de → vers ; ✔ conforme, ✘ non conforme, ? non testé) :"
    )];
    let mut head = format!("  {:<w$}", tr!(lang, "from\\to", "de\\vers"));
    for z in &zones {
        head.push_str(&format!("{:<w$}", t(z)));
    }
    out.push(head.trim_end().to_string());
    for a in &zones {
        let mut line = format!("  {:<w$}", t(a));
        for b in &zones {
            let cell = match cells.get(&(a.clone(), b.clone())) {
                None => "—".to_string(),
                Some(&(ok, untested, total)) => {
                    let mark = if ok == total {
                        "✔"
                    } else if ok + untested == total {
                        "?"
                    } else {
                        "✘"
                    };
                    format!("{mark} {ok}/{total}")
                }
            };
            line.push_str(&format!("{cell:<w$}"));
        }
        out.push(line.trim_end().to_string());
    }
    out
}
