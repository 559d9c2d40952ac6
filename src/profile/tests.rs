use super::*;
use crate::diag::{Code, Source};

#[test]
fn shipped_profiles_load_without_diagnostics() {
    for name in ["common", "sisr", "slam"] {
        let (p, d) = load_with_diagnostics(name);
        assert!(d.0.is_empty(), "{name}: {d}");
        assert!(!p.unwrap().requirements.is_empty());
    }
}

/// Every id of annexe-II.E.md, in the profile that must carry it.
const SISR_IDS: &[&str] = &[
    "common.auth",
    "common.dbms",
    "common.internet",
    "common.collab",
    "common.two-os",
    "common.backup",
    "common.secured-resources",
    "common.terminals",
    "common.real-equipment",
    "common.sec.incidents",
    "common.sec.ids",
    "common.sec.encryption",
    "common.sec.traffic",
    "sisr.real-infrastructure",
    "sisr.perimeters",
    "sisr.sla-service",
    "sisr.frame-analysis",
    "sisr.config-mgmt",
    "sisr.remote-admin",
    "sisr.monitoring",
    "sisr.secure-access",
    "sisr.continuity",
    "sisr.fault-tolerance",
    "sisr.load-balancing",
    "sisr.site-vpn",
    "sisr.access-deployment",
    "sisr.scripted-automation",
    "sisr.intrusion-detection",
];
const SLAM_IDS: &[&str] = &[
    "slam.dev-env",
    "slam.component-library",
    "slam.dbms-language",
    "slam.vcs-issues",
    "slam.abnormal-testing",
    "slam.two-apps",
    "slam.remote-services",
    "slam.situation.thick-client",
    "slam.situation.browser",
    "slam.situation.mobile",
    "slam.situation.server",
    "slam.source-available",
];

#[test]
fn every_annexe_id_is_present_with_groups() {
    let sisr = load("sisr").unwrap();
    let ids: Vec<&str> = sisr.requirements.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, SISR_IDS);
    let g = sisr.group("sisr.one-of").unwrap();
    assert_eq!((g.needed, g.members.len()), (1, 4));
    assert!(
        g.members
            .iter()
            .all(|m| !sisr.requirement(m).unwrap().mandatory)
    );

    let slam = load("slam").unwrap();
    let ids: Vec<&str> = slam
        .requirements
        .iter()
        .map(|r| r.id.as_str())
        .filter(|i| i.starts_with("slam."))
        .collect();
    assert_eq!(ids, SLAM_IDS);
    assert!(
        slam.requirement("common.dbms").is_some(),
        "slam includes the common part"
    );
    let g = slam.group("slam.situations").unwrap();
    assert_eq!((g.needed, g.members.len()), (3, 4));
}

#[test]
fn wording_is_french_and_texts_are_bilingual() {
    for name in SELECTABLE {
        for r in load(name).unwrap().requirements {
            assert!(
                !r.wording.is_empty() && !r.how.en.is_empty() && !r.how.fr.is_empty(),
                "{}",
                r.id
            );
            assert!(
                !r.remediation.en.is_empty() && !r.remediation.fr.is_empty(),
                "{}",
                r.id
            );
            assert_ne!(
                r.title.en, r.title.fr,
                "{}: the French title is a translation",
                r.id
            );
        }
    }
}

#[test]
fn a_local_profile_includes_and_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("local.toml");
    std::fs::write(
        &path,
        r#"
[profile]
id = "b12"
title = { en = "Room B12", fr = "Salle B12" }
include = ["sisr"]

[[requirement]]
id = "local.wifi"
section = "local"
wording = "un réseau sans fil invité isolé"
title = { en = "Isolated guest Wi-Fi", fr = "Wi-Fi invité isolé" }
evidence = "attest"
how = { en = "Attested.", fr = "Attesté." }
remediation = { en = "Attest it.", fr = "Attestez-le." }
rule = { kind = "attest" }

[[requirement]]
id = "common.backup"
section = "1.1"
wording = "une solution de sauvegarde"
title = { en = "Backup, daily", fr = "Sauvegarde quotidienne" }
evidence = "probe+cred"
how = { en = "x", fr = "x" }
remediation = { en = "x", fr = "x" }
rule = { kind = "backup", any = ["backup"], max_age = "36h" }
"#,
    )
    .unwrap();
    let p = load(path.to_str().unwrap()).unwrap();
    assert_eq!(p.id, "b12");
    assert!(p.requirement("local.wifi").is_some());
    assert!(p.requirement("sisr.monitoring").is_some());
    assert_eq!(
        p.requirement("common.backup").unwrap().rule,
        Rule::Backup {
            any: vec!["backup".into()],
            max_age: "36h".into()
        }
    );
    assert_eq!(
        p.requirements
            .iter()
            .filter(|r| r.id == "common.backup")
            .count(),
        1
    );
}

#[test]
fn bad_profile_reports_every_problem() {
    let text = r#"
[profile]
id = "bad"
title = { en = "x", fr = "x" }

[[requirement]]
id = "a"
section = "1"
wording = "w"
title = { en = "a", fr = "a" }
evidence = "probe"
how = { en = "x", fr = "x" }
remediation = { en = "x", fr = "x" }
rule = { kind = "backup", any = ["backup"], max_age = "7 days" }
colour = "blue"

[[requirement]]
id = "a"
section = "1"
wording = "w"
title = { en = "a", fr = "a" }
evidence = "guess"
how = { en = "x", fr = "x" }
remediation = { en = "x", fr = "x" }
rule = { kind = "capability", any = ["telepathy"] }

[[group]]
id = "g"
section = "2"
wording = "w"
title = { en = "g", fr = "g" }
needed = 3
members = ["a", "zzz"]
remediation = { en = "x", fr = "x" }
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let (_, d) = load_with_diagnostics(path.to_str().unwrap());
    let s = d.to_string();
    assert!(
        d.0.iter()
            .any(|x| x.code == Code::InvalidDuration && x.line == 14),
        "{s}"
    );
    assert!(
        d.0.iter()
            .any(|x| x.code == Code::UnknownKey && x.line == 15),
        "{s}"
    );
    assert!(
        d.0.iter()
            .any(|x| x.code == Code::InvalidValue && x.line == 22),
        "bad evidence class\n{s}"
    );
    assert!(
        d.0.iter()
            .any(|x| x.code == Code::UnknownReference && x.message.contains("zzz")),
        "{s}"
    );
    assert!(
        d.0.iter().any(|x| x.message.contains("needs 3 of 2")),
        "{s}"
    );
}

#[test]
fn unknown_capability_is_a_warning() {
    let mut src = Source::new("p.toml", "");
    let r: Requirement = toml::from_str(
        r#"
id = "x"
section = "1"
wording = "w"
title = { en = "a", fr = "b" }
evidence = "probe"
how = { en = "x", fr = "x" }
remediation = { en = "x", fr = "x" }
rule = { kind = "capability", any = ["telepathy"] }
"#,
    )
    .unwrap();
    let v = toml::Spanned::new(0..0, toml::de::DeValue::Boolean(true));
    check_rule(&mut src, &r, &v);
    assert_eq!(src.diags.0.len(), 1);
    assert_eq!(src.diags.0[0].severity, crate::diag::Severity::Warning);
}

#[test]
fn missing_profile_names_the_choices() {
    let e = load("nope").unwrap_err();
    assert!(e.to_string().contains("no such profile `nope`"));
    assert!(e.to_string().contains("sisr, slam"));
}
