//! One TLS provider for the whole tree: rustls with ring (no C toolchain,
//! no OpenSSL). `install_crypto` makes it the process default for crates that
//! ask rustls for it (ldap3, reqwest without a preconfigured config…);
//! labcheck's own TLS code passes `provider()` explicitly.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// Installs ring as the process-wide rustls provider. Idempotent.
pub fn install_crypto() {
    // Err means a provider is already installed: nothing to do.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The ring provider, for configs built explicitly.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
