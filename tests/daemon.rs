//! `labcheck serve` end to end: the real daemon on a loopback port auditing a
//! loopback lab (real OpenSSH and nginx from Debian packages) every 2 s,
//! its API, dashboard, metrics and webhook; SIGKILL during audits; SIGHUP
//! reload; the history CLI.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;

/// The daemon, killed with SIGKILL when dropped (unless stopped before).
struct Daemon {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
}

impl Daemon {
    fn start(config: &Path, db: &Path, port: u16, log: &Path) -> Daemon {
        let err = std::fs::File::create(log).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_labcheck"))
            .args(["serve", "--config"])
            .arg(config)
            .arg("--db")
            .arg(db)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("start labcheck serve");
        let start = Instant::now();
        loop {
            if let Ok(r) = try_http("GET", port, "/healthz", None) {
                assert_eq!(r.0, 200, "healthz: {}", r.1);
                break;
            }
            if let Ok(Some(st)) = child.try_wait() {
                panic!(
                    "labcheck serve exited ({st}): {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "daemon did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Daemon {
            child: Some(child),
            port,
            log: log.to_path_buf(),
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn signal(&self, sig: &str) {
        // The shell's builtin kill: no dependency on procps.
        let st = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -{sig} {}", self.pid()))
            .status()
            .unwrap();
        assert!(st.success());
    }

    fn kill9(mut self) {
        let mut c = self.child.take().unwrap();
        c.kill().unwrap();
        c.wait().unwrap();
    }

    /// SIGTERM and wait; returns the exit code.
    fn stop(mut self) -> i32 {
        self.signal("TERM");
        let mut c = self.child.take().unwrap();
        let start = Instant::now();
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = c.kill();
                panic!("daemon did not stop within 20s after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn get(&self, path: &str) -> (u16, String) {
        try_http("GET", self.port, path, None).unwrap()
    }

    fn json(&self, path: &str) -> serde_json::Value {
        let (st, body) = self.get(path);
        assert_eq!(st, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A minimal HTTP/1.1 client: status and body.
fn try_http(
    method: &str,
    port: u16,
    path: &str,
    headers: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n{}\r\n",
        headers.unwrap_or("")
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// A webhook receiver on loopback: every request body goes to the channel.
fn webhook_listener() -> (u16, mpsc::Receiver<serde_json::Value>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut len = 0;
            let mut first = String::new();
            let _ = r.read_line(&mut first);
            if !first.starts_with("POST /hook HTTP/1.1") {
                // Not a webhook (a stray connection): the test asserts on bodies only.
                continue;
            }
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let _ = c.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
            let _ = tx.send(serde_json::from_slice(&body).unwrap());
        }
    });
    (port, rx)
}

fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn inventory(dir: &Path, ports: &[u16]) -> PathBuf {
    let p = dir.join("lab.toml");
    let ports: Vec<String> = ports.iter().map(|p| p.to_string()).collect();
    std::fs::write(
        &p,
        format!(
            "[lab]\nname = \"loopback\"\noption = \"sisr\"\nscope = [\"127.0.0.0/8\"]\n\n[[host]]\nname = \"srv\"\naddress = \"127.0.0.1\"\nports = [{}]\n\n[[attest]]\nid = \"sisr.sla-service\"\nby = \"test\"\ndate = \"2026-11-20\"\nevidence = \"contract\"\nnote = \"disponibilité 99,5 %\"\n",
            ports.join(", ")
        ),
    )
    .unwrap();
    p
}

/// Checks the Prometheus text exposition format line by line: HELP/TYPE
/// before the samples of a family, sample grammar, label escaping, values,
/// histogram buckets cumulative and ending in +Inf == _count.
/// A sample: metric name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

fn check_prometheus(text: &str) -> Vec<Sample> {
    let name_re = regex::Regex::new(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$").unwrap();
    let sample_re = regex::Regex::new(
        r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)$"#,
    )
    .unwrap();
    let label_re =
        regex::Regex::new(r#"([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)""#).unwrap();
    let mut types: std::collections::HashMap<String, String> = Default::default();
    let mut samples = Vec::new();
    assert!(text.ends_with('\n'), "exposition must end with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kw = parts.next().unwrap();
            let name = parts
                .next()
                .unwrap_or_else(|| panic!("bad comment: {line}"));
            assert!(name_re.is_match(name), "bad metric name in {line}");
            if kw == "TYPE" {
                let t = parts.next().unwrap();
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t),
                    "{line}"
                );
                assert!(
                    types.insert(name.into(), t.into()).is_none(),
                    "TYPE twice: {name}"
                );
            } else {
                assert_eq!(kw, "HELP", "{line}");
            }
            continue;
        }
        assert!(!line.is_empty(), "empty line in exposition");
        let c = sample_re
            .captures(line)
            .unwrap_or_else(|| panic!("bad sample line: {line}"));
        let name = c[1].to_string();
        let labels: Vec<(String, String)> = c
            .get(3)
            .map(|m| {
                label_re
                    .captures_iter(m.as_str())
                    .map(|l| (l[1].to_string(), l[2].to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let v = &c[4];
        let value: f64 = match v {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(&name)
            .to_string();
        let t = types
            .get(&family)
            .unwrap_or_else(|| panic!("sample before its TYPE: {line}"));
        if t == "counter" {
            assert!(name.ends_with("_total"), "counter without _total: {name}");
            assert!(value >= 0.0, "negative counter: {line}");
        }
        samples.push((name, labels, value));
    }
    // Histograms: cumulative buckets, +Inf equals _count.
    for (fam, t) in &types {
        if t != "histogram" {
            continue;
        }
        let buckets: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.0 == format!("{fam}_bucket"))
            .collect();
        let mut prev = 0.0;
        for b in &buckets {
            let le = &b.1.iter().find(|l| l.0 == "le").expect("le label").1;
            if le != "+Inf" {
                assert!(b.2 >= prev, "non-cumulative bucket {b:?}");
            }
            prev = if le == "+Inf" { 0.0 } else { b.2 };
        }
        for inf in buckets.iter().filter(|b| b.1.iter().any(|l| l.1 == "+Inf")) {
            let lab = &inf.1.iter().find(|l| l.0 == "lab").unwrap().1;
            let count = samples
                .iter()
                .find(|s| s.0 == format!("{fam}_count") && s.1.iter().any(|l| &l.1 == lab))
                .expect("_count");
            assert_eq!(inf.2, count.2, "+Inf bucket != _count");
        }
    }
    samples
}

fn metric(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.0 == name
                && labels
                    .iter()
                    .all(|(k, v)| s.1.iter().any(|l| l.0 == *k && l.1 == *v))
        })
        .map(|s| s.2)
}

fn history_len(d: &Daemon) -> usize {
    d.json("/api/labs/b12/history?limit=1000")
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn daemon_audits_on_schedule_serves_api_metrics_and_alerts_once_per_change() {
    let dir = tempfile::tempdir().unwrap();
    let (ssh_port, http_port, api_port) = (free_port(), free_port(), free_port());
    let sshd = start_sshd(dir.path(), ssh_port);
    let _nginx = start_nginx(dir.path(), http_port);
    inventory(dir.path(), &[ssh_port, http_port]);
    let (hook_port, hooks) = webhook_listener();
    let cfg = dir.path().join("labcheck.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:{api_port}\"\ntimeout = \"2s\"\n\n[[lab]]\nname = \"b12\"\ninventory = \"lab.toml\"\nprofile = \"sisr\"\nevery = \"2s\"\n[[lab.sla]]\nname = \"ssh\"\nhost = \"srv\"\nport = {ssh_port}\n\n[alerts]\nwebhook = \"http://127.0.0.1:{hook_port}/hook\"\ntimeout = \"2s\"\nretries = 2\n"
        ),
    )
    .unwrap();
    let db = dir.path().join("history.db");
    let d = Daemon::start(&cfg, &db, api_port, &dir.path().join("daemon.log"));

    // Audits on time: three scheduled audits about 2 s apart.
    wait_for("3 audits", Duration::from_secs(20), || {
        (history_len(&d) >= 3).then_some(())
    });
    let hist = d.json("/api/labs/b12/history");
    let times: Vec<jiff::Timestamp> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["started_at"].as_str().unwrap().parse().unwrap())
        .collect();
    for w in times.windows(2).take(2) {
        let gap = w[0].duration_since(w[1]).as_secs_f64();
        assert!(
            (1.5..=4.5).contains(&gap),
            "audits {gap}s apart, expected ~2s: {hist}"
        );
    }
    assert!(hist[0]["trigger"] == "schedule");

    // API: labs and the latest report (JSON report v1).
    let labs = d.json("/api/labs");
    assert_eq!(labs[0]["name"], "b12");
    assert_eq!(labs[0]["schedule"], "every 2s");
    let latest = d.json("/api/labs/b12/latest");
    assert_eq!(latest["schema_version"], 1);
    let status = |r: &serde_json::Value, id: &str| {
        r["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status(&latest, "sisr.remote-admin"), "conform");
    assert_eq!(d.get("/api/labs/nope/latest").0, 404);

    // Dashboard: no JS, inline SVG chart, the lab and its requirements.
    let (st, html) = d.get("/");
    assert_eq!(st, 200);
    assert!(html.contains("<svg") && html.contains("sisr.remote-admin"));
    assert!(!html.contains("<script"));

    // SLA: target from the attestation, availability from the history.
    let sla = d.json("/api/labs/b12/sla");
    assert_eq!(sla[0]["target_percent"], 99.5);
    assert_eq!(sla[0]["target_source"], "attestation");
    assert_eq!(sla[0]["availability_percent"], 100.0);

    // Metrics parse and say the truth.
    let (st, exposition) = d.get("/metrics");
    assert_eq!(st, 200);
    let m = check_prometheus(&exposition);
    assert!(metric(&m, "labcheck_audits_total", &[("lab", "b12")]).unwrap() >= 3.0);
    assert_eq!(
        metric(
            &m,
            "labcheck_requirement_status",
            &[
                ("lab", "b12"),
                ("requirement", "sisr.remote-admin"),
                ("status", "conform")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &m,
            "labcheck_requirement_status",
            &[
                ("lab", "b12"),
                ("requirement", "sisr.remote-admin"),
                ("status", "non-conform")
            ]
        ),
        Some(0.0)
    );
    assert!(
        metric(
            &m,
            "labcheck_audit_duration_seconds_count",
            &[("lab", "b12")]
        )
        .unwrap()
            >= 3.0
    );
    assert_eq!(
        metric(&m, "labcheck_sla_target_ratio", &[("lab", "b12")]),
        Some(0.995)
    );

    // No change so far: no webhook.
    assert!(hooks.try_recv().is_err(), "webhook without a change");

    // A change: sshd stops, remote administration is gone.
    let before = d.json("/api/labs/b12/latest");
    drop(sshd);
    let hook = hooks
        .recv_timeout(Duration::from_secs(15))
        .expect("a webhook after the change");
    assert_eq!(hook["lab"], "b12");
    assert_eq!(hook["event"], "labcheck.change");
    let changes = hook["diff"]["requirements"].as_array().unwrap();
    let ra = changes
        .iter()
        .find(|c| c["id"] == "sisr.remote-admin")
        .unwrap_or_else(|| panic!("remote-admin not in the diff: {hook}"));
    assert_eq!(ra["from"], "conform");
    assert_ne!(ra["to"], "conform");
    assert!(
        hook["diff"]["services_removed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().contains("openssh")),
        "{hook}"
    );
    // Stable afterwards: two more audits, no second webhook.
    let n = history_len(&d);
    wait_for("2 more audits", Duration::from_secs(15), || {
        (history_len(&d) >= n + 2).then_some(())
    });
    assert!(
        hooks.try_recv().is_err(),
        "a second webhook without a change"
    );
    assert!(d.log().contains("change: verdict"), "{}", d.log());

    // The API diff between the two audits around the change.
    let after = d.json("/api/labs/b12/latest");
    let ids: Vec<i64> = d
        .json("/api/labs/b12/history")
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_i64().unwrap())
        .collect();
    let diff = d.json(&format!(
        "/api/diff?from={}&to={}",
        ids.last().unwrap(),
        ids[0]
    ));
    assert!(
        diff["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "sisr.remote-admin")
    );
    assert_ne!(
        status(&before, "sisr.remote-admin"),
        status(&after, "sisr.remote-admin")
    );
    let m = check_prometheus(&d.get("/metrics").1);
    assert_eq!(
        metric(&m, "labcheck_webhook_deliveries_total", &[("result", "ok")]),
        Some(1.0)
    );
    let sla = d.json("/api/labs/b12/sla");
    assert!(sla[0]["availability_percent"].as_f64().unwrap() < 100.0);

    // On demand (no token on loopback without token_env).
    let (st, body) = try_http("POST", api_port, "/api/labs/b12/run?wait=true", None).unwrap();
    assert_eq!(st, 200, "{body}");
    let run: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(run["status"], "done");
    let hist = d.json("/api/labs/b12/history");
    assert!(
        hist.as_array()
            .unwrap()
            .iter()
            .any(|h| h["trigger"] == "api")
    );

    // Graceful stop.
    let log_path = d.log.clone();
    assert_eq!(d.stop(), 0);
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(log.contains("stopped"), "{log}");

    // The CLI reads the history the daemon left.
    let o = labcheck(&["history", "b12", "--db", db.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("schedule") && text(&o.stdout).contains("api"));
    let o = labcheck(&[
        "history",
        "b12",
        "--db",
        db.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let first = rows.as_array().unwrap().last().unwrap()["id"].to_string();
    let last = rows[0]["id"].to_string();
    let o = labcheck(&["diff", &first, &last, "--db", db.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("sisr.remote-admin: conform →"),
        "{}",
        text(&o.stdout)
    );
    let o = labcheck(&[
        "diff",
        &last,
        &last,
        "--db",
        db.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["requirements"],
        serde_json::json!([])
    );
    // Report files (as `labcheck audit --format json` writes them) work too.
    let (fa, fb) = (
        dir.path().join("before.json"),
        dir.path().join("after.json"),
    );
    std::fs::write(&fa, before.to_string()).unwrap();
    std::fs::write(&fb, after.to_string()).unwrap();
    let o = labcheck(&["diff", fa.to_str().unwrap(), fb.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("verdict:") || text(&o.stdout).contains("sisr.remote-admin"));
    let o = labcheck(&["diff", "no-such-file.json", fb.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains("neither a report file nor a history id"));
}

/// A webhook receiver answering each request with the next status of
/// `statuses` (the last one repeats); returns its port and a request counter.
fn scripted_receiver(
    statuses: &'static [u16],
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = n.clone();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let mut c = c;
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let i = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let st = statuses[i.min(statuses.len() - 1)];
            let _ = write!(
                c,
                "HTTP/1.1 {st} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (port, n)
}

#[test]
fn webhook_retries_until_a_2xx_and_gives_up_after_its_retries() {
    use labcheck::daemon::config::Alerts;
    use labcheck::daemon::webhook::{Payload, deliver};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let payload = |lab: &str| Payload {
        event: "labcheck.change",
        lab: lab.into(),
        audit_id: 2,
        previous_audit_id: 1,
        verdict: labcheck::evaluate::Overall::NonConform,
        previous_verdict: labcheck::evaluate::Overall::Conform,
        diff: labcheck::diff::ReportDiff {
            lab: lab.into(),
            from_started_at: "a".into(),
            to_started_at: "b".into(),
            verdict: None,
            requirements: vec![],
            groups: vec![],
            services_added: vec![],
            services_removed: vec![],
        },
    };
    let alerts = |port: u16, retries: u32| Alerts {
        webhook: Some(format!("http://127.0.0.1:{port}/hook").parse().unwrap()),
        timeout: Duration::from_secs(2),
        retries,
    };
    // 500, 503, then 200: delivered at the third attempt.
    let (port, n) = scripted_receiver(&[500, 503, 200]);
    assert!(rt.block_on(deliver(&alerts(port, 3), &payload("x"))));
    assert_eq!(n.load(std::sync::atomic::Ordering::SeqCst), 3);
    // Always 500 and one retry: two attempts, then a failure.
    let (port, n) = scripted_receiver(&[500]);
    assert!(!rt.block_on(deliver(&alerts(port, 1), &payload("y"))));
    assert_eq!(n.load(std::sync::atomic::Ordering::SeqCst), 2);
    // Nobody listening: a failure, not a hang.
    let t = Instant::now();
    assert!(!rt.block_on(deliver(&alerts(free_port(), 0), &payload("z"))));
    assert!(t.elapsed() < Duration::from_secs(3));
}

/// Accepts connections and never answers: each probe of this port waits
/// for its full timeout, so audits last long enough to be killed midway.
fn silent_listener() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l.incoming().flatten() {
            held.push(c);
        }
    });
    port
}

#[test]
fn sigkill_during_audits_twenty_times_leaves_a_sound_history_and_the_schedule_continues() {
    let dir = tempfile::tempdir().unwrap();
    let slow = silent_listener();
    let (http_port, api_port) = (free_port(), free_port());
    let _nginx = start_nginx(dir.path(), http_port);
    inventory(dir.path(), &[http_port, slow]);
    let cfg = dir.path().join("labcheck.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:{api_port}\"\ntimeout = \"600ms\"\n\n[[lab]]\nname = \"b12\"\ninventory = \"lab.toml\"\nevery = \"1s\"\n"
        ),
    )
    .unwrap();
    let db = dir.path().join("history.db");
    let mut stored = 0;
    let mut killed_while_running = 0;
    for i in 0..20u64 {
        let d = Daemon::start(&cfg, &db, api_port, &dir.path().join(format!("d{i}.log")));
        // Kill at varying points of the audit cycle.
        std::thread::sleep(Duration::from_millis(300 + (i * 211) % 3200));
        if d.json("/api/labs")[0]["running"] == true {
            killed_while_running += 1;
        }
        d.kill9();
        let store = labcheck::store::Store::open(&db).expect("history opens after SIGKILL");
        let problems = store.check().unwrap();
        assert!(problems.is_empty(), "after kill {i}: {problems:?}");
        let n = store.history("b12", 100_000).unwrap().len();
        assert!(n >= stored, "audits lost: {n} < {stored}");
        stored = n;
        store.close().unwrap();
    }
    assert!(stored >= 3, "only {stored} audits stored in 20 runs");
    assert!(
        killed_while_running >= 5,
        "only {killed_while_running} kills landed during an audit"
    );
    eprintln!(
        "20 SIGKILLs: {stored} audits stored, {killed_while_running} kills during an audit, history sound"
    );

    // Restart: the schedule continues from the last stored audit.
    let d = Daemon::start(&cfg, &db, api_port, &dir.path().join("last.log"));
    wait_for("a new audit after restart", Duration::from_secs(10), || {
        (history_len(&d) > stored).then_some(())
    });
    assert_eq!(d.stop(), 0);
    let o = labcheck(&[
        "history",
        "b12",
        "--db",
        db.to_str().unwrap(),
        "--limit",
        "1000",
    ]);
    assert_eq!(code(&o), 0);

    // SIGTERM during a long audit: a short grace, then the audit is
    // cancelled, nothing half-written, exit 0.
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:{api_port}\"\ntimeout = \"5s\"\nshutdown_grace = \"300ms\"\n\n[[lab]]\nname = \"b12\"\ninventory = \"lab.toml\"\nevery = \"1h\"\n"
        ),
    )
    .unwrap();
    let before = {
        let s = labcheck::store::Store::open(&db).unwrap();
        s.history("b12", 100_000).unwrap().len()
    };
    let d = Daemon::start(&cfg, &db, api_port, &dir.path().join("term.log"));
    let (st, _) = try_http("POST", api_port, "/api/labs/b12/run", None).unwrap();
    assert!(st == 202 || st == 409, "{st}");
    wait_for("an audit running", Duration::from_secs(5), || {
        (d.json("/api/labs")[0]["running"] == true).then_some(())
    });
    let log = d.log.clone();
    let t = Instant::now();
    assert_eq!(d.stop(), 0);
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("cancelling 1 audit(s)"), "{log}");
    assert!(log.contains("stopped, history closed"), "{log}");
    let s = labcheck::store::Store::open(&db).unwrap();
    assert!(s.check().unwrap().is_empty());
    assert_eq!(s.history("b12", 100_000).unwrap().len(), before);
}

#[test]
fn sighup_reloads_a_valid_config_and_keeps_the_old_one_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let (http_port, api_port) = (free_port(), free_port());
    let _nginx = start_nginx(dir.path(), http_port);
    inventory(dir.path(), &[http_port]);
    let cfg = dir.path().join("labcheck.toml");
    let base = format!(
        "[server]\nlisten = \"127.0.0.1:{api_port}\"\ntoken_env = \"LABCHECK_TEST_TOKEN\"\n\n[[lab]]\nname = \"b12\"\ninventory = \"lab.toml\"\nevery = \"1h\"\n"
    );
    std::fs::write(&cfg, &base).unwrap();
    // SAFETY of the test: the variable is read by the child process only.
    let token = "test-token-0123456789abcdef";
    let err = std::fs::File::create(dir.path().join("d.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_labcheck"))
        .args(["serve", "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(dir.path().join("h.db"))
        .env("RUST_LOG", "info")
        .env("LABCHECK_TEST_TOKEN", token)
        .stderr(err)
        .spawn()
        .unwrap();
    let d = Daemon {
        child: Some(child),
        port: api_port,
        log: dir.path().join("d.log"),
    };
    wait_for("healthz", Duration::from_secs(15), || {
        try_http("GET", api_port, "/healthz", None).ok()
    });
    wait_for("first audit", Duration::from_secs(15), || {
        (history_len(&d) >= 1).then_some(())
    });

    // POST needs the token once token_env is set.
    let (st, _) = try_http("POST", api_port, "/api/labs/b12/run?wait=true", None).unwrap();
    assert_eq!(st, 401);
    let (st, _) = try_http(
        "POST",
        api_port,
        "/api/labs/b12/run?wait=true",
        Some("Authorization: Bearer wrong-token-0123456789ab\r\n"),
    )
    .unwrap();
    assert_eq!(st, 401);
    let (st, body) = try_http(
        "POST",
        api_port,
        "/api/labs/b12/run?wait=true",
        Some(&format!("Authorization: Bearer {token}\r\n")),
    )
    .unwrap();
    assert_eq!(st, 200, "{body}");
    assert!(!d.log().contains(token), "the token reached the log");

    // A bad config: kept the old one, and said why.
    std::fs::write(
        &cfg,
        format!("{base}\n[[lab]]\nname = \"bad\"\ninventory = \"missing.toml\"\nevery = \"1h\"\n"),
    )
    .unwrap();
    d.signal("HUP");
    wait_for("the reload error", Duration::from_secs(10), || {
        d.log().contains("NOT reloaded").then_some(())
    });
    assert!(d.log().contains("missing.toml"), "{}", d.log());
    assert_eq!(d.json("/api/labs").as_array().unwrap().len(), 1);

    // A good one: the new lab appears and is audited.
    std::fs::write(
        &cfg,
        format!("{base}\n[[lab]]\nname = \"b13\"\ninventory = \"lab.toml\"\nevery = \"1h\"\n"),
    )
    .unwrap();
    d.signal("HUP");
    wait_for("b13 audited", Duration::from_secs(15), || {
        let labs = d.json("/api/labs");
        labs.as_array()
            .unwrap()
            .iter()
            .any(|l| l["name"] == "b13" && l["last_audit"].is_object())
            .then_some(())
    });
    let m = check_prometheus(&d.get("/metrics").1);
    assert_eq!(
        metric(&m, "labcheck_config_reloads_total", &[("result", "failed")]),
        Some(1.0)
    );
    assert_eq!(
        metric(&m, "labcheck_config_reloads_total", &[("result", "ok")]),
        Some(1.0)
    );
    assert_eq!(d.stop(), 0);
}

#[test]
fn serve_refuses_a_bad_config_with_every_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"0.0.0.0:8088\"\n\n[[lab]]\nname = \"b12\"\ninventory = \"nope.toml\"\ncron = \"not a cron\"\n",
    )
    .unwrap();
    let o = labcheck(&["serve", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    let e = text(&o.stderr);
    assert!(
        e.contains("token_env") && e.contains("nope.toml") && e.contains("cron"),
        "{e}"
    );
}
