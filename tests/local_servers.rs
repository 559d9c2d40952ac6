//! Port → product → verdict against real servers (OpenSSH, nginx from
//! Debian packages) started on loopback by the test itself.

mod common;

use common::*;

#[test]
fn real_sshd_and_nginx_are_identified_and_decide_requirements() {
    let dir = tempfile::tempdir().unwrap();
    let (ssh_port, http_port) = (free_port(), free_port());
    let _sshd = start_sshd(dir.path(), ssh_port);
    let _nginx = start_nginx(dir.path(), http_port);
    let inv = dir.path().join("lab.toml");
    std::fs::write(
        &inv,
        format!(
            "[lab]\nname = \"loopback\"\noption = \"sisr\"\nscope = [\"127.0.0.0/8\"]\n\n[[host]]\nname = \"srv\"\naddress = \"127.0.0.1\"\nports = [{ssh_port}, {http_port}]\n"
        ),
    )
    .unwrap();
    let o = labcheck(&[
        "audit",
        "--inventory",
        inv.to_str().unwrap(),
        "--format",
        "json",
        "--timeout",
        "2s",
    ]);
    let report: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o.stderr)));
    let host = &report["hosts"][0];
    assert_eq!(host["reachable"], true);
    let services = host["services"].as_array().unwrap();
    let find = |port: u16| {
        services
            .iter()
            .find(|s| s["port"] == port)
            .unwrap_or_else(|| panic!("no service on {port}: {services:?}"))
    };
    assert_eq!(find(ssh_port)["product"], "openssh");
    assert_eq!(find(http_port)["product"], "nginx");
    assert!(
        find(http_port)["version"]
            .as_str()
            .unwrap()
            .starts_with("1.")
    );
    // The Debian OpenSSH banner names the distribution.
    assert!(
        host["os"].as_str().unwrap().contains("debian"),
        "{}",
        host["os"]
    );

    let req = |id: &str| {
        report["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()
            .clone()
    };
    let remote = req("sisr.remote-admin");
    assert_eq!(remote["status"], "conform");
    assert!(remote["evidence"].as_array().unwrap().iter().any(|e| {
        e["observed"]
            .as_str()
            .unwrap()
            .contains(&format!("tcp/{ssh_port}"))
    }));
    assert_eq!(req("common.sec.encryption")["status"], "conform");
    // One Linux host: the two-OS requirement is observed unmet or undecided, never conform.
    assert_ne!(req("common.two-os")["status"], "conform");
    assert_eq!(code(&o), 1);
}
