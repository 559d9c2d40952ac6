//! SMB2/NTLMSSP against a real Samba (Debian's `samba`) on loopback, and
//! against recorded Windows Server challenges (tests/fixtures/smb, origins
//! in its README): Windows builds give a strong Windows signal, Samba never
//! does.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use labcheck::facts::{FactKind, OsFamily, Strength};
use labcheck::probe::smb_rdp::{self, Verdict};

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/smb")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let hex: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<String>()
        .split_whitespace()
        .collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn windows_server_2019_challenge_is_a_strong_windows_signal() {
    let c = smb_rdp::parse_challenge(&fixture("ntlm-challenge-server2019.hex")).unwrap();
    assert_eq!(c.version, Some((10, 0, 17763)));
    assert_eq!(c.netbios_computer.as_deref(), Some("DC01"));
    assert_eq!(c.dns_domain.as_deref(), Some("rebound.htb"));
    let facts = smb_rdp::challenge_facts(&c, 445);
    match &facts[0].kind {
        FactKind::Os {
            family,
            name,
            version,
            strength,
        } => {
            assert_eq!(*family, OsFamily::Windows);
            assert_eq!(name.as_deref(), Some("windows-server 2019"));
            assert!(
                version
                    .as_deref()
                    .unwrap()
                    .starts_with("10.0.17763 (dc01.rebound.htb")
            );
            assert_eq!(*strength, Strength::Strong);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn windows_server_2016_challenge_is_recognised() {
    let c = smb_rdp::parse_challenge(&fixture("ntlm-challenge-server2016.hex")).unwrap();
    assert_eq!(c.version, Some((10, 0, 14393)));
    assert_eq!(c.dns_computer.as_deref(), Some("DC01.domain.local"));
    assert_eq!(
        c.verdict(),
        Verdict::Windows(Some("windows-server 2016"), "10.0.14393".into())
    );
}

#[test]
fn samba_recorded_challenge_is_no_windows_signal() {
    let c = smb_rdp::parse_challenge(&fixture("smb2-session-setup-samba-4.17.hex")).unwrap();
    assert_eq!(c.verdict(), Verdict::NotWindows);
    let facts = smb_rdp::challenge_facts(&c, 445);
    assert!(!facts.iter().any(|f| matches!(f.kind, FactKind::Os { .. })));
    assert!(
        facts
            .iter()
            .any(|f| matches!(&f.kind, FactKind::Service { product, .. } if product == "samba"))
    );
}

/// Debian's smbd, standalone, on 127.0.0.1:port, in a private directory.
fn start_samba(d: &Path, port: u16) -> common::Server {
    let smbd = common::require("/usr/sbin/smbd", "samba");
    for sub in [
        "private", "lock", "state", "cache", "pid", "log", "share", "ncalrpc",
    ] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    let conf = d.join("smb.conf");
    std::fs::write(
        &conf,
        format!(
            "[global]\nworkgroup = LABTEST\nnetbios name = FILESRV\nserver role = standalone server\n\
             smb ports = {port}\ninterfaces = 127.0.0.1\nbind interfaces only = yes\n\
             private dir = {p}/private\nlock directory = {p}/lock\nstate directory = {p}/state\n\
             cache directory = {p}/cache\npid directory = {p}/pid\nncalrpc dir = {p}/ncalrpc\n\
             log file = {p}/log/log.%m\ndisable netbios = yes\nload printers = no\nprinting = bsd\n\
             printcap name = /dev/null\ndisable spoolss = yes\n[share]\npath = {p}/share\n",
            p = d.display()
        ),
    )
    .unwrap();
    // -F: foreground, one child per connection (-i would serve one connection only).
    let mut child = Command::new(smbd)
        .args(["-F", "--no-process-group", "-s"])
        .arg(&conf)
        .arg("--debug-stdout")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_port(port, &mut child, "smbd");
    common::Server(child)
}

#[tokio::test]
async fn real_samba_answers_ntlmssp_without_a_windows_build() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let _server = start_samba(dir.path(), port);
    let answer = smb_rdp::exchange("127.0.0.1".parse().unwrap(), port, Duration::from_secs(5))
        .await
        .expect("Samba answers the session setup");
    if let Ok(out) = std::env::var("LABCHECK_RECORD_SAMBA") {
        let hex: String = answer.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(out, hex).unwrap();
    }
    let c = smb_rdp::parse_challenge(&answer).expect("an NTLMSSP challenge");
    assert_eq!(c.netbios_computer.as_deref(), Some("FILESRV"));
    assert_eq!(c.verdict(), Verdict::NotWindows, "{c:?}");
}

#[test]
fn the_catalog_sends_the_probe_s_own_negotiate() {
    let catalog = labcheck::catalog::Catalog::embedded();
    let probe = catalog.probe("smb2-negotiate").expect("catalog probe");
    assert_eq!(probe.payload("127.0.0.1"), smb_rdp::negotiate_request());
}

/// The whole audit against Samba on 445: the scan finds SMB, the smb probe
/// says Samba, and the host gets no Windows signal.
#[test]
fn audit_of_a_samba_host_is_not_windows() {
    let dir = tempfile::tempdir().unwrap();
    let _server = start_samba(dir.path(), 445);
    let inv = dir.path().join("inventory.toml");
    std::fs::write(
        &inv,
        "[lab]\nname = \"samba\"\nscope = [\"127.0.0.1/32\"]\n\n[[host]]\nname = \"filesrv\"\naddress = \"127.0.0.1\"\n",
    )
    .unwrap();
    let out = common::labcheck(&[
        "audit",
        "--inventory",
        inv.to_str().unwrap(),
        "--format",
        "json",
        "--timeout",
        "5s",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", common::text(&out.stderr)));
    let host = &report["hosts"][0];
    let services: Vec<&str> = host["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["product"].as_str())
        .collect();
    assert!(services.contains(&"smb"), "{host}");
    assert!(services.contains(&"samba"), "{host}");
    assert!(
        !host["os"].to_string().to_lowercase().contains("windows"),
        "{host}"
    );
}
