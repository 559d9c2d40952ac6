//! The audit history: an embedded SQLite database (WAL mode). Each audit is
//! written in one transaction (its JSON report, its verdict, each
//! requirement's status and each probed port's outcome), so a process killed
//! at any moment leaves either the whole audit or none of it.
//!
//! The schema version is SQLite's `user_version`; [`MIGRATIONS`] brings an
//! older database up to date at open time, and a newer one is refused.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::Serialize;

use crate::report::AuditReport;

/// Each entry moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: audits, requirement statuses, port outcomes.
    "CREATE TABLE audits (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        lab TEXT NOT NULL,
        started_at TEXT NOT NULL,
        started_unix INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        verdict TEXT NOT NULL,
        trigger TEXT NOT NULL,
        report TEXT NOT NULL
     );
     CREATE INDEX audits_lab_id ON audits(lab, id);
     CREATE INDEX audits_started ON audits(started_unix);
     CREATE TABLE requirement_status (
        audit_id INTEGER NOT NULL REFERENCES audits(id) ON DELETE CASCADE,
        requirement TEXT NOT NULL,
        status TEXT NOT NULL,
        PRIMARY KEY (audit_id, requirement)
     ) WITHOUT ROWID;
     CREATE INDEX requirement_status_req ON requirement_status(requirement, audit_id);
     CREATE TABLE port_status (
        audit_id INTEGER NOT NULL REFERENCES audits(id) ON DELETE CASCADE,
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        PRIMARY KEY (audit_id, host, port)
     ) WITHOUT ROWID;",
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The history database. One writer connection, a few readers (WAL lets
/// readers run while the writer writes).
pub struct Store {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
}

/// One audit of the history, without its report.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub lab: String,
    pub started_at: String,
    pub duration_ms: i64,
    pub verdict: String,
    pub trigger: String,
}

/// One audit with its report.
#[derive(Debug, Clone)]
pub struct StoredAudit {
    pub row: AuditRow,
    pub report: AuditReport,
    /// The report exactly as stored (JSON report v1).
    pub json: String,
}

/// One audit in the conformity chart.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesPoint {
    pub id: i64,
    pub verdict: String,
    /// Requirements and groups conform or attested.
    pub met: i64,
    pub total: i64,
}

/// Availability of one port over a window.
#[derive(Debug, Clone, Serialize)]
pub struct Availability {
    pub audits: i64,
    pub up: i64,
}

/// The default history file: `$XDG_DATA_HOME/labcheck/labcheck.db`, else
/// `~/.local/share/labcheck/labcheck.db`.
pub fn default_path() -> Result<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(h) => PathBuf::from(h).join(".local/share"),
            None => bail!("neither XDG_DATA_HOME nor HOME is set; pass --db FILE"),
        },
    };
    Ok(base.join("labcheck").join("labcheck.db"))
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the history at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the folder of {}", path.display()))?;
        }
        let writer = Connection::open(path)
            .with_context(|| format!("opening the history {}", path.display()))?;
        configure(&writer)?;
        let mode: String =
            writer.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            bail!("{}: could not switch to WAL mode ({mode})", path.display());
        }
        // In WAL mode NORMAL is safe against a killed process (only a power
        // loss may drop the last transactions, never corrupt the file).
        writer.pragma_update(None, "synchronous", "NORMAL")?;
        migrate(&writer).with_context(|| format!("migrating {}", path.display()))?;
        let mut readers = Vec::new();
        for _ in 0..4 {
            let r = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            configure(&r)?;
            readers.push(Mutex::new(r));
        }
        Ok(Store {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        for r in &self.readers {
            if let Ok(c) = r.try_lock() {
                return f(&c);
            }
        }
        let c = self.readers[0].lock().unwrap_or_else(|e| e.into_inner());
        f(&c)
    }

    /// Records one audit; returns its id.
    pub fn insert(&self, lab: &str, report: &AuditReport, trigger: &str) -> Result<i64> {
        let json = serde_json::to_string(report)?;
        let started_unix = report
            .started_at
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_second())
            .unwrap_or_else(|_| jiff::Timestamp::now().as_second());
        let mut c = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let tx = c.transaction()?;
        tx.execute(
            "INSERT INTO audits (lab, started_at, started_unix, duration_ms, verdict, trigger, report)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                lab,
                report.started_at,
                started_unix,
                report.duration_ms as i64,
                report.verdict.as_str(),
                trigger,
                json
            ],
        )?;
        let id = tx.last_insert_rowid();
        {
            let mut st = tx.prepare(
                "INSERT OR REPLACE INTO requirement_status (audit_id, requirement, status) VALUES (?1, ?2, ?3)",
            )?;
            for r in &report.requirements {
                st.execute(params![id, r.id, r.status.as_str()])?;
            }
            for g in &report.groups {
                st.execute(params![id, g.id, g.status.as_str()])?;
            }
            let mut ps = tx.prepare(
                "INSERT OR REPLACE INTO port_status (audit_id, host, port, outcome) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for h in &report.hosts {
                for p in &h.ports {
                    ps.execute(params![id, h.name, p.port, p.outcome])?;
                }
            }
        }
        tx.commit()?;
        Ok(id)
    }

    /// Deletes audits that started more than `days` days ago; returns how many.
    pub fn prune(&self, days: u32) -> Result<usize> {
        let cutoff = jiff::Timestamp::now().as_second() - i64::from(days) * 86_400;
        let c = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        Ok(c.execute("DELETE FROM audits WHERE started_unix < ?1", [cutoff])?)
    }

    /// The newest audits of a lab, newest first.
    pub fn history(&self, lab: &str, limit: usize) -> Result<Vec<AuditRow>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT id, lab, started_at, duration_ms, verdict, trigger FROM audits
                 WHERE lab = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = st
                .query_map(params![lab, limit as i64], row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Per audit of the newest `limit` of a lab, oldest first: id, verdict,
    /// met (conform or attested) and total requirement counts. The
    /// dashboard's chart.
    pub fn conformity_series(&self, lab: &str, limit: usize) -> Result<Vec<SeriesPoint>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT a.id, a.verdict,
                        SUM(CASE WHEN r.status IN ('conform','attested') THEN 1 ELSE 0 END),
                        COUNT(r.status)
                 FROM (SELECT id, verdict FROM audits WHERE lab = ?1 ORDER BY id DESC LIMIT ?2) a
                 LEFT JOIN requirement_status r ON r.audit_id = a.id
                 GROUP BY a.id ORDER BY a.id",
            )?;
            let rows = st
                .query_map(params![lab, limit as i64], |r| {
                    Ok(SeriesPoint {
                        id: r.get(0)?,
                        verdict: r.get(1)?,
                        met: r.get(2)?,
                        total: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// One audit with its report.
    pub fn get(&self, id: i64) -> Result<Option<StoredAudit>> {
        self.read(|c| {
            c.query_row(
                "SELECT id, lab, started_at, duration_ms, verdict, trigger, report FROM audits WHERE id = ?1",
                [id],
                |r| Ok((row(r)?, r.get::<_, String>(6)?)),
            )
            .optional()?
            .map(stored)
            .transpose()
        })
    }

    /// The newest audit of a lab.
    pub fn latest(&self, lab: &str) -> Result<Option<StoredAudit>> {
        self.read(|c| {
            c.query_row(
                "SELECT id, lab, started_at, duration_ms, verdict, trigger, report FROM audits
                 WHERE lab = ?1 ORDER BY id DESC LIMIT 1",
                [lab],
                |r| Ok((row(r)?, r.get::<_, String>(6)?)),
            )
            .optional()?
            .map(stored)
            .transpose()
        })
    }

    /// When the requirement last took its current status in this lab's
    /// history: the `started_at` of the first audit of the current run.
    pub fn status_since(&self, lab: &str, requirement: &str) -> Result<Option<String>> {
        self.read(|c| {
            Ok(c.query_row(
                "WITH cur AS (
                    SELECT r.status FROM audits a JOIN requirement_status r ON r.audit_id = a.id
                    WHERE a.lab = ?1 AND r.requirement = ?2 ORDER BY a.id DESC LIMIT 1),
                 last_other AS (
                    SELECT COALESCE(MAX(a.id), 0) AS id FROM audits a
                    JOIN requirement_status r ON r.audit_id = a.id
                    WHERE a.lab = ?1 AND r.requirement = ?2 AND r.status <> (SELECT status FROM cur))
                 SELECT a.started_at FROM audits a JOIN requirement_status r ON r.audit_id = a.id
                 WHERE a.lab = ?1 AND r.requirement = ?2 AND a.id > (SELECT id FROM last_other)
                 ORDER BY a.id LIMIT 1",
                params![lab, requirement],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    /// How often `host:port` answered (`open`) in the audits of the last
    /// `window_secs` seconds. Audits that did not probe the port don't count.
    pub fn availability(
        &self,
        lab: &str,
        host: &str,
        port: u16,
        window_secs: i64,
    ) -> Result<Availability> {
        let since = jiff::Timestamp::now().as_second() - window_secs;
        self.read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN p.outcome = 'open' THEN 1 ELSE 0 END), 0)
                 FROM audits a JOIN port_status p ON p.audit_id = a.id
                 WHERE a.lab = ?1 AND p.host = ?2 AND p.port = ?3 AND a.started_unix >= ?4",
                params![lab, host, port, since],
                |r| {
                    Ok(Availability {
                        audits: r.get(0)?,
                        up: r.get(1)?,
                    })
                },
            )?)
        })
    }

    /// `PRAGMA integrity_check` plus a parse of every stored report; returns
    /// the problems found (empty when the history is sound).
    pub fn check(&self) -> Result<Vec<String>> {
        self.read(|c| {
            let mut problems = Vec::new();
            let ic: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            if ic != "ok" {
                problems.push(format!("integrity_check: {ic}"));
            }
            let mut st = c.prepare("SELECT id, report FROM audits")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                let json: String = r.get(1)?;
                if let Err(e) = serde_json::from_str::<AuditReport>(&json) {
                    problems.push(format!("audit {id}: {e}"));
                }
            }
            Ok(problems)
        })
    }

    /// A cheap query that proves the database answers (for /healthz).
    pub fn ping(&self) -> Result<()> {
        self.read(|c| {
            c.query_row("SELECT 1", [], |_| Ok(()))?;
            Ok(())
        })
    }

    /// Copies the WAL into the main file (at shutdown).
    pub fn checkpoint(&self) {
        let w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = w.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
            tracing::warn!("checkpointing the history: {e}");
        }
    }

    /// Closes the connections, checkpointing the WAL into the main file.
    pub fn close(self) -> Result<()> {
        drop(self.readers);
        let w = self.writer.into_inner().unwrap_or_else(|e| e.into_inner());
        let _ = w.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        w.close().map_err(|(_, e)| e)?;
        Ok(())
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        id: r.get(0)?,
        lab: r.get(1)?,
        started_at: r.get(2)?,
        duration_ms: r.get(3)?,
        verdict: r.get(4)?,
        trigger: r.get(5)?,
    })
}

fn stored((row, json): (AuditRow, String)) -> Result<StoredAudit> {
    let report = serde_json::from_str(&json)
        .with_context(|| format!("audit {} of the history: unreadable report", row.id))?;
    Ok(StoredAudit { row, report, json })
}

fn migrate(c: &Connection) -> Result<()> {
    let version: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        bail!(
            "the history has schema version {version}, newer than this labcheck ({SCHEMA_VERSION}); use a newer labcheck"
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = c.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
