//! Who a request comes from: the connection's peer, or, when the peer is a
//! proxy the operator names (`--trusted-proxy`), the client that proxy says
//! it forwarded (`X-Forwarded-For`, read from the right: the nearest address
//! that is not itself a trusted proxy). The header is ignored from anyone
//! else, since a client can write any `X-Forwarded-For` it likes.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        TrustedProxies(networks)
    }

    /// Whether `address` is one of the trusted proxies.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|network| network.contains(&address))
    }

    /// The client a request from `peer` with these `headers` comes from.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(peer) {
            return canonical(peer);
        }
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        let mut client = canonical(peer);
        for hop in forwarded.iter().rev() {
            // A hop the proxy did not write in a form it writes ends the chain it vouches for.
            let Some(address) = parse(hop) else { break };
            client = address;
            if !self.contains(address) {
                break;
            }
        }
        client
    }
}

/// An address as `X-Forwarded-For` writes it: bare, with a port, or in brackets.
fn parse(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| hop.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
        .map(canonical)
}

/// An IPv4 address carried in an IPv6 one is the IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        IpAddr::V4(_) => address,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_are_believed_from_trusted_proxies_only() {
        let proxies = TrustedProxies::new(vec!["10.0.0.0/8".parse().expect("a network")]);
        let ip = |text: &str| text.parse::<IpAddr>().expect("an address");
        let headers = |values: &[&str]| {
            let mut map = HeaderMap::new();
            for value in values {
                map.append("x-forwarded-for", value.parse().expect("a header"));
            }
            map
        };
        let forged = headers(&["6.6.6.6"]);
        assert_eq!(proxies.client(ip("203.0.113.9"), &forged), ip("203.0.113.9"), "not a proxy: its header is ignored");
        assert_eq!(proxies.client(ip("10.1.1.1"), &forged), ip("6.6.6.6"));
        assert_eq!(
            proxies.client(ip("10.1.1.1"), &headers(&["6.6.6.6, 198.51.100.7"])),
            ip("198.51.100.7"),
            "the nearest"
        );
        assert_eq!(
            proxies.client(ip("10.1.1.1"), &headers(&["198.51.100.7", "10.2.2.2"])),
            ip("198.51.100.7"),
            "through two trusted proxies, over two headers"
        );
        assert_eq!(proxies.client(ip("10.1.1.1"), &headers(&["[2001:db8::1]:443"])), ip("2001:db8::1"));
        assert_eq!(proxies.client(ip("10.1.1.1"), &headers(&["198.51.100.7:8080"])), ip("198.51.100.7"));
        assert_eq!(proxies.client(ip("10.1.1.1"), &headers(&["6.6.6.6, junk"])), ip("10.1.1.1"), "junk ends the chain");
        assert_eq!(proxies.client(ip("10.1.1.1"), &HeaderMap::new()), ip("10.1.1.1"), "no header: the proxy itself");
        assert_eq!(proxies.client(ip("::ffff:10.1.1.1"), &forged), ip("6.6.6.6"), "an IPv4-mapped peer");
    }
}
