//! Which IP addresses may be connected to: the network policy's address rule
//! (`pack_registry.private_networks`, `allowed_source_hosts`), applied to the address a
//! connection is actually made to, after name resolution ([`super::guard`] does that).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::NetPolicy;

/// What kind of non-public address an address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A cloud provider's instance metadata service: refused in both modes.
    Metadata,
    Loopback,
    /// RFC 1918.
    Private,
    LinkLocal,
    /// RFC 6598 shared address space (100.64.0.0/10).
    Cgnat,
    /// IPv6 unique-local (fc00::/7).
    UniqueLocal,
    Multicast,
    /// 0.0.0.0/8, ::, and the broadcast address: no host is there to trust.
    Unspecified,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Metadata => "cloud metadata",
            Class::Loopback => "loopback",
            Class::Private => "private (RFC 1918)",
            Class::LinkLocal => "link-local",
            Class::Cgnat => "shared CGNAT (100.64.0.0/10)",
            Class::UniqueLocal => "unique-local",
            Class::Multicast => "multicast",
            Class::Unspecified => "unspecified",
        }
    }
}

/// AWS, GCP and Azure (169.254.169.254), AWS over IPv6, Alibaba Cloud.
const METADATA: [IpAddr; 3] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
];

/// The class of `ip`, `None` for a public address. An IPv6 address that carries an IPv4 one
/// (mapped, compatible, NAT64, 6to4) is judged by the IPv4 address, which is where the
/// packets end up.
pub fn classify(ip: IpAddr) -> Option<Class> {
    let ip = embedded_v4(ip).map_or(ip, IpAddr::V4);
    if METADATA.contains(&ip) {
        return Some(Class::Metadata);
    }
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Class> {
    let [a, b, ..] = ip.octets();
    Some(match () {
        _ if ip.is_loopback() => Class::Loopback,
        _ if ip.is_private() => Class::Private,
        _ if ip.is_link_local() => Class::LinkLocal,
        _ if a == 100 && (64..128).contains(&b) => Class::Cgnat,
        _ if ip.is_multicast() => Class::Multicast,
        _ if a == 0 || ip.is_broadcast() => Class::Unspecified,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Class> {
    let first = ip.segments()[0];
    Some(match () {
        _ if ip.is_loopback() => Class::Loopback,
        _ if ip.is_unspecified() => Class::Unspecified,
        _ if first & 0xffc0 == 0xfe80 => Class::LinkLocal,
        _ if first & 0xfe00 == 0xfc00 => Class::UniqueLocal,
        _ if ip.is_multicast() => Class::Multicast,
        _ => return None,
    })
}

/// The IPv4 address inside an IPv6 one: `::ffff:a.b.c.d`, `::a.b.c.d`, NAT64's
/// `64:ff9b::a.b.c.d` and 6to4's `2002:AABB:CCDD::`.
fn embedded_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = ip else { return None };
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, ..] => Some(tail),
        // `::` and `::1` are IPv6's own, not compatible addresses.
        [0, 0, 0, 0, 0, 0, ..] if s[6] != 0 => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some(tail),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

/// The address rule of the network policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRule {
    private: NetPolicy,
    /// `allowed_source_hosts`, normalized ([`normalize_host`]).
    allowed: Vec<String>,
}

impl AddressRule {
    pub fn new(private: NetPolicy, allowed_hosts: &[String]) -> Self {
        AddressRule {
            private,
            allowed: allowed_hosts.iter().map(|h| normalize_host(h)).collect(),
        }
    }

    /// Whether `host` (a name or an address literal) is allowlisted: every address it has
    /// may then be contacted.
    pub fn is_allowed_host(&self, host: &str) -> bool {
        let host = normalize_host(host);
        self.allowed.contains(&host)
    }

    /// Refuses `ip`, reached as `host`, when the policy does not allow its class.
    pub fn check(&self, host: &str, ip: IpAddr) -> Result<(), AddressRefused> {
        let Some(class) = classify(ip) else {
            return Ok(());
        };
        let refused = class == Class::Metadata || self.private == NetPolicy::DenyPrivate;
        if !refused || self.is_allowed_host(host) {
            return Ok(());
        }
        Err(AddressRefused {
            host: normalize_host(host),
            address: ip,
            class,
        })
    }
}

/// `Example.COM.` → `example.com`; `[::1]` → `::1`.
pub fn normalize_host(host: &str) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// A connection the policy refused, before it was made. Travels through reqwest's and gix's
/// error chains as a source, where [`super::refusal_in`] finds it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRefused {
    pub host: String,
    pub address: IpAddr,
    pub class: Class,
}

impl AddressRefused {
    /// What to change to allow it.
    pub fn remedy(&self) -> String {
        match self.class {
            Class::Metadata => format!(
                "cloud metadata addresses are never contacted unless the host is listed: add `{}` to pack_registry.allowed_source_hosts if this is really meant",
                self.host
            ),
            _ => format!(
                "pack_registry.private_networks is deny: add `{}` to pack_registry.allowed_source_hosts to allow it",
                self.host
            ),
        }
    }

    /// The class of the address, as words.
    pub fn what(&self) -> &'static str {
        self.class.name()
    }
}

impl fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refusing to connect to {} at {}, a {} address",
            self.host,
            self.address,
            self.class.name()
        )
    }
}

impl std::error::Error for AddressRefused {}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classes() {
        let cases = [
            ("127.0.0.1", Some(Class::Loopback)),
            ("127.8.9.10", Some(Class::Loopback)),
            ("10.1.2.3", Some(Class::Private)),
            ("172.16.0.1", Some(Class::Private)),
            ("172.31.255.255", Some(Class::Private)),
            ("172.32.0.1", None),
            ("192.168.1.1", Some(Class::Private)),
            ("169.254.1.1", Some(Class::LinkLocal)),
            ("169.254.169.254", Some(Class::Metadata)),
            ("100.64.0.1", Some(Class::Cgnat)),
            ("100.127.255.255", Some(Class::Cgnat)),
            ("100.128.0.1", None),
            ("100.100.100.200", Some(Class::Metadata)),
            ("224.0.0.1", Some(Class::Multicast)),
            ("0.0.0.0", Some(Class::Unspecified)),
            ("0.1.2.3", Some(Class::Unspecified)),
            ("255.255.255.255", Some(Class::Unspecified)),
            ("93.184.215.14", None),
            ("::1", Some(Class::Loopback)),
            ("::", Some(Class::Unspecified)),
            ("fe80::1", Some(Class::LinkLocal)),
            ("fd12:3456::1", Some(Class::UniqueLocal)),
            ("fc00::1", Some(Class::UniqueLocal)),
            ("fd00:ec2::254", Some(Class::Metadata)),
            ("ff02::1", Some(Class::Multicast)),
            ("2606:4700::1111", None),
            // IPv4 inside IPv6 is judged as the IPv4 address it reaches.
            ("::ffff:127.0.0.1", Some(Class::Loopback)),
            ("::ffff:169.254.169.254", Some(Class::Metadata)),
            ("::10.0.0.1", Some(Class::Private)),
            ("64:ff9b::a9fe:a9fe", Some(Class::Metadata)),
            ("2002:7f00:1::", Some(Class::Loopback)),
            ("::ffff:8.8.8.8", None),
        ];
        for (addr, want) in cases {
            assert_eq!(classify(ip(addr)), want, "{addr}");
        }
    }

    #[test]
    fn deny_refuses_private_allow_refuses_only_metadata_and_the_allowlist_wins() {
        let deny = AddressRule::new(NetPolicy::DenyPrivate, &["Mirror.Local.".into()]);
        let allow = AddressRule::new(NetPolicy::AllowPrivate, &[]);
        let e = deny.check("localhost", ip("127.0.0.1")).unwrap_err();
        assert_eq!(e.class, Class::Loopback);
        assert!(
            e.remedy().contains("allowed_source_hosts"),
            "{}",
            e.remedy()
        );
        assert!(deny.check("mirror.local", ip("10.0.0.5")).is_ok());
        assert!(deny.check("[mirror.local]", ip("169.254.169.254")).is_ok());
        assert!(deny.check("example.com", ip("93.184.215.14")).is_ok());
        assert!(allow.check("localhost", ip("127.0.0.1")).is_ok());
        let e = allow.check("metadata", ip("169.254.169.254")).unwrap_err();
        assert_eq!(e.class, Class::Metadata);
        assert_eq!(
            e.to_string(),
            "refusing to connect to metadata at 169.254.169.254, a cloud metadata address"
        );
    }
}
