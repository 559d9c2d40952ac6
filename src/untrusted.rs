//! Text that comes from the lab (banners, titles, certificate names) is
//! untrusted: it is decoded lossily, control characters are made visible and
//! it is length-capped here, once, before any report sees it. Each report
//! format then escapes it for its own syntax.

/// Default cap for quoted lab text, in characters.
pub const MAX_QUOTE: usize = 200;

/// Lossy UTF-8, control characters escaped (`\n`, `\x1b`), capped to `max`
/// characters with an ellipsis.
pub fn quote(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count >= max {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            // Bidirectional overrides could make a banner read differently
            // from what it is.
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// The first line of an answer, quoted: what a banner shows.
pub fn first_line(bytes: &[u8], max: usize) -> String {
    let end = bytes
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(bytes.len());
    let line = &bytes[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    quote(line, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_and_controls_are_made_visible() {
        let q = quote(b"ok\xff\xfe\x1b[31m<script>\n", 100);
        assert_eq!(q, "ok\u{fffd}\u{fffd}\\x1b[31m<script>\\n");
    }

    #[test]
    fn long_text_is_capped() {
        let big = vec![b'a'; 5_000_000];
        let q = quote(&big, 10);
        assert_eq!(q.chars().count(), 11);
        assert!(q.ends_with('…'));
    }

    #[test]
    fn first_line_stops_at_newline() {
        assert_eq!(
            first_line(b"SSH-2.0-OpenSSH_9.2p1\r\nmore", 100),
            "SSH-2.0-OpenSSH_9.2p1"
        );
    }
}
