//! Parsers of the read-only commands' outputs. Pure functions, unit-tested
//! against real outputs (Debian 12, the test lab, recorded Windows answers).

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::facts::{FactKind, OsFamily, Strength};
use crate::untrusted;

pub fn cap(name: &str, present: bool, detail: impl Into<String>) -> FactKind {
    FactKind::Capability {
        name: name.into(),
        present,
        detail: detail.into(),
    }
}

fn q(s: &str) -> String {
    untrusted::quote(s.as_bytes(), 120)
}

/// `/etc/os-release` → a strong OS signal (`linux debian 12`).
pub fn os_release(text: &str) -> Option<FactKind> {
    let kv: BTreeMap<&str, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim().trim_matches('"').to_string()))
        .collect();
    let id = kv.get("ID")?;
    let family = match id.as_str() {
        "freebsd" | "openbsd" | "netbsd" => OsFamily::Bsd,
        _ => OsFamily::Linux,
    };
    Some(FactKind::Os {
        family,
        name: Some(q(id)),
        version: kv
            .get("VERSION_ID")
            .or_else(|| kv.get("VERSION"))
            .map(|v| q(v)),
        strength: Strength::Strong,
    })
}

/// `uname -sr` → family from the kernel name (used when os-release is absent).
pub fn uname(text: &str) -> Option<FactKind> {
    let mut it = text.split_whitespace();
    let kernel = it.next()?;
    let family = match kernel {
        "Linux" => OsFamily::Linux,
        "FreeBSD" | "OpenBSD" | "NetBSD" | "DragonFly" => OsFamily::Bsd,
        "Darwin" => OsFamily::Macos,
        _ => return None,
    };
    Some(FactKind::Os {
        family,
        name: Some(q(&kernel.to_lowercase())),
        version: it.next().map(q),
        strength: Strength::Strong,
    })
}

/// `Get-CimInstance Win32_OperatingSystem | Select Caption,Version,BuildNumber,ProductType | ConvertTo-Json`.
/// ProductType 1 is a workstation, 2 a domain controller, 3 a server.
pub fn win32_os(text: &str) -> Option<FactKind> {
    // PowerShell may prefix a UTF-8 BOM.
    let v: serde_json::Value =
        serde_json::from_str(text.trim_start_matches('\u{feff}').trim()).ok()?;
    let caption = v.get("Caption")?.as_str()?.trim();
    if !caption.contains("Windows") {
        return None;
    }
    let version = v.get("Version").and_then(|x| x.as_str()).map(q);
    let role = match v.get("ProductType").and_then(|x| x.as_u64()) {
        Some(1) => " (workstation)",
        Some(2) => " (domain controller)",
        Some(3) => " (server)",
        _ => "",
    };
    Some(FactKind::Os {
        family: OsFamily::Windows,
        name: Some(q(&format!("{caption}{role}"))),
        version,
        strength: Strength::Strong,
    })
}

/// One listening socket of `ss -Hltnu`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub proto: &'static str,
    pub addr: String,
    pub port: u16,
}

pub fn listeners(text: &str) -> Vec<Listener> {
    let mut out = Vec::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 5 {
            continue;
        }
        let proto = match cols[0] {
            "tcp" => "tcp",
            "udp" => "udp",
            _ => continue,
        };
        let Some((addr, port)) = cols[4].rsplit_once(':') else {
            continue;
        };
        let Ok(port) = port.parse() else { continue };
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        let addr = addr.split('%').next().unwrap_or(addr).to_string();
        let l = Listener { proto, addr, port };
        if !out.contains(&l) {
            out.push(l);
        }
    }
    out
}

/// Ports whose listener proves something no network scan sees (silent UDP).
pub fn listener_facts(ls: &[Listener]) -> Vec<FactKind> {
    let mut out = Vec::new();
    for l in ls.iter().filter(|l| l.proto == "udp") {
        let what = match l.port {
            51820 => "WireGuard",
            500 | 4500 => "IPsec (IKE)",
            1194 => "OpenVPN",
            _ => continue,
        };
        let d = format!("{what} listening on udp/{} (ss)", l.port);
        if !out.contains(&cap("vpn.site", true, d.clone())) {
            out.push(cap("vpn.site", true, d));
        }
    }
    out
}

/// Tools on PATH: `name path` lines.
pub fn tools(text: &str) -> Vec<FactKind> {
    let found: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(t, p)| (t.trim(), p.trim()))
        .collect();
    let has = |names: &[&str]| -> Vec<String> {
        found
            .iter()
            .filter(|(t, _)| names.contains(t))
            .map(|(t, p)| format!("{t} ({})", q(p)))
            .collect()
    };
    let mut out = Vec::new();
    for (capability, names) in [
        ("traffic-analysis", &["tshark", "tcpdump", "wireshark"][..]),
        ("config-mgmt", &["ansible", "ansible-playbook"][..]),
        (
            "abnormal-testing",
            &[
                "zap.sh",
                "zaproxy",
                "owasp-zap",
                "sqlmap",
                "nikto",
                "ab",
                "wrk",
                "k6",
                "locust",
                "jmeter",
            ][..],
        ),
        ("dev.tests", &["phpunit", "pytest", "jest"][..]),
        ("component-library", &["composer", "npm"][..]),
    ] {
        let h = has(names);
        if !h.is_empty() {
            out.push(cap(
                capability,
                true,
                format!("installed: {}", h.join(", ")),
            ));
        }
    }
    let langs = has(&["php", "python3", "java", "node", "dotnet"]);
    if langs.len() >= 2 {
        out.push(cap(
            "dev.languages",
            true,
            format!("language toolchains: {}", langs.join(", ")),
        ));
    }
    out
}

/// `systemd` check: `unit state` lines, or `no-systemd`.
pub fn systemd_units(text: &str) -> Option<Vec<(String, bool)>> {
    if text.trim() == "no-systemd" {
        return None;
    }
    Some(
        text.lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(u, s)| (u.to_string(), s.trim() == "active"))
            .collect(),
    )
}

/// What an active unit proves.
pub fn unit_capability(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "suricata" | "snort" | "fail2ban" | "crowdsec" | "wazuh-manager" | "wazuh-agent" => "ids",
        "keepalived" | "pacemaker" => "fault-tolerance",
        "zabbix-agent" | "zabbix-agent2" | "prometheus-node-exporter" => "monitoring.agent",
        "openvpn-server@server" | "strongswan" | "ipsec" => "vpn.site",
        _ => return None,
    })
}

/// Process names that would prove a capability if they were known to be
/// this host's own (only with systemd, or outside a shared process list).
pub const IDS_PROCESSES: &[&str] = &[
    "suricata",
    "snort",
    "fail2ban-server",
    "crowdsec",
    "wazuh-analysisd",
    "zeek",
];

/// A scheduled job line: `source: content`.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub source: String,
    pub line: String,
}

/// Jobs that run something of the administrator's own (not the
/// distribution's run-parts, e2scrub, sessionclean, sysstat…).
pub fn schedules(text: &str) -> Vec<Job> {
    let mut out = Vec::new();
    for raw in text.lines() {
        let Some((source, line)) = raw.split_once(": ") else {
            continue;
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Variable assignments in cron files (SHELL=, PATH=, MAILTO=).
        let first = line.split_whitespace().next().unwrap_or("");
        if source != "timer" && first.contains('=') && !first.starts_with('@') {
            continue;
        }
        let distro = [
            "run-parts",
            "e2scrub",
            "sessionclean",
            "debian-sa1",
            "/usr/lib/",
            "/usr/share/",
            "apt-daily",
            "dpkg-db-backup",
            "logrotate",
            "man-db",
            "fstrim",
            "systemd-tmpfiles",
            "anacron",
        ];
        if distro.iter().any(|d| line.contains(d)) {
            continue;
        }
        out.push(Job {
            source: source.to_string(),
            line: line.to_string(),
        });
    }
    out
}

const BACKUP_WORDS: &[&str] = &[
    "borg",
    "restic",
    "rsnapshot",
    "rsync",
    "bacula",
    "bareos",
    "duplicity",
    "backup",
    "tar ",
];

pub fn schedule_facts(jobs: &[Job]) -> Vec<FactKind> {
    let mut out = Vec::new();
    for j in jobs {
        let detail = format!("{}: {}", q(&j.source), q(&j.line));
        out.push(cap("automation", true, format!("scheduled job {detail}")));
        let lower = j.line.to_lowercase();
        if BACKUP_WORDS.iter().any(|w| lower.contains(w)) {
            out.push(cap("backup", true, format!("scheduled backup {detail}")));
        }
    }
    out
}

/// Folders of absolute paths named in jobs: where scripts and repositories live.
pub fn job_dirs(jobs: &[Job]) -> Vec<String> {
    let mut dirs = Vec::new();
    for j in jobs {
        for w in j
            .line
            .split(|c: char| c.is_whitespace() || c == '>' || c == '\'' || c == '"')
        {
            if !w.starts_with('/') || w.starts_with("/dev/") || w.starts_with("/proc/") {
                continue;
            }
            let p = std::path::Path::new(w);
            let d = if w.ends_with('/') {
                Some(p)
            } else {
                p.parent()
            };
            if let Some(d) = d.and_then(|d| d.to_str())
                && d.len() > 1
                && !["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"].contains(&d)
                && !dirs.iter().any(|x| x == d)
            {
                dirs.push(d.to_string());
            }
        }
    }
    dirs
}

/// restic repositories named in jobs: `-r PATH`, `--repo PATH|=PATH`,
/// `RESTIC_REPOSITORY=PATH` (local paths and `sftp:`/`rest:` URLs alike).
pub fn restic_repos(jobs: &[Job]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for j in jobs.iter().filter(|j| j.line.contains("restic")) {
        let words: Vec<&str> = j
            .line
            .split_whitespace()
            .map(|w| w.trim_matches(['"', '\'']))
            .collect();
        for (i, w) in words.iter().enumerate() {
            let repo = if *w == "-r" || *w == "--repo" {
                words.get(i + 1).copied()
            } else {
                w.strip_prefix("--repo=")
                    .or_else(|| w.strip_prefix("RESTIC_REPOSITORY="))
            };
            if let Some(r) = repo.map(|r| r.trim_matches(['"', '\'', ';']))
                && !r.is_empty()
                && !out.iter().any(|x| x == r)
            {
                out.push(r.to_string());
            }
        }
    }
    out
}

/// `borg list --last 1 --json` (TZ=UTC) followed by `now=EPOCH`.
pub fn borg_age(text: &str) -> Result<(String, u64, i64), String> {
    let (json, now) = split_now(text)?;
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("unexpected borg output ({e})"))?;
    let Some(last) = v
        .get("archives")
        .and_then(|a| a.as_array())
        .and_then(|a| a.last())
    else {
        return Err("the repository holds no archive".into());
    };
    let name = last.get("name").and_then(|x| x.as_str()).unwrap_or("?");
    let time = last
        .get("time")
        .or_else(|| last.get("start"))
        .and_then(|x| x.as_str())
        .ok_or("archive without a time")?;
    let ts = parse_utc(time).ok_or_else(|| format!("unreadable archive time {}", q(time)))?;
    Ok((q(name), now.saturating_sub(ts).max(0) as u64, ts))
}

/// `restic snapshots --latest 1 --json` followed by `now=EPOCH`.
pub fn restic_age(text: &str) -> Result<(String, u64, i64), String> {
    let (json, now) = split_now(text)?;
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("unexpected restic output ({e})"))?;
    let last = v
        .as_array()
        .and_then(|a| {
            a.iter()
                .max_by_key(|s| s.get("time").and_then(|t| t.as_str()).map(str::to_string))
        })
        .ok_or("the repository holds no snapshot")?;
    let time = last
        .get("time")
        .and_then(|x| x.as_str())
        .ok_or("snapshot without a time")?;
    let ts: jiff::Timestamp = time
        .parse()
        .map_err(|_| format!("unreadable snapshot time {}", q(time)))?;
    let id = last.get("short_id").and_then(|x| x.as_str()).unwrap_or("?");
    Ok((
        q(id),
        now.saturating_sub(ts.as_second()).max(0) as u64,
        ts.as_second(),
    ))
}

fn split_now(text: &str) -> Result<(&str, i64), String> {
    let idx = text.rfind("now=").ok_or("no clock reading")?;
    let now = text[idx + 4..]
        .trim()
        .parse::<i64>()
        .map_err(|_| "unreadable clock reading".to_string())?;
    Ok((&text[..idx], now))
}

/// `2026-11-22T12:06:25.000000` in UTC → epoch seconds.
fn parse_utc(s: &str) -> Option<i64> {
    let dt: jiff::civil::DateTime = s.parse().ok()?;
    dt.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_second())
}

/// A WireGuard peer: interface, latest handshake (epoch, 0 = never), allowed networks.
#[derive(Debug, Clone, PartialEq)]
pub struct WgPeer {
    pub iface: String,
    pub handshake: i64,
    pub allowed: Vec<ipnet::IpNet>,
}

/// `wg show all latest-handshakes`, `--`, `wg show all allowed-ips`, `now=EPOCH`.
pub fn wireguard(text: &str) -> Option<(Vec<WgPeer>, i64)> {
    let (body, now) = split_now(text).ok()?;
    let (hs, allowed) = body.split_once("--\n").unwrap_or((body, ""));
    let mut peers = Vec::new();
    for l in hs.lines() {
        let c: Vec<&str> = l.split_whitespace().collect();
        if c.len() == 3 {
            let allowed = allowed
                .lines()
                .map(|a| a.split_whitespace().collect::<Vec<_>>())
                .find(|a| a.len() >= 2 && a[0] == c[0] && a[1] == c[1])
                .map(|a| a[2..].iter().filter_map(|n| n.parse().ok()).collect())
                .unwrap_or_default();
            peers.push(WgPeer {
                iface: q(c[0]),
                handshake: c[2].parse().unwrap_or(0),
                allowed,
            });
        }
    }
    Some((peers, now))
}

/// A handshake older than this means the tunnel is down (WireGuard
/// re-handshakes every 2 minutes while traffic or keepalives flow).
pub const WG_HANDSHAKE_MAX_AGE: i64 = 180;

/// `swanctl --list-sas`: established IKE SAs.
pub fn ipsec_sas(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains("ESTABLISHED"))
        .map(|l| q(l.trim()))
        .collect()
}

/// keepalived.conf → the virtual addresses it manages.
pub fn keepalived_vips(text: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut inside = false;
    for l in text.lines() {
        let l = l.split('#').next().unwrap_or("").trim();
        if l.starts_with("virtual_ipaddress") {
            inside = true;
            continue;
        }
        if inside {
            if l.starts_with('}') {
                inside = false;
                continue;
            }
            if let Some(a) = l.split_whitespace().next()
                && let Ok(a) = a.split('/').next().unwrap_or(a).parse()
            {
                out.push(a);
            }
        }
    }
    out
}

/// `ip -br addr` → every address of the host.
pub fn addresses(text: &str) -> Vec<IpAddr> {
    text.lines()
        .flat_map(|l| l.split_whitespace().skip(2))
        .filter_map(|a| a.split('/').next().and_then(|a| a.parse().ok()))
        .collect()
}

/// `/proc/mdstat` → `md0 raid1 [UU]` per active array.
pub fn mdstat(text: &str) -> Vec<(String, bool)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if !l.starts_with("md") || !l.contains(" : ") {
            continue;
        }
        let words: Vec<&str> = l.split_whitespace().collect();
        let level = words.iter().find(|w| w.starts_with("raid")).unwrap_or(&"?");
        let status = lines
            .get(i + 1)
            .and_then(|n| n.split_whitespace().last())
            .unwrap_or("");
        let healthy = status.starts_with('[') && !status.contains('_');
        out.push((format!("{} {} {}", words[0], level, status), healthy));
    }
    out
}

/// `sshd -T` → (passwordauthentication, permitrootlogin).
pub fn sshd_settings(text: &str) -> Option<(String, String)> {
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k).map(|v| q(v.trim())))
    };
    Some((get("passwordauthentication ")?, get("permitrootlogin ")?))
}

/// `nft list ruleset` → whether something filters (a drop policy or
/// drop/reject rules), with a summary.
pub fn nft_filters(text: &str) -> (bool, String) {
    let chains = text.matches("chain ").count();
    let drops = text.matches("policy drop").count()
        + text.matches(" drop").count()
        + text.matches("reject").count();
    (
        drops > 0,
        format!("{chains} chain(s), {drops} drop/reject statement(s)"),
    )
}

/// Prometheus `/api/v1/rules` → number of alerting rules.
pub fn prometheus_alerting_rules(text: &str) -> Option<usize> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let groups = v.get("data")?.get("groups")?.as_array()?;
    Some(
        groups
            .iter()
            .filter_map(|g| g.get("rules").and_then(|r| r.as_array()))
            .flatten()
            .filter(|r| r.get("type").and_then(|t| t.as_str()) == Some("alerting"))
            .count(),
    )
}

/// HAProxy's `/stats;csv` → (servers UP, servers) over every backend,
/// the FRONTEND/BACKEND summary rows left out.
pub fn haproxy_servers(csv: &str) -> Option<(usize, usize)> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next()?.trim_start_matches("# ").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (sv, st) = (col("svname")?, col("status")?);
    let (mut up, mut all) = (0, 0);
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let (Some(name), Some(status)) = (f.get(sv), f.get(st)) else {
            continue;
        };
        if matches!(*name, "FRONTEND" | "BACKEND") {
            continue;
        }
        all += 1;
        if status.starts_with("UP") {
            up += 1;
        }
    }
    Some((up, all))
}

/// What a dependency manifest declares: (frameworks, test tools, package manager).
pub fn manifest(
    path: &str,
    content: &str,
) -> (Vec<&'static str>, Vec<&'static str>, Option<&'static str>) {
    const FRAMEWORKS: &[(&str, &str)] = &[
        ("\"symfony/framework-bundle\"", "Symfony"),
        ("\"laravel/framework\"", "Laravel"),
        ("\"codeigniter4/framework\"", "CodeIgniter 4"),
        ("\"cakephp/cakephp\"", "CakePHP"),
        ("\"slim/slim\"", "Slim"),
        ("\"express\"", "Express"),
        ("\"next\"", "Next.js"),
        ("\"@nestjs/core\"", "NestJS"),
        ("\"@angular/core\"", "Angular"),
        ("\"react\"", "React"),
        ("\"vue\"", "Vue"),
        ("\"fastify\"", "Fastify"),
        ("org.springframework", "Spring"),
        ("Microsoft.AspNetCore", "ASP.NET Core"),
        ("Microsoft.Maui", ".NET MAUI"),
    ];
    const TESTS: &[(&str, &str)] = &[
        ("\"phpunit/phpunit\"", "PHPUnit"),
        ("\"pestphp/pest\"", "Pest"),
        ("\"jest\"", "Jest"),
        ("\"mocha\"", "Mocha"),
        ("\"vitest\"", "Vitest"),
        ("\"cypress\"", "Cypress"),
        ("\"@playwright/test\"", "Playwright"),
        ("<artifactId>junit", "JUnit"),
        ("junit-jupiter", "JUnit"),
        ("\"xunit\"", "xUnit"),
        ("Include=\"xunit", "xUnit"),
        ("Include=\"NUnit", "NUnit"),
        ("Include=\"MSTest", "MSTest"),
    ];
    const PY_FRAMEWORKS: &[(&str, &str)] = &[
        ("django", "Django"),
        ("flask", "Flask"),
        ("fastapi", "FastAPI"),
    ];
    const PY_TESTS: &[(&str, &str)] = &[("pytest", "pytest")];
    let file = path.rsplit('/').next().unwrap_or(path);
    let python = file == "requirements.txt" || file == "pyproject.toml";
    // Python names are bare words at a line start (requirements) or quoted
    // (pyproject); the other formats quote their package names.
    let py_has = |name: &str| {
        content.lines().any(|l| {
            let l = l.trim_start().to_lowercase();
            l.starts_with(name) || l.contains(&format!("\"{name}"))
        })
    };
    let find = |table: &[(&str, &'static str)], py: bool| -> Vec<&'static str> {
        let mut v: Vec<&'static str> = table
            .iter()
            .filter(|(needle, _)| {
                if py {
                    py_has(needle)
                } else {
                    content.contains(needle)
                }
            })
            .map(|(_, n)| *n)
            .collect();
        v.dedup();
        v
    };
    let manager = match file {
        "composer.json" => Some("Composer"),
        "package.json" => Some("npm"),
        "pom.xml" => Some("Maven"),
        "requirements.txt" | "pyproject.toml" => Some("pip"),
        f if f.ends_with(".csproj") => Some("NuGet"),
        _ => None,
    };
    if python {
        (find(PY_FRAMEWORKS, true), find(PY_TESTS, true), manager)
    } else {
        (find(FRAMEWORKS, false), find(TESTS, false), manager)
    }
}

/// The TCP connect check's `rc=N` → open?, detail.
pub fn tcp_connect(stdout: &str, stderr: &str) -> (Option<bool>, String) {
    let rc = stdout
        .rsplit("rc=")
        .next()
        .and_then(|s| s.trim().parse::<i32>().ok());
    let err = untrusted::first_line(stderr.as_bytes(), 120);
    match rc {
        Some(0) => (Some(true), "connected".into()),
        Some(124) => (Some(false), "no answer within 3 s (dropped)".into()),
        Some(127) => (None, "neither bash nor nc on the vantage host".into()),
        Some(_) if err.contains("refused") => (Some(false), "connection refused".into()),
        Some(_) if err.contains("No route") || err.contains("unreachable") => {
            (Some(false), format!("unreachable ({err})"))
        }
        Some(_) => (Some(false), format!("failed ({err})")),
        None => (None, "no exit status".into()),
    }
}

#[cfg(test)]
mod tests;
