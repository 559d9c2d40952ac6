//! TLS probe: completes a handshake on the ports the scan found speaking TLS
//! (HTTPS, LDAPS, …), on LDAP after StartTLS and on PostgreSQL after an
//! SSLRequest, and reports the certificate it was shown.
//!
//! The handshake accepts any certificate on purpose: the probe observes, the
//! evaluator judges. What the certificate is worth (expired, self-signed,
//! chain valid against the lab's CA) is checked separately, after the
//! handshake, with the same webpki code rustls would have used.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::deep::{BoxFuture, HostTarget};
use crate::facts::{Fact, FactKind, Outcome};
use crate::inventory::Inventory;
use crate::untrusted;

/// Products of the port scan that speak TLS from the first byte.
const TLS_PRODUCTS: &[&str] = &["https", "tls"];
/// Usual TLS ports, tried when the scan could not name what answered there.
const TLS_PORTS: &[u16] = &[
    443, 465, 636, 993, 995, 3269, 5986, 7443, 8006, 8007, 8443, 9443, 10000,
];
/// Products answering LDAP in clear, where StartTLS is tried.
const LDAP_PRODUCTS: &[&str] = &["openldap", "samba-ad", "active-directory", "ldap"];

/// Accepts every certificate and keeps the chain it was shown. Handshake
/// signatures are still verified, so the peer does hold the key.
#[derive(Debug)]
pub struct RecordingVerifier {
    provider: Arc<CryptoProvider>,
    chain: Mutex<Vec<CertificateDer<'static>>>,
}

impl RecordingVerifier {
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        RecordingVerifier {
            provider,
            chain: Mutex::new(vec![]),
        }
    }
    /// The chain of the last handshake (end entity first).
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.chain.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = self.chain.lock().unwrap_or_else(|e| e.into_inner());
        chain.clear();
        chain.push(end_entity.clone().into_owned());
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client config that records instead of judging (observation only: never
/// send a secret over it).
pub fn observing_config(verifier: Arc<RecordingVerifier>) -> ClientConfig {
    ClientConfig::builder_with_provider(crate::tls_provider::provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth()
}

/// A client config that verifies against the lab's CA (to send secrets).
pub fn verifying_config(roots: RootCertStore) -> ClientConfig {
    ClientConfig::builder_with_provider(crate::tls_provider::provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// The inventory's `[lab] ca`, resolved against the inventory's directory.
pub fn ca_path(inv: &Inventory) -> Option<PathBuf> {
    let ca = inv.lab.ca.as_ref()?;
    if ca.is_absolute() {
        return Some(ca.clone());
    }
    let base = inv
        .path
        .as_ref()
        .and_then(|p| p.parent().map(|d| d.to_path_buf()));
    Some(base.map(|d| d.join(ca)).unwrap_or_else(|| ca.clone()))
}

/// The lab's CA certificates: `Ok(None)` when none is declared.
pub fn load_ca(inv: &Inventory) -> Result<Option<RootCertStore>, String> {
    let Some(path) = ca_path(inv) else {
        return Ok(None);
    };
    let bytes =
        std::fs::read(&path).map_err(|e| format!("CA file {}: {}", path.display(), e.kind()))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert = cert.map_err(|e| format!("CA file {}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("CA file {}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("CA file {} holds no certificate", path.display()));
    }
    Ok(Some(roots))
}

/// What a TLS endpoint showed.
#[derive(Debug, Clone)]
pub struct CertReport {
    pub version: String,
    pub subject_cn: Option<String>,
    pub subject: String,
    pub sans: Vec<String>,
    pub issuer: String,
    pub not_before: i64,
    pub not_after: i64,
    pub expired: bool,
    pub not_yet_valid: bool,
    pub self_signed: bool,
    /// Chain valid against the lab's CA; `None`: no CA to judge with.
    pub trusted: Option<bool>,
    /// Why the chain is not trusted, or that it is not valid for the address.
    pub trust_note: Option<String>,
}

impl CertReport {
    /// One line for the report: what the evaluator and the reader need.
    pub fn detail(&self) -> String {
        let name = match &self.subject_cn {
            Some(cn) => format!("CN={cn}"),
            None => self.subject.clone(),
        };
        let mut parts = vec![self.version.clone(), name];
        let sans: Vec<&str> = self
            .sans
            .iter()
            .map(String::as_str)
            .filter(|s| Some(*s) != self.subject_cn.as_deref())
            .collect();
        if !sans.is_empty() {
            parts.push(format!("SAN {}", sans.join(", ")));
        }
        if self.self_signed {
            parts.push("self-signed".into());
        } else {
            parts.push(format!("issuer {}", self.issuer));
        }
        if self.expired {
            parts.push(format!("expired since {}", day(self.not_after)));
        } else if self.not_yet_valid {
            parts.push(format!("not valid before {}", day(self.not_before)));
        } else {
            parts.push(format!("expires {}", day(self.not_after)));
        }
        match (self.trusted, &self.trust_note) {
            (Some(true), None) => parts.push("chain trusted by the lab CA".into()),
            (Some(true), Some(n)) => parts.push(format!("chain trusted by the lab CA, {n}")),
            (Some(false), Some(n)) => parts.push(format!("not trusted by the lab CA: {n}")),
            (Some(false), None) => parts.push("not trusted by the lab CA".into()),
            (None, _) => parts.push("chain not checked (no [lab] ca)".into()),
        }
        parts.join(", ")
    }
}

fn day(ts: i64) -> String {
    jiff::Timestamp::from_second(ts)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| ts.to_string())
}

/// Reads a DER certificate (`now` in Unix seconds).
pub fn parse_cert(der: &[u8], now: i64) -> Result<CertReport, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| format!("certificate: {e}"))?;
    let q = |s: &str| untrusted::quote(s.as_bytes(), 120);
    let subject_cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(q);
    let mut sans = vec![];
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => sans.push(q(d)),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => sans.push(IpAddr::from(<[u8; 4]>::try_from(*b).unwrap()).to_string()),
                    16 => sans.push(IpAddr::from(<[u8; 16]>::try_from(*b).unwrap()).to_string()),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    sans.truncate(16);
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    Ok(CertReport {
        version: String::new(),
        subject_cn,
        subject: q(&cert.subject().to_string()),
        sans,
        issuer: q(&cert.issuer().to_string()),
        not_before,
        not_after,
        expired: now > not_after,
        not_yet_valid: now < not_before,
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        trusted: None,
        trust_note: None,
    })
}

/// Checks a chain against the CA, for `address`; a name mismatch is reported
/// apart from the chain's validity (the lab may name hosts, not addresses).
pub fn judge(
    chain: &[CertificateDer<'static>],
    roots: &RootCertStore,
    address: IpAddr,
    sans: &[String],
) -> (bool, Option<String>) {
    let Ok(verifier) = WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots.clone()),
        crate::tls_provider::provider(),
    )
    .build() else {
        return (false, Some("the CA file cannot be used".into()));
    };
    let Some((ee, rest)) = chain.split_first() else {
        return (false, Some("no certificate".into()));
    };
    let verify = |name: ServerName<'static>| {
        verifier.verify_server_cert(ee, rest, &name, &[], UnixTime::now())
    };
    match verify(ServerName::IpAddress(address.into())) {
        Ok(_) => (true, None),
        Err(rustls::Error::InvalidCertificate(e)) if is_name_error(&e) => {
            // Same chain, judged for a name the certificate does claim.
            let other = sans
                .iter()
                .find_map(|s| ServerName::try_from(s.clone()).ok());
            match other.map(verify) {
                Some(Ok(_)) => (true, Some(format!("but not valid for {address}"))),
                Some(Err(e)) => (false, Some(why(&e))),
                None => (false, Some(format!("not valid for {address}"))),
            }
        }
        Err(e) => (false, Some(why(&e))),
    }
}

/// A verification error in a few words.
fn why(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::Expired | C::ExpiredContext { .. } => "expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => "not yet valid".into(),
            C::UnknownIssuer => "issued by an unknown CA".into(),
            C::BadSignature => "bad signature".into(),
            C::Revoked => "revoked".into(),
            other => untrusted::quote(format!("{other:?}").as_bytes(), 120),
        },
        other => untrusted::quote(other.to_string().as_bytes(), 120),
    }
}

fn is_name_error(e: &rustls::CertificateError) -> bool {
    matches!(
        e,
        rustls::CertificateError::NotValidForName
            | rustls::CertificateError::NotValidForNameContext { .. }
    )
}

/// Handshakes on an already connected stream and reports the certificate.
pub async fn handshake(
    stream: TcpStream,
    address: IpAddr,
    roots: Option<&RootCertStore>,
) -> Result<CertReport, String> {
    let recorder = Arc::new(RecordingVerifier::new(crate::tls_provider::provider()));
    let connector = TlsConnector::from(Arc::new(observing_config(recorder.clone())));
    let tls = connector
        .connect(ServerName::IpAddress(address.into()), stream)
        .await
        .map_err(|e| {
            format!(
                "TLS handshake failed: {}",
                untrusted::quote(e.to_string().as_bytes(), 160)
            )
        })?;
    let (_, conn) = tls.get_ref();
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
        Some(v) => format!("{v:?}"),
        None => "TLS".to_string(),
    };
    let chain = recorder.chain();
    let ee = chain.first().ok_or("the server sent no certificate")?;
    let now = jiff::Timestamp::now().as_second();
    let mut report = parse_cert(ee, now)?;
    report.version = version;
    if let Some(roots) = roots {
        let (trusted, note) = judge(&chain, roots, address, &report.sans);
        report.trusted = Some(trusted);
        report.trust_note = note;
    }
    Ok(report)
}

/// Registered in deep.rs.
pub fn probe(t: &HostTarget) -> BoxFuture<'_, Vec<Fact>> {
    Box::pin(run(t))
}

async fn run(t: &HostTarget) -> Vec<Fact> {
    let mut facts = vec![];
    let address = t.host.address;
    if !t.inventory.in_scope(address) {
        return facts;
    }
    let roots = match load_ca(&t.inventory) {
        Ok(r) => r,
        Err(reason) => {
            facts.push(cannot("tls", None, "lab CA", reason));
            None
        }
    };
    for obs in &t.scanned.ports {
        if obs.outcome != Outcome::Open {
            continue;
        }
        let product = obs.product.as_deref().unwrap_or("");
        let unnamed_tls_port = obs.product.is_none() && TLS_PORTS.contains(&obs.port);
        let mode = if TLS_PRODUCTS.contains(&product) || unnamed_tls_port {
            Mode::Direct
        } else if LDAP_PRODUCTS.contains(&product) && obs.port != 3268 {
            Mode::LdapStartTls
        } else if product == "postgresql" {
            Mode::PostgresSsl
        } else {
            continue;
        };
        let _permit = t.limit.acquire().await.expect("semaphore open");
        let r =
            tokio::time::timeout(t.timeout, observe(address, obs.port, mode, roots.as_ref())).await;
        let what = format!("TLS certificate on port {}", obs.port);
        match r {
            Ok(Ok(Some(report))) => facts.push(Fact {
                probe: mode.probe_id().into(),
                port: Some(obs.port),
                kind: FactKind::Capability {
                    name: "encryption".into(),
                    present: true,
                    detail: format!("{}{}", mode.prefix(), report.detail()),
                },
            }),
            // The server does not offer TLS there: nothing to report.
            Ok(Ok(None)) => {}
            Ok(Err(reason)) => facts.push(cannot(mode.probe_id(), Some(obs.port), &what, reason)),
            Err(_) => facts.push(cannot(
                mode.probe_id(),
                Some(obs.port),
                &what,
                format!(
                    "no TLS handshake within {}",
                    crate::duration::human(t.timeout)
                ),
            )),
        }
    }
    facts
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Direct,
    LdapStartTls,
    PostgresSsl,
}

impl Mode {
    fn probe_id(self) -> &'static str {
        match self {
            Mode::Direct => "tls",
            Mode::LdapStartTls => "tls:ldap-starttls",
            Mode::PostgresSsl => "tls:postgres-ssl",
        }
    }
    fn prefix(self) -> &'static str {
        match self {
            Mode::Direct => "",
            Mode::LdapStartTls => "LDAP StartTLS, ",
            Mode::PostgresSsl => "PostgreSQL SSL, ",
        }
    }
}

fn cannot(probe: &str, port: Option<u16>, what: &str, reason: String) -> Fact {
    Fact {
        probe: probe.into(),
        port,
        kind: FactKind::CannotCheck {
            what: what.into(),
            reason,
        },
    }
}

/// LDAP ExtendedRequest for StartTLS (OID 1.3.6.1.4.1.1466.20037), message 1.
const LDAP_STARTTLS: &[u8] = b"\x30\x1d\x02\x01\x01\x77\x18\x80\x161.3.6.1.4.1.1466.20037";
/// PostgreSQL SSLRequest (code 80877103).
const PG_SSLREQUEST: &[u8] = b"\x00\x00\x00\x08\x04\xd2\x16\x2f";

/// `Ok(None)`: the service declined TLS (no StartTLS, PostgreSQL said `N`).
async fn observe(
    address: IpAddr,
    port: u16,
    mode: Mode,
    roots: Option<&RootCertStore>,
) -> Result<Option<CertReport>, String> {
    let mut stream = TcpStream::connect(SocketAddr::new(address, port))
        .await
        .map_err(|e| format!("connect: {}", e.kind()))?;
    match mode {
        Mode::Direct => {}
        Mode::LdapStartTls => {
            stream
                .write_all(LDAP_STARTTLS)
                .await
                .map_err(|e| e.to_string())?;
            let mut buf = [0u8; 512];
            let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
            match ldap_extended_result(&buf[..n]) {
                Some(0) => {}
                Some(_) => return Ok(None),
                None => return Err("no LDAP ExtendedResponse to StartTLS".into()),
            }
        }
        Mode::PostgresSsl => {
            stream
                .write_all(PG_SSLREQUEST)
                .await
                .map_err(|e| e.to_string())?;
            let mut b = [0u8; 1];
            stream.read_exact(&mut b).await.map_err(|e| e.to_string())?;
            match b[0] {
                b'S' => {}
                b'N' => return Ok(None),
                _ => return Err("unexpected answer to SSLRequest".into()),
            }
        }
    }
    handshake(stream, address, roots).await.map(Some)
}

/// resultCode of an LDAP ExtendedResponse (`[APPLICATION 24]`), if `buf` is one.
pub fn ldap_extended_result(buf: &[u8]) -> Option<u8> {
    // LDAPMessage ::= SEQUENCE { messageID INTEGER, protocolOp [APPLICATION 24] {
    //   resultCode ENUMERATED, … } }; short or long length forms.
    fn skip_len(b: &[u8], i: usize) -> Option<usize> {
        let l = *b.get(i)?;
        if l < 0x80 {
            Some(i + 1)
        } else {
            Some(i + 1 + (l & 0x7f) as usize)
        }
    }
    if buf.first()? != &0x30 {
        return None;
    }
    let mut i = skip_len(buf, 1)?;
    if buf.get(i)? != &0x02 {
        return None;
    }
    let idlen = *buf.get(i + 1)? as usize;
    i += 2 + idlen;
    if buf.get(i)? != &0x78 {
        return None;
    }
    i = skip_len(buf, i + 1)?;
    if buf.get(i)? != &0x0a || buf.get(i + 1)? != &0x01 {
        return None;
    }
    buf.get(i + 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starttls_request_is_well_formed() {
        assert_eq!(LDAP_STARTTLS.len(), 2 + 0x1d);
        assert_eq!(&LDAP_STARTTLS[9..], b"1.3.6.1.4.1.1466.20037");
    }

    #[test]
    fn ldap_extended_response_result_code() {
        // Success, as OpenLDAP answers (with the responseName).
        let ok = b"\x30\x24\x02\x01\x01\x78\x1f\x0a\x01\x00\x04\x00\x04\x00\x8a\x161.3.6.1.4.1.1466.20037";
        assert_eq!(ldap_extended_result(ok), Some(0));
        // protocolError (2): StartTLS not configured.
        let refused = b"\x30\x0c\x02\x01\x01\x78\x07\x0a\x01\x34\x04\x00\x04\x00";
        assert_eq!(ldap_extended_result(refused), Some(0x34));
        assert_eq!(ldap_extended_result(b"HTTP/1.1 400"), None);
        assert_eq!(ldap_extended_result(b""), None);
    }

    #[test]
    fn detail_says_expired_and_self_signed() {
        let r = CertReport {
            version: "TLS 1.2".into(),
            subject_cn: Some("hostile".into()),
            subject: "CN=hostile".into(),
            sans: vec![],
            issuer: "CN=hostile".into(),
            not_before: 1_577_836_800,
            not_after: 1_609_459_200,
            expired: true,
            not_yet_valid: false,
            self_signed: true,
            trusted: Some(false),
            trust_note: Some("invalid peer certificate: Expired".into()),
        };
        let d = r.detail();
        assert!(d.contains("self-signed"), "{d}");
        assert!(d.contains("expired since 2021-01-01"), "{d}");
        assert!(d.contains("not trusted"), "{d}");
    }
}
