//! Databases with the inventory's accounts: `[credentials.postgres]` and
//! `[credentials.mysql]`. The version, the count of user-defined functions
//! and procedures (`dbms.procedures`, present or explicitly absent) and, for
//! PostgreSQL, streaming replication (`continuity`). Refused credentials are
//! "cannot check", never a verdict. PostgreSQL is spoken without TLS (the
//! TLS probe judges the server's SSLRequest answer); MySQL/MariaDB likewise.

use std::time::Duration;

use super::deep::{BoxFuture, HostTarget};
use super::netid::{self, cannot, capability};
use crate::facts::{Fact, FactKind};
use crate::inventory::{Credential, Secret};
use crate::untrusted;

const PROBE: &str = "sql";

pub const PG_ROUTINES: &str = "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
     WHERE n.nspname NOT IN ('pg_catalog','information_schema')";
pub const MYSQL_ROUTINES: &str = "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA \
     NOT IN ('sys','mysql','information_schema','performance_schema')";

pub fn probe(target: &HostTarget) -> BoxFuture<'_, Vec<Fact>> {
    Box::pin(run(target))
}

async fn run(t: &HostTarget) -> Vec<Fact> {
    let mut facts = Vec::new();
    if !netid::may_probe(t) {
        return facts;
    }
    let bound = netid::session_bound(t.timeout);
    if netid::tcp_open(t, 5432) {
        match netid::credential(t, "postgres") {
            None => {}
            Some(Err(reason)) => facts.push(cannot(PROBE, 5432, "postgresql", reason)),
            Some(Ok((cred, secret))) => {
                let Ok(_permit) = t.limit.acquire().await else {
                    return facts;
                };
                match tokio::time::timeout(bound, postgres(t, cred, &secret)).await {
                    Ok(Ok(f)) => facts.extend(f),
                    Ok(Err(reason)) => facts.push(cannot(PROBE, 5432, "postgresql", reason)),
                    Err(_) => facts.push(cannot(
                        PROBE,
                        5432,
                        "postgresql",
                        "no answer within the timeout".into(),
                    )),
                }
            }
        }
    }
    if netid::tcp_open(t, 3306) {
        match netid::credential(t, "mysql") {
            None => {}
            Some(Err(reason)) => facts.push(cannot(PROBE, 3306, "mysql", reason)),
            Some(Ok((cred, secret))) => {
                let Ok(_permit) = t.limit.acquire().await else {
                    return facts;
                };
                match tokio::time::timeout(bound, mysql(t, cred, &secret, t.timeout)).await {
                    Ok(Ok(f)) => facts.extend(f),
                    Ok(Err(reason)) => facts.push(cannot(PROBE, 3306, "mysql", reason)),
                    Err(_) => facts.push(cannot(
                        PROBE,
                        3306,
                        "mysql",
                        "no answer within the timeout".into(),
                    )),
                }
            }
        }
    }
    facts
}

/// `PostgreSQL 16.4 (Debian 16.4-1) on x86_64…` → `16.4`;
/// `10.11.6-MariaDB-0+deb12u1` → `10.11.6`.
pub fn version_number(text: &str) -> Option<String> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let v: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let v = v.trim_end_matches('.');
    (!v.is_empty()).then(|| v.to_string())
}

fn service(port: u16, product: &str, name: &str, full: &str) -> Fact {
    Fact {
        probe: PROBE.into(),
        port: Some(port),
        kind: FactKind::Service {
            product: product.into(),
            name: name.into(),
            version: version_number(full).map(|v| untrusted::quote(v.as_bytes(), 64)),
            capabilities: vec!["dbms".into()],
            open_source: Some(true),
        },
    }
}

fn procedures(port: u16, who: &str, count: i64) -> Fact {
    capability(
        PROBE,
        port,
        "dbms.procedures",
        count > 0,
        format!("{count} user-defined function(s)/procedure(s) visible to {who}"),
    )
}

async fn postgres(t: &HostTarget, cred: &Credential, secret: &Secret) -> Result<Vec<Fact>, String> {
    let user = cred.user.clone().unwrap_or_else(|| "postgres".into());
    let mut config = tokio_postgres::Config::new();
    config
        .hostaddr(t.host.address)
        .port(5432)
        .user(&user)
        .password(secret.expose())
        .connect_timeout(t.timeout)
        .application_name("labcheck");
    if let Some(db) = &cred.database {
        config.dbname(db);
    }
    let who = untrusted::quote(
        format!("{user}@{}", cred.database.as_deref().unwrap_or(&user)).as_bytes(),
        80,
    );
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| pg_error(&e, &who))?;
    let driver = tokio::spawn(connection);
    let mut facts = Vec::new();
    let version: String = client
        .query_one("SELECT version()", &[])
        .await
        .map_err(|e| pg_error(&e, &who))?
        .get(0);
    facts.push(service(5432, "postgresql", "PostgreSQL", &version));
    match client.query_one(PG_ROUTINES, &[]).await {
        Ok(row) => facts.push(procedures(5432, &who, row.get::<_, i64>(0))),
        Err(e) => facts.push(cannot(PROBE, 5432, "dbms.procedures", pg_error(&e, &who))),
    }
    // Rows only show to a superuser or pg_monitor; an empty answer proves
    // nothing, so only replicas seen count.
    if let Ok(rows) = client
        .query(
            "SELECT coalesce(client_addr::text, 'local'), state FROM pg_stat_replication",
            &[],
        )
        .await
        && !rows.is_empty()
    {
        let shown: Vec<String> = rows
            .iter()
            .map(|r| format!("{} ({})", r.get::<_, String>(0), r.get::<_, String>(1)))
            .collect();
        facts.push(capability(
            PROBE,
            5432,
            "continuity",
            true,
            untrusted::quote(
                format!("PostgreSQL streaming replication to {}", shown.join(", ")).as_bytes(),
                300,
            ),
        ));
    }
    drop(client);
    driver.abort();
    Ok(facts)
}

fn pg_error(e: &tokio_postgres::Error, who: &str) -> String {
    use tokio_postgres::error::SqlState;
    match e.code() {
        Some(c)
            if *c == SqlState::INVALID_PASSWORD
                || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            format!("PostgreSQL refused the credentials of {who}: cannot verify")
        }
        // The server's own message quotes no password.
        _ => untrusted::quote(format!("PostgreSQL as {who}: {e}").as_bytes(), 200),
    }
}

async fn mysql(
    t: &HostTarget,
    cred: &Credential,
    secret: &Secret,
    timeout: Duration,
) -> Result<Vec<Fact>, String> {
    use mysql_async::prelude::Queryable;
    let user = cred.user.clone().unwrap_or_else(|| "root".into());
    let who = untrusted::quote(user.as_bytes(), 80);
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(t.host.address.to_string())
        .tcp_port(3306)
        .prefer_socket(false)
        .user(Some(user.clone()))
        .pass(Some(secret.expose().to_string()))
        .db_name(cred.database.clone())
        .wait_timeout(Some(timeout.as_secs().max(1) as usize));
    let mut conn = mysql_async::Conn::new(opts)
        .await
        .map_err(|e| mysql_error(&e, &who))?;
    let mut facts = Vec::new();
    let version: Option<String> = conn
        .query_first("SELECT VERSION()")
        .await
        .map_err(|e| mysql_error(&e, &who))?;
    if let Some(v) = version {
        let (product, name) = if v.contains("MariaDB") {
            ("mariadb", "MariaDB")
        } else {
            ("mysql", "MySQL")
        };
        facts.push(service(3306, product, name, &v));
    }
    match conn.query_first::<i64, _>(MYSQL_ROUTINES).await {
        Ok(Some(n)) => facts.push(procedures(3306, &who, n)),
        Ok(None) => {}
        Err(e) => facts.push(cannot(
            PROBE,
            3306,
            "dbms.procedures",
            mysql_error(&e, &who),
        )),
    }
    let _ = conn.disconnect().await;
    Ok(facts)
}

fn mysql_error(e: &mysql_async::Error, who: &str) -> String {
    match e {
        // 1045 access denied, 1044 no access to the database, 1698 auth plugin refused.
        mysql_async::Error::Server(s) if matches!(s.code, 1044 | 1045 | 1698) => {
            format!(
                "MySQL/MariaDB refused the credentials of {who} (error {}): cannot verify",
                s.code
            )
        }
        _ => untrusted::quote(format!("MySQL/MariaDB as {who}: {e}").as_bytes(), 200),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_the_banners() {
        assert_eq!(
            version_number("PostgreSQL 16.4 (Debian 16.4-1.pgdg120+1) on x86_64-pc-linux-gnu"),
            Some("16.4".into())
        );
        assert_eq!(
            version_number("10.11.6-MariaDB-0+deb12u1"),
            Some("10.11.6".into())
        );
        assert_eq!(version_number("no digits"), None);
    }

    #[test]
    fn zero_routines_is_an_explicit_absence() {
        let f = procedures(5432, "audit@gsb", 0);
        assert!(matches!(
            f.kind,
            FactKind::Capability { present: false, .. }
        ));
        let f = procedures(5432, "audit@gsb", 2);
        assert!(matches!(f.kind, FactKind::Capability { present: true, .. }));
    }
}
