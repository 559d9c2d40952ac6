use super::*;

fn report(started_at: &str, status: &str, port_outcome: &str) -> AuditReport {
    serde_json::from_value(serde_json::json!({
        "schema_version": 1, "tool": {"name": "labcheck", "version": "0"},
        "lab": "l", "profile": "sisr", "lang": "en", "started_at": started_at,
        "duration_ms": 5, "verdict": "non-conform",
        "summary": {"conform": 0, "non_conform": 1, "cannot_verify": 0, "attested": 0},
        "requirements": [{"id": "a", "section": "1", "title": "A", "wording": "w",
            "mandatory": true, "evidence_class": "probe", "status": status,
            "explanation": "", "evidence": []}],
        "groups": [],
        "hosts": [{"name": "web", "address": "127.0.0.1", "reachable": true, "os": null,
            "services": [], "ports": [{"port": 443, "proto": "tcp", "outcome": port_outcome}]}]
    }))
    .unwrap()
}

#[test]
fn insert_history_since_and_availability() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("h.db")).unwrap();
    let now = jiff::Timestamp::now();
    let t = |k: i64| (now - jiff::SignedDuration::from_secs(100 - k)).to_string();
    s.insert("b12", &report(&t(1), "conform", "open"), "schedule")
        .unwrap();
    s.insert("b12", &report(&t(2), "non-conform", "refused"), "schedule")
        .unwrap();
    let id = s
        .insert("b12", &report(&t(3), "non-conform", "open"), "api")
        .unwrap();
    s.insert("other", &report(&t(4), "conform", "open"), "schedule")
        .unwrap();
    let h = s.history("b12", 10).unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(h[0].id, id);
    assert_eq!(s.latest("b12").unwrap().unwrap().row.id, id);
    assert_eq!(s.status_since("b12", "a").unwrap(), Some(t(2)));
    let a = s.availability("b12", "web", 443, 3600).unwrap();
    assert_eq!((a.audits, a.up), (3, 2));
    let series = s.conformity_series("b12", 10).unwrap();
    assert_eq!(
        series.iter().map(|x| x.met).collect::<Vec<_>>(),
        vec![1, 0, 0]
    );
    assert_eq!(series[0].verdict, "non-conform");
    assert!(s.check().unwrap().is_empty());
    s.close().unwrap();
    // Reopening keeps everything and does not migrate again.
    let s = Store::open(&dir.path().join("h.db")).unwrap();
    assert_eq!(s.history("b12", 10).unwrap().len(), 3);
}

#[test]
fn retention_deletes_old_audits_and_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("h.db")).unwrap();
    s.insert(
        "b12",
        &report("2020-01-01T00:00:00Z", "conform", "open"),
        "schedule",
    )
    .unwrap();
    s.insert(
        "b12",
        &report(&jiff::Timestamp::now().to_string(), "conform", "open"),
        "schedule",
    )
    .unwrap();
    assert_eq!(s.prune(30).unwrap(), 1);
    assert_eq!(s.history("b12", 10).unwrap().len(), 1);
    let orphans: i64 = s
        .read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM requirement_status WHERE audit_id NOT IN (SELECT id FROM audits)",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(orphans, 0);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("h.db");
    let c = Connection::open(&p).unwrap();
    c.pragma_update(None, "user_version", 99).unwrap();
    drop(c);
    let e = Store::open(&p).err().unwrap();
    assert!(format!("{e:#}").contains("newer"), "{e:#}");
}
