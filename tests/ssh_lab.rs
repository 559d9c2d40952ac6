//! SSH inspection against the real test lab (tests/lab, brought up by
//! scripts/test): what only a login can prove, read from inside each host.
//! Fails (never skips) when the lab is not up.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use common::*;
use serde_json::Value;

/// The lab inventory plus the borg passphrase reference (the lab's own
/// inventory may not declare it).
fn inventory(dir: &std::path::Path) -> PathBuf {
    let mut inv = std::fs::read_to_string(repo().join("tests/lab/inventory.toml")).unwrap();
    if !inv.contains("[credentials.borg]") {
        inv.push_str("\n[credentials.borg]\npassword_env = \"BORG_PASSPHRASE\"\n");
    }
    let p = dir.join("lab.toml");
    std::fs::write(&p, inv).unwrap();
    p
}

fn evidence<'a>(r: &'a Value, id: &str) -> Vec<&'a Value> {
    r["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id)
        .map(|x| x["evidence"].as_array().unwrap().iter().collect())
        .unwrap_or_default()
}

fn status(r: &Value, id: &str) -> String {
    r["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id)
        .map(|x| x["status"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn healthy_lab_is_confirmed_from_inside_its_hosts() {
    let env = lab_env_vars();
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path());
    let start = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_labcheck"))
        .args(["-v", "audit", "-i", inv.to_str().unwrap(), "-f", "json"])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    let err = text(&o.stderr);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));

    // OS per host, read over SSH (a strong signal).
    let os_hosts: Vec<&str> = evidence(&r, "common.two-os")
        .iter()
        .filter(|e| e["probe"] == "ssh:os-release")
        .filter_map(|e| e["host"].as_str())
        .collect();
    for h in [
        "r1", "r2", "dc", "db", "mon", "backup", "lb", "web1", "web2", "remote",
    ] {
        assert!(os_hosts.contains(&h), "no OS over ssh for {h}: {err}");
    }
    // Backup age from the borg repository the cron job fills.
    assert_eq!(
        status(&r, "common.backup"),
        "conform",
        "{:?}",
        evidence(&r, "common.backup")
    );
    assert!(
        evidence(&r, "common.backup")
            .iter()
            .any(|e| e["probe"] == "ssh:borg-list"),
        "{:?}",
        evidence(&r, "common.backup")
    );
    // The tunnel carries traffic to the remote site.
    assert_eq!(status(&r, "sisr.site-vpn"), "conform");
    assert!(
        evidence(&r, "sisr.site-vpn")
            .iter()
            .any(|e| e["probe"] == "ssh:wireguard"
                && e["observed"].as_str().unwrap().contains("reached through")),
        "{:?}",
        evidence(&r, "sisr.site-vpn")
    );
    // Every declared flow tested from its vantage host; DMZ -> LAN blocked.
    let flows: Vec<&str> = evidence(&r, "sisr.perimeters")
        .iter()
        .filter(|e| e["probe"] == "ssh:flow")
        .filter_map(|e| e["observed"].as_str())
        .collect();
    assert_eq!(flows.len(), 4, "{flows:?}");
    assert_eq!(status(&r, "sisr.perimeters"), "conform", "{flows:?}");
    // Monitoring alerts confirmed from inside mon.
    assert!(
        evidence(&r, "sisr.monitoring")
            .iter()
            .any(|e| e["probe"] == "ssh:prometheus-rules"),
        "{:?}",
        evidence(&r, "sisr.monitoring")
    );
    // Hosts are inspected in parallel: the whole audit stays far below the
    // sum of the hosts' inspections (each logged at -v).
    let per_host: Vec<u64> = err
        .lines()
        .filter(|l| l.contains("over ssh in"))
        .filter_map(|l| l.split(" in ").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(per_host.len(), 11, "{err}");
    let sum: u64 = per_host.iter().sum();
    let slowest = per_host.iter().max().copied().unwrap_or(0);
    eprintln!(
        "ssh inspection: slowest host {slowest} ms, sum {sum} ms, whole audit {:.1} s",
        secs
    );
    assert!(
        (slowest as f64) < sum as f64 * 0.6,
        "inspections overlapped: slowest {slowest} ms vs sum {sum} ms"
    );
    assert!(secs < 15.0, "audit took {secs:.1}s");
}
