//! SSH inspection against a real OpenSSH server (Debian's sshd) started on
//! loopback by the test, with its own config: key login as root
//! (`PermitRootLogin prohibit-password`, the key in a test-owned
//! authorized_keys), passwords refused. Checks: OS and backup age read over
//! SSH (a real borg repository), flows tested from the host, a changed host
//! key refused with both fingerprints, an unknown key refused unless
//! --trust-on-first-use (which appends it), wrong credentials reported, and
//! a planted secret absent from every output.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::*;
use labcheck::facts::{Fact, FactKind, Facts};

const SECRET_VAR: &str = "LABCHECK_SSH_TEST_SECRET";
const SECRET: &str = "Planted-S3cret-ae81f0c2";

struct Lab {
    dir: tempfile::TempDir,
    port: u16,
    _sshd: Server,
}

impl Lab {
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
}

fn host_key_line(lab_dir: &Path, port: u16, pubkey: &Path) -> String {
    let k = std::fs::read_to_string(pubkey).unwrap();
    let mut w = k.split_whitespace();
    let _ = lab_dir;
    format!(
        "[127.0.0.1]:{port} {} {}\n",
        w.next().unwrap(),
        w.next().unwrap()
    )
}

/// sshd + client key + known_hosts + a borg repository with one archive.
fn start() -> Lab {
    require("/usr/sbin/sshd", "openssh-server");
    let borg = require("/usr/bin/borg", "borgbackup");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    keygen(&d.join("hostkey"));
    keygen(&d.join("client"));
    std::fs::copy(d.join("client.pub"), d.join("authorized_keys")).unwrap();
    std::fs::write(
        d.join("known_hosts"),
        host_key_line(d, port, &d.join("hostkey.pub")),
    )
    .unwrap();
    // The repository is announced to sessions through BORG_REPO (SetEnv).
    std::fs::create_dir_all(d.join("data")).unwrap();
    std::fs::write(d.join("data/f.txt"), "note de frais").unwrap();
    let borg_env = |c: &mut Command| {
        c.env("BORG_PASSPHRASE", SECRET)
            .env("BORG_BASE_DIR", d.join("borghome"))
            .env("BORG_REPO", d.join("repo"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    };
    let mut init = Command::new(&borg);
    init.args(["init", "--encryption=repokey-blake2"]);
    borg_env(&mut init);
    assert!(init.status().unwrap().success(), "borg init");
    let mut create = Command::new(&borg);
    create.args(["create", "::first"]).arg(d.join("data"));
    borg_env(&mut create);
    assert!(create.status().unwrap().success(), "borg create");

    let conf = d.join("sshd_config");
    std::fs::write(
        &conf,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {d}/sshd.pid\nUsePAM no\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nAuthorizedKeysFile {d}/authorized_keys\nSetEnv BORG_REPO={d}/repo\n",
            hk = d.join("hostkey").display(),
            d = d.display()
        ),
    )
    .unwrap();
    let _ = std::fs::create_dir_all("/run/sshd");
    let mut child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sshd");
    wait_port(port, &mut child, "sshd");
    Lab {
        dir,
        port,
        _sshd: Server(child),
    }
}

/// An inventory for the loopback host; `ssh` is the inline table's body.
fn inventory(lab: &Lab, name: &str, ssh: &str) -> PathBuf {
    let closed = free_port();
    let p = lab.path(&format!("{name}.toml"));
    std::fs::write(
        &p,
        format!(
            r#"[lab]
name = "loopback ssh"
option = "sisr"
scope = ["127.0.0.0/8"]

[[zone]]
name = "lan"
cidr = "127.0.0.0/24"

[[zone]]
name = "dmz"
cidr = "127.0.1.0/24"

[[host]]
name = "srv"
address = "127.0.0.1"
zone = "lan"
ports = [{port}]
ssh = {{ {ssh} }}

[credentials.borg]
password_env = "{SECRET_VAR}"

[credentials.ldap]
bind_dn = "cn=audit,dc=lab,dc=test"
password_env = "{SECRET_VAR}"

[[flow]]
from = "srv"
to = "127.0.0.1:{port}"
expect = "allow"

[[flow]]
from = "srv"
to = "127.0.0.1:{closed}"
expect = "deny"
"#,
            port = lab.port
        ),
    )
    .unwrap();
    p
}

fn key_access(lab: &Lab) -> String {
    format!(
        "user = \"root\", port = {}, key = \"client\", known_hosts = \"known_hosts\"",
        lab.port
    )
}

/// The facts of one audit, through the library (reports do not list facts).
fn facts(inv: &Path, tofu: bool) -> Facts {
    // SAFETY: tests in this file set the same value; no thread reads it concurrently with a change.
    unsafe { std::env::set_var(SECRET_VAR, SECRET) };
    let inv = labcheck::inventory::load(inv, &labcheck::audit::embedded_ids()).unwrap();
    let catalog = Arc::new(labcheck::catalog::Catalog::embedded());
    let plan = labcheck::plan::build(&inv, &catalog);
    let cfg = labcheck::probe::RunnerConfig {
        timeout: std::time::Duration::from_secs(3),
        trust_on_first_use: tofu,
        ..Default::default()
    };
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(labcheck::probe::run(
            &plan,
            Arc::new(inv),
            catalog,
            cfg,
            None,
        ))
}

fn of_host(f: &Facts) -> Vec<Fact> {
    f.host("srv").unwrap().facts.clone()
}

fn cannot_reasons(f: &[Fact]) -> Vec<String> {
    f.iter()
        .filter_map(|x| match &x.kind {
            FactKind::CannotCheck { what, reason } => Some(format!("{what}: {reason}")),
            _ => None,
        })
        .collect()
}

#[test]
fn key_login_reads_os_backup_age_and_tests_flows() {
    let lab = start();
    let inv = inventory(&lab, "ok", &key_access(&lab));
    let f = of_host(&facts(&inv, false));
    let os = f
        .iter()
        .find(|x| x.probe == "ssh:os-release")
        .unwrap_or_else(|| panic!("no OS over ssh: {f:#?}"));
    assert!(matches!(
        &os.kind,
        FactKind::Os {
            strength: labcheck::facts::Strength::Strong,
            ..
        }
    ));
    let age = f
        .iter()
        .find_map(|x| match &x.kind {
            FactKind::BackupAge {
                tool,
                age_secs,
                detail,
            } => Some((tool.clone(), *age_secs, detail.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no backup age: {:?}", cannot_reasons(&f)));
    assert_eq!(age.0, "borg");
    assert!(age.1 < 600, "fresh archive: {age:?}");
    assert!(age.2.contains("first"), "{age:?}");
    let flows: Vec<(bool, Option<bool>)> = f
        .iter()
        .filter_map(|x| match &x.kind {
            FactKind::Flow {
                expect_allow, open, ..
            } => Some((*expect_allow, *open)),
            _ => None,
        })
        .collect();
    assert_eq!(
        flows,
        vec![(true, Some(true)), (false, Some(false))],
        "{f:#?}"
    );
    // Everything shown is free of the passphrase.
    assert!(!format!("{f:?}").contains(SECRET));
    // The text report draws the zone matrix from the flow evidence.
    let o = Command::new(env!("CARGO_BIN_EXE_labcheck"))
        .args([
            "audit",
            "-i",
            inv.to_str().unwrap(),
            "--only",
            "sisr.perimeters",
            "--lang",
            "en",
        ])
        .env(SECRET_VAR, SECRET)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let out = text(&o.stdout);
    assert!(out.contains("zone matrix"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("lan") && l.contains("✔ 2/2")),
        "{out}"
    );
}

#[test]
fn changed_host_key_is_refused_with_both_fingerprints() {
    let lab = start();
    keygen(&lab.path("other"));
    std::fs::write(
        lab.path("known_hosts"),
        host_key_line(lab.dir.path(), lab.port, &lab.path("other.pub")),
    )
    .unwrap();
    let inv = inventory(&lab, "changed", &key_access(&lab));
    let f = of_host(&facts(&inv, false));
    let reasons = cannot_reasons(&f).join("\n");
    assert!(reasons.contains("HOST KEY CHANGED"), "{reasons}");
    let fp = |pubkey: &str| {
        let o = Command::new("ssh-keygen")
            .args(["-l", "-E", "sha256", "-f"])
            .arg(lab.path(pubkey))
            .output()
            .unwrap();
        text(&o.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert!(
        reasons.contains(&fp("other.pub")),
        "expected key named: {reasons}"
    );
    assert!(
        reasons.contains(&fp("hostkey.pub")),
        "seen key named: {reasons}"
    );
    assert!(
        !f.iter().any(|x| x.probe.starts_with("ssh:")),
        "nothing read from a refused host"
    );
    // Trust-on-first-use never accepts a changed key.
    let f = of_host(&facts(&inv, true));
    assert!(cannot_reasons(&f).join("\n").contains("HOST KEY CHANGED"));
}

#[test]
fn unknown_host_key_needs_trust_on_first_use_which_records_it() {
    let lab = start();
    std::fs::write(lab.path("known_hosts"), "# empty\n").unwrap();
    let inv = inventory(&lab, "tofu", &key_access(&lab));
    let o = labcheck(&[
        "audit",
        "-i",
        inv.to_str().unwrap(),
        "-f",
        "json",
        "--only",
        "common.backup",
    ]);
    let err = text(&o.stderr);
    assert!(
        err.contains("is not in") && err.contains("--trust-on-first-use"),
        "{err}"
    );
    let o = labcheck(&[
        "audit",
        "-i",
        inv.to_str().unwrap(),
        "-f",
        "json",
        "--only",
        "common.backup",
        "--trust-on-first-use",
    ]);
    let kh = std::fs::read_to_string(lab.path("known_hosts")).unwrap();
    assert!(
        kh.starts_with("# empty\n[127.0.0.1]:"),
        "appended, not rewritten: {kh}"
    );
    assert!(
        !text(&o.stderr).contains("is not in"),
        "{}",
        text(&o.stderr)
    );
    // The recorded key is now verified without the flag.
    let o = labcheck(&[
        "audit",
        "-i",
        inv.to_str().unwrap(),
        "-f",
        "json",
        "--only",
        "common.backup",
    ]);
    assert!(!text(&o.stderr).contains("host key"), "{}", text(&o.stderr));
}

#[test]
fn wrong_credentials_are_a_clear_cannot_check() {
    let lab = start();
    keygen(&lab.path("stranger"));
    let inv = inventory(
        &lab,
        "wrongkey",
        &format!(
            "user = \"root\", port = {}, key = \"stranger\", known_hosts = \"known_hosts\", password_env = \"{SECRET_VAR}\"",
            lab.port
        ),
    );
    let f = of_host(&facts(&inv, false));
    let reasons = cannot_reasons(&f).join("\n");
    assert!(reasons.contains("authentication failed"), "{reasons}");
    assert!(
        reasons.contains("key") && reasons.contains("refused"),
        "{reasons}"
    );
    assert!(
        reasons.contains(&format!("${SECRET_VAR}")),
        "names the reference: {reasons}"
    );
    assert!(!reasons.contains(SECRET));
}

#[test]
fn a_planted_secret_appears_in_no_output() {
    let lab = start();
    // Password login is refused by this sshd: the secret is sent and fails.
    let inv = inventory(
        &lab,
        "secret",
        &format!(
            "user = \"root\", port = {}, known_hosts = \"known_hosts\", password_env = \"{SECRET_VAR}\"",
            lab.port
        ),
    );
    let ok = inventory(&lab, "secret-ok", &key_access(&lab));
    for inv in [&inv, &ok] {
        for format in [
            "text",
            "json",
            "junit",
            "markdown",
            "html",
            "attestation",
            "attestation-html",
        ] {
            let o = Command::new(env!("CARGO_BIN_EXE_labcheck"))
                .args(["-vv", "audit", "-i", inv.to_str().unwrap(), "-f", format])
                .env(SECRET_VAR, SECRET)
                .env("NO_COLOR", "1")
                .output()
                .unwrap();
            let (out, err) = (text(&o.stdout), text(&o.stderr));
            assert!(!out.is_empty(), "{format}: {err}");
            assert!(!out.contains(SECRET), "secret in {format} stdout");
            assert!(!err.contains(SECRET), "secret in {format} stderr (-vv)");
        }
    }
}
