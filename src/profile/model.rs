//! The profile: which requirements the lab must meet and the rule deciding each.

use serde::{Deserialize, Serialize};

use crate::i18n::{Lang, Text};

/// A loaded profile (includes already merged).
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub id: String,
    pub title: Text,
    pub requirements: Vec<Requirement>,
    pub groups: Vec<Group>,
}

impl Profile {
    pub fn requirement(&self, id: &str) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.id == id)
    }
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }
}

/// `[profile]` header of a profile file.
#[derive(Debug, Clone, Deserialize)]
pub struct ProfileHeader {
    pub id: String,
    pub title: Text,
    /// Other profiles merged first: an embedded name (`common`) or a path
    /// relative to this file.
    #[serde(default)]
    pub include: Vec<String>,
}

/// How a requirement can be established (Annexe II.E evidence classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum EvidenceClass {
    /// From the network, without credentials.
    #[serde(rename = "probe")]
    Probe,
    /// Needs credentials declared in the inventory (SSH, bind account…).
    #[serde(rename = "probe+cred")]
    ProbeCred,
    /// Cannot be seen from the network: a signed-off attestation.
    #[serde(rename = "attest")]
    Attest,
}

impl EvidenceClass {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceClass::Probe => "probe",
            EvidenceClass::ProbeCred => "probe+cred",
            EvidenceClass::Attest => "attest",
        }
    }
}

/// `[[requirement]]` of a profile file.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Requirement {
    /// Stable id from annexe-II.E.md (`common.dbms`).
    pub id: String,
    /// Section of the Annexe (`1.1`, `2.2`).
    pub section: String,
    /// Official French wording, verbatim.
    pub wording: String,
    /// Short title, English and French.
    pub title: Text,
    pub evidence: EvidenceClass,
    /// A profile is conform only when every mandatory requirement is.
    /// Members of a group are usually not mandatory on their own.
    #[serde(default = "yes")]
    pub mandatory: bool,
    /// How the tool checks it, for `labcheck profiles show`.
    pub how: Text,
    /// What to do when it is not conform.
    pub remediation: Text,
    pub rule: Rule,
}

fn yes() -> bool {
    true
}

/// `[[group]]`: passes when at least `needed` of `members` pass.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Group {
    pub id: String,
    pub section: String,
    pub wording: String,
    pub title: Text,
    pub needed: usize,
    pub members: Vec<String>,
    pub remediation: Text,
}

/// What makes a requirement conform. Evaluated by `evaluate` over the facts.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Rule {
    /// Some product or in-host fact provides these capabilities.
    Capability {
        /// Conform when any one of these is observed.
        #[serde(default)]
        any: Vec<String>,
        /// Conform when every one of these is observed (anywhere in the lab).
        #[serde(default)]
        all: Vec<String>,
        /// Signals that something relevant is there but does not prove the
        /// requirement (e.g. HAProxy seen, spread over backends not measured):
        /// they turn "not found" into "cannot verify".
        #[serde(default)]
        partial: Vec<String>,
        /// What "not found" means after a complete scan.
        #[serde(default)]
        on_missing: OnMissing,
    },
    /// At least `min_families` OS families among servers, `open_source` of
    /// them open source, each established by a trustworthy signal.
    TwoOs {
        #[serde(default = "two")]
        min_families: usize,
        #[serde(default = "one")]
        open_source: usize,
    },
    /// A backup solution, and when its latest backup's age is known, no
    /// older than `max_age` (`7d`, `36h`).
    Backup { any: Vec<String>, max_age: String },
    /// At least `min` audited hosts answered on the network.
    HostsReachable {
        #[serde(default = "one")]
        min: usize,
    },
    /// At least `min_zones` zones declared, and the declared flows observed
    /// as expected (deny flows really blocked).
    Perimeters {
        #[serde(default = "two")]
        min_zones: usize,
    },
    /// Declared resources refuse anonymous access (and accept the account).
    SecuredResources,
    /// At least `min` declared applications answer over TLS with authentication.
    Applications {
        #[serde(default = "two")]
        min: usize,
    },
    /// Only an attestation can establish it.
    Attest,
}

fn one() -> usize {
    1
}
fn two() -> usize {
    2
}

/// Whether a complete scan that found nothing proves absence.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum OnMissing {
    /// Every host answered and nothing matched: the lab lacks it.
    #[default]
    NonConform,
    /// Absence cannot be seen from the network (an IDS has no port, a tool
    /// lives on a workstation): only in-host inspection or an attestation decide.
    CannotVerify,
}

impl Requirement {
    pub fn title(&self, lang: Lang) -> &str {
        self.title.get(lang)
    }
}
