//! Profiles: loading (embedded or from a file, with includes) and validation.
//!
//! Profiles are data. `profiles/*.toml` are embedded in the binary; a teacher
//! can copy one, add a local requirement and pass the file with `--profile`.

mod model;

pub use model::*;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use toml::de::DeValue;

use crate::capability;
use crate::diag::{self, Code, Diagnostics, Source};

/// The profiles shipped in the binary: (name, file name, contents).
pub const EMBEDDED: &[(&str, &str, &str)] = &[
    (
        "common",
        "profiles/common.toml",
        include_str!("../../profiles/common.toml"),
    ),
    (
        "sisr",
        "profiles/sisr.toml",
        include_str!("../../profiles/sisr.toml"),
    ),
    (
        "slam",
        "profiles/slam.toml",
        include_str!("../../profiles/slam.toml"),
    ),
];

/// Names a user can pass to `--profile` (the common part alone is not an exam option).
pub const SELECTABLE: &[&str] = &["sisr", "slam"];

/// Loads a profile by embedded name or by path; errors make it unusable.
pub fn load(spec: &str) -> Result<Profile, Diagnostics> {
    let (profile, diags) = load_with_diagnostics(spec);
    match profile {
        Some(p) if !diags.has_errors() => Ok(p),
        _ => Err(diags),
    }
}

/// Loads a profile and returns every diagnostic, warnings included.
pub fn load_with_diagnostics(spec: &str) -> (Option<Profile>, Diagnostics) {
    let mut stack = Vec::new();
    let (profile, mut diags) = load_inner(spec, None, &mut stack);
    if let Some(p) = &profile {
        let mut src = Source::new(origin_of(spec), "");
        validate(p, &mut src);
        diags.extend(src.diags);
    }
    (profile, diags)
}

fn origin_of(spec: &str) -> PathBuf {
    EMBEDDED
        .iter()
        .find(|(name, _, _)| *name == spec)
        .map(|(_, file, _)| PathBuf::from(file))
        .unwrap_or_else(|| PathBuf::from(spec))
}

fn load_inner(
    spec: &str,
    base: Option<&Path>,
    stack: &mut Vec<String>,
) -> (Option<Profile>, Diagnostics) {
    let mut src = match EMBEDDED.iter().find(|(name, _, _)| *name == spec) {
        Some((_, file, text)) => Source::new(*file, *text),
        None => {
            let path = match base {
                Some(dir) => dir.join(spec),
                None => PathBuf::from(spec),
            };
            match Source::read(&path) {
                Ok(s) => s,
                Err(mut d) => {
                    if base.is_none() && !path.exists() {
                        d.0[0].message = format!("no such profile `{spec}`");
                        d.0[0].hint = Some(format!(
                            "use one of the embedded profiles ({}) or the path of a profile file",
                            SELECTABLE.join(", ")
                        ));
                    }
                    return (None, d);
                }
            }
        }
    };
    let key = src.path.display().to_string();
    if stack.contains(&key) {
        src.error(
            Code::InvalidValue,
            None,
            format!("include cycle: {} -> {key}", stack.join(" -> ")),
            None,
        );
        return (None, src.diags);
    }
    stack.push(key);
    let parsed = parse_file(&mut src);
    let mut diags = Diagnostics::default();
    let profile = parsed.map(|file| {
        let dir = src.path.parent().map(Path::to_path_buf);
        let mut merged = Profile {
            id: file.header.id.clone(),
            title: file.header.title.clone(),
            requirements: vec![],
            groups: vec![],
        };
        for inc in &file.header.include {
            let (p, d) = load_inner(inc, dir.as_deref(), stack);
            diags.extend(d);
            if let Some(p) = p {
                merge(&mut merged, p.requirements, p.groups);
            }
        }
        merge(&mut merged, file.requirements, file.groups);
        merged
    });
    diags.extend(src.diags);
    stack.pop();
    (profile, diags)
}

/// Later definitions replace earlier ones with the same id, so a local copy
/// can refine an included requirement.
fn merge(into: &mut Profile, reqs: Vec<Requirement>, groups: Vec<Group>) {
    for r in reqs {
        match into.requirements.iter_mut().find(|x| x.id == r.id) {
            Some(slot) => *slot = r,
            None => into.requirements.push(r),
        }
    }
    for g in groups {
        match into.groups.iter_mut().find(|x| x.id == g.id) {
            Some(slot) => *slot = g,
            None => into.groups.push(g),
        }
    }
}

struct ProfileFile {
    header: ProfileHeader,
    requirements: Vec<Requirement>,
    groups: Vec<Group>,
}

/// Parses one file, collecting every diagnostic it can.
fn parse_file(src: &mut Source) -> Option<ProfileFile> {
    let text = src.text.clone();
    let root = src.parse(&text)?;
    let root_value = toml::Spanned::new(root.span(), DeValue::Table(root.get_ref().clone()));
    for (k, _) in root.get_ref().iter() {
        let name = k.get_ref().as_ref();
        if !["profile", "requirement", "group"].contains(&name) {
            src.error(
                Code::UnknownKey,
                Some(k.span()),
                format!("unknown top-level key `{name}` in a profile"),
                Some("a profile has [profile], [[requirement]] and [[group]]".into()),
            );
        }
    }
    let header = match diag::get(root.get_ref(), "profile") {
        Some(v) => src.deserialize::<ProfileHeader>(v, "[profile]"),
        None => {
            src.error(
                Code::InvalidValue,
                Some(0..0),
                "missing [profile] table (id, title)",
                None,
            );
            None
        }
    };
    let mut requirements = Vec::new();
    let mut seen = HashSet::new();
    for item in array(&root_value, "requirement", src) {
        if let Some(r) = src.deserialize::<Requirement>(item, "[[requirement]]") {
            let span = diag::value_span(item, "id");
            if !seen.insert(r.id.clone()) {
                src.error(
                    Code::Duplicate,
                    Some(span.clone()),
                    format!("requirement `{}` is defined twice in this file", r.id),
                    None,
                );
            }
            check_rule(src, &r, item);
            requirements.push(r);
        }
    }
    let mut groups = Vec::new();
    for item in array(&root_value, "group", src) {
        if let Some(g) = src.deserialize::<Group>(item, "[[group]]") {
            groups.push(g);
        }
    }
    Some(ProfileFile {
        header: header?,
        requirements,
        groups,
    })
}

/// Items of a `[[key]]` array (an error if the key holds something else).
pub(crate) fn array<'a, 't>(
    root: &'a toml::Spanned<DeValue<'t>>,
    key: &str,
    src: &mut Source,
) -> Vec<&'a toml::Spanned<DeValue<'t>>> {
    let DeValue::Table(t) = root.get_ref() else {
        return vec![];
    };
    match diag::get(t, key) {
        None => vec![],
        Some(v) => match v.get_ref() {
            DeValue::Array(a) => a.iter().collect(),
            _ => {
                src.error(
                    Code::InvalidValue,
                    Some(v.span()),
                    format!("`{key}` must be an array of tables: write [[{key}]]"),
                    None,
                );
                vec![]
            }
        },
    }
}

fn check_rule(src: &mut Source, r: &Requirement, item: &toml::Spanned<DeValue<'_>>) {
    let span = Some(diag::value_span(item, "rule"));
    let caps: Vec<&String> = match &r.rule {
        Rule::Capability {
            any, all, partial, ..
        } => {
            if any.is_empty() && all.is_empty() {
                src.error(
                    Code::InvalidValue,
                    span.clone(),
                    format!("rule of `{}` names no capability", r.id),
                    Some("give `any = [...]` or `all = [...]`".into()),
                );
            }
            any.iter().chain(all).chain(partial).collect()
        }
        Rule::Backup { any, max_age } => {
            if let Err(e) = crate::duration::parse(max_age) {
                src.error(
                    Code::InvalidDuration,
                    span.clone(),
                    format!("max_age of `{}`: {e}", r.id),
                    None,
                );
            }
            any.iter().collect()
        }
        _ => vec![],
    };
    for c in caps {
        if !capability::is_known(c) {
            src.warning(
                Code::Suspicious,
                span.clone(),
                format!(
                    "`{}` names capability `{c}`, which no probe or catalog entry provides",
                    r.id
                ),
                Some("it can never be observed; see `labcheck profiles capabilities`".into()),
            );
        }
    }
}

/// Whole-profile checks, after includes are merged.
pub fn validate(p: &Profile, src: &mut Source) {
    for g in &p.groups {
        for m in &g.members {
            if p.requirement(m).is_none() {
                src.error(
                    Code::UnknownReference,
                    None,
                    format!("group `{}` names unknown requirement `{m}`", g.id),
                    None,
                );
            }
        }
        if g.needed == 0 || g.needed > g.members.len() {
            src.error(
                Code::InvalidValue,
                None,
                format!(
                    "group `{}` needs {} of {} members",
                    g.id,
                    g.needed,
                    g.members.len()
                ),
                Some("`needed` must be between 1 and the number of members".into()),
            );
        }
    }
    if p.requirements.is_empty() {
        src.error(
            Code::InvalidValue,
            None,
            format!("profile `{}` has no requirement", p.id),
            None,
        );
    }
}

/// Validates a profile file for `labcheck validate`.
pub fn lint_file(path: &Path) -> Diagnostics {
    load_with_diagnostics(&path.display().to_string()).1
}

#[cfg(test)]
mod tests;
