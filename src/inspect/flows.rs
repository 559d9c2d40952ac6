//! Vantage-point checks: each inventory `[[flow]]` whose `from` is this host
//! is tried from here with a bounded TCP connect, over the host's own
//! session, and reported as a Flow fact (the evaluator compares it with
//! `expect`). Only addresses inside the lab's scope are ever tried.

use super::{Inspector, commands};
use crate::facts::FactKind;
use crate::inventory::{Expect, parse_target};

impl Inspector<'_> {
    pub(super) async fn flows(&mut self) {
        let flows: Vec<_> = self
            .t
            .inventory
            .flows
            .iter()
            .filter(|f| f.from == self.t.host.name)
            .cloned()
            .collect();
        for flow in flows {
            let expect_allow = flow.expect == Expect::Allow;
            let (open, detail) = match parse_target(&flow.to, &self.t.inventory) {
                Err(e) => (None, e),
                Ok((addr, _)) if !self.t.inventory.in_scope(addr) => (
                    None,
                    format!("{addr} is outside the lab's scope: not tried"),
                ),
                Ok((addr, port)) => {
                    let (open, d) = self.connect(addr, port).await;
                    (
                        open,
                        format!("({addr}:{port} from {}: {d})", self.t.host.name),
                    )
                }
            };
            self.push(
                &commands::TCP_CONNECT,
                FactKind::Flow {
                    from: flow.from.clone(),
                    to: flow.to.clone(),
                    expect_allow,
                    open,
                    detail,
                },
            );
        }
    }
}
