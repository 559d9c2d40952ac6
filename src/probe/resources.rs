//! Secured resources (`[[resource]]`) and applications (`[[application]]`)
//! of the inventory, checked over HTTP(S).
//!
//! A resource is asked for anonymously (a 401/403, or a redirect to a login
//! page, shows access is controlled), then with the declared account over
//! HTTP Basic. The password is only ever put in the request's Authorization
//! header, and over HTTPS only to a server whose certificate the lab's CA
//! vouches for: an unverified server could be anyone.

use std::sync::Arc;

use super::deep::{BoxFuture, LabTarget};
use super::http::{self, Answer, Request};
use super::tls::{RecordingVerifier, load_ca, observing_config, verifying_config};
use crate::facts::{Fact, FactKind};
use crate::inventory::{Account, Inventory};
use crate::untrusted;

/// Registered in deep.rs (lab-wide).
pub fn probe(t: &LabTarget) -> BoxFuture<'_, Vec<Fact>> {
    Box::pin(run(t))
}

async fn run(t: &LabTarget) -> Vec<Fact> {
    let inv = &t.inventory;
    if inv.resources.is_empty() && inv.applications.is_empty() {
        return vec![];
    }
    let recorder = Arc::new(RecordingVerifier::new(crate::tls_provider::provider()));
    // Resources: redirects are the answer (to a login page or not).
    let anonymous = http::client(inv, t.timeout, observing_config(recorder.clone()), false);
    // Applications: followed inside the scope, as a browser would.
    let browsing = http::observing_client(inv, t.timeout);
    let (anonymous, browsing) = match (anonymous, browsing) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            return vec![cannot("resources", e)];
        }
    };
    let mut facts = vec![];
    for r in &inv.resources {
        let fact = resource(t, &anonymous, &r.name, &r.url, r.account.as_ref()).await;
        // HTTPS, anonymous refused, the account accepted by a server the lab's
        // CA vouches for (the password is sent to no other): secure access.
        if let FactKind::Resource {
            anonymous_refused: Some(true),
            account_accepted: Some(true),
            ..
        } = &fact.kind
            && r.url.starts_with("https://")
        {
            facts.push(capability(
                "http:resource",
                "secure-access",
                &format!(
                    "{}: HTTPS with a certificate of the lab CA, anonymous access refused, the declared account accepted",
                    untrusted::quote(r.name.as_bytes(), 60)
                ),
            ));
        }
        facts.push(fact);
    }
    for a in &inv.applications {
        facts.extend(application(t, &browsing, a).await);
    }
    facts
}

fn cannot(what: &str, reason: String) -> Fact {
    Fact {
        probe: "http:resource".into(),
        port: None,
        kind: FactKind::CannotCheck {
            what: what.into(),
            reason,
        },
    }
}

/// Why a URL may not be requested, if it may not.
fn refuse_url(inv: &Inventory, raw: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
    if !["http", "https"].contains(&url.scheme()) {
        return Err(format!("`{raw}`: only http and https are checked"));
    }
    match http::url_address(inv, &url) {
        None => Err(format!(
            "`{raw}`: the host is neither an address nor an inventory host name (labcheck resolves no names)"
        )),
        Some(a) if !inv.in_scope(a) => Err(format!("`{raw}`: {a} is outside the lab's scope")),
        Some(_) => Ok(url),
    }
}

/// A 3xx to something that looks like a login page.
fn redirects_to_login(a: &Answer) -> bool {
    (300..400).contains(&a.status)
        && a.header("location").is_some_and(|l| {
            let l = l.to_ascii_lowercase();
            ["login", "signin", "sign_in", "auth", "sso", "cas/", "logon"]
                .iter()
                .any(|k| l.contains(k))
        })
}

/// A login form served with a 200 (applications that do not use 401).
fn has_login_form(a: &Answer) -> bool {
    let body = String::from_utf8_lossy(&a.body).to_ascii_lowercase();
    body.contains("type=\"password\"")
        || body.contains("type='password'")
        || body.contains("type=password")
}

async fn resource(
    t: &LabTarget,
    anonymous: &reqwest::Client,
    name: &str,
    raw: &str,
    account: Option<&Account>,
) -> Fact {
    let fact = |anonymous_refused, account_accepted, detail: String| Fact {
        probe: "http:resource".into(),
        port: None,
        kind: FactKind::Resource {
            name: name.into(),
            anonymous_refused,
            account_accepted,
            detail,
        },
    };
    let url = match refuse_url(&t.inventory, raw) {
        Ok(u) => u,
        Err(e) => return fact(None, None, e),
    };
    let mut detail = vec![];
    let req = Request {
        method: "GET",
        url: url.to_string(),
        ..Default::default()
    };
    let anonymous_refused = match http::fetch(anonymous, &t.limit, &req).await {
        Ok(a) if a.status == 401 || a.status == 403 => {
            detail.push(format!("anonymous: {}", a.status));
            Some(true)
        }
        Ok(a) if redirects_to_login(&a) => {
            detail.push(format!("anonymous: {} to a login page", a.status));
            Some(true)
        }
        Ok(a) if (200..300).contains(&a.status) => {
            detail.push(format!(
                "anonymous: {} (served without authentication)",
                a.status
            ));
            Some(false)
        }
        Ok(a) => {
            detail.push(format!(
                "anonymous: {} (neither refused nor served)",
                a.status
            ));
            None
        }
        Err(e) => {
            detail.push(format!("anonymous: {e}"));
            None
        }
    };
    let account_accepted = match account {
        None => {
            detail.push("no account declared".into());
            None
        }
        Some(acc) => {
            let (accepted, d) = with_account(t, &url, acc).await;
            detail.push(d);
            accepted
        }
    };
    fact(anonymous_refused, account_accepted, detail.join("; "))
}

/// The declared account over HTTP Basic: accepted, refused or unknown.
async fn with_account(t: &LabTarget, url: &url::Url, acc: &Account) -> (Option<bool>, String) {
    let user = untrusted::quote(acc.user.as_bytes(), 60);
    let secret = match acc.secret().resolve() {
        Ok(s) => s,
        // The error names the reference (variable, file), never a value.
        Err(e) => return (None, format!("account {user}: {e}")),
    };
    let client = if url.scheme() == "https" {
        let roots = match load_ca(&t.inventory) {
            Ok(Some(r)) => r,
            Ok(None) => {
                return (
                    None,
                    format!(
                        "account {user}: password not sent, no [lab] ca to verify the server's certificate"
                    ),
                );
            }
            Err(e) => return (None, format!("account {user}: password not sent, {e}")),
        };
        http::client(&t.inventory, t.timeout, verifying_config(roots), false)
    } else {
        let recorder = Arc::new(RecordingVerifier::new(crate::tls_provider::provider()));
        http::client(&t.inventory, t.timeout, observing_config(recorder), false)
    };
    let client = match client {
        Ok(c) => c,
        Err(e) => return (None, format!("account {user}: {e}")),
    };
    let req = Request {
        method: "GET",
        url: url.to_string(),
        basic: Some((&acc.user, secret.expose())),
        ..Default::default()
    };
    match http::fetch(&client, &t.limit, &req).await {
        Ok(a) if (200..300).contains(&a.status) => (
            Some(true),
            format!("account {user}: {} (accepted)", a.status),
        ),
        Ok(a) if a.status == 401 || a.status == 403 => (
            Some(false),
            format!("account {user}: {} (refused)", a.status),
        ),
        Ok(a) => (None, format!("account {user}: {}", a.status)),
        // A certificate the CA does not vouch for fails the handshake,
        // before the Authorization header is ever sent.
        Err(e) => (None, format!("account {user}: {e}")),
    }
}

async fn application(
    t: &LabTarget,
    client: &reqwest::Client,
    app: &crate::inventory::Application,
) -> Vec<Fact> {
    let mut facts = vec![];
    let mut detail = vec![];
    let (mut tls, mut auth_required, mut api_answers, mut browser) = (false, false, false, false);
    if let Some(raw) = &app.url {
        match refuse_url(&t.inventory, raw) {
            Err(e) => detail.push(e),
            Ok(url) => {
                let req = Request {
                    method: "GET",
                    url: url.to_string(),
                    ..Default::default()
                };
                match http::fetch(client, &t.limit, &req).await {
                    Ok(a) => {
                        tls = url.scheme() == "https";
                        auth_required = a.status == 401
                            || a.status == 403
                            || redirects_to_login(&a)
                            || has_login_form(&a);
                        browser = tls && a.is_html() && a.status < 500;
                        let mut d = format!("{} {}", url.scheme().to_uppercase(), a.status);
                        if let Some(title) = a.title() {
                            d.push_str(&format!(", title “{title}”"));
                        }
                        if auth_required {
                            d.push_str(", authentication required");
                        }
                        detail.push(d);
                    }
                    Err(e) => detail.push(format!("url: {e}")),
                }
            }
        }
    }
    if let Some(raw) = &app.api {
        match refuse_url(&t.inventory, raw) {
            Err(e) => detail.push(e),
            Ok(url) => {
                let req = Request {
                    method: "GET",
                    url: url.to_string(),
                    headers: vec![("Accept", "application/json")],
                    ..Default::default()
                };
                match http::fetch(client, &t.limit, &req).await {
                    Ok(a) => {
                        let json = serde_json::from_slice::<serde_json::Value>(&a.body).is_ok();
                        api_answers =
                            ((200..300).contains(&a.status) || a.status == 401 || a.status == 403)
                                && (json || a.body.is_empty());
                        detail.push(format!(
                            "api {}{}",
                            a.status,
                            if json { " JSON" } else { "" }
                        ));
                    }
                    Err(e) => detail.push(format!("api: {e}")),
                }
            }
        }
    }
    let name = untrusted::quote(app.name.as_bytes(), 60);
    facts.push(Fact {
        probe: "http:application".into(),
        port: None,
        kind: FactKind::Application {
            name: app.name.clone(),
            tls,
            auth_required,
            api_answers,
            detail: detail.join("; "),
        },
    });
    if browser {
        facts.push(capability(
            "http:application",
            "situation.browser",
            &format!("{name}: HTML over HTTPS"),
        ));
    }
    if api_answers {
        facts.push(capability(
            "http:application",
            "remote-api",
            &format!("{name}: the API answers"),
        ));
    }
    facts
}

fn capability(probe: &str, name: &str, detail: &str) -> Fact {
    Fact {
        probe: probe.into(),
        port: None,
        kind: FactKind::Capability {
            name: name.into(),
            present: true,
            detail: detail.into(),
        },
    }
}
