//! Alerts: a JSON POST to the configured webhook when a lab's verdict or a
//! requirement's status changes. A minimal HTTP/1.1 client over a tokio
//! TcpStream (plain http; one request per connection), with a timeout per
//! attempt and retries with a growing pause.

use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::config::Alerts;
use crate::diff::ReportDiff;
use crate::evaluate::Overall;

#[derive(Debug, Clone, Serialize)]
pub struct Payload {
    pub event: &'static str,
    pub lab: String,
    pub audit_id: i64,
    pub previous_audit_id: i64,
    pub verdict: Overall,
    pub previous_verdict: Overall,
    pub diff: ReportDiff,
}

/// Delivers the payload; true when the receiver answered 2xx.
pub async fn deliver(alerts: &Alerts, payload: &Payload) -> bool {
    let Some(url) = &alerts.webhook else {
        return true;
    };
    let body = match serde_json::to_vec(payload) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("webhook: cannot encode the payload: {e}");
            return false;
        }
    };
    let attempts = alerts.retries + 1;
    for attempt in 1..=attempts {
        match tokio::time::timeout(alerts.timeout, post(url, &body)).await {
            Ok(Ok(status)) if (200..300).contains(&status) => {
                tracing::info!(lab = %payload.lab, "webhook delivered (HTTP {status})");
                return true;
            }
            Ok(Ok(status)) => {
                tracing::warn!(lab = %payload.lab, attempt, "webhook answered HTTP {status}")
            }
            Ok(Err(e)) => tracing::warn!(lab = %payload.lab, attempt, "webhook: {e}"),
            Err(_) => tracing::warn!(
                lab = %payload.lab, attempt,
                "webhook: no answer within {:?}", alerts.timeout
            ),
        }
        if attempt < attempts {
            tokio::time::sleep(Duration::from_millis(500) * attempt).await;
        }
    }
    tracing::error!(lab = %payload.lab, "webhook: giving up after {attempts} attempt(s)");
    false
}

/// One POST; returns the status code.
async fn post(url: &url::Url, body: &[u8]) -> std::io::Result<u16> {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    let mut stream = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port)).await?;
    let mut target = url.path().to_string();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let host_header = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let head = format!(
        "POST {target} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: labcheck/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    // The status line is all we need.
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 4096 {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    let status = line
        .lines()
        .next()
        .and_then(|l| {
            let mut parts = l.split_whitespace();
            let version = parts.next()?;
            if !version.starts_with("HTTP/") {
                return None;
            }
            parts.next()?.parse::<u16>().ok()
        })
        .ok_or_else(|| std::io::Error::other("not an HTTP answer"))?;
    Ok(status)
}
