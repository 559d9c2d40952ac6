//! Diagnostics for user-supplied TOML (profiles, inventories, catalogs).
//!
//! Loading is done in two passes, like cargo-deny: the file is parsed into a
//! spanned tree (syntax errors stop there), then each section is deserialized
//! on its own so that every bad item, unknown key and semantic problem is
//! reported at once, each with `file:line:column`, a stable code and a hint.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// Stable diagnostic codes. The string form (`LC0xx`) is what users and
/// scripts match on; never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Code {
    /// The file is not valid TOML.
    Syntax,
    /// A key the format does not know (probably a typo).
    UnknownKey,
    /// A value of the wrong type or shape, or a missing required key.
    InvalidValue,
    /// A secret written inline instead of referenced.
    InlineSecret,
    /// Two items share a name or id that must be unique.
    Duplicate,
    /// A reference to a zone, host or requirement that does not exist.
    UnknownReference,
    /// An address outside the declared scope.
    OutOfScope,
    /// A CIDR or address that does not parse.
    InvalidAddress,
    /// A duration that does not parse.
    InvalidDuration,
    /// A file the configuration points to cannot be read.
    MissingFile,
    /// A regular expression that does not compile.
    InvalidPattern,
    /// Something legal but probably not what was meant.
    Suspicious,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "LC001",
            Code::UnknownKey => "LC002",
            Code::InvalidValue => "LC003",
            Code::InlineSecret => "LC004",
            Code::Duplicate => "LC005",
            Code::UnknownReference => "LC006",
            Code::OutOfScope => "LC007",
            Code::InvalidAddress => "LC008",
            Code::InvalidDuration => "LC009",
            Code::MissingFile => "LC010",
            Code::InvalidPattern => "LC011",
            Code::Suspicious => "LC012",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Code::Syntax => "syntax-error",
            Code::UnknownKey => "unknown-key",
            Code::InvalidValue => "invalid-value",
            Code::InlineSecret => "inline-secret",
            Code::Duplicate => "duplicate",
            Code::UnknownReference => "unknown-reference",
            Code::OutOfScope => "out-of-scope",
            Code::InvalidAddress => "invalid-address",
            Code::InvalidDuration => "invalid-duration",
            Code::MissingFile => "missing-file",
            Code::InvalidPattern => "invalid-pattern",
            Code::Suspicious => "suspicious",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in a file.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub file: PathBuf,
    /// 1-based; 0 when the problem is about the file as a whole.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if self.line > 0 {
            write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        } else {
            write!(f, "{}: ", self.file.display())?;
        }
        write!(
            f,
            "{sev}[{}/{}]: {}",
            self.code.as_str(),
            self.code.name(),
            self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// The diagnostics of one or more files; errors make the input invalid.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }
    pub fn errors(&self) -> usize {
        self.0
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

/// A TOML source and the collector of its diagnostics.
pub struct Source {
    pub path: PathBuf,
    pub text: String,
    pub diags: Diagnostics,
}

impl Source {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Source {
            path: path.into(),
            text: text.into(),
            diags: Diagnostics::default(),
        }
    }

    /// Reads a file; an unreadable file is a diagnostic, not a panic.
    pub fn read(path: &Path) -> Result<Self, Diagnostics> {
        match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Ok(Source::new(path, text)),
                Err(_) => Err(Diagnostics(vec![file_diag(
                    path,
                    Code::Syntax,
                    "the file is not UTF-8 text".into(),
                    Some("TOML files must be UTF-8; re-save the file as UTF-8".into()),
                )])),
            },
            Err(e) => Err(Diagnostics(vec![file_diag(
                path,
                Code::MissingFile,
                format!("cannot read the file: {e}"),
                None,
            )])),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    pub fn push(
        &mut self,
        sev: Severity,
        code: Code,
        span: Option<Range<usize>>,
        msg: String,
        hint: Option<String>,
    ) {
        let (line, column) = match span {
            Some(s) => self.line_col(s.start),
            None => (0, 0),
        };
        self.diags.0.push(Diagnostic {
            severity: sev,
            code,
            file: self.path.clone(),
            line,
            column,
            message: msg,
            hint,
        });
    }

    pub fn error(
        &mut self,
        code: Code,
        span: Option<Range<usize>>,
        msg: impl Into<String>,
        hint: Option<String>,
    ) {
        self.push(Severity::Error, code, span, msg.into(), hint);
    }

    pub fn warning(
        &mut self,
        code: Code,
        span: Option<Range<usize>>,
        msg: impl Into<String>,
        hint: Option<String>,
    ) {
        self.push(Severity::Warning, code, span, msg.into(), hint);
    }

    /// Parses the whole document; `None` (with diagnostics) on syntax errors.
    ///
    /// The tree borrows `text`: callers pass a copy of `self.text` so that
    /// diagnostics can still be pushed while the tree is alive.
    pub fn parse<'t>(&mut self, text: &'t str) -> Option<Spanned<DeTable<'t>>> {
        let (table, errors) = DeTable::parse_recoverable(text);
        if errors.is_empty() {
            return Some(table);
        }
        for e in errors {
            let msg = first_line(e.message());
            self.error(Code::Syntax, e.span(), msg, None);
        }
        None
    }

    /// Deserializes one value, reporting unknown keys and type errors with
    /// their position. Returns `None` when the value cannot be used.
    pub fn deserialize<T: DeserializeOwned>(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        what: &str,
    ) -> Option<T> {
        let mut unknown: Vec<String> = Vec::new();
        let de = ValueDeserializer::from(value.clone());
        let result: Result<T, _> =
            serde_ignored::deserialize(de, |path| unknown.push(path.to_string()));
        for key in unknown {
            let leaf = key.rsplit('.').next().unwrap_or(&key);
            if crate::inventory::secret::INLINE_SECRET_KEYS.contains(&leaf) {
                // Reported once, as an inline secret, by the inventory's own pass.
                continue;
            }
            let span = span_at(value, &key).or_else(|| Some(value.span()));
            let leaf = key.rsplit('.').next().unwrap_or(&key).to_string();
            self.error(
                Code::UnknownKey,
                span,
                format!("unknown key `{key}` in {what}"),
                Some(format!(
                    "remove `{leaf}` or check its spelling against the documented format"
                )),
            );
        }
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                let span = e.span().or_else(|| Some(value.span()));
                self.error(
                    Code::InvalidValue,
                    span,
                    format!("{what}: {}", first_line(e.message())),
                    None,
                );
                None
            }
        }
    }
}

fn file_diag(path: &Path, code: Code, message: String, hint: Option<String>) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        code,
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        message,
        hint,
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The span of a dotted path (`a.b.0.c`, as serde_ignored prints it) inside a value.
pub fn span_at(root: &Spanned<DeValue<'_>>, path: &str) -> Option<Range<usize>> {
    let mut cur = root;
    let mut key_span = None;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        match cur.get_ref() {
            DeValue::Table(t) => {
                let (k, v) = t.iter().find(|(k, _)| k.get_ref().as_ref() == part)?;
                key_span = Some(k.span());
                cur = v;
            }
            DeValue::Array(a) => {
                let idx: usize = part.parse().ok()?;
                cur = a.get(idx)?;
                key_span = Some(cur.span());
            }
            _ => return None,
        }
    }
    key_span
}

/// The span of a key (not its value) directly inside a table.
pub fn key_span(table: &DeTable<'_>, key: &str) -> Option<Range<usize>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(k, _)| k.span())
}

/// The value of a key directly inside a table.
pub fn get<'a, 't>(table: &'a DeTable<'t>, key: &str) -> Option<&'a Spanned<DeValue<'t>>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(_, v)| v)
}

/// The span of a value inside a table, or of the table itself.
pub fn value_span(table: &Spanned<DeValue<'_>>, key: &str) -> Range<usize> {
    match table.get_ref() {
        DeValue::Table(t) => get(t, key)
            .map(|v| v.span())
            .unwrap_or_else(|| table.span()),
        _ => table.span(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let s = Source::new("x.toml", "a = 1\né = \"x\"\nb = 2\n");
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(6), (2, 1));
        // "é" is two bytes but one column.
        let b = s.text.find("b =").unwrap();
        assert_eq!(s.line_col(b), (3, 1));
        let eq = s.text.find("= \"x\"").unwrap();
        assert_eq!(s.line_col(eq), (2, 3));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let mut s = Source::new("x.toml", "a = 1\nb = [\n");
        let text = s.text.clone();
        assert!(s.parse(&text).is_none());
        assert_eq!(s.diags.0[0].code, Code::Syntax);
        assert!(s.diags.0[0].line >= 2, "{:?}", s.diags.0[0]);
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Item {
        name: String,
        port: u16,
    }

    #[test]
    fn unknown_keys_and_type_errors_are_all_reported() {
        let mut s = Source::new(
            "x.toml",
            "[[item]]\nname = \"a\"\nport = 1\nprot = 2\n[[item]]\nname = \"b\"\nport = \"x\"\n",
        );
        let text = s.text.clone();
        let root = s.parse(&text).unwrap();
        let items = get(root.get_ref(), "item").unwrap().clone();
        let DeValue::Array(arr) = items.into_inner() else {
            panic!()
        };
        let mut ok = 0;
        for it in &arr {
            if s.deserialize::<Item>(it, "item").is_some() {
                ok += 1;
            }
        }
        assert_eq!(ok, 1);
        let d = &s.diags.0;
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(
            (d[0].code, d[0].line, d[0].column),
            (Code::UnknownKey, 4, 1)
        );
        assert_eq!((d[1].code, d[1].line), (Code::InvalidValue, 7));
    }
}
