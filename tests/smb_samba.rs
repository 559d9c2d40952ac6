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

#[tokio::test]
async fn real_samba_answers_ntlmssp_without_a_windows_build() {
    let smbd = common::require("/usr/sbin/smbd", "samba");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in [
        "private", "lock", "state", "cache", "pid", "log", "share", "ncalrpc",
    ] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    let port = common::free_port();
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
    let mut child = Command::new(smbd)
        .args(["-F", "--no-process-group", "-s"])
        .arg(&conf)
        .arg("--debug-stdout")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_port(port, &mut child, "smbd");
    let _server = common::Server(child);
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
