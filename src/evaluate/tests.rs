//! The evaluator is pure: these tests build facts by hand, no network.

use super::*;
use crate::facts::{
    Fact, FactKind, Facts, HostFacts, OsFamily, Outcome, PortObservation, Proto, Reachability,
    Strength,
};
use crate::i18n::{Lang, Text};
use crate::inventory::{self, Attestation, Expect, Flow, Inventory, Resource, Zone};
use crate::profile::{self, EvidenceClass, Group, OnMissing, Profile, Requirement, Rule};

fn req(id: &str, rule: Rule) -> Requirement {
    Requirement {
        id: id.into(),
        section: "1.1".into(),
        wording: "libellé".into(),
        title: Text::new(id, id),
        evidence: EvidenceClass::Probe,
        mandatory: true,
        how: Text::default(),
        remediation: Text::new("fix it", "corrigez"),
        rule,
    }
}

fn cap(any: &[&str], on_missing: OnMissing) -> Rule {
    Rule::Capability {
        any: any.iter().map(|s| s.to_string()).collect(),
        all: vec![],
        partial: vec![],
        on_missing,
    }
}

fn profile_of(reqs: Vec<Requirement>) -> Profile {
    Profile {
        id: "test".into(),
        title: Text::default(),
        requirements: reqs,
        groups: vec![],
    }
}

fn inv() -> Inventory {
    let mut i = inventory::local_default("sisr");
    i.lab.scope = vec!["198.18.10.0/24".parse().unwrap()];
    i.hosts.clear();
    i
}

fn up(name: &str, last: u8) -> HostFacts {
    let mut h = HostFacts::new(name, format!("198.18.10.{last}").parse().unwrap());
    h.reachability = Reachability::Up;
    h
}

fn down(name: &str, last: u8) -> HostFacts {
    let mut h = HostFacts::new(name, format!("198.18.10.{last}").parse().unwrap());
    h.reachability = Reachability::Unreachable {
        reason: "no answer".into(),
    };
    h
}

fn service(port: u16, product: &str, caps: &[&str]) -> Fact {
    Fact {
        probe: "banner".into(),
        port: Some(port),
        kind: FactKind::Service {
            product: product.into(),
            name: product.into(),
            version: Some("1.0".into()),
            capabilities: caps.iter().map(|s| s.to_string()).collect(),
            open_source: Some(true),
        },
    }
}

fn capability(name: &str, present: bool) -> Fact {
    Fact {
        probe: "test".into(),
        port: None,
        kind: FactKind::Capability {
            name: name.into(),
            present,
            detail: format!("{name} detail"),
        },
    }
}

fn os(probe: &str, family: OsFamily, strength: Strength) -> Fact {
    Fact {
        probe: probe.into(),
        port: None,
        kind: FactKind::Os {
            family,
            name: None,
            version: None,
            strength,
        },
    }
}

fn port(port: u16, outcome: Outcome, product: Option<&str>) -> PortObservation {
    PortObservation {
        port,
        proto: Proto::Tcp,
        outcome,
        product: product.map(str::to_string),
        banner: None,
    }
}

fn facts(hosts: Vec<HostFacts>) -> Facts {
    Facts { hosts, lab: vec![] }
}

fn eval(p: &Profile, i: &Inventory, f: &Facts) -> Evaluation {
    evaluate(p, i, f, &crate::catalog::Catalog::embedded(), Lang::En)
}

fn status(p: &Profile, i: &Inventory, f: &Facts, id: &str) -> Status {
    eval(p, i, f).verdict(id).unwrap().status
}

fn attest(id: &str) -> Attestation {
    Attestation {
        id: id.into(),
        by: "A. Martin".into(),
        date: "2026-11-20".into(),
        evidence: "photo 12".into(),
        note: None,
    }
}

#[test]
fn capability_found_is_conform_with_evidence() {
    let p = profile_of(vec![req(
        "common.dbms",
        cap(&["dbms"], OnMissing::NonConform),
    )]);
    let mut db = up("db", 20);
    db.facts.push(service(5432, "postgresql", &["dbms"]));
    let e = eval(&p, &inv(), &facts(vec![db]));
    let v = e.verdict("common.dbms").unwrap();
    assert_eq!(v.status, Status::Conform);
    assert_eq!(v.evidence[0].host.as_deref(), Some("db"));
    assert!(v.evidence[0].observed.contains("postgresql 1.0 (tcp/5432)"));
    assert!(v.remediation.is_none());
    assert_eq!(e.overall, Overall::Conform);
}

#[test]
fn complete_scan_without_capability_is_non_conform() {
    let p = profile_of(vec![req(
        "common.dbms",
        cap(&["dbms"], OnMissing::NonConform),
    )]);
    let mut web = up("web", 11);
    web.ports.push(port(3306, Outcome::Refused, None));
    let e = eval(&p, &inv(), &facts(vec![web]));
    assert_eq!(e.verdict("common.dbms").unwrap().status, Status::NonConform);
    assert_eq!(
        e.verdict("common.dbms").unwrap().remediation.as_deref(),
        Some("fix it")
    );
    assert_eq!(e.overall, Overall::NonConform);
}

#[test]
fn an_unreachable_host_makes_absence_unprovable() {
    let p = profile_of(vec![req(
        "common.dbms",
        cap(&["dbms"], OnMissing::NonConform),
    )]);
    let e = eval(&p, &inv(), &facts(vec![up("web", 11), down("db", 20)]));
    let v = e.verdict("common.dbms").unwrap();
    assert_eq!(v.status, Status::CannotVerify);
    assert!(
        v.explanation.contains("db did not answer"),
        "{}",
        v.explanation
    );
    assert_eq!(e.overall, Overall::Incomplete);
}

#[test]
fn a_timeout_or_unknown_answer_on_a_relevant_port_makes_absence_unprovable() {
    let p = profile_of(vec![req(
        "common.dbms",
        cap(&["dbms"], OnMissing::NonConform),
    )]);
    for obs in [
        port(5432, Outcome::Timeout, None),
        port(3306, Outcome::Open, None),
        port(5432, Outcome::ProtocolError("reset".into()), None),
    ] {
        let mut h = up("db", 20);
        h.ports.push(obs);
        assert_eq!(
            status(&p, &inv(), &facts(vec![h]), "common.dbms"),
            Status::CannotVerify
        );
    }
    // An unknown service on a port no DBMS fingerprint uses does not hide a DBMS.
    let mut h = up("db", 20);
    h.ports.push(port(7001, Outcome::Open, None));
    assert_eq!(
        status(&p, &inv(), &facts(vec![h]), "common.dbms"),
        Status::NonConform
    );
}

#[test]
fn no_host_at_all_is_never_conform() {
    let p = profile_of(vec![req(
        "common.dbms",
        cap(&["dbms"], OnMissing::NonConform),
    )]);
    assert_eq!(
        status(&p, &inv(), &facts(vec![]), "common.dbms"),
        Status::CannotVerify
    );
}

#[test]
fn invisible_capabilities_are_cannot_verify_when_absent() {
    let p = profile_of(vec![req(
        "common.sec.ids",
        cap(&["ids"], OnMissing::CannotVerify),
    )]);
    let v = eval(&p, &inv(), &facts(vec![up("fw", 1)]));
    assert_eq!(
        v.verdict("common.sec.ids").unwrap().status,
        Status::CannotVerify
    );
    assert!(
        v.verdict("common.sec.ids")
            .unwrap()
            .explanation
            .contains("Not visible from the network")
    );
}

#[test]
fn all_rule_needs_every_capability_and_partial_gives_cannot_verify() {
    let rule = Rule::Capability {
        any: vec![],
        all: vec!["monitoring".into(), "monitoring.alerts".into()],
        partial: vec!["monitoring".into()],
        on_missing: OnMissing::NonConform,
    };
    let p = profile_of(vec![req("sisr.monitoring", rule)]);
    let mut mon = up("mon", 30);
    mon.facts.push(service(9090, "prometheus", &["monitoring"]));
    let v = eval(&p, &inv(), &facts(vec![mon.clone()]));
    let verdict = v.verdict("sisr.monitoring").unwrap();
    assert_eq!(verdict.status, Status::CannotVerify);
    assert!(
        verdict
            .explanation
            .contains("monitoring.alerts was not proven"),
        "{}",
        verdict.explanation
    );

    // Alert rules observed absent: the opposite was seen.
    let mut no_rules = mon.clone();
    no_rules.facts.push(capability("monitoring.alerts", false));
    assert_eq!(
        status(&p, &inv(), &facts(vec![no_rules]), "sisr.monitoring"),
        Status::NonConform
    );

    let mut with_rules = mon;
    with_rules.facts.push(capability("monitoring.alerts", true));
    assert_eq!(
        status(&p, &inv(), &facts(vec![with_rules]), "sisr.monitoring"),
        Status::Conform
    );
}

#[test]
fn a_positive_beats_a_negative_elsewhere() {
    let p = profile_of(vec![req(
        "sisr.monitoring",
        cap(&["monitoring.alerts"], OnMissing::NonConform),
    )]);
    let mut a = up("mon1", 30);
    a.facts.push(capability("monitoring.alerts", false));
    let mut b = up("mon2", 31);
    b.facts.push(capability("monitoring.alerts", true));
    assert_eq!(
        status(&p, &inv(), &facts(vec![a, b]), "sisr.monitoring"),
        Status::Conform
    );
}

#[test]
fn attestation_turns_cannot_verify_into_attested() {
    let p = profile_of(vec![req("common.terminals", Rule::Attest)]);
    let mut i = inv();
    assert_eq!(
        status(&p, &i, &facts(vec![]), "common.terminals"),
        Status::CannotVerify
    );
    i.attestations.push(attest("common.terminals"));
    let e = eval(&p, &i, &facts(vec![]));
    let v = e.verdict("common.terminals").unwrap();
    assert_eq!(v.status, Status::Attested);
    assert!(
        v.evidence
            .iter()
            .any(|e| e.probe == "attestation" && e.observed.contains("A. Martin"))
    );
    assert!(v.remediation.is_none());
    assert_eq!(e.overall, Overall::Conform, "attested counts as met");
}

#[test]
fn attestation_never_overrides_an_observed_opposite() {
    let rule = Rule::Capability {
        any: vec!["monitoring.alerts".into()],
        all: vec![],
        partial: vec![],
        on_missing: OnMissing::NonConform,
    };
    let p = profile_of(vec![req("sisr.monitoring", rule)]);
    let mut i = inv();
    i.attestations.push(attest("sisr.monitoring"));
    let mut mon = up("mon", 30);
    mon.facts.push(capability("monitoring.alerts", false));
    let e = eval(&p, &i, &facts(vec![mon]));
    let v = e.verdict("sisr.monitoring").unwrap();
    assert_eq!(v.status, Status::NonConform);
    let conflict = v.conflict.as_deref().unwrap();
    assert!(
        conflict.contains("A. Martin") && conflict.contains("opposite"),
        "{conflict}"
    );
}

#[test]
fn attestation_of_a_conform_item_is_kept_as_evidence() {
    let p = profile_of(vec![req(
        "common.dbms",
        cap(&["dbms"], OnMissing::NonConform),
    )]);
    let mut i = inv();
    i.attestations.push(attest("common.dbms"));
    let mut db = up("db", 20);
    db.facts.push(service(3306, "mariadb", &["dbms"]));
    let v = eval(&p, &i, &facts(vec![db]));
    let v = v.verdict("common.dbms").unwrap();
    assert_eq!(v.status, Status::Conform);
    assert!(v.conflict.is_none());
    assert_eq!(v.evidence.len(), 2);
}

fn two_os_profile() -> Profile {
    profile_of(vec![req(
        "common.two-os",
        Rule::TwoOs {
            min_families: 2,
            open_source: 1,
        },
    )])
}

#[test]
fn two_os_needs_two_established_families() {
    let p = two_os_profile();
    let mut lin = up("lin", 10);
    lin.facts
        .push(os("ssh:os-release", OsFamily::Linux, Strength::Strong));
    let mut win = up("win", 11);
    win.facts
        .push(os("ssh:cim", OsFamily::Windows, Strength::Strong));
    assert_eq!(
        status(&p, &inv(), &facts(vec![lin.clone(), win]), "common.two-os"),
        Status::Conform
    );

    // Two Linux servers: the opposite of the requirement was observed.
    let mut lin2 = up("lin2", 12);
    lin2.facts
        .push(os("local:system", OsFamily::Linux, Strength::Strong));
    assert_eq!(
        status(&p, &inv(), &facts(vec![lin.clone(), lin2]), "common.two-os"),
        Status::NonConform
    );

    // Two proprietary families and no open source one.
    let mut mac = up("mac", 13);
    mac.facts
        .push(os("local:system", OsFamily::Macos, Strength::Strong));
    let mut win = up("win", 11);
    win.facts
        .push(os("ssh:cim", OsFamily::Windows, Strength::Strong));
    assert_eq!(
        status(&p, &inv(), &facts(vec![mac, win]), "common.two-os"),
        Status::NonConform
    );
}

#[test]
fn one_weak_signal_is_not_proof() {
    let p = two_os_profile();
    let mut lin = up("lin", 10);
    lin.facts
        .push(os("local:system", OsFamily::Linux, Strength::Strong));
    let mut fake_win = up("smb", 11);
    fake_win
        .facts
        .push(os("http", OsFamily::Windows, Strength::Weak));
    let e = eval(&p, &inv(), &facts(vec![lin.clone(), fake_win.clone()]));
    let v = e.verdict("common.two-os").unwrap();
    assert_eq!(v.status, Status::CannotVerify);
    assert!(
        v.explanation.contains("probably windows"),
        "{}",
        v.explanation
    );

    // Two agreeing weak signals from different probes establish it.
    let mut win = fake_win.clone();
    win.facts
        .push(os("banner", OsFamily::Windows, Strength::Weak));
    assert_eq!(
        status(&p, &inv(), &facts(vec![lin.clone(), win]), "common.two-os"),
        Status::Conform
    );

    // Conflicting signals (a Linux SSH banner, a Windows-looking header) establish nothing.
    let mut mixed = fake_win;
    mixed
        .facts
        .push(os("banner", OsFamily::Linux, Strength::Weak));
    let e = eval(&p, &inv(), &facts(vec![lin, mixed]));
    assert_eq!(
        e.verdict("common.two-os").unwrap().status,
        Status::CannotVerify
    );
    assert!(
        e.verdict("common.two-os")
            .unwrap()
            .explanation
            .contains("conflicting")
    );
}

#[test]
fn two_os_with_an_unreachable_server_is_cannot_verify() {
    let p = two_os_profile();
    let mut lin = up("lin", 10);
    lin.facts
        .push(os("local:system", OsFamily::Linux, Strength::Strong));
    assert_eq!(
        status(
            &p,
            &inv(),
            &facts(vec![lin, down("win", 11)]),
            "common.two-os"
        ),
        Status::CannotVerify
    );
}

fn backup_profile() -> Profile {
    profile_of(vec![req(
        "common.backup",
        Rule::Backup {
            any: vec!["backup".into()],
            max_age: "7d".into(),
        },
    )])
}

fn backup_age(secs: u64) -> Fact {
    Fact {
        probe: "ssh:borg".into(),
        port: None,
        kind: FactKind::BackupAge {
            tool: "borg".into(),
            age_secs: secs,
            detail: "repo /srv/borg".into(),
        },
    }
}

#[test]
fn backup_age_decides() {
    let p = backup_profile();
    let mut b = up("backup", 40);
    b.facts.push(backup_age(3600));
    assert_eq!(
        status(&p, &inv(), &facts(vec![b]), "common.backup"),
        Status::Conform
    );
    let mut stale = up("backup", 40);
    stale.facts.push(backup_age(9 * 86_400));
    let e = eval(&p, &inv(), &facts(vec![stale]));
    assert_eq!(
        e.verdict("common.backup").unwrap().status,
        Status::NonConform
    );
    assert!(
        e.verdict("common.backup").unwrap().evidence[0]
            .observed
            .contains("9d")
    );
}

#[test]
fn backup_software_without_age_is_cannot_verify() {
    let p = backup_profile();
    let mut b = up("backup", 40);
    b.facts.push(service(873, "rsyncd", &["backup"]));
    let e = eval(&p, &inv(), &facts(vec![b]));
    assert_eq!(
        e.verdict("common.backup").unwrap().status,
        Status::CannotVerify
    );
    assert_eq!(e.verdict("common.backup").unwrap().evidence.len(), 1);
    assert_eq!(
        status(&p, &inv(), &facts(vec![up("x", 1)]), "common.backup"),
        Status::CannotVerify
    );
}

#[test]
fn hosts_reachable_counts_hosts_that_answer() {
    let p = profile_of(vec![req(
        "common.real-equipment",
        Rule::HostsReachable { min: 2 },
    )]);
    assert_eq!(
        status(
            &p,
            &inv(),
            &facts(vec![up("a", 1), up("b", 2)]),
            "common.real-equipment"
        ),
        Status::Conform
    );
    assert_eq!(
        status(
            &p,
            &inv(),
            &facts(vec![up("a", 1), down("b", 2)]),
            "common.real-equipment"
        ),
        Status::CannotVerify
    );
    assert_eq!(
        status(
            &p,
            &inv(),
            &facts(vec![up("a", 1)]),
            "common.real-equipment"
        ),
        Status::NonConform
    );
}

fn flow_fact(expect_allow: bool, open: Option<bool>) -> Fact {
    Fact {
        probe: "ssh:connect".into(),
        port: None,
        kind: FactKind::Flow {
            from: "web1".into(),
            to: "db:5432".into(),
            expect_allow,
            open,
            detail: String::new(),
        },
    }
}

#[test]
fn perimeters_need_zones_and_observed_filtering() {
    let p = profile_of(vec![req(
        "sisr.perimeters",
        Rule::Perimeters { min_zones: 2 },
    )]);
    let mut i = inv();
    assert_eq!(
        status(&p, &i, &facts(vec![]), "sisr.perimeters"),
        Status::NonConform,
        "no zone"
    );
    i.zones = vec![
        Zone {
            name: "lan".into(),
            cidr: "198.18.10.0/25".parse().unwrap(),
        },
        Zone {
            name: "dmz".into(),
            cidr: "198.18.10.128/25".parse().unwrap(),
        },
    ];
    i.flows.push(Flow {
        from: "web1".into(),
        to: "db:5432".into(),
        expect: Expect::Deny,
    });
    assert_eq!(
        status(&p, &i, &facts(vec![]), "sisr.perimeters"),
        Status::CannotVerify,
        "flows not tested"
    );
    let mut web = up("web1", 129);
    web.facts.push(flow_fact(false, Some(false)));
    assert_eq!(
        status(&p, &i, &facts(vec![web]), "sisr.perimeters"),
        Status::Conform
    );
    let mut flat = up("web1", 129);
    flat.facts.push(flow_fact(false, Some(true)));
    assert_eq!(
        status(&p, &i, &facts(vec![flat]), "sisr.perimeters"),
        Status::NonConform
    );
}

#[test]
fn secured_resources_rules() {
    let p = profile_of(vec![req(
        "common.secured-resources",
        Rule::SecuredResources,
    )]);
    let mut i = inv();
    assert_eq!(
        status(&p, &i, &facts(vec![]), "common.secured-resources"),
        Status::CannotVerify
    );
    i.resources.push(Resource {
        name: "intranet".into(),
        url: "https://198.18.10.11/".into(),
        account: None,
    });
    let res = |anon: Option<bool>, acc: Option<bool>| Fact {
        probe: "http".into(),
        port: Some(443),
        kind: FactKind::Resource {
            name: "intranet".into(),
            anonymous_refused: anon,
            account_accepted: acc,
            detail: "401 then 200".into(),
        },
    };
    let with = |f: Fact| {
        let mut h = up("web1", 11);
        h.facts.push(f);
        facts(vec![h])
    };
    assert_eq!(
        status(
            &p,
            &i,
            &with(res(Some(true), Some(true))),
            "common.secured-resources"
        ),
        Status::Conform
    );
    assert_eq!(
        status(
            &p,
            &i,
            &with(res(Some(false), None)),
            "common.secured-resources"
        ),
        Status::NonConform
    );
    // The declared account refused: cannot verify, never conform.
    assert_eq!(
        status(
            &p,
            &i,
            &with(res(Some(true), Some(false))),
            "common.secured-resources"
        ),
        Status::CannotVerify
    );
}

#[test]
fn groups_count_met_members() {
    let mut members = vec![
        req(
            "sisr.site-vpn",
            cap(&["vpn.site.up"], OnMissing::CannotVerify),
        ),
        req(
            "sisr.intrusion-detection",
            cap(&["ids"], OnMissing::CannotVerify),
        ),
    ];
    for m in &mut members {
        m.mandatory = false;
    }
    let mut p = profile_of(members);
    p.groups.push(Group {
        id: "sisr.one-of".into(),
        section: "2.2".into(),
        wording: "au moins une".into(),
        title: Text::default(),
        needed: 1,
        members: vec!["sisr.site-vpn".into(), "sisr.intrusion-detection".into()],
        remediation: Text::new("add one", "ajoutez-en une"),
    });
    let e = eval(&p, &inv(), &facts(vec![up("r1", 1)]));
    assert_eq!(e.groups[0].status, Status::CannotVerify);
    assert_eq!(e.overall, Overall::Incomplete);

    let mut r1 = up("r1", 1);
    r1.facts.push(capability("vpn.site.up", true));
    let e = eval(&p, &inv(), &facts(vec![r1]));
    assert_eq!((e.groups[0].status, e.groups[0].met), (Status::Conform, 1));
    assert_eq!(
        e.overall,
        Overall::Conform,
        "optional members do not count on their own"
    );

    let mut bad = up("r1", 1);
    bad.facts.push(capability("vpn.site.up", false));
    bad.facts.push(capability("ids", false));
    let e = eval(&p, &inv(), &facts(vec![bad]));
    assert_eq!(e.groups[0].status, Status::NonConform);
    assert_eq!(e.overall, Overall::NonConform);
    assert_eq!(e.groups[0].remediation.as_deref(), Some("add one"));
}

#[test]
fn evaluation_is_deterministic() {
    let p = profile::load("sisr").unwrap();
    let mut db = up("db", 20);
    db.facts.push(service(5432, "postgresql", &["dbms"]));
    let f = facts(vec![db, down("x", 9)]);
    let a = serde_json::to_string(&eval(&p, &inv(), &f)).unwrap();
    let b = serde_json::to_string(&eval(&p, &inv(), &f)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn french_explanations() {
    let p = profile_of(vec![req("common.terminals", Rule::Attest)]);
    let e = evaluate(
        &p,
        &inv(),
        &facts(vec![]),
        &crate::catalog::Catalog::embedded(),
        Lang::Fr,
    );
    assert!(
        e.verdict("common.terminals")
            .unwrap()
            .explanation
            .contains("Seule une attestation")
    );
    assert_eq!(
        e.verdict("common.terminals")
            .unwrap()
            .remediation
            .as_deref(),
        Some("corrigez")
    );
}

#[test]
fn every_shipped_requirement_is_decided_without_panicking() {
    for name in profile::SELECTABLE {
        let p = profile::load(name).unwrap();
        let e = eval(&p, &inv(), &facts(vec![up("a", 1), down("b", 2)]));
        assert_eq!(e.requirements.len(), p.requirements.len());
        assert!(
            e.requirements
                .iter()
                .all(|v| v.status != Status::Conform || !v.evidence.is_empty()),
            "a conform verdict always carries evidence"
        );
    }
}
