//! Where `vamp.http` may connect: public addresses, and what `workflows.http-allow` lists besides.
//!
//! Refused unless allow-listed: loopback, unspecified, private (RFC 1918, IPv6 unique local and site-local),
//! shared (CGNAT, 100.64.0.0/10), link-local, multicast, reserved and broadcast addresses, the cloud metadata
//! services (169.254.169.254, 169.254.170.2, fd00:ec2::254, 100.100.100.200, 192.0.0.192) and their names
//! (`metadata.google.internal`, …); an IPv4 address inside IPv6 (mapped, NAT64, 6to4) is judged as the IPv4
//! address.
//!
//! The check applies to what is connected to, not to what the URL says: the client's resolver
//! (`GuardedResolver`) checks every DNS answer and hands the connector only the addresses that pass, so the
//! connection goes to a checked address; a URL naming an address (which skips the resolver) is checked before
//! the request; every redirect is checked again (its address, or its name through the resolver) and at most
//! [`MAX_REDIRECTS`] are followed. Proxies from the environment are not used, so no proxy resolves a name for
//! us. A refusal reaches the script as an `Error` whose message says what was refused and why
//! ([`refusal`]).

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::Policy;
use reqwest::Url;
use serde::{Deserialize, Serialize};

/// The most redirects one `vamp.http` request follows.
pub const MAX_REDIRECTS: usize = 10;

/// Names of cloud metadata services, refused by name (besides their addresses) unless allow-listed.
const METADATA_NAMES: &[&str] = &[
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
];

/// One entry of `workflows.http-allow`: a host name (`*.` in front: any name below it), an address or a
/// network `ADDRESS/PREFIX`. Read from and written as its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpAllow {
    /// A host name, lower-case, without a trailing dot.
    Host(String),
    /// Any name below this suffix (`*.svc.local` → `svc.local`).
    Below(String),
    /// A network; an address is a network of its full length.
    Net {
        /// The network's address, host bits cleared.
        addr: IpAddr,
        /// The prefix length.
        prefix: u8,
    },
}

fn bad_entry(text: &str, why: &str) -> String {
    format!(
        "workflows.http-allow: '{text}' is not a host name, an address or a network (ADDRESS/PREFIX): {why}"
    )
}

fn masked(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
        }
    }
}

fn host_name(text: &str) -> Option<String> {
    let name = text.trim_end_matches('.').to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    valid.then_some(name)
}

impl FromStr for HttpAllow {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if let Some((addr, prefix)) = trimmed.split_once('/') {
            let addr: IpAddr = addr
                .trim_matches(|c| c == '[' || c == ']')
                .parse()
                .map_err(|_| bad_entry(text, &format!("'{addr}' is not an IP address")))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix: u8 =
                prefix.parse().ok().filter(|p| *p <= max).ok_or_else(|| {
                    bad_entry(text, &format!("the prefix must be a number from 0 to {max}"))
                })?;
            return Ok(HttpAllow::Net {
                addr: masked(addr, prefix),
                prefix,
            });
        }
        if let Ok(addr) = trimmed.trim_matches(|c| c == '[' || c == ']').parse::<IpAddr>() {
            let prefix = if addr.is_ipv4() { 32 } else { 128 };
            return Ok(HttpAllow::Net { addr, prefix });
        }
        if let Some(suffix) = trimmed.strip_prefix("*.") {
            return host_name(suffix)
                .map(HttpAllow::Below)
                .ok_or_else(|| bad_entry(text, "the name after '*.' is not a host name"));
        }
        host_name(trimmed)
            .map(HttpAllow::Host)
            .ok_or_else(|| bad_entry(text, "a host name has only letters, digits, '-', '_' and dots"))
    }
}

impl fmt::Display for HttpAllow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpAllow::Host(name) => f.write_str(name),
            HttpAllow::Below(suffix) => write!(f, "*.{suffix}"),
            HttpAllow::Net { addr, prefix } => write!(f, "{addr}/{prefix}"),
        }
    }
}

impl Serialize for HttpAllow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HttpAllow {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl HttpAllow {
    fn allows_name(&self, name: &str) -> bool {
        match self {
            HttpAllow::Host(host) => host == name,
            HttpAllow::Below(suffix) => name
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| head.ends_with('.')),
            HttpAllow::Net { .. } => false,
        }
    }

    fn allows_ip(&self, ip: IpAddr) -> bool {
        match self {
            HttpAllow::Net { addr, prefix } => addr.is_ipv4() == ip.is_ipv4() && masked(ip, *prefix) == *addr,
            _ => false,
        }
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u8) -> bool {
    masked(IpAddr::V4(ip), prefix) == IpAddr::V4(Ipv4Addr::from(net))
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const METADATA: [[u8; 4]; 4] = [
        [169, 254, 169, 254],
        [169, 254, 170, 2],
        [100, 100, 100, 200],
        [192, 0, 0, 192],
    ];
    if METADATA.contains(&ip.octets()) {
        return Some("a cloud metadata address");
    }
    let ranges: [([u8; 4], u8, &'static str); 12] = [
        ([0, 0, 0, 0], 8, "an unspecified ('this network') address"),
        ([127, 0, 0, 0], 8, "a loopback address"),
        ([10, 0, 0, 0], 8, "a private address"),
        ([172, 16, 0, 0], 12, "a private address"),
        ([192, 168, 0, 0], 16, "a private address"),
        ([100, 64, 0, 0], 10, "a shared (carrier-grade NAT) address"),
        ([169, 254, 0, 0], 16, "a link-local address"),
        ([192, 0, 0, 0], 24, "a reserved (IETF protocol) address"),
        ([198, 18, 0, 0], 15, "a reserved (benchmarking) address"),
        ([224, 0, 0, 0], 4, "a multicast address"),
        ([255, 255, 255, 255], 32, "the broadcast address"),
        ([240, 0, 0, 0], 4, "a reserved address"),
    ];
    ranges
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, what)| *what)
}

fn in_v6(ip: Ipv6Addr, net: u128, prefix: u8) -> bool {
    masked(IpAddr::V6(ip), prefix) == IpAddr::V6(Ipv6Addr::from(net))
}

/// The IPv4 address an IPv6 address carries: mapped (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`), NAT64
/// (`64:ff9b::a.b.c.d`) or 6to4 (`2002:AABB:CCDD::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if in_v6(ip, 0xffff_0000_0000, 96) || (in_v6(ip, 0, 96) && bits > 1) {
        return Some(low);
    }
    if in_v6(ip, 0x0064_ff9b << 96, 96) {
        return Some(low);
    }
    if in_v6(ip, 0x2002 << 112, 16) {
        return Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    None
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return Some("a cloud metadata address");
    }
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    if let Some(v4) = embedded_v4(ip) {
        return forbidden_v4(v4);
    }
    let ranges: [(u128, u8, &'static str); 6] = [
        (0xfc00 << 112, 7, "a private (unique local) address"),
        (0xfe80 << 112, 10, "a link-local address"),
        (0xfec0 << 112, 10, "a private (site-local) address"),
        (0xff00 << 112, 8, "a multicast address"),
        (0x0064_ff9b_0001 << 80, 48, "a private (local NAT64) address"),
        (0x0100 << 112, 64, "a reserved (discard) address"),
    ];
    ranges
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, *net, *prefix))
        .map(|(_, _, what)| *what)
}

/// What kind of address `ip` is when workflows may not reach it by default (`a loopback address`, …); `None`
/// for a public address.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

/// A refusal of the egress policy: its text says what was refused and how to allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Refused {}

const HOW_TO_ALLOW: &str = "workflows may not reach it unless workflows.http-allow lists it";

/// The policy of one server: the allow-list. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Egress {
    allow: Arc<[HttpAllow]>,
}

fn normalized(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Egress {
    /// The policy allowing what `allow` lists besides public addresses.
    pub fn new(allow: &[HttpAllow]) -> Egress {
        Egress { allow: allow.into() }
    }

    fn name_allowed(&self, name: &str) -> bool {
        let name = normalized(name);
        self.allow.iter().any(|a| a.allows_name(&name))
    }

    fn ip_allowed(&self, ip: IpAddr) -> bool {
        let canonical = ip.to_canonical();
        self.allow
            .iter()
            .any(|a| a.allows_ip(ip) || a.allows_ip(canonical))
    }

    /// `Err` when `ip` may not be connected to: neither public nor allow-listed.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refused> {
        match forbidden(ip) {
            Some(what) if !self.ip_allowed(ip) => Err(Refused(format!("{ip} is {what}; {HOW_TO_ALLOW}"))),
            _ => Ok(()),
        }
    }

    /// `Err` when `url` may not be requested: not `http`/`https`, an address that may not be reached, or a
    /// metadata service's name. A name is otherwise allowed here; its addresses are checked when it resolves.
    pub fn check_url(&self, url: &Url) -> Result<(), Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused(format!(
                "the scheme '{}' is not http or https",
                url.scheme()
            )));
        }
        match url.host() {
            None => Err(Refused("the URL names no host".into())),
            Some(url::Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) => self.check_name(name),
        }
    }

    fn check_name(&self, name: &str) -> Result<(), Refused> {
        let lower = normalized(name);
        if METADATA_NAMES.contains(&lower.as_str()) && !self.name_allowed(&lower) {
            return Err(Refused(format!(
                "{lower} is a cloud metadata service; {HOW_TO_ALLOW}"
            )));
        }
        Ok(())
    }

    /// The addresses of `name` that may be connected to, of its DNS answer `answer`: all of them for an
    /// allow-listed name, else those that pass [`Egress::check_ip`]; `Err` naming a refused address when none
    /// does.
    pub fn checked_answer(&self, name: &str, answer: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, Refused> {
        self.check_name(name)?;
        if self.name_allowed(name) {
            return Ok(answer);
        }
        let mut refused = None;
        let passed: Vec<SocketAddr> = answer
            .into_iter()
            .filter(|a| match self.check_ip(a.ip()) {
                Ok(()) => true,
                Err(_) => {
                    refused.get_or_insert(a.ip());
                    false
                }
            })
            .collect();
        match (passed.is_empty(), refused) {
            (true, Some(ip)) => Err(Refused(format!(
                "{name} resolves to {ip}, {}; {HOW_TO_ALLOW}",
                forbidden(ip).unwrap_or("an address that may not be reached")
            ))),
            _ => Ok(passed),
        }
    }

    /// A client that connects only where this policy allows: checked DNS answers, checked redirects (at most
    /// [`MAX_REDIRECTS`]), no proxy. A URL naming an address must pass [`Egress::check_url`] before it is
    /// requested: the resolver does not see it.
    pub fn client(&self, connect_timeout: Duration) -> Result<reqwest::Client, String> {
        let redirects = self.clone();
        reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { egress: self.clone() }))
            .redirect(Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    let error = Refused(format!("more than {MAX_REDIRECTS} redirects"));
                    return attempt.error(error);
                }
                match redirects.check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(Refused(why)) => {
                        let error = Refused(format!("redirected to {}: {why}", attempt.url()));
                        attempt.error(error)
                    }
                }
            }))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))
    }
}

/// Resolves names with the system resolver and passes on only the addresses the policy allows.
struct GuardedResolver {
    egress: Egress,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let egress = self.egress.clone();
        let name = name.as_str().to_string();
        Box::pin(async move {
            let answer: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let passed = egress.checked_answer(&name, answer)?;
            let addrs: Addrs = Box::new(passed.into_iter());
            Ok::<Addrs, Box<dyn StdError + Send + Sync>>(addrs)
        })
    }
}

/// The refusal inside `error`'s chain of sources, if the policy refused the request.
pub fn refusal<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a Refused> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn allow(entries: &[&str]) -> Egress {
        let parsed: Vec<HttpAllow> = entries.iter().map(|e| e.parse().unwrap()).collect();
        Egress::new(&parsed)
    }

    #[test]
    fn internal_addresses_are_refused_and_public_ones_pass() {
        for (addr, what) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("10.1.2.3", "private"),
            ("172.31.255.255", "private"),
            ("192.168.0.1", "private"),
            ("100.64.0.1", "carrier-grade"),
            ("169.254.1.1", "link-local"),
            ("169.254.169.254", "metadata"),
            ("100.100.100.200", "metadata"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fd00:ec2::254", "metadata"),
            ("fd12::1", "unique local"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "metadata"),
            ("64:ff9b::a00:1", "private"),
            ("2002:7f00:1::", "loopback"),
        ] {
            let refused = Egress::default().check_ip(ip(addr)).unwrap_err();
            assert!(refused.0.contains(what), "{addr}: {refused}");
            assert!(refused.0.contains("workflows.http-allow"), "{refused}");
        }
        for addr in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(Egress::default().check_ip(ip(addr)), Ok(()), "{addr}");
        }
    }

    #[test]
    fn the_allow_list_opens_addresses_networks_and_names() {
        let egress = allow(&[
            "127.0.0.2",
            "10.0.0.0/8",
            "fd00::/8",
            "metrics.local",
            "*.svc.cluster.local",
        ]);
        assert!(egress.check_ip(ip("127.0.0.2")).is_ok());
        assert!(egress.check_ip(ip("::ffff:127.0.0.2")).is_ok());
        assert!(egress.check_ip(ip("127.0.0.1")).is_err());
        assert!(egress.check_ip(ip("10.200.0.1")).is_ok());
        assert!(egress.check_ip(ip("fd00:ec2::254")).is_ok());
        let loopback = vec![SocketAddr::new(ip("127.0.0.1"), 0)];
        assert!(egress.checked_answer("metrics.local", loopback.clone()).is_ok());
        assert!(egress
            .checked_answer("a.svc.cluster.local", loopback.clone())
            .is_ok());
        assert!(egress
            .checked_answer("svc.cluster.local", loopback.clone())
            .is_err());
        assert!(egress.checked_answer("evilsvc.cluster.local", loopback).is_err());
    }

    #[test]
    fn dns_answers_keep_only_reachable_addresses_and_name_the_refused_one() {
        let egress = Egress::default();
        let mixed = vec![
            SocketAddr::new(ip("127.0.0.1"), 0),
            SocketAddr::new(ip("93.184.216.34"), 0),
        ];
        assert_eq!(
            egress.checked_answer("example.com", mixed).unwrap(),
            vec![SocketAddr::new(ip("93.184.216.34"), 0)]
        );
        let e = egress
            .checked_answer("localhost", vec![SocketAddr::new(ip("127.0.0.1"), 0)])
            .unwrap_err();
        assert!(
            e.0.starts_with("localhost resolves to 127.0.0.1, a loopback address"),
            "{e}"
        );
        let e = egress
            .checked_answer(
                "metadata.google.internal.",
                vec![SocketAddr::new(ip("8.8.8.8"), 0)],
            )
            .unwrap_err();
        assert!(e.0.contains("cloud metadata"), "{e}");
    }

    #[test]
    fn urls_are_checked_by_scheme_address_and_metadata_name() {
        let egress = Egress::default();
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://[::1]:8080/",
            "http://169.254.169.254/latest/meta-data/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "file:///etc/passwd",
        ] {
            assert!(egress.check_url(&Url::parse(url).unwrap()).is_err(), "{url}");
        }
        assert!(egress
            .check_url(&Url::parse("https://example.com/").unwrap())
            .is_ok());
    }

    #[test]
    fn allow_entries_read_and_write_as_text() {
        for (text, shown) in [
            ("10.1.2.3/8", "10.0.0.0/8"),
            ("::1", "::1/128"),
            ("[fd00::]/8", "fd00::/8"),
            ("Metrics.Local.", "metrics.local"),
            ("*.svc.local", "*.svc.local"),
        ] {
            assert_eq!(text.parse::<HttpAllow>().unwrap().to_string(), shown);
        }
        for bad in ["10.0.0.0/33", "::/129", "x/8", "a b", "", "*.", "http://x"] {
            let e = bad.parse::<HttpAllow>().unwrap_err();
            assert!(e.contains("workflows.http-allow"), "{e}");
        }
    }
}
