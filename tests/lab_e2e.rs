//! End to end: the real `labcheck` binary against the real test lab
//! (tests/lab, brought up by scripts/test). Each scenario breaks one thing,
//! and exactly the requirements it should move must move, the right way.
//!
//! These tests fail (never skip) when the lab is not up.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use common::*;
use serde_json::Value;

/// Scenarios change the shared lab: one test at a time.
static LAB: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    LAB.lock().unwrap_or_else(|e| e.into_inner())
}

/// The lab's environment (secrets for the inventory's references), after
/// checking the lab is really there: every lab address must leave through
/// the lab's own link, never the default route.
fn lab_env() -> Vec<(String, String)> {
    for addr in ["198.18.10.10", "198.51.100.10", "198.19.20.10"] {
        let out = Command::new("ip")
            .args(["route", "get", addr])
            .output()
            .expect("ip route get");
        let route = text(&out.stdout);
        assert!(
            route.contains("lcv-audit"),
            "lab address {addr} is not routed through the lab (lcv-audit): {route}; is the lab up?"
        );
    }
    wait_healthy();
    lab_env_vars()
}

/// Waits until tests/lab/status says the lab is healthy: after a repair,
/// health checks (HAProxy, WireGuard handshakes) take a few seconds to settle.
fn wait_healthy() {
    let start = Instant::now();
    loop {
        let status = Command::new(repo().join("tests/lab/status"))
            .output()
            .expect("tests/lab/status");
        if status.status.success() {
            return;
        }
        assert!(
            start.elapsed().as_secs() < 60,
            "tests/lab/status reports an unhealthy lab for 60 s:\n{}",
            text(&status.stdout)
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
}

struct Audit {
    code: i32,
    report: Value,
    stderr: String,
    secs: f64,
}

fn audit(env: &[(String, String)], format: &str) -> (i32, String, String) {
    let inv = repo().join("tests/lab/inventory.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_labcheck"))
        .args([
            "audit",
            "--inventory",
            inv.to_str().unwrap(),
            "--format",
            format,
            "--timeout",
            "2s",
        ])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("NO_COLOR", "1")
        .env_remove("LANG")
        .output()
        .expect("run labcheck");
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

fn audit_json(env: &[(String, String)]) -> Audit {
    let start = Instant::now();
    let (code, stdout, stderr) = audit(env, "json");
    let secs = start.elapsed().as_secs_f64();
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}); stderr:\n{stderr}"));
    Audit {
        code,
        report,
        stderr,
        secs,
    }
}

/// id → status, for requirements and groups.
fn statuses(r: &Value) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for key in ["requirements", "groups"] {
        for x in r[key].as_array().unwrap() {
            m.insert(
                x["id"].as_str().unwrap().to_string(),
                x["status"].as_str().unwrap().to_string(),
            );
        }
    }
    m
}

fn explain(r: &Value, id: &str) -> String {
    r["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id)
        .map(|x| format!("{} — {}", x["explanation"], x["evidence"]))
        .unwrap_or_default()
}

fn lab(cmd: &str, scenario: &str) {
    let out = Command::new(repo().join("tests/lab").join(cmd))
        .arg(scenario)
        .output()
        .expect("lab script");
    assert!(
        out.status.success(),
        "tests/lab/{cmd} {scenario} failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Repairs the scenario even when the test fails half-way.
struct Broken(&'static str);

impl Drop for Broken {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("tests/lab/repair"))
            .arg(self.0)
            .output();
    }
}

/// What the healthy lab must show: decided by observation where the lab
/// provides it. The lab has no Windows server, no GLPI, no IDS: those are
/// honest non-conform / cannot-verify.
const HEALTHY: &[(&str, &str)] = &[
    ("common.auth", "conform"),
    ("common.dbms", "conform"),
    ("common.terminals", "attested"),
    ("common.real-equipment", "conform"),
    ("common.secured-resources", "conform"),
    ("common.sec.encryption", "conform"),
    ("sisr.real-infrastructure", "conform"),
    ("common.backup", "conform"),
    ("common.two-os", "non-conform"),
    ("sisr.perimeters", "conform"),
    ("sisr.remote-admin", "conform"),
    ("sisr.monitoring", "conform"),
    ("sisr.secure-access", "conform"),
    ("sisr.load-balancing", "conform"),
    ("sisr.site-vpn", "conform"),
    ("sisr.scripted-automation", "conform"),
    ("sisr.one-of", "conform"),
    ("sisr.sla-service", "attested"),
];

#[test]
fn healthy_lab_is_judged_by_observation() {
    let _g = lock();
    let env = lab_env();
    let a = audit_json(&env);
    let st = statuses(&a.report);
    for (id, want) in HEALTHY {
        assert_eq!(
            st.get(*id).map(String::as_str),
            Some(*want),
            "{id}: {}",
            explain(&a.report, id)
        );
    }
    // Never conform without evidence.
    for r in a.report["requirements"].as_array().unwrap() {
        if r["status"] == "conform" {
            assert!(
                !r["evidence"].as_array().unwrap().is_empty(),
                "{} conform without evidence",
                r["id"]
            );
        }
    }
    // All Linux, established over SSH: the lab lacks a second OS family.
    assert_eq!(a.code, 1, "non-conform lab\n{}", a.stderr);
    let hosts = a.report["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 11);
    assert!(
        hosts.iter().all(|h| h["reachable"] == true),
        "every lab host answers"
    );
    let product = |host: &str, port: u16| {
        hosts.iter().find(|h| h["name"] == host).unwrap()["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["port"] == port)
            .map(|s| s["product"].as_str().unwrap().to_string())
    };
    assert_eq!(product("dc", 389).as_deref(), Some("openldap"));
    assert_eq!(product("db", 5432).as_deref(), Some("postgresql"));
    assert_eq!(product("db", 3306).as_deref(), Some("mariadb"));
    assert_eq!(product("mon", 9090).as_deref(), Some("prometheus"));
    assert_eq!(product("mon", 9093).as_deref(), Some("alertmanager"));
    assert_eq!(product("lb", 8404).as_deref(), Some("haproxy"));
    assert_eq!(product("dc", 53).as_deref(), Some("dnsmasq"));
    // Monitoring and load balancing confirmed from inside their hosts too.
    for (id, inside) in [
        ("sisr.monitoring", "3 alerting rule(s) loaded"),
        ("sisr.load-balancing", "(from inside): 2/2 servers UP"),
    ] {
        assert!(
            explain(&a.report, id).contains(inside),
            "{id}: {}",
            explain(&a.report, id)
        );
    }
    // The OS of every host that answers SSH is read from inside (a strong signal).
    for h in hosts.iter().filter(|h| h["name"] != "hostile") {
        assert_eq!(h["os"], "linux debian 12", "{}", h["name"]);
    }
}

#[test]
fn hostile_host_costs_no_more_than_its_timeout_and_is_escaped() {
    let _g = lock();
    let env = lab_env();
    let a = audit_json(&env);
    // 2 s per port, ports in parallel, the tarpit included: the whole audit
    // stays within a few timeouts.
    assert!(a.secs < 15.0, "audit took {:.1}s", a.secs);
    let hostile = a.report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "hostile")
        .unwrap()
        .clone();
    let port = |p: u16| {
        hostile["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["port"] == p)
            .unwrap()
            .clone()
    };
    assert_eq!(
        port(7001)["outcome"],
        "open",
        "tarpit: connected, no answer"
    );
    let big = port(7002)["banner"].as_str().unwrap_or("").chars().count();
    assert!(big <= 201, "5 MB banner capped, got {big} chars");
    let b7003 = port(7003)["banner"].as_str().unwrap_or("").to_string();
    assert!(
        !b7003.contains('\u{1b}'),
        "no raw escape in a banner: {b7003:?}"
    );

    for (format, forbidden) in [
        ("html", "<script>alert(1)"),
        ("markdown", "<script>alert(1)"),
        ("junit", "<script>alert(1)"),
    ] {
        let (_, out, err) = audit(&env, format);
        assert!(!out.is_empty(), "{format}: {err}");
        assert!(
            !out.contains(forbidden),
            "{format} output quotes lab markup unescaped"
        );
    }
    let (_, junit, _) = audit(&env, "junit");
    roxmltree::Document::parse(&junit).expect("JUnit of the lab parses");
    let (_, textout, _) = audit(&env, "text");
    assert!(
        !textout.contains('\u{1b}'),
        "text without colour has no escape byte"
    );
}

/// (scenario, [(id, healthy status, broken status)]). A `|` in the broken
/// status lists the acceptable answers when the honest answer depends on
/// what else the lab shows.
type Moves = &'static [(&'static str, &'static str, &'static str)];

const SCENARIOS: &[(&str, Moves)] = &[
    // r1's tunnel end stops: the remote site is unreachable, so its host no
    // longer answers and its OS can no longer be established either.
    (
        "vpn-down",
        &[
            ("sisr.site-vpn", "conform", "non-conform"),
            ("common.two-os", "non-conform", "cannot-verify"),
        ],
    ),
    // The only archive is 10 days old (limit 7d), read over SSH with borg.
    (
        "backup-stale",
        &[("common.backup", "conform", "non-conform")],
    ),
    // HAProxy's statistics show 1/2 backends UP and every request reaches web1.
    (
        "lb-backend-down",
        &[("sisr.load-balancing", "conform", "non-conform")],
    ),
    // FreeRADIUS on dc still authenticates the declared account: the lab
    // keeps an authentication service, so no status moves (the evidence
    // does: see ldap_down_leaves_radius_as_the_only_auth_evidence).
    ("ldap-down", &[]),
    ("dbms-down", &[("common.dbms", "conform", "non-conform")]),
    // Prometheus answers with zero alerting rules: an observed absence.
    (
        "monitoring-no-alerts",
        &[("sisr.monitoring", "conform", "non-conform")],
    ),
    // web1 → db:5432 and web1 → dc:389 open from the DMZ vantage host.
    (
        "flat-network",
        &[("sisr.perimeters", "conform", "non-conform")],
    ),
    // db's SSH is refused: its OS rests on its banner alone again.
    (
        "hostkey-changed",
        &[("common.two-os", "non-conform", "cannot-verify")],
    ),
];

#[test]
fn each_scenario_moves_exactly_its_requirements() {
    let _g = lock();
    let env = lab_env();
    let healthy = statuses(&audit_json(&env).report);
    let mut failures = Vec::new();
    for (scenario, expected) in SCENARIOS {
        lab("break", scenario);
        let guard = Broken(scenario);
        let broken = audit_json(&env);
        drop(guard);
        let after = statuses(&broken.report);
        let mut moved: Vec<(String, String, String)> = healthy
            .iter()
            .filter(|(k, v)| after.get(*k) != Some(v))
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.clone(),
                    after.get(k).cloned().unwrap_or_default(),
                )
            })
            .collect();
        moved.sort();
        for (id, from, to) in expected.iter() {
            match moved.iter().position(|(m, _, _)| m == id) {
                Some(i) => {
                    let (_, f, t) = moved.remove(i);
                    if f != *from || !to.split('|').any(|x| x == t) {
                        failures.push(format!(
                            "{scenario}: {id} moved {f} → {t}, expected {from} → {to}: {}",
                            explain(&broken.report, id)
                        ));
                    }
                }
                None => failures.push(format!(
                    "{scenario}: {id} did not move (still {:?}): {}",
                    after.get(*id),
                    explain(&broken.report, id)
                )),
            }
        }
        for (id, f, t) in moved {
            failures.push(format!(
                "{scenario}: {id} moved unexpectedly {f} → {t}: {}",
                explain(&broken.report, &id)
            ));
        }
        // The repair really restores the healthy state.
        wait_healthy();
        let repaired = statuses(&audit_json(&env).report);
        if repaired != healthy {
            let diff: Vec<_> = healthy
                .iter()
                .filter(|(k, v)| repaired.get(*k) != Some(v))
                .collect();
            failures.push(format!(
                "{scenario}: after repair, differs from healthy: {diff:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn a_changed_host_key_refuses_that_host_and_says_which_keys() {
    let _g = lock();
    let env = lab_env();
    lab("break", "hostkey-changed");
    let guard = Broken("hostkey-changed");
    let a = audit_json(&env);
    drop(guard);
    let hosts = a.report["hosts"].as_array().unwrap();
    let db = hosts.iter().find(|h| h["name"] == "db").unwrap();
    let problems = db["problems"].as_array().expect("db has problems");
    let msg = problems
        .iter()
        .map(|p| p["reason"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        msg.contains("HOST KEY CHANGED")
            && msg.contains("expected ssh-ed25519 SHA256:")
            && msg.contains("seen ssh-ed25519 SHA256:"),
        "{msg}"
    );
    // Only db is refused; the other hosts are still inspected.
    for h in hosts.iter().filter(|h| h["name"] != "db") {
        let refused = h["problems"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["reason"].as_str().unwrap_or("").contains("HOST KEY"));
        assert!(!refused, "{} refused too", h["name"]);
    }
    // The audit still reports db's services from the network.
    assert!(
        db["services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["product"] == "postgresql")
    );
}

#[test]
fn ldap_down_leaves_radius_as_the_only_auth_evidence() {
    let _g = lock();
    let env = lab_env();
    let evidence = |r: &Value| -> String {
        r["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == "common.auth")
            .unwrap()["evidence"]
            .to_string()
    };
    let healthy = audit_json(&env);
    assert!(
        evidence(&healthy.report).contains("OpenLDAP"),
        "{}",
        evidence(&healthy.report)
    );
    lab("break", "ldap-down");
    let guard = Broken("ldap-down");
    let broken = audit_json(&env);
    drop(guard);
    let ev = evidence(&broken.report);
    assert!(!ev.contains("OpenLDAP") && !ev.contains("bind as"), "{ev}");
    assert!(ev.contains("RADIUS accepts alice"), "{ev}");
}
