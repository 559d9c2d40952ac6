//! Every command labcheck runs inside a host, in one place, so a reviewer
//! can see that it only reads: no command here writes a file of the target,
//! changes a setting, starts or stops anything. (`borg list --bypass-lock`
//! does not even take the repository lock.)
//!
//! `{name}` placeholders are filled with shell-quoted values (addresses from
//! the inventory, paths found by earlier commands). Secrets never appear in
//! a command line: the borg passphrase goes to the command's standard input
//! (`BORG_PASSPHRASE_FD=0`), where no `ps` on the target can see it.

/// One read-only check.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// Stable id; facts name it as their probe (`ssh:os-release`).
    pub id: &'static str,
    /// The exact shell command (POSIX sh, or cmd.exe for Windows checks).
    pub command: &'static str,
    /// What the result proves, for reports and CannotCheck facts.
    pub what: &'static str,
}

macro_rules! check {
    ($name:ident, $id:literal, $what:literal, $cmd:expr) => {
        pub const $name: Check = Check {
            id: $id,
            command: $cmd,
            what: $what,
        };
    };
}

// ---- OS
check!(
    OS_RELEASE,
    "os-release",
    "operating system",
    "cat /etc/os-release"
);
check!(UNAME, "uname", "kernel", "uname -sr");
check!(
    WINDOWS_OS,
    "win32-os",
    "Windows edition",
    "powershell -NoProfile -NonInteractive -Command \"Get-CimInstance Win32_OperatingSystem | Select Caption,Version,BuildNumber,ProductType | ConvertTo-Json\""
);

// ---- what really is per host (network namespaces share files and processes)
check!(LISTENING, "listening", "listening sockets", "ss -Hltnu");
check!(ADDRESSES, "addresses", "interface addresses", "ip -br addr");
check!(
    TOOLS,
    "tools",
    "installed tools",
    "for t in tshark tcpdump wireshark ansible ansible-playbook zap.sh zaproxy owasp-zap sqlmap nikto ab wrk k6 locust jmeter php python3 java node dotnet phpunit pytest jest mvn gradle composer npm git; do p=$(command -v \"$t\" 2>/dev/null) && echo \"$t $p\"; done; true"
);
check!(
    SYSTEMD_UNITS,
    "systemd",
    "running daemons (systemd)",
    "if [ -d /run/systemd/system ]; then for u in suricata snort fail2ban crowdsec wazuh-manager wazuh-agent keepalived pacemaker zabbix-agent zabbix-agent2 prometheus-node-exporter openvpn-server@server strongswan ipsec; do echo \"$u $(systemctl is-active \"$u\" 2>/dev/null)\"; done; else echo no-systemd; fi"
);
check!(
    PROCESSES,
    "processes",
    "process names (supporting evidence only)",
    "ps -eo comm="
);

// ---- automation and backups
check!(
    SCHEDULES,
    "schedules",
    "scheduled jobs (cron, systemd timers)",
    "for f in /etc/crontab /etc/cron.d/*; do [ -r \"$f\" ] && sed \"s|^|$f: |\" \"$f\"; done; crontab -l 2>/dev/null | sed 's|^|crontab: |'; systemctl list-timers --all --no-legend 2>/dev/null | sed 's|^|timer: |'; true"
);
check!(
    PLAYBOOKS,
    "playbooks",
    "Ansible playbooks",
    "find /etc/ansible /srv /opt -maxdepth 3 -type f \\( -name 'playbook*.yml' -o -name 'site.yml' -o -name '*.playbook.yml' \\) 2>/dev/null | head -n 20"
);
check!(
    BORG_FIND,
    "borg-repos",
    "borg repositories",
    "for d in {dirs}; do find \"$d\" -maxdepth 3 -type f -name README 2>/dev/null; done | while read -r f; do head -c 64 \"$f\" 2>/dev/null | grep -q 'Borg Backup repository' && dirname \"$f\"; done; [ -n \"${BORG_REPO:-}\" ] && echo \"$BORG_REPO\"; true"
);
check!(
    BORG_LIST,
    "borg-list",
    "age of the latest borg archive",
    "BORG_PASSPHRASE_FD=0 TZ=UTC BORG_RELOCATED_REPO_ACCESS_IS_OK=no BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=no borg list --bypass-lock --last 1 --json {repo} && echo && echo \"now=$(date +%s)\""
);
check!(
    RESTIC_LIST,
    "restic-snapshots",
    "age of the latest restic snapshot",
    "restic -r {repo} --password-file /dev/stdin --no-lock snapshots --latest 1 --json && echo && echo \"now=$(date +%s)\""
);

// ---- VPN, HA, continuity, hardening, filtering
check!(
    WIREGUARD,
    "wireguard",
    "WireGuard tunnels",
    "wg show all latest-handshakes && echo -- && wg show all allowed-ips && echo \"now=$(date +%s)\""
);
check!(IPSEC, "swanctl", "IPsec SAs", "swanctl --list-sas");
check!(
    KEEPALIVED,
    "keepalived",
    "keepalived configuration",
    "cat /etc/keepalived/keepalived.conf"
);
check!(RAID, "mdstat", "software RAID", "cat /proc/mdstat");
check!(SSHD, "sshd-config", "sshd effective settings", "sshd -T");
check!(FIREWALL, "ruleset", "firewall ruleset", "nft list ruleset");
check!(
    PROMETHEUS_RULES,
    "prometheus-rules",
    "Prometheus alerting rules",
    "curl -fsS --max-time 3 http://{addr}/api/v1/rules"
);
check!(
    HAPROXY_STATS,
    "haproxy-stats",
    "HAProxy statistics",
    "curl -fsS --max-time 3 http://{addr}'/stats;csv'"
);

// ---- SLAM: the declared applications' code
check!(
    MANIFESTS,
    "manifests",
    "dependency manifests of applications",
    "find /srv /var/www /opt /home -maxdepth 4 \\( -name composer.json -o -name package.json -o -name pom.xml -o -name '*.csproj' -o -name requirements.txt -o -name pyproject.toml \\) -not -path '*/node_modules/*' -not -path '*/vendor/*' 2>/dev/null | head -n 20"
);
check!(
    MANIFEST_READ,
    "manifest",
    "a dependency manifest",
    "head -c 65536 {file}"
);

// ---- vantage point
check!(
    TCP_CONNECT,
    "flow",
    "TCP connect from this host",
    "if command -v bash >/dev/null 2>&1; then timeout 3 bash -c 'exec 3<>/dev/tcp/$0/$1' {addr} {port}; else nc -z -w 3 {addr} {port}; fi; echo \"rc=$?\""
);

/// Every check, for `labcheck` reviewers and the README table.
pub const ALL: &[Check] = &[
    OS_RELEASE,
    UNAME,
    WINDOWS_OS,
    LISTENING,
    ADDRESSES,
    TOOLS,
    SYSTEMD_UNITS,
    PROCESSES,
    SCHEDULES,
    PLAYBOOKS,
    BORG_FIND,
    BORG_LIST,
    RESTIC_LIST,
    WIREGUARD,
    IPSEC,
    KEEPALIVED,
    RAID,
    SSHD,
    FIREWALL,
    PROMETHEUS_RULES,
    HAPROXY_STATS,
    MANIFESTS,
    MANIFEST_READ,
    TCP_CONNECT,
];

/// The fixed Unix checks, run together in one shell (see inspect::prefetch).
pub const BATCHED: &[Check] = &[
    OS_RELEASE,
    UNAME,
    LISTENING,
    ADDRESSES,
    TOOLS,
    SYSTEMD_UNITS,
    PROCESSES,
    SCHEDULES,
    PLAYBOOKS,
    WIREGUARD,
    IPSEC,
    KEEPALIVED,
    RAID,
    SSHD,
    FIREWALL,
];

/// Single-quotes a value for POSIX sh.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Fills `{name}` placeholders with already-quoted values.
pub fn fill(command: &str, values: &[(&str, String)]) -> String {
    let mut out = command.to_string();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The promise of this file: nothing that writes or changes state.
    #[test]
    fn commands_only_read() {
        let forbidden = [
            " rm ",
            "rm -",
            "mv ",
            "cp ",
            "> /",
            ">/etc",
            "tee ",
            "chmod",
            "chown",
            "kill",
            "systemctl start",
            "systemctl stop",
            "systemctl restart",
            "nft add",
            "nft delete",
            "nft flush",
            "iptables -",
            "borg create",
            "borg delete",
            "borg prune",
            "restic backup",
            "restic forget",
            "sudo",
            "apt-get",
            "apt ",
            "dd ",
            "mkfs",
            "-X POST",
            "--data",
        ];
        for c in ALL {
            for f in forbidden {
                assert!(!c.command.contains(f), "{} contains `{f}`", c.id);
            }
        }
        let mut ids: Vec<&str> = ALL.iter().map(|c| c.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), ALL.len(), "ids are unique");
    }

    #[test]
    fn quoting_defeats_injection() {
        assert_eq!(sh_quote("a'b; rm -rf /"), "'a'\\''b; rm -rf /'");
        assert_eq!(fill("ls {dir}", &[("dir", sh_quote("/x y"))]), "ls '/x y'");
    }
}
