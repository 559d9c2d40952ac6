//! Windows signals from SMB: an SMB2 NEGOTIATE, then a SESSION_SETUP
//! carrying an NTLMSSP NEGOTIATE. The server's NTLMSSP CHALLENGE gives its
//! OS version (major.minor.build) and names (NetBIOS, DNS) without any
//! account. A Windows build number is hard to imitate: a strong OS signal.
//! Samba also answers NTLMSSP, but with no Windows build (its VERSION is
//! 6.1.0 or absent), so a Samba answer is a "samba" service and no Windows
//! signal at all.

use std::net::IpAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::deep::{BoxFuture, HostTarget};
use super::netid;
use crate::facts::{Fact, FactKind, OsFamily, Strength};
use crate::untrusted;

const PROBE: &str = "smb";
const NTLMSSP: &[u8] = b"NTLMSSP\0";
/// NTLMSSP_NEGOTIATE_VERSION: the VERSION field is meaningful.
const NEGOTIATE_VERSION: u32 = 0x0200_0000;
/// Largest SMB2 answer read (a session-setup answer is a few hundred bytes).
const MAX_ANSWER: usize = 64 * 1024;

pub fn probe(target: &HostTarget) -> BoxFuture<'_, Vec<Fact>> {
    Box::pin(run(target))
}

/// What an NTLMSSP CHALLENGE tells about its server.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Challenge {
    /// (major, minor, build) when the server sent a VERSION.
    pub version: Option<(u8, u8, u16)>,
    pub netbios_computer: Option<String>,
    pub netbios_domain: Option<String>,
    pub dns_computer: Option<String>,
    pub dns_domain: Option<String>,
}

/// What the challenge says the server is.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// A Windows build: (product name when known, "major.minor.build").
    Windows(Option<&'static str>, String),
    /// Samba (or another non-Windows NTLM server): no Windows signal.
    NotWindows,
}

/// Windows builds as NTLM reports them. 14393 and 17763 are checked against
/// recorded challenges (tests/fixtures/smb); 20348 and 26100 come from
/// Microsoft's release tables, not yet from a capture.
pub fn windows_name(build: u16) -> Option<&'static str> {
    Some(match build {
        3790 => "windows-server 2003",
        6001 | 6002 => "windows-server 2008",
        7600 | 7601 => "windows-server 2008 R2 / windows 7",
        9200 => "windows-server 2012 / windows 8",
        9600 => "windows-server 2012 R2 / windows 8.1",
        14393 => "windows-server 2016",
        17763 => "windows-server 2019",
        20348 => "windows-server 2022",
        26100 => "windows-server 2025",
        _ => return None,
    })
}

impl Challenge {
    pub fn verdict(&self) -> Verdict {
        match self.version {
            // Windows always reports a real build; Samba reports 6.1.0 (or
            // nothing), which no Windows release ever had.
            Some((major, minor, build)) if build >= 2195 && (5..=10).contains(&major) => {
                Verdict::Windows(windows_name(build), format!("{major}.{minor}.{build}"))
            }
            _ => Verdict::NotWindows,
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let s = String::from_utf16_lossy(&units);
    untrusted::quote(s.as_bytes(), 80)
}

/// Finds and reads the NTLMSSP CHALLENGE (type 2) anywhere in `bytes` (an
/// SMB2 answer, a SPNEGO token, a CredSSP TSRequest or the bare message).
pub fn parse_challenge(bytes: &[u8]) -> Option<Challenge> {
    let start = bytes.windows(NTLMSSP.len()).position(|w| w == NTLMSSP)?;
    let m = &bytes[start..];
    if u32_at(m, 8)? != 2 {
        return None;
    }
    let flags = u32_at(m, 20)?;
    let info_len = u16_at(m, 40)? as usize;
    let info_off = u32_at(m, 44)? as usize;
    let target_off = u32_at(m, 16)? as usize;
    let mut c = Challenge::default();
    // The VERSION field exists only when the payload starts after it.
    if flags & NEGOTIATE_VERSION != 0 && target_off.min(info_off) >= 56 {
        let v = m.get(48..56)?;
        c.version = Some((v[0], v[1], u16::from_le_bytes([v[2], v[3]])));
    }
    if let Some(info) = m.get(info_off..info_off.checked_add(info_len)?) {
        let mut at = 0;
        while let (Some(id), Some(len)) = (u16_at(info, at), u16_at(info, at + 2)) {
            let Some(value) = info.get(at + 4..at + 4 + len as usize) else {
                break;
            };
            match id {
                0 => break,
                1 => c.netbios_computer = Some(utf16(value)),
                2 => c.netbios_domain = Some(utf16(value)),
                3 => c.dns_computer = Some(utf16(value)),
                4 => c.dns_domain = Some(utf16(value)),
                _ => {}
            }
            at += 4 + len as usize;
        }
    }
    Some(c)
}

/// The facts a challenge gives.
pub fn challenge_facts(c: &Challenge, port: u16) -> Vec<Fact> {
    let names: Vec<String> = [&c.dns_computer, &c.netbios_computer, &c.dns_domain]
        .iter()
        .filter_map(|n| n.as_ref().cloned())
        .collect();
    match c.verdict() {
        Verdict::Windows(name, version) => vec![Fact {
            probe: PROBE.into(),
            port: Some(port),
            kind: FactKind::Os {
                family: OsFamily::Windows,
                name: Some(name.map(str::to_string).unwrap_or_else(|| "windows".into())),
                version: Some(if names.is_empty() {
                    version
                } else {
                    format!("{version} ({})", names.join(", "))
                }),
                strength: Strength::Strong,
            },
        }],
        Verdict::NotWindows => vec![Fact {
            probe: PROBE.into(),
            port: Some(port),
            kind: FactKind::Service {
                product: "samba".into(),
                name: "Samba".into(),
                version: None,
                capabilities: vec![],
                open_source: Some(true),
            },
        }],
    }
}

fn smb2_header(command: u16, message_id: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(64);
    h.extend_from_slice(b"\xfeSMB");
    h.extend_from_slice(&64u16.to_le_bytes()); // structure size
    h.extend_from_slice(&0u16.to_le_bytes()); // credit charge
    h.extend_from_slice(&0u32.to_le_bytes()); // status
    h.extend_from_slice(&command.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // credits requested
    h.extend_from_slice(&0u32.to_le_bytes()); // flags
    h.extend_from_slice(&0u32.to_le_bytes()); // next command
    h.extend_from_slice(&message_id.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes()); // process id
    h.extend_from_slice(&0u32.to_le_bytes()); // tree id
    h.extend_from_slice(&0u64.to_le_bytes()); // session id
    h.extend_from_slice(&[0; 16]); // signature
    h
}

fn framed(mut smb: Vec<u8>) -> Vec<u8> {
    let len = smb.len() as u32;
    let mut out = vec![0, (len >> 16) as u8, (len >> 8) as u8, len as u8];
    out.append(&mut smb);
    out
}

/// SMB2 NEGOTIATE offering 2.0.2 to 3.0.2 (3.1.1 would need negotiate
/// contexts and adds nothing here).
pub fn negotiate_request() -> Vec<u8> {
    let dialects: [u16; 4] = [0x0202, 0x0210, 0x0300, 0x0302];
    let mut m = smb2_header(0, 0);
    m.extend_from_slice(&36u16.to_le_bytes());
    m.extend_from_slice(&(dialects.len() as u16).to_le_bytes());
    m.extend_from_slice(&1u16.to_le_bytes()); // signing enabled
    m.extend_from_slice(&0u16.to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes()); // capabilities
    m.extend_from_slice(b"labcheck-netid-0"); // client GUID
    m.extend_from_slice(&0u64.to_le_bytes()); // client start time
    for d in dialects {
        m.extend_from_slice(&d.to_le_bytes());
    }
    framed(m)
}

/// DER length.
fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else if n < 0x100 {
        vec![0x81, n as u8]
    } else {
        vec![0x82, (n >> 8) as u8, n as u8]
    }
}

fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(body.len()));
    out.extend_from_slice(body);
    out
}

/// NTLMSSP NEGOTIATE asking for the server's VERSION and target info.
pub fn ntlm_negotiate() -> Vec<u8> {
    let mut m = NTLMSSP.to_vec();
    m.extend_from_slice(&1u32.to_le_bytes());
    // Unicode, OEM, request target, sign, NTLM, always sign, extended
    // session security, version, 128, key exchange, 56.
    m.extend_from_slice(&0xe208_8297u32.to_le_bytes());
    m.extend_from_slice(&[0; 16]); // no domain, no workstation
    m.extend_from_slice(&[10, 0, 0x63, 0x45, 0, 0, 0, 15]); // our own VERSION
    m
}

/// SPNEGO NegTokenInit wrapping the NTLMSSP NEGOTIATE.
pub fn spnego_negotiate() -> Vec<u8> {
    const SPNEGO_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
    const NTLM_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
    let mech_types = der(0xa0, &der(0x30, &der(0x06, NTLM_OID)));
    let mech_token = der(0xa2, &der(0x04, &ntlm_negotiate()));
    let init = der(0xa0, &der(0x30, &[mech_types, mech_token].concat()));
    der(0x60, &[der(0x06, SPNEGO_OID), init].concat())
}

pub fn session_setup_request() -> Vec<u8> {
    let blob = spnego_negotiate();
    let mut m = smb2_header(1, 1);
    m.extend_from_slice(&25u16.to_le_bytes());
    m.push(0); // flags
    m.push(1); // signing enabled
    m.extend_from_slice(&0u32.to_le_bytes()); // capabilities
    m.extend_from_slice(&0u32.to_le_bytes()); // channel
    m.extend_from_slice(&(64u16 + 24).to_le_bytes()); // security buffer offset
    m.extend_from_slice(&(blob.len() as u16).to_le_bytes());
    m.extend_from_slice(&0u64.to_le_bytes()); // previous session
    m.extend_from_slice(&blob);
    framed(m)
}

async fn read_message(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await?;
    let len = u32::from_be_bytes([0, head[1], head[2], head[3]]) as usize;
    if !(64..=MAX_ANSWER).contains(&len) {
        return Err(std::io::Error::other("not an SMB2 answer"));
    }
    let mut body = vec![0; len];
    s.read_exact(&mut body).await?;
    if !body.starts_with(b"\xfeSMB") {
        return Err(std::io::Error::other("not an SMB2 answer"));
    }
    Ok(body)
}

/// The SMB2 exchange: the session-setup answer carrying the challenge.
pub async fn exchange(addr: IpAddr, port: u16, timeout: Duration) -> Result<Vec<u8>, String> {
    let work = async {
        let mut s = TcpStream::connect((addr, port))
            .await
            .map_err(|e| format!("connection failed: {e}"))?;
        s.write_all(&negotiate_request())
            .await
            .map_err(|e| e.to_string())?;
        let neg = read_message(&mut s).await.map_err(|e| e.to_string())?;
        let status = u32_at(&neg, 8).unwrap_or(u32::MAX);
        if status != 0 {
            return Err(format!("SMB2 negotiate refused (status {status:#010x})"));
        }
        s.write_all(&session_setup_request())
            .await
            .map_err(|e| e.to_string())?;
        read_message(&mut s).await.map_err(|e| e.to_string())
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| "no SMB2 answer within the timeout".to_string())?
}

async fn run(t: &HostTarget) -> Vec<Fact> {
    if !netid::may_probe(t) || !netid::tcp_open(t, 445) {
        return vec![];
    }
    let Ok(_permit) = t.limit.acquire().await else {
        return vec![];
    };
    match exchange(t.host.address, 445, t.timeout).await {
        Ok(answer) => match parse_challenge(&answer) {
            Some(c) => challenge_facts(&c, 445),
            None => vec![netid::cannot(
                PROBE,
                445,
                "smb os",
                "the SMB2 session setup carried no NTLMSSP challenge".into(),
            )],
        },
        Err(e) => vec![netid::cannot(
            PROBE,
            445,
            "smb os",
            untrusted::quote(e.as_bytes(), 200),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_well_formed() {
        let n = negotiate_request();
        assert_eq!(
            n.len() - 4,
            u32::from_be_bytes([0, n[1], n[2], n[3]]) as usize
        );
        assert_eq!(&n[4..8], b"\xfeSMB");
        let s = session_setup_request();
        assert_eq!(s.len() - 4, 64 + 24 + spnego_negotiate().len());
        // The NTLM NEGOTIATE is found again inside the SPNEGO token.
        let blob = spnego_negotiate();
        assert_eq!(blob[0], 0x60);
        assert_eq!(blob[1] as usize, blob.len() - 2);
        assert!(blob.windows(8).any(|w| w == NTLMSSP));
    }

    #[test]
    fn samba_like_versions_are_no_windows_signal() {
        let samba = Challenge {
            version: Some((6, 1, 0)),
            ..Default::default()
        };
        assert_eq!(samba.verdict(), Verdict::NotWindows);
        assert_eq!(Challenge::default().verdict(), Verdict::NotWindows);
        let win = Challenge {
            version: Some((10, 0, 20348)),
            ..Default::default()
        };
        assert_eq!(
            win.verdict(),
            Verdict::Windows(Some("windows-server 2022"), "10.0.20348".into())
        );
    }

    #[test]
    fn garbage_is_no_challenge() {
        assert_eq!(parse_challenge(b""), None);
        assert_eq!(parse_challenge(b"NTLMSSP\0\x02\0\0\0"), None);
        let mut m = NTLMSSP.to_vec();
        m.extend_from_slice(&2u32.to_le_bytes());
        m.extend_from_slice(&[0xff; 60]);
        // Offsets pointing far outside: parsed without panicking.
        let _ = parse_challenge(&m);
    }
}
