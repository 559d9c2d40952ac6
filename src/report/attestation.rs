//! `--format attestation` and `--format attestation-html`: the exam's own
//! form, « Annexe VII-7 — Attestation de respect de l'annexe II.E », one row
//! per Annexe II.E element, pre-filled from the audit's evidence, with the
//! commission's remarks column left blank.
//!
//! Always in French, whatever the report's language: it is an exam
//! document. (Explanations and observations come from the audit in the
//! report's language; run the audit with `--lang fr` for an all-French form.)
//!
//! Rows follow the report's section order; a group (« au moins une solution
//! … parmi les suivantes », SLAM situations) gets its own row, just before
//! its first member.

use std::fmt::Write as _;

use super::escape::{html as h, markdown as m};
use super::html::{BASE_CSS, page};
use super::text::{mark, sections};
use super::{AuditReport, GroupReport, RequirementReport};
use crate::evaluate::{Evidence, Status};
use crate::i18n::Lang;

/// The official column headers, verbatim.
pub(super) const COL_ELEMENT: &str = "Élément de l'annexe II.E";
pub(super) const COL_DESCRIPTION: &str =
    "Description de l'implantation (nom du service ou de l'outil et caractéristiques techniques)";
pub(super) const COL_REMARKS: &str = "Remarques de la commission d'interrogation";

const TITLE: &str = "Annexe VII-7 — Attestation de respect de l'annexe II.E";
const TO_COMPLETE: &str = "À compléter — non vérifié par l'audit";

/// One row of the form, before rendering. Plain text: each format escapes.
struct Row<'a> {
    section: &'a str,
    id: &'a str,
    /// Official French wording.
    wording: &'a str,
    status: Status,
    /// The description column, one line per fact.
    lines: Vec<String>,
}

/// The rows, in section order, each group just before its first member.
fn rows(report: &AuditReport) -> Vec<Row<'_>> {
    let mut out = Vec::new();
    let mut done: Vec<&str> = Vec::new();
    for section in sections(report) {
        for r in &section.requirements {
            for g in report.groups.iter().filter(|g| g.members.contains(&r.id)) {
                if !done.contains(&g.id.as_str()) {
                    done.push(&g.id);
                    out.push(group_row(g, report));
                }
            }
            out.push(requirement_row(r, report));
        }
        for g in &section.groups {
            if !done.contains(&g.id.as_str()) {
                done.push(&g.id);
                out.push(group_row(g, report));
            }
        }
    }
    out
}

/// `OpenLDAP 2.5.13 — dc (198.18.10.10), sonde ldap`.
fn observed(e: &Evidence, report: &AuditReport) -> String {
    match &e.host {
        Some(host) => {
            let addr = report
                .hosts
                .iter()
                .find(|x| &x.name == host)
                .map(|x| format!(" ({})", x.address))
                .unwrap_or_default();
            format!("{} — {host}{addr}, sonde {}", e.observed, e.probe)
        }
        None => format!("{} — sonde {}", e.observed, e.probe),
    }
}

fn requirement_row<'a>(r: &'a RequirementReport, report: &AuditReport) -> Row<'a> {
    let mut lines = Vec::new();
    // Observations, without the evaluator's own attestation line (the
    // attestation is written out below, in French).
    let seen: Vec<String> = r
        .evidence
        .iter()
        .filter(|e| e.probe != "attestation")
        .map(|e| observed(e, report))
        .collect();
    match r.status {
        Status::Conform => {
            lines.push(format!("{} Conforme — vérifié par l'audit", mark(r.status)));
            if seen.is_empty() && !r.explanation.is_empty() {
                lines.push(r.explanation.clone());
            }
            lines.extend(seen);
        }
        Status::Attested => {
            match &r.attestation {
                Some(a) => {
                    lines.push(format!(
                        "{} Attesté par {} le {} : {}",
                        mark(r.status),
                        a.by,
                        a.date,
                        a.evidence
                    ));
                    if let Some(note) = &a.note {
                        lines.push(format!("Note : {note}"));
                    }
                }
                None => lines.push(format!("{} Attesté", mark(r.status))),
            }
            lines.extend(seen.into_iter().map(|s| format!("Observé : {s}")));
        }
        Status::CannotVerify => {
            lines.push(format!("{} {TO_COMPLETE}", mark(r.status)));
            if !r.explanation.is_empty() {
                lines.push(format!("Motif : {}", r.explanation));
            }
            lines.extend(seen.into_iter().map(|s| format!("Observé : {s}")));
        }
        Status::NonConform => {
            lines.push(format!(
                "{} Non conforme : {}",
                mark(r.status),
                r.explanation
            ));
            if let Some(a) = &r.attestation {
                lines.push(format!(
                    "Attestation contredite par l'audit — {} le {} : {}",
                    a.by, a.date, a.evidence
                ));
            }
            lines.extend(seen.into_iter().map(|s| format!("Observé : {s}")));
        }
    }
    if !r.status.is_met()
        && let Some(g) = report.groups.iter().find(|g| g.members.contains(&r.id))
    {
        lines.push(format!(
            "Élément au choix (groupe {}) : facultatif si le groupe est satisfait.",
            g.id
        ));
    }
    Row {
        section: &r.section,
        id: &r.id,
        wording: &r.wording,
        status: r.status,
        lines,
    }
}

fn group_row<'a>(g: &'a GroupReport, report: &AuditReport) -> Row<'a> {
    let mut lines = Vec::new();
    let head = match g.status {
        Status::Conform | Status::Attested => "Satisfait",
        Status::CannotVerify => TO_COMPLETE,
        Status::NonConform => "Non conforme",
    };
    lines.push(format!(
        "{} {head} — {} élément(s) sur {} requis",
        mark(g.status),
        g.met,
        g.needed
    ));
    for id in &g.members {
        if let Some(r) = report.requirements.iter().find(|r| &r.id == id)
            && r.status.is_met()
        {
            lines.push(format!("{} {} ({id})", mark(r.status), r.wording));
        }
    }
    Row {
        section: &g.section,
        id: &g.id,
        wording: &g.wording,
        status: g.status,
        lines,
    }
}

/// `SISR`, `SLAM`, or a custom profile's id.
fn option(report: &AuditReport) -> String {
    match report.profile.as_str() {
        "sisr" | "slam" => report.profile.to_uppercase(),
        other => other.to_string(),
    }
}

/// `20/11/2026 à 09:00 UTC`.
fn date(report: &AuditReport) -> String {
    match report.started_at.parse::<jiff::Timestamp>() {
        Ok(ts) => ts.strftime("%d/%m/%Y à %H:%M UTC").to_string(),
        Err(_) => report.started_at.clone(),
    }
}

fn made_by(report: &AuditReport) -> String {
    format!("{} {}", report.tool.name, report.tool.version)
}

fn verdict_line(report: &AuditReport) -> String {
    let s = &report.summary;
    let l = Lang::Fr;
    format!(
        "Verdict de l'audit : {} — {} : {} · {} : {} · {} : {} · {} : {}",
        report.verdict.label(l),
        Status::Conform.label(l),
        s.conform,
        Status::NonConform.label(l),
        s.non_conform,
        Status::CannotVerify.label(l),
        s.cannot_verify,
        Status::Attested.label(l),
        s.attested
    )
}

const LEGEND: &str = "« Conforme » : observé par l'audit automatisé. « Attesté » : déclaré par la personne nommée, non vérifié par l'audit. « À compléter » : l'audit n'a pas pu le vérifier ; à décrire et à vérifier par la commission.";

pub fn render_markdown(report: &AuditReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {TITLE}\n");
    out.push_str("BTS Services informatiques aux organisations\n\n");
    let _ = writeln!(out, "- **Laboratoire :** {}", m(&report.lab));
    let _ = writeln!(out, "- **Option :** {}", m(&option(report)));
    let _ = writeln!(out, "- **Date de l'audit :** {}", m(&date(report)));
    let _ = writeln!(out, "- **Établi par** {}", m(&made_by(report)));
    let _ = writeln!(out, "- {}\n", m(&verdict_line(report)));
    let _ = writeln!(out, "*{}*\n", m(LEGEND));

    let _ = writeln!(out, "| {COL_ELEMENT} | {COL_DESCRIPTION} | {COL_REMARKS} |");
    out.push_str("|---|---|---|\n");
    for row in rows(report) {
        let description = row
            .lines
            .iter()
            .map(|l| m(l))
            .collect::<Vec<_>>()
            .join("<br>");
        let _ = writeln!(
            out,
            "| {}<br><sub>{} · {}</sub> | {} |  |",
            m(row.wording),
            m(row.section),
            m(row.id),
            description
        );
    }
    out.push_str("\nFait à ……………………………, le ……………………\n\n");
    out.push_str("Nom, qualité et signature des membres de la commission d'interrogation :\n");
    out
}

const ATTESTATION_CSS: &str = r#"
@page { size: A4 landscape; margin: 10mm 12mm; }
body { font-size: 10pt; }
h1 { font-size: 1.35em; margin: 0 0 .2em; }
.subtitle { margin: 0 0 .6em; font-weight: 600; }
table.head { width: auto; margin: .3em 0 .6em; }
table.head th, table.head td { border: none; padding: .1em 1em .1em 0; background: none; }
.legend { font-size: .85em; color: #444; margin: .4em 0; }
table.form th, table.form td { border: 1px solid #000; }
table.form th { background: #e6e6e6; text-align: center; }
table.form col.element { width: 30%; }
table.form col.description { width: 36%; }
table.form col.remarks { width: 34%; }
td.element .ref { display: block; font-size: .78em; color: #555; margin-top: .3em; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
td.description p { margin: 0 0 .2em; }
td.description p.status { font-weight: 600; }
tr.s-non-conform td.description p.status { color: var(--ko); }
tr.s-cannot-verify td.description p.status { color: var(--cv); }
tr.s-attested td.description p.status { color: var(--at); }
tr.s-conform td.description p.status { color: var(--ok); }
tr.group td { background: #f5f5f5; }
td.remarks { height: 16mm; }
.signatures { margin-top: 1.2em; break-inside: avoid; page-break-inside: avoid; }
.signatures table td { height: 22mm; border: 1px solid #000; width: 25%; }
.signatures table th { border: 1px solid #000; font-weight: 600; background: none; }
@media print { tr.group td, table.form th { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
"#;

pub fn render_html(report: &AuditReport) -> String {
    let mut b = String::new();
    let _ = writeln!(b, "<header>\n<h1>{}</h1>", h(TITLE));
    b.push_str("<p class=\"subtitle\">BTS Services informatiques aux organisations</p>\n");
    b.push_str("<table class=\"head\"><tbody>\n");
    for (k, v) in [
        ("Laboratoire", report.lab.clone()),
        ("Option", option(report)),
        ("Date de l'audit", date(report)),
        ("Établi par", made_by(report)),
    ] {
        let _ = writeln!(b, "<tr><th>{}</th><td>{}</td></tr>", h(k), h(&v));
    }
    b.push_str("</tbody></table>\n");
    let _ = writeln!(b, "<p>{}</p>", h(&verdict_line(report)));
    let _ = writeln!(b, "<p class=\"legend\">{}</p>\n</header>", h(LEGEND));

    b.push_str("<table class=\"form\">\n");
    b.push_str("<colgroup><col class=\"element\" /><col class=\"description\" /><col class=\"remarks\" /></colgroup>\n");
    let _ = writeln!(
        b,
        "<thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>\n<tbody>",
        h(COL_ELEMENT),
        h(COL_DESCRIPTION),
        h(COL_REMARKS)
    );
    for row in rows(report) {
        let class = if report.groups.iter().any(|g| g.id == row.id) {
            " group"
        } else {
            ""
        };
        let _ = write!(
            b,
            r#"<tr class="s-{}{class}"><td class="element">{}<span class="ref">§ {} · {}</span></td><td class="description">"#,
            row.status.as_str(),
            h(row.wording),
            h(row.section),
            h(row.id)
        );
        for (i, line) in row.lines.iter().enumerate() {
            let class = if i == 0 { " class=\"status\"" } else { "" };
            let _ = write!(b, "<p{class}>{}</p>", h(line));
        }
        b.push_str("</td><td class=\"remarks\"></td></tr>\n");
    }
    b.push_str("</tbody>\n</table>\n");

    b.push_str("<section class=\"signatures\">\n");
    b.push_str("<p>Fait à ……………………………………, le ……………………………</p>\n");
    b.push_str("<p>Nom, qualité et signature des membres de la commission d'interrogation :</p>\n");
    b.push_str("<table><thead><tr><th>Nom et qualité</th><th>Signature</th><th>Nom et qualité</th><th>Signature</th></tr></thead>\n");
    b.push_str("<tbody><tr><td></td><td></td><td></td><td></td></tr></tbody></table>\n");
    b.push_str("</section>\n");
    page(Lang::Fr, TITLE, &[BASE_CSS, ATTESTATION_CSS], &b)
}
