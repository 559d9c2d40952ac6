//! The evaluator: a pure function (profile, inventory, facts) → verdicts.
//!
//! Rules of annexe-II.E.md: a requirement is conform only on positive
//! evidence; unreachable hosts, timeouts, refused credentials or unknown
//! products give *cannot verify*; an attestation turns *cannot verify* into
//! *attested* but never overrides an observation of the opposite (the
//! conflict is reported).

mod rules;

use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::facts::Facts;
use crate::i18n::Lang;
use crate::inventory::{Attestation, Inventory};
use crate::profile::{Profile, Requirement};
use crate::tr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Conform,
    NonConform,
    CannotVerify,
    Attested,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Conform => "conform",
            Status::NonConform => "non-conform",
            Status::CannotVerify => "cannot-verify",
            Status::Attested => "attested",
        }
    }
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Status::Conform, Lang::En) => "conform",
            (Status::NonConform, Lang::En) => "non-conform",
            (Status::CannotVerify, Lang::En) => "cannot verify",
            (Status::Attested, Lang::En) => "attested",
            (Status::Conform, Lang::Fr) => "conforme",
            (Status::NonConform, Lang::Fr) => "non conforme",
            (Status::CannotVerify, Lang::Fr) => "non vérifiable",
            (Status::Attested, Lang::Fr) => "attesté",
        }
    }
    /// Counts as met for the exam.
    pub fn is_met(self) -> bool {
        matches!(self, Status::Conform | Status::Attested)
    }
}

/// The verdict of the whole profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Overall {
    Conform,
    NonConform,
    /// Nothing non-conform, but something could not be verified.
    Incomplete,
}

impl Overall {
    pub fn as_str(self) -> &'static str {
        match self {
            Overall::Conform => "conform",
            Overall::NonConform => "non-conform",
            Overall::Incomplete => "incomplete",
        }
    }
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Overall::Conform, Lang::En) => "CONFORM",
            (Overall::NonConform, Lang::En) => "NON-CONFORM",
            (Overall::Incomplete, Lang::En) => "INCOMPLETE",
            (Overall::Conform, Lang::Fr) => "CONFORME",
            (Overall::NonConform, Lang::Fr) => "NON CONFORME",
            (Overall::Incomplete, Lang::Fr) => "INCOMPLET",
        }
    }
}

/// One line of evidence: what was seen, where, by which probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub host: Option<String>,
    pub probe: String,
    pub observed: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    pub id: String,
    pub status: Status,
    /// Why this status, in one or two sentences.
    pub explanation: String,
    pub evidence: Vec<Evidence>,
    /// What to do, when not conform.
    pub remediation: Option<String>,
    pub attestation: Option<Attestation>,
    /// An attestation contradicted by an observation.
    pub conflict: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupVerdict {
    pub id: String,
    pub needed: usize,
    pub met: usize,
    pub status: Status,
    pub members: Vec<String>,
    pub remediation: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evaluation {
    pub requirements: Vec<Verdict>,
    pub groups: Vec<GroupVerdict>,
    pub overall: Overall,
}

impl Evaluation {
    pub fn verdict(&self, id: &str) -> Option<&Verdict> {
        self.requirements.iter().find(|v| v.id == id)
    }
}

/// What a rule concluded before attestations are considered.
pub(crate) struct Finding {
    pub status: Status,
    pub explanation: String,
    pub evidence: Vec<Evidence>,
}

/// Judges the facts. Pure: no I/O, same input → same output.
pub fn evaluate(
    profile: &Profile,
    inventory: &Inventory,
    facts: &Facts,
    catalog: &Catalog,
    lang: Lang,
) -> Evaluation {
    let ctx = rules::Ctx::new(inventory, facts, catalog, lang);
    let requirements: Vec<Verdict> = profile
        .requirements
        .iter()
        .map(|r| judge(r, &ctx, inventory, lang))
        .collect();
    let groups: Vec<GroupVerdict> = profile
        .groups
        .iter()
        .map(|g| {
            let statuses: Vec<Status> = g
                .members
                .iter()
                .filter_map(|m| requirements.iter().find(|v| &v.id == m))
                .map(|v| v.status)
                .collect();
            let met = statuses.iter().filter(|s| s.is_met()).count();
            let open = statuses
                .iter()
                .filter(|s| **s == Status::CannotVerify)
                .count();
            let status = if met >= g.needed {
                Status::Conform
            } else if met + open >= g.needed {
                Status::CannotVerify
            } else {
                Status::NonConform
            };
            GroupVerdict {
                id: g.id.clone(),
                needed: g.needed,
                met,
                status,
                members: g.members.clone(),
                remediation: (!status.is_met()).then(|| g.remediation.get(lang).to_string()),
            }
        })
        .collect();
    let mandatory = profile
        .requirements
        .iter()
        .filter(|r| r.mandatory)
        .filter_map(|r| requirements.iter().find(|v| v.id == r.id))
        .map(|v| v.status);
    let all: Vec<Status> = mandatory.chain(groups.iter().map(|g| g.status)).collect();
    let overall = if all.contains(&Status::NonConform) {
        Overall::NonConform
    } else if all.contains(&Status::CannotVerify) {
        Overall::Incomplete
    } else {
        Overall::Conform
    };
    Evaluation {
        requirements,
        groups,
        overall,
    }
}

fn judge(req: &Requirement, ctx: &rules::Ctx<'_>, inventory: &Inventory, lang: Lang) -> Verdict {
    let finding = ctx.apply(&req.rule);
    let attestation = inventory.attestation(&req.id).cloned();
    let (status, conflict) = match (&attestation, finding.status) {
        (Some(_), Status::CannotVerify) => (Status::Attested, None),
        (Some(a), Status::NonConform) => (
            Status::NonConform,
            Some(tr!(
                lang,
                "attested by {} on {}, but the audit observed the opposite: {}",
                "attesté par {} le {}, mais l'audit a observé le contraire : {}",
                a.by,
                a.date,
                finding.explanation
            )),
        ),
        (_, s) => (s, None),
    };
    let mut evidence = finding.evidence;
    if let Some(a) = &attestation {
        evidence.push(Evidence {
            host: None,
            probe: "attestation".into(),
            observed: tr!(
                lang,
                "attested by {} on {}: {}",
                "attesté par {} le {} : {}",
                a.by,
                a.date,
                a.evidence
            ),
        });
    }
    let explanation = if status == Status::Attested {
        tr!(
            lang,
            "{} Attested instead.",
            "{} Attesté à la place.",
            finding.explanation
        )
    } else {
        finding.explanation
    };
    Verdict {
        id: req.id.clone(),
        status,
        explanation,
        evidence,
        remediation: (!status.is_met()).then(|| req.remediation.get(lang).to_string()),
        attestation,
        conflict,
    }
}

#[cfg(test)]
mod tests;
