//! One audit, end to end: load → plan → probe → evaluate → report.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::catalog::Catalog;
use crate::diag::Diagnostics;
use crate::evaluate;
use crate::i18n::Lang;
use crate::inventory::{self, Inventory};
use crate::plan;
use crate::probe::{self, Progress, RunnerConfig};
use crate::profile::{self, Profile};
use crate::report::{AuditReport, ReportInput};

/// Errors that stop an audit before it starts. Network faults are not
/// errors: they are observations in the report.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("invalid input:\n{0}")]
    Invalid(Diagnostics),
    #[error("unknown requirement id(s) in --only: {ids} (see `labcheck profiles list`)")]
    UnknownOnly { ids: String },
    #[error(
        "the inventory is for option `{inventory}` but the profile is `{profile}`; pass --profile {inventory} or fix [lab] option"
    )]
    OptionMismatch { inventory: String, profile: String },
}

#[derive(Clone)]
pub struct AuditOptions {
    /// `sisr`, `slam` or a profile file; `None`: the inventory's option, else sisr.
    pub profile: Option<String>,
    /// `None`: this machine (the embedded local default).
    pub inventory: Option<PathBuf>,
    pub lang: Lang,
    pub timeout: Duration,
    pub concurrency: usize,
    /// Only these requirement ids (and groups made only of them).
    pub only: Vec<String>,
    /// SSH: accept and record unknown host keys instead of refusing the host.
    pub trust_on_first_use: bool,
    pub progress: Option<Progress>,
}

impl Default for AuditOptions {
    fn default() -> Self {
        let r = RunnerConfig::default();
        AuditOptions {
            profile: None,
            inventory: None,
            lang: Lang::En,
            timeout: r.timeout,
            concurrency: r.concurrency,
            only: vec![],
            trust_on_first_use: false,
            progress: None,
        }
    }
}

/// Every requirement id of the embedded profiles, for validating attestations.
pub fn embedded_ids() -> Vec<String> {
    let mut ids = Vec::new();
    for name in profile::SELECTABLE {
        if let Ok(p) = profile::load(name) {
            for r in p.requirements {
                if !ids.contains(&r.id) {
                    ids.push(r.id);
                }
            }
        }
    }
    ids
}

/// Loads the profile and the inventory the options name.
pub fn load_inputs(opts: &AuditOptions) -> Result<(Profile, Inventory), AuditError> {
    // The profile first: attestations are checked against its ids.
    let (inventory_option, inv_path) = match &opts.inventory {
        Some(p) => (peek_option(p), Some(p.clone())),
        None => (None, None),
    };
    let profile_spec = opts
        .profile
        .clone()
        .or(inventory_option.clone())
        .unwrap_or_else(|| "sisr".into());
    let mut profile = profile::load(&profile_spec).map_err(AuditError::Invalid)?;
    let ids: Vec<String> = profile
        .requirements
        .iter()
        .map(|r| r.id.clone())
        .chain(embedded_ids())
        .collect();
    let inventory = match &inv_path {
        Some(p) => inventory::load(p, &ids).map_err(AuditError::Invalid)?,
        None => inventory::local_default(&profile.id),
    };
    if let (Some(inv_opt), Some(spec)) = (&inventory.lab.option, &opts.profile)
        && profile::SELECTABLE.contains(&spec.as_str())
        && inv_opt != spec
    {
        return Err(AuditError::OptionMismatch {
            inventory: inv_opt.clone(),
            profile: spec.clone(),
        });
    }
    if !opts.only.is_empty() {
        let unknown: Vec<&String> = opts
            .only
            .iter()
            .filter(|id| profile.requirement(id).is_none() && profile.group(id).is_none())
            .collect();
        if !unknown.is_empty() {
            return Err(AuditError::UnknownOnly {
                ids: unknown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        restrict(&mut profile, &opts.only);
    }
    Ok((profile, inventory))
}

/// Keeps the named requirements, and named groups with their members.
fn restrict(profile: &mut Profile, only: &[String]) {
    let mut keep: Vec<String> = only.to_vec();
    for g in &profile.groups {
        if only.contains(&g.id) {
            keep.extend(g.members.iter().cloned());
        }
    }
    profile.requirements.retain(|r| keep.contains(&r.id));
    profile
        .groups
        .retain(|g| only.contains(&g.id) || g.members.iter().all(|m| keep.contains(m)));
}

/// The `[lab] option` of an inventory, read leniently before full validation.
fn peek_option(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: toml::Table = text.parse().ok()?;
    v.get("lab")?.get("option")?.as_str().map(str::to_string)
}

/// Runs a whole audit.
pub async fn run(opts: AuditOptions) -> Result<AuditReport, AuditError> {
    let (profile, inventory) = load_inputs(&opts)?;
    Ok(run_loaded(&profile, &inventory, &opts).await)
}

/// Runs an audit of already loaded inputs (the daemon keeps them loaded).
pub async fn run_loaded(
    profile: &Profile,
    inventory: &Inventory,
    opts: &AuditOptions,
) -> AuditReport {
    let catalog = Arc::new(Catalog::embedded());
    let started_at = jiff::Timestamp::now();
    let clock = Instant::now();
    let plan = plan::build(inventory, &catalog);
    let cfg = RunnerConfig {
        timeout: opts.timeout,
        concurrency: opts.concurrency,
        trust_on_first_use: opts.trust_on_first_use,
        ..RunnerConfig::default()
    };
    let facts = probe::run(
        &plan,
        Arc::new(inventory.clone()),
        catalog.clone(),
        cfg,
        opts.progress.clone(),
    )
    .await;
    let evaluation = evaluate::evaluate(profile, inventory, &facts, &catalog, opts.lang);
    AuditReport::build(ReportInput {
        profile,
        inventory,
        facts: &facts,
        evaluation: &evaluation,
        started_at,
        duration_ms: clock.elapsed().as_millis() as u64,
        lang: opts.lang,
    })
}
