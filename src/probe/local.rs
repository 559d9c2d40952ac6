//! Local facts, for auditing the machine labcheck runs on: the OS (read from
//! the system, a strong signal), listening TCP ports, tools on PATH and
//! running daemons that prove a capability.

use std::collections::BTreeSet;
use std::path::Path;

use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};

use crate::facts::{Fact, FactKind, OsFamily, Strength};

pub struct LocalFacts {
    pub facts: Vec<Fact>,
    /// TCP ports listening on an address reachable through 127.0.0.1.
    pub listening: Vec<u16>,
}

/// Tools whose presence on PATH proves a capability (the tool is the point).
const TOOLS: &[(&str, &str)] = &[
    ("tshark", "traffic-analysis"),
    ("tcpdump", "traffic-analysis"),
    ("wireshark", "traffic-analysis"),
];

/// Daemons that only count when running.
const DAEMONS: &[(&str, &str)] = &[
    ("suricata", "ids"),
    ("snort", "ids"),
    ("fail2ban-server", "ids"),
    ("crowdsec", "ids"),
    ("wazuh-analysisd", "ids"),
    ("zeek", "ids"),
];

pub fn collect() -> LocalFacts {
    let mut facts = Vec::new();
    let family = match std::env::consts::OS {
        "linux" | "android" => OsFamily::Linux,
        "windows" => OsFamily::Windows,
        "freebsd" | "openbsd" | "netbsd" | "dragonfly" => OsFamily::Bsd,
        "macos" => OsFamily::Macos,
        _ => OsFamily::Other,
    };
    facts.push(Fact {
        probe: "local:system".into(),
        port: None,
        kind: FactKind::Os {
            family,
            name: Some(System::distribution_id()),
            version: System::os_version().ok(),
            strength: Strength::Strong,
        },
    });
    for (tool, cap) in TOOLS {
        if let Some(path) = which(tool) {
            facts.push(Fact {
                probe: "local:path".into(),
                port: None,
                kind: FactKind::Capability {
                    name: (*cap).into(),
                    present: true,
                    detail: format!("{tool} installed ({})", path.display()),
                },
            });
        }
    }
    // Process listing can fail in restricted sandboxes: then no daemon fact.
    let running: BTreeSet<String> = match System::new() {
        Ok(mut sys) => {
            sys.refresh_processes_specifics(
                ProcessesToUpdate::All,
                true,
                ProcessRefreshKind::nothing(),
            );
            sys.processes()
                .values()
                .map(|p| p.name().to_string_lossy().into_owned())
                .collect()
        }
        Err(_) => BTreeSet::new(),
    };
    for (daemon, cap) in DAEMONS {
        if running.contains(*daemon) {
            facts.push(Fact {
                probe: "local:processes".into(),
                port: None,
                kind: FactKind::Capability {
                    name: (*cap).into(),
                    present: true,
                    detail: format!("{daemon} is running"),
                },
            });
        }
    }
    LocalFacts {
        facts,
        listening: listening_ports(),
    }
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

/// Listening TCP ports from /proc/net/tcp{,6} (Linux). Only sockets bound
/// to a wildcard or loopback address: those answer on 127.0.0.1.
fn listening_ports() -> Vec<u16> {
    let mut ports = BTreeSet::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(file) {
            ports.extend(parse_proc_net_tcp(&text));
        }
    }
    ports.into_iter().collect()
}

/// Parses the kernel's table: `sl local_address rem_address st …`, addresses
/// as hex `ADDR:PORT`, state 0A = LISTEN.
pub fn parse_proc_net_tcp(text: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 4 || cols[3] != "0A" {
            continue;
        }
        let Some((addr, port)) = cols[1].split_once(':') else {
            continue;
        };
        let Ok(port) = u16::from_str_radix(port, 16) else {
            continue;
        };
        let reachable = match addr.len() {
            // IPv4, little-endian: 0100007F = 127.0.0.1; first octet is the last byte.
            8 => addr == "00000000" || addr.ends_with("7F"),
            // IPv6 any (::) is dual-stack by default on Linux.
            32 => {
                addr.chars().all(|c| c == '0')
                    || addr.ends_with("0100007F") && addr.starts_with("0000000000000000FFFF0000")
            }
            _ => false,
        };
        if reachable {
            out.push(port);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listening_sockets() {
        let t = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n\
   1: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n\
   2: 0A00000A:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n\
   3: 0100007F:0CEA 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 1 1\n";
        assert_eq!(parse_proc_net_tcp(t), vec![22, 5432]);
    }
}
