//! TCP probe: connect, send the probe's payload (or nothing), read the
//! answer. Bounded in time (one deadline for the whole exchange) and size.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use crate::facts::Outcome;

/// At most this much of an answer is kept: a 5 MB banner costs 64 KiB.
pub const MAX_ANSWER: usize = 64 * 1024;

/// After the first bytes, a pause this long ends the answer.
const IDLE_GAP: Duration = Duration::from_millis(300);

/// Connects before `deadline`. The error is the outcome to report.
pub async fn connect(addr: IpAddr, port: u16, deadline: Instant) -> Result<TcpStream, Outcome> {
    match timeout_at(deadline, TcpStream::connect(SocketAddr::new(addr, port))).await {
        Err(_) => Err(Outcome::Timeout),
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(classify(&e)),
    }
}

/// Maps a connect error to an outcome: refused means the host is up.
pub fn classify(e: &io::Error) -> Outcome {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Outcome::Refused,
        io::ErrorKind::TimedOut => Outcome::Timeout,
        io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::AddrNotAvailable => Outcome::Unreachable(e.to_string()),
        _ => Outcome::Unreachable(e.to_string()),
    }
}

/// Sends `payload` (if any) and reads the answer until EOF, the size cap,
/// the deadline, a pause after some data, or `done` says it is enough.
/// Returns what was read; an empty answer is not an error.
pub async fn exchange(
    stream: &mut TcpStream,
    payload: &[u8],
    deadline: Instant,
    done: impl Fn(&[u8]) -> bool,
) -> Result<Vec<u8>, Outcome> {
    if !payload.is_empty() {
        match timeout_at(deadline, stream.write_all(payload)).await {
            Err(_) => return Err(Outcome::Timeout),
            Ok(Err(e)) => {
                return Err(Outcome::ProtocolError(format!(
                    "write failed: {}",
                    e.kind()
                )));
            }
            Ok(Ok(())) => {}
        }
    }
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let until = if buf.is_empty() {
            deadline
        } else {
            deadline.min(Instant::now() + IDLE_GAP)
        };
        match timeout_at(until, stream.read(&mut chunk)).await {
            Err(_) => break,
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => {
                let room = MAX_ANSWER - buf.len();
                buf.extend_from_slice(&chunk[..n.min(room)]);
                if buf.len() >= MAX_ANSWER || done(&buf) {
                    break;
                }
            }
            // A reset after some data still leaves a usable answer.
            Ok(Err(_)) if !buf.is_empty() => break,
            Ok(Err(e)) => return Err(Outcome::ProtocolError(format!("read failed: {}", e.kind()))),
        }
    }
    Ok(buf)
}
