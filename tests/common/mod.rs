//! Shared helpers for the integration tests: run the real binary, start real
//! servers from Debian packages on loopback, fail loudly when one is missing.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn labcheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_labcheck"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("LANG")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .expect("run labcheck")
}

pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A binary the test needs; a missing one fails the test with the fix.
pub fn require(bin: &str, package: &str) -> PathBuf {
    let p = PathBuf::from(bin);
    assert!(
        p.exists(),
        "{bin} is missing: this test needs the Debian package `{package}` (the README test command installs it: scripts/test)"
    );
    p
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_port(port: u16, child: &mut Child, what: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening on {port}: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within 10s");
}

/// A server process killed (by its own PID) when the test ends.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real OpenSSH server on 127.0.0.1:port.
pub fn start_sshd(dir: &Path, port: u16) -> Server {
    let sshd = require("/usr/sbin/sshd", "openssh-server");
    let key = dir.join("hostkey");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
    let conf = dir.join("sshd_config");
    std::fs::write(
        &conf,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nUsePAM no\nStrictModes no\nPasswordAuthentication no\nPermitRootLogin no\n",
            key.display(),
            dir.join("sshd.pid").display()
        ),
    )
    .unwrap();
    // sshd refuses to start without its privilege-separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let mut child = Command::new(sshd)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sshd");
    wait_port(port, &mut child, "sshd");
    Server(child)
}

/// A real nginx on 127.0.0.1:port.
pub fn start_nginx(dir: &Path, port: u16) -> Server {
    let nginx = require("/usr/sbin/nginx", "nginx-light");
    let conf = dir.join("nginx.conf");
    let d = dir.display();
    std::fs::write(
        &conf,
        format!(
            "daemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"hello\"; }} }}\n}}\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(nginx)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    wait_port(port, &mut child, "nginx");
    Server(child)
}

/// (present, detail) of every Capability fact named `name`.
pub fn capabilities<'a>(facts: &'a [labcheck::facts::Fact], name: &str) -> Vec<(bool, &'a str)> {
    facts
        .iter()
        .filter_map(|f| match &f.kind {
            labcheck::facts::FactKind::Capability {
                name: n,
                present,
                detail,
            } if n == name => Some((*present, detail.as_str())),
            _ => None,
        })
        .collect()
}

/// The test lab's state folder (tests/lab).
pub const LAB_STATE: &str = "/tmp/labcheck-lab";

/// The test lab's generated secrets and paths (`export K=V` lines of its
/// env file); fails loudly when the lab is not up.
pub fn lab_env_vars() -> Vec<(String, String)> {
    let env_file = std::path::Path::new(LAB_STATE).join("env");
    let text = std::fs::read_to_string(&env_file).unwrap_or_else(|_| {
        panic!(
            "the test lab is not up ({} is missing): run scripts/test, which brings it up with tests/lab/up",
            env_file.display()
        )
    });
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches(['"', '\'']).to_string()))
        .collect()
}

/// Exports the lab's variables into this test process, once.
pub fn export_lab_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for (k, v) in lab_env_vars() {
            // SAFETY: called once, before any test thread reads the environment.
            unsafe { std::env::set_var(k, v) };
        }
    });
}
