//! `--format html`: one self-contained printable page for the jury file.
//!
//! No external resource, no JavaScript, inline CSS with a print style.
//! The markup is XHTML-compatible (every element closed, attributes
//! quoted, only the five XML entities) so that it parses as XML too. Every
//! dynamic string — lab text, inventory text, profile text — goes through
//! [`escape::html`].

use std::fmt::Write as _;

use super::escape::html as h;
use super::text::{
    attestation_line, duration, evidence_line, mark, ports_line, sections, service_label,
    shown_evidence, started,
};
use super::{AuditReport, GroupReport, RequirementReport};
use crate::evaluate::Status;
use crate::i18n::Lang;
use crate::tr;

/// Colours and badges shared with the attestation page.
pub(super) const BASE_CSS: &str = r#"
:root { --ok: #1a7f37; --ko: #b42318; --cv: #8a5a00; --at: #1f5fbf; --line: #b8b8b8; }
body { font-family: system-ui, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1b1b1b; margin: 2em; line-height: 1.4; }
table { border-collapse: collapse; width: 100%; margin: .8em 0 1.6em; }
th, td { border: 1px solid var(--line); padding: .35em .5em; vertical-align: top; text-align: left; }
th { background: #eceff3; }
.id { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .9em; white-space: nowrap; }
.badge { display: inline-block; padding: .05em .55em; border-radius: .8em; font-weight: 600; white-space: nowrap; color: #fff; }
.badge.s-conform { background: var(--ok); }
.badge.s-non-conform { background: var(--ko); }
.badge.s-cannot-verify { background: var(--cv); }
.badge.s-attested { background: var(--at); }
@media print {
  body { margin: 0; font-size: 9pt; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  .badge, th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  a { color: inherit; text-decoration: none; }
}
"#;

const CSS: &str = r#"
@page { size: A4 landscape; margin: 12mm; }
h1 { font-size: 1.5em; margin-bottom: .2em; }
h2 { font-size: 1.2em; margin-top: 1.4em; border-bottom: 2px solid #1b1b1b; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1em 1em; margin: .5em 0; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; }
.verdict { display: inline-block; font-size: 1.2em; font-weight: 700; padding: .2em .8em; border: 3px solid; border-radius: .3em; }
.v-conform { color: var(--ok); }
.v-non-conform { color: var(--ko); }
.v-incomplete { color: var(--cv); }
ul.counts { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .5em 1.5em; }
.wording { font-style: italic; }
ul.evidence { margin: .3em 0; padding-left: 1.1em; }
.conflict { color: var(--ko); font-weight: 600; }
.attestation { color: var(--at); }
.muted { color: #555; }
footer { margin-top: 2em; font-size: .85em; color: #555; }
"#;

/// An XHTML-compatible page around `body`.
pub(super) fn page(lang: Lang, title: &str, css: &[&str], body: &str) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n");
    let _ = writeln!(
        out,
        r#"<html xmlns="http://www.w3.org/1999/xhtml" lang="{0}" xml:lang="{0}">"#,
        lang.as_str()
    );
    out.push_str("<head>\n<meta charset=\"utf-8\" />\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n");
    let _ = writeln!(out, "<title>{}</title>", h(title));
    out.push_str("<style>");
    for c in css {
        out.push_str(c);
    }
    out.push_str("</style>\n</head>\n<body>\n");
    out.push_str(body);
    out.push_str("</body>\n</html>\n");
    out
}

/// `<span class="badge s-conform">✔ conform</span>`.
pub(super) fn badge(status: Status, lang: Lang) -> String {
    format!(
        r#"<span class="badge s-{}">{} {}</span>"#,
        status.as_str(),
        mark(status),
        status.label(lang)
    )
}

pub fn render(report: &AuditReport) -> String {
    let lang = report.lang;
    let mut b = String::new();
    let title = tr!(
        lang,
        "labcheck audit — {}",
        "Audit labcheck — {}",
        report.lab
    );

    // Header.
    let _ = writeln!(b, "<header>\n<h1>{}</h1>", h(&title));
    b.push_str("<dl class=\"meta\">\n");
    let mut meta = vec![
        (tr!(lang, "Lab", "Laboratoire"), report.lab.clone()),
        (tr!(lang, "Profile", "Profil"), report.profile.clone()),
        ("Date".to_string(), started(report)),
        (
            tr!(lang, "Duration", "Durée"),
            duration(report.duration_ms, lang),
        ),
    ];
    if let Some(inv) = &report.inventory {
        meta.push((tr!(lang, "Inventory", "Inventaire"), inv.clone()));
    }
    meta.push((
        tr!(lang, "Tool", "Outil"),
        format!("{} {}", report.tool.name, report.tool.version),
    ));
    for (k, v) in &meta {
        let _ = writeln!(b, "<dt>{}</dt><dd>{}</dd>", h(k), h(v));
    }
    b.push_str("</dl>\n");
    let _ = writeln!(
        b,
        r#"<p><span class="verdict v-{}">{} {}</span></p>"#,
        report.verdict.as_str(),
        tr!(lang, "Verdict:", "Verdict :"),
        report.verdict.label(lang)
    );
    let s = &report.summary;
    b.push_str("<ul class=\"counts\">\n");
    for (st, n) in [
        (Status::Conform, s.conform),
        (Status::NonConform, s.non_conform),
        (Status::CannotVerify, s.cannot_verify),
        (Status::Attested, s.attested),
    ] {
        let _ = writeln!(b, "<li>{} <strong>{n}</strong></li>", badge(st, lang));
    }
    b.push_str("</ul>\n</header>\n");

    // Requirements, in section order.
    let _ = writeln!(
        b,
        "<section>\n<h2>{}</h2>",
        tr!(lang, "Requirements", "Exigences")
    );
    b.push_str("<table class=\"requirements\">\n<thead><tr>");
    for col in [
        "Id".to_string(),
        "Section".to_string(),
        tr!(lang, "Title", "Intitulé"),
        tr!(
            lang,
            "Official wording (Annexe II.E)",
            "Libellé officiel (annexe II.E)"
        ),
        tr!(lang, "Status", "Statut"),
        tr!(lang, "Evidence", "Éléments observés"),
        tr!(lang, "Remediation", "Remédiation"),
    ] {
        let _ = write!(b, "<th>{col}</th>");
    }
    b.push_str("</tr></thead>\n<tbody>\n");
    let sections = sections(report);
    for r in sections.iter().flat_map(|s| s.requirements.iter()) {
        requirement_row(&mut b, r, lang);
    }
    b.push_str("</tbody>\n</table>\n</section>\n");

    // Groups.
    if !report.groups.is_empty() {
        let _ = writeln!(b, "<section>\n<h2>{}</h2>", tr!(lang, "Groups", "Groupes"));
        b.push_str("<table class=\"groups\">\n<thead><tr>");
        for col in [
            "Id".to_string(),
            "Section".to_string(),
            tr!(lang, "Title", "Intitulé"),
            tr!(
                lang,
                "Official wording (Annexe II.E)",
                "Libellé officiel (annexe II.E)"
            ),
            tr!(lang, "Met / needed", "Satisfaits / requis"),
            tr!(lang, "Status", "Statut"),
            tr!(lang, "Members", "Membres"),
            tr!(lang, "Remediation", "Remédiation"),
        ] {
            let _ = write!(b, "<th>{col}</th>");
        }
        b.push_str("</tr></thead>\n<tbody>\n");
        for g in sections.iter().flat_map(|s| s.groups.iter()) {
            group_row(&mut b, g, report);
        }
        b.push_str("</tbody>\n</table>\n</section>\n");
    }

    // Hosts.
    if !report.hosts.is_empty() {
        let _ = writeln!(b, "<section>\n<h2>{}</h2>", tr!(lang, "Hosts", "Hôtes"));
        b.push_str("<table class=\"hosts\">\n<thead><tr>");
        for col in [
            tr!(lang, "Host", "Hôte"),
            tr!(lang, "Address", "Adresse"),
            "Zone".to_string(),
            tr!(lang, "Reachable", "Joignable"),
            tr!(lang, "Operating system", "Système d'exploitation"),
            tr!(lang, "Identified services", "Services identifiés"),
            tr!(lang, "Probed ports", "Ports sondés"),
        ] {
            let _ = write!(b, "<th>{}</th>", h(&col));
        }
        b.push_str("</tr></thead>\n<tbody>\n");
        for host in &report.hosts {
            let reach = if host.reachable {
                badge_text(Status::Conform, &tr!(lang, "yes", "oui"))
            } else {
                let mut s = badge_text(Status::CannotVerify, &tr!(lang, "no", "non"));
                if let Some(r) = &host.unreachable_reason {
                    let _ = write!(s, r#"<br /><span class="muted">{}</span>"#, h(r));
                }
                s
            };
            let services: Vec<String> = host
                .services
                .iter()
                .map(|s| {
                    format!(
                        "<li>{}/{} {}</li>",
                        s.port,
                        h(&s.proto),
                        h(&service_label(s))
                    )
                })
                .collect();
            let problems: Vec<String> = host
                .problems
                .iter()
                .map(|pb| {
                    format!(
                        "<li class=\"muted\">{} ({}) : {}</li>",
                        h(&pb.what),
                        h(&pb.probe),
                        h(&pb.reason)
                    )
                })
                .collect();
            let services = if services.is_empty() && problems.is_empty() {
                String::new()
            } else {
                format!(
                    "<ul class=\"evidence\">{}{}</ul>",
                    services.concat(),
                    problems.concat()
                )
            };
            let _ = writeln!(
                b,
                r#"<tr><td class="id">{}</td><td class="id">{}</td><td>{}</td><td>{reach}</td><td>{}</td><td>{services}</td><td class="muted">{}</td></tr>"#,
                h(&host.name),
                h(&host.address),
                h(host.zone.as_deref().unwrap_or("")),
                h(host.os.as_deref().unwrap_or("")),
                h(&ports_line(host, lang)),
            );
        }
        b.push_str("</tbody>\n</table>\n</section>\n");
    }

    let _ = writeln!(
        b,
        "<footer>{}</footer>",
        h(&tr!(
            lang,
            "Generated by {} {}. Conform means observed by the audit; attested means declared in the inventory by the person named, not verified.",
            "Établi par {} {}. « Conforme » signifie observé par l'audit ; « attesté » signifie déclaré dans l'inventaire par la personne nommée, sans vérification.",
            report.tool.name,
            report.tool.version
        ))
    );
    page(lang, &title, &[BASE_CSS, CSS], &b)
}

/// A badge with our own text (hosts' reachability).
fn badge_text(status: Status, text: &str) -> String {
    format!(
        r#"<span class="badge s-{}">{}</span>"#,
        status.as_str(),
        h(text)
    )
}

fn requirement_row(b: &mut String, r: &RequirementReport, lang: Lang) {
    let _ = write!(
        b,
        r#"<tr id="req-{id}"><td class="id">{id}</td><td>{}</td><td>{}</td><td class="wording" lang="fr" xml:lang="fr">{}</td><td>{}</td><td>"#,
        h(&r.section),
        h(&r.title),
        h(&r.wording),
        badge(r.status, lang),
        id = h(&r.id),
    );
    if !r.explanation.is_empty() {
        let _ = write!(b, "<p>{}</p>", h(&r.explanation));
    }
    if let Some(a) = &r.attestation {
        let _ = write!(
            b,
            r#"<p class="attestation">{} {}</p>"#,
            mark(Status::Attested),
            h(&attestation_line(a, lang))
        );
    }
    if shown_evidence(r).next().is_some() {
        b.push_str("<ul class=\"evidence\">");
        for e in shown_evidence(r) {
            let _ = write!(b, "<li>{}</li>", h(&evidence_line(e)));
        }
        b.push_str("</ul>");
    }
    if let Some(c) = &r.conflict {
        let _ = write!(
            b,
            r#"<p class="conflict">{}</p>"#,
            h(&tr!(lang, "Conflict: {}", "Conflit : {}", c))
        );
    }
    b.push_str("</td><td>");
    if !r.status.is_met()
        && let Some(rem) = &r.remediation
    {
        b.push_str(&h(rem));
    }
    b.push_str("</td></tr>\n");
}

fn group_row(b: &mut String, g: &GroupReport, report: &AuditReport) {
    let lang = report.lang;
    let members: String = g
        .members
        .iter()
        .map(|m| match report.requirements.iter().find(|r| &r.id == m) {
            Some(r) => format!(
                r##"<li><a href="#req-{0}" class="id">{0}</a> {1}</li>"##,
                h(m),
                mark(r.status)
            ),
            None => format!(r#"<li class="id">{}</li>"#, h(m)),
        })
        .collect();
    let remediation = match (&g.remediation, g.status.is_met()) {
        (Some(rem), false) => h(rem).into_owned(),
        _ => String::new(),
    };
    let _ = writeln!(
        b,
        r#"<tr><td class="id">{}</td><td>{}</td><td>{}</td><td class="wording" lang="fr" xml:lang="fr">{}</td><td>{} / {}</td><td>{}</td><td><ul class="evidence">{members}</ul></td><td>{remediation}</td></tr>"#,
        h(&g.id),
        h(&g.section),
        h(&g.title),
        h(&g.wording),
        g.met,
        g.needed,
        badge(g.status, lang),
    );
}
