//! In-host inspection: the read-only commands of [`commands`], run over one
//! SSH session per host (or locally, for the `local = true` host), their
//! outputs parsed by [`parse`] into facts whose probe names the command.
//!
//! The test lab runs its hosts in network namespaces of one machine: they
//! share one filesystem and one process list. So what is claimed per host
//! rests on what really is per host — listening sockets, addresses, the
//! host's own /etc overlay, service answers, systemd units — and a process
//! list alone never makes a host "have" a daemon.

pub mod commands;
mod flows;
pub mod parse;
mod vrrp;

use std::net::IpAddr;
use std::time::Duration;

use commands::{Check, fill, sh_quote};
use parse::cap;

use crate::facts::{Fact, FactKind, Reachability};
use crate::probe::deep::{BoxFuture, HostTarget};
use crate::probe::ssh::{ExecOutput, SshSession, SshTimeouts};
use crate::untrusted;

/// Registered in `probe::deep::HOST_PROBES`.
pub fn probe(t: &HostTarget) -> BoxFuture<'_, Vec<Fact>> {
    Box::pin(inspect_host(t))
}

/// Where commands run.
pub enum Exec<'a> {
    Ssh(&'a SshSession),
    Local(Duration),
}

impl Exec<'_> {
    fn prefix(&self) -> &'static str {
        match self {
            Exec::Ssh(_) => "ssh",
            Exec::Local(_) => "local",
        }
    }

    /// Runs a command; an `Err` is a transport failure (timeout, broken
    /// session), a failing command is an `Ok` with its status.
    pub async fn run(&self, command: &str, stdin: Option<&[u8]>) -> Result<ExecOutput, String> {
        match self {
            Exec::Ssh(s) => s.exec(command, stdin).await.map_err(|e| e.to_string()),
            Exec::Local(timeout) => local_exec(command, stdin, *timeout).await,
        }
    }
}

async fn local_exec(
    command: &str,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<ExecOutput, String> {
    use std::process::Stdio;
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start sh: {e}"))?;
    if let Some(mut input) = child.stdin.take() {
        if let Some(data) = stdin {
            let _ = input.write_all(data).await;
        }
        drop(input);
    }
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => Err(format!(
            "timed out: command did not finish within {}",
            crate::duration::human(timeout)
        )),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(o)) => Ok(ExecOutput {
            status: o.status.code().map(|c| c as u32),
            stdout: o.stdout,
            stderr: o.stderr,
        }),
    }
}

/// The whole inspection of one host, bounded by one host budget.
async fn inspect_host(t: &HostTarget) -> Vec<Fact> {
    let local = t.host.local;
    tracing::debug!(
        "inspect {}: local={local}, ssh={}",
        t.host.name,
        t.host.ssh.is_some()
    );
    let Some(access) = t.host.ssh.clone().filter(|_| !local).or(None) else {
        if !local {
            return vec![];
        }
        let timeouts = SshTimeouts::from_probe_timeout(t.timeout);
        return bounded(
            t,
            Inspector::new(t, Exec::Local(timeouts.command)).run_all(),
        )
        .await;
    };
    if let Reachability::Unreachable { reason } = &t.scanned.reachability {
        return vec![cannot(
            "ssh",
            "inspection",
            format!("host did not answer: {reason}"),
        )];
    }
    if !t.inventory.in_scope(t.host.address) {
        return vec![cannot(
            "ssh",
            "inspection",
            "address outside the lab's scope".into(),
        )];
    }
    let started = std::time::Instant::now();
    // The session holds a connection for its whole life: one permit.
    let Ok(_permit) = t.limit.acquire().await else {
        return vec![];
    };
    let timeouts = SshTimeouts::from_probe_timeout(t.timeout);
    let session = match SshSession::connect(
        &t.host,
        &access,
        &t.inventory,
        timeouts,
        t.trust_on_first_use,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("{}: {e}", t.host.name);
            return vec![cannot("ssh", "in-host inspection", e.to_string())];
        }
    };
    let facts = bounded(t, Inspector::new(t, Exec::Ssh(&session)).run_all()).await;
    session.close().await;
    tracing::info!(
        "inspected {} over ssh in {} ms ({} facts)",
        t.host.name,
        started.elapsed().as_millis(),
        facts.len()
    );
    facts
}

/// A host gets at most this long for all its commands.
fn host_budget(timeout: Duration) -> Duration {
    Duration::from_secs(120).max(timeout * 20)
}

async fn bounded(t: &HostTarget, work: impl std::future::Future<Output = Vec<Fact>>) -> Vec<Fact> {
    let budget = host_budget(t.timeout);
    match tokio::time::timeout(budget, work).await {
        Ok(f) => f,
        Err(_) => vec![cannot(
            "inspect",
            "in-host inspection",
            format!("stopped after {}", crate::duration::human(budget)),
        )],
    }
}

fn cannot(probe: &str, what: &str, reason: String) -> Fact {
    Fact {
        probe: probe.into(),
        port: None,
        kind: FactKind::CannotCheck {
            what: what.into(),
            reason,
        },
    }
}

/// Unix commands find admin tools outside a user's PATH (nft, sshd, ss).
const UNIX_PATH: &str = "PATH=\"$PATH:/usr/local/sbin:/usr/sbin:/sbin\"; export PATH; ";

/// Runs the command set on one host and collects its facts.
pub(crate) struct Inspector<'a> {
    t: &'a HostTarget,
    exec: Exec<'a>,
    facts: Vec<Fact>,
    /// Results of the batched fixed checks, by check id.
    batched: std::collections::HashMap<&'static str, ExecOutput>,
}

/// A command's result, classified.
enum Outcome {
    Ok(String),
    /// Not installed (exit 127) or nothing to read (no such file).
    Absent,
    /// Ran but failed: the reason, quoted from stderr.
    Failed(String),
}

impl<'a> Inspector<'a> {
    pub(crate) fn new(t: &'a HostTarget, exec: Exec<'a>) -> Self {
        Inspector {
            t,
            exec,
            facts: Vec::new(),
            batched: Default::default(),
        }
    }

    fn push(&mut self, check: &Check, kind: FactKind) {
        let f = Fact {
            probe: format!("{}:{}", self.exec.prefix(), check.id),
            port: None,
            kind,
        };
        if !self.facts.contains(&f) {
            self.facts.push(f);
        }
    }

    fn cannot(&mut self, check: &Check, reason: String) {
        self.push(
            check,
            FactKind::CannotCheck {
                what: check.what.into(),
                reason: format!("{reason} (`{}`)", first_words(check.command)),
            },
        );
    }

    async fn run(
        &mut self,
        check: &Check,
        values: &[(&str, String)],
        stdin: Option<&[u8]>,
    ) -> Outcome {
        let unix = check.id != commands::WINDOWS_OS.id;
        let cmd = fill(check.command, values);
        let cmd = if unix {
            format!("{UNIX_PATH}{cmd}")
        } else {
            cmd
        };
        let result = match self.batched.remove(check.id) {
            Some(o) if values.is_empty() && stdin.is_none() => Ok(o),
            _ => self.exec.run(&cmd, stdin).await,
        };
        match result {
            Err(e) => Outcome::Failed(e),
            Ok(o) => {
                let stderr = String::from_utf8_lossy(&o.stderr).to_string();
                let stdout = String::from_utf8_lossy(&o.stdout).to_string();
                match o.status {
                    Some(0) => Outcome::Ok(stdout),
                    Some(127) => Outcome::Absent,
                    _ if stderr.contains("No such file") || stderr.contains("not found") => {
                        Outcome::Absent
                    }
                    _ if stderr.is_empty() && stdout.is_empty() => Outcome::Absent,
                    s => {
                        let why = untrusted::first_line(stderr.trim().as_bytes(), 160);
                        let why = if why.is_empty() {
                            untrusted::first_line(stdout.trim().as_bytes(), 160)
                        } else {
                            why
                        };
                        Outcome::Failed(format!(
                            "exit {}: {why}",
                            s.map(|s| s.to_string()).unwrap_or_else(|| "signal".into())
                        ))
                    }
                }
            }
        }
    }

    /// Runs the fixed Unix checks in one shell: one channel and one shell
    /// start instead of a dozen, which is most of a host's cost. Each
    /// check keeps its own stdout, stderr and exit status. Without a POSIX
    /// shell (Windows) the batch yields nothing and checks run one by one.
    async fn prefetch(&mut self) {
        let script: String = commands::BATCHED
            .iter()
            .map(|c| batch_section(c.id, c.command))
            .collect();
        if let Ok(o) = self.exec.run(&format!("{UNIX_PATH}{script}"), None).await {
            self.batched = split_batch(&String::from_utf8_lossy(&o.stdout));
        }
    }

    pub(crate) async fn run_all(mut self) -> Vec<Fact> {
        self.prefetch().await;
        if !self.os().await {
            return self.facts;
        }
        let listeners = match self.run(&commands::LISTENING, &[], None).await {
            Outcome::Ok(t) => parse::listeners(&t),
            _ => vec![],
        };
        for f in parse::listener_facts(&listeners) {
            self.push(&commands::LISTENING, f);
        }
        let addrs = match self.run(&commands::ADDRESSES, &[], None).await {
            Outcome::Ok(t) => parse::addresses(&t),
            _ => vec![],
        };
        if let Outcome::Ok(t) = self.run(&commands::TOOLS, &[], None).await {
            for f in parse::tools(&t) {
                self.push(&commands::TOOLS, f);
            }
        }
        self.daemons().await;
        let jobs = self.schedules().await;
        self.backups(&jobs).await;
        self.restic(&jobs).await;
        self.wireguard().await;
        if let Outcome::Ok(t) = self.run(&commands::IPSEC, &[], None).await {
            let sas = parse::ipsec_sas(&t);
            if !sas.is_empty() {
                self.push(
                    &commands::IPSEC,
                    cap(
                        "vpn.site.up",
                        true,
                        format!("IPsec SA established: {}", sas[0]),
                    ),
                );
            }
        }
        self.keepalived(&addrs).await;
        if let Outcome::Ok(t) = self.run(&commands::RAID, &[], None).await {
            for (array, healthy) in parse::mdstat(&t) {
                let state = if healthy { "healthy" } else { "DEGRADED" };
                self.push(
                    &commands::RAID,
                    cap(
                        "continuity",
                        true,
                        format!("software RAID {array} ({state})"),
                    ),
                );
            }
        }
        match self.run(&commands::SSHD, &[], None).await {
            Outcome::Ok(t) => {
                if let Some((pw, root)) = parse::sshd_settings(&t) {
                    self.push(
                        &commands::SSHD,
                        cap(
                            "remote-admin",
                            true,
                            format!("sshd: passwordauthentication {pw}, permitrootlogin {root}"),
                        ),
                    );
                }
            }
            Outcome::Failed(e) => self.cannot(&commands::SSHD, root_hint(e)),
            Outcome::Absent => {}
        }
        match self.run(&commands::FIREWALL, &[], None).await {
            Outcome::Ok(t) => {
                let (filters, summary) = parse::nft_filters(&t);
                if filters {
                    self.push(
                        &commands::FIREWALL,
                        cap("firewall", true, format!("nftables ruleset: {summary}")),
                    );
                }
            }
            Outcome::Failed(e) => self.cannot(&commands::FIREWALL, root_hint(e)),
            Outcome::Absent => {}
        }
        self.prometheus(&listeners).await;
        self.haproxy(&listeners).await;
        self.applications().await;
        self.flows().await;
        self.facts
    }

    /// The OS, strongest source first. `false`: not a Unix shell, stop
    /// after the Windows answer.
    async fn os(&mut self) -> bool {
        if let Outcome::Ok(t) = self.run(&commands::OS_RELEASE, &[], None).await
            && let Some(f) = parse::os_release(&t)
        {
            self.push(&commands::OS_RELEASE, f);
            return true;
        }
        if let Outcome::Ok(t) = self.run(&commands::UNAME, &[], None).await
            && let Some(f) = parse::uname(&t)
        {
            self.push(&commands::UNAME, f);
            return true;
        }
        match self.run(&commands::WINDOWS_OS, &[], None).await {
            Outcome::Ok(t) => match parse::win32_os(&t) {
                Some(f) => self.push(&commands::WINDOWS_OS, f),
                None => self.cannot(&commands::WINDOWS_OS, "unrecognised answer".into()),
            },
            Outcome::Failed(e) => self.cannot(&commands::WINDOWS_OS, e),
            Outcome::Absent => self.cannot(
                &commands::OS_RELEASE,
                "neither os-release, uname nor PowerShell answered".into(),
            ),
        }
        false
    }

    /// Daemons: systemd units are per host; without systemd a process list
    /// may be shared by several hosts (namespaces), so it proves nothing.
    async fn daemons(&mut self) {
        let units = match self.run(&commands::SYSTEMD_UNITS, &[], None).await {
            Outcome::Ok(t) => parse::systemd_units(&t),
            _ => None,
        };
        if let Some(units) = units {
            for (unit, active) in units {
                if let (true, Some(c)) = (active, parse::unit_capability(&unit)) {
                    let d = format!(
                        "{} is active (systemctl)",
                        untrusted::quote(unit.as_bytes(), 64)
                    );
                    self.push(&commands::SYSTEMD_UNITS, cap(c, true, d));
                }
            }
            return;
        }
        if let Outcome::Ok(t) = self.run(&commands::PROCESSES, &[], None).await {
            let seen: Vec<&str> = t
                .lines()
                .map(str::trim)
                .filter(|p| parse::IDS_PROCESSES.contains(p))
                .collect();
            if !seen.is_empty() {
                let reason = format!(
                    "{} runs on the machine, but without systemd a process cannot be attributed to this host (hosts in namespaces share one process list)",
                    seen.join(", ")
                );
                self.push(
                    &commands::PROCESSES,
                    FactKind::CannotCheck {
                        what: "ids".into(),
                        reason,
                    },
                );
            }
        }
    }

    async fn schedules(&mut self) -> Vec<parse::Job> {
        let jobs = match self.run(&commands::SCHEDULES, &[], None).await {
            Outcome::Ok(t) => parse::schedules(&t),
            _ => vec![],
        };
        for f in parse::schedule_facts(&jobs) {
            self.push(&commands::SCHEDULES, f);
        }
        if let Outcome::Ok(t) = self.run(&commands::PLAYBOOKS, &[], None).await {
            let books: Vec<String> = t
                .lines()
                .take(5)
                .map(|l| untrusted::quote(l.as_bytes(), 120))
                .collect();
            if !books.is_empty() {
                self.push(
                    &commands::PLAYBOOKS,
                    cap(
                        "automation",
                        true,
                        format!("Ansible playbooks: {}", books.join(", ")),
                    ),
                );
            }
        }
        jobs
    }

    /// Borg repositories named by jobs (their folders) or in usual places,
    /// and the age of their latest archive (needs `[credentials.borg]`).
    async fn backups(&mut self, jobs: &[parse::Job]) {
        let mut dirs = parse::job_dirs(jobs);
        for d in ["/srv", "/var/backups", "/backup", "/backups"] {
            if !dirs.iter().any(|x| x == d) {
                dirs.push(d.into());
            }
        }
        let dirs: Vec<String> = dirs.iter().take(12).map(|d| sh_quote(d)).collect();
        let repos: Vec<String> = match self
            .run(&commands::BORG_FIND, &[("dirs", dirs.join(" "))], None)
            .await
        {
            Outcome::Ok(t) => {
                let mut r: Vec<String> = Vec::new();
                for l in t.lines().map(str::trim).filter(|l| l.starts_with('/')) {
                    if !r.iter().any(|x| x == l) {
                        r.push(l.to_string());
                    }
                }
                r
            }
            _ => vec![],
        };
        let secret = self.t.inventory.credentials.get("borg").map(|c| c.secret());
        for repo in repos.iter().take(3) {
            let shown = untrusted::quote(repo.as_bytes(), 120);
            self.push(
                &commands::BORG_FIND,
                cap("backup", true, format!("borg repository {shown}")),
            );
            let pass = match secret.as_ref().map(|s| s.resolve()) {
                Some(Ok(p)) => p,
                Some(Err(e)) => {
                    self.cannot(&commands::BORG_LIST, format!("{shown}: {e}"));
                    continue;
                }
                None => {
                    self.cannot(
                        &commands::BORG_LIST,
                        format!("{shown}: no passphrase reference ([credentials.borg] password_env or password_file)"),
                    );
                    continue;
                }
            };
            let mut input = pass.expose().as_bytes().to_vec();
            input.push(b'\n');
            let out = self
                .run(
                    &commands::BORG_LIST,
                    &[("repo", sh_quote(repo))],
                    Some(&input),
                )
                .await;
            match out {
                Outcome::Ok(t) => match parse::borg_age(&t) {
                    Ok((archive, age, _)) => self.push(
                        &commands::BORG_LIST,
                        FactKind::BackupAge {
                            tool: "borg".into(),
                            age_secs: age,
                            detail: format!("archive {archive} in {shown}"),
                        },
                    ),
                    Err(e) => self.cannot(&commands::BORG_LIST, format!("{shown}: {e}")),
                },
                Outcome::Failed(e) => self.cannot(&commands::BORG_LIST, format!("{shown}: {e}")),
                Outcome::Absent => self.cannot(
                    &commands::BORG_LIST,
                    format!("{shown}: borg is not installed on this host"),
                ),
            }
        }
    }

    /// restic repositories named by jobs: the age of their latest snapshot
    /// (needs `[credentials.restic]`; the password goes to stdin).
    async fn restic(&mut self, jobs: &[parse::Job]) {
        let secret = self
            .t
            .inventory
            .credentials
            .get("restic")
            .map(|c| c.secret());
        for repo in parse::restic_repos(jobs).iter().take(3) {
            let shown = untrusted::quote(repo.as_bytes(), 120);
            let pass = match secret.as_ref().map(|s| s.resolve()) {
                Some(Ok(p)) => p,
                Some(Err(e)) => {
                    self.cannot(&commands::RESTIC_LIST, format!("{shown}: {e}"));
                    continue;
                }
                None => {
                    self.cannot(
                        &commands::RESTIC_LIST,
                        format!("{shown}: no password reference ([credentials.restic] password_env or password_file)"),
                    );
                    continue;
                }
            };
            let mut input = pass.expose().as_bytes().to_vec();
            input.push(b'\n');
            match self
                .run(
                    &commands::RESTIC_LIST,
                    &[("repo", sh_quote(repo))],
                    Some(&input),
                )
                .await
            {
                Outcome::Ok(t) => match parse::restic_age(&t) {
                    Ok((id, age, _)) => self.push(
                        &commands::RESTIC_LIST,
                        FactKind::BackupAge {
                            tool: "restic".into(),
                            age_secs: age,
                            detail: format!("snapshot {id} in {shown}"),
                        },
                    ),
                    Err(e) => self.cannot(&commands::RESTIC_LIST, format!("{shown}: {e}")),
                },
                Outcome::Failed(e) => self.cannot(&commands::RESTIC_LIST, format!("{shown}: {e}")),
                Outcome::Absent => self.cannot(
                    &commands::RESTIC_LIST,
                    format!("{shown}: restic is not installed on this host"),
                ),
            }
        }
    }

    /// Handshake age, and a host of the remote site reached through the
    /// tunnel (the proof that it carries traffic).
    async fn wireguard(&mut self) {
        let Outcome::Ok(t) = self.run(&commands::WIREGUARD, &[], None).await else {
            return;
        };
        let Some((peers, now)) = parse::wireguard(&t) else {
            return;
        };
        for p in peers {
            self.push(
                &commands::WIREGUARD,
                cap(
                    "vpn.site",
                    true,
                    format!("WireGuard interface {} with a peer", p.iface),
                ),
            );
            let age = if p.handshake > 0 {
                Some(now - p.handshake)
            } else {
                None
            };
            let hs = match age {
                Some(a) => format!("latest handshake {a} s ago"),
                None => "no handshake yet".into(),
            };
            let fresh = age.is_some_and(|a| a <= parse::WG_HANDSHAKE_MAX_AGE);
            // A declared host inside the peer's networks, other than us;
            // a server rather than the far router (whose own address says
            // less about the site behind it).
            let mut candidates: Vec<&crate::inventory::Host> = self
                .t
                .inventory
                .hosts
                .iter()
                .filter(|h| {
                    h.name != self.t.host.name
                        && p.allowed
                            .iter()
                            .any(|n| n.prefix_len() < 32 && n.contains(&h.address))
                        && self.t.inventory.in_scope(h.address)
                })
                .collect();
            candidates.sort_by_key(|h| h.roles.iter().any(|r| r == "router"));
            let remote = candidates.first().copied();
            let kind = match remote {
                Some(h) => {
                    let port = h.ssh.as_ref().map(|s| s.port).unwrap_or(22);
                    let (open, detail) = self.connect(h.address, port).await;
                    match open {
                        Some(true) => cap(
                            "vpn.site.up",
                            true,
                            format!(
                                "{} ({}:{port}) reached through {}; {hs}",
                                h.name, h.address, p.iface
                            ),
                        ),
                        _ => cap(
                            "vpn.site.up",
                            false,
                            format!(
                                "{} ({}:{port}) not reached through {}: {detail}; {hs}",
                                h.name, h.address, p.iface
                            ),
                        ),
                    }
                }
                None => cap("vpn.site.up", fresh, format!("{}: {hs}", p.iface)),
            };
            self.push(&commands::WIREGUARD, kind);
        }
    }

    async fn keepalived(&mut self, addrs: &[IpAddr]) {
        let Outcome::Ok(t) = self.run(&commands::KEEPALIVED, &[], None).await else {
            return;
        };
        let running = match self.run(&commands::SYSTEMD_UNITS, &[], None).await {
            Outcome::Ok(u) => parse::systemd_units(&u)
                .map(|units| units.iter().any(|(n, a)| n == "keepalived" && *a)),
            _ => None,
        };
        for f in vrrp::keepalived_facts(&t, addrs, running) {
            self.push(&commands::KEEPALIVED, f);
        }
    }

    /// An HAProxy statistics listener seen here (8404) is asked, from
    /// inside, how many of its servers are UP: the balancer confirmed from
    /// the host itself, not only through its frontend.
    async fn haproxy(&mut self, listeners: &[parse::Listener]) {
        let Some(l) = listeners
            .iter()
            .find(|l| l.proto == "tcp" && l.port == 8404)
        else {
            return;
        };
        let addr: IpAddr = match l.addr.as_str() {
            "0.0.0.0" | "*" => IpAddr::from([127, 0, 0, 1]),
            a => match a.parse() {
                Ok(a) => a,
                Err(_) => return,
            },
        };
        if !addr.is_loopback() && !self.t.inventory.in_scope(addr) {
            return;
        }
        let hostport = match addr {
            IpAddr::V4(a) => format!("{a}:{}", l.port),
            IpAddr::V6(a) => format!("[{a}]:{}", l.port),
        };
        match self
            .run(
                &commands::HAPROXY_STATS,
                &[("addr", sh_quote(&hostport))],
                None,
            )
            .await
        {
            Outcome::Ok(t) => match parse::haproxy_servers(&t) {
                Some((up, all)) => self.push(
                    &commands::HAPROXY_STATS,
                    cap(
                        "lb",
                        true,
                        format!(
                            "HAProxy statistics on {hostport} (from inside): {up}/{all} servers UP"
                        ),
                    ),
                ),
                None => self.cannot(
                    &commands::HAPROXY_STATS,
                    format!("{hostport}: not HAProxy CSV statistics"),
                ),
            },
            Outcome::Failed(e) => self.cannot(&commands::HAPROXY_STATS, format!("{hostport}: {e}")),
            Outcome::Absent => {}
        }
    }

    /// Prometheus seen listening here is asked, from inside, for its rules.
    async fn prometheus(&mut self, listeners: &[parse::Listener]) {
        for l in listeners
            .iter()
            .filter(|l| l.proto == "tcp" && l.port == 9090)
        {
            let addr: IpAddr = match l.addr.as_str() {
                "0.0.0.0" | "*" => IpAddr::from([127, 0, 0, 1]),
                "::" => "::1".parse().expect("valid"),
                a => match a.parse() {
                    Ok(a) => a,
                    Err(_) => continue,
                },
            };
            if !addr.is_loopback() && !self.t.inventory.in_scope(addr) {
                continue;
            }
            let hostport = match addr {
                IpAddr::V4(a) => format!("{a}:{}", l.port),
                IpAddr::V6(a) => format!("[{a}]:{}", l.port),
            };
            match self
                .run(
                    &commands::PROMETHEUS_RULES,
                    &[("addr", sh_quote(&hostport))],
                    None,
                )
                .await
            {
                Outcome::Ok(t) => match parse::prometheus_alerting_rules(&t) {
                    Some(n) => {
                        self.push(
                            &commands::PROMETHEUS_RULES,
                            cap(
                                "monitoring",
                                true,
                                format!("Prometheus answers on {hostport} (from inside)"),
                            ),
                        );
                        self.push(
                            &commands::PROMETHEUS_RULES,
                            cap(
                                "monitoring.alerts",
                                n > 0,
                                format!("Prometheus on {hostport}: {n} alerting rule(s) loaded"),
                            ),
                        );
                    }
                    None => self.cannot(
                        &commands::PROMETHEUS_RULES,
                        format!("{hostport}: not a Prometheus rules answer"),
                    ),
                },
                Outcome::Failed(e) => {
                    self.cannot(&commands::PROMETHEUS_RULES, format!("{hostport}: {e}"))
                }
                Outcome::Absent => {}
            }
            break;
        }
    }

    /// SLAM: on a host that runs a declared application, its dependency
    /// manifests name the framework, the test tools and the package manager.
    async fn applications(&mut self) {
        let apps: Vec<String> = self
            .t
            .inventory
            .applications
            .iter()
            .filter(|a| a.host.as_deref() == Some(self.t.host.name.as_str()))
            .map(|a| a.name.clone())
            .collect();
        if apps.is_empty() {
            return;
        }
        let Outcome::Ok(list) = self.run(&commands::MANIFESTS, &[], None).await else {
            return;
        };
        let files: Vec<String> = list
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with('/'))
            .take(8)
            .map(str::to_string)
            .collect();
        for file in files {
            let Outcome::Ok(content) = self
                .run(&commands::MANIFEST_READ, &[("file", sh_quote(&file))], None)
                .await
            else {
                continue;
            };
            let shown = untrusted::quote(file.as_bytes(), 120);
            let (frameworks, tests, manager) = parse::manifest(&file, &content);
            if !frameworks.is_empty() {
                self.push(
                    &commands::MANIFEST_READ,
                    cap(
                        "dev.framework",
                        true,
                        format!("{} in {shown}", frameworks.join(", ")),
                    ),
                );
            }
            if !tests.is_empty() {
                self.push(
                    &commands::MANIFEST_READ,
                    cap(
                        "dev.tests",
                        true,
                        format!("{} declared in {shown}", tests.join(", ")),
                    ),
                );
            }
            if let Some(m) = manager {
                self.push(
                    &commands::MANIFEST_READ,
                    cap("component-library", true, format!("{m} manifest {shown}")),
                );
            }
        }
    }

    /// A bounded TCP connect from this host.
    async fn connect(&mut self, addr: IpAddr, port: u16) -> (Option<bool>, String) {
        let cmd = fill(
            commands::TCP_CONNECT.command,
            &[
                ("addr", sh_quote(&addr.to_string())),
                ("port", port.to_string()),
            ],
        );
        match self.exec.run(&format!("{UNIX_PATH}{cmd}"), None).await {
            Ok(o) => parse::tcp_connect(
                &String::from_utf8_lossy(&o.stdout),
                &String::from_utf8_lossy(&o.stderr),
            ),
            Err(e) => (None, e),
        }
    }
}

const MARK: &str = "@@labcheck@@";

/// One check of the batch: its stdout as is, its stderr lines prefixed,
/// then its exit status, between markers.
fn batch_section(id: &str, command: &str) -> String {
    // stdout goes straight out (fd 3); stderr is captured and printed
    // after the status, so no extra process runs per check.
    format!(
        "printf '\\n{MARK} BEGIN {id}\\n'\n{{ e=$( ( {command}\n) 2>&1 1>&3 ); rc=$?; }} 3>&1\nprintf '\\n{MARK} RC %s\\n' \"$rc\"\n[ -z \"$e\" ] || printf '{MARK} E %s\\n' \"$e\"\n"
    )
}

/// The batch's output back into one result per check id.
fn split_batch(out: &str) -> std::collections::HashMap<&'static str, ExecOutput> {
    let mut map = std::collections::HashMap::new();
    let begin = format!("\n{MARK} BEGIN ");
    for part in out.split(begin.as_str()).skip(1) {
        let (id, body) = part.split_once('\n').unwrap_or((part, ""));
        let Some(check) = commands::BATCHED.iter().find(|c| c.id == id.trim()) else {
            continue;
        };
        let rc_prefix = format!("{MARK} RC ");
        let err_prefix = format!("{MARK} E ");
        let (mut stdout, mut stderr, mut status, mut done) =
            (String::new(), String::new(), None, false);
        // stdout, the status line, then stderr (all of it) if any.
        for line in body.split_inclusive('\n') {
            if done && !stderr.is_empty() {
                stderr.push_str(line);
            } else if let Some(e) = line.strip_prefix(err_prefix.as_str()).filter(|_| done) {
                stderr.push_str(e);
            } else if let Some(rc) = line.strip_prefix(rc_prefix.as_str()) {
                status = rc.trim().parse::<u32>().ok();
                done = true;
            } else if !done {
                stdout.push_str(line);
            }
        }
        if !done {
            continue;
        }
        // The status line was preceded by a newline of its own.
        if stdout.ends_with('\n') {
            stdout.pop();
        }
        map.insert(
            check.id,
            ExecOutput {
                status,
                stdout: stdout.into_bytes(),
                stderr: stderr.into_bytes(),
            },
        );
    }
    map
}

/// Reading sshd's effective settings or the firewall ruleset needs root.
fn root_hint(e: String) -> String {
    if [
        "no hostkeys",
        "not permitted",
        "must be root",
        "Permission denied",
    ]
    .iter()
    .any(|m| e.contains(m))
    {
        format!("needs root, the SSH account is not ({e})")
    } else {
        e
    }
}

fn first_words(cmd: &str) -> String {
    let w: Vec<&str> = cmd.split_whitespace().take(4).collect();
    w.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The batch script runs in a real sh and splits back into the same
    /// stdout, stderr and status as separate runs.
    #[test]
    fn batch_round_trip() {
        let script: String = [
            ("os-release", "printf 'ID=debian\\nVERSION_ID=12\\n'"),
            ("uname", "printf 'no newline'"),
            ("ruleset", "echo 'nft: Operation not permitted' >&2; exit 1"),
            ("listening", "echo out; echo err >&2; echo out2"),
            ("mdstat", "nosuchcommand-xyz"),
        ]
        .iter()
        .map(|(id, c)| batch_section(id, c))
        .collect();
        let o = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        let m = split_batch(&String::from_utf8_lossy(&o.stdout));
        let get = |id: &str| {
            let x = &m[id];
            (
                x.status,
                String::from_utf8_lossy(&x.stdout).into_owned(),
                String::from_utf8_lossy(&x.stderr).into_owned(),
            )
        };
        assert_eq!(
            get("os-release"),
            (Some(0), "ID=debian\nVERSION_ID=12\n".into(), String::new())
        );
        assert_eq!(get("uname"), (Some(0), "no newline".into(), String::new()));
        assert_eq!(
            get("ruleset"),
            (
                Some(1),
                String::new(),
                "nft: Operation not permitted\n".into()
            )
        );
        assert_eq!(
            get("listening"),
            (Some(0), "out\nout2\n".into(), "err\n".into())
        );
        assert_eq!(get("mdstat").0, Some(127));
    }
}
