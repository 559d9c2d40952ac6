//! The CLI contract: exit codes, diagnostics, output files.

mod common;

use common::*;

#[test]
fn validate_reports_every_problem_and_exits_2() {
    let broken = repo().join("tests/fixtures/broken-inventory.toml");
    let o = labcheck(&["validate", broken.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    let err = text(&o.stderr);
    // file:line:column: error[CODE/name]: message
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(": error[LC")).collect();
    assert!(lines.len() >= 12, "{err}");
    for l in &lines {
        let mut parts = l.splitn(4, ':');
        let (file, line, col) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        assert!(file.ends_with("broken-inventory.toml"), "{l}");
        assert!(
            line.parse::<usize>().unwrap() > 0 && col.parse::<usize>().unwrap() > 0,
            "{l}"
        );
    }
    assert!(err.contains("hint:"));
    assert!(text(&o.stdout).contains("invalid inventory"));
}

#[test]
fn validate_accepts_shipped_files() {
    let r = repo();
    let mut files = vec![
        r.join("profiles/common.toml"),
        r.join("profiles/sisr.toml"),
        r.join("profiles/slam.toml"),
        r.join("catalog/tcp.toml"),
    ];
    for e in std::fs::read_dir(r.join("examples")).unwrap() {
        files.push(e.unwrap().path());
    }
    let args: Vec<&str> = std::iter::once("validate")
        .chain(files.iter().map(|p| p.to_str().unwrap()))
        .collect();
    let o = labcheck(&args);
    assert_eq!(code(&o), 0, "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(text(&o.stdout).contains("valid profile"));
    assert!(text(&o.stdout).contains("valid catalog"));
    assert!(text(&o.stdout).contains("valid inventory"));
}

#[test]
fn validate_unreadable_file() {
    let o = labcheck(&["validate", "/nonexistent/lab.toml"]);
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains("cannot read the file"));
}

#[test]
fn local_audit_covers_every_sisr_id_and_is_not_conform() {
    let o = labcheck(&[
        "audit",
        "--profile",
        "sisr",
        "--format",
        "json",
        "--timeout",
        "1s",
    ]);
    let c = code(&o);
    assert!(
        c == 1 || c == 3,
        "a lone machine is not a lab: exit {c}\n{}",
        text(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON report");
    assert_eq!(report["schema_version"], 1);
    let ids: Vec<&str> = report["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for id in [
        "common.auth",
        "common.dbms",
        "common.two-os",
        "sisr.monitoring",
        "sisr.load-balancing",
        "sisr.site-vpn",
    ] {
        assert!(ids.contains(&id), "{id} missing");
    }
    assert_eq!(ids.len(), 28);
    assert_eq!(report["hosts"][0]["address"], "127.0.0.1");
    assert!(
        report["hosts"][0]["os"]
            .as_str()
            .unwrap()
            .starts_with("linux")
    );
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(code(&labcheck(&["audit", "--format", "pdf"])), 2);
    assert_eq!(code(&labcheck(&["audit", "--timeout", "0s"])), 2);
    assert_eq!(code(&labcheck(&["audit", "--profile", "nope"])), 2);
    assert_eq!(
        code(&labcheck(&["audit", "--inventory", "/nonexistent.toml"])),
        2
    );
    let o = labcheck(&["audit", "--only", "common.nope"]);
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains("common.nope"));
    assert_eq!(code(&labcheck(&["frobnicate"])), 2);
}

#[test]
fn invalid_inventory_is_not_probed() {
    let broken = repo().join("tests/fixtures/broken-inventory.toml");
    let o = labcheck(&["audit", "--inventory", broken.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains("nothing was probed"));
    assert!(o.stdout.is_empty());
}

#[test]
fn output_never_overwrites_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("lab.toml");
    let content = "[lab]\nname = \"x\"\nscope = [\"127.0.0.0/8\"]\n";
    std::fs::write(&inv, content).unwrap();
    let o = labcheck(&[
        "audit",
        "--inventory",
        inv.to_str().unwrap(),
        "--output",
        inv.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains("one of the audit's inputs"));
    assert_eq!(std::fs::read_to_string(&inv).unwrap(), content);
}

#[test]
fn output_file_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let o = labcheck(&[
        "audit",
        "--only",
        "common.dbms,common.two-os",
        "--format",
        "json",
        "--output",
        out.to_str().unwrap(),
        "--timeout",
        "500ms",
    ]);
    assert!(matches!(code(&o), 1 | 3), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty());
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(r["requirements"].as_array().unwrap().len(), 2);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
}

#[test]
fn profiles_commands() {
    let o = labcheck(&["profiles", "list", "--profile", "slam"]);
    assert_eq!(code(&o), 0);
    assert!(text(&o.stdout).contains("slam.situations"));
    let o = labcheck(&["profiles", "show", "sisr.monitoring", "--lang", "fr"]);
    assert_eq!(code(&o), 0);
    let out = text(&o.stdout);
    assert!(
        out.contains("Libellé officiel") && out.contains("remontées d'alertes"),
        "{out}"
    );
    assert_eq!(code(&labcheck(&["profiles", "show", "nope"])), 2);
    assert!(text(&labcheck(&["profiles", "capabilities"]).stdout).contains("monitoring.alerts"));
}

#[test]
fn lang_comes_from_the_environment() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_labcheck"))
        .args(["audit", "--only", "common.terminals", "--format", "json"])
        .env("LANG", "fr_FR.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["lang"], "fr");
    assert!(
        r["requirements"][0]["explanation"]
            .as_str()
            .unwrap()
            .contains("attestation")
    );
    assert_eq!(code(&o), 3, "attestation-only item, unattested: incomplete");
}
