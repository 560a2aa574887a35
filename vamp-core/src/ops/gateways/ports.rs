//! Gateway ports: the configured range, the assignment of free ports to gateways that have none, and the
//! checks that keep explicit ports unique.
//!
//! Unlike the original's forward-only cursor, which never handed out a port again until a restart, assignment
//! always takes the lowest port of the range no current gateway uses, so ports of removed gateways are reused;
//! when the range is full the gateway gets `NoAvailablePortError` naming it and the range.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::dsl::{ArtifactId, DslError, ErrorCode};
use crate::model::Gateway;

use super::validate::gateway_error;

/// An inclusive range of ports gateways are assigned from; default `40000-45000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PortRange {
    /// The first port of the range.
    pub lower: u16,
    /// The last port of the range (inclusive).
    pub upper: u16,
}

impl PortRange {
    /// The range `lower..=upper`; `None` when it is empty or starts at 0 (port 0 means "unassigned").
    pub fn new(lower: u16, upper: u16) -> Option<PortRange> {
        (lower > 0 && lower <= upper).then_some(PortRange { lower, upper })
    }

    /// Whether `port` is in the range.
    pub fn contains(self, port: u16) -> bool {
        (self.lower..=self.upper).contains(&port)
    }

    /// Whether the range is usable: non-empty and not starting at 0. Public fields (and configuration files) can
    /// hold a range [`PortRange::new`] would refuse; the plan checks this first.
    pub fn is_valid(self) -> bool {
        PortRange::new(self.lower, self.upper).is_some()
    }
}

impl Default for PortRange {
    fn default() -> Self {
        PortRange {
            lower: 40000,
            upper: 45000,
        }
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.lower, self.upper)
    }
}

impl FromStr for PortRange {
    type Err = String;

    /// Parses `"40000-45000"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (lower, upper) = s
            .split_once('-')
            .ok_or_else(|| format!("port range '{s}' is not 'lower-upper'"))?;
        let lower: u16 = lower
            .trim()
            .parse()
            .map_err(|_| format!("port range '{s}': bad lower bound"))?;
        let upper: u16 = upper
            .trim()
            .parse()
            .map_err(|_| format!("port range '{s}': bad upper bound"))?;
        PortRange::new(lower, upper).ok_or_else(|| format!("port range '{s}' is empty or starts at 0"))
    }
}

impl TryFrom<String> for PortRange {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<PortRange> for String {
    fn from(r: PortRange) -> String {
        r.to_string()
    }
}

/// The ports in use and who holds them, and the lowest free port of a range.
///
/// Ports are only ever added, so every port below the search cursor is known to be used and
/// [`PortAllocator::next_free`] never rescans them: assigning `n` ports costs O((n + range) log n) in total.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    range: PortRange,
    used: BTreeMap<u16, String>,
    cursor: u32,
}

impl PortAllocator {
    /// An allocator over `range` with no port used.
    pub fn new(range: PortRange) -> Self {
        PortAllocator {
            range,
            used: BTreeMap::new(),
            cursor: u32::from(range.lower),
        }
    }

    /// Marks `port` used by `holder`. Returns the current holder instead when the port is already used.
    /// Port 0 is never used.
    pub fn claim(&mut self, port: u16, holder: &str) -> Result<(), String> {
        if port == 0 {
            return Ok(());
        }
        if let Some(current) = self.used.get(&port) {
            return Err(current.clone());
        }
        self.used.insert(port, holder.to_string());
        Ok(())
    }

    /// The range free ports are taken from.
    pub fn range(&self) -> PortRange {
        self.range
    }

    /// Who uses `port`, if anyone.
    pub fn holder(&self, port: u16) -> Option<&str> {
        self.used.get(&port).map(String::as_str)
    }

    /// Takes the lowest unused port of the range for `holder`; `None` when every port of the range is used.
    pub fn next_free(&mut self, holder: &str) -> Option<u16> {
        while self.cursor <= u32::from(self.range.upper) {
            let port = u16::try_from(self.cursor).ok()?;
            self.cursor += 1;
            if let Entry::Vacant(free) = self.used.entry(port) {
                free.insert(holder.to_string());
                return Some(port);
            }
        }
        None
    }
}

/// Gives every gateway a port, in three passes over `gateways` (each in the given order):
///
/// 1. ports gateways keep, so running gateways never move: first explicit ports equal to the gateway's port in
///    the previous plan (`previous_port`), then, for gateways without a port (0), the port they had before;
/// 2. new explicit ports; one already held fails with `UnavailableGatewayPortError` naming the holder;
/// 3. gateways still without a port get the lowest free port of `range`; none left fails with
///    `NoAvailablePortError`.
///
/// Ports already claimed in `ports` (e.g. reserved for gateways held back this round) are not handed out. A
/// gateway that lost its previous port to an earlier claim is reassigned in pass 3. Returns the index and error
/// of every gateway that got no port; its port is left as it was and not counted used.
pub fn assign_ports(
    gateways: &mut [Gateway],
    previous_port: impl Fn(&str) -> Option<u16>,
    ports: &mut PortAllocator,
) -> Vec<(usize, DslError)> {
    let range = ports.range();
    let mut settled = vec![false; gateways.len()];
    let mut failures = Vec::new();

    for explicit in [true, false] {
        for (g, done) in gateways.iter_mut().zip(settled.iter_mut()) {
            if (g.port.number != 0) != explicit {
                continue;
            }
            let kept = match previous_port(&g.name).filter(|p| *p != 0) {
                Some(p) if g.port.number == 0 || g.port.number == p => p,
                _ => continue,
            };
            if ports.claim(kept, &g.name).is_ok() {
                g.port.number = kept;
                *done = true;
            }
        }
    }

    for (i, (g, done)) in gateways.iter_mut().zip(settled.iter_mut()).enumerate() {
        if *done || g.port.number == 0 {
            continue;
        }
        *done = true;
        if let Err(holder) = ports.claim(g.port.number, &g.name) {
            failures.push((i, unavailable_port(g, &holder)));
        }
    }

    for (i, (g, done)) in gateways.iter_mut().zip(settled.iter()).enumerate() {
        if *done {
            continue;
        }
        match ports.next_free(&g.name) {
            Some(port) => g.port.number = port,
            None => failures.push((i, no_available_port(&g.name, range))),
        }
    }
    failures.sort_by_key(|(i, _)| *i);
    failures
}

fn unavailable_port(gateway: &Gateway, holder: &str) -> DslError {
    gateway_error(
        ErrorCode::UnavailableGatewayPortError,
        &gateway.name,
        "port",
        format!(
            "Gateway port '{}' is/was in use by: '{holder}'. Choose another port, or leave the port out to have \
             one assigned.",
            gateway.port.number
        ),
    )
}

fn no_available_port(gateway: &str, range: PortRange) -> DslError {
    gateway_error(
        ErrorCode::NoAvailablePortError,
        gateway,
        "port",
        format!(
            "No port available in the range [{range}] for gateway '{gateway}'. Remove unused gateways, give this \
             one an explicit port, or widen the gateway port range."
        ),
    )
}

/// Checks that `requested`'s explicit port is not used by any other gateway of `existing` (a gateway of the same
/// name is the one being updated and is skipped). Port 0 (to be assigned) always passes.
///
/// For a deployment gateway, pass the gateways of other deployments and the user gateways. Fails with
/// `UnavailableGatewayPortError` naming the gateway that holds the port.
pub fn check_port_available<'a>(
    requested: &Gateway,
    existing: impl IntoIterator<Item = &'a Gateway>,
) -> Result<(), DslError> {
    if requested.port.number == 0 {
        return Ok(());
    }
    let holder = existing
        .into_iter()
        .find(|g| g.name != requested.name && g.port.number == requested.port.number);
    match holder {
        None => Ok(()),
        Some(h) => Err(unavailable_port(requested, &h.name)),
    }
}

/// Checks that no two gateways of one blueprint or deployment (`artifact`) share an explicit port.
///
/// Fails with `DuplicateGatewayPortError` at `gateways.<name>` of the second gateway using the port.
pub fn check_unique_ports(artifact: &ArtifactId, gateways: &[Gateway]) -> Result<(), DslError> {
    let mut seen: HashMap<u16, &str> = HashMap::with_capacity(gateways.len());
    for g in gateways.iter().filter(|g| g.port.number != 0) {
        if let Some(first) = seen.insert(g.port.number, &g.name) {
            return Err(DslError::new(
                ErrorCode::DuplicateGatewayPortError,
                artifact.clone(),
                format!("gateways.{}", g.name),
                format!(
                    "Gateways '{first}' and '{}' both use port {}. Give each gateway its own port.",
                    g.name, g.port.number
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GatewayPort, Kind};

    fn gw(name: &str, port: u16) -> Gateway {
        Gateway::new(
            name,
            GatewayPort {
                number: port,
                ..GatewayPort::default()
            },
        )
    }

    fn ports(gs: &[Gateway]) -> Vec<u16> {
        gs.iter().map(|g| g.port.number).collect()
    }

    #[test]
    fn range_parses_and_refuses_empty_ranges() {
        assert_eq!("40000-45000".parse::<PortRange>(), Ok(PortRange::default()));
        assert!("45000-40000".parse::<PortRange>().is_err());
        assert!("0-10".parse::<PortRange>().is_err());
        assert!("40000".parse::<PortRange>().is_err());
        let r: PortRange = serde_json::from_str("\"100-200\"").unwrap();
        assert_eq!((r.lower, r.upper), (100, 200));
    }

    #[test]
    fn unassigned_gateways_get_the_lowest_free_ports() {
        let mut gs = vec![gw("a", 0), gw("b", 40001), gw("c", 0), gw("d", 0)];
        let failures = assign_ports(&mut gs, |_| None, &mut PortAllocator::new(PortRange::default()));
        assert!(failures.is_empty());
        assert_eq!(ports(&gs), vec![40000, 40001, 40002, 40003]);
    }

    #[test]
    fn ports_of_removed_gateways_are_reused() {
        let previous: HashMap<&str, u16> = [("a", 40000), ("b", 40001), ("c", 40002)].into();
        let mut gs = vec![gw("a", 0), gw("c", 0), gw("new", 0)];
        assign_ports(
            &mut gs,
            |n| previous.get(n).copied(),
            &mut PortAllocator::new(PortRange::default()),
        );
        assert_eq!(ports(&gs), vec![40000, 40002, 40001]);
    }

    #[test]
    fn previous_ports_are_kept_before_new_ones_are_handed_out() {
        let previous: HashMap<&str, u16> = [("late", 40000)].into();
        let mut gs = vec![gw("early", 0), gw("late", 0)];
        assign_ports(
            &mut gs,
            |n| previous.get(n).copied(),
            &mut PortAllocator::new(PortRange::default()),
        );
        assert_eq!(ports(&gs), vec![40001, 40000]);
    }

    #[test]
    fn exhaustion_names_the_gateway_and_the_range() {
        let range = PortRange::new(100, 101).unwrap();
        let mut gs = vec![gw("a", 0), gw("b", 0), gw("c", 0)];
        let failures = assign_ports(&mut gs, |_| None, &mut PortAllocator::new(range));
        assert_eq!(failures.len(), 1);
        let (i, err) = &failures[0];
        assert_eq!(*i, 2);
        assert_eq!(err.code, ErrorCode::NoAvailablePortError);
        assert_eq!(err.artifact.name, "c");
        assert!(err
            .message
            .starts_with("No port available in the range [100-101]"));
        assert_eq!(gs[2].port.number, 0);
    }

    #[test]
    fn reserved_ports_are_not_handed_out() {
        let mut ports = PortAllocator::new(PortRange::default());
        ports.claim(40000, "held-back").unwrap();
        let mut gs = vec![gw("a", 0)];
        assign_ports(&mut gs, |_| None, &mut ports);
        assert_eq!(gs[0].port.number, 40001);
        assert_eq!(ports.holder(40000), Some("held-back"));
        assert_eq!(ports.holder(40001), Some("a"));
    }

    #[test]
    fn the_last_port_of_the_range_is_usable() {
        let range = PortRange::new(65535, 65535).unwrap();
        let mut gs = vec![gw("a", 0), gw("b", 0)];
        let failures = assign_ports(&mut gs, |_| None, &mut PortAllocator::new(range));
        assert_eq!(gs[0].port.number, 65535);
        assert_eq!(failures.len(), 1);
    }

    #[test]
    fn a_new_explicit_port_held_by_another_gateway_is_refused() {
        let previous: HashMap<&str, u16> = [("old", 9050)].into();
        let mut gs = vec![gw("new", 9050), gw("old", 9050)];
        let failures = assign_ports(
            &mut gs,
            |n| previous.get(n).copied(),
            &mut PortAllocator::new(PortRange::default()),
        );
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].0, 0);
        assert_eq!(failures[0].1.code, ErrorCode::UnavailableGatewayPortError);
        assert!(failures[0].1.message.contains("'old'"));
    }

    #[test]
    fn a_kept_explicit_port_wins_over_a_kept_assignment() {
        let previous: HashMap<&str, u16> = [("auto", 40000)].into();
        let mut gs = vec![gw("auto", 0), gw("pinned", 40000)];
        let previous_pinned = |n: &str| {
            if n == "pinned" {
                Some(40000)
            } else {
                previous.get(n).copied()
            }
        };
        let failures = assign_ports(
            &mut gs,
            previous_pinned,
            &mut PortAllocator::new(PortRange::default()),
        );
        assert!(failures.is_empty());
        assert_eq!(ports(&gs), vec![40001, 40000]);
    }

    #[test]
    fn assignment_of_ten_thousand_gateways_is_fast() {
        let mut gs: Vec<Gateway> = (0..10_000).map(|i| gw(&format!("g{i}"), 0)).collect();
        let start = std::time::Instant::now();
        let failures = assign_ports(
            &mut gs,
            |_| None,
            &mut PortAllocator::new(PortRange::new(20000, 40000).unwrap()),
        );
        assert!(failures.is_empty());
        assert_eq!(gs[9999].port.number, 29999);
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn port_checks_skip_the_gateway_itself() {
        let existing = vec![gw("a", 9050), gw("b", 0)];
        assert!(check_port_available(&gw("a", 9050), &existing).is_ok());
        assert!(check_port_available(&gw("c", 0), &existing).is_ok());
        let err = check_port_available(&gw("c", 9050), &existing).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnavailableGatewayPortError);
    }

    #[test]
    fn duplicate_ports_in_a_blueprint_are_refused() {
        let bp = ArtifactId::new(Kind::Blueprint, "shop");
        assert!(
            check_unique_ports(&bp, &[gw("9050", 9050), gw("9060", 9060), gw("x", 0), gw("y", 0)]).is_ok()
        );
        let err = check_unique_ports(&bp, &[gw("9050", 9050), gw("other", 9050)]).unwrap_err();
        assert_eq!(err.code, ErrorCode::DuplicateGatewayPortError);
        assert_eq!(err.artifact.kind, Kind::Blueprint);
        assert_eq!(err.path, "gateways.other");
    }
}
