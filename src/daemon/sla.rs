//! SLA measure: from the history, how often each declared service answered
//! over a window, next to its declared availability target (the lab's
//! `[[lab.sla]] target`, else the first percentage of the inventory's
//! `sisr.sla-service` attestation, e.g. « disponibilité 99,5 % »).

use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use super::config::{LabConfig, percent_in};
use crate::inventory::Inventory;
use crate::store::Store;

#[derive(Debug, Clone, Serialize)]
pub struct SlaMeasure {
    pub lab: String,
    pub service: String,
    pub host: String,
    pub port: u16,
    /// The window, in seconds.
    pub window_seconds: u64,
    /// Audits in the window that probed the service.
    pub audits: i64,
    /// Of those, audits where it answered.
    pub up: i64,
    /// `up / audits` in percent; `None` with no audit in the window.
    pub availability_percent: Option<f64>,
    pub target_percent: Option<f64>,
    /// `config` or `attestation`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_source: Option<&'static str>,
    pub meets_target: Option<bool>,
}

/// The declared target of the `sisr.sla-service` attestation, if it names one.
pub fn attested_target(inv: &Inventory) -> Option<f64> {
    let a = inv
        .attestations
        .iter()
        .find(|a| a.id == "sisr.sla-service")?;
    a.note
        .as_deref()
        .and_then(percent_in)
        .or_else(|| percent_in(&a.evidence))
}

pub fn measure(
    store: &Store,
    lab: &LabConfig,
    inventory: Option<&Inventory>,
    window: Duration,
) -> Result<Vec<SlaMeasure>> {
    let attested = inventory.and_then(attested_target);
    let mut out = Vec::new();
    for s in &lab.sla {
        let a = store.availability(&lab.name, &s.host, s.port, window.as_secs() as i64)?;
        let availability = (a.audits > 0).then(|| 100.0 * a.up as f64 / a.audits as f64);
        let (target, source) = match (s.target, attested) {
            (Some(t), _) => (Some(t), Some("config")),
            (None, Some(t)) => (Some(t), Some("attestation")),
            (None, None) => (None, None),
        };
        out.push(SlaMeasure {
            lab: lab.name.clone(),
            service: s.name.clone(),
            host: s.host.clone(),
            port: s.port,
            window_seconds: window.as_secs(),
            audits: a.audits,
            up: a.up,
            availability_percent: availability,
            target_percent: target,
            target_source: source,
            meets_target: match (availability, target) {
                (Some(a), Some(t)) => Some(a >= t),
                _ => None,
            },
        });
    }
    Ok(out)
}
