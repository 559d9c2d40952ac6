//! labcheck: audit a BTS SIO lab against Annexe II.E.
//!
//! Data flow: profile + inventory + catalog → [`plan`] → [`probe`] →
//! [`facts`] → [`evaluate`] → [`report`]. Probes observe, the evaluator
//! judges, reporters format.

pub mod audit;
pub mod capability;
pub mod catalog;
pub mod daemon;
pub mod diag;
pub mod diff;
pub mod duration;
pub mod evaluate;
pub mod explain;
pub mod facts;
pub mod i18n;
pub mod inspect;
pub mod inventory;
pub mod plan;
pub mod probe;
pub mod profile;
pub mod report;
pub mod store;
pub mod tls_provider;
pub mod untrusted;
pub mod validate;
