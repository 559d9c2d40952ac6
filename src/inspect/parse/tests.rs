use super::*;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/windows")
            .join(name),
    )
    .unwrap()
}

#[test]
fn os_release_of_debian_12() {
    // /etc/os-release of the lab hosts (Debian 12).
    let t = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";
    assert_eq!(
        os_release(t),
        Some(FactKind::Os {
            family: OsFamily::Linux,
            name: Some("debian".into()),
            version: Some("12".into()),
            strength: Strength::Strong,
        })
    );
    assert_eq!(os_release("garbage"), None);
}

#[test]
fn uname_families() {
    match uname("Linux 6.18.44-fc-v669\n") {
        Some(FactKind::Os { family, .. }) => assert_eq!(family, OsFamily::Linux),
        other => panic!("{other:?}"),
    }
    match uname("FreeBSD 14.1-RELEASE") {
        Some(FactKind::Os { family, .. }) => assert_eq!(family, OsFamily::Bsd),
        other => panic!("{other:?}"),
    }
    assert_eq!(uname(&fixture("cmd-not-recognized.txt")), None);
}

#[test]
fn windows_recorded_outputs() {
    match win32_os(&fixture("win11-pro.json")) {
        Some(FactKind::Os {
            family,
            name,
            version,
            strength,
        }) => {
            assert_eq!(family, OsFamily::Windows);
            assert_eq!(name.as_deref(), Some("Microsoft Windows 11 Pro"));
            assert_eq!(version.as_deref(), Some("10.0.22631"));
            assert_eq!(strength, Strength::Strong);
        }
        other => panic!("{other:?}"),
    }
    // With a BOM and ProductType 3 (server).
    let srv = fixture("server2022-datacenter.json").replacen(
        "\"BuildNumber\"",
        "\"ProductType\":  3,\n    \"BuildNumber\"",
        1,
    );
    match win32_os(&format!("\u{feff}{srv}")) {
        Some(FactKind::Os { name, .. }) => assert_eq!(
            name.as_deref(),
            Some("Microsoft Windows Server 2022 Datacenter (server)")
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(win32_os(&fixture("cmd-not-recognized.txt")), None);
    // Samba or anything else pretending is not Windows.
    assert_eq!(win32_os("{\"Caption\": \"Samba 4\"}"), None);
}

#[test]
fn ss_listeners() {
    // `ss -Hltnu` on the lab's r1.
    let t = "udp UNCONN 0      0          0.0.0.0:51820 0.0.0.0:*\nudp UNCONN 0      0             [::]:51820    [::]:*\ntcp LISTEN 0      4096   198.18.10.1:9100  0.0.0.0:*\ntcp LISTEN 0      128        0.0.0.0:22    0.0.0.0:*\n";
    let ls = listeners(t);
    assert_eq!(ls.len(), 4);
    assert_eq!(
        ls[2],
        Listener {
            proto: "tcp",
            addr: "198.18.10.1".into(),
            port: 9100
        }
    );
    let f = listener_facts(&ls);
    assert_eq!(f.len(), 1);
    assert!(
        matches!(&f[0], FactKind::Capability { name, present: true, .. } if name == "vpn.site")
    );
}

#[test]
fn tools_prove_capabilities() {
    let f = tools(
        "tcpdump /usr/bin/tcpdump\npython3 /usr/bin/python3\nphp /usr/bin/php\nsqlmap /usr/bin/sqlmap\n",
    );
    let names: Vec<&str> = f
        .iter()
        .filter_map(|k| match k {
            FactKind::Capability { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        names,
        vec!["traffic-analysis", "abnormal-testing", "dev.languages"]
    );
    assert!(
        tools("python3 /usr/bin/python3\n").is_empty(),
        "one language is not two"
    );
}

#[test]
fn systemd_and_processes() {
    assert_eq!(systemd_units("no-systemd\n"), None);
    let u = systemd_units("suricata active\nsnort inactive\nkeepalived \n").unwrap();
    assert_eq!(u[0], ("suricata".into(), true));
    assert_eq!(u[1], ("snort".into(), false));
    assert_eq!(unit_capability("suricata"), Some("ids"));
    assert_eq!(unit_capability("keepalived"), Some("fault-tolerance"));
}

#[test]
fn cron_jobs_of_the_lab_backup_host() {
    let t = "/etc/cron.d/labcheck-backup: # labcheck test lab: scheduled backup of host backup (borg)\n/etc/cron.d/labcheck-backup: SHELL=/bin/sh\n/etc/cron.d/labcheck-backup: MAILTO=\"\"\n/etc/cron.d/labcheck-backup: */5 * * * * root /tmp/labcheck-lab/hosts/backup/backup.sh >>/tmp/labcheck-lab/logs/backup-job.log 2>&1\n/etc/crontab: 17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly\n/etc/cron.d/e2scrub_all: 30 3 * * 0 root test -e /run/systemd/system || SERVICE_MODE=1 /usr/lib/x86_64-linux-gnu/e2fsprogs/e2scrub_all_cron\ntimer: Sun 2026-11-22 00:00:00 UTC 11h left - - apt-daily.timer apt-daily.service\n";
    let jobs = schedules(t);
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let f = schedule_facts(&jobs);
    assert!(
        f.iter()
            .any(|k| matches!(k, FactKind::Capability { name, .. } if name == "automation"))
    );
    assert!(
        f.iter()
            .any(|k| matches!(k, FactKind::Capability { name, .. } if name == "backup"))
    );
    assert_eq!(
        job_dirs(&jobs),
        vec!["/tmp/labcheck-lab/hosts/backup", "/tmp/labcheck-lab/logs"]
    );
}

#[test]
fn borg_list_json() {
    // Real output of `TZ=UTC borg list --last 1 --json` on the lab's backup host.
    let t = r#"{
    "archives": [
        {
            "archive": "backup-2026-11-22T12:06:25",
            "barchive": "backup-2026-11-22T12:06:25",
            "id": "53dedf612ce77e67faa503e7b6520da611ef7395aca0302a09a13e91515e4218",
            "name": "backup-2026-11-22T12:06:25",
            "start": "2026-11-22T12:06:25.000000",
            "time": "2026-11-22T12:06:25.000000"
        }
    ],
    "encryption": {
        "mode": "repokey-blake2"
    },
    "repository": {
        "id": "6a5fb9fa9d09b020f551149e32dd611c3417ea8007ff8c72ed4ccacb56f50e51",
        "last_modified": "2026-11-22T12:06:25.000000",
        "location": "/tmp/labcheck-lab/hosts/backup/repo"
    }
}

now=1795349199
"#;
    let (name, age, _) = borg_age(t).unwrap();
    assert_eq!(name, "backup-2026-11-22T12:06:25");
    // 2026-11-22T12:06:25Z = 1795349185
    assert_eq!(age, 14);
    assert!(borg_age("{\"archives\": []}\nnow=5").is_err());
}

#[test]
fn restic_snapshots_json() {
    let t = r#"[{"time":"2026-11-20T10:00:00.123456789+01:00","hostname":"b","short_id":"4f2a9c1e"}]
now=1795349199"#;
    let (id, age, _) = restic_age(t).unwrap();
    assert_eq!(id, "4f2a9c1e");
    assert!(age > 2 * 86400 && age < 3 * 86400);
}

#[test]
fn wireguard_handshakes() {
    // Real output on the lab's r1.
    let t = "wg-site-a\tWe2oxOdIkoy8Et5+QzxMmZsu/Iw1c2hgk+6AySzYNBw=\t1795349179\n--\nwg-site-a\tWe2oxOdIkoy8Et5+QzxMmZsu/Iw1c2hgk+6AySzYNBw=\t198.19.20.0/24 198.18.0.6/32\nnow=1795349199\n";
    let (peers, now) = wireguard(t).unwrap();
    assert_eq!(now, 1795349199);
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].iface, "wg-site-a");
    assert_eq!(now - peers[0].handshake, 20);
    assert_eq!(peers[0].allowed.len(), 2);
}

#[test]
fn keepalived_and_addresses() {
    let conf = "vrrp_instance VI_1 {\n  state MASTER\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    198.51.100.100/24 dev eth0 # vip\n  }\n}\n";
    let vips = keepalived_vips(conf);
    assert_eq!(vips, vec!["198.51.100.100".parse::<IpAddr>().unwrap()]);
    let addrs =
        addresses("lo UNKNOWN 127.0.0.1/8\neth0@if12 UP 198.51.100.10/24 198.51.100.100/24\n");
    assert!(addrs.contains(&vips[0]));
}

#[test]
fn raid_state() {
    let t = "Personalities : [raid1]\nmd0 : active raid1 sdb1[1] sda1[0]\n      1046528 blocks super 1.2 [2/2] [UU]\n\nmd1 : active raid1 sdc1[0]\n      1046528 blocks super 1.2 [2/1] [U_]\nunused devices: <none>\n";
    let m = mdstat(t);
    assert_eq!(m.len(), 2);
    assert!(m[0].1);
    assert!(!m[1].1);
    assert!(mdstat("Personalities : \nunused devices: <none>\n").is_empty());
}

#[test]
fn sshd_and_nft_and_prometheus() {
    let (pw, root) =
        sshd_settings("port 22\npermitrootlogin no\npasswordauthentication no\n").unwrap();
    assert_eq!((pw.as_str(), root.as_str()), ("no", "no"));
    let (filters, _) = nft_filters(
        "table inet lab {\n  chain forward {\n    type filter hook forward priority filter; policy drop;\n  }\n}\n",
    );
    assert!(filters);
    let (filters, _) = nft_filters("");
    assert!(!filters);
    let rules = r#"{"status":"success","data":{"groups":[{"name":"lab","rules":[{"type":"alerting","name":"InstanceDown"},{"type":"recording","name":"x"},{"type":"alerting","name":"HighLoad"}]}]}}"#;
    assert_eq!(prometheus_alerting_rules(rules), Some(2));
    assert_eq!(
        prometheus_alerting_rules(r#"{"status":"success","data":{"groups":[]}}"#),
        Some(0)
    );
}

#[test]
fn tcp_connect_outcomes() {
    assert_eq!(tcp_connect("rc=0\n", "").0, Some(true));
    assert_eq!(tcp_connect("rc=124\n", "").0, Some(false));
    let (open, d) = tcp_connect(
        "rc=1\n",
        "bash: connect: Connection refused\nbash: line 1: /dev/tcp/198.18.10.20/5432: Connection refused\n",
    );
    assert_eq!(open, Some(false));
    assert_eq!(d, "connection refused");
    assert_eq!(tcp_connect("rc=127\n", "").0, None);
}

#[test]
fn manifests_name_frameworks_and_tests() {
    let composer = r#"{"require": {"php": ">=8.2", "symfony/framework-bundle": "7.2.*"}, "require-dev": {"phpunit/phpunit": "^11.5"}}"#;
    assert_eq!(
        manifest("/srv/gsb/composer.json", composer),
        (vec!["Symfony"], vec!["PHPUnit"], Some("Composer"))
    );
    let pkg = r#"{"dependencies": {"express": "^4.21.2", "mongoose": "^8"}, "devDependencies": {"jest": "^29.7.0"}}"#;
    assert_eq!(
        manifest("/srv/api/package.json", pkg),
        (vec!["Express"], vec!["Jest"], Some("npm"))
    );
    let req = "Django==5.1.4\npytest-django>=4.9\n";
    assert_eq!(
        manifest("/srv/app/requirements.txt", req),
        (vec!["Django"], vec!["pytest"], Some("pip"))
    );
    assert_eq!(manifest("/srv/x/package.json", "{}").0, Vec::<&str>::new());
}

#[test]
fn restic_repositories_from_jobs() {
    let jobs = schedules(
        "/etc/cron.d/restic: 0 2 * * * root RESTIC_REPOSITORY=/srv/restic restic backup /etc\n/etc/cron.d/r2: 0 3 * * * root restic -r sftp:bk@198.18.10.40:/repo backup /home\n",
    );
    assert_eq!(
        restic_repos(&jobs),
        vec!["/srv/restic", "sftp:bk@198.18.10.40:/repo"]
    );
}

#[test]
fn haproxy_csv_counts_servers_up() {
    // Shape of HAProxy 2.6's `/stats;csv` (columns cut after `status`).
    let csv = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight\n\
stats,FRONTEND,,,0,1,262124,5,0,0,0,0,0,,,,,OPEN,\n\
web,FRONTEND,,,0,2,262124,40,0,0,0,0,0,,,,,OPEN,\n\
servers,web1,0,0,0,1,,20,0,0,,0,,0,0,0,0,UP,1\n\
servers,web2,0,0,0,1,,20,0,0,,0,,0,0,0,0,DOWN,1\n\
servers,BACKEND,0,0,0,2,26213,40,0,0,0,0,,0,0,0,0,UP,2\n";
    assert_eq!(haproxy_servers(csv), Some((1, 2)));
    assert_eq!(
        haproxy_servers(&csv.replace("DOWN", "UP 1/3")),
        Some((2, 2))
    );
    assert_eq!(haproxy_servers("<html>not csv</html>"), None);
}
