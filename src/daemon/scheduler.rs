//! Each lab's task (sleep until due, audit, repeat) and one audit run:
//! load inputs, probe, store, update metrics, alert on change.

use std::sync::Arc;
use std::time::Duration;

use super::{LabRuntime, Shared, webhook};
use crate::audit;
use crate::diff;
use crate::store::{AuditRow, StoredAudit};

#[derive(Debug)]
pub(super) enum RunOutcome {
    /// Stored under this history id.
    Done(i64),
    /// An audit of this lab is already running.
    Busy,
    /// The daemon is stopping.
    Stopping,
    /// Cancelled at shutdown, nothing stored.
    Cancelled,
    /// The inputs could not be loaded (no earlier good inputs to fall back on)
    /// or the history could not be written.
    Failed(String),
}

pub(super) async fn lab_task(shared: Arc<Shared>, lab: Arc<LabRuntime>) {
    let mut removed = lab.removed.subscribe();
    let mut stopping = shared.stopping.subscribe();
    loop {
        if shared.is_stopping() || *removed.borrow() {
            break;
        }
        let schedule = lab.config().schedule;
        let now = jiff::Timestamp::now();
        let next = schedule.next_after(lab.state().last_started, now);
        lab.state().next_run = Some(next);
        let wait = Duration::try_from(next.duration_since(now)).unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = lab.reschedule.notified() => continue,
            _ = removed.wait_for(|r| *r) => break,
            _ = stopping.wait_for(|s| *s) => break,
        }
        match run_audit(&shared, &lab, "schedule").await {
            RunOutcome::Busy => {
                // An on-demand audit is running; it sets last_started.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            RunOutcome::Failed(_) => {
                // Remember the attempt so a broken lab is retried on schedule,
                // not in a tight loop.
                lab.state().last_started = Some(jiff::Timestamp::now());
            }
            _ => {}
        }
    }
    tracing::debug!(lab = %lab.name, "lab task ended");
}

/// Runs one audit of `lab` now, unless one is already running.
pub(super) async fn run_audit(
    shared: &Arc<Shared>,
    lab: &Arc<LabRuntime>,
    trigger: &str,
) -> RunOutcome {
    if shared.is_stopping() {
        return RunOutcome::Stopping;
    }
    let Ok(_guard) = lab.run_lock.clone().try_lock_owned() else {
        return RunOutcome::Busy;
    };
    let _flight = shared.in_flight.clone();
    let mut stopping = shared.stopping.subscribe();
    let _permit = tokio::select! {
        p = shared.audit_slots.clone().acquire_owned() => match p {
            Ok(p) => p,
            Err(_) => return RunOutcome::Stopping,
        },
        _ = stopping.wait_for(|s| *s) => return RunOutcome::Stopping,
    };
    let started = jiff::Timestamp::now();
    {
        let mut st = lab.state();
        st.running = true;
        st.last_started = Some(started);
    }
    if trigger != "schedule" {
        // The next scheduled run counts from this one.
        lab.reschedule.notify_one();
    }
    shared.metrics.set_running(&lab.name, true);
    let outcome = audit_and_record(shared, lab, trigger).await;
    lab.state().running = false;
    shared.metrics.set_running(&lab.name, false);
    if let RunOutcome::Failed(e) = &outcome {
        shared.metrics.audit_failed(&lab.name);
        lab.state().last_error = Some(e.clone());
        tracing::error!(lab = %lab.name, "audit failed: {e}");
    }
    outcome
}

async fn audit_and_record(
    shared: &Arc<Shared>,
    lab: &Arc<LabRuntime>,
    trigger: &str,
) -> RunOutcome {
    let cfg = lab.config();
    let opts = cfg.audit_options(shared.config().concurrency);
    // Inputs are re-read at each audit so an inventory edit is picked up;
    // a broken edit falls back on the last inputs that loaded.
    let inputs = match audit::load_inputs(&opts) {
        Ok(loaded) => {
            let loaded = Arc::new(loaded);
            let mut st = lab.state();
            st.inputs = Some(loaded.clone());
            st.last_error = None;
            loaded
        }
        Err(e) => {
            let msg = e.to_string().trim_end().to_string();
            let cached = lab.state().inputs.clone();
            match cached {
                Some(c) => {
                    tracing::warn!(lab = %lab.name, "inputs no longer load, auditing with the last good ones: {msg}");
                    lab.state().last_error = Some(msg);
                    c
                }
                None => return RunOutcome::Failed(msg),
            }
        }
    };
    let mut cancel = shared.cancel.subscribe();
    let clock = std::time::Instant::now();
    let report = tokio::select! {
        r = audit::run_loaded(&inputs.0, &inputs.1, &opts) => r,
        _ = cancel.wait_for(|c| *c) => {
            tracing::warn!(lab = %lab.name, "audit cancelled at shutdown; nothing stored");
            return RunOutcome::Cancelled;
        }
    };
    let elapsed = clock.elapsed();
    let store = shared.store.clone();
    let (name, rep, trig) = (lab.name.clone(), report.clone(), trigger.to_string());
    let retention = shared.config().retention_days;
    let inserted = tokio::task::spawn_blocking(move || {
        let id = store.insert(&name, &rep, &trig)?;
        store.prune(retention)?;
        anyhow::Ok(id)
    })
    .await;
    let id = match inserted {
        Ok(Ok(id)) => id,
        Ok(Err(e)) => return RunOutcome::Failed(format!("writing the history: {e:#}")),
        Err(e) => return RunOutcome::Failed(format!("writing the history: {e}")),
    };
    tracing::info!(
        lab = %lab.name, id, trigger, verdict = report.verdict.as_str(),
        "audit done in {} ms", elapsed.as_millis()
    );
    shared
        .metrics
        .observe_report(&lab.name, &report, Some(elapsed.as_secs_f64()));
    let json = serde_json::to_string(&report).unwrap_or_default();
    let stored = Arc::new(StoredAudit {
        row: AuditRow {
            id,
            lab: lab.name.clone(),
            started_at: report.started_at.clone(),
            duration_ms: report.duration_ms as i64,
            verdict: report.verdict.as_str().to_string(),
            trigger: trigger.to_string(),
        },
        report,
        json,
    });
    let previous = {
        let mut st = lab.state();
        let previous = st.latest.replace(stored.clone());
        for r in &stored.report.requirements {
            let unchanged = previous.as_ref().is_some_and(|p| {
                p.report
                    .requirements
                    .iter()
                    .any(|o| o.id == r.id && o.status == r.status)
            });
            if !unchanged || !st.since.contains_key(&r.id) {
                st.since
                    .insert(r.id.clone(), stored.report.started_at.clone());
            }
        }
        previous
    };
    if let Some(prev) = previous {
        let d = diff::diff(&prev.report, &stored.report);
        if !d.is_empty() {
            let changes: Vec<String> = d
                .requirements
                .iter()
                .chain(&d.groups)
                .map(|c| {
                    format!(
                        "{} {}→{}",
                        c.id,
                        c.from.map(|s| s.as_str()).unwrap_or("absent"),
                        c.to.map(|s| s.as_str()).unwrap_or("absent")
                    )
                })
                .collect();
            tracing::warn!(
                lab = %lab.name, id,
                "change: verdict {} → {}; {}",
                prev.report.verdict.as_str(),
                stored.report.verdict.as_str(),
                if changes.is_empty() { "no requirement change".into() } else { changes.join(", ") }
            );
            let alerts = shared.config().alerts.clone();
            if alerts.webhook.is_some() {
                let payload = webhook::Payload {
                    event: "labcheck.change",
                    lab: lab.name.clone(),
                    audit_id: id,
                    previous_audit_id: prev.row.id,
                    verdict: stored.report.verdict,
                    previous_verdict: prev.report.verdict,
                    diff: d,
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let ok = webhook::deliver(&alerts, &payload).await;
                    shared.metrics.webhook(ok);
                });
            }
        }
    }
    RunOutcome::Done(id)
}
