//! UDP services, one datagram and a few bounded retries each: RADIUS with
//! the declared client secret and test account (accepted, and a wrong
//! password rejected), SNMP sysDescr with the declared community, a
//! Kerberos AS-REQ (any KRB-ERROR proves a KDC), an OpenVPN hard reset, an
//! IKEv2 IKE_SA_INIT and a SQL Server Browser instance query.
//! Silence proves nothing on UDP (RADIUS and SNMP ignore unknown clients):
//! it is never reported as an absence.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use md5::{Digest, Md5};
use tokio::net::UdpSocket;

use super::deep::{BoxFuture, HostTarget};
use super::netid::{self, cannot, capability};
use crate::facts::{Fact, FactKind, OsFamily, Strength};
use crate::inventory::Secret;
use crate::untrusted;

pub const RADIUS_PORT: u16 = 1812;
pub const SNMP_PORT: u16 = 161;
pub const KERBEROS_PORT: u16 = 88;
pub const OPENVPN_PORT: u16 = 1194;
/// Datagrams sent per exchange (the first and the retries).
const TRIES: u32 = 3;

pub fn probe(target: &HostTarget) -> BoxFuture<'_, Vec<Fact>> {
    Box::pin(run(target))
}

/// How a UDP exchange ended.
#[derive(Debug, PartialEq)]
pub enum Udp {
    Answer(Vec<u8>),
    /// ICMP port unreachable: nothing listens.
    Closed,
    /// No (acceptable) answer within the timeout: proves nothing.
    Silent,
}

/// Sends `request` up to three times within `timeout` and returns the first
/// datagram `accept` recognises as the answer.
pub async fn exchange(
    addr: IpAddr,
    port: u16,
    request: &[u8],
    timeout: Duration,
    accept: impl Fn(&[u8]) -> bool,
) -> Udp {
    let local: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse().unwrap()
    } else {
        "[::]:0".parse().unwrap()
    };
    let Ok(sock) = UdpSocket::bind(local).await else {
        return Udp::Silent;
    };
    if sock.connect((addr, port)).await.is_err() {
        return Udp::Silent;
    }
    let per_try = timeout / TRIES;
    let mut buf = vec![0u8; 4096];
    for _ in 0..TRIES {
        if sock.send(request).await.is_err() {
            return Udp::Silent;
        }
        let deadline = tokio::time::Instant::now() + per_try;
        loop {
            match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
                Ok(Ok(n)) if accept(&buf[..n]) => return Udp::Answer(buf[..n].to_vec()),
                Ok(Ok(_)) => continue,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return Udp::Closed;
                }
                Ok(Err(_)) | Err(_) => break,
            }
        }
    }
    Udp::Silent
}

/// 16 unpredictable bytes for authenticators and nonces (no secret is
/// derived from them; they only have to differ between requests).
fn nonce16() -> [u8; 16] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = Md5::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    h.update(now.as_nanos().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    h.update(format!("{:p}", &COUNTER).as_bytes());
    h.finalize().into()
}

// ---------------------------------------------------------------- RADIUS

fn hmac_md5(key: &[u8], data: &[u8]) -> [u8; 16] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..16].copy_from_slice(&Md5::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Md5::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(data);
    let mut outer = Md5::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// RFC 2865 Access-Request with User-Name, User-Password (hidden with the
/// shared secret) and a Message-Authenticator (RFC 3579).
pub fn radius_request(id: u8, auth: [u8; 16], user: &str, password: &str, secret: &str) -> Vec<u8> {
    let mut attrs = Vec::new();
    let user = &user.as_bytes()[..user.len().min(253)];
    attrs.push(1);
    attrs.push(2 + user.len() as u8);
    attrs.extend_from_slice(user);
    let mut p = password.as_bytes()[..password.len().min(128)].to_vec();
    let padded = p.len().div_ceil(16).max(1) * 16;
    p.resize(padded, 0);
    let mut hidden = Vec::with_capacity(padded);
    let mut prev: Vec<u8> = auth.to_vec();
    for block in p.chunks(16) {
        let mut h = Md5::new();
        h.update(secret.as_bytes());
        h.update(&prev);
        let key = h.finalize();
        let c: Vec<u8> = block.iter().zip(key.iter()).map(|(a, b)| a ^ b).collect();
        hidden.extend_from_slice(&c);
        prev = c;
    }
    attrs.push(2);
    attrs.push(2 + hidden.len() as u8);
    attrs.extend_from_slice(&hidden);
    let ma_at = attrs.len();
    attrs.push(80);
    attrs.push(18);
    attrs.extend_from_slice(&[0; 16]);
    let len = (20 + attrs.len()) as u16;
    let mut pkt = vec![1, id];
    pkt.extend_from_slice(&len.to_be_bytes());
    pkt.extend_from_slice(&auth);
    pkt.extend_from_slice(&attrs);
    let mac = hmac_md5(secret.as_bytes(), &pkt);
    pkt[20 + ma_at + 2..20 + ma_at + 18].copy_from_slice(&mac);
    pkt
}

/// What a RADIUS server answered, once its authenticator is checked.
#[derive(Debug, PartialEq)]
pub enum RadiusAnswer {
    Accept,
    Reject,
    /// Signed with another secret (or not RADIUS at all).
    BadAuthenticator,
    Other(u8),
}

pub fn radius_answer(request: &[u8], answer: &[u8], secret: &str) -> RadiusAnswer {
    let len = answer
        .get(2..4)
        .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
        .unwrap_or(0);
    if answer.len() < 20 || len < 20 || len > answer.len() {
        return RadiusAnswer::BadAuthenticator;
    }
    let mut h = Md5::new();
    h.update(&answer[..4]);
    h.update(&request[4..20]);
    h.update(&answer[20..len]);
    h.update(secret.as_bytes());
    if h.finalize().as_slice() != &answer[4..20] {
        return RadiusAnswer::BadAuthenticator;
    }
    match answer[0] {
        2 => RadiusAnswer::Accept,
        3 => RadiusAnswer::Reject,
        c => RadiusAnswer::Other(c),
    }
}

async fn radius_once(
    addr: IpAddr,
    port: u16,
    id: u8,
    user: &str,
    password: &Secret,
    secret: &Secret,
    timeout: Duration,
) -> Result<RadiusAnswer, Udp> {
    let req = radius_request(id, nonce16(), user, password.expose(), secret.expose());
    match exchange(addr, port, &req, timeout, |a| a.len() >= 20 && a[1] == id).await {
        Udp::Answer(a) => Ok(radius_answer(&req, &a, secret.expose())),
        other => Err(other),
    }
}

/// The RADIUS check: the declared account accepted, a wrong password rejected.
pub async fn radius_check(
    addr: IpAddr,
    port: u16,
    user: &str,
    password: &Secret,
    secret: &Secret,
    timeout: Duration,
) -> Vec<Fact> {
    let who = untrusted::quote(user.as_bytes(), 80);
    let id = nonce16()[0];
    let right = radius_once(addr, port, id, user, password, secret, timeout).await;
    let fact = match right {
        Err(Udp::Closed) => return vec![],
        Err(_) => cannot(
            "radius",
            port,
            "auth.radius",
            "no RADIUS answer: a server ignores clients it does not know, so this proves nothing"
                .into(),
        ),
        Ok(RadiusAnswer::BadAuthenticator) => cannot(
            "radius",
            port,
            "auth.radius",
            "a RADIUS answer not signed with the declared shared secret".into(),
        ),
        Ok(RadiusAnswer::Reject) => cannot(
            "radius",
            port,
            "auth.verified",
            format!("RADIUS rejected the declared account {who}: cannot verify"),
        ),
        Ok(RadiusAnswer::Other(c)) => cannot(
            "radius",
            port,
            "auth.verified",
            format!("RADIUS answered code {c} for {who}"),
        ),
        Ok(RadiusAnswer::Accept) => {
            let wrong = netid::wrong_password(password);
            let second = radius_once(
                addr,
                port,
                id.wrapping_add(1),
                user,
                &wrong,
                secret,
                timeout,
            )
            .await;
            let server = capability(
                "radius",
                port,
                "auth.radius",
                true,
                format!("RADIUS accepts the declared client and account {who}"),
            );
            let verified = match second {
                Ok(RadiusAnswer::Reject) => capability(
                    "radius",
                    port,
                    "auth.verified",
                    true,
                    format!("RADIUS accepts {who}, rejects a wrong password"),
                ),
                Ok(RadiusAnswer::Accept) => capability(
                    "radius",
                    port,
                    "auth.verified",
                    false,
                    format!("RADIUS accepts {who} with a wrong password too"),
                ),
                _ => cannot(
                    "radius",
                    port,
                    "auth.verified",
                    format!("RADIUS accepts {who}; the wrong-password request got no clear answer"),
                ),
            };
            return vec![server, verified];
        }
    };
    vec![fact]
}

// ---------------------------------------------------------------- BER

fn ber(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = body.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(body);
    out
}

fn ber_int(v: u32) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut i = 0;
    while i < 3 && bytes[i] == 0 && bytes[i + 1] & 0x80 == 0 {
        i += 1;
    }
    let mut body = bytes[i..].to_vec();
    if body[0] & 0x80 != 0 {
        body.insert(0, 0);
    }
    ber(0x02, &body)
}

/// One TLV: (tag, value, rest).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)? as usize;
    let (len, head) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 3 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let value = b.get(head..head.checked_add(len)?)?;
    Some((tag, value, &b[head + len..]))
}

// ---------------------------------------------------------------- SNMP

/// sysDescr.0 (1.3.6.1.2.1.1.1.0).
const SYS_DESCR: &[u8] = &[0x2b, 6, 1, 2, 1, 1, 1, 0];

pub fn snmp_get_sysdescr(community: &str, request_id: u32) -> Vec<u8> {
    let varbind = ber(0x30, &[ber(0x06, SYS_DESCR), vec![0x05, 0x00]].concat());
    let pdu = ber(
        0xa0,
        &[
            ber_int(request_id),
            ber_int(0),
            ber_int(0),
            ber(0x30, &varbind),
        ]
        .concat(),
    );
    ber(
        0x30,
        &[ber_int(1), ber(0x04, community.as_bytes()), pdu].concat(),
    )
}

/// The sysDescr of a GetResponse to our request id.
pub fn snmp_sysdescr(answer: &[u8], request_id: u32) -> Option<String> {
    let (_, msg, _) = tlv(answer).filter(|t| t.0 == 0x30)?;
    let (_, _version, rest) = tlv(msg)?;
    let (_, _community, rest) = tlv(rest)?;
    let (tag, pdu, _) = tlv(rest)?;
    if tag != 0xa2 {
        return None;
    }
    let (_, id, rest) = tlv(pdu)?;
    if id.iter().fold(0u64, |a, b| (a << 8) | *b as u64) != request_id as u64 {
        return None;
    }
    let (_, status, rest) = tlv(rest)?;
    if status.iter().any(|b| *b != 0) {
        return None;
    }
    let (_, _index, rest) = tlv(rest)?;
    let (_, list, _) = tlv(rest)?;
    let (_, varbind, _) = tlv(list)?;
    let (_, oid, rest) = tlv(varbind)?;
    let (tag, value, _) = tlv(rest)?;
    (oid == SYS_DESCR && tag == 0x04).then(|| untrusted::quote(value, 200))
}

/// An OS signal from a sysDescr (weak: the administrator can set it).
pub fn sysdescr_os(descr: &str) -> Option<(OsFamily, &'static str)> {
    let d = descr.to_ascii_lowercase();
    if d.contains("windows") {
        Some((OsFamily::Windows, "windows"))
    } else if d.starts_with("linux") {
        Some((OsFamily::Linux, "linux"))
    } else if d.contains("freebsd") || d.contains("openbsd") || d.contains("pfsense") {
        Some((OsFamily::Bsd, "bsd"))
    } else {
        None
    }
}

pub async fn snmp_check(
    addr: IpAddr,
    port: u16,
    community: &Secret,
    timeout: Duration,
) -> Vec<Fact> {
    let id = u32::from_be_bytes(nonce16()[..4].try_into().unwrap()) & 0x7fff_ffff;
    let req = snmp_get_sysdescr(community.expose(), id);
    let Udp::Answer(a) = exchange(addr, port, &req, timeout, |a| {
        snmp_sysdescr(a, id).is_some()
    })
    .await
    else {
        // A wrong community is dropped silently: nothing can be said.
        return vec![];
    };
    let Some(descr) = snmp_sysdescr(&a, id) else {
        return vec![];
    };
    let mut facts = vec![
        Fact {
            probe: "snmp".into(),
            port: Some(port),
            kind: FactKind::Service {
                product: "snmp-agent".into(),
                name: "SNMP agent".into(),
                version: None,
                capabilities: vec!["monitoring.agent".into()],
                open_source: None,
            },
        },
        capability(
            "snmp",
            port,
            "monitoring.agent",
            true,
            format!("SNMP agent answers the declared community: {descr}"),
        ),
    ];
    if let Some((family, name)) = sysdescr_os(&descr) {
        facts.push(Fact {
            probe: "snmp".into(),
            port: Some(port),
            kind: FactKind::Os {
                family,
                name: Some(name.into()),
                version: None,
                strength: Strength::Weak,
            },
        });
    }
    facts
}

// ---------------------------------------------------------------- Kerberos

/// AS-REQ for a principal that should not exist, in `realm`: any KDC
/// answers with a KRB-ERROR (unknown principal, preauthentication
/// required, wrong realm), which is all this needs.
pub fn kerberos_as_req(realm: &str, nonce: u32) -> Vec<u8> {
    let ctx = |n: u8, body: Vec<u8>| ber(0xa0 + n, &body);
    let kstr = |s: &str| ber(0x1b, s.as_bytes());
    let principal = |kind: u32, parts: &[&str]| {
        ber(
            0x30,
            &[
                ctx(0, ber_int(kind)),
                ctx(
                    1,
                    ber(
                        0x30,
                        &parts.iter().flat_map(|p| kstr(p)).collect::<Vec<u8>>(),
                    ),
                ),
            ]
            .concat(),
        )
    };
    let body = ber(
        0x30,
        &[
            ctx(0, ber(0x03, &[0, 0x40, 0x81, 0, 0x10])), // forwardable, renewable, canonicalize, renewable-ok
            ctx(1, principal(1, &["labcheck-probe"])),
            ctx(2, kstr(realm)),
            ctx(3, principal(2, &["krbtgt", realm])),
            ctx(5, ber(0x18, b"20370913024805Z")),
            ctx(7, ber_int(nonce)),
            ctx(
                8,
                ber(0x30, &[ber_int(18), ber_int(17), ber_int(23)].concat()),
            ),
        ]
        .concat(),
    );
    let req = ber(
        0x30,
        &[ctx(1, ber_int(5)), ctx(2, ber_int(10)), ctx(4, body)].concat(),
    );
    ber(0x6a, &req)
}

/// The error code of a KRB-ERROR, or `None` if this is not one.
pub fn krb_error_code(answer: &[u8]) -> Option<u32> {
    let (tag, inner, _) = tlv(answer)?;
    if tag != 0x7e {
        return None;
    }
    let (_, mut fields, _) = tlv(inner).filter(|t| t.0 == 0x30)?;
    while let Some((tag, value, rest)) = tlv(fields) {
        if tag == 0xa6 {
            let (_, int, _) = tlv(value)?;
            return Some(int.iter().fold(0u32, |a, b| (a << 8) | *b as u32));
        }
        fields = rest;
    }
    None
}

fn krb_error_name(code: u32) -> &'static str {
    match code {
        6 => "client principal unknown",
        25 => "preauthentication required",
        68 => "wrong realm",
        _ => "error",
    }
}

pub async fn kerberos_check(addr: IpAddr, port: u16, realm: &str, timeout: Duration) -> Vec<Fact> {
    let nonce = u32::from_be_bytes(nonce16()[..4].try_into().unwrap()) & 0x7fff_ffff;
    let req = kerberos_as_req(realm, nonce);
    match exchange(addr, port, &req, timeout, |a| {
        krb_error_code(a).is_some() || a.first() == Some(&0x6b)
    })
    .await
    {
        Udp::Answer(a) => {
            let what = match krb_error_code(&a) {
                Some(c) => format!("KRB-ERROR {c} ({})", krb_error_name(c)),
                None => "an AS-REP".into(),
            };
            vec![capability(
                "kerberos",
                port,
                "auth.kerberos",
                true,
                untrusted::quote(
                    format!("a KDC answers an AS-REQ for realm {realm} with {what}").as_bytes(),
                    200,
                ),
            )]
        }
        _ => vec![],
    }
}

// ---------------------------------------------------------------- OpenVPN

/// P_CONTROL_HARD_RESET_CLIENT_V2 (opcode 7, key 0), no tls-auth HMAC.
pub fn openvpn_reset(session: [u8; 8]) -> Vec<u8> {
    let mut p = vec![7 << 3];
    p.extend_from_slice(&session);
    p.push(0); // no acknowledgements
    p.extend_from_slice(&0u32.to_be_bytes()); // packet id
    p
}

/// A P_CONTROL_HARD_RESET_SERVER_V2 acknowledging our session.
pub fn openvpn_answers(answer: &[u8], session: [u8; 8]) -> bool {
    answer.len() >= 26
        && answer[0] >> 3 == 8
        && answer[9] >= 1
        && answer
            .get(10 + 4 * answer[9] as usize..18 + 4 * answer[9] as usize)
            .is_some_and(|s| s == session)
}

pub async fn openvpn_check(addr: IpAddr, port: u16, timeout: Duration) -> Vec<Fact> {
    let session: [u8; 8] = nonce16()[..8].try_into().unwrap();
    match exchange(addr, port, &openvpn_reset(session), timeout, |a| {
        openvpn_answers(a, session)
    })
    .await
    {
        Udp::Answer(_) => vec![Fact {
            probe: "openvpn".into(),
            port: Some(port),
            kind: FactKind::Service {
                product: "openvpn".into(),
                name: "OpenVPN".into(),
                version: None,
                capabilities: vec!["vpn.site".into(), "secure-access".into()],
                open_source: Some(true),
            },
        }],
        // With tls-auth/tls-crypt a server stays silent: proves nothing.
        _ => vec![],
    }
}

// ---------------------------------------------------------------- IKEv2

pub const IKE_PORT: u16 = 500;

/// IKEv2 IKE_SA_INIT (RFC 7296) offering AES-256-CBC, HMAC-SHA2-256,
/// Curve25519. Any IKEv2 answer to our SPI (an SA_INIT reply, or a notify
/// such as NO_PROPOSAL_CHOSEN or INVALID_KE_PAYLOAD) proves an IKE daemon.
pub fn ike_sa_init(spi: [u8; 8], key_exchange: [u8; 32], nonce: [u8; 32]) -> Vec<u8> {
    let transform = |last: bool, kind: u8, id: u16, attr: &[u8]| {
        let len = 8 + attr.len() as u16;
        let mut t = vec![if last { 0 } else { 3 }, 0];
        t.extend_from_slice(&len.to_be_bytes());
        t.push(kind);
        t.push(0);
        t.extend_from_slice(&id.to_be_bytes());
        t.extend_from_slice(attr);
        t
    };
    let key_256 = [0x80, 0x0e, 0x01, 0x00]; // key length 256 (TV attribute)
    let transforms = [
        transform(false, 1, 12, &key_256), // ENCR_AES_CBC
        transform(false, 2, 5, &[]),       // PRF_HMAC_SHA2_256
        transform(false, 3, 12, &[]),      // AUTH_HMAC_SHA2_256_128
        transform(true, 4, 31, &[]),       // Curve25519
    ]
    .concat();
    let mut proposal = vec![0, 0];
    proposal.extend_from_slice(&(8 + transforms.len() as u16).to_be_bytes());
    proposal.extend_from_slice(&[1, 1, 0, 4]); // #1, IKE, no SPI, 4 transforms
    proposal.extend_from_slice(&transforms);
    let payload = |next: u8, body: &[u8]| {
        let mut p = vec![next, 0];
        p.extend_from_slice(&(4 + body.len() as u16).to_be_bytes());
        p.extend_from_slice(body);
        p
    };
    let mut ke = vec![0, 31, 0, 0]; // group 31
    ke.extend_from_slice(&key_exchange);
    let body = [
        payload(34, &proposal), // SA, next: KE
        payload(40, &ke),       // KE, next: Nonce
        payload(0, &nonce),     // Nonce
    ]
    .concat();
    let mut m = spi.to_vec();
    m.extend_from_slice(&[0; 8]); // responder SPI
    m.extend_from_slice(&[33, 0x20, 34, 0x08]); // SA, v2.0, IKE_SA_INIT, initiator
    m.extend_from_slice(&0u32.to_be_bytes()); // message id
    m.extend_from_slice(&(28 + body.len() as u32).to_be_bytes());
    m.extend_from_slice(&body);
    m
}

/// An IKEv2 response to our initiator SPI.
pub fn ike_answers(answer: &[u8], spi: [u8; 8]) -> bool {
    answer.len() >= 28 && answer[..8] == spi && answer[17] == 0x20 && answer[19] & 0x20 != 0
}

pub async fn ike_check(addr: IpAddr, port: u16, timeout: Duration) -> Vec<Fact> {
    let n = nonce16();
    let spi: [u8; 8] = n[..8].try_into().unwrap();
    let ke: [u8; 32] = [nonce16(), nonce16()].concat().try_into().unwrap();
    let nonce: [u8; 32] = [nonce16(), nonce16()].concat().try_into().unwrap();
    match exchange(addr, port, &ike_sa_init(spi, ke, nonce), timeout, |a| {
        ike_answers(a, spi)
    })
    .await
    {
        Udp::Answer(_) => vec![Fact {
            probe: "ike".into(),
            port: Some(port),
            kind: FactKind::Service {
                product: "ike".into(),
                name: "IPsec IKEv2".into(),
                version: None,
                capabilities: vec!["vpn.site".into()],
                open_source: None,
            },
        }],
        // A PSK-only or filtered IPsec endpoint may stay silent: proves nothing.
        _ => vec![],
    }
}

// ---------------------------------------------------------------- SQL Server Browser

pub const SQL_BROWSER_PORT: u16 = 1434;

/// One instance announced by the SQL Server Browser.
#[derive(Debug, PartialEq)]
pub struct SqlInstance {
    pub server: String,
    pub instance: String,
    pub version: Option<String>,
    pub tcp_port: Option<u16>,
}

/// The instances of a SVR_RESP ([MC-SQLR] 2.2.5): 0x05, a little-endian
/// length, then `Key;Value;…;;` per instance. `None` if this is not one.
pub fn sql_browser_instances(answer: &[u8]) -> Option<Vec<SqlInstance>> {
    if *answer.first()? != 0x05 {
        return None;
    }
    let len = u16::from_le_bytes([*answer.get(1)?, *answer.get(2)?]) as usize;
    let text = std::str::from_utf8(answer.get(3..3 + len)?).ok()?;
    let mut out = Vec::new();
    for record in text.split(";;").filter(|r| !r.is_empty()) {
        let fields: Vec<&str> = record.split(';').collect();
        let get = |key: &str| {
            fields
                .chunks(2)
                .find(|kv| kv[0].eq_ignore_ascii_case(key))
                .and_then(|kv| kv.get(1))
                .map(|v| untrusted::quote(v.as_bytes(), 64))
        };
        let (Some(server), Some(instance)) = (get("ServerName"), get("InstanceName")) else {
            return None;
        };
        out.push(SqlInstance {
            server,
            instance,
            version: get("Version"),
            tcp_port: get("tcp").and_then(|p| p.parse().ok()),
        });
    }
    (!out.is_empty()).then_some(out)
}

/// CLNT_UCAST_EX (0x02): every instance of the host, with its version.
pub async fn sql_browser_check(addr: IpAddr, port: u16, timeout: Duration) -> Vec<Fact> {
    match exchange(addr, port, &[0x02], timeout, |a| {
        sql_browser_instances(a).is_some()
    })
    .await
    {
        Udp::Answer(a) => sql_browser_instances(&a)
            .unwrap_or_default()
            .into_iter()
            .map(|i| Fact {
                probe: "sql-browser".into(),
                port: Some(port),
                kind: FactKind::Service {
                    product: "mssql".into(),
                    name: match i.tcp_port {
                        Some(tcp) => {
                            format!("Microsoft SQL Server (instance {}, TCP {tcp})", i.instance)
                        }
                        None => format!("Microsoft SQL Server (instance {})", i.instance),
                    },
                    version: i.version,
                    capabilities: vec!["dbms".into()],
                    open_source: Some(false),
                },
            })
            .collect(),
        // The Browser service is often stopped or filtered: proves nothing.
        _ => vec![],
    }
}

// ---------------------------------------------------------------- runner

async fn run(t: &HostTarget) -> Vec<Fact> {
    if !netid::may_probe(t) {
        return vec![];
    }
    let addr = t.host.address;
    let timeout = t.timeout;
    let radius = async {
        match netid::credential(t, "radius") {
            None => vec![],
            Some(Err(reason)) => vec![cannot("radius", RADIUS_PORT, "auth.radius", reason)],
            Some(Ok((cred, password))) => {
                let Ok(secret) = cred.shared_secret().resolve() else {
                    return vec![cannot(
                        "radius",
                        RADIUS_PORT,
                        "auth.radius",
                        format!(
                            "[credentials.radius]: shared secret {} not available",
                            cred.shared_secret().describe()
                        ),
                    )];
                };
                let Some(user) = cred.user.clone() else {
                    return vec![cannot(
                        "radius",
                        RADIUS_PORT,
                        "auth.radius",
                        "[credentials.radius] has no user".into(),
                    )];
                };
                let Ok(_permit) = t.limit.acquire().await else {
                    return vec![];
                };
                let mut facts =
                    radius_check(addr, RADIUS_PORT, &user, &password, &secret, timeout).await;
                // Silence is reported only where a RADIUS server is declared.
                let declared = t.host.roles.iter().any(|r| r == "radius");
                facts.retain(|f| {
                    declared || !matches!(&f.kind, FactKind::CannotCheck { reason, .. } if reason.starts_with("no RADIUS answer"))
                });
                facts
            }
        }
    };
    let snmp = async {
        let Some(cred) = t.inventory.credentials.get("snmp") else {
            return vec![];
        };
        let Ok(community) = cred.community().resolve() else {
            return vec![cannot(
                "snmp",
                SNMP_PORT,
                "monitoring.agent",
                format!(
                    "[credentials.snmp]: community {} not available",
                    cred.community().describe()
                ),
            )];
        };
        let Ok(_permit) = t.limit.acquire().await else {
            return vec![];
        };
        snmp_check(addr, SNMP_PORT, &community, timeout).await
    };
    let kerberos = async {
        let Some(domain) = t.inventory.lab.domain.as_deref() else {
            return vec![];
        };
        let Ok(_permit) = t.limit.acquire().await else {
            return vec![];
        };
        kerberos_check(
            addr,
            KERBEROS_PORT,
            &domain.trim_end_matches('.').to_ascii_uppercase(),
            timeout,
        )
        .await
    };
    let openvpn = async {
        let Ok(_permit) = t.limit.acquire().await else {
            return vec![];
        };
        openvpn_check(addr, OPENVPN_PORT, timeout).await
    };
    let ike = async {
        let Ok(_permit) = t.limit.acquire().await else {
            return vec![];
        };
        ike_check(addr, IKE_PORT, timeout).await
    };
    let sql_browser = async {
        let Ok(_permit) = t.limit.acquire().await else {
            return vec![];
        };
        sql_browser_check(addr, SQL_BROWSER_PORT, timeout).await
    };
    let (a, b, c, d, e, f) = tokio::join!(radius, snmp, kerberos, openvpn, ike, sql_browser);
    [a, b, c, d, e, f].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radius_password_hiding_matches_rfc2865() {
        // Decrypting with the same secret and authenticator gives the password back.
        let auth = [7u8; 16];
        let pkt = radius_request(1, auth, "alice", "correct horse", "s3cret");
        let hidden = &pkt[20 + 2 + 5 + 2..20 + 2 + 5 + 2 + 16];
        let mut h = Md5::new();
        h.update(b"s3cret");
        h.update(auth);
        let key = h.finalize();
        let plain: Vec<u8> = hidden.iter().zip(key.iter()).map(|(a, b)| a ^ b).collect();
        assert_eq!(&plain[..13], b"correct horse");
        assert!(plain[13..].iter().all(|b| *b == 0));
        assert_eq!(u16::from_be_bytes([pkt[2], pkt[3]]) as usize, pkt.len());
    }

    #[test]
    fn hmac_md5_matches_rfc2202() {
        let mac = hmac_md5(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "750c783e6ab0b503eaa86e310a5db738");
    }

    #[test]
    fn snmp_request_and_garbage() {
        let r = snmp_get_sysdescr("public", 42);
        assert_eq!(r[0], 0x30);
        assert_eq!(r[1] as usize, r.len() - 2);
        assert_eq!(snmp_sysdescr(&r, 42), None); // a request is no response
        assert_eq!(snmp_sysdescr(b"\x30\x84\xff\xff", 1), None);
        assert_eq!(
            sysdescr_os("Linux db 6.1.0-28-amd64 #1 SMP").map(|o| o.0),
            Some(OsFamily::Linux)
        );
        assert_eq!(
            sysdescr_os("Hardware: Intel64 - Software: Windows Version 6.3 (Build 17763 Multiprocessor Free)")
                .map(|o| o.0),
            Some(OsFamily::Windows)
        );
    }

    #[test]
    fn openvpn_reset_is_the_documented_opcode() {
        let p = openvpn_reset([1; 8]);
        assert_eq!(p[0], 0x38);
        assert_eq!(p.len(), 14);
        let mut answer = vec![0x40];
        answer.extend_from_slice(&[9; 8]); // server session
        answer.push(1); // one ack
        answer.extend_from_slice(&0u32.to_be_bytes());
        answer.extend_from_slice(&[1; 8]); // our session
        answer.extend_from_slice(&0u32.to_be_bytes());
        assert!(openvpn_answers(&answer, [1; 8]));
        assert!(!openvpn_answers(&answer, [2; 8]));
        assert!(!openvpn_answers(&answer[..20], [1; 8]));
    }

    #[test]
    fn ike_sa_init_lengths_are_consistent() {
        let m = ike_sa_init([5; 8], [1; 32], [2; 32]);
        assert_eq!(
            u32::from_be_bytes(m[24..28].try_into().unwrap()) as usize,
            m.len()
        );
        // Walk the payload chain: SA, KE, Nonce, and nothing after.
        let (mut next, mut at, mut seen) = (m[16], 28, vec![]);
        while next != 0 {
            seen.push(next);
            let len = u16::from_be_bytes([m[at + 2], m[at + 3]]) as usize;
            next = m[at];
            at += len;
        }
        assert_eq!(seen, vec![33, 34, 40]);
        assert_eq!(at, m.len());
        let mut reply = m.clone();
        reply[19] = 0x20;
        assert!(ike_answers(&reply, [5; 8]));
        assert!(!ike_answers(&m, [5; 8])); // our own request is no answer
    }

    #[test]
    fn sql_browser_answer_of_a_real_server() {
        // SQL Server 2008 Express, recorded by pytds (tests/fixtures/mssql/README.md).
        let hex: String =
            include_str!("../../tests/fixtures/mssql/browser-response-sqlexpress2008.hex")
                .split_whitespace()
                .collect();
        let answer: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(
            sql_browser_instances(&answer),
            Some(vec![SqlInstance {
                server: "MISHA-PC".into(),
                instance: "SQLEXPRESS".into(),
                version: Some("10.0.1600.22".into()),
                tcp_port: Some(49849),
            }])
        );
        // Truncated, our own request, or another protocol: not an answer.
        assert_eq!(sql_browser_instances(&answer[..40]), None);
        assert_eq!(sql_browser_instances(&[0x02]), None);
        assert_eq!(sql_browser_instances(b"\x05\x05\x00a;b;;"), None);
        // Two instances, the documented shape.
        let two = b"ServerName;DB1;InstanceName;MSSQLSERVER;IsClustered;No;Version;15.0.2000.5;tcp;1433;;ServerName;DB1;InstanceName;LAB;IsClustered;No;Version;16.0.1000.6;np;\\\\DB1\\pipe\\MSSQL$LAB\\sql\\query;;";
        let mut a = vec![0x05];
        a.extend_from_slice(&(two.len() as u16).to_le_bytes());
        a.extend_from_slice(two);
        let got = sql_browser_instances(&a).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].tcp_port, Some(1433));
        assert_eq!(
            (
                got[1].instance.as_str(),
                got[1].version.as_deref(),
                got[1].tcp_port
            ),
            ("LAB", Some("16.0.1000.6"), None)
        );
    }

    #[test]
    fn sql_browser_check_over_loopback_replays_the_recorded_answer() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let hex: String =
                include_str!("../../tests/fixtures/mssql/browser-response-sqlexpress2008.hex")
                    .split_whitespace()
                    .collect();
            let recorded: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let addr = server.local_addr().unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 16];
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                assert_eq!(&buf[..n], [0x02], "CLNT_UCAST_EX");
                server.send_to(&recorded, from).await.unwrap();
            });
            let facts = sql_browser_check(addr.ip(), addr.port(), Duration::from_secs(3)).await;
            assert_eq!(facts.len(), 1, "{facts:?}");
            match &facts[0].kind {
                FactKind::Service {
                    product,
                    name,
                    version,
                    capabilities,
                    ..
                } => {
                    assert_eq!(product, "mssql");
                    assert!(
                        name.contains("SQLEXPRESS") && name.contains("49849"),
                        "{name}"
                    );
                    assert_eq!(version.as_deref(), Some("10.0.1600.22"));
                    assert_eq!(capabilities, &["dbms"]);
                }
                other => panic!("{other:?}"),
            }
        });
    }

    #[test]
    fn kerberos_request_is_well_formed_der() {
        let r = kerberos_as_req("LAB.TEST", 7);
        let (tag, body, rest) = tlv(&r).unwrap();
        assert_eq!(tag, 0x6a);
        assert!(rest.is_empty());
        assert_eq!(tlv(body).unwrap().0, 0x30);
        assert_eq!(krb_error_code(&r), None);
    }
}
