//! Instance ports: handing out free ports from the configured range, and the environment variables that tell an
//! instance its ports (`PORT` for the first, `PORT_<NAME>` for each).

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::ops::RangeInclusive;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use indexmap::IndexMap;

use super::lock;

/// The variable carrying the first port of the breed.
pub const PORT_VARIABLE: &str = "PORT";

/// `PORT_<NAME>` for the breed port `name`: upper-cased, every character other than an ASCII letter or digit
/// replaced by `_` (`admin-api` → `PORT_ADMIN_API`).
pub fn port_variable(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{PORT_VARIABLE}_{name}")
}

/// The port variables of an instance with `ports` (breed port name → port), `PORT` first.
pub fn port_environment(ports: &IndexMap<String, u16>) -> Vec<(String, String)> {
    ports
        .values()
        .next()
        .map(|first| (PORT_VARIABLE.to_string(), first.to_string()))
        .into_iter()
        .chain(
            ports
                .iter()
                .map(|(name, port)| (port_variable(name), port.to_string())),
        )
        .collect()
}

/// Hands out ports of a range that no instance of this driver holds and that can be bound on the host now.
#[derive(Debug)]
pub struct PortAllocator {
    host: IpAddr,
    range: RangeInclusive<u16>,
    held: Mutex<BTreeSet<u16>>,
}

impl PortAllocator {
    /// An allocator of `range` on `host`, holding nothing.
    pub fn new(host: IpAddr, range: RangeInclusive<u16>) -> Self {
        PortAllocator {
            host,
            range,
            held: Mutex::new(BTreeSet::new()),
        }
    }

    /// Marks `port` as held (an instance re-adopted with it), whether or not it is in the range.
    pub fn hold(&self, port: u16) {
        lock(&self.held).insert(port);
    }

    /// Gives `port` back.
    pub fn release(&self, port: u16) {
        lock(&self.held).remove(&port);
    }

    /// Whether `port` can be bound on the host now (nothing listens on it).
    pub fn is_free(&self, port: u16) -> bool {
        TcpListener::bind(SocketAddr::new(self.host, port)).is_ok()
    }

    /// A port of the range nobody holds and that binds now, marked held; `None` when the range is exhausted.
    /// The search starts at a point that differs between calls and drivers, so drivers sharing a range rarely
    /// race for the same port.
    pub fn allocate(&self) -> Option<u16> {
        let (start, end) = (*self.range.start(), *self.range.end());
        let span = u32::from(end - start) + 1;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let offset = (nanos ^ std::process::id().rotate_left(16)) % span;
        let mut held = lock(&self.held);
        (0..span)
            .filter_map(|i| u16::try_from(u32::from(start) + (offset + i) % span).ok())
            .find(|port| !held.contains(port) && self.is_free(*port))
            .inspect(|port| {
                held.insert(*port);
            })
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn port_variables_are_upper_case_with_underscores() {
        assert_eq!(port_variable("web"), "PORT_WEB");
        assert_eq!(port_variable("admin-api.v2"), "PORT_ADMIN_API_V2");
    }

    #[test]
    fn the_first_port_is_also_port() {
        let ports: IndexMap<String, u16> = [("web".to_string(), 20001), ("admin".to_string(), 20002)]
            .into_iter()
            .collect();
        assert_eq!(
            port_environment(&ports),
            [
                ("PORT".to_string(), "20001".to_string()),
                ("PORT_WEB".to_string(), "20001".to_string()),
                ("PORT_ADMIN".to_string(), "20002".to_string()),
            ]
        );
        assert!(port_environment(&IndexMap::new()).is_empty());
    }

    #[test]
    fn allocated_ports_are_distinct_free_and_in_range() {
        let allocator = PortAllocator::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 21000..=21009);
        let ports: BTreeSet<u16> = (0..5).filter_map(|_| allocator.allocate()).collect();
        assert_eq!(ports.len(), 5);
        assert!(ports.iter().all(|p| (21000..=21009).contains(p)));
    }

    #[test]
    fn an_exhausted_range_gives_none_until_a_port_is_released() {
        let allocator = PortAllocator::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 21010..=21011);
        let mut got: Vec<u16> = (0..2).filter_map(|_| allocator.allocate()).collect();
        if got.len() < 2 {
            panic!("ports 21010-21011 are busy on this machine: {got:?}");
        }
        assert_eq!(allocator.allocate(), None);
        let Some(back) = got.pop() else { return };
        allocator.release(back);
        assert_eq!(allocator.allocate(), Some(back));
    }

    #[test]
    fn a_bound_port_is_not_free() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let allocator = PortAllocator::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port..=port);
        assert!(!allocator.is_free(port));
        assert_eq!(allocator.allocate(), None);
    }
}
