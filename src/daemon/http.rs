//! The HTTP server: dashboard, JSON API, `/healthz`, `/metrics`.

// Helpers return a ready error `Response` for handlers to send as is.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::scheduler::{RunOutcome, run_audit};
use super::sla::{self, SlaMeasure};
use super::{LabRuntime, Shared, dashboard, metrics::SlaSample};
use crate::diff;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(dashboard_page))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/labs", get(labs))
        .route("/api/labs/{name}/latest", get(latest))
        .route("/api/labs/{name}/history", get(history))
        .route("/api/labs/{name}/sla", get(lab_sla))
        .route("/api/labs/{name}/run", post(run_now))
        .route("/api/reports/{id}", get(report))
        .route("/api/diff", get(diff_reports))
        .with_state(shared)
}

type Shr = State<Arc<Shared>>;

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": msg.into() }))).into_response()
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!("API: {e}");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error (see the daemon's log)",
    )
}

fn json_text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn find_lab(s: &Shared, name: &str) -> Result<Arc<LabRuntime>, Response> {
    s.lab(name)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("no lab `{name}`")))
}

/// Runs a blocking store query off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(internal(format!("{e:#}"))),
        Err(e) => Err(internal(e)),
    }
}

async fn healthz(State(s): Shr) -> Response {
    let store = s.store.clone();
    match tokio::task::spawn_blocking(move || store.ping()).await {
        Ok(Ok(())) => "ok\n".into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "history unavailable\n").into_response(),
    }
}

/// Every lab's SLA measures (store queries: call from a blocking task).
pub(super) fn all_sla(s: &Shared) -> anyhow::Result<Vec<SlaMeasure>> {
    let window = s.config().sla_window;
    let mut out = Vec::new();
    for lab in s.labs() {
        let cfg = lab.config();
        if cfg.sla.is_empty() {
            continue;
        }
        let inputs = lab.state().inputs.clone();
        out.extend(sla::measure(
            &s.store,
            &cfg,
            inputs.as_ref().map(|i| &i.1),
            window,
        )?);
    }
    Ok(out)
}

async fn metrics(State(s): Shr) -> Response {
    let s2 = s.clone();
    let sla = match blocking(move || all_sla(&s2)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let samples: Vec<SlaSample> = sla
        .into_iter()
        .map(|m| SlaSample {
            lab: m.lab,
            service: m.service,
            availability: m.availability_percent.map(|a| a / 100.0),
            target: m.target_percent,
        })
        .collect();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(&samples),
    )
        .into_response()
}

#[derive(Serialize)]
struct LabSummary {
    name: String,
    profile: Option<String>,
    inventory: String,
    schedule: String,
    running: bool,
    next_run: Option<String>,
    last_audit: Option<LastAudit>,
    /// Why the last attempt failed or fell back on older inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
}

#[derive(Serialize)]
struct LastAudit {
    id: i64,
    started_at: String,
    verdict: String,
    duration_ms: i64,
    trigger: String,
    summary: crate::report::Summary,
}

async fn labs(State(s): Shr) -> Json<Vec<LabSummary>> {
    Json(
        s.labs()
            .iter()
            .map(|lab| {
                let cfg = lab.config();
                let st = lab.state();
                LabSummary {
                    name: lab.name.clone(),
                    profile: cfg.profile.clone(),
                    inventory: cfg.inventory.display().to_string(),
                    schedule: cfg.schedule.describe(),
                    running: st.running,
                    next_run: st.next_run.map(|t| t.to_string()),
                    last_audit: st.latest.as_ref().map(|l| LastAudit {
                        id: l.row.id,
                        started_at: l.row.started_at.clone(),
                        verdict: l.row.verdict.clone(),
                        duration_ms: l.row.duration_ms,
                        trigger: l.row.trigger.clone(),
                        summary: l.report.summary.clone(),
                    }),
                    last_error: st.last_error.clone(),
                }
            })
            .collect(),
    )
}

async fn latest(State(s): Shr, Path(name): Path<String>) -> Response {
    let lab = match find_lab(&s, &name) {
        Ok(l) => l,
        Err(r) => return r,
    };
    match lab.latest() {
        Some(l) => json_text(l.json.clone()),
        None => error(StatusCode::NOT_FOUND, format!("no audit of `{name}` yet")),
    }
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<usize>,
}

async fn history(State(s): Shr, Path(name): Path<String>, Query(q): Query<Limit>) -> Response {
    if let Err(r) = find_lab(&s, &name) {
        return r;
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let store = s.store.clone();
    match blocking(move || store.history(&name, limit)).await {
        Ok(rows) => Json(rows).into_response(),
        Err(r) => r,
    }
}

async fn lab_sla(State(s): Shr, Path(name): Path<String>) -> Response {
    let lab = match find_lab(&s, &name) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let store = s.store.clone();
    let window = s.config().sla_window;
    let cfg = lab.config();
    let inputs = lab.state().inputs.clone();
    match blocking(move || sla::measure(&store, &cfg, inputs.as_ref().map(|i| &i.1), window)).await
    {
        Ok(m) => Json(m).into_response(),
        Err(r) => r,
    }
}

async fn report(State(s): Shr, Path(id): Path<i64>) -> Response {
    let store = s.store.clone();
    match blocking(move || store.get(id)).await {
        Ok(Some(a)) => json_text(a.json),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("no audit {id} in the history"),
        ),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct DiffQuery {
    from: i64,
    to: i64,
}

async fn diff_reports(State(s): Shr, Query(q): Query<DiffQuery>) -> Response {
    let store = s.store.clone();
    match blocking(move || Ok((store.get(q.from)?, store.get(q.to)?))).await {
        Ok((Some(a), Some(b))) => Json(diff::diff(&a.report, &b.report)).into_response(),
        Ok(_) => error(StatusCode::NOT_FOUND, "no such audit in the history"),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct RunQuery {
    #[serde(default)]
    wait: bool,
}

/// Constant-time comparison, so the token cannot be guessed byte by byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorised(s: &Shared, headers: &HeaderMap) -> bool {
    let cfg = s.config();
    let Some(token) = &cfg.token else {
        return true;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| same(given.trim().as_bytes(), token.expose().as_bytes()))
}

async fn run_now(
    State(s): Shr,
    Path(name): Path<String>,
    Query(q): Query<RunQuery>,
    headers: HeaderMap,
) -> Response {
    if !authorised(&s, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(serde_json::json!({"error": "this endpoint needs the API token: Authorization: Bearer TOKEN"})),
        )
            .into_response();
    }
    let lab = match find_lab(&s, &name) {
        Ok(l) => l,
        Err(r) => return r,
    };
    if lab.run_lock.try_lock().is_err() {
        return error(
            StatusCode::CONFLICT,
            format!("an audit of `{name}` is already running"),
        );
    }
    // Spawned: a client that disconnects does not cancel the audit.
    let (s2, lab2) = (s.clone(), lab.clone());
    let task = tokio::spawn(async move { run_audit(&s2, &lab2, "api").await });
    if !q.wait {
        return (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"status": "started"})),
        )
            .into_response();
    }
    match task.await {
        Ok(RunOutcome::Done(id)) => {
            let verdict = lab.latest().map(|l| l.row.verdict.clone());
            Json(serde_json::json!({"status": "done", "id": id, "verdict": verdict}))
                .into_response()
        }
        Ok(RunOutcome::Busy) => error(
            StatusCode::CONFLICT,
            format!("an audit of `{name}` is already running"),
        ),
        Ok(RunOutcome::Stopping | RunOutcome::Cancelled) => {
            error(StatusCode::SERVICE_UNAVAILABLE, "the daemon is stopping")
        }
        Ok(RunOutcome::Failed(e)) => error(StatusCode::UNPROCESSABLE_ENTITY, e),
        Err(e) => internal(e),
    }
}

async fn dashboard_page(State(s): Shr) -> Response {
    let s2 = s.clone();
    match blocking(move || dashboard::render(&s2)).await {
        Ok(html) => Html(html).into_response(),
        Err(r) => r,
    }
}
