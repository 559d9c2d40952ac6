//! UDP probes against real servers from Debian packages, each in its own
//! configuration directory on a loopback port: FreeRADIUS (`freeradius`),
//! Net-SNMP (`snmpd`) and MIT Kerberos (`krb5-kdc`). Also: silence and a
//! wrong secret are never taken for an absence or a success.

mod common;
use common::capabilities as capability;

use std::net::{IpAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use labcheck::facts::{Fact, FactKind, OsFamily};
use labcheck::inventory::Secret;
use labcheck::probe::udp;

const LOOPBACK: &str = "127.0.0.1";

fn lo() -> IpAddr {
    LOOPBACK.parse().unwrap()
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on the UDP port (ss lists it).
fn wait_udp(port: u16, child: &mut Child, what: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        let out = Command::new("ss").args(["-lun"]).output().unwrap();
        if String::from_utf8_lossy(&out.stdout).contains(&format!("127.0.0.1:{port} ")) {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening on udp/{port}: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on 127.0.0.1:{port}/udp within 20s");
}

fn no_secret(facts: &[Fact], secret: &str) {
    assert!(
        !serde_json::to_string(facts).unwrap().contains(secret),
        "a secret leaked into the facts"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

const RADIUS_SECRET: &str = "shared-Secret-91x";
const ALICE_PW: &str = "alice-Pw-4567";

fn start_freeradius(dir: &Path, port: u16) -> common::Server {
    let bin = common::require("/usr/sbin/freeradius", "freeradius");
    let raddb = dir.join("raddb");
    copy_dir(Path::new("/etc/freeradius/3.0"), &raddb);
    for sub in ["log", "run"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(
        raddb.join("clients.conf"),
        format!("client labcheck {{\n ipaddr = 127.0.0.1\n secret = {RADIUS_SECRET}\n}}\n"),
    )
    .unwrap();
    std::fs::write(
        raddb.join("mods-config/files/authorize"),
        format!("alice Cleartext-Password := \"{ALICE_PW}\"\n"),
    )
    .unwrap();
    let conf = std::fs::read_to_string(raddb.join("radiusd.conf")).unwrap();
    let conf: String = conf
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("raddbdir =") {
                format!("raddbdir = {}", raddb.display())
            } else if t.starts_with("logdir =") {
                format!("logdir = {}/log", dir.display())
            } else if t.starts_with("run_dir =") {
                format!("run_dir = {}/run", dir.display())
            } else if t.starts_with("user = ") || t.starts_with("group = ") {
                // Tests run as root in a private directory: no user switch.
                format!("#{t}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(raddb.join("radiusd.conf"), conf).unwrap();
    // No EAP (it needs certificates and an inner tunnel): PAP is enough.
    let _ = std::fs::remove_file(raddb.join("mods-enabled/eap"));
    // One virtual server of our own: the users file and PAP, on our port.
    for site in std::fs::read_dir(raddb.join("sites-enabled")).unwrap() {
        std::fs::remove_file(site.unwrap().path()).unwrap();
    }
    std::fs::write(
        raddb.join("sites-enabled/labcheck"),
        format!(
            "server default {{\n listen {{\n  type = auth\n  ipaddr = {LOOPBACK}\n  port = {port}\n }}\n \
             authorize {{\n  files\n  pap\n }}\n authenticate {{\n  Auth-Type PAP {{\n   pap\n  }}\n }}\n}}\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(bin)
        .arg("-f")
        .arg("-d")
        .arg(&raddb)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_udp(port, &mut child, "freeradius");
    common::Server(child)
}

#[tokio::test]
async fn radius_accepts_the_account_and_rejects_a_wrong_password() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    let _server = start_freeradius(dir.path(), port);
    let t = Duration::from_secs(3);
    let pw = Secret::new(ALICE_PW);
    let facts = udp::radius_check(lo(), port, "alice", &pw, &Secret::new(RADIUS_SECRET), t).await;
    assert_eq!(capability(&facts, "auth.radius").len(), 1, "{facts:#?}");
    assert_eq!(
        capability(&facts, "auth.verified"),
        vec![(true, "RADIUS accepts alice, rejects a wrong password")]
    );
    no_secret(&facts, ALICE_PW);
    no_secret(&facts, RADIUS_SECRET);

    // The declared account refused: cannot verify, not a verdict.
    let facts = udp::radius_check(
        lo(),
        port,
        "alice",
        &Secret::new("not-alice-pw"),
        &Secret::new(RADIUS_SECRET),
        t,
    )
    .await;
    assert!(capability(&facts, "auth.verified").is_empty(), "{facts:#?}");
    assert!(
        matches!(&facts[0].kind, FactKind::CannotCheck { reason, .. } if reason.contains("rejected"))
    );

    // A wrong shared secret: FreeRADIUS drops the request (bad
    // Message-Authenticator), so silence: cannot verify, never absence.
    let facts = udp::radius_check(lo(), port, "alice", &pw, &Secret::new("other-secret"), t).await;
    assert!(capability(&facts, "auth.radius").is_empty(), "{facts:#?}");
    assert!(
        facts
            .iter()
            .all(|f| matches!(f.kind, FactKind::CannotCheck { .. }))
    );
}

#[tokio::test]
async fn snmp_sysdescr_with_the_declared_community() {
    let bin = common::require("/usr/sbin/snmpd", "snmpd");
    let dir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    let conf = dir.path().join("snmpd.conf");
    std::fs::write(
        &conf,
        "rocommunity labcheck-Comm-7 127.0.0.1\nsysDescr Linux labtest 6.1.0 x86_64\n",
    )
    .unwrap();
    let mut child = Command::new(bin)
        .args(["-f", "-Ln", "-C", "-c"])
        .arg(&conf)
        .arg("-p")
        .arg(dir.path().join("snmpd.pid"))
        .arg(format!("udp:127.0.0.1:{port}"))
        .env("SNMP_PERSISTENT_DIR", dir.path())
        .env("MIBS", "")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_udp(port, &mut child, "snmpd");
    let _server = common::Server(child);
    let t = Duration::from_secs(3);
    let facts = udp::snmp_check(lo(), port, &Secret::new("labcheck-Comm-7"), t).await;
    assert_eq!(
        capability(&facts, "monitoring.agent"),
        vec![(
            true,
            "SNMP agent answers the declared community: Linux labtest 6.1.0 x86_64"
        )]
    );
    assert!(facts.iter().any(|f| matches!(
        f.kind,
        FactKind::Os {
            family: OsFamily::Linux,
            ..
        }
    )));
    no_secret(&facts, "labcheck-Comm-7");
    // A wrong community is dropped silently: nothing is concluded, quickly.
    let started = Instant::now();
    let facts = udp::snmp_check(lo(), port, &Secret::new("wrong"), Duration::from_secs(1)).await;
    assert!(facts.is_empty(), "{facts:#?}");
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn kerberos_kdc_answers_an_as_req() {
    let kdc = common::require("/usr/sbin/krb5kdc", "krb5-kdc");
    let kdb5_util = common::require("/usr/sbin/kdb5_util", "krb5-kdc");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_udp_port();
    std::fs::write(
        d.join("krb5.conf"),
        "[libdefaults]\n default_realm = LAB.TEST\n",
    )
    .unwrap();
    std::fs::write(
        d.join("kdc.conf"),
        format!(
            "[kdcdefaults]\n kdc_ports = {port}\n kdc_tcp_listen = \"\"\n[realms]\n LAB.TEST = {{\n  database_name = {p}/principal\n  key_stash_file = {p}/stash\n  kdc_listen = 127.0.0.1:{port}\n  kdc_tcp_listen = \"\"\n }}\n[logging]\n kdc = FILE:{p}/kdc.log\n",
            p = d.display()
        ),
    )
    .unwrap();
    let env = [
        ("KRB5_CONFIG", d.join("krb5.conf")),
        ("KRB5_KDC_PROFILE", d.join("kdc.conf")),
    ];
    let st = Command::new(kdb5_util)
        .args(["-r", "LAB.TEST", "create", "-s", "-P", "master-Key-test"])
        .envs(env.clone())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "kdb5_util create failed");
    let mut child = Command::new(kdc)
        .args(["-n", "-r", "LAB.TEST", "-P"])
        .arg(d.join("kdc.pid"))
        .envs(env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_udp(port, &mut child, "krb5kdc");
    let _server = common::Server(child);
    let facts = udp::kerberos_check(lo(), port, "LAB.TEST", Duration::from_secs(3)).await;
    let caps = capability(&facts, "auth.kerberos");
    assert_eq!(caps.len(), 1, "{facts:#?}");
    assert!(caps[0].1.contains("KRB-ERROR 6"), "{caps:?}");
}

#[tokio::test]
async fn silence_and_closed_ports_conclude_nothing() {
    let t = Duration::from_millis(600);
    // A bound socket that never answers: silence.
    let quiet = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = quiet.local_addr().unwrap().port();
    assert!(udp::openvpn_check(lo(), port, t).await.is_empty());
    assert!(
        udp::kerberos_check(lo(), port, "LAB.TEST", t)
            .await
            .is_empty()
    );
    let facts =
        udp::radius_check(lo(), port, "alice", &Secret::new("x"), &Secret::new("y"), t).await;
    assert!(
        facts
            .iter()
            .all(|f| matches!(f.kind, FactKind::CannotCheck { .. }))
    );
    drop(quiet);
    // Nothing bound: ICMP port unreachable, a closed port, reported as nothing.
    let started = Instant::now();
    assert!(
        udp::openvpn_check(lo(), port, Duration::from_secs(3))
            .await
            .is_empty()
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "closed port waited for the timeout"
    );
}

#[test]
fn radius_and_snmp_secrets_are_accepted_by_reference_only() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[lab]\nname = \"t\"\nscope = [\"127.0.0.0/8\"]\n\n\
         [credentials.radius]\nuser = \"alice\"\npassword_env = \"RADIUS_PW\"\nsecret_env = \"RADIUS_SECRET\"\n\n\
         [credentials.snmp]\ncommunity_env = \"SNMP_COMMUNITY\"\n",
    )
    .unwrap();
    let inv = labcheck::inventory::load(&good, &[]).expect("valid inventory");
    let snmp = inv.credentials.get("snmp").unwrap();
    assert_eq!(snmp.community().describe(), "$SNMP_COMMUNITY");
    let radius = inv.credentials.get("radius").unwrap();
    assert_eq!(radius.shared_secret().describe(), "$RADIUS_SECRET");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[lab]\nname = \"t\"\nscope = [\"127.0.0.0/8\"]\n\n\
         [credentials.snmp]\ncommunity = \"public-Inline-9\"\n",
    )
    .unwrap();
    let diags = labcheck::inventory::load(&bad, &[]).expect_err("inline community refused");
    let text = format!("{diags:?}");
    assert!(text.contains("community"), "{text}");
    assert!(
        !text.contains("public-Inline-9"),
        "the inline secret is echoed: {text}"
    );
}
