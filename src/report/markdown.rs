//! `--format markdown`: the report as a document for a wiki or a merge
//! request: a summary table, then one section per requirement, the groups
//! and the hosts. Every dynamic string goes through [`escape::markdown`]:
//! lab text can neither inject HTML nor break a table row.

use std::fmt::Write as _;

use super::escape::markdown as m;
use super::text::{
    attestation_line, duration, evidence_line, mark, ports_line, sections, service_label,
    shown_evidence, started,
};
use super::{AuditReport, RequirementReport};
use crate::evaluate::Status;
use crate::tr;

pub fn render(report: &AuditReport) -> String {
    let lang = report.lang;
    let mut out = String::new();
    let status = |s: Status| format!("{} {}", mark(s), s.label(lang));

    let _ = writeln!(
        out,
        "# {}\n",
        tr!(
            lang,
            "labcheck audit — {}",
            "Audit labcheck — {}",
            m(&report.lab)
        )
    );
    let _ = writeln!(
        out,
        "- **{}** {}",
        tr!(lang, "Profile:", "Profil :"),
        m(&report.profile)
    );
    let _ = writeln!(
        out,
        "- **{}** {}",
        tr!(lang, "Date:", "Date :"),
        m(&started(report))
    );
    let _ = writeln!(
        out,
        "- **{}** {}",
        tr!(lang, "Duration:", "Durée :"),
        duration(report.duration_ms, lang)
    );
    if let Some(inv) = &report.inventory {
        let _ = writeln!(
            out,
            "- **{}** {}",
            tr!(lang, "Inventory:", "Inventaire :"),
            m(inv)
        );
    }
    let _ = writeln!(
        out,
        "- **{}** {} {}",
        tr!(lang, "Tool:", "Outil :"),
        m(&report.tool.name),
        m(&report.tool.version)
    );
    let _ = writeln!(
        out,
        "- **{}** **{}**",
        tr!(lang, "Verdict:", "Verdict :"),
        report.verdict.label(lang)
    );
    let s = &report.summary;
    let _ = writeln!(
        out,
        "- **{}** {}: {} · {}: {} · {}: {} · {}: {}\n",
        tr!(lang, "Counts:", "Décompte :"),
        status(Status::Conform),
        s.conform,
        status(Status::NonConform),
        s.non_conform,
        status(Status::CannotVerify),
        s.cannot_verify,
        status(Status::Attested),
        s.attested
    );

    // Summary table.
    let _ = writeln!(out, "## {}\n", tr!(lang, "Summary", "Synthèse"));
    let _ = writeln!(
        out,
        "| Id | Section | {} | {} |",
        tr!(lang, "Title", "Intitulé"),
        tr!(lang, "Status", "Statut")
    );
    out.push_str("|---|---|---|---|\n");
    for r in &report.requirements {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            m(&r.id),
            m(&r.section),
            m(&r.title),
            status(r.status)
        );
    }
    for g in &report.groups {
        let kind = tr!(lang, "group {}/{}", "groupe {}/{}", g.met, g.needed);
        let _ = writeln!(
            out,
            "| {} | {} | {} ({kind}) | {} |",
            m(&g.id),
            m(&g.section),
            m(&g.title),
            status(g.status)
        );
    }
    out.push('\n');

    // Details, by section.
    let _ = writeln!(out, "## {}\n", tr!(lang, "Requirements", "Exigences"));
    for section in sections(report) {
        let _ = writeln!(out, "### Section {}\n", m(section.name));
        for r in &section.requirements {
            requirement(&mut out, r, report);
        }
        for g in &section.groups {
            let _ = writeln!(out, "#### {} — {}\n", m(&g.id), m(&g.title));
            let _ = writeln!(out, "> {}\n", m(&g.wording));
            let met = tr!(
                lang,
                "{} of {} needed met",
                "{} satisfait(s) sur {} requis",
                g.met,
                g.needed
            );
            let _ = writeln!(
                out,
                "**{}** {} ({met})\n",
                tr!(lang, "Status:", "Statut :"),
                status(g.status)
            );
            let _ = writeln!(out, "**{}**\n", tr!(lang, "Members:", "Membres :"));
            for id in &g.members {
                match report.requirements.iter().find(|r| &r.id == id) {
                    Some(r) => {
                        let _ = writeln!(out, "- {} — {}", m(id), status(r.status));
                    }
                    None => {
                        let _ = writeln!(out, "- {}", m(id));
                    }
                }
            }
            out.push('\n');
            if !g.status.is_met()
                && let Some(rem) = &g.remediation
            {
                let _ = writeln!(
                    out,
                    "**{}** {}\n",
                    tr!(lang, "Remediation:", "Remédiation :"),
                    m(rem)
                );
            }
        }
    }

    // Hosts.
    if !report.hosts.is_empty() {
        let _ = writeln!(out, "## {}\n", tr!(lang, "Hosts", "Hôtes"));
        let _ = writeln!(
            out,
            "| {} | {} | Zone | {} | OS | Services | Ports |",
            tr!(lang, "Host", "Hôte"),
            tr!(lang, "Address", "Adresse"),
            tr!(lang, "Reachable", "Joignable")
        );
        out.push_str("|---|---|---|---|---|---|---|\n");
        for h in &report.hosts {
            let reach = if h.reachable {
                tr!(lang, "yes", "oui")
            } else {
                let why = h
                    .unreachable_reason
                    .as_deref()
                    .map(|r| format!(" ({})", m(r)))
                    .unwrap_or_default();
                tr!(lang, "no{}", "non{}", why)
            };
            let services = h
                .services
                .iter()
                .map(|s| format!("{}/{} {}", s.port, m(&s.proto), m(&service_label(s))))
                .chain(h.problems.iter().map(|pb| {
                    tr!(
                        lang,
                        "not checked: {} ({})",
                        "non vérifié : {} ({})",
                        m(&pb.what),
                        m(&pb.reason)
                    )
                }))
                .collect::<Vec<_>>()
                .join("; ");
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                m(&h.name),
                m(&h.address),
                h.zone.as_deref().map(m).unwrap_or_default(),
                reach,
                h.os.as_deref().map(m).unwrap_or_default(),
                services,
                m(&ports_line(h, lang))
            );
        }
        out.push('\n');
    }
    out
}

fn requirement(out: &mut String, r: &RequirementReport, report: &AuditReport) {
    let lang = report.lang;
    let _ = writeln!(out, "#### {} — {}\n", m(&r.id), m(&r.title));
    let _ = writeln!(out, "> {}\n", m(&r.wording));
    let _ = writeln!(
        out,
        "**{}** {} {}\n",
        tr!(lang, "Status:", "Statut :"),
        mark(r.status),
        r.status.label(lang)
    );
    if !r.explanation.is_empty() {
        let _ = writeln!(out, "{}\n", m(&r.explanation));
    }
    if let Some(a) = &r.attestation {
        let _ = writeln!(
            out,
            "**{}** {}\n",
            tr!(lang, "Attestation:", "Attestation :"),
            m(&attestation_line(a, lang))
        );
    }
    if shown_evidence(r).next().is_some() {
        let _ = writeln!(
            out,
            "**{}**\n",
            tr!(lang, "Evidence:", "Éléments observés :")
        );
        for e in shown_evidence(r) {
            let _ = writeln!(out, "- {}", m(&evidence_line(e)));
        }
        out.push('\n');
    }
    if let Some(c) = &r.conflict {
        let _ = writeln!(
            out,
            "**{}** {}\n",
            tr!(lang, "Conflict:", "Conflit :"),
            m(c)
        );
    }
    if !r.status.is_met()
        && let Some(rem) = &r.remediation
    {
        let _ = writeln!(
            out,
            "**{}** {}\n",
            tr!(lang, "Remediation:", "Remédiation :"),
            m(rem)
        );
    }
}
