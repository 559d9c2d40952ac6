//! Secrets by reference only. A [`Secret`] never prints its value: not in
//! `Debug`, not in `Display`, not in serialization.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where a secret is read at run time. Never the secret itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
}

/// Keys that would hold a secret inline: refused by validation.
pub const INLINE_SECRET_KEYS: &[&str] = &[
    "password",
    "passphrase",
    "secret",
    "token",
    "community",
    "api_key",
    "shared_secret",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("no secret reference given (password_env or password_file)")]
    NotGiven,
    #[error("environment variable {0} is not set")]
    EnvMissing(String),
    #[error("cannot read secret file {0}: {1}")]
    File(PathBuf, String),
}

impl SecretRef {
    pub fn is_given(&self) -> bool {
        self.password_env.is_some() || self.password_file.is_some()
    }

    /// Reads the secret now. Errors name the reference, never a value.
    pub fn resolve(&self) -> Result<Secret, SecretError> {
        if let Some(var) = &self.password_env {
            return match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Secret(v)),
                _ => Err(SecretError::EnvMissing(var.clone())),
            };
        }
        if let Some(path) = &self.password_file {
            return match std::fs::read_to_string(path) {
                // A trailing newline in a password file is an editor artefact.
                Ok(v) => Ok(Secret(v.trim_end_matches(['\n', '\r']).to_string())),
                Err(e) => Err(SecretError::File(path.clone(), e.kind().to_string())),
            };
        }
        Err(SecretError::NotGiven)
    }

    /// A description safe to show: where the secret comes from.
    pub fn describe(&self) -> String {
        match (&self.password_env, &self.password_file) {
            (Some(v), _) => format!("${v}"),
            (None, Some(p)) => p.display().to_string(),
            (None, None) => "(none)".into(),
        }
    }
}

/// A secret value, redacted everywhere it could be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The value, for the one place that must send it (a bind, a login).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn resolution_errors_name_the_reference_only() {
        let r = SecretRef {
            password_env: Some("LABCHECK_TEST_UNSET_VAR_X".into()),
            password_file: None,
        };
        let e = r.resolve().unwrap_err();
        assert_eq!(
            e,
            SecretError::EnvMissing("LABCHECK_TEST_UNSET_VAR_X".into())
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret\n").unwrap();
        let r = SecretRef {
            password_env: None,
            password_file: Some(f),
        };
        assert_eq!(r.resolve().unwrap().expose(), "s3cret");
    }
}
