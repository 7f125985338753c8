//! The SSRF guard for article pages (full text): an item's link is written by whoever writes
//! the feed, so following it must not reach the machine's own services, the local network or
//! a cloud metadata endpoint.
//!
//! - [`classify`] sorts an address into [`AddrClass`]es;
//! - [`Guard`] says which classes an outlet's page fetches may reach: public addresses always;
//!   the class of the outlet's own feed host when that host is not public (a feed served from
//!   127.0.0.1 may link to pages on 127.0.0.1, not to 10.0.0.0/8); every class with
//!   `[fetch] allow_private = true`. Metadata addresses are reached only with `allow_private`.
//! - [`GuardedResolver`] is the HTTP client's DNS resolver: it drops resolved addresses the
//!   guard refuses, so the address connected to is the address checked (no DNS rebinding
//!   between check and connect). IP literals never reach a resolver, so [`Guard::check_url`]
//!   checks them (and the scheme) before the request and at every redirect hop.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The Display text of every refusal starts with this, so a refusal can be told apart from
/// other failures even when only the message survives.
pub const REFUSED: &str = "refused by the SSRF guard";

/// What kind of address a host is, for the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrClass {
    /// Reachable on the internet.
    Public,
    /// 127.0.0.0/8, ::1, and the name `localhost`.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, 100.64/10 (carrier-grade NAT), fc00::/7, fec0::/10.
    Private,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// Cloud instance metadata: 169.254.169.254, fd00:ec2::254, 100.100.100.200.
    Metadata,
    /// Unspecified, broadcast, multicast, documentation, benchmarking and reserved ranges.
    Reserved,
}

impl AddrClass {
    fn bit(self) -> u8 {
        match self {
            AddrClass::Public => 1,
            AddrClass::Loopback => 2,
            AddrClass::Private => 4,
            AddrClass::LinkLocal => 8,
            AddrClass::Metadata => 16,
            AddrClass::Reserved => 32,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AddrClass::Public => "public",
            AddrClass::Loopback => "loopback",
            AddrClass::Private => "private",
            AddrClass::LinkLocal => "link-local",
            AddrClass::Metadata => "cloud metadata",
            AddrClass::Reserved => "reserved",
        }
    }
}

/// The class of an address. IPv4-mapped, IPv4-compatible and NAT64 (64:ff9b::/96) IPv6
/// addresses are classed by the IPv4 address inside them.
pub fn classify(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    let [a, b, c, d] = ip.octets();
    if (a, b, c, d) == (169, 254, 169, 254) || (a, b, c, d) == (100, 100, 100, 200) {
        AddrClass::Metadata
    } else if a == 127 {
        AddrClass::Loopback
    } else if a == 10
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 100 && (64..128).contains(&b))
    {
        // RFC 1918, and RFC 6598 shared address space (carrier-grade NAT).
        AddrClass::Private
    } else if a == 169 && b == 254 {
        AddrClass::LinkLocal
    } else if a == 0
        || a >= 224
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
    {
        // 0/8, multicast and 240/4 (broadcast included), IETF protocol assignments,
        // TEST-NETs, benchmarking.
        AddrClass::Reserved
    } else {
        AddrClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    let seg = ip.segments();
    if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
        return AddrClass::Metadata;
    }
    if ip.is_loopback() {
        return AddrClass::Loopback;
    }
    if ip.is_unspecified() {
        return AddrClass::Reserved;
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::/96) embed an IPv4 address.
    let embedded = |seg: &[u16; 8]| Ipv4Addr::from((u32::from(seg[6]) << 16) | u32::from(seg[7]));
    if seg[..6].iter().all(|&s| s == 0) {
        return classify_v4(embedded(&seg));
    }
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6].iter().all(|&s| s == 0) {
        return classify_v4(embedded(&seg));
    }
    match seg[0] {
        s if s & 0xfe00 == 0xfc00 => AddrClass::Private, // fc00::/7 unique local
        s if s & 0xffc0 == 0xfec0 => AddrClass::Private, // fec0::/10 site local (deprecated)
        s if s & 0xffc0 == 0xfe80 => AddrClass::LinkLocal, // fe80::/10
        s if s & 0xff00 == 0xff00 => AddrClass::Reserved, // multicast
        0x2001 if seg[1] == 0x0db8 => AddrClass::Reserved, // documentation
        _ => AddrClass::Public,
    }
}

/// The class of a URL host without resolving it: IP literals by [`classify`], `localhost` and
/// `*.localhost` as loopback, other names as `None` (their addresses decide).
pub fn host_class(host: &url::Host<&str>) -> Option<AddrClass> {
    match host {
        url::Host::Ipv4(v4) => Some(classify_v4(*v4)),
        url::Host::Ipv6(v6) => Some(classify_v6(*v6)),
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            (d == "localhost" || d.ends_with(".localhost")).then_some(AddrClass::Loopback)
        }
    }
}

/// Why a link was not followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{REFUSED}: {url} uses the scheme \"{scheme}\"; only http and https are fetched")]
    Scheme { url: String, scheme: String },
    #[error("{REFUSED}: {url} has no host")]
    NoHost { url: String },
    #[error("{REFUSED}: {url} is a {} address ({host}); set [fetch] allow_private = true to allow it", class.as_str())]
    Address {
        url: String,
        host: String,
        class: AddrClass,
    },
    #[error("{REFUSED}: {host} resolves only to addresses it refuses ({}); set [fetch] allow_private = true to allow them", classes.join(", "))]
    Resolved { host: String, classes: Vec<String> },
}

/// Which address classes one outlet's page fetches may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Guard {
    allowed: u8,
}

impl Guard {
    /// Public addresses only.
    pub fn public_only() -> Guard {
        Guard {
            allowed: AddrClass::Public.bit(),
        }
    }

    /// Every address (`[fetch] allow_private = true`); schemes are still checked.
    pub fn allow_all() -> Guard {
        Guard { allowed: u8::MAX }
    }

    /// The guard for an outlet whose feed is at `feed_url` (`None` for a local file: its
    /// pages get the public-only guard).
    pub fn for_outlet(feed_url: Option<&url::Url>, allow_private: bool) -> Guard {
        if allow_private {
            return Guard::allow_all();
        }
        let mut g = Guard::public_only();
        let class = feed_url.and_then(|u| u.host()).and_then(|h| host_class(&h));
        if let Some(class) = class.filter(|c| *c != AddrClass::Metadata) {
            g.allowed |= class.bit();
        }
        g
    }

    pub fn permits(&self, class: AddrClass) -> bool {
        self.allowed & class.bit() != 0
    }

    /// Checks the scheme and, for IP literals and `localhost`, the address of `url`. Names
    /// are checked when they resolve (see [`GuardedResolver`]).
    pub fn check_url(&self, url: &url::Url) -> Result<(), Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused::Scheme {
                url: url.to_string(),
                scheme: url.scheme().to_string(),
            });
        }
        let Some(host) = url.host() else {
            return Err(Refused::NoHost {
                url: url.to_string(),
            });
        };
        match host_class(&host) {
            Some(class) if !self.permits(class) => Err(Refused::Address {
                url: url.to_string(),
                host: host.to_string(),
                class,
            }),
            _ => Ok(()),
        }
    }

    /// The resolved addresses the guard lets through.
    pub fn filter(&self, host: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, Refused> {
        let mut refused: Vec<String> = Vec::new();
        let mut ok = Vec::with_capacity(addrs.len());
        for a in addrs {
            let class = classify(a.ip());
            if self.permits(class) {
                ok.push(a);
            } else if !refused.iter().any(|c| c == class.as_str()) {
                refused.push(class.as_str().to_string());
            }
        }
        if ok.is_empty() && !refused.is_empty() {
            return Err(Refused::Resolved {
                host: host.to_string(),
                classes: refused,
            });
        }
        Ok(ok)
    }
}

/// A DNS resolver that resolves with the system resolver and keeps only the addresses its
/// [`Guard`] permits; a name with none left fails with [`Refused::Resolved`].
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub guard: Guard,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.guard;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ok = guard.filter(&host, addrs)?;
            let addrs: reqwest::dns::Addrs = Box::new(ok.into_iter());
            Ok(addrs)
        })
    }
}

/// Whether an error, or one of its sources, is a refusal by the guard.
pub fn is_refusal(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.downcast_ref::<Refused>().is_some() || err.to_string().contains(REFUSED) {
            return true;
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddrClass {
        classify(s.parse().expect("address"))
    }

    #[test]
    fn addresses_are_classified() {
        for (addr, want) in [
            ("8.8.8.8", AddrClass::Public),
            ("93.184.216.34", AddrClass::Public),
            ("127.0.0.1", AddrClass::Loopback),
            ("127.255.0.9", AddrClass::Loopback),
            ("10.1.2.3", AddrClass::Private),
            ("172.16.0.1", AddrClass::Private),
            ("172.31.255.255", AddrClass::Private),
            ("172.32.0.1", AddrClass::Public),
            ("192.168.1.1", AddrClass::Private),
            ("100.64.0.1", AddrClass::Private),
            ("169.254.10.1", AddrClass::LinkLocal),
            ("169.254.169.254", AddrClass::Metadata),
            ("100.100.100.200", AddrClass::Metadata),
            ("0.0.0.0", AddrClass::Reserved),
            ("255.255.255.255", AddrClass::Reserved),
            ("224.0.0.1", AddrClass::Reserved),
            ("::1", AddrClass::Loopback),
            ("::", AddrClass::Reserved),
            ("fd00:ec2::254", AddrClass::Metadata),
            ("fd12:3456::1", AddrClass::Private),
            ("fe80::1", AddrClass::LinkLocal),
            ("ff02::1", AddrClass::Reserved),
            ("::ffff:127.0.0.1", AddrClass::Loopback),
            ("::ffff:169.254.169.254", AddrClass::Metadata),
            ("::ffff:10.0.0.1", AddrClass::Private),
            ("64:ff9b::a00:1", AddrClass::Private),
            ("2606:4700::1111", AddrClass::Public),
        ] {
            assert_eq!(class(addr), want, "{addr}");
        }
    }

    #[test]
    fn urls_are_checked_by_scheme_and_literal_address() {
        let g = Guard::public_only();
        let url = |s: &str| url::Url::parse(s).expect("url");
        assert!(g.check_url(&url("https://example.org/a")).is_ok());
        for bad in [
            "ftp://example.org/a",
            "file:///etc/passwd",
            "http://127.0.0.1/",
            "http://localhost:8080/",
            "http://app.localhost/",
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://[::ffff:7f00:1]/",
            "http://0x7f000001/",
            "http://2130706433/",
        ] {
            let err = g.check_url(&url(bad)).expect_err(bad);
            assert!(err.to_string().starts_with(REFUSED), "{err}");
        }
    }

    #[test]
    fn a_private_feed_host_allows_its_own_class_only() {
        let feed = url::Url::parse("http://127.0.0.1:8080/feed.xml").expect("url");
        let g = Guard::for_outlet(Some(&feed), false);
        let url = |s: &str| url::Url::parse(s).expect("url");
        assert!(g.check_url(&url("http://127.0.0.1:9/page")).is_ok());
        assert!(g.check_url(&url("http://10.0.0.1/page")).is_err());
        assert!(g.check_url(&url("http://169.254.169.254/")).is_err());
        let meta = url::Url::parse("http://169.254.169.254/feed").expect("url");
        assert!(!Guard::for_outlet(Some(&meta), false).permits(AddrClass::Metadata));
        let all = Guard::for_outlet(None, true);
        assert!(all.check_url(&url("http://169.254.169.254/")).is_ok());
        assert!(all.check_url(&url("gopher://example.org/")).is_err());
        assert_eq!(Guard::for_outlet(None, false), Guard::public_only());
    }

    #[test]
    fn resolved_addresses_are_filtered() {
        let g = Guard::public_only();
        let a = |s: &str| SocketAddr::new(s.parse().expect("ip"), 0);
        let kept = g
            .filter("mixed.test", vec![a("10.0.0.1"), a("93.184.216.34")])
            .expect("one public");
        assert_eq!(kept, vec![a("93.184.216.34")]);
        let err = g
            .filter("rebind.test", vec![a("127.0.0.1"), a("169.254.169.254")])
            .expect_err("none public");
        let text = err.to_string();
        assert!(
            text.contains("loopback") && text.contains("metadata"),
            "{text}"
        );
        assert!(is_refusal(&err));
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_that_resolve_to_refused_addresses() {
        use reqwest::dns::Resolve;
        use std::str::FromStr;
        let name = reqwest::dns::Name::from_str("localhost").expect("name");
        let public = GuardedResolver {
            guard: Guard::public_only(),
        };
        let err = match public.resolve(name).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        assert!(is_refusal(err.as_ref()), "{err}");
        let name = reqwest::dns::Name::from_str("localhost").expect("name");
        let all = GuardedResolver {
            guard: Guard::allow_all(),
        };
        let addrs: Vec<SocketAddr> = all.resolve(name).await.expect("resolves").collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}
