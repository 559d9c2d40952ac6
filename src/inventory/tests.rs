use super::*;
use crate::diag::{Code, Severity, Source};

fn ids() -> Vec<String> {
    crate::audit::embedded_ids()
}

fn check(text: &str) -> (Option<Inventory>, Vec<crate::diag::Diagnostic>) {
    let mut src = Source::new("lab.toml", text);
    let inv = parse(&mut src, &ids());
    (inv, src.diags.0)
}

#[test]
fn broken_fixture_reports_every_problem_with_position() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/broken-inventory.toml");
    let (_, diags) = load_with_diagnostics(&path, &ids());
    let has = |code: Code, line: usize| diags.0.iter().any(|d| d.code == code && d.line == line);
    let text = diags.to_string();
    // Bad CIDR in scope (type error on the [lab] table).
    assert!(
        diags
            .0
            .iter()
            .any(|d| d.code == Code::InvalidValue && d.message.contains("198.18.300.0/24")),
        "{text}"
    );
    assert!(has(Code::Duplicate, 13), "duplicate zone\n{text}");
    assert!(has(Code::Duplicate, 22), "duplicate host\n{text}");
    assert!(has(Code::OutOfScope, 28), "host outside scope\n{text}");
    assert!(has(Code::UnknownReference, 29), "unknown zone\n{text}");
    assert!(has(Code::UnknownKey, 30), "typo prots\n{text}");
    assert!(
        has(Code::InvalidValue, 34),
        "bad address 198.18.10.999\n{text}"
    );
    assert!(has(Code::InlineSecret, 39), "inline password\n{text}");
    assert!(
        has(Code::UnknownReference, 42),
        "flow from unknown host\n{text}"
    );
    assert!(
        has(Code::InvalidValue, 43),
        "flow target without port\n{text}"
    );
    assert!(
        has(Code::UnknownReference, 47),
        "unknown attested id\n{text}"
    );
    assert!(text.contains("did you mean `common.terminals`?"), "{text}");
    assert!(has(Code::InvalidValue, 49), "bad date\n{text}");
    assert!(
        !text.contains("hunter2"),
        "a diagnostic must never echo a secret"
    );
    assert!(
        diags.0.iter().all(|d| d.line > 0 && d.column > 0),
        "every problem has a position\n{text}"
    );
}

#[test]
fn dns_outside_scope_is_an_error() {
    let (_, d) =
        check("[lab]\nname = \"x\"\nscope = [\"198.18.10.0/24\"]\ndns = [\"198.51.100.53\"]\n");
    assert!(
        d.iter()
            .any(|d| d.code == Code::OutOfScope && d.line == 4 && d.column == 8),
        "{d:?}"
    );
}

#[test]
fn syntax_error_has_a_position() {
    let (inv, d) = check("[lab]\nname = \"x\nscope = []\n");
    assert!(inv.is_none());
    assert_eq!(d[0].code, Code::Syntax);
    assert_eq!(d[0].line, 2);
}

#[test]
fn a_valid_inventory_loads() {
    let (inv, d) = check(
        r#"
[lab]
name = "GSB"
option = "sisr"
domain = "lab.test"
dns = ["198.18.10.10"]
scope = ["198.18.10.0/24", "198.51.100.0/24"]

[[zone]]
name = "lan"
cidr = "198.18.10.0/24"

[[zone]]
name = "dmz"
cidr = "198.51.100.0/24"

[[host]]
name = "dc"
address = "198.18.10.10"
zone = "lan"
roles = ["auth", "dns"]

[[host]]
name = "web1"
address = "198.51.100.11"
zone = "dmz"

[credentials.ldap]
bind_dn = "cn=audit,dc=lab,dc=test"
password_env = "LAB_LDAP_PASSWORD"

[[resource]]
name = "intranet"
url = "https://198.51.100.11/intranet/"
account = { user = "alice", password_env = "LAB_ALICE_PASSWORD" }

[[flow]]
from = "web1"
to = "dc:389"
expect = "deny"

[[attest]]
id = "common.terminals"
by = "A. Martin"
date = "2026-11-20"
evidence = "GLPI n°42"
"#,
    );
    let errors: Vec<_> = d.iter().filter(|d| d.severity == Severity::Error).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let inv = inv.unwrap();
    assert_eq!(inv.hosts.len(), 2);
    assert_eq!(inv.zones.len(), 2);
    assert_eq!(
        inv.credentials.get("ldap").unwrap().secret().describe(),
        "$LAB_LDAP_PASSWORD"
    );
    assert_eq!(
        parse_target("dc:389", &inv).unwrap(),
        ("198.18.10.10".parse().unwrap(), 389)
    );
    assert!(inv.in_scope("198.51.100.200".parse().unwrap()));
    assert!(!inv.in_scope("192.0.2.1".parse().unwrap()));
}

#[test]
fn missing_lab_table_and_empty_scope() {
    let (inv, d) = check("[[host]]\nname = \"a\"\naddress = \"198.18.10.1\"\n");
    assert!(inv.is_none());
    assert!(d.iter().any(|d| d.message.contains("missing [lab]")));
    let (_, d) = check("[lab]\nname = \"x\"\n");
    assert!(d.iter().any(|d| d.message.contains("no scope")));
}

#[test]
fn host_bits_in_a_cidr_are_refused_with_a_suggestion() {
    let (_, d) = check("[lab]\nname = \"x\"\nscope = [\"198.18.10.5/24\"]\n");
    assert!(
        d.iter()
            .any(|d| d.message.contains("did you mean 198.18.10.0/24")),
        "{d:?}"
    );
}

#[test]
fn unknown_top_level_key() {
    let (_, d) =
        check("[lab]\nname = \"x\"\nscope = [\"198.18.10.0/24\"]\n[[hosts]]\nname = \"a\"\n");
    assert!(
        d.iter().any(|d| d.code == Code::UnknownKey && d.line == 4),
        "{d:?}"
    );
}
