//! `labcheck profiles`: what is checked and how, for humans.

use std::fmt::Write;

use crate::capability::CAPABILITIES;
use crate::i18n::Lang;
use crate::profile::{Profile, Rule};
use crate::tr;

/// One line per requirement and group: id, section, evidence class, title.
pub fn list(p: &Profile, lang: Lang) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} — {}", p.id, p.title.get(lang));
    for r in &p.requirements {
        let opt = if r.mandatory { "" } else { " (optional)" };
        let _ = writeln!(
            out,
            "  {:<32} {:<5} {:<10} {}{}",
            r.id,
            r.section,
            r.evidence.as_str(),
            r.title.get(lang),
            opt
        );
    }
    for g in &p.groups {
        let _ = writeln!(
            out,
            "  {:<32} {:<5} {:<10} {} ({}/{})",
            g.id,
            g.section,
            "group",
            g.title.get(lang),
            g.needed,
            g.members.len()
        );
    }
    out
}

/// Everything about one requirement or group.
pub fn show(p: &Profile, id: &str, lang: Lang) -> Option<String> {
    let mut out = String::new();
    if let Some(r) = p.requirement(id) {
        let _ = writeln!(out, "{} — {}", r.id, r.title.get(lang));
        let _ = writeln!(out, "{}: {}", tr!(lang, "Section", "Section"), r.section);
        let _ = writeln!(
            out,
            "{}: « {} »",
            tr!(lang, "Official wording", "Libellé officiel"),
            r.wording
        );
        let _ = writeln!(
            out,
            "{}: {}",
            tr!(lang, "Evidence", "Preuve"),
            r.evidence.as_str()
        );
        let _ = writeln!(
            out,
            "{}: {}",
            tr!(lang, "Mandatory", "Obligatoire"),
            if r.mandatory {
                tr!(lang, "yes", "oui")
            } else {
                tr!(lang, "no (member of a group)", "non (membre d'un groupe)")
            }
        );
        let _ = writeln!(
            out,
            "{}: {}",
            tr!(lang, "How it is checked", "Comment c'est vérifié"),
            r.how.get(lang)
        );
        let _ = writeln!(
            out,
            "{}: {}",
            tr!(lang, "Rule", "Règle"),
            describe_rule(&r.rule, lang)
        );
        let _ = writeln!(
            out,
            "{}: {}",
            tr!(lang, "If not conform", "Si non conforme"),
            r.remediation.get(lang)
        );
        let groups: Vec<&str> = p
            .groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == id))
            .map(|g| g.id.as_str())
            .collect();
        if !groups.is_empty() {
            let _ = writeln!(
                out,
                "{}: {}",
                tr!(lang, "Member of", "Membre de"),
                groups.join(", ")
            );
        }
        return Some(out);
    }
    let g = p.group(id)?;
    let _ = writeln!(out, "{} — {}", g.id, g.title.get(lang));
    let _ = writeln!(out, "{}: {}", tr!(lang, "Section", "Section"), g.section);
    let _ = writeln!(
        out,
        "{}: « {} »",
        tr!(lang, "Official wording", "Libellé officiel"),
        g.wording
    );
    let _ = writeln!(
        out,
        "{}",
        tr!(
            lang,
            "Passes when at least {} of these pass:",
            "Satisfait quand au moins {} de ceux-ci le sont :",
            g.needed
        )
    );
    for m in &g.members {
        let title = p.requirement(m).map(|r| r.title.get(lang)).unwrap_or("?");
        let _ = writeln!(out, "  - {m}: {title}");
    }
    Some(out)
}

fn describe_rule(rule: &Rule, lang: Lang) -> String {
    match rule {
        Rule::Capability {
            any,
            all,
            partial,
            on_missing,
        } => {
            let mut parts = Vec::new();
            if !any.is_empty() {
                parts.push(tr!(lang, "any of [{}]", "l'un de [{}]", any.join(", ")));
            }
            if !all.is_empty() {
                parts.push(tr!(lang, "all of [{}]", "tous [{}]", all.join(", ")));
            }
            if !partial.is_empty() {
                parts.push(tr!(
                    lang,
                    "partial signals [{}] give cannot-verify",
                    "indices partiels [{}] : non vérifiable",
                    partial.join(", ")
                ));
            }
            let miss = match on_missing {
                crate::profile::OnMissing::NonConform => tr!(
                    lang,
                    "absent after a complete scan: non-conform",
                    "absent après une exploration complète : non conforme"
                ),
                crate::profile::OnMissing::CannotVerify => tr!(
                    lang,
                    "absent: cannot verify (not visible from the network)",
                    "absent : non vérifiable (invisible depuis le réseau)"
                ),
            };
            parts.push(miss);
            tr!(lang, "capabilities {}", "capacités {}", parts.join("; "))
        }
        Rule::TwoOs {
            min_families,
            open_source,
        } => tr!(
            lang,
            "at least {} OS families among servers, {} open source; each established by a strong signal or two agreeing weak ones",
            "au moins {} familles d'OS parmi les serveurs, dont {} open source ; chacune établie par un indice fort ou deux indices faibles concordants",
            min_families,
            open_source
        ),
        Rule::Backup { any, max_age } => tr!(
            lang,
            "a backup solution ([{}]) whose latest backup is younger than {}",
            "une solution de sauvegarde ([{}]) dont la dernière sauvegarde a moins de {}",
            any.join(", "),
            max_age
        ),
        Rule::HostsReachable { min } => tr!(
            lang,
            "at least {} audited hosts answer on the network",
            "au moins {} hôtes audités répondent sur le réseau",
            min
        ),
        Rule::Perimeters { min_zones } => tr!(
            lang,
            "at least {} zones, and declared deny flows observed blocked from their vantage hosts",
            "au moins {} zones, et les flux interdits déclarés observés bloqués depuis leurs hôtes de départ",
            min_zones
        ),
        Rule::SecuredResources => tr!(
            lang,
            "declared resources refuse anonymous access and accept their account",
            "les ressources déclarées refusent l'accès anonyme et acceptent leur compte"
        ),
        Rule::Applications { min } => tr!(
            lang,
            "at least {} declared applications answer over TLS, with authentication and a remote API",
            "au moins {} applications déclarées répondent en TLS, avec authentification et une API distante",
            min
        ),
        Rule::Attest => tr!(
            lang,
            "an attestation in the inventory ([[attest]])",
            "une attestation dans l'inventaire ([[attest]])"
        ),
    }
}

/// The capability vocabulary, for profile authors.
pub fn capabilities() -> String {
    let mut out = String::new();
    for (name, what) in CAPABILITIES {
        let _ = writeln!(out, "  {name:<20} {what}");
    }
    out
}
