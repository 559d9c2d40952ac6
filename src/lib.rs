//! labcheck: audit a BTS SIO lab against Annexe II.E.
//!
//! Data flow: profile + inventory + catalog → [`plan`] → [`probe`] →
//! [`facts`] → [`evaluate`] → [`report`]. Probes observe, the evaluator
//! judges, reporters format.

pub mod capability;
pub mod diag;
pub mod duration;
pub mod i18n;
pub mod inventory;
pub mod profile;
pub mod catalog;
pub mod facts;
pub mod plan;
pub mod probe;
pub mod untrusted;
pub mod evaluate;
pub mod report;
pub mod audit;
pub mod explain;
pub mod validate;
