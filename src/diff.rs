//! What changed between two audit reports: the verdict, each requirement's
//! and each group's status, and the services seen. Shared by `labcheck diff`,
//! the daemon's API and its webhook so all three say the same thing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::evaluate::{Overall, Status};
use crate::report::AuditReport;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportDiff {
    pub lab: String,
    /// `started_at` of the older and the newer report.
    pub from_started_at: String,
    pub to_started_at: String,
    /// Present only when the verdict changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<VerdictChange>,
    /// Requirements whose status changed, appeared or disappeared.
    pub requirements: Vec<StatusChange>,
    pub groups: Vec<StatusChange>,
    /// Services (`host:port product`) that appeared or disappeared.
    pub services_added: Vec<String>,
    pub services_removed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictChange {
    pub from: Overall,
    pub to: Overall,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub id: String,
    pub title: String,
    /// `None`: not in the older report.
    pub from: Option<Status>,
    /// `None`: not in the newer report.
    pub to: Option<Status>,
}

impl ReportDiff {
    /// True when neither the verdict nor any requirement or group status changed
    /// (services alone do not count as a change worth an alert).
    pub fn is_empty(&self) -> bool {
        self.verdict.is_none() && self.requirements.is_empty() && self.groups.is_empty()
    }

    /// A few readable lines.
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "{}: {} → {}\n",
            self.lab, self.from_started_at, self.to_started_at
        );
        if self.is_empty() && self.services_added.is_empty() && self.services_removed.is_empty() {
            out.push_str("no change\n");
            return out;
        }
        if let Some(v) = &self.verdict {
            out.push_str(&format!(
                "verdict: {} → {}\n",
                v.from.as_str(),
                v.to.as_str()
            ));
        }
        for (kind, list) in [("requirement", &self.requirements), ("group", &self.groups)] {
            for c in list {
                out.push_str(&format!(
                    "{kind} {}: {} → {}  ({})\n",
                    c.id,
                    status_name(c.from),
                    status_name(c.to),
                    c.title
                ));
            }
        }
        for s in &self.services_added {
            out.push_str(&format!("service + {s}\n"));
        }
        for s in &self.services_removed {
            out.push_str(&format!("service - {s}\n"));
        }
        out
    }
}

fn status_name(s: Option<Status>) -> &'static str {
    s.map(Status::as_str).unwrap_or("absent")
}

/// The changes from `old` to `new`.
pub fn diff(old: &AuditReport, new: &AuditReport) -> ReportDiff {
    let verdict = (old.verdict != new.verdict).then_some(VerdictChange {
        from: old.verdict,
        to: new.verdict,
    });
    let requirements = changes(
        old.requirements
            .iter()
            .map(|r| (r.id.as_str(), (r.status, r.title.as_str()))),
        new.requirements
            .iter()
            .map(|r| (r.id.as_str(), (r.status, r.title.as_str()))),
    );
    let groups = changes(
        old.groups
            .iter()
            .map(|g| (g.id.as_str(), (g.status, g.title.as_str()))),
        new.groups
            .iter()
            .map(|g| (g.id.as_str(), (g.status, g.title.as_str()))),
    );
    let services = |r: &AuditReport| -> Vec<String> {
        let mut v: Vec<String> = r
            .hosts
            .iter()
            .flat_map(|h| {
                h.services
                    .iter()
                    .map(move |s| format!("{}:{} {}", h.name, s.port, s.product))
            })
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let (so, sn) = (services(old), services(new));
    ReportDiff {
        lab: new.lab.clone(),
        from_started_at: old.started_at.clone(),
        to_started_at: new.started_at.clone(),
        verdict,
        requirements,
        groups,
        services_added: sn.iter().filter(|s| !so.contains(s)).cloned().collect(),
        services_removed: so.iter().filter(|s| !sn.contains(s)).cloned().collect(),
    }
}

fn changes<'a>(
    old: impl Iterator<Item = (&'a str, (Status, &'a str))>,
    new: impl Iterator<Item = (&'a str, (Status, &'a str))>,
) -> Vec<StatusChange> {
    let old: BTreeMap<&str, (Status, &str)> = old.collect();
    let new: BTreeMap<&str, (Status, &str)> = new.collect();
    let mut ids: Vec<&str> = old.keys().chain(new.keys()).copied().collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .filter_map(|id| {
            let (o, n) = (old.get(id), new.get(id));
            if o.map(|x| x.0) == n.map(|x| x.0) {
                return None;
            }
            Some(StatusChange {
                id: id.to_string(),
                title: n.or(o).map(|x| x.1.to_string()).unwrap_or_default(),
                from: o.map(|x| x.0),
                to: n.map(|x| x.0),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(verdict: &str, reqs: &[(&str, &str)]) -> AuditReport {
        let reqs: Vec<serde_json::Value> = reqs
            .iter()
            .map(|(id, st)| {
                serde_json::json!({"id": id, "section": "1", "title": format!("t {id}"),
                "wording": "w", "mandatory": true, "evidence_class": "probe", "status": st,
                "explanation": "", "evidence": []})
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "schema_version": 1, "tool": {"name": "labcheck", "version": "0"},
            "lab": "l", "profile": "sisr", "lang": "en", "started_at": "t",
            "duration_ms": 1, "verdict": verdict,
            "summary": {"conform": 0, "non_conform": 0, "cannot_verify": 0, "attested": 0},
            "requirements": reqs, "groups": [], "hosts": []
        }))
        .unwrap()
    }

    #[test]
    fn same_report_has_no_change() {
        let a = report("conform", &[("a", "conform")]);
        let d = diff(&a, &a);
        assert!(d.is_empty());
        assert!(d.render_text().contains("no change"));
    }

    #[test]
    fn status_and_verdict_changes_are_listed() {
        let a = report("conform", &[("a", "conform"), ("b", "conform")]);
        let b = report(
            "non-conform",
            &[("a", "conform"), ("b", "non-conform"), ("c", "attested")],
        );
        let d = diff(&a, &b);
        assert_eq!(
            d.verdict,
            Some(VerdictChange {
                from: Overall::Conform,
                to: Overall::NonConform
            })
        );
        assert_eq!(d.requirements.len(), 2);
        assert_eq!(d.requirements[0].id, "b");
        assert_eq!(d.requirements[0].to, Some(Status::NonConform));
        assert_eq!(d.requirements[1].from, None);
        let t = d.render_text();
        assert!(t.contains("requirement b: conform → non-conform"), "{t}");
    }
}
