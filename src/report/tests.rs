//! Report formats: structure, escaping of hostile lab text, languages.

use super::attestation::{COL_DESCRIPTION, COL_ELEMENT, COL_REMARKS};
use super::*;
use crate::evaluate::{Evidence, Overall, Status};
use crate::i18n::Lang;
use crate::inventory::Attestation;

/// What a hostile lab could send: markup, quotes, an entity, the end of a
/// CDATA section, Markdown table syntax, a terminal escape, non-ASCII.
const HOSTILE: &str = "<script>alert(1)</script> \"quotes\" &amp; ]]> | pipe | \u{1b}[31m é";

/// [`HOSTILE`] as every format shows it: the ESC made visible.
fn hostile_visible() -> String {
    HOSTILE.replace('\u{1b}', "\\x1b")
}

fn ev(host: Option<&str>, probe: &str, observed: &str) -> Evidence {
    Evidence {
        host: host.map(str::to_string),
        probe: probe.into(),
        observed: observed.into(),
    }
}

fn req(id: &str, section: &str, status: Status) -> RequirementReport {
    RequirementReport {
        id: id.into(),
        section: section.into(),
        title: format!("Title of {id}"),
        wording: format!("libellé officiel de {id}, « élément »"),
        mandatory: true,
        evidence_class: "probe".into(),
        status,
        explanation: format!("Explanation for {id}."),
        evidence: Vec::new(),
        remediation: (!status.is_met()).then(|| format!("Fix {id}.")),
        attestation: None,
        conflict: None,
    }
}

fn attestation(id: &str, evidence: &str) -> Attestation {
    Attestation {
        id: id.into(),
        by: "A. Martin (technicienne)".into(),
        date: "2026-11-20".into(),
        evidence: evidence.into(),
        note: Some("vue en salle B12".into()),
    }
}

/// Every status, two groups, attestations, a conflict, an unreachable
/// host, and hostile lab text in every place lab text can reach.
fn sample(lang: Lang) -> AuditReport {
    let mut auth = req("common.auth", "1.1", Status::Conform);
    auth.evidence = vec![ev(
        Some("dc"),
        "ldap",
        "OpenLDAP 2.5.13, namingContexts dc=lab,dc=test",
    )];

    let mut dbms = req("common.dbms", "1.1", Status::Conform);
    dbms.evidence = vec![ev(
        Some("db"),
        "postgres",
        &format!("PostgreSQL 15.10 banner: {HOSTILE}"),
    )];

    let mut backup = req("common.backup", "1.1", Status::NonConform);
    backup.explanation = format!("No backup seen; last answer: {HOSTILE}");
    backup.evidence = vec![ev(Some("db"), "borg", "last archive 40 days old")];

    let mut terminals = req("common.terminals", "1.1", Status::Attested);
    terminals.evidence_class = "attest".into();
    terminals.attestation = Some(attestation(
        "common.terminals",
        &format!("2 postes Windows 11 + 1 tablette — {HOSTILE}"),
    ));
    terminals.evidence = vec![ev(
        None,
        "attestation",
        &format!("attested by A. Martin on 2026-11-20: {HOSTILE}"),
    )];

    let mut collab = req("common.collab", "1.1", Status::NonConform);
    collab.attestation = Some(attestation("common.collab", "Nextcloud sur cloud.lab.test"));
    collab.conflict = Some(
        "attested by A. Martin on 2026-11-20, but the audit observed the opposite: nothing on 443"
            .into(),
    );
    collab.evidence = vec![ev(Some("web"), "https", "port 443 refused")];

    let mut ids = req("common.sec.ids", "1.3", Status::CannotVerify);
    ids.explanation = "The host nas is unreachable.".into();

    let mut real = req("sisr.real-infrastructure", "2", Status::Conform);
    real.evidence = vec![ev(Some("dc"), "tcp", "answers on 389/tcp")];

    let mut vpn = req("sisr.site-vpn", "2.2", Status::CannotVerify);
    vpn.mandatory = false;
    vpn.evidence = vec![ev(Some("fw"), "udp", "IKE answered on 500/udp")];

    let mut scripts = req("sisr.scripted-automation", "2.2", Status::Attested);
    scripts.mandatory = false;
    scripts.attestation = Some(attestation(
        "sisr.scripted-automation",
        "script PowerShell dans le dépôt",
    ));

    let requirements = vec![
        auth, dbms, backup, terminals, collab, ids, real, vpn, scripts,
    ];
    let members = vec![
        "sisr.site-vpn".to_string(),
        "sisr.scripted-automation".to_string(),
    ];
    let groups = vec![
        GroupReport {
            id: "sisr.one-of".into(),
            section: "2.2".into(),
            title: "At least one of the 2.2 solutions".into(),
            wording: "au moins une solution d'infrastructure opérationnelle parmi les suivantes"
                .into(),
            needed: 1,
            met: 1,
            status: Status::Conform,
            members: members.clone(),
            remediation: None,
        },
        GroupReport {
            id: "test.two-of".into(),
            section: "2.2".into(),
            title: "Two of them".into(),
            wording: "au moins deux des solutions ci-dessus".into(),
            needed: 2,
            met: 1,
            status: Status::CannotVerify,
            members,
            remediation: Some("Operate a second one.".into()),
        },
    ];
    let hosts = vec![
        HostReport {
            name: "dc".into(),
            address: "198.18.10.10".into(),
            zone: Some("lan".into()),
            reachable: true,
            unreachable_reason: None,
            problems: vec![],
            os: Some("linux debian 12".into()),
            services: vec![ServiceReport {
                port: 389,
                proto: "tcp".into(),
                product: "openldap".into(),
                name: "OpenLDAP".into(),
                version: Some(format!("2.5.13 {HOSTILE}")),
            }],
            ports: vec![
                PortReport {
                    port: 389,
                    proto: "tcp".into(),
                    outcome: "open".into(),
                    detail: None,
                    product: Some("openldap".into()),
                    banner: Some(HOSTILE.into()),
                },
                PortReport {
                    port: 636,
                    proto: "tcp".into(),
                    outcome: "timeout".into(),
                    detail: None,
                    product: None,
                    banner: None,
                },
            ],
        },
        HostReport {
            name: "nas".into(),
            address: "198.18.10.30".into(),
            zone: Some("lan".into()),
            reachable: false,
            unreachable_reason: Some(format!("no route to host \u{9b}2J {HOSTILE}")),
            problems: vec![ProblemReport {
                probe: "ssh".into(),
                what: "host key".into(),
                reason: format!("changed {HOSTILE}"),
            }],
            os: None,
            services: Vec::new(),
            ports: Vec::new(),
        },
    ];
    AuditReport {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: "labcheck".into(),
            version: "0.1.0".into(),
        },
        lab: format!("GSB salle B12 {HOSTILE}"),
        profile: "sisr".into(),
        lang,
        inventory: Some("lab.toml".into()),
        started_at: "2026-11-20T09:00:00Z".into(),
        duration_ms: 12_345,
        verdict: Overall::NonConform,
        summary: Summary {
            conform: 3,
            non_conform: 2,
            cannot_verify: 2,
            attested: 2,
        },
        requirements,
        groups,
        hosts,
    }
}

/// The same report with every hostile string replaced by a harmless one.
fn tame(report: &AuditReport) -> AuditReport {
    let json = serde_json::to_string(report).unwrap();
    let quoted = serde_json::to_string(HOSTILE).unwrap();
    let json = json
        .replace(&quoted[1..quoted.len() - 1], "harmless")
        .replace("\\u009b", "");
    serde_json::from_str(&json).unwrap()
}

fn ids(report: &AuditReport) -> Vec<&str> {
    report
        .requirements
        .iter()
        .map(|r| r.id.as_str())
        .chain(report.groups.iter().map(|g| g.id.as_str()))
        .collect()
}

/// `|` that are table syntax, not `\|`.
fn unescaped_pipes(line: &str) -> usize {
    let mut n = 0;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '|' => n += 1,
            _ => {}
        }
    }
    n
}

/// Every Markdown table (consecutive `|` lines) has the same number of
/// cells in each row as in its header. Returns the tables' row counts.
fn check_tables(md: &str) -> Vec<usize> {
    let mut tables = Vec::new();
    let mut header: Option<usize> = None;
    let mut rows = 0;
    for line in md.lines().chain(std::iter::once("")) {
        if line.starts_with('|') {
            let n = unescaped_pipes(line);
            match header {
                None => header = Some(n),
                Some(h) => {
                    assert_eq!(n, h, "broken table row: {line}");
                    rows += 1;
                }
            }
        } else if header.take().is_some() {
            tables.push(rows - 1); // minus the delimiter row
            rows = 0;
        }
    }
    tables
}

// ---------------------------------------------------------------------------
// text

#[test]
fn text_has_every_id_hosts_and_summary() {
    let report = sample(Lang::En);
    let out = render(&report, Format::Text, RenderOptions { color: false });
    for id in ids(&report) {
        assert!(out.contains(id), "{id} missing");
    }
    let sections: Vec<usize> = ["Section 1.1", "Section 1.3", "Section 2\n", "Section 2.2"]
        .iter()
        .map(|s| out.find(s).unwrap())
        .collect();
    assert!(
        sections.windows(2).all(|w| w[0] < w[1]),
        "sections out of order"
    );
    assert!(out.contains("✘ non-conform"));
    assert!(out.contains("? cannot verify"));
    assert!(out.contains("✎ attested"));
    assert!(out.contains("→ Fix common.backup."));
    assert!(out.contains("conflict: attested by A. Martin"));
    assert!(out.contains("dc · ldap · OpenLDAP 2.5.13"));
    assert!(out.contains("(group, 1/1 met)"));
    assert!(out.contains("Hosts\n"));
    assert!(out.contains("unreachable: no route to host"));
    assert!(out.contains("389/tcp  OpenLDAP 2.5.13"));
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("Summary: conform: 3 · non-conform: 2 · cannot verify: 2 · attested: 2"),
        "{last}"
    );
    assert!(last.ends_with("verdict: NON-CONFORM"), "{last}");
}

#[test]
fn text_without_colour_has_no_escape_at_all() {
    let out = render(
        &sample(Lang::En),
        Format::Text,
        RenderOptions { color: false },
    );
    assert!(!out.contains('\u{1b}'));
    assert!(!out.contains('\u{9b}'));
    assert!(out.contains(&hostile_visible()));
    assert!(out.contains("\\x9b2J"));
}

#[test]
fn text_with_colour_has_only_its_own_escapes() {
    let report = sample(Lang::En);
    let out = render(&report, Format::Text, RenderOptions { color: true });
    let reference = render(&tame(&report), Format::Text, RenderOptions { color: true });
    assert!(out.contains("\u{1b}[32m"), "colour expected");
    // The hostile text adds no ESC: the same count as with harmless text.
    assert_eq!(
        out.matches('\u{1b}').count(),
        reference.matches('\u{1b}').count()
    );
    assert!(!out.contains('\u{9b}'));
    assert!(out.contains(&hostile_visible()));
}

#[test]
fn text_in_french() {
    let out = render(
        &sample(Lang::Fr),
        Format::Text,
        RenderOptions { color: false },
    );
    assert!(out.contains("Hôtes\n"));
    assert!(out.contains("✔ conforme"));
    assert!(out.contains("? non vérifiable"));
    assert!(out.contains("Durée : 12,3 s"));
    assert!(
        out.contains("injoignable : no route to host")
            || out.contains("injoignable: no route to host")
    );
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("Bilan : conforme : 3")
    );
    assert!(
        out.lines()
            .last()
            .unwrap()
            .ends_with("verdict : NON CONFORME")
    );
}

// ---------------------------------------------------------------------------
// JUnit

#[test]
fn junit_is_well_formed_with_the_right_counts() {
    let report = sample(Lang::En);
    let out = render(&report, Format::Junit, RenderOptions::default());
    let doc = roxmltree::Document::parse(&out).expect("well-formed JUnit XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suite = root
        .children()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("name"), Some("labcheck sisr"));

    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let names: Vec<&str> = cases.iter().map(|c| c.attribute("name").unwrap()).collect();
    assert_eq!(names, ids(&report));
    let with = |tag: &str| {
        cases
            .iter()
            .filter(|c| c.children().any(|n| n.has_tag_name(tag)))
            .count()
    };
    // 2 non-conform requirements; 2 cannot-verify requirements + 1 group.
    assert_eq!(with("failure"), 2);
    assert_eq!(with("skipped"), 3);
    assert_eq!(with("error"), 0);
    for (attr, n) in [
        ("tests", 11),
        ("failures", 2),
        ("skipped", 3),
        ("errors", 0),
    ] {
        assert_eq!(
            suite.attribute(attr),
            Some(n.to_string().as_str()),
            "{attr}"
        );
        assert_eq!(root.attribute(attr), Some(n.to_string().as_str()), "{attr}");
    }
    let backup = cases
        .iter()
        .find(|c| c.attribute("name") == Some("common.backup"))
        .unwrap();
    assert_eq!(backup.attribute("classname"), Some("1.1"));
    let failure = backup
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    let body = failure.text().unwrap();
    assert!(body.contains("last archive 40 days old"));
    assert!(body.contains("Remediation: Fix common.backup."));

    // Hostile text round-trips as text, in attributes and in bodies.
    let visible = hostile_visible();
    assert_eq!(
        failure.attribute("message"),
        Some(format!("No backup seen; last answer: {visible}").as_str())
    );
    assert!(body.contains(&visible));
    let dbms = cases
        .iter()
        .find(|c| c.attribute("name") == Some("common.dbms"))
        .unwrap();
    let out_text = dbms
        .children()
        .find(|n| n.has_tag_name("system-out"))
        .unwrap()
        .text()
        .unwrap();
    assert!(out_text.contains(&visible));
    let lab = suite
        .descendants()
        .find(|n| n.attribute("name") == Some("lab"))
        .unwrap();
    assert_eq!(
        lab.attribute("value"),
        Some(format!("GSB salle B12 {visible}").as_str())
    );
    assert!(!doc.descendants().any(|n| n.has_tag_name("script")));

    // Attested: passes, with the attestation.
    let terminals = cases
        .iter()
        .find(|c| c.attribute("name") == Some("common.terminals"))
        .unwrap();
    assert!(
        !terminals
            .children()
            .any(|n| n.has_tag_name("failure") || n.has_tag_name("skipped"))
    );
    let so = terminals
        .children()
        .find(|n| n.has_tag_name("system-out"))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        so.contains("Attestation: attested by A. Martin (technicienne) on 2026-11-20: 2 postes")
    );
}

// ---------------------------------------------------------------------------
// HTML

/// HTML pages start with `<!DOCTYPE html>` (standards mode in browsers),
/// which roxmltree accepts only when asked.
fn parse_xhtml(s: &str) -> roxmltree::Document<'_> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(s, opts).expect("XHTML-compatible markup")
}

fn all_text(doc: &roxmltree::Document<'_>) -> String {
    doc.descendants()
        .filter(|n| n.is_text())
        .map(|n| n.text().unwrap())
        .collect::<Vec<_>>()
        .join("")
}

#[test]
fn html_parses_as_xml_and_escapes_lab_text() {
    let report = sample(Lang::En);
    let out = render(&report, Format::Html, RenderOptions::default());
    let doc = parse_xhtml(&out);
    let html = doc.root_element();
    assert_eq!(html.tag_name().name(), "html");
    assert_eq!(html.attribute("lang"), Some("en"));
    assert!(
        doc.descendants()
            .any(|n| n.has_tag_name("meta") && n.attribute("charset") == Some("utf-8"))
    );
    assert!(doc.descendants().any(|n| n.has_tag_name("title")));
    assert!(!doc.descendants().any(|n| n.has_tag_name("script")));
    assert!(!out.contains("<script"));
    assert!(out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(out.contains("&amp;amp;"));
    assert!(!out.contains('\u{1b}'));
    // Self-contained: no external resource.
    assert!(!out.contains("src="));
    assert!(!out.contains("<link"));
    assert!(
        !out.contains("http:")
            || out.matches("http:").count() == out.matches("http://www.w3.org/1999/xhtml").count()
    );
    assert!(out.contains("@media print"));

    let text = all_text(&doc);
    assert!(text.contains(&hostile_visible()));
    for id in ids(&report) {
        assert!(text.contains(id), "{id} missing");
    }
    // One row per requirement, in the requirements table.
    let table = doc
        .descendants()
        .find(|n| n.has_tag_name("table") && n.attribute("class") == Some("requirements"))
        .unwrap();
    let rows = table
        .descendants()
        .filter(|n| n.has_tag_name("tr") && n.attribute("id").is_some())
        .count();
    assert_eq!(rows, report.requirements.len());
    assert!(text.contains("Hosts"));
    assert!(text.contains("no route to host"));
}

#[test]
fn html_in_french() {
    let out = render(&sample(Lang::Fr), Format::Html, RenderOptions::default());
    let doc = parse_xhtml(&out);
    assert_eq!(doc.root_element().attribute("lang"), Some("fr"));
    let text = all_text(&doc);
    for s in [
        "Hôtes",
        "Exigences",
        "Remédiation",
        "non conforme",
        "attesté",
        "NON CONFORME",
    ] {
        assert!(text.contains(s), "{s} missing");
    }
}

// ---------------------------------------------------------------------------
// Markdown

#[test]
fn markdown_tables_stay_intact_and_no_html_is_injected() {
    let report = sample(Lang::En);
    let out = render(&report, Format::Markdown, RenderOptions::default());
    let tables = check_tables(&out);
    // Summary (requirements + groups), hosts.
    assert_eq!(
        tables,
        vec![
            report.requirements.len() + report.groups.len(),
            report.hosts.len()
        ]
    );
    assert!(!out.contains("<script"));
    assert!(!out.contains('\u{1b}'));
    assert!(out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(out.contains("\\| pipe \\|"));
    assert!(out.contains("&amp;amp;"));
    assert!(out.contains(" é"));
    for id in ids(&report) {
        assert!(out.contains(&super::escape::markdown(id)), "{id} missing");
    }
    // The official wording, quoted.
    assert!(out.contains("> libellé officiel de common.auth, « élément »"));
    assert!(out.contains("**Remediation:** Fix common.backup."));
}

#[test]
fn markdown_in_french() {
    let out = render(
        &sample(Lang::Fr),
        Format::Markdown,
        RenderOptions::default(),
    );
    for s in [
        "## Synthèse",
        "| Id | Section | Intitulé | Statut |",
        "## Hôtes",
        "**Remédiation :**",
        "✘ non conforme",
    ] {
        assert!(out.contains(s), "{s} missing");
    }
}

// ---------------------------------------------------------------------------
// Attestation (the exam's form)

#[test]
fn attestation_markdown_has_one_row_per_element_and_a_blank_remarks_column() {
    for lang in [Lang::En, Lang::Fr] {
        let report = sample(lang);
        let out = render(&report, Format::Attestation, RenderOptions::default());
        assert!(out.starts_with("# Annexe VII-7 — Attestation de respect de l'annexe II.E"));
        let header = format!("| {COL_ELEMENT} | {COL_DESCRIPTION} | {COL_REMARKS} |");
        assert!(out.contains(&header));
        assert!(out.contains("- **Option :** SISR"));
        assert!(out.contains("- **Date de l'audit :** 20/11/2026"));
        assert!(out.contains("- **Établi par** labcheck 0.1.0"));
        assert!(!out.contains("<script"));
        assert!(!out.contains('\u{1b}'));

        let start = out.lines().position(|l| l == header).unwrap();
        let rows: Vec<&str> = out
            .lines()
            .skip(start + 2)
            .take_while(|l| l.starts_with('|'))
            .collect();
        assert_eq!(rows.len(), report.requirements.len() + report.groups.len());
        for row in &rows {
            assert_eq!(unescaped_pipes(row), 4, "{row}");
            assert!(row.ends_with("|  |"), "remarks must be blank: {row}");
        }
        check_tables(&out);
        // Groups just before their first member; French whatever the language.
        let pos = |id: &str| {
            rows.iter()
                .position(|r| r.contains(&format!("· {}</sub>", super::escape::markdown(id))))
                .unwrap()
        };
        assert!(pos("sisr.one-of") < pos("sisr.site-vpn"));
        assert!(pos("test.two-of") < pos("sisr.site-vpn"));
        assert!(pos("common.auth") < pos("common.sec.ids"));
        let row = |id: &str| rows[pos(id)];
        assert!(row("common.auth").contains("Conforme — vérifié par l'audit"));
        assert!(row("common.auth").contains(
            "OpenLDAP 2.5.13, namingContexts dc=lab,dc=test — dc (198.18.10.10), sonde ldap"
        ));
        assert!(
            row("common.terminals").contains(
                "Attesté par A. Martin (technicienne) le 2026-11-20 : 2 postes Windows 11"
            )
        );
        assert!(row("common.sec.ids").contains("À compléter — non vérifié par l'audit"));
        assert!(row("common.backup").contains("Non conforme : "));
        assert!(row("common.collab").contains("contredite par l'audit"));
        assert!(row("sisr.one-of").contains("Satisfait — 1 élément(s) sur 1 requis"));
        assert!(row("sisr.site-vpn").contains("Élément au choix"));
        assert!(!out.contains("Summary") && !out.contains("Hosts"));
    }
}

#[test]
fn attestation_html_is_printable_and_blank_for_the_jury() {
    let report = sample(Lang::En);
    let out = render(&report, Format::AttestationHtml, RenderOptions::default());
    let doc = parse_xhtml(&out);
    assert_eq!(doc.root_element().attribute("lang"), Some("fr"));
    assert!(!doc.descendants().any(|n| n.has_tag_name("script")));
    assert!(out.contains("size: A4 landscape"));
    let form = doc
        .descendants()
        .find(|n| n.has_tag_name("table") && n.attribute("class") == Some("form"))
        .unwrap();
    let headers: Vec<&str> = form
        .descendants()
        .filter(|n| n.has_tag_name("th"))
        .map(|n| n.text().unwrap())
        .collect();
    assert_eq!(headers, [COL_ELEMENT, COL_DESCRIPTION, COL_REMARKS]);
    let body = form.children().find(|n| n.has_tag_name("tbody")).unwrap();
    let rows: Vec<_> = body.children().filter(|n| n.has_tag_name("tr")).collect();
    assert_eq!(rows.len(), report.requirements.len() + report.groups.len());
    for row in &rows {
        let cells: Vec<_> = row.children().filter(|n| n.has_tag_name("td")).collect();
        assert_eq!(cells.len(), 3);
        assert_eq!(cells[2].attribute("class"), Some("remarks"));
        assert!(!cells[2].has_children(), "remarks must be blank");
    }
    let text = all_text(&doc);
    assert!(text.contains(&hostile_visible()));
    assert!(text.contains("Établi par"));
    assert!(text.contains("labcheck 0.1.0"));
    assert!(text.contains("signature des membres de la commission d'interrogation"));
}
