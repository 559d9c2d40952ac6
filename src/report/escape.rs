//! Escaping for every report format.
//!
//! Lab text (banners, evidence, host names, attestation text…) went through
//! [`crate::untrusted`] when it was observed: control characters were made
//! visible there. The reports do not rely on it: every dynamic string is
//! passed through one of the functions below before it is written, which
//!
//! 1. *neutralises* characters that could act on the reader's terminal or
//!    make the document invalid — C0 and C1 controls, DEL, the
//!    bidirectional overrides and the non-characters U+FFFE/U+FFFF — by
//!    writing them as visible text (`\x1b`, `\u{202e}`), the same notation
//!    as `untrusted::quote`;
//! 2. escapes what is syntax in the target format.
//!
//! Tab and newline survive only where a format can carry them harmlessly
//! (XML text); everywhere else they are made visible too, so lab text can
//! never start a new line of its own (a forged report line, a Markdown
//! heading, a table row).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must never reach the output as itself.
fn is_dangerous(c: char, keep_whitespace: bool) -> bool {
    match c {
        '\t' | '\n' | '\r' => !keep_whitespace,
        // C0, DEL and C1 (`char::is_control` covers exactly these).
        c if c.is_control() => true,
        // Bidirectional embeddings/overrides/isolates: they make text read
        // differently from what it is ("Trojan Source").
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        // Not characters; forbidden in XML 1.0.
        '\u{fffe}' | '\u{ffff}' => true,
        _ => false,
    }
}

/// Writes `c` in a visible, inert form.
fn push_visible(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x100 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// Makes dangerous characters visible; borrows when there is nothing to do.
fn neutralise(s: &str, keep_whitespace: bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_dangerous(c, keep_whitespace)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_dangerous(c, keep_whitespace) {
            push_visible(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text for a terminal: no ESC, no other control character, no newline.
/// The caller adds its own ANSI codes around the result.
pub fn terminal(s: &str) -> Cow<'_, str> {
    neutralise(s, false)
}

/// Text content or attribute value in XML, XHTML or HTML: `& < > " '`
/// escaped, characters XML 1.0 forbids (and C1 controls, bidi overrides)
/// made visible. Tab and newline are kept (they are legal, and inert).
pub fn xml(s: &str) -> Cow<'_, str> {
    let s = neutralise(s, true);
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The same as [`xml`], under the name the HTML writers read better with.
pub fn html(s: &str) -> Cow<'_, str> {
    xml(s)
}

/// Inline Markdown text (a paragraph, a list item, a table cell, a
/// heading): renders as the literal text, in CommonMark and GitHub
/// Flavored Markdown alike.
///
/// - `<`, `>` and `&` become HTML entities, so no raw HTML and no entity
///   can be injected (`&amp;` in the lab shows as `&amp;`);
/// - `\` `` ` `` `*` `_` `[` `]` `|` `~` are backslash-escaped (emphasis,
///   code spans, links, table cells, strikethrough);
/// - a start that would open a block if the text began a line (`# `,
///   `- `, `+ `, `1. `, `---`, `===`) is escaped;
/// - newlines and other control characters are made visible, so the text
///   stays on its line and a table row stays one row.
pub fn markdown(s: &str) -> String {
    let s = neutralise(s, false);
    let mut out = String::with_capacity(s.len() + 16);
    let rest = match block_marker(&s) {
        Some(i) => {
            out.push_str(&s[..i]); // digits of `1.`, if any
            out.push('\\');
            &s[i..]
        }
        None => &s[..],
    };
    for c in rest.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Where to put a backslash so that `s`, at the start of a line, opens no
/// block (heading, list item, thematic break, setext underline).
fn block_marker(s: &str) -> Option<usize> {
    let ends_marker = |rest: &str| rest.is_empty() || rest.starts_with([' ', '\t']);
    let only = |c: char| s.chars().all(|x| x == c || x == ' ' || x == '\t');
    let first = s.chars().next()?;
    match first {
        '#' => {
            let n = s.chars().take_while(|c| *c == '#').count();
            (n <= 6 && ends_marker(&s[n..])).then_some(0)
        }
        '-' | '+' => (ends_marker(&s[1..]) || (first == '-' && only('-'))).then_some(0),
        '=' => only('=').then_some(0),
        '0'..='9' => {
            let n = s.chars().take_while(char::is_ascii_digit).count();
            let rest = &s[n..];
            (n <= 9 && rest.starts_with(['.', ')']) && ends_marker(&rest[1..])).then_some(n)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_makes_controls_visible() {
        assert_eq!(
            terminal("a\u{1b}[31mb\u{9b}c\nd\u{7f}"),
            "a\\x1b[31mb\\x9bc\\nd\\x7f"
        );
        assert_eq!(terminal("é ok"), "é ok");
        assert!(matches!(terminal("plain"), Cow::Borrowed(_)));
        assert_eq!(terminal("x\u{202e}y"), "x\\u{202e}y");
    }

    #[test]
    fn xml_escapes_syntax_and_forbidden_characters() {
        assert_eq!(
            xml(r#"<a href="x">&amp;'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            xml("]]>\u{1b}\u{0}\u{fffe}\tok\n"),
            "]]&gt;\\x1b\\x00\\u{fffe}\tok\n"
        );
    }

    #[test]
    fn markdown_escapes_inline_syntax() {
        assert_eq!(
            markdown("| a | <b> *c* _d_ [e](f) `g` ~h~ \\"),
            "\\| a \\| &lt;b&gt; \\*c\\* \\_d\\_ \\[e\\](f) \\`g\\` \\~h\\~ \\\\"
        );
        assert_eq!(markdown("# title"), "\\# title");
        assert_eq!(markdown("12. item"), "12\\. item");
        assert_eq!(markdown("a-b 1.2"), "a-b 1.2");
        assert_eq!(markdown("1.1"), "1.1");
        assert_eq!(markdown("198.18.10.10"), "198.18.10.10");
        assert_eq!(markdown("1) x"), "1\\) x");
        assert_eq!(markdown("- x"), "\\- x");
        assert_eq!(markdown("---"), "\\---");
        assert_eq!(markdown("-x"), "-x");
        assert_eq!(markdown("#tag"), "#tag");
        assert_eq!(markdown("==="), "\\===");
        assert_eq!(markdown("x\ny"), "x\\\\ny");
    }
}
