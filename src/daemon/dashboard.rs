//! The HTML dashboard: one section per lab with its verdict, a small
//! conformity chart (inline SVG), each requirement's status and since when,
//! and the SLA measures. No JavaScript; refreshes itself every 30 s.

use std::fmt::Write;

use anyhow::Result;

use super::Shared;
use super::http::all_sla;
use crate::store::SeriesPoint;

/// `& < > " '` escaped: lab names and titles may hold anything.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

fn badge(status: &str) -> String {
    format!("<span class=\"b {0}\">{0}</span>", esc(status))
}

/// `2026-11-22 12:42:44 UTC` from an RFC 3339 time (as is if unparsable).
fn when(t: &str) -> String {
    match t.parse::<jiff::Timestamp>() {
        Ok(ts) => ts.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        Err(_) => esc(t),
    }
}

fn colour(verdict: &str) -> &'static str {
    match verdict {
        "conform" => "#2e7d32",
        "non-conform" => "#c62828",
        _ => "#f9a825",
    }
}

/// One bar per audit, oldest left: its height is the share of requirements
/// met (conform or attested), its colour the audit's verdict.
fn chart(series: &[SeriesPoint]) -> String {
    if series.is_empty() {
        return String::new();
    }
    let (left, w, h) = (34.0, 360.0, 64.0);
    let bar = (w - left) / series.len().max(30) as f64;
    let mut o = format!(
        "<svg class=\"chart\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"share of requirements met in the last audits\">\
<text x=\"2\" y=\"10\" font-size=\"9\">100%</text><text x=\"2\" y=\"{}\" font-size=\"9\">0%</text>\
<line x1=\"{left}\" y1=\"2\" x2=\"{w}\" y2=\"2\" stroke=\"#ddd\"/><line x1=\"{left}\" y1=\"{}\" x2=\"{w}\" y2=\"{}\" stroke=\"#999\"/>",
        h - 2.0,
        h - 1.0,
        h - 1.0
    );
    for (i, p) in series.iter().enumerate() {
        let ratio = if p.total > 0 {
            p.met as f64 / p.total as f64
        } else {
            0.0
        };
        let bh = (ratio * (h - 4.0)).max(2.0);
        let _ = write!(
            o,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>audit {}: {} ({}/{} met)</title></rect>",
            left + i as f64 * bar,
            h - 1.0 - bh,
            (bar - 1.0).max(1.0),
            colour(&p.verdict),
            p.id,
            esc(&p.verdict),
            p.met,
            p.total
        );
    }
    o.push_str("</svg>");
    o
}

pub fn render(s: &Shared) -> Result<String> {
    let mut o = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"30\">\
<title>labcheck</title><style>\
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}h2{margin-top:1.5em}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}\
.b{padding:0 .4em;border-radius:3px;color:#fff;font-weight:600}.conform,.attested{background:#2e7d32}\
.non-conform{background:#c62828}.cannot-verify,.incomplete{background:#f9a825;color:#222}.none{background:#777}\
.chart{border:1px solid #ddd;background:#fafafa}small{color:#666}</style></head><body><h1>labcheck</h1>",
    );
    let labs = s.labs();
    if labs.is_empty() {
        o.push_str("<p>No lab configured.</p>");
    }
    let sla = all_sla(s)?;
    o.push_str("<table><tr><th>lab</th><th>verdict</th><th>last audit</th><th>schedule</th><th>next run</th></tr>");
    for lab in &labs {
        let st = lab.state();
        let verdict = st.latest.as_ref().map(|l| l.row.verdict.clone());
        let _ = write!(
            o,
            "<tr><td><a href=\"#lab-{0}\">{0}</a></td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td></tr>",
            esc(&lab.name),
            badge(verdict.as_deref().unwrap_or("none")),
            st.latest
                .as_ref()
                .map(|l| when(&l.row.started_at))
                .unwrap_or_else(|| "never".into()),
            esc(&lab.config().schedule.describe()),
            if st.running {
                "running now".into()
            } else {
                st.next_run
                    .map(|t| when(&t.to_string()))
                    .unwrap_or_default()
            },
        );
    }
    o.push_str("</table>");
    for lab in &labs {
        let (latest, last_error) = {
            let st = lab.state();
            (st.latest.clone(), st.last_error.clone())
        };
        let _ = write!(o, "<h2 id=\"lab-{0}\">{0}</h2>", esc(&lab.name));
        if let Some(e) = last_error {
            let _ = write!(o, "<p><strong>Last attempt:</strong> {}</p>", esc(&e));
        }
        let Some(latest) = latest else {
            o.push_str("<p>No audit yet.</p>");
            continue;
        };
        let r = &latest.report;
        let _ = write!(
            o,
            "<p>{} — {} <small>(audit {}, {}, {} ms, <a href=\"/api/labs/{}/latest\">JSON</a>)</small></p>",
            esc(&r.lab),
            badge(r.verdict.as_str()),
            latest.row.id,
            when(&r.started_at),
            r.duration_ms,
            esc(&lab.name)
        );
        o.push_str(&chart(&s.store.conformity_series(&lab.name, 60)?));
        let lab_sla: Vec<_> = sla.iter().filter(|m| m.lab == lab.name).collect();
        if !lab_sla.is_empty() {
            o.push_str("<h3>Service levels</h3><table><tr><th>service</th><th>host:port</th><th>availability</th><th>target</th><th>audits</th></tr>");
            for m in lab_sla {
                let _ = write!(
                    o,
                    "<tr><td>{}</td><td>{}:{}</td><td>{}</td><td>{}</td><td>{}/{}</td></tr>",
                    esc(&m.service),
                    esc(&m.host),
                    m.port,
                    m.availability_percent
                        .map(|a| format!("{a:.2} %"))
                        .unwrap_or_else(|| "—".into()),
                    m.target_percent
                        .map(|t| format!("{t} % ({})", m.target_source.unwrap_or("")))
                        .unwrap_or_else(|| "none declared".into()),
                    m.up,
                    m.audits
                );
            }
            o.push_str("</table>");
        }
        o.push_str(
            "<table><tr><th>requirement</th><th>title</th><th>status</th><th>since</th></tr>",
        );
        for req in &r.requirements {
            let since = lab.state().since.get(&req.id).cloned().unwrap_or_default();
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&req.id),
                esc(&req.title),
                badge(req.status.as_str()),
                if since.is_empty() {
                    String::new()
                } else {
                    when(&since)
                }
            );
        }
        o.push_str("</table>");
    }
    o.push_str("<p><small><a href=\"/api/labs\">API</a> · <a href=\"/metrics\">metrics</a></small></p></body></html>\n");
    Ok(o)
}
