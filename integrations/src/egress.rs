//! Where vendor calls may go: the one policy every outbound request of the connectors follows
//! (sync runs, `testIntegration`, OAuth token requests, ConnectWise webhook key fetches).
//!
//! A vendor's base URL is chosen by an organization's admin, so without this policy the server
//! would call whatever that admin names: its own loopback ports, the cloud metadata endpoint,
//! the database on the private network. [`Egress`] allows only `https` to public addresses,
//! unless the operator allows private ranges (`--allow-private-vendor-addresses`, for on-premises
//! vendor installs and for tests against local mocks), in which case `http` and loopback,
//! private, link-local and unique-local addresses are allowed too.
//!
//! It is enforced at three points, because each alone has a gap:
//! - when an integration is saved, [`Egress::check_url`] refuses bad schemes and literal IP
//!   hosts outside the policy, with a clear error on `baseUrl`;
//! - before every request, [`Egress::check_url`] again on the request's URL (reqwest does not
//!   ask a resolver about literal IP hosts, and some URLs come from vendors' answers, such as
//!   Autotask's zone);
//! - at connect time, [`FilteringResolver`] drops every resolved address outside the policy, so
//!   a name that resolves (or later re-resolves) to `127.0.0.1` is never connected to.
//!
//! Redirects are not followed at all for vendor calls (see [`crate::http::HttpClient::new`]):
//! vendor REST APIs answer at their API root, and a redirect there means a wrong `baseUrl`.

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Which addresses vendor calls may reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Egress {
    allow_private: bool,
}

/// Why a URL is not a place vendor calls may go.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not `https` (or not `http` either, when private addresses are allowed).
    #[error("vendor addresses are https URLs")]
    Scheme,
    /// No host at all.
    #[error("the URL names no host")]
    NoHost,
    /// A literal IP address that is not public.
    #[error("{0} is not a public address")]
    Address(IpAddr),
}

impl Egress {
    /// Only `https` to public addresses: the default.
    pub const PUBLIC_ONLY: Self = Self {
        allow_private: false,
    };

    /// Also `http`, and loopback, private, link-local and unique-local addresses.
    pub const ALLOW_PRIVATE: Self = Self {
        allow_private: true,
    };

    /// The policy the operator chose.
    #[must_use]
    pub fn new(allow_private: bool) -> Self {
        Self { allow_private }
    }

    /// Whether private ranges (and `http`) are allowed.
    #[must_use]
    pub fn allows_private(self) -> bool {
        self.allow_private
    }

    /// Whether a connection to `ip` is allowed.
    #[must_use]
    pub fn permits(self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip)
    }

    /// Checks what can be decided from `url` alone: its scheme, and its host when that is a
    /// literal IP address. A host name is decided when it is resolved ([`FilteringResolver`]).
    ///
    /// # Errors
    /// The [`Refusal`].
    pub fn check_url(self, url: &Url) -> Result<(), Refusal> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_private => {}
            _ => return Err(Refusal::Scheme),
        }
        let ip = match url.host() {
            None => return Err(Refusal::NoHost),
            Some(Host::Domain(_)) => return Ok(()),
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        };
        if self.permits(ip) {
            Ok(())
        } else {
            Err(Refusal::Address(ip))
        }
    }

    /// A resolver for reqwest that keeps only the addresses this policy permits.
    #[must_use]
    pub fn resolver(self) -> FilteringResolver {
        FilteringResolver { egress: self }
    }
}

/// Whether `ip` is a public unicast address: not loopback, unspecified, private (10/8,
/// 172.16/12, 192.168/16), shared (CGNAT 100.64/10), link-local (169.254/16, fe80::/10), unique
/// local (fc00::/7), site-local (fec0::/10), multicast, broadcast, documentation, benchmarking
/// (198.18/15), IETF protocol assignments (192.0.0/24), reserved (240/4), or "this network"
/// (0/8); IPv4-mapped, IPv4-compatible, IPv4-translated, NAT64 (64:ff9b::/96) and 6to4
/// (2002::/16) IPv6 addresses are judged by the IPv4 address they carry; local-use NAT64
/// (64:ff9b:1::/48), discard-only (100::/64) and 2001::/23 (Teredo included) are not public.
#[must_use]
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    // `is_shared`, `is_benchmarking` and `is_reserved` are not stable yet: spelled out.
    let shared = a == 100 && (b & 0b1100_0000) == 64;
    let benchmarking = a == 198 && (b & 0xfe) == 18;
    let protocol_assignments = a == 192 && b == 0 && c == 0;
    let reserved = a >= 240;
    let this_network = a == 0;
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || shared
        || benchmarking
        || protocol_assignments
        || reserved
        || this_network)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) and the deprecated IPv4-compatible form (::a.b.c.d) reach an IPv4
    // host; `::` and `::1` are handled below.
    let nat64 = segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    let compatible = segments[..6] == [0; 6] && (segments[6] != 0 || segments[7] > 1);
    // IPv4-translated (::ffff:0:a.b.c.d).
    let translated = segments[..6] == [0, 0, 0, 0, 0xffff, 0];
    if nat64 || compatible || translated {
        let [a, b] = segments[6].to_be_bytes();
        let [c, d] = segments[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    // 6to4 (2002::/16) carries its IPv4 address in the next 32 bits.
    if segments[0] == 0x2002 {
        let [a, b] = segments[1].to_be_bytes();
        let [c, d] = segments[2].to_be_bytes();
        if !is_public_v4(Ipv4Addr::new(a, b, c, d)) {
            return false;
        }
    }
    // Local-use NAT64 (64:ff9b:1::/48), discard-only (100::/64), and the IETF protocol block
    // (2001::/23, Teredo included) reach nothing a vendor should be.
    let local_nat64 = segments[..3] == [0x64, 0xff9b, 1];
    let discard = segments[..4] == [0x100, 0, 0, 0];
    let protocol_assignments = segments[0] == 0x2001 && segments[1] < 0x200;
    if local_nat64 || discard || protocol_assignments {
        return false;
    }
    let documentation = segments[0] == 0x2001 && segments[1] == 0x0db8;
    let site_local = (segments[0] & 0xffc0) == 0xfec0;
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        || documentation
        || site_local)
}

/// A reqwest DNS resolver that resolves with the system resolver and keeps only the addresses
/// its [`Egress`] permits; a name left with none fails with [`BlockedAddress`].
#[derive(Debug, Clone, Copy)]
pub struct FilteringResolver {
    egress: Egress,
}

impl Resolve for FilteringResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let egress = self.egress;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|address| egress.permits(address.ip()))
                .collect();
            if permitted.is_empty() {
                return Err(Box::new(BlockedAddress { host }) as Box<dyn StdError + Send + Sync>);
            }
            Ok(Box::new(permitted.into_iter()) as Addrs)
        })
    }
}

/// A host name that resolved only to addresses the egress policy refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedAddress {
    /// The name.
    pub host: String,
}

impl fmt::Display for BlockedAddress {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} resolves only to addresses vendor calls may not reach",
            self.host
        )
    }
}

impl StdError for BlockedAddress {}

/// Whether `error` (or anything it was caused by) is a [`BlockedAddress`].
#[must_use]
pub fn is_blocked(error: &(dyn StdError + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(found) = current {
        if found.is::<BlockedAddress>() {
            return true;
        }
        current = found.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().expect("an address"))
    }

    #[test]
    fn non_public_ipv4_ranges_are_refused() {
        for text in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "192.0.0.8",
        ] {
            assert!(!public(text), "{text} is not public");
        }
    }

    #[test]
    fn public_ipv4_addresses_pass_including_the_neighbours_of_private_ranges() {
        for text in [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.0.1",
            "11.0.0.1",
            "198.20.0.1",
        ] {
            assert!(public(text), "{text} is public");
        }
    }

    #[test]
    fn non_public_ipv6_ranges_and_embedded_ipv4_are_refused() {
        for text in [
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.1.2.3",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
            "::ffff:0:7f00:1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "64:ff9b:1::a00:1",
            "100::1",
            "2001::1",
            "2001:1ff::1",
        ] {
            assert!(!public(text), "{text} is not public");
        }
        for text in [
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:4860:4860::8888",
        ] {
            assert!(public(text), "{text} is public");
        }
    }

    #[test]
    fn urls_are_checked_for_scheme_and_literal_ip_hosts() {
        let url = |text: &str| Url::parse(text).expect("a URL");
        let strict = Egress::PUBLIC_ONLY;
        assert_eq!(strict.check_url(&url("https://api.example.com")), Ok(()));
        assert_eq!(strict.check_url(&url("https://8.8.8.8/x")), Ok(()));
        assert_eq!(
            strict.check_url(&url("http://api.example.com")),
            Err(Refusal::Scheme)
        );
        assert_eq!(
            strict.check_url(&url("ftp://api.example.com")),
            Err(Refusal::Scheme)
        );
        assert_eq!(
            strict.check_url(&url("https://169.254.169.254/latest")),
            Err(Refusal::Address("169.254.169.254".parse().expect("ip")))
        );
        assert_eq!(
            strict.check_url(&url("https://[::1]:5432")),
            Err(Refusal::Address("::1".parse().expect("ip")))
        );
        // The URL parser reads the odd spellings of an IPv4 address as that address.
        assert_eq!(
            strict.check_url(&url("https://2130706433/")),
            Err(Refusal::Address("127.0.0.1".parse().expect("ip")))
        );
        // Names are decided when resolved, not here.
        assert_eq!(strict.check_url(&url("https://localhost:8443")), Ok(()));

        let open = Egress::ALLOW_PRIVATE;
        assert_eq!(open.check_url(&url("http://127.0.0.1:9000")), Ok(()));
        assert_eq!(open.check_url(&url("http://[::1]:5432")), Ok(()));
        assert_eq!(
            open.check_url(&url("ftp://127.0.0.1")),
            Err(Refusal::Scheme)
        );
    }

    #[tokio::test]
    async fn the_resolver_drops_addresses_outside_the_policy() {
        let name: Name = "localhost".parse().expect("a name");
        let refused = Egress::PUBLIC_ONLY
            .resolver()
            .resolve(name)
            .await
            .err()
            .expect("localhost is refused");
        assert!(is_blocked(refused.as_ref()), "{refused}");

        let name: Name = "localhost".parse().expect("a name");
        let found: Vec<SocketAddr> = Egress::ALLOW_PRIVATE
            .resolver()
            .resolve(name)
            .await
            .expect("localhost resolves")
            .collect();
        assert!(!found.is_empty());
        assert!(found.iter().all(|address| address.ip().is_loopback()));
    }
}
