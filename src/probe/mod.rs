//! Probe runner: every host concurrently, every port of a host concurrently,
//! under a global concurrency limit and a per-host limit, each port bounded
//! by one timeout. A host is first tried on a few telling ports; if none
//! answers it is marked unreachable and its other ports are skipped, so a
//! lab with dead hosts costs one timeout, not one per probe.

pub mod deep;
pub mod dns;
pub mod http;
pub mod lbspread;
pub mod ldap;
pub mod local;
pub mod netid;
pub mod resources;
pub mod smb_rdp;
pub mod sql;
pub mod ssh;
pub mod tcp;
pub mod tls;
pub mod udp;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::catalog::Catalog;
use crate::facts::{
    Fact, FactKind, Facts, HostFacts, Outcome, PortObservation, Proto, Reachability,
};
use crate::inventory::Inventory;
use crate::plan::{HostPlan, Plan};
use crate::untrusted;

/// How many of a host's ports decide whether it is alive.
const SENTINELS: usize = 6;

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Bound of one port's whole exchange.
    pub timeout: Duration,
    /// Connections in flight, all hosts together.
    pub concurrency: usize,
    /// Connections in flight to one host.
    pub per_host: usize,
    /// SSH: accept and record unknown host keys.
    pub trust_on_first_use: bool,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            timeout: Duration::from_secs(2),
            concurrency: 128,
            per_host: 16,
            trust_on_first_use: false,
        }
    }
}

/// Called after each port probe with (done, planned).
pub type Progress = Arc<dyn Fn(usize, usize) + Send + Sync>;

struct Ctx {
    catalog: Arc<Catalog>,
    cfg: RunnerConfig,
    global: Arc<Semaphore>,
    done: AtomicUsize,
    total: AtomicUsize,
    progress: Option<Progress>,
}

/// Runs the plan, then the deeper probes, and returns what was observed.
pub async fn run(
    plan: &Plan,
    inventory: Arc<Inventory>,
    catalog: Arc<Catalog>,
    cfg: RunnerConfig,
    progress: Option<Progress>,
) -> Facts {
    let scanned = scan(plan, catalog.clone(), cfg.clone(), progress).await;
    deep_probes(scanned, inventory, catalog, &cfg).await
}

/// The port scan alone.
pub async fn scan(
    plan: &Plan,
    catalog: Arc<Catalog>,
    cfg: RunnerConfig,
    progress: Option<Progress>,
) -> Facts {
    let ctx = Arc::new(Ctx {
        catalog,
        global: Arc::new(Semaphore::new(cfg.concurrency.max(1))),
        cfg,
        done: AtomicUsize::new(0),
        total: AtomicUsize::new(plan.probe_count()),
        progress,
    });
    let mut set = JoinSet::new();
    for (i, hp) in plan.hosts.iter().cloned().enumerate() {
        let ctx = ctx.clone();
        set.spawn(async move { (i, probe_host(hp, ctx).await) });
    }
    let mut hosts: Vec<Option<HostFacts>> = vec![None; plan.hosts.len()];
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, hf)) => hosts[i] = Some(hf),
            // A panicking probe is a bug; the host is reported as not probed
            // rather than taking the audit down.
            Err(e) => tracing::error!("probe task failed: {e}"),
        }
    }
    let hosts = hosts
        .into_iter()
        .zip(&plan.hosts)
        .map(|(hf, hp)| {
            hf.unwrap_or_else(|| {
                let mut h = HostFacts::new(&hp.name, hp.address);
                h.reachability = Reachability::NotProbed;
                h
            })
        })
        .collect();
    Facts { hosts, lab: vec![] }
}

async fn probe_host(hp: HostPlan, ctx: Arc<Ctx>) -> HostFacts {
    let mut hf = HostFacts::new(&hp.name, hp.address);
    if let Some(reason) = &hp.skip {
        hf.reachability = Reachability::NotProbed;
        hf.facts.push(Fact {
            probe: "scope".into(),
            port: None,
            kind: FactKind::CannotCheck {
                what: "host".into(),
                reason: reason.clone(),
            },
        });
        return hf;
    }
    let mut ports = hp.tcp_ports.clone();
    if hp.local {
        let local = local::collect();
        for p in local.listening {
            if !ports.contains(&p) {
                ports.push(p);
                ctx.total.fetch_add(1, Ordering::Relaxed);
            }
        }
        crate::plan::order_ports(&mut ports);
        hf.facts.extend(local.facts);
    }
    let per_host = Arc::new(Semaphore::new(ctx.cfg.per_host.max(1)));
    let split = ports.len().min(SENTINELS);
    let (sentinels, rest) = ports.split_at(split);

    let first = probe_ports(hp.address, sentinels, &ctx, &per_host).await;
    let alive = first
        .iter()
        .any(|(o, _)| !matches!(o.outcome, Outcome::Timeout | Outcome::Unreachable(_)));
    let mut results = first;
    if alive || hp.local {
        hf.reachability = Reachability::Up;
        results.extend(probe_ports(hp.address, rest, &ctx, &per_host).await);
    } else {
        let tried: Vec<String> = sentinels.iter().map(u16::to_string).collect();
        let reason = match results.iter().find_map(|(o, _)| match &o.outcome {
            Outcome::Unreachable(e) => Some(e.clone()),
            _ => None,
        }) {
            Some(e) => format!("unreachable ({e})"),
            None => format!(
                "no answer on ports {} within {}",
                tried.join(", "),
                crate::duration::human(ctx.cfg.timeout)
            ),
        };
        for p in rest {
            results.push((
                PortObservation {
                    port: *p,
                    proto: Proto::Tcp,
                    outcome: Outcome::Skipped("host did not answer".into()),
                    product: None,
                    banner: None,
                },
                vec![],
            ));
            tick(&ctx);
        }
        hf.reachability = Reachability::Unreachable { reason };
    }
    results.sort_by_key(|(o, _)| o.port);
    for (obs, facts) in results {
        hf.ports.push(obs);
        for f in facts {
            if !hf.facts.contains(&f) {
                hf.facts.push(f);
            }
        }
    }
    hf
}

fn tick(ctx: &Ctx) {
    let done = ctx.done.fetch_add(1, Ordering::Relaxed) + 1;
    if let Some(p) = &ctx.progress {
        p(done, ctx.total.load(Ordering::Relaxed));
    }
}

async fn probe_ports(
    addr: IpAddr,
    ports: &[u16],
    ctx: &Arc<Ctx>,
    per_host: &Arc<Semaphore>,
) -> Vec<(PortObservation, Vec<Fact>)> {
    let mut set = JoinSet::new();
    for &port in ports {
        let (ctx, per_host) = (ctx.clone(), per_host.clone());
        set.spawn(async move {
            // Semaphores are never closed, so acquiring cannot fail.
            let _host = per_host.acquire_owned().await.expect("semaphore open");
            let _global = ctx
                .global
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore open");
            let r = probe_port(addr, port, &ctx).await;
            tick(&ctx);
            r
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(r) = r {
            out.push(r);
        }
    }
    out
}

/// Tries the port's probes in order until one identifies a product, all
/// within one timeout.
async fn probe_port(addr: IpAddr, port: u16, ctx: &Ctx) -> (PortObservation, Vec<Fact>) {
    let catalog = &ctx.catalog;
    let timeout = ctx.cfg.timeout;
    let deadline = Instant::now() + timeout;
    let probes = catalog.probes_for_port(port);
    let mut obs = PortObservation {
        port,
        proto: Proto::Tcp,
        outcome: Outcome::Open,
        product: None,
        banner: None,
    };
    let mut facts = Vec::new();
    let mut generic: Option<(String, String, Fact)> = None;
    let address = addr.to_string();
    for (i, probe) in probes.iter().enumerate() {
        if Instant::now() >= deadline {
            break;
        }
        let mut stream = match tcp::connect(addr, port, deadline).await {
            Ok(s) => s,
            Err(o) => {
                if i == 0 {
                    obs.outcome = o;
                }
                break;
            }
        };
        let payload = probe.payload(&address);
        // A silent banner must leave time for the probes after it.
        let probe_deadline = if payload.is_empty() && i + 1 < probes.len() {
            deadline.min(Instant::now() + timeout / 2)
        } else {
            deadline
        };
        let answer = tcp::exchange(&mut stream, &payload, probe_deadline, |buf| {
            // HTTP answers are read to the end: the body carries the fingerprint.
            !buf.starts_with(b"HTTP/") && catalog.identify(&probe.id, port, buf).is_some()
        })
        .await;
        let answer = match answer {
            Ok(a) => a,
            Err(o) => {
                obs.outcome = o;
                continue;
            }
        };
        obs.outcome = Outcome::Open;
        for hint in catalog.os_hints(&probe.id, &answer) {
            facts.push(Fact {
                probe: probe.id.clone(),
                port: Some(port),
                kind: FactKind::Os {
                    family: hint.family,
                    name: hint.name,
                    version: hint.version,
                    strength: hint.strength,
                },
            });
        }
        if let Some(id) = catalog.identify(&probe.id, port, &answer) {
            let fact = Fact {
                probe: probe.id.clone(),
                port: Some(port),
                kind: FactKind::Service {
                    product: id.product.id.clone(),
                    name: id.product.name.clone(),
                    version: id.version.map(|v| untrusted::quote(v.as_bytes(), 64)),
                    capabilities: id.product.capabilities.clone(),
                    open_source: id.product.open_source,
                },
            };
            let banner = untrusted::first_line(&answer, untrusted::MAX_QUOTE);
            if !id.product.generic {
                obs.product = Some(id.product.id.clone());
                obs.banner = Some(banner);
                facts.push(fact);
                generic = None;
                break;
            }
            // Keep the catch-all, but let the port's other probes try for better.
            if generic.is_none() {
                generic = Some((id.product.id.clone(), banner, fact));
            }
        }
        if obs.banner.is_none() && !answer.is_empty() {
            obs.banner = Some(untrusted::first_line(&answer, untrusted::MAX_QUOTE));
        }
    }
    if let Some((product, banner, fact)) = generic {
        obs.product = Some(product);
        obs.banner = Some(banner);
        facts.push(fact);
    }
    (obs, facts)
}

/// Runs every registered deeper probe: per host for hosts that answered or
/// are declared, and lab-wide. A panicking probe loses its facts, not the audit.
async fn deep_probes(
    mut facts: Facts,
    inventory: Arc<Inventory>,
    catalog: Arc<Catalog>,
    cfg: &RunnerConfig,
) -> Facts {
    if deep::HOST_PROBES.is_empty() && deep::LAB_PROBES.is_empty() {
        return facts;
    }
    let limit = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
    let mut set = JoinSet::new();
    for (i, hf) in facts.hosts.iter().enumerate() {
        let Some(host) = inventory.host(&hf.name).cloned() else {
            continue;
        };
        if matches!(hf.reachability, Reachability::NotProbed) {
            continue;
        }
        let target = Arc::new(deep::HostTarget {
            host,
            scanned: hf.clone(),
            inventory: inventory.clone(),
            catalog: catalog.clone(),
            timeout: cfg.timeout,
            limit: limit.clone(),
            trust_on_first_use: cfg.trust_on_first_use,
        });
        for (_, probe) in deep::HOST_PROBES {
            let (target, probe) = (target.clone(), *probe);
            set.spawn(async move { (Some(i), probe(&target).await) });
        }
    }
    let lab = Arc::new(deep::LabTarget {
        inventory: inventory.clone(),
        scanned: facts.hosts.clone(),
        timeout: cfg.timeout,
        limit,
    });
    for (_, probe) in deep::LAB_PROBES {
        let (lab, probe) = (lab.clone(), *probe);
        set.spawn(async move { (None, probe(&lab).await) });
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((Some(i), new)) => {
                for f in new {
                    if !facts.hosts[i].facts.contains(&f) {
                        facts.hosts[i].facts.push(f);
                    }
                }
            }
            Ok((None, new)) => facts.lab.extend(new),
            Err(e) => tracing::error!("a deep probe failed: {e}"),
        }
    }
    facts
}
