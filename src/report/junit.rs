//! `--format junit`: JUnit XML for CI, one test case per requirement and
//! one per group (`name` = the id, `classname` = the section).
//!
//! Status mapping:
//! - conform → passed, evidence in `<system-out>`;
//! - attested → passed, the attestation (who, when, what) in `<system-out>`;
//! - non-conform → `<failure>`: explanation, evidence, conflict and
//!   remediation in the body;
//! - cannot verify → `<skipped>`, **not** `<error>`. A CI job should not go
//!   red because a host was switched off or a credential is missing: the
//!   CLI's exit code 3 already says "incomplete", and JUnit consumers show
//!   skipped tests in yellow, which is what *cannot verify* means. `<error>`
//!   would also suggest a crash of labcheck itself. A job that wants to fail
//!   on incomplete audits tests the exit code.
//!
//! Everything is escaped with [`escape::xml`]: well-formed XML whatever the
//! lab sent, and characters XML 1.0 forbids (ESC…) are made visible.

use std::fmt::Write as _;

use super::escape::xml as x;
use super::text::{attestation_line, evidence_line, shown_evidence, started};
use super::{AuditReport, GroupReport, RequirementReport};
use crate::evaluate::Status;
use crate::i18n::Lang;
use crate::tr;

/// One `<testcase>`, before serialisation.
struct Case {
    classname: String,
    name: String,
    status: Status,
    /// One line: the `message` attribute.
    message: String,
    /// Multi-line details: the failure body or `<system-out>`.
    details: String,
}

fn requirement_case(r: &RequirementReport, profile: &str, lang: Lang) -> Case {
    let mut d = String::new();
    let _ = writeln!(d, "{} — {}", r.id, r.title);
    let _ = writeln!(d, "« {} »", r.wording);
    let _ = writeln!(
        d,
        "{}: {}",
        tr!(lang, "Status", "Statut"),
        r.status.label(lang)
    );
    if !r.explanation.is_empty() {
        let _ = writeln!(d, "{}", r.explanation);
    }
    if let Some(a) = &r.attestation {
        let _ = writeln!(
            d,
            "{}",
            tr!(
                lang,
                "Attestation: {}",
                "Attestation : {}",
                attestation_line(a, lang)
            )
        );
    }
    if shown_evidence(r).next().is_some() {
        let _ = writeln!(d, "{}", tr!(lang, "Evidence:", "Éléments observés :"));
        for e in shown_evidence(r) {
            let _ = writeln!(d, "  - {}", evidence_line(e));
        }
    }
    if let Some(c) = &r.conflict {
        let _ = writeln!(d, "{}", tr!(lang, "Conflict: {}", "Conflit : {}", c));
    }
    if !r.status.is_met()
        && let Some(rem) = &r.remediation
    {
        let _ = writeln!(
            d,
            "{}",
            tr!(lang, "Remediation: {}", "Remédiation : {}", rem)
        );
    }
    Case {
        classname: classname(&r.section, profile),
        name: r.id.clone(),
        status: r.status,
        message: if r.explanation.is_empty() {
            r.status.label(lang).to_string()
        } else {
            r.explanation.clone()
        },
        details: d,
    }
}

fn group_case(g: &GroupReport, report: &AuditReport) -> Case {
    let lang = report.lang;
    let mut d = String::new();
    let _ = writeln!(d, "{} — {}", g.id, g.title);
    let _ = writeln!(d, "« {} »", g.wording);
    let met = tr!(
        lang,
        "{} of {} needed met",
        "{} satisfait(s) sur {} requis",
        g.met,
        g.needed
    );
    let _ = writeln!(
        d,
        "{}: {} ({met})",
        tr!(lang, "Status", "Statut"),
        g.status.label(lang)
    );
    let _ = writeln!(d, "{}", tr!(lang, "Members:", "Membres :"));
    for m in &g.members {
        let status = report
            .requirements
            .iter()
            .find(|r| &r.id == m)
            .map(|r| r.status.label(lang))
            .unwrap_or("?");
        let _ = writeln!(d, "  - {m}: {status}");
    }
    if !g.status.is_met()
        && let Some(rem) = &g.remediation
    {
        let _ = writeln!(
            d,
            "{}",
            tr!(lang, "Remediation: {}", "Remédiation : {}", rem)
        );
    }
    Case {
        classname: classname(&g.section, &report.profile),
        name: g.id.clone(),
        status: g.status,
        message: met,
        details: d,
    }
}

fn classname(section: &str, profile: &str) -> String {
    if section.is_empty() {
        profile.to_string()
    } else {
        section.to_string()
    }
}

pub fn render(report: &AuditReport) -> String {
    let lang = report.lang;
    let cases: Vec<Case> = report
        .requirements
        .iter()
        .map(|r| requirement_case(r, &report.profile, lang))
        .chain(report.groups.iter().map(|g| group_case(g, report)))
        .collect();
    let tests = cases.len();
    let failures = cases
        .iter()
        .filter(|c| c.status == Status::NonConform)
        .count();
    let skipped = cases
        .iter()
        .filter(|c| c.status == Status::CannotVerify)
        .count();
    let time = format!("{:.3}", report.duration_ms as f64 / 1000.0);
    let suite = format!("labcheck {}", report.profile);
    let counts = format!(
        r#"tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}" time="{time}""#
    );

    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, r#"<testsuites name="labcheck" {counts}>"#);
    let timestamp = match report.started_at.parse::<jiff::Timestamp>() {
        // The JUnit schema's timestamp has no zone; ours is UTC.
        Ok(ts) => format!(r#" timestamp="{}""#, ts.strftime("%Y-%m-%dT%H:%M:%S")),
        Err(_) => String::new(),
    };
    let _ = writeln!(
        out,
        r#"  <testsuite name="{}" {counts}{timestamp}>"#,
        x(&suite)
    );
    out.push_str("    <properties>\n");
    let mut props: Vec<(&str, String)> = vec![
        ("lab", report.lab.clone()),
        ("profile", report.profile.clone()),
        ("verdict", report.verdict.as_str().to_string()),
        ("started_at", report.started_at.clone()),
        ("started", started(report)),
        (
            "tool",
            format!("{} {}", report.tool.name, report.tool.version),
        ),
    ];
    if let Some(inv) = &report.inventory {
        props.push(("inventory", inv.clone()));
    }
    for (name, value) in props {
        let _ = writeln!(
            out,
            r#"      <property name="{name}" value="{}"/>"#,
            x(&value)
        );
    }
    out.push_str("    </properties>\n");

    for c in &cases {
        let _ = write!(
            out,
            r#"    <testcase classname="{}" name="{}""#,
            x(&c.classname),
            x(&c.name)
        );
        match c.status {
            Status::Conform | Status::Attested => {
                let _ = writeln!(out, ">");
            }
            Status::NonConform => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\" type=\"non-conform\">{}</failure>",
                    x(&c.message),
                    x(&c.details)
                );
            }
            Status::CannotVerify => {
                let _ = writeln!(out, ">\n      <skipped message=\"{}\"/>", x(&c.message));
            }
        }
        // The failure body already has the details.
        if c.status != Status::NonConform {
            let _ = writeln!(out, "      <system-out>{}</system-out>", x(&c.details));
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
