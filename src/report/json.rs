//! `--format json`: the versioned report contract (see docs/json-report.md).
//! serde_json escapes every string, so lab text needs nothing more here.

use super::AuditReport;

pub fn render(report: &AuditReport) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("the report model always serializes");
    s.push('\n');
    s
}
