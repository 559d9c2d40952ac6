//! Inventory format v1 (see DESIGN.md): the lab as the technician declares it.

use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::secret::SecretRef;

#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    /// Where it was read from (`None` for the embedded local default).
    pub path: Option<PathBuf>,
    pub lab: Lab,
    pub zones: Vec<Zone>,
    pub hosts: Vec<Host>,
    pub credentials: Credentials,
    pub resources: Vec<Resource>,
    pub applications: Vec<Application>,
    pub flows: Vec<Flow>,
    pub attestations: Vec<Attestation>,
}

impl Inventory {
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Whether an address may be probed: only addresses inside the declared scope.
    pub fn in_scope(&self, addr: IpAddr) -> bool {
        self.lab.scope.iter().any(|net| net.contains(&addr))
    }

    pub fn attestation(&self, id: &str) -> Option<&Attestation> {
        self.attestations.iter().find(|a| a.id == id)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Lab {
    pub name: String,
    /// `sisr` or `slam`: the default profile for this lab.
    #[serde(default)]
    pub option: Option<String>,
    /// The lab's DNS domain, for SRV look-ups.
    #[serde(default)]
    pub domain: Option<String>,
    /// The lab's resolvers (never the auditor's own).
    #[serde(default)]
    pub dns: Vec<IpAddr>,
    /// Nothing outside these networks is ever probed.
    #[serde(default, with = "nets")]
    pub scope: Vec<IpNet>,
    /// The lab's certificate authority (PEM), to judge the TLS chains seen.
    #[serde(default)]
    pub ca: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Zone {
    pub name: String,
    #[serde(with = "net")]
    pub cidr: IpNet,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Host {
    pub name: String,
    pub address: IpAddr,
    #[serde(default)]
    pub zone: Option<String>,
    /// Hints only (`auth`, `dns`, `db`…); probing does not depend on them.
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub ssh: Option<SshAccess>,
    /// Extra TCP ports to probe besides the catalog's.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// The machine labcheck runs on: local facts (OS, listening ports) apply.
    #[serde(default)]
    pub local: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SshAccess {
    pub user: String,
    #[serde(default = "ssh_port")]
    pub port: u16,
    /// Private key file.
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// known_hosts file holding the host's key (verified by default).
    #[serde(default)]
    pub known_hosts: Option<PathBuf>,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

fn ssh_port() -> u16 {
    22
}

/// `[credentials.NAME]` tables: accounts for LDAP, databases, RADIUS, SNMP…
#[derive(Debug, Clone, Default, Serialize)]
pub struct Credentials(pub Vec<(String, Credential)>);

impl Credentials {
    pub fn get(&self, name: &str) -> Option<&Credential> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Credential {
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub bind_dn: Option<String>,
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// RADIUS shared secret of the declared client, by reference.
    #[serde(default)]
    pub secret_env: Option<String>,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// SNMP community, by reference.
    #[serde(default)]
    pub community_env: Option<String>,
    #[serde(default)]
    pub community_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Account {
    pub user: String,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// A secured resource: anonymous access refused, the account accepted.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Resource {
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub account: Option<Account>,
}

/// SLAM: a candidate's application.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Application {
    pub name: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub api: Option<String>,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub situations: Vec<String>,
    #[serde(default)]
    pub account: Option<Account>,
}

/// An expected reachability between perimeters, tested from `from`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Flow {
    pub from: String,
    /// `host:port` or `address:port`.
    pub to: String,
    pub expect: Expect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Allow,
    Deny,
}

/// A manual attestation for what the network cannot show.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Attestation {
    pub id: String,
    pub by: String,
    pub date: String,
    pub evidence: String,
    #[serde(default)]
    pub note: Option<String>,
}

mod net {
    use ipnet::IpNet;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(n: &IpNet, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&n.to_string())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<IpNet, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_net(&s).map_err(serde::de::Error::custom)
    }
}

mod nets {
    use ipnet::IpNet;
    use serde::{Deserialize, Deserializer, Serializer, ser::SerializeSeq};

    pub fn serialize<S: Serializer>(n: &[IpNet], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(n.len()))?;
        for x in n {
            seq.serialize_element(&x.to_string())?;
        }
        seq.end()
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| super::parse_net(s).map_err(serde::de::Error::custom))
            .collect()
    }
}

/// A CIDR, or a bare address meaning a single host.
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    if let Ok(n) = s.parse::<IpNet>() {
        if n.addr() != n.network() {
            return Err(format!(
                "`{s}` has host bits set: did you mean {}?",
                n.trunc()
            ));
        }
        return Ok(n);
    }
    match s.parse::<IpAddr>() {
        Ok(a) => Ok(IpNet::from(a)),
        Err(_) => Err(format!(
            "`{s}` is not a CIDR (e.g. 198.18.10.0/24) or an address"
        )),
    }
}

impl Credential {
    pub fn secret(&self) -> SecretRef {
        SecretRef {
            password_env: self.password_env.clone(),
            password_file: self.password_file.clone(),
        }
    }
    /// The RADIUS shared secret's reference.
    pub fn shared_secret(&self) -> SecretRef {
        SecretRef {
            password_env: self.secret_env.clone(),
            password_file: self.secret_file.clone(),
        }
    }
    /// The SNMP community's reference.
    pub fn community(&self) -> SecretRef {
        SecretRef {
            password_env: self.community_env.clone(),
            password_file: self.community_file.clone(),
        }
    }
    /// Whether any secret is referenced (a password, a shared secret, a community).
    pub fn any_secret_given(&self) -> bool {
        self.secret().is_given() || self.shared_secret().is_given() || self.community().is_given()
    }
}

impl Account {
    pub fn secret(&self) -> SecretRef {
        SecretRef {
            password_env: self.password_env.clone(),
            password_file: self.password_file.clone(),
        }
    }
}

impl SshAccess {
    pub fn secret(&self) -> SecretRef {
        SecretRef {
            password_env: self.password_env.clone(),
            password_file: self.password_file.clone(),
        }
    }
}
