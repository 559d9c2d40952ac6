//! Reports: pure functions from an [`AuditReport`] to text. One file per
//! format, one factory ([`render`]), like lychee's output formats.

mod attestation;
mod escape;
mod html;
mod json;
mod junit;
mod markdown;
mod model;
mod text;

pub use model::*;

use std::fmt;
use std::str::FromStr;

/// Output formats of `labcheck audit --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Terminal report grouped by section (colour unless NO_COLOR or not a terminal).
    Text,
    /// The versioned JSON report (schema_version 1).
    Json,
    /// JUnit XML: one test case per requirement, for CI.
    Junit,
    /// Markdown, for a wiki or a merge request.
    Markdown,
    /// One self-contained printable HTML page.
    Html,
    /// The exam's « attestation de respect de l'annexe II.E » table (Markdown).
    Attestation,
    /// The same attestation table as a printable HTML page.
    AttestationHtml,
}

impl Format {
    pub const ALL: &'static [(&'static str, Format)] = &[
        ("text", Format::Text),
        ("json", Format::Json),
        ("junit", Format::Junit),
        ("markdown", Format::Markdown),
        ("html", Format::Html),
        ("attestation", Format::Attestation),
        ("attestation-html", Format::AttestationHtml),
    ];
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = match s {
            "md" => "markdown",
            "xml" => "junit",
            other => other,
        };
        Format::ALL
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                format!(
                    "unknown format `{s}` (expected one of: {})",
                    Format::ALL
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Format::ALL
            .iter()
            .find(|(_, x)| x == self)
            .map(|(n, _)| *n)
            .unwrap_or("?");
        f.write_str(name)
    }
}

/// Rendering options that do not change the content.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions {
    /// ANSI colours (text format only).
    pub color: bool,
}

/// Renders a report in a format.
pub fn render(report: &AuditReport, format: Format, opts: RenderOptions) -> String {
    match format {
        Format::Text => text::render(report, opts.color),
        Format::Json => json::render(report),
        Format::Junit => junit::render(report),
        Format::Markdown => markdown::render(report),
        Format::Html => html::render(report),
        Format::Attestation => attestation::render_markdown(report),
        Format::AttestationHtml => attestation::render_html(report),
    }
}

#[cfg(test)]
mod tests;
