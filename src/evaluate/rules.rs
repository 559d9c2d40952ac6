//! One function per rule kind. Each returns a finding with its evidence.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::{Evidence, Finding, Status};
use crate::catalog::Catalog;
use crate::facts::{Fact, FactKind, Facts, HostFacts, OsFamily, Outcome, Reachability, Strength};
use crate::i18n::Lang;
use crate::inventory::Inventory;
use crate::profile::{OnMissing, Rule};
use crate::tr;

pub(crate) struct Ctx<'a> {
    inventory: &'a Inventory,
    facts: &'a Facts,
    catalog: &'a Catalog,
    lang: Lang,
}

impl<'a> Ctx<'a> {
    pub fn new(
        inventory: &'a Inventory,
        facts: &'a Facts,
        catalog: &'a Catalog,
        lang: Lang,
    ) -> Self {
        Ctx {
            inventory,
            facts,
            catalog,
            lang,
        }
    }

    pub fn apply(&self, rule: &Rule) -> Finding {
        match rule {
            Rule::Capability {
                any,
                all,
                partial,
                on_missing,
            } => self.capability(any, all, partial, *on_missing),
            Rule::TwoOs {
                min_families,
                open_source,
            } => self.two_os(*min_families, *open_source),
            Rule::Backup { any, max_age } => self.backup(any, max_age),
            Rule::HostsReachable { min } => self.hosts_reachable(*min),
            Rule::Perimeters { min_zones } => self.perimeters(*min_zones),
            Rule::SecuredResources => self.secured_resources(),
            Rule::Applications { min } => self.applications(*min),
            Rule::Attest => finding(
                Status::CannotVerify,
                tr!(
                    self.lang,
                    "Only an attestation can establish this.",
                    "Seule une attestation peut l'établir."
                ),
                vec![],
            ),
        }
    }

    /// Evidence that capability `cap` is present.
    fn positives(&self, cap: &str) -> Vec<Evidence> {
        self.facts
            .all()
            .filter_map(|(h, f)| match &f.kind {
                FactKind::Service {
                    name,
                    version,
                    capabilities,
                    ..
                } if capabilities.iter().any(|c| c == cap) => {
                    Some(ev(h, f, service_text(name, version.as_deref(), f.port)))
                }
                FactKind::Capability {
                    name,
                    present: true,
                    detail,
                } if name == cap => Some(ev(h, f, detail.clone())),
                _ => None,
            })
            .collect()
    }

    /// Evidence that capability `cap` was observed absent.
    fn negatives(&self, cap: &str) -> Vec<Evidence> {
        self.facts
            .all()
            .filter_map(|(h, f)| match &f.kind {
                FactKind::Capability {
                    name,
                    present: false,
                    detail,
                } if name == cap => Some(ev(h, f, detail.clone())),
                _ => None,
            })
            .collect()
    }

    /// Ports where a product providing `cap` would be recognised.
    fn relevant_ports(&self, cap: &str) -> HashSet<u16> {
        let mut ports = HashSet::new();
        for p in &self.catalog.products {
            if !p.def.capabilities.iter().any(|c| c == cap) {
                continue;
            }
            for (m, _) in &p.matches {
                if !m.ports.is_empty() {
                    ports.extend(&m.ports);
                } else if let Some(probe) = self.catalog.probe(&m.probe) {
                    ports.extend(&probe.ports);
                }
            }
        }
        ports
    }

    /// What kept the scan from being complete for these capabilities: hosts
    /// that did not answer, and relevant ports that timed out, failed or
    /// answered something unknown.
    fn gaps(&self, caps: &[&str]) -> Vec<String> {
        let mut relevant = HashSet::new();
        for c in caps {
            relevant.extend(self.relevant_ports(c));
        }
        let mut out = Vec::new();
        for h in &self.facts.hosts {
            match &h.reachability {
                Reachability::Unreachable { reason } => out.push(tr!(
                    self.lang,
                    "{} did not answer ({})",
                    "{} n'a pas répondu ({})",
                    h.name,
                    reason
                )),
                Reachability::NotProbed => out.push(tr!(
                    self.lang,
                    "{} was not probed",
                    "{} n'a pas été sondé",
                    h.name
                )),
                Reachability::Up => {
                    let uncertain: Vec<String> = h
                        .ports
                        .iter()
                        .filter(|p| relevant.contains(&p.port))
                        .filter(|p| match &p.outcome {
                            Outcome::Timeout
                            | Outcome::ProtocolError(_)
                            | Outcome::Unreachable(_) => true,
                            Outcome::Open => p.product.is_none(),
                            _ => false,
                        })
                        .map(|p| format!("{}/{} ({})", p.port, p.proto.as_str(), p.outcome.label()))
                        .collect();
                    if !uncertain.is_empty() {
                        out.push(tr!(
                            self.lang,
                            "{}: {}",
                            "{} : {}",
                            h.name,
                            uncertain.join(", ")
                        ));
                    }
                }
            }
        }
        if self.facts.hosts.is_empty() {
            out.push(tr!(
                self.lang,
                "no host was audited",
                "aucun hôte n'a été audité"
            ));
        }
        out
    }

    fn capability(
        &self,
        any: &[String],
        all: &[String],
        partial: &[String],
        on_missing: OnMissing,
    ) -> Finding {
        let lang = self.lang;
        let mut evidence = Vec::new();
        let mut missing = Vec::new();
        for c in all {
            let found = self.positives(c);
            if found.is_empty() {
                missing.push(c.as_str());
            }
            evidence.extend(found);
        }
        let any_found: Vec<Evidence> = any.iter().flat_map(|c| self.positives(c)).collect();
        let any_ok = any.is_empty() || !any_found.is_empty();
        evidence.extend(any_found);
        dedup(&mut evidence);
        if any_ok && missing.is_empty() {
            let what = evidence
                .iter()
                .map(|e| e.observed.clone())
                .collect::<Vec<_>>();
            // Supporting facts (the balancer seen from inside, the agents
            // of a supervision) follow the deciding ones.
            evidence.extend(partial.iter().flat_map(|c| self.positives(c)));
            dedup(&mut evidence);
            return finding(
                Status::Conform,
                tr!(lang, "Observed: {}.", "Observé : {}.", short_list(&what)),
                evidence,
            );
        }
        let wanted: Vec<&str> = if any_ok {
            missing.clone()
        } else {
            any.iter()
                .map(String::as_str)
                .chain(missing.iter().copied())
                .collect()
        };
        // An explicit observation of absence decides.
        let negatives: Vec<Evidence> = wanted.iter().flat_map(|c| self.negatives(c)).collect();
        if !negatives.is_empty() {
            let what = negatives
                .iter()
                .map(|e| e.observed.clone())
                .collect::<Vec<_>>();
            evidence.extend(negatives);
            return finding(
                Status::NonConform,
                tr!(
                    lang,
                    "Observed missing: {}.",
                    "Absence observée : {}.",
                    short_list(&what)
                ),
                evidence,
            );
        }
        let partial_ev: Vec<Evidence> = partial.iter().flat_map(|c| self.positives(c)).collect();
        evidence.extend(partial_ev);
        dedup(&mut evidence);
        let wanted_text = wanted.join(", ");
        if !evidence.is_empty() {
            let what = evidence
                .iter()
                .map(|e| e.observed.clone())
                .collect::<Vec<_>>();
            return finding(
                Status::CannotVerify,
                tr!(
                    lang,
                    "Found {}, but {} was not proven.",
                    "Trouvé {}, mais {} n'a pas été prouvé.",
                    short_list(&what),
                    wanted_text
                ),
                evidence,
            );
        }
        let caps: Vec<&str> = any
            .iter()
            .chain(all)
            .chain(partial)
            .map(String::as_str)
            .collect();
        let gaps = self.gaps(&caps);
        if !gaps.is_empty() {
            return finding(
                Status::CannotVerify,
                tr!(
                    lang,
                    "Not found, but the scan was incomplete: {}.",
                    "Non trouvé, mais l'exploration est incomplète : {}.",
                    short_list(&gaps)
                ),
                vec![],
            );
        }
        match on_missing {
            OnMissing::NonConform => {
                let hosts = self
                    .facts
                    .hosts
                    .iter()
                    .map(|h| h.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                finding(
                    Status::NonConform,
                    tr!(
                        lang,
                        "Not found on the audited hosts ({}), which all answered; looked for: {}.",
                        "Introuvable sur les hôtes audités ({}), qui ont tous répondu ; recherché : {}.",
                        hosts,
                        wanted_text
                    ),
                    vec![],
                )
            }
            OnMissing::CannotVerify => finding(
                Status::CannotVerify,
                tr!(
                    lang,
                    "Not visible from the network ({wanted_text}): needs in-host inspection or an attestation.",
                    "Invisible depuis le réseau ({wanted_text}) : nécessite une inspection sur l'hôte ou une attestation."
                ),
                vec![],
            ),
        }
    }

    fn two_os(&self, min_families: usize, open_source: usize) -> Finding {
        let lang = self.lang;
        let mut established: BTreeMap<OsFamily, Vec<Evidence>> = BTreeMap::new();
        let mut unsure = Vec::new();
        let mut evidence = Vec::new();
        for h in &self.facts.hosts {
            match host_os(h) {
                HostOs::Established(fam, evs) => {
                    evidence.extend(evs.clone());
                    established.entry(fam).or_default().extend(evs);
                }
                HostOs::Probable(fam, evs) => {
                    evidence.extend(evs);
                    unsure.push(tr!(
                        lang,
                        "{} probably {} (one weak signal)",
                        "{} probablement {} (un seul indice faible)",
                        h.name,
                        fam.as_str()
                    ));
                }
                HostOs::Conflict(fams) => unsure.push(tr!(
                    lang,
                    "{}: conflicting signals ({})",
                    "{} : indices contradictoires ({})",
                    h.name,
                    fams
                )),
                HostOs::Unknown if h.is_up() => {
                    unsure.push(tr!(lang, "{}: OS unknown", "{} : OS inconnu", h.name))
                }
                HostOs::Unknown => {
                    unsure.push(tr!(lang, "{} did not answer", "{} n'a pas répondu", h.name))
                }
            }
        }
        let families: Vec<OsFamily> = established.keys().copied().collect();
        let foss = families.iter().filter(|f| f.open_source()).count();
        let fam_text = families
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        if families.len() >= min_families && foss >= open_source {
            return finding(
                Status::Conform,
                tr!(
                    lang,
                    "Servers on {} OS families: {}.",
                    "Serveurs sur {} familles d'OS : {}.",
                    families.len(),
                    fam_text
                ),
                evidence,
            );
        }
        if !unsure.is_empty() {
            return finding(
                Status::CannotVerify,
                tr!(
                    lang,
                    "Established OS families: [{}]; undecided: {}.",
                    "Familles d'OS établies : [{}] ; indécis : {}.",
                    fam_text,
                    short_list(&unsure)
                ),
                evidence,
            );
        }
        finding(
            Status::NonConform,
            tr!(
                lang,
                "Need {} OS families ({} open source), observed only: [{}].",
                "Il faut {} familles d'OS (dont {} open source), seulement observé : [{}].",
                min_families,
                open_source,
                fam_text
            ),
            evidence,
        )
    }

    fn backup(&self, any: &[String], max_age: &str) -> Finding {
        let lang = self.lang;
        let limit = crate::duration::parse(max_age).unwrap_or(std::time::Duration::MAX);
        let mut evidence: Vec<Evidence> = any.iter().flat_map(|c| self.positives(c)).collect();
        let ages: Vec<(Evidence, u64)> = self
            .facts
            .all()
            .filter_map(|(h, f)| match &f.kind {
                FactKind::BackupAge {
                    tool,
                    age_secs,
                    detail,
                } => {
                    let age = crate::duration::human(std::time::Duration::from_secs(*age_secs));
                    Some((
                        ev(
                            h,
                            f,
                            tr!(
                                lang,
                                "{tool}: latest backup {age} old ({detail})",
                                "{tool} : dernière sauvegarde il y a {age} ({detail})"
                            ),
                        ),
                        *age_secs,
                    ))
                }
                _ => None,
            })
            .collect();
        let fresh = ages.iter().any(|(_, a)| *a <= limit.as_secs());
        evidence.extend(ages.iter().map(|(e, _)| e.clone()));
        dedup(&mut evidence);
        if fresh {
            return finding(
                Status::Conform,
                tr!(
                    lang,
                    "A backup younger than {max_age} exists.",
                    "Une sauvegarde de moins de {max_age} existe."
                ),
                evidence,
            );
        }
        if !ages.is_empty() {
            return finding(
                Status::NonConform,
                tr!(
                    lang,
                    "Every latest backup is older than the limit of {max_age}.",
                    "Toutes les dernières sauvegardes dépassent la limite de {max_age}."
                ),
                evidence,
            );
        }
        if !evidence.is_empty() {
            return finding(
                Status::CannotVerify,
                tr!(
                    lang,
                    "A backup solution is present, but the age of its latest backup is unknown (needs SSH access to the backup host).",
                    "Une solution de sauvegarde est présente, mais l'âge de la dernière sauvegarde est inconnu (accès SSH à l'hôte de sauvegarde nécessaire)."
                ),
                evidence,
            );
        }
        finding(
            Status::CannotVerify,
            tr!(
                lang,
                "No backup solution seen from the network; backups are often visible only from inside a host.",
                "Aucune solution de sauvegarde vue depuis le réseau ; les sauvegardes ne sont souvent visibles que depuis l'hôte."
            ),
            vec![],
        )
    }

    fn hosts_reachable(&self, min: usize) -> Finding {
        let lang = self.lang;
        let up: Vec<&HostFacts> = self.facts.hosts.iter().filter(|h| h.is_up()).collect();
        let down = self.facts.hosts.len() - up.len();
        let evidence: Vec<Evidence> = up
            .iter()
            .map(|h| Evidence {
                host: Some(h.name.clone()),
                probe: "tcp".into(),
                observed: tr!(lang, "{} answers", "{} répond", h.address),
            })
            .collect();
        if up.len() >= min {
            return finding(
                Status::Conform,
                tr!(
                    lang,
                    "{} hosts answer on the network.",
                    "{} hôtes répondent sur le réseau.",
                    up.len()
                ),
                evidence,
            );
        }
        if up.len() + down >= min {
            return finding(
                Status::CannotVerify,
                tr!(
                    lang,
                    "Only {} of {} hosts answered (at least {} needed).",
                    "Seulement {} hôtes sur {} ont répondu (au moins {} requis).",
                    up.len(),
                    self.facts.hosts.len(),
                    min
                ),
                evidence,
            );
        }
        finding(
            Status::NonConform,
            tr!(
                lang,
                "{} host(s) audited; at least {} real machines are needed.",
                "{} hôte(s) audité(s) ; il faut au moins {} machines réelles.",
                self.facts.hosts.len(),
                min
            ),
            evidence,
        )
    }

    fn perimeters(&self, min_zones: usize) -> Finding {
        let lang = self.lang;
        let zones = self.inventory.zones.len();
        if zones < min_zones {
            return finding(
                Status::NonConform,
                tr!(
                    lang,
                    "The inventory declares {} zone(s); at least {} perimeters are needed.",
                    "L'inventaire déclare {} zone(s) ; il faut au moins {} périmètres.",
                    zones,
                    min_zones
                ),
                vec![],
            );
        }
        let mut evidence = Vec::new();
        let (mut blocked, mut leaks, mut unknown) = (0, Vec::new(), 0);
        for (h, f) in self.facts.all() {
            if let FactKind::Flow {
                from,
                to,
                expect_allow,
                open,
                detail,
            } = &f.kind
            {
                let verb = match open {
                    Some(true) => tr!(lang, "open", "ouvert"),
                    Some(false) => tr!(lang, "closed", "fermé"),
                    None => tr!(lang, "not tested", "non testé"),
                };
                let expect = if *expect_allow { "allow" } else { "deny" };
                evidence.push(ev(
                    h,
                    f,
                    format!("{from} → {to}: {verb} (expect {expect}) {detail}"),
                ));
                match (expect_allow, open) {
                    (false, Some(false)) => blocked += 1,
                    (false, Some(true)) => leaks.push(format!("{from} → {to}")),
                    (_, None) => unknown += 1,
                    _ => {}
                }
            }
        }
        if !leaks.is_empty() {
            return finding(
                Status::NonConform,
                tr!(
                    lang,
                    "Flows that should be denied are open: {}.",
                    "Des flux qui devraient être refusés sont ouverts : {}.",
                    leaks.join(", ")
                ),
                evidence,
            );
        }
        if blocked > 0 && unknown == 0 {
            return finding(
                Status::Conform,
                tr!(
                    lang,
                    "{zones} zones; {blocked} forbidden flow(s) observed blocked.",
                    "{zones} zones ; {blocked} flux interdit(s) observé(s) bloqué(s)."
                ),
                evidence,
            );
        }
        let why = if self.inventory.flows.is_empty() {
            tr!(
                lang,
                "no [[flow]] is declared to test the filtering",
                "aucun [[flow]] n'est déclaré pour tester le filtrage"
            )
        } else if evidence.is_empty() {
            tr!(
                lang,
                "the declared flows need SSH access to their vantage hosts",
                "les flux déclarés nécessitent un accès SSH à leurs hôtes de départ"
            )
        } else {
            tr!(
                lang,
                "not every declared flow could be tested",
                "tous les flux déclarés n'ont pas pu être testés"
            )
        };
        finding(
            Status::CannotVerify,
            tr!(
                lang,
                "{zones} zones declared, but filtering is not proven: {why}.",
                "{zones} zones déclarées, mais le filtrage n'est pas prouvé : {why}."
            ),
            evidence,
        )
    }

    fn secured_resources(&self) -> Finding {
        let lang = self.lang;
        if self.inventory.resources.is_empty() {
            return finding(
                Status::CannotVerify,
                tr!(
                    lang,
                    "No [[resource]] is declared in the inventory.",
                    "Aucune [[resource]] n'est déclarée dans l'inventaire."
                ),
                vec![],
            );
        }
        let mut evidence = Vec::new();
        let (mut proven, mut open) = (0, Vec::new());
        for (h, f) in self.facts.all() {
            if let FactKind::Resource {
                name,
                anonymous_refused,
                account_accepted,
                detail,
            } = &f.kind
            {
                evidence.push(ev(h, f, format!("{name}: {detail}")));
                match (anonymous_refused, account_accepted) {
                    (Some(false), _) => open.push(name.clone()),
                    (Some(true), Some(true)) => proven += 1,
                    _ => {}
                }
            }
        }
        if !open.is_empty() {
            return finding(
                Status::NonConform,
                tr!(
                    lang,
                    "Served without authentication: {}.",
                    "Servi sans authentification : {}.",
                    open.join(", ")
                ),
                evidence,
            );
        }
        if proven > 0 {
            return finding(
                Status::Conform,
                tr!(
                    lang,
                    "{proven} resource(s) refuse anonymous access and accept the declared account.",
                    "{proven} ressource(s) refusent l'accès anonyme et acceptent le compte déclaré."
                ),
                evidence,
            );
        }
        finding(
            Status::CannotVerify,
            tr!(
                lang,
                "The declared resources could not be checked both anonymously and with their account.",
                "Les ressources déclarées n'ont pas pu être vérifiées en anonyme et avec leur compte."
            ),
            evidence,
        )
    }

    fn applications(&self, min: usize) -> Finding {
        let lang = self.lang;
        if self.inventory.applications.len() < min {
            return finding(
                Status::CannotVerify,
                tr!(
                    lang,
                    "{} application(s) declared; at least {} are needed ([[application]]).",
                    "{} application(s) déclarée(s) ; il en faut au moins {} ([[application]]).",
                    self.inventory.applications.len(),
                    min
                ),
                vec![],
            );
        }
        let mut evidence = Vec::new();
        let mut good = 0;
        for (h, f) in self.facts.all() {
            if let FactKind::Application {
                name,
                tls,
                auth_required,
                api_answers,
                detail,
            } = &f.kind
            {
                evidence.push(ev(h, f, format!("{name}: {detail}")));
                if *tls && *auth_required && *api_answers {
                    good += 1;
                }
            }
        }
        if good >= min {
            return finding(
                Status::Conform,
                tr!(
                    lang,
                    "{good} applications answer over TLS, with authentication and a remote API.",
                    "{good} applications répondent en TLS, avec authentification et une API distante."
                ),
                evidence,
            );
        }
        finding(
            Status::CannotVerify,
            tr!(
                lang,
                "{good} of the {min} needed applications were verified.",
                "{good} des {min} applications requises ont été vérifiées."
            ),
            evidence,
        )
    }
}

enum HostOs {
    Established(OsFamily, Vec<Evidence>),
    Probable(OsFamily, Vec<Evidence>),
    Conflict(String),
    Unknown,
}

/// Combines a host's OS signals: one strong signal, or two weak signals
/// from different probes that agree, establish the family. Disagreement
/// establishes nothing.
fn host_os(h: &HostFacts) -> HostOs {
    let mut strong: BTreeMap<OsFamily, Vec<Evidence>> = BTreeMap::new();
    let mut weak: BTreeMap<OsFamily, (BTreeSet<String>, Vec<Evidence>)> = BTreeMap::new();
    for f in &h.facts {
        if let FactKind::Os {
            family,
            name,
            version,
            strength,
        } = &f.kind
        {
            let text = [
                Some(family.as_str().to_string()),
                name.clone(),
                version.clone(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            let e = ev(Some(h), f, text);
            match strength {
                Strength::Strong => strong.entry(*family).or_default().push(e),
                Strength::Weak => {
                    let slot = weak.entry(*family).or_default();
                    slot.0.insert(f.probe.clone());
                    slot.1.push(e);
                }
            }
        }
    }
    let names = |m: Vec<OsFamily>| m.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(" / ");
    if strong.len() == 1 {
        let (fam, evs) = strong.into_iter().next().expect("one entry");
        return HostOs::Established(fam, evs);
    }
    if strong.len() > 1 {
        return HostOs::Conflict(names(strong.keys().copied().collect()));
    }
    match weak.len() {
        0 => HostOs::Unknown,
        1 => {
            let (fam, (probes, evs)) = weak.into_iter().next().expect("one entry");
            if probes.len() >= 2 {
                HostOs::Established(fam, evs)
            } else {
                HostOs::Probable(fam, evs)
            }
        }
        _ => HostOs::Conflict(names(weak.keys().copied().collect())),
    }
}

fn finding(status: Status, explanation: String, evidence: Vec<Evidence>) -> Finding {
    Finding {
        status,
        explanation,
        evidence,
    }
}

fn ev(h: Option<&HostFacts>, f: &Fact, observed: String) -> Evidence {
    Evidence {
        host: h.map(|h| h.name.clone()),
        probe: f.probe.clone(),
        observed,
    }
}

fn service_text(name: &str, version: Option<&str>, port: Option<u16>) -> String {
    let mut s = name.to_string();
    if let Some(v) = version {
        s.push(' ');
        s.push_str(v);
    }
    if let Some(p) = port {
        s.push_str(&format!(" (tcp/{p})"));
    }
    s
}

fn dedup(v: &mut Vec<Evidence>) {
    let mut seen = HashSet::new();
    v.retain(|e| seen.insert((e.host.clone(), e.probe.clone(), e.observed.clone())));
}

/// At most five items, then "+N more".
fn short_list(items: &[String]) -> String {
    if items.len() <= 5 {
        return items.join("; ");
    }
    format!("{}; +{}", items[..5].join("; "), items.len() - 5)
}
