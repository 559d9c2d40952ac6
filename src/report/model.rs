//! The audit report: one structure that every format renders. Its JSON
//! serialization is the versioned contract of `--format json`
//! (`schema_version` 1, documented in docs/json-report.md): keys are only
//! ever added, never renamed or removed, within a schema version.

use serde::{Deserialize, Serialize};

use crate::evaluate::{Evaluation, Evidence, Overall, Status};
use crate::facts::{FactKind, Facts, Reachability, Strength};
use crate::i18n::Lang;
use crate::inventory::{Attestation, Inventory};
use crate::profile::Profile;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditReport {
    pub schema_version: u32,
    pub tool: Tool,
    /// The lab's name from the inventory.
    pub lab: String,
    /// Profile id (`sisr`, `slam`, or a custom profile's id).
    pub profile: String,
    pub lang: Lang,
    /// Inventory path, absent for the local default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<String>,
    /// RFC 3339.
    pub started_at: String,
    pub duration_ms: u64,
    pub verdict: Overall,
    pub summary: Summary,
    pub requirements: Vec<RequirementReport>,
    pub groups: Vec<GroupReport>,
    pub hosts: Vec<HostReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub conform: usize,
    pub non_conform: usize,
    pub cannot_verify: usize,
    pub attested: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequirementReport {
    pub id: String,
    pub section: String,
    /// Short title in the report's language.
    pub title: String,
    /// Official French wording.
    pub wording: String,
    pub mandatory: bool,
    /// `probe`, `probe+cred` or `attest`.
    pub evidence_class: String,
    pub status: Status,
    pub explanation: String,
    pub evidence: Vec<Evidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<Attestation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupReport {
    pub id: String,
    pub section: String,
    pub title: String,
    pub wording: String,
    pub needed: usize,
    pub met: usize,
    pub status: Status,
    pub members: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostReport {
    pub name: String,
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    pub reachable: bool,
    /// Why the host is not reachable, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable_reason: Option<String>,
    /// Best OS guess (`linux debian 12`), or null.
    pub os: Option<String>,
    pub services: Vec<ServiceReport>,
    /// Every port probed and its outcome.
    pub ports: Vec<PortReport>,
    /// Checks that could not be made on this host, and why (a refused SSH
    /// host key, refused credentials, a missing command…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<ProblemReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProblemReport {
    /// Which probe met the problem.
    pub probe: String,
    /// What could not be checked.
    pub what: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceReport {
    pub port: u16,
    pub proto: String,
    /// Catalog product id.
    pub product: String,
    pub name: String,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PortReport {
    pub port: u16,
    pub proto: String,
    /// `open`, `refused`, `timeout`, `unreachable`, `protocol-error`, `skipped`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// First line of what the service sent (escaped, capped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
}

/// Everything needed to build a report.
pub struct ReportInput<'a> {
    pub profile: &'a Profile,
    pub inventory: &'a Inventory,
    pub facts: &'a Facts,
    pub evaluation: &'a Evaluation,
    pub started_at: jiff::Timestamp,
    pub duration_ms: u64,
    pub lang: Lang,
}

impl AuditReport {
    pub fn build(i: ReportInput<'_>) -> AuditReport {
        let lang = i.lang;
        let mut summary = Summary::default();
        let requirements: Vec<RequirementReport> = i
            .evaluation
            .requirements
            .iter()
            .filter_map(|v| {
                let r = i.profile.requirement(&v.id)?;
                match v.status {
                    Status::Conform => summary.conform += 1,
                    Status::NonConform => summary.non_conform += 1,
                    Status::CannotVerify => summary.cannot_verify += 1,
                    Status::Attested => summary.attested += 1,
                }
                Some(RequirementReport {
                    id: v.id.clone(),
                    section: r.section.clone(),
                    title: r.title.get(lang).to_string(),
                    wording: r.wording.clone(),
                    mandatory: r.mandatory,
                    evidence_class: r.evidence.as_str().to_string(),
                    status: v.status,
                    explanation: v.explanation.clone(),
                    evidence: v.evidence.clone(),
                    remediation: v.remediation.clone(),
                    attestation: v.attestation.clone(),
                    conflict: v.conflict.clone(),
                })
            })
            .collect();
        let groups = i
            .evaluation
            .groups
            .iter()
            .filter_map(|g| {
                let def = i.profile.group(&g.id)?;
                Some(GroupReport {
                    id: g.id.clone(),
                    section: def.section.clone(),
                    title: def.title.get(lang).to_string(),
                    wording: def.wording.clone(),
                    needed: g.needed,
                    met: g.met,
                    status: g.status,
                    members: g.members.clone(),
                    remediation: g.remediation.clone(),
                })
            })
            .collect();
        let hosts = i
            .facts
            .hosts
            .iter()
            .map(|h| {
                let zone = i.inventory.host(&h.name).and_then(|x| x.zone.clone());
                let services = h
                    .facts
                    .iter()
                    .filter_map(|f| match &f.kind {
                        FactKind::Service {
                            product,
                            name,
                            version,
                            ..
                        } => Some(ServiceReport {
                            port: f.port.unwrap_or(0),
                            proto: "tcp".into(),
                            product: product.clone(),
                            name: name.clone(),
                            version: version.clone(),
                        }),
                        _ => None,
                    })
                    .collect();
                let ports = h
                    .ports
                    .iter()
                    .map(|p| PortReport {
                        port: p.port,
                        proto: p.proto.as_str().into(),
                        outcome: p.outcome.label().into(),
                        detail: match &p.outcome {
                            crate::facts::Outcome::Unreachable(d)
                            | crate::facts::Outcome::ProtocolError(d)
                            | crate::facts::Outcome::Skipped(d) => Some(d.clone()),
                            _ => None,
                        },
                        product: p.product.clone(),
                        banner: p.banner.clone(),
                    })
                    .collect();
                HostReport {
                    name: h.name.clone(),
                    address: h.address.to_string(),
                    zone,
                    reachable: h.is_up(),
                    unreachable_reason: match &h.reachability {
                        Reachability::Unreachable { reason } => Some(reason.clone()),
                        Reachability::NotProbed => Some("not probed".into()),
                        Reachability::Up => None,
                    },
                    os: best_os(h),
                    services,
                    ports,
                    problems: h
                        .facts
                        .iter()
                        .filter_map(|f| match &f.kind {
                            FactKind::CannotCheck { what, reason } => Some(ProblemReport {
                                probe: f.probe.clone(),
                                what: what.clone(),
                                reason: reason.clone(),
                            }),
                            _ => None,
                        })
                        .collect(),
                }
            })
            .collect();
        AuditReport {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "labcheck".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            lab: i.inventory.lab.name.clone(),
            profile: i.profile.id.clone(),
            lang,
            inventory: i.inventory.path.as_ref().map(|p| p.display().to_string()),
            started_at: i.started_at.to_string(),
            duration_ms: i.duration_ms,
            verdict: i.evaluation.overall,
            summary,
            requirements,
            groups,
            hosts,
        }
    }
}

/// The strongest OS signal of a host, as text.
fn best_os(h: &crate::facts::HostFacts) -> Option<String> {
    h.facts
        .iter()
        .filter_map(|f| match &f.kind {
            FactKind::Os {
                family,
                name,
                version,
                strength,
            } => Some((*strength, family, name, version)),
            _ => None,
        })
        .max_by_key(|(s, _, n, v)| (*s == Strength::Strong, n.is_some(), v.is_some()))
        .map(|(_, fam, name, version)| {
            [
                Some(fam.as_str().to_string()),
                name.clone(),
                version.clone(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
        })
}
