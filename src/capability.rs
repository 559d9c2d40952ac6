//! The capability vocabulary: what a product or an in-host observation
//! provides. Catalog entries and probes produce capabilities; profile rules
//! consume them. Keeping the list in one place lets `validate` warn about a
//! rule that names a capability nothing can ever produce.

/// (name, what observing it means).
pub const CAPABILITIES: &[(&str, &str)] = &[
    (
        "auth.directory",
        "an LDAP directory or Active Directory answers",
    ),
    ("auth.kerberos", "a Kerberos KDC answers"),
    (
        "auth.radius",
        "a RADIUS server answers for the declared client",
    ),
    ("auth.sso", "an SSO server (Keycloak, CAS) answers"),
    (
        "auth.advertised",
        "DNS SRV records advertise a directory or KDC (a pointer, not a proof)",
    ),
    (
        "auth.verified",
        "the declared test account binds and a wrong password is refused",
    ),
    ("dbms", "a database server identified by its handshake"),
    (
        "dbms.procedures",
        "user-defined functions or procedures exist in a database",
    ),
    (
        "internet.filtered",
        "egress from the lab goes through a firewall or proxy",
    ),
    ("proxy", "a web proxy answers (e.g. Squid)"),
    ("firewall", "a firewall appliance or ruleset is seen"),
    (
        "collab",
        "a collaborative work tool answers (Nextcloud, Mattermost, mail…)",
    ),
    ("backup", "a backup solution is present"),
    (
        "remote-admin",
        "a secure remote administration service (SSH, RDP with NLA, WinRM over HTTPS, Cockpit/Webmin over TLS)",
    ),
    ("encryption", "a service of the lab speaks TLS or SSH"),
    (
        "incidents",
        "an incident/ticket management tool (GLPI, osTicket, Zammad, iTop, Redmine)",
    ),
    ("ids", "an intrusion detection or prevention system runs"),
    (
        "traffic-analysis",
        "a frame/traffic analysis tool (Wireshark, tshark, tcpdump, ntopng)",
    ),
    (
        "config-mgmt",
        "a configuration management tool (GLPI, OCS Inventory, Ansible, Puppet, Salt, Rudder)",
    ),
    (
        "monitoring",
        "a supervision server (Zabbix, Nagios, Centreon, Prometheus…)",
    ),
    (
        "monitoring.agent",
        "a monitoring agent or exporter (node_exporter, Zabbix agent, SNMP)",
    ),
    (
        "monitoring.alerts",
        "alerts are configured in the supervision (rules loaded, triggers, Alertmanager)",
    ),
    (
        "secure-access",
        "a service is reached securely: HTTPS with authentication, reverse proxy, remote-access VPN",
    ),
    ("web.tls", "a web server answers over HTTPS"),
    (
        "continuity",
        "service continuity: replication, RAID, a second server",
    ),
    (
        "fault-tolerance",
        "fault tolerance: VRRP/CARP/keepalived, Pacemaker, a floating address",
    ),
    (
        "lb",
        "load-balancing software is present (HAProxy, nginx upstream, Traefik)",
    ),
    (
        "lb.spread",
        "repeated requests through a balancer reach at least two live backends",
    ),
    ("dns", "a DNS server answers"),
    (
        "dns.round-robin",
        "a DNS name resolves to several addresses",
    ),
    (
        "vpn.site",
        "a site-to-site VPN endpoint is present (IPsec, OpenVPN, WireGuard)",
    ),
    (
        "vpn.site.up",
        "the site-to-site tunnel is up (recent handshake, remote site reachable through it)",
    ),
    (
        "deployment",
        "a deployment solution (PXE/TFTP, FOG, WDS, WAPT)",
    ),
    (
        "automation",
        "scheduled scripts or playbooks automate administration",
    ),
    (
        "dev.languages",
        "at least two language toolchains on the development host",
    ),
    ("dev.framework", "an application framework is used"),
    ("dev.tests", "a test runner is available"),
    (
        "component-library",
        "a software component library or package repository",
    ),
    (
        "vcs",
        "a version control server (Gitea, Forgejo, GitLab, git over SSH)",
    ),
    (
        "issue-tracking",
        "a software issue tracker (Gitea, GitLab, Redmine, Jira)",
    ),
    (
        "abnormal-testing",
        "a tool to test abnormal behaviour (OWASP ZAP, sqlmap, fuzzers, load testers)",
    ),
    (
        "remote-api",
        "a declared remote service endpoint (REST, SOAP, GraphQL) answers",
    ),
    ("situation.browser", "an application is used from a browser"),
    ("situation.server", "an application runs server-side code"),
    (
        "source-available",
        "the application's source code repository answers",
    ),
    ("hypervisor", "a hypervisor (Proxmox VE, ESXi)"),
];

pub fn is_known(name: &str) -> bool {
    CAPABILITIES.iter().any(|(n, _)| *n == name)
}
