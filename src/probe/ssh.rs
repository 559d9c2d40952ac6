//! SSH sessions for in-host inspection, with russh (async, pure Rust).
//!
//! Why not libssh2 (the `ssh2` crate): it is a C library that had a
//! pre-authentication heap overflow exploitable by a malicious *server*
//! against the connecting client (CVE-2026-55200) — exactly labcheck's
//! position when it logs into candidates' machines — and its blocking API
//! fights the tokio runtime.
//!
//! Host keys are verified against the inventory's known_hosts file (or
//! `~/.ssh/known_hosts`) by default: an unknown or changed key refuses the
//! host, and the error says which key was expected and which was seen.
//! Trust-on-first-use only with an explicit flag; it appends the key, never
//! rewrites the file. One connection per host carries every command; each
//! command has its own timeout. Secrets (password, key passphrase) are only
//! handed to russh; no error message or log line contains them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{KeyInit, Mac};
use russh::client;
use russh::keys::ssh_key::known_hosts::{Entry, HostPatterns, Marker};
use russh::keys::{Algorithm, HashAlg, PrivateKeyWithHashAlg, PublicKey};
use russh::{ChannelMsg, Disconnect};

use crate::inventory::{Host, Inventory, SshAccess};

/// Output kept per command and stream: enough for any read-only listing.
const MAX_OUTPUT: usize = 1 << 20;

/// Why a host could not be inspected. Messages never contain a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshError {
    /// TCP connect failed or timed out.
    Connect(String),
    /// The host key is not in known_hosts (and trust-on-first-use is off).
    UnknownHostKey { seen: String, file: PathBuf },
    /// The host key differs from the one recorded.
    ChangedHostKey {
        expected: Vec<String>,
        seen: String,
        file: PathBuf,
    },
    /// The server refused our credentials, or none could be used.
    Auth(String),
    /// A command or the whole exchange took too long.
    Timeout(String),
    /// The SSH protocol failed after the connection was made.
    Protocol(String),
}

impl fmt::Display for SshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SshError::Connect(e) => write!(f, "ssh connection failed: {e}"),
            SshError::UnknownHostKey { seen, file } => write!(
                f,
                "host key {seen} is not in {} (refused; verify it and add it, or run once with --trust-on-first-use)",
                file.display()
            ),
            SshError::ChangedHostKey {
                expected,
                seen,
                file,
            } => write!(
                f,
                "HOST KEY CHANGED: expected {} (from {}), seen {seen}; refused (reinstalled host or impostor: check before updating known_hosts)",
                expected.join(" or "),
                file.display()
            ),
            SshError::Auth(e) => write!(f, "ssh authentication failed: {e}"),
            SshError::Timeout(e) => write!(f, "timed out: {e}"),
            SshError::Protocol(e) => write!(f, "ssh error: {e}"),
        }
    }
}

/// What one remote command produced.
#[derive(Debug, Clone, Default)]
pub struct ExecOutput {
    /// Exit status; `None` when the command ended without one (signal).
    pub status: Option<u32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Timeouts of one session.
#[derive(Debug, Clone, Copy)]
pub struct SshTimeouts {
    /// TCP connect + key exchange + authentication.
    pub connect: Duration,
    /// One command.
    pub command: Duration,
}

impl SshTimeouts {
    /// From the audit's per-probe timeout: SSH needs a few round trips and
    /// some commands (borg) take a second to start, so floors apply.
    pub fn from_probe_timeout(t: Duration) -> Self {
        SshTimeouts {
            connect: t.max(Duration::from_secs(5)),
            command: t.max(Duration::from_secs(15)),
        }
    }
}

/// An authenticated session to one host.
pub struct SshSession {
    handle: client::Handle<Verifier>,
    timeouts: SshTimeouts,
}

/// Where a host's known keys are read (and, with trust-on-first-use, written).
pub fn known_hosts_path(access: &SshAccess, inventory: &Inventory) -> PathBuf {
    match &access.known_hosts {
        Some(p) => resolve(inventory, p),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/root"))
            .join(".ssh/known_hosts"),
    }
}

/// Relative paths in an inventory are relative to its folder.
pub fn resolve(inventory: &Inventory, p: &Path) -> PathBuf {
    if p.is_absolute() {
        return p.to_path_buf();
    }
    match inventory.path.as_ref().and_then(|i| i.parent()) {
        Some(dir) => dir.join(p),
        None => p.to_path_buf(),
    }
}

impl SshSession {
    /// Connects, verifies the host key and authenticates.
    pub async fn connect(
        host: &Host,
        access: &SshAccess,
        inventory: &Inventory,
        timeouts: SshTimeouts,
        trust_on_first_use: bool,
    ) -> Result<SshSession, SshError> {
        let known_hosts = known_hosts_path(access, inventory);
        let names = vec![host.address.to_string(), host.name.clone()];
        let known = read_known_keys(&known_hosts, &names, access.port);
        let verdict = Arc::new(Mutex::new(None));
        let verifier = Verifier {
            known: known.clone(),
            file: known_hosts.clone(),
            names,
            port: access.port,
            trust_on_first_use,
            verdict: verdict.clone(),
        };
        let config = Arc::new(client::Config {
            // A silent peer must not hold the audit: keepalives every 5 s,
            // dropped after 3 unanswered, and no session outlives a minute
            // without traffic.
            keepalive_interval: Some(Duration::from_secs(5)),
            keepalive_max: 3,
            inactivity_timeout: Some(Duration::from_secs(60)),
            nodelay: true,
            preferred: russh::Preferred {
                key: preferred_host_key_algorithms(&known).into(),
                ..Default::default()
            },
            ..Default::default()
        });
        let addr = (host.address, access.port);
        let connecting = async {
            let mut handle = client::connect(config, addr, verifier)
                .await
                .map_err(|e| connect_error(e, &verdict))?;
            authenticate(&mut handle, access, inventory).await?;
            Ok::<_, SshError>(handle)
        };
        let handle = tokio::time::timeout(timeouts.connect, connecting)
            .await
            .map_err(|_| {
                SshError::Timeout(format!(
                    "ssh connection and login to {}:{} within {}",
                    host.address,
                    access.port,
                    crate::duration::human(timeouts.connect)
                ))
            })??;
        Ok(SshSession { handle, timeouts })
    }

    /// Runs one command, with optional data on its standard input (a
    /// passphrase is sent this way, never on the command line).
    pub async fn exec(&self, command: &str, stdin: Option<&[u8]>) -> Result<ExecOutput, SshError> {
        let run = async {
            let mut ch = self
                .handle
                .channel_open_session()
                .await
                .map_err(|e| SshError::Protocol(format!("opening a channel: {e}")))?;
            ch.exec(true, command)
                .await
                .map_err(|e| SshError::Protocol(format!("exec: {e}")))?;
            if let Some(input) = stdin {
                let _ = ch.data(input).await;
            }
            let _ = ch.eof().await;
            let mut out = ExecOutput::default();
            while let Some(msg) = ch.wait().await {
                match msg {
                    ChannelMsg::Data { data } => push_capped(&mut out.stdout, &data),
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        push_capped(&mut out.stderr, &data)
                    }
                    ChannelMsg::ExitStatus { exit_status } => out.status = Some(exit_status),
                    _ => {}
                }
            }
            Ok(out)
        };
        tokio::time::timeout(self.timeouts.command, run)
            .await
            .map_err(|_| {
                SshError::Timeout(format!(
                    "command did not finish within {}",
                    crate::duration::human(self.timeouts.command)
                ))
            })?
    }

    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
    }
}

fn push_capped(buf: &mut Vec<u8>, data: &[u8]) {
    let room = MAX_OUTPUT.saturating_sub(buf.len());
    buf.extend_from_slice(&data[..data.len().min(room)]);
}

fn connect_error(e: russh::Error, verdict: &Mutex<Option<SshError>>) -> SshError {
    if let Some(v) = verdict.lock().ok().and_then(|mut v| v.take()) {
        return v;
    }
    match e {
        russh::Error::IO(io) => SshError::Connect(io.to_string()),
        russh::Error::ConnectionTimeout | russh::Error::KeepaliveTimeout => {
            SshError::Timeout("ssh connection".into())
        }
        other => SshError::Protocol(other.to_string()),
    }
}

/// Key file, else password, else the agent; a refused key falls back to
/// the password when both are declared.
async fn authenticate(
    handle: &mut client::Handle<Verifier>,
    access: &SshAccess,
    inventory: &Inventory,
) -> Result<(), SshError> {
    let user = access.user.clone();
    let secret = access.secret();
    let mut tried = Vec::new();
    if let Some(key) = &access.key {
        let path = resolve(inventory, key);
        // A passphrase-protected key uses the declared secret as passphrase.
        let pass = secret.resolve().ok();
        match russh::keys::load_secret_key(&path, pass.as_ref().map(|s| s.expose())) {
            Ok(k) => {
                let hash = handle
                    .best_supported_rsa_hash()
                    .await
                    .ok()
                    .flatten()
                    .flatten();
                let r = handle
                    .authenticate_publickey(
                        user.clone(),
                        PrivateKeyWithHashAlg::new(Arc::new(k), hash),
                    )
                    .await
                    .map_err(|e| SshError::Protocol(format!("public key authentication: {e}")))?;
                if r.success() {
                    return Ok(());
                }
                tried.push(format!("key {} refused for user {user}", path.display()));
            }
            Err(e) => tried.push(format!(
                "cannot load key {}: {}",
                path.display(),
                key_error(&e)
            )),
        }
    }
    if secret.is_given() {
        match secret.resolve() {
            Ok(pw) => {
                let r = handle
                    .authenticate_password(user.clone(), pw.expose())
                    .await
                    .map_err(|e| SshError::Protocol(format!("password authentication: {e}")))?;
                if r.success() {
                    return Ok(());
                }
                tried.push(format!(
                    "password from {} refused for user {user}",
                    secret.describe()
                ));
            }
            Err(e) => tried.push(e.to_string()),
        }
    }
    if access.key.is_none() && !secret.is_given() {
        match agent_auth(handle, &user).await {
            Ok(true) => return Ok(()),
            Ok(false) => tried.push(format!("no SSH agent key accepted for user {user}")),
            Err(e) => tried.push(e),
        }
    }
    Err(SshError::Auth(tried.join("; ")))
}

/// A message about a key file that never quotes the key or a passphrase.
fn key_error(e: &russh::keys::Error) -> String {
    match e {
        russh::keys::Error::KeyIsEncrypted => {
            "the key is encrypted and no passphrase reference (password_env/password_file) was given"
                .into()
        }
        russh::keys::Error::IO(io) => io.kind().to_string(),
        _ => "unreadable or unsupported key (wrong passphrase?)".into(),
    }
}

async fn agent_auth(handle: &mut client::Handle<Verifier>, user: &str) -> Result<bool, String> {
    let mut agent = russh::keys::agent::client::AgentClient::connect_env()
        .await
        .map_err(|_| "no key given and no SSH agent (SSH_AUTH_SOCK) reachable".to_string())?;
    let ids = agent
        .request_identities()
        .await
        .map_err(|e| format!("SSH agent: {e}"))?;
    for id in ids {
        let russh::keys::agent::AgentIdentity::PublicKey { key, .. } = id else {
            continue;
        };
        let hash = handle
            .best_supported_rsa_hash()
            .await
            .ok()
            .flatten()
            .flatten();
        if let Ok(r) = handle
            .authenticate_publickey_with(user, key, hash, &mut agent)
            .await
            && r.success()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The host-key check, run by russh during the key exchange.
struct Verifier {
    known: Vec<PublicKey>,
    file: PathBuf,
    names: Vec<String>,
    port: u16,
    trust_on_first_use: bool,
    verdict: Arc<Mutex<Option<SshError>>>,
}

impl client::Handler for Verifier {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        offered: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        // A host certificate is judged by its key: labcheck does not trust CAs.
        let key = &match offered {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            russh::keys::PublicKeyOrCertificate::Certificate(c) => {
                PublicKey::new(c.public_key().clone(), "")
            }
        };
        let seen = fingerprint(key);
        let outcome = match check_key(&self.known, key) {
            KeyCheck::Match => return Ok(true),
            KeyCheck::Changed(expected) => SshError::ChangedHostKey {
                expected,
                seen,
                file: self.file.clone(),
            },
            KeyCheck::Unknown if self.trust_on_first_use => {
                match record_key(&self.file, &self.names, self.port, key) {
                    Ok(()) => {
                        tracing::warn!(
                            "trust-on-first-use: recorded host key {seen} for {} in {}",
                            self.names.join(","),
                            self.file.display()
                        );
                        return Ok(true);
                    }
                    Err(e) => SshError::Protocol(format!(
                        "cannot record host key {seen} in {}: {e}",
                        self.file.display()
                    )),
                }
            }
            KeyCheck::Unknown => SshError::UnknownHostKey {
                seen,
                file: self.file.clone(),
            },
        };
        if let Ok(mut v) = self.verdict.lock() {
            *v = Some(outcome);
        }
        Ok(false)
    }
}

pub fn fingerprint(key: &PublicKey) -> String {
    format!(
        "{} {}",
        key.algorithm().as_str(),
        key.fingerprint(HashAlg::Sha256)
    )
}

#[derive(Debug, PartialEq, Eq)]
pub enum KeyCheck {
    Match,
    /// Recorded keys exist for the host, none is the one seen.
    Changed(Vec<String>),
    Unknown,
}

/// Compares the seen key with the host's recorded keys. A different key of
/// another algorithm still counts as changed: we asked for the recorded
/// algorithms first, so a server that offers another one is suspect.
pub fn check_key(known: &[PublicKey], seen: &PublicKey) -> KeyCheck {
    if known.is_empty() {
        return KeyCheck::Unknown;
    }
    if known.iter().any(|k| k.key_data() == seen.key_data()) {
        return KeyCheck::Match;
    }
    KeyCheck::Changed(known.iter().map(fingerprint).collect())
}

/// The recorded keys of a host (any of `names`, on `port`). Unparsable
/// lines, revoked keys and CA lines are skipped; a missing file is empty.
pub fn read_known_keys(path: &Path, names: &[String], port: u16) -> Vec<PublicKey> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return vec![];
    };
    known_keys_in(&text, names, port)
}

pub fn known_keys_in(text: &str, names: &[String], port: u16) -> Vec<PublicKey> {
    let wanted: Vec<String> = names
        .iter()
        .map(|n| {
            if port == 22 {
                n.clone()
            } else {
                format!("[{n}]:{port}")
            }
        })
        .collect();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Ok(entry) = line.parse::<Entry>() else {
            continue;
        };
        if matches!(
            entry.marker(),
            Some(Marker::CertAuthority) | Some(Marker::Revoked)
        ) {
            continue;
        }
        if wanted
            .iter()
            .any(|w| patterns_match(entry.host_patterns(), w))
        {
            out.push(entry.public_key().clone());
        }
    }
    out
}

fn patterns_match(p: &HostPatterns, host: &str) -> bool {
    match p {
        HostPatterns::Patterns(list) => {
            let mut hit = false;
            for pat in list {
                if let Some(neg) = pat.strip_prefix('!') {
                    if glob(neg, host) {
                        return false;
                    }
                } else if glob(pat, host) {
                    hit = true;
                }
            }
            hit
        }
        HostPatterns::HashedName { salt, hash } => {
            let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(salt) else {
                return false;
            };
            mac.update(host.as_bytes());
            mac.verify_slice(hash).is_ok()
        }
    }
}

/// known_hosts globbing: `*` any run, `?` one character.
fn glob(pat: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Ask the server for the algorithms we hold a key for first.
fn preferred_host_key_algorithms(known: &[PublicKey]) -> Vec<Algorithm> {
    let default = russh::Preferred::DEFAULT.key.to_vec();
    let mut out: Vec<Algorithm> = Vec::new();
    for k in known {
        let a = k.algorithm();
        for d in &default {
            let same = match (&a, d) {
                (Algorithm::Rsa { .. }, Algorithm::Rsa { .. }) => true,
                _ => &a == d,
            };
            if same && !out.contains(d) {
                out.push(d.clone());
            }
        }
    }
    for d in default {
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// Trust-on-first-use: append the key for the host's address and name.
fn record_key(path: &Path, names: &[String], port: u16, key: &PublicKey) -> std::io::Result<()> {
    use std::io::Write;
    let hosts: Vec<String> = names
        .iter()
        .map(|n| {
            if port == 22 {
                n.clone()
            } else {
                format!("[{n}]:{port}")
            }
        })
        .collect();
    let line = key
        .to_openssh()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let needs_newline = std::fs::read(path)
        .map(|b| !b.is_empty() && !b.ends_with(b"\n"))
        .unwrap_or(false);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if needs_newline {
        f.write_all(b"\n")?;
    }
    writeln!(f, "{} {line}", hosts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";
    const K2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA6rWI3G2sz07DnfFlrouTcysQlj2P+jpNSOEWD9OJ3X";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).unwrap()
    }

    #[test]
    fn known_hosts_matching() {
        let text = format!(
            "# comment\n198.18.10.10,dc.lab.test,dc {K1}\n[127.0.0.1]:2222 {K2}\n@revoked 198.18.10.20 {K2}\ngarbage line\n*.lab.test,!db.lab.test {K2}\n|1|O33ESRMWPVkMYIwJ1Uw+n877jTo=|nuuC5vEqXlEZ/8BXQR7m619W6Ak= {K1}\n"
        );
        assert_eq!(
            known_keys_in(&text, &["198.18.10.10".into()], 22),
            vec![key(K1)]
        );
        assert_eq!(
            known_keys_in(&text, &["127.0.0.1".into()], 2222),
            vec![key(K2)]
        );
        assert!(known_keys_in(&text, &["127.0.0.1".into()], 22).is_empty());
        // revoked lines are not trusted; the negated glob excludes db
        assert!(
            known_keys_in(&text, &["198.18.10.20".into(), "db.lab.test".into()], 22).is_empty()
        );
        assert_eq!(
            known_keys_in(&text, &["web1.lab.test".into()], 22),
            vec![key(K2)]
        );
        assert!(known_keys_in(&text, &["nothing".into()], 22).is_empty());
    }

    #[test]
    fn changed_key_names_both_fingerprints() {
        match check_key(&[key(K1)], &key(K2)) {
            KeyCheck::Changed(exp) => assert_eq!(exp, vec![fingerprint(&key(K1))]),
            other => panic!("{other:?}"),
        }
        assert_eq!(check_key(&[key(K1)], &key(K1)), KeyCheck::Match);
        assert_eq!(check_key(&[], &key(K1)), KeyCheck::Unknown);
        assert!(fingerprint(&key(K1)).starts_with("ssh-ed25519 SHA256:"));
    }

    #[test]
    fn globbing() {
        assert!(glob("*.lab.test", "db.lab.test"));
        assert!(glob("198.18.10.?", "198.18.10.1"));
        assert!(!glob("198.18.10.?", "198.18.10.10"));
        assert!(glob("*", "x"));
    }

    #[test]
    fn tofu_appends() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("kh");
        std::fs::write(&f, format!("# kept\nother {K2}")).unwrap();
        record_key(&f, &["127.0.0.1".into(), "h".into()], 2222, &key(K1)).unwrap();
        let t = std::fs::read_to_string(&f).unwrap();
        assert!(t.starts_with("# kept\nother "));
        assert_eq!(known_keys_in(&t, &["h".into()], 2222), vec![key(K1)]);
    }
}
