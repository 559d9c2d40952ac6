//! `labcheck validate FILE…`: lints profiles, inventories and catalogs,
//! recognising each by its top-level tables.

use std::path::Path;

use crate::catalog::Catalog;
use crate::diag::{Code, Diagnostic, Diagnostics, Severity};
use crate::{audit, inventory, profile};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Profile,
    Inventory,
    Catalog,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Profile => "profile",
            FileKind::Inventory => "inventory",
            FileKind::Catalog => "catalog",
        }
    }
}

/// Guesses the kind from the text: `[profile]` → profile, `[[product]]` or
/// `[[probe]]` → catalog, anything else → inventory.
pub fn kind_of(text: &str) -> FileKind {
    let heads: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('['))
        .collect();
    if heads.iter().any(|l| l.starts_with("[profile]"))
        || heads.iter().any(|l| l.starts_with("[[requirement]]"))
    {
        FileKind::Profile
    } else if heads.iter().any(|l| {
        l.starts_with("[[product]]") || l.starts_with("[[probe]]") || l.starts_with("[[os_signal]]")
    }) {
        FileKind::Catalog
    } else {
        FileKind::Inventory
    }
}

/// Lints one file; returns its kind (when readable) and every diagnostic.
pub fn lint(path: &Path) -> (Option<FileKind>, Diagnostics) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return (
                None,
                Diagnostics(vec![Diagnostic {
                    severity: Severity::Error,
                    code: Code::MissingFile,
                    file: path.to_path_buf(),
                    line: 0,
                    column: 0,
                    message: format!("cannot read the file: {e}"),
                    hint: None,
                }]),
            );
        }
    };
    let kind = kind_of(&text);
    let diags = match kind {
        FileKind::Profile => profile::lint_file(path),
        FileKind::Catalog => Catalog::lint_file(path),
        FileKind::Inventory => inventory::load_with_diagnostics(path, &audit::embedded_ids()).1,
    };
    (Some(kind), diags)
}
