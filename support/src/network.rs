//! Where requests may go. A tenant's values build hosts (`https://{tenant}.example.com`) and
//! operators point connections elsewhere (`--base-url`), so a connection could aim tib at the
//! machine it runs on, the private network around it or a cloud metadata endpoint. Requests go
//! only to public addresses unless the operator allows a network (`--allow-network CIDR`), and
//! the check is made on the addresses a name resolves to, at every connection the client opens,
//! so a name that resolves elsewhere the second time (DNS rebinding) is checked again.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The networks requests may reach besides public addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    allowed: Vec<IpNet>,
}

/// An address a request was not sent to, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub address: IpAddr,
    pub kind: &'static str,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is {} address; tib sends requests to public addresses only, unless --allow-network \
             (TIB_ALLOW_NETWORKS) names a network that holds it",
            self.address, self.kind
        )
    }
}

impl std::error::Error for Refused {}

impl NetworkPolicy {
    /// Public addresses and these networks.
    pub fn allowing(allowed: Vec<IpNet>) -> Self {
        NetworkPolicy { allowed }
    }

    /// Public addresses and loopback: for tests and local demos.
    pub fn with_loopback() -> Self {
        NetworkPolicy::allowing(loopback_networks())
    }

    /// Whether a request may go to `address`.
    pub fn check(&self, address: IpAddr) -> Result<(), Refused> {
        let address = canonical(address);
        match non_public(address) {
            None => Ok(()),
            Some(_) if self.allowed.iter().any(|net| net.contains(&address)) => Ok(()),
            Some(kind) => Err(Refused { address, kind }),
        }
    }

    /// The host of `url`, when it is an address written out (a name is checked once resolved).
    pub fn check_url(&self, url: &url::Url) -> Result<(), Refused> {
        match url.host() {
            // The URL parser has already read every numeric spelling (`0x7f.1`, `2130706433`) as an address.
            Some(url::Host::Ipv4(v4)) => self.check(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => self.check(IpAddr::V6(v6)),
            Some(url::Host::Domain(_)) | None => Ok(()),
        }
    }
}

/// Whether `url` may be used as a base URL: https, or plain http to this
/// machine (a local server under test). Specs and operators' overrides alike.
pub fn secure_or_loopback(url: &url::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(v4)) => v4.is_loopback(),
            Some(url::Host::Ipv6(v6)) => v6.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

/// An operator's override of a spec's URL (`flag` names it: the option, or the URL in words), under the rule of
/// [`secure_or_loopback`], with the message that says what is allowed. It is
/// stored as it is and shown wherever the connection is, so it may hold no
/// password (`user:pw@`): that is a credential, sealed. A refusal never
/// repeats what it refuses.
pub fn check_override(flag: &str, url: &url::Url) -> Result<(), String> {
    let shown = without_secrets(url);
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{flag} {shown} carries a user name or password (`user:…@`): a URL is stored and shown in the clear; \
             give the credentials the integration asks for instead"
        ));
    }
    if url.fragment().is_some() {
        return Err(format!("{flag} {shown} carries a #fragment, which no server sees"));
    }
    if secure_or_loopback(url) {
        Ok(())
    } else {
        Err(format!("{flag} {shown} is not https: plain http is allowed only to this machine (localhost, 127.0.0.1)"))
    }
}

/// An operator's base URL: an override ([`check_override`]; `what` names it) with no query
/// either, where a token would sit in the clear (paths are appended to a base
/// URL; fixed query values belong in the spec's request).
pub fn check_base_override(what: &str, url: &url::Url) -> Result<(), String> {
    check_override(what, url)?;
    match url.query() {
        Some(_) => Err(format!(
            "{what} {} carries a query (`?…`): a URL is stored and shown in the clear, and a token is a \
             credential; give the URL without it",
            without_secrets(url)
        )),
        None => Ok(()),
    }
}

/// A URL as a refusal shows it: without its user name, password, query and fragment.
fn without_secrets(url: &url::Url) -> url::Url {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    // Both fail only on a URL that cannot have a host (`mailto:`), which holds neither.
    let _ = (shown.set_username(""), shown.set_password(None));
    shown
}

/// 127.0.0.0/8 and ::1: this machine.
pub fn loopback_networks() -> Vec<IpNet> {
    let v4 = ipnet::Ipv4Net::new(Ipv4Addr::LOCALHOST, 8).expect("8 is a valid prefix");
    vec![IpNet::V4(v4), IpNet::from(IpAddr::V6(Ipv6Addr::LOCALHOST))]
}

/// One network as `--allow-network` takes it: a CIDR, or one address.
pub fn parse_network(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{text}` is not a network: write a CIDR such as 10.0.0.0/8 or fd00::/8, or one address"))
}

/// `TIB_ALLOW_NETWORKS`: networks separated by commas.
pub fn parse_networks(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',').filter(|part| !part.trim().is_empty()).map(parse_network).collect()
}

/// An IPv4 address carried in an IPv6 one is judged as the IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        IpAddr::V4(_) => address,
    }
}

/// What kind of non-public address this is; `None` for a public one.
fn non_public(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(v4: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = v4.octets();
    let kind = match (a, b, c) {
        _ if v4.is_loopback() => "a loopback",
        _ if v4.is_private() => "a private",
        _ if v4.is_link_local() => "a link-local (cloud metadata)",
        (0, _, _) => "an unspecified (this host)",
        (100, 64..=127, _) => "a shared (carrier-grade NAT)",
        (192, 0, 0) => "an IETF protocol",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation",
        (198, 18..=19, _) => "a benchmarking",
        (224..=239, _, _) => "a multicast",
        (240..=255, _, _) => "a reserved",
        _ => return None,
    };
    Some(kind)
}

fn non_public_v6(v6: Ipv6Addr) -> Option<&'static str> {
    let segments = v6.segments();
    let embedded_v4 = || Ipv4Addr::from(((u32::from(segments[6])) << 16) | u32::from(segments[7]));
    let kind = match segments {
        _ if v6.is_loopback() => "a loopback",
        _ if v6.is_unspecified() => "an unspecified (this host)",
        [0, 0, 0, 0, 0, 0, _, _] => "an IPv4-compatible (deprecated)",
        [s, ..] if s & 0xfe00 == 0xfc00 => "a unique-local",
        [s, ..] if s & 0xffc0 == 0xfe80 => "a link-local",
        [s, ..] if s & 0xffc0 == 0xfec0 => "a site-local",
        [s, ..] if s & 0xff00 == 0xff00 => "a multicast",
        [0x2001, 0xdb8, ..] => "a documentation",
        // Teredo hides an IPv4 address that cannot be judged: refused.
        [0x2001, 0, ..] => "a Teredo",
        // NAT64 (RFC 6052) and 6to4 (RFC 3056) reach the IPv4 address they carry.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => return non_public_v4(embedded_v4()),
        [0x2002, high, low, ..] => return non_public_v4(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))),
        _ => return None,
    };
    Some(kind)
}

/// A resolver that keeps only the addresses the policy permits, around the
/// system's or a test's.
pub(crate) struct Guarded {
    pub policy: NetworkPolicy,
    pub inner: Arc<dyn Resolve>,
}

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let (policy, resolving) = (self.policy.clone(), self.inner.resolve(name));
        Box::pin(async move {
            let mut refused = None;
            let permitted: Vec<SocketAddr> = resolving
                .await?
                .filter(|addr| match policy.check(addr.ip()) {
                    Ok(()) => true,
                    Err(why) => {
                        refused = Some(why);
                        false
                    }
                })
                .collect();
            match (permitted.is_empty(), refused) {
                (true, Some(why)) => Err(Box::new(why) as Box<dyn std::error::Error + Send + Sync>),
                _ => Ok(Box::new(permitted.into_iter()) as Addrs),
            }
        })
    }
}

/// The system's resolver (getaddrinfo, on tokio's blocking threads).
pub(crate) struct System;

impl Resolve for System {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((name.as_str(), 0)).await?;
            Ok(Box::new(addrs.collect::<Vec<_>>().into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_carries_no_password_and_a_base_url_no_query_and_neither_is_repeated() {
        let url = |text: &str| url::Url::parse(text).expect("a URL");
        assert_eq!(check_base_override("--base-url", &url("https://api.example.com/v1")), Ok(()));
        assert_eq!(check_override("--token-url", &url("https://id.example.com/token?p=b2c")), Ok(()));
        for (refused, said) in [
            ("https://admin:hunter2@api.example.com/v1", "user name or password"),
            ("https://hunter2@api.example.com/v1", "user name or password"),
            ("https://api.example.com/v1?token=hunter2", "query"),
            ("https://api.example.com/v1#hunter2", "fragment"),
            ("http://api.example.com/v1?token=hunter2", "https"),
        ] {
            let error = check_override("--base-url", &url(refused))
                .and_then(|()| check_base_override("--base-url", &url(refused)));
            let error = error.expect_err(refused);
            assert!(error.contains(said) && error.contains("api.example.com/v1"), "{refused}: {error}");
            assert!(!error.contains("hunter2"), "{refused}: repeated in {error}");
        }
    }

    #[test]
    fn only_public_addresses_pass_unless_a_network_is_allowed() {
        let policy = NetworkPolicy::default();
        let cases = [
            ("93.184.216.34", None),
            ("2606:4700::1111", None),
            ("127.0.0.1", Some("a loopback")),
            ("127.8.9.10", Some("a loopback")),
            ("10.1.2.3", Some("a private")),
            ("172.16.0.1", Some("a private")),
            ("172.32.0.1", None),
            ("192.168.1.1", Some("a private")),
            ("169.254.169.254", Some("a link-local (cloud metadata)")),
            ("0.0.0.0", Some("an unspecified (this host)")),
            ("100.64.0.1", Some("a shared (carrier-grade NAT)")),
            ("224.0.0.1", Some("a multicast")),
            ("255.255.255.255", Some("a reserved")),
            ("::1", Some("a loopback")),
            ("::", Some("an unspecified (this host)")),
            ("::ffff:127.0.0.1", Some("a loopback")),
            ("::ffff:169.254.169.254", Some("a link-local (cloud metadata)")),
            ("::127.0.0.1", Some("an IPv4-compatible (deprecated)")),
            ("fd00:ec2::254", Some("a unique-local")),
            ("fe80::1", Some("a link-local")),
            ("64:ff9b::a9fe:a9fe", Some("a link-local (cloud metadata)")),
            ("64:ff9b::5db8:d822", None),
            ("2002:7f00:1::", Some("a loopback")),
            ("2001:0:4136:e378::1", Some("a Teredo")),
            ("2001:db8::1", Some("a documentation")),
        ];
        for (text, expected) in cases {
            let address: IpAddr = text.parse().expect("an address");
            assert_eq!(policy.check(address).err().map(|r| r.kind), expected, "{text}");
        }
        let allowed = NetworkPolicy::allowing(parse_networks("10.0.0.0/8, 127.0.0.1").expect("networks"));
        assert!(allowed.check("10.9.9.9".parse().expect("ip")).is_ok());
        assert!(allowed.check("127.0.0.1".parse().expect("ip")).is_ok());
        assert!(allowed.check("::ffff:127.0.0.1".parse().expect("ip")).is_ok(), "mapped: judged as IPv4");
        assert!(allowed.check("127.0.0.2".parse().expect("ip")).is_err(), "one address allows only itself");
        assert!(allowed.check("192.168.0.1".parse().expect("ip")).is_err());
    }

    #[test]
    fn every_numeric_spelling_of_an_address_in_a_url_is_checked() {
        let policy = NetworkPolicy::default();
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::ffff:7f00:1]/",
            "http://[0:0:0:0:0:ffff:169.254.169.254]/",
            "https://0xa9fea9fe/latest/meta-data",
        ] {
            let parsed = url::Url::parse(url).expect("a URL");
            assert!(policy.check_url(&parsed).is_err(), "{url} is refused");
        }
        let public = url::Url::parse("https://93.184.216.34/users").expect("a URL");
        assert!(policy.check_url(&public).is_ok());
        let named = url::Url::parse("https://localhost/users").expect("a URL");
        assert!(policy.check_url(&named).is_ok(), "a name is checked once resolved");
    }

    #[test]
    fn plain_http_only_to_this_machine() {
        for (url, ok) in [
            ("https://api.example.com", true),
            ("http://127.0.0.1:8080", true),
            ("http://127.9.0.1", true),
            ("http://localhost:3000/v1", true),
            ("http://[::1]:80", true),
            ("http://api.example.com", false),
            ("http://10.0.0.1", false),
            ("ftp://127.0.0.1", false),
        ] {
            assert_eq!(secure_or_loopback(&url::Url::parse(url).expect("a URL")), ok, "{url}");
        }
    }

    #[test]
    fn networks_read_as_operators_write_them() {
        assert_eq!(parse_network("10.0.0.0/8").map(|n| n.to_string()), Ok("10.0.0.0/8".to_owned()));
        assert_eq!(parse_network(" ::1 ").map(|n| n.to_string()), Ok("::1/128".to_owned()));
        assert!(parse_network("10.0.0.0/33").is_err());
        assert!(parse_network("intranet").expect_err("not a network").contains("CIDR"));
        assert_eq!(parse_networks("").map(|n| n.len()), Ok(0));
    }
}
