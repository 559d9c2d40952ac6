//! Prometheus metrics in the text exposition format (0.0.4).
//!
//! Gauges describe the current state (one series per lab × verdict and per
//! lab × requirement × status, 1 for the current one, 0 for the others: the
//! "state set" pattern, so a status change never leaves a stale series).
//! Counters only grow (reset when the daemon restarts, which Prometheus
//! handles). The audit duration is a histogram.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use crate::evaluate::{Overall, Status};
use crate::report::AuditReport;

const BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
const VERDICTS: [Overall; 3] = [Overall::Conform, Overall::NonConform, Overall::Incomplete];
const STATUSES: [Status; 4] = [
    Status::Conform,
    Status::NonConform,
    Status::CannotVerify,
    Status::Attested,
];

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    labs: BTreeMap<String, LabMetrics>,
    webhook_ok: u64,
    webhook_failed: u64,
    reload_ok: u64,
    reload_failed: u64,
    last_reload_ok: bool,
}

#[derive(Default, Clone)]
struct LabMetrics {
    verdict: Option<Overall>,
    statuses: Vec<(String, Status)>,
    last_audit_unix: Option<f64>,
    running: bool,
    audits: u64,
    failures: u64,
    probe_errors: u64,
    buckets: Vec<u64>,
    duration_sum: f64,
    duration_count: u64,
}

/// One SLA measurement, as the metrics show it.
pub struct SlaSample {
    pub lab: String,
    pub service: String,
    pub availability: Option<f64>,
    pub target: Option<f64>,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A report became the lab's current one. `duration` is `Some` for an
    /// audit just run (counted), `None` for one read back from the history.
    pub fn observe_report(&self, lab: &str, r: &AuditReport, duration: Option<f64>) {
        let mut g = self.lock();
        let m = g.labs.entry(lab.to_string()).or_default();
        m.verdict = Some(r.verdict);
        m.statuses = r
            .requirements
            .iter()
            .map(|x| (x.id.clone(), x.status))
            .chain(r.groups.iter().map(|x| (x.id.clone(), x.status)))
            .collect();
        m.last_audit_unix = r
            .started_at
            .parse::<jiff::Timestamp>()
            .ok()
            .map(|t| t.as_millisecond() as f64 / 1000.0);
        if let Some(d) = duration {
            m.audits += 1;
            m.probe_errors += r
                .hosts
                .iter()
                .flat_map(|h| &h.ports)
                .filter(|p| {
                    matches!(
                        p.outcome.as_str(),
                        "timeout" | "unreachable" | "protocol-error"
                    )
                })
                .count() as u64;
            if m.buckets.is_empty() {
                m.buckets = vec![0; BUCKETS.len()];
            }
            for (i, b) in BUCKETS.iter().enumerate() {
                if d <= *b {
                    m.buckets[i] += 1;
                }
            }
            m.duration_sum += d;
            m.duration_count += 1;
        }
    }

    pub fn set_running(&self, lab: &str, running: bool) {
        self.lock().labs.entry(lab.to_string()).or_default().running = running;
    }

    pub fn audit_failed(&self, lab: &str) {
        self.lock()
            .labs
            .entry(lab.to_string())
            .or_default()
            .failures += 1;
    }

    pub fn forget_lab(&self, lab: &str) {
        self.lock().labs.remove(lab);
    }

    pub fn webhook(&self, ok: bool) {
        let mut g = self.lock();
        if ok {
            g.webhook_ok += 1;
        } else {
            g.webhook_failed += 1;
        }
    }

    pub fn reloaded(&self, ok: bool) {
        let mut g = self.lock();
        if ok {
            g.reload_ok += 1;
        } else {
            g.reload_failed += 1;
        }
        g.last_reload_ok = ok;
    }

    /// The exposition text.
    pub fn render(&self, sla: &[SlaSample]) -> String {
        let g = self.lock();
        let mut o = String::with_capacity(8192);
        let labs: Vec<(&String, &LabMetrics)> = g.labs.iter().collect();

        head(
            &mut o,
            "labcheck_lab_verdict",
            "gauge",
            "Current verdict of each lab: 1 for the current verdict, 0 for the others.",
        );
        for (lab, m) in &labs {
            if let Some(v) = m.verdict {
                for x in VERDICTS {
                    let _ = writeln!(
                        o,
                        "labcheck_lab_verdict{{lab=\"{}\",verdict=\"{}\"}} {}",
                        esc(lab),
                        x.as_str(),
                        u8::from(x == v)
                    );
                }
            }
        }
        head(
            &mut o,
            "labcheck_requirement_status",
            "gauge",
            "Current status of each requirement and group: 1 for the current status, 0 for the others.",
        );
        for (lab, m) in &labs {
            for (id, st) in &m.statuses {
                for x in STATUSES {
                    let _ = writeln!(
                        o,
                        "labcheck_requirement_status{{lab=\"{}\",requirement=\"{}\",status=\"{}\"}} {}",
                        esc(lab),
                        esc(id),
                        x.as_str(),
                        u8::from(x == *st)
                    );
                }
            }
        }
        head(
            &mut o,
            "labcheck_last_audit_timestamp_seconds",
            "gauge",
            "Start time of the lab's latest stored audit (Unix seconds).",
        );
        for (lab, m) in &labs {
            if let Some(t) = m.last_audit_unix {
                let _ = writeln!(
                    o,
                    "labcheck_last_audit_timestamp_seconds{{lab=\"{}\"}} {}",
                    esc(lab),
                    num(t)
                );
            }
        }
        head(
            &mut o,
            "labcheck_audit_running",
            "gauge",
            "1 while an audit of the lab is running.",
        );
        for (lab, m) in &labs {
            let _ = writeln!(
                o,
                "labcheck_audit_running{{lab=\"{}\"}} {}",
                esc(lab),
                u8::from(m.running)
            );
        }
        head(
            &mut o,
            "labcheck_audits_total",
            "counter",
            "Audits run and stored since the daemon started.",
        );
        for (lab, m) in &labs {
            let _ = writeln!(
                o,
                "labcheck_audits_total{{lab=\"{}\"}} {}",
                esc(lab),
                m.audits
            );
        }
        head(
            &mut o,
            "labcheck_audit_failures_total",
            "counter",
            "Audits that could not run or be stored (invalid inputs, history errors).",
        );
        for (lab, m) in &labs {
            let _ = writeln!(
                o,
                "labcheck_audit_failures_total{{lab=\"{}\"}} {}",
                esc(lab),
                m.failures
            );
        }
        head(
            &mut o,
            "labcheck_probe_errors_total",
            "counter",
            "Probed ports that timed out, were unreachable or gave a protocol error.",
        );
        for (lab, m) in &labs {
            let _ = writeln!(
                o,
                "labcheck_probe_errors_total{{lab=\"{}\"}} {}",
                esc(lab),
                m.probe_errors
            );
        }
        head(
            &mut o,
            "labcheck_audit_duration_seconds",
            "histogram",
            "Wall-clock duration of the audits run since the daemon started.",
        );
        for (lab, m) in &labs {
            let l = esc(lab);
            for (i, b) in BUCKETS.iter().enumerate() {
                let n = m.buckets.get(i).copied().unwrap_or(0);
                let _ = writeln!(
                    o,
                    "labcheck_audit_duration_seconds_bucket{{lab=\"{l}\",le=\"{}\"}} {n}",
                    num(*b)
                );
            }
            let _ = writeln!(
                o,
                "labcheck_audit_duration_seconds_bucket{{lab=\"{l}\",le=\"+Inf\"}} {}",
                m.duration_count
            );
            let _ = writeln!(
                o,
                "labcheck_audit_duration_seconds_sum{{lab=\"{l}\"}} {}",
                num(m.duration_sum)
            );
            let _ = writeln!(
                o,
                "labcheck_audit_duration_seconds_count{{lab=\"{l}\"}} {}",
                m.duration_count
            );
        }
        head(
            &mut o,
            "labcheck_webhook_deliveries_total",
            "counter",
            "Webhook alerts by outcome (after retries).",
        );
        let _ = writeln!(
            o,
            "labcheck_webhook_deliveries_total{{result=\"ok\"}} {}",
            g.webhook_ok
        );
        let _ = writeln!(
            o,
            "labcheck_webhook_deliveries_total{{result=\"failed\"}} {}",
            g.webhook_failed
        );
        head(
            &mut o,
            "labcheck_config_reloads_total",
            "counter",
            "Configuration reloads (SIGHUP) by outcome.",
        );
        let _ = writeln!(
            o,
            "labcheck_config_reloads_total{{result=\"ok\"}} {}",
            g.reload_ok
        );
        let _ = writeln!(
            o,
            "labcheck_config_reloads_total{{result=\"failed\"}} {}",
            g.reload_failed
        );
        head(
            &mut o,
            "labcheck_sla_availability_ratio",
            "gauge",
            "Share of the audits in the SLA window where the declared service answered (0 to 1).",
        );
        for s in sla {
            if let Some(a) = s.availability {
                let _ = writeln!(
                    o,
                    "labcheck_sla_availability_ratio{{lab=\"{}\",service=\"{}\"}} {}",
                    esc(&s.lab),
                    esc(&s.service),
                    num(a)
                );
            }
        }
        head(
            &mut o,
            "labcheck_sla_target_ratio",
            "gauge",
            "Declared availability target of the service (0 to 1).",
        );
        for s in sla {
            if let Some(t) = s.target {
                let _ = writeln!(
                    o,
                    "labcheck_sla_target_ratio{{lab=\"{}\",service=\"{}\"}} {}",
                    esc(&s.lab),
                    esc(&s.service),
                    num(t / 100.0)
                );
            }
        }
        o
    }
}

fn head(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

/// A label value: `\`, `"` and newline escaped.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else if x.is_nan() {
        "NaN".into()
    } else if x > 0.0 {
        "+Inf".into()
    } else {
        "-Inf".into()
    }
}
