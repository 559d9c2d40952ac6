//! `labcheck serve`: scheduled audits with history, an HTTP dashboard and
//! JSON API, Prometheus metrics and webhook alerts.
//!
//! One task per lab sleeps until its next run (interval or cron), then
//! audits. A lab's `run_lock` means two audits of the same lab never
//! overlap; a shared semaphore bounds the audits in flight across labs.
//! SIGTERM stops scheduling, lets running audits finish for
//! `shutdown_grace`, cancels the rest and closes the database; SIGHUP
//! reloads the configuration, keeping the old one when the new is invalid.

pub mod config;
mod dashboard;
mod http;
mod metrics;
mod scheduler;
pub mod sla;
pub mod webhook;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use anyhow::{Context, Result};
use tokio::sync::{Notify, Semaphore, watch};

use crate::store::{Store, StoredAudit};
pub use config::Config;

/// State shared by the scheduler, the HTTP handlers and the signal handlers.
pub struct Shared {
    pub store: Arc<Store>,
    config: RwLock<Arc<Config>>,
    labs: Mutex<BTreeMap<String, Arc<LabRuntime>>>,
    audit_slots: Arc<Semaphore>,
    metrics: metrics::Metrics,
    /// `true` once SIGTERM arrived: no new audit starts.
    stopping: watch::Sender<bool>,
    /// `true` when the grace period is over: running audits are cancelled.
    cancel: watch::Sender<bool>,
    /// One clone per audit in flight (shutdown waits for the count to drop).
    in_flight: Arc<()>,
}

/// One lab as the daemon runs it.
pub struct LabRuntime {
    pub name: String,
    config: RwLock<config::LabConfig>,
    /// Held for the whole audit: never two audits of the same lab at once.
    run_lock: Arc<tokio::sync::Mutex<()>>,
    /// Wakes the lab's task to recompute its next run (reload).
    reschedule: Notify,
    /// Removed from the configuration: the task ends.
    removed: watch::Sender<bool>,
    state: Mutex<LabState>,
}

#[derive(Default)]
struct LabState {
    running: bool,
    next_run: Option<jiff::Timestamp>,
    last_started: Option<jiff::Timestamp>,
    latest: Option<Arc<StoredAudit>>,
    /// Requirement id → when it took its current status (`started_at` of
    /// the first audit of the current run), kept up to date per audit so
    /// the dashboard does not query the history for it.
    since: std::collections::HashMap<String, String>,
    /// The last inputs that loaded: a broken inventory edit keeps auditing
    /// with them (and says so) instead of stopping.
    inputs: Option<Arc<(crate::profile::Profile, crate::inventory::Inventory)>>,
    last_error: Option<String>,
}

impl LabRuntime {
    fn new(cfg: config::LabConfig) -> Arc<LabRuntime> {
        Arc::new(LabRuntime {
            name: cfg.name.clone(),
            config: RwLock::new(cfg),
            run_lock: Arc::new(tokio::sync::Mutex::new(())),
            reschedule: Notify::new(),
            removed: watch::channel(false).0,
            state: Mutex::new(LabState::default()),
        })
    }

    pub fn config(&self) -> config::LabConfig {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LabState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn latest(&self) -> Option<Arc<StoredAudit>> {
        self.state().latest.clone()
    }
}

impl Shared {
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn lab(&self, name: &str) -> Option<Arc<LabRuntime>> {
        self.labs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    pub fn labs(&self) -> Vec<Arc<LabRuntime>> {
        self.labs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Adds a lab and starts its task; its last audit comes from the history.
    fn add_lab(self: &Arc<Self>, cfg: config::LabConfig) {
        let lab = LabRuntime::new(cfg);
        match self.store.latest(&lab.name) {
            Ok(Some(latest)) => {
                let mut st = lab.state();
                st.last_started = latest.report.started_at.parse().ok();
                for r in &latest.report.requirements {
                    match self.store.status_since(&lab.name, &r.id) {
                        Ok(Some(t)) => {
                            st.since.insert(r.id.clone(), t);
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!(lab = %lab.name, "reading the history: {e:#}"),
                    }
                }
                self.metrics.observe_report(&lab.name, &latest.report, None);
                st.latest = Some(Arc::new(latest));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(lab = %lab.name, "reading the last audit: {e:#}"),
        }
        self.labs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(lab.name.clone(), lab.clone());
        tokio::spawn(scheduler::lab_task(self.clone(), lab));
    }

    /// Applies a new, already validated configuration.
    fn apply(self: &Arc<Self>, new: Config) {
        let old = self.config();
        if new.listen != old.listen
            || new.db != old.db
            || new.max_parallel_audits != old.max_parallel_audits
        {
            tracing::warn!(
                "server.listen, server.db and server.max_parallel_audits changes take effect at the next restart"
            );
        }
        let new_names: Vec<String> = new.labs.iter().map(|l| l.name.clone()).collect();
        for lab in self.labs() {
            if !new_names.contains(&lab.name) {
                tracing::info!(lab = %lab.name, "removed from the configuration");
                let _ = lab.removed.send(true);
                self.labs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&lab.name);
                self.metrics.forget_lab(&lab.name);
            }
        }
        for cfg in &new.labs {
            match self.lab(&cfg.name) {
                Some(lab) => {
                    let changed = lab.config() != *cfg;
                    *lab.config.write().unwrap_or_else(|e| e.into_inner()) = cfg.clone();
                    lab.state().inputs = None;
                    if changed {
                        tracing::info!(lab = %cfg.name, "configuration changed");
                        lab.reschedule.notify_one();
                    }
                }
                None => {
                    tracing::info!(lab = %cfg.name, "added");
                    self.add_lab(cfg.clone());
                }
            }
        }
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(new);
    }

    /// SIGHUP: reload the configuration file, or keep the old one and say why.
    pub fn reload(self: &Arc<Self>) -> Result<(), String> {
        let path = self.config().path.clone();
        match Config::load(&path) {
            Ok(new) => {
                self.apply(new);
                self.metrics.reloaded(true);
                tracing::info!("configuration reloaded from {}", path.display());
                Ok(())
            }
            Err(e) => {
                self.metrics.reloaded(false);
                tracing::error!("configuration NOT reloaded, keeping the previous one: {e}");
                Err(e)
            }
        }
    }
}

/// Where the history lives: `--db`, else `server.db`, else the default.
pub fn db_path(cfg: &Config, cli: Option<PathBuf>) -> Result<PathBuf> {
    match cli.or_else(|| cfg.db.clone()) {
        Some(p) => Ok(p),
        None => crate::store::default_path(),
    }
}

/// Runs the daemon until SIGTERM (or SIGINT).
pub async fn serve(cfg: Config, db: PathBuf) -> Result<()> {
    let store = Arc::new(Store::open(&db)?);
    tracing::info!("history in {}", db.display());
    match store.prune(cfg.retention_days) {
        Ok(n) if n > 0 => tracing::info!(
            "retention: removed {n} audit(s) older than {} days",
            cfg.retention_days
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!("retention: {e:#}"),
    }
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("listening on {}", cfg.listen))?;
    let local = listener.local_addr()?;
    let shared = Arc::new(Shared {
        store: store.clone(),
        audit_slots: Arc::new(Semaphore::new(cfg.max_parallel_audits)),
        config: RwLock::new(Arc::new(cfg.clone())),
        labs: Mutex::new(BTreeMap::new()),
        metrics: metrics::Metrics::default(),
        stopping: watch::channel(false).0,
        cancel: watch::channel(false).0,
        in_flight: Arc::new(()),
    });
    for lab in &cfg.labs {
        shared.add_lab(lab.clone());
    }
    // Always printed, whatever RUST_LOG says: where to point a browser.
    eprintln!("labcheck serve: listening on http://{local}/");

    let mut stopping_rx = shared.stopping.subscribe();
    let server = tokio::spawn(
        axum::serve(listener, http::router(shared.clone()))
            .with_graceful_shutdown(async move {
                let _ = stopping_rx.wait_for(|s| *s).await;
            })
            .into_future(),
    );

    signals(&shared).await;

    // Stop: no new audit, give the running ones the grace period, then cancel.
    let _ = shared.stopping.send(true);
    let grace = shared.config().shutdown_grace;
    let deadline = tokio::time::Instant::now() + grace;
    while Arc::strong_count(&shared.in_flight) > 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let running = Arc::strong_count(&shared.in_flight) - 1;
    if running > 0 {
        tracing::warn!("cancelling {running} audit(s) still running after {grace:?}");
        let _ = shared.cancel.send(true);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while Arc::strong_count(&shared.in_flight) > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), server).await;
    store.checkpoint();
    eprintln!("labcheck serve: stopped, history closed");
    Ok(())
}

/// Waits for SIGTERM/SIGINT, handling SIGHUP (reload) meanwhile.
async fn signals(shared: &Arc<Shared>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::warn!("SIGTERM: stopping"); return; }
            _ = int.recv() => { tracing::warn!("SIGINT: stopping"); return; }
            _ = hup.recv() => {
                tracing::warn!("SIGHUP: reloading the configuration");
                let _ = shared.reload();
            }
        }
    }
}
