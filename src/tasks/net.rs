//! Where `http` tasks and alert webhooks may connect.
//!
//! A writer chooses the URL of an `http` task, and an alert group's webhook URL; the request
//! leaves from a worker (or alert process) inside the operator's network. So after DNS
//! resolution, connections to loopback, link-local (cloud metadata at 169.254.169.254),
//! private, shared (100.64/10), unique-local and unspecified addresses are refused unless the
//! operator lists the target in `PGDAG_HTTP_ALLOW` (CIDRs, addresses and host names,
//! `.example.com` or `*.example.com` for a domain and its subdomains).
//!
//! The check sits in the client's DNS resolver, so the address checked is the address
//! connected to (no second lookup to rebind); URLs with an address instead of a name are
//! checked by [`check_url`] before each request. Clients made here never follow redirects
//! themselves: the `http` task follows them hop by hop (each hop checked again) only when
//! the task says `follow_redirects: true`.
//!
//! A proxy set in the process environment (`HTTPS_PROXY`...) is connected to instead of the
//! target: then only the proxy's address is checked here, and the proxy must do the rest.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// The operator's setting.
pub const ALLOW_VAR: &str = "PGDAG_HTTP_ALLOW";

/// Targets the operator allows although they are not public.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpAllow {
    nets: Vec<ipnet::IpNet>,
    /// Lower-case host names; a leading `.` means the domain and its subdomains.
    hosts: Vec<String>,
}

impl HttpAllow {
    /// `10.0.0.0/8, 127.0.0.1, ::1, localhost, .corp.example` (comma or space separated).
    pub fn parse(text: &str) -> Result<HttpAllow, String> {
        let mut allow = HttpAllow::default();
        for item in text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            if let Ok(net) = item.parse::<ipnet::IpNet>() {
                allow.nets.push(net);
            } else if let Ok(ip) = item.parse::<IpAddr>() {
                allow.nets.push(ipnet::IpNet::from(ip));
            } else {
                let host = item.strip_prefix('*').unwrap_or(item).to_ascii_lowercase();
                let bare = host.strip_prefix('.').unwrap_or(&host);
                if bare.is_empty()
                    || !bare
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                {
                    return Err(format!("{item:?} is not a CIDR, an address or a host name"));
                }
                allow.hosts.push(host);
            }
        }
        Ok(allow)
    }

    /// Allows everything: for tests that call their own local servers.
    pub fn everything() -> HttpAllow {
        HttpAllow {
            nets: vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
            hosts: Vec::new(),
        }
    }

    pub fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.iter().any(|h| match h.strip_prefix('.') {
            Some(domain) => host == domain || host.ends_with(h.as_str()),
            None => *h == host,
        })
    }

    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// Why connecting to `ip` (named `host`) is refused, if it is.
    pub fn check(&self, host: &str, ip: IpAddr) -> Result<(), Refused> {
        match restricted(ip) {
            Some(kind) if !self.allows_host(host) && !self.allows_ip(ip) => Err(Refused {
                host: host.to_string(),
                ip,
                kind,
            }),
            _ => Ok(()),
        }
    }
}

/// A connection the guard refused; the error every refused request carries in its chain.
#[derive(Debug, Clone)]
pub struct Refused {
    pub host: String,
    pub ip: IpAddr,
    pub kind: &'static str,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = if self.host == self.ip.to_string() {
            self.host.clone()
        } else {
            format!("{} ({})", self.host, self.ip)
        };
        write!(
            f,
            "refused: {target} is a {} address, which only an operator can allow ({ALLOW_VAR})",
            self.kind
        )
    }
}

impl std::error::Error for Refused {}

/// The kind of a non-public address, or `None` for a public one.
pub fn restricted(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => restricted_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return restricted_v4(v4);
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0 {
                Some("link-local")
            } else if first & 0xfe00 == 0xfc00 {
                Some("unique-local")
            } else if v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                // NAT64 of an IPv4 address: judge the address inside.
                let [.., a, b] = v6.segments();
                restricted_v4(Ipv4Addr::from(((a as u32) << 16) | b as u32))
            } else if v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1) {
                Some("loopback")
            } else {
                None
            }
        }
    }
}

fn restricted_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_private() {
        Some("private")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if a == 0 {
        Some("unspecified")
    } else if ip.is_broadcast() || ip.is_multicast() {
        Some("broadcast or multicast")
    } else {
        None
    }
}

/// Checks a URL before a request: `http` or `https`, and an address in place of a host
/// name must pass the guard (names are checked when they are resolved).
pub fn check_url(url: &reqwest::Url, allow: &HttpAllow) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{url}: only http and https URLs are allowed"));
    }
    let host = url.host_str().ok_or_else(|| format!("{url} has no host"))?;
    let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    else {
        return Ok(());
    };
    allow.check(&ip.to_string(), ip).map_err(|r| r.to_string())
}

/// The guard's refusal in an error's chain, if that is why it failed.
pub fn refusal(e: &(dyn std::error::Error + 'static)) -> Option<Refused> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(r) = err.downcast_ref::<Refused>() {
            return Some(r.clone());
        }
        current = err.source();
    }
    None
}

/// Resolves with the system resolver, then drops what the guard refuses; fails with
/// [`Refused`] when nothing is left.
struct GuardedResolver {
    allow: Arc<HttpAllow>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let kept: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| match allow.check(&host, a.ip()) {
                    Ok(()) => true,
                    Err(r) => {
                        refused.get_or_insert(r);
                        false
                    }
                })
                .collect();
            match (kept.is_empty(), refused) {
                (true, Some(r)) => Err(Box::new(r) as Box<dyn std::error::Error + Send + Sync>),
                _ => Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

/// A client whose connections pass the guard and which follows no redirect.
pub fn guarded_client(
    allow: &HttpAllow,
    connect_timeout: Duration,
    timeout: Option<Duration>,
) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("pgdag/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(GuardedResolver {
            allow: Arc::new(allow.clone()),
        }));
    if let Some(t) = timeout {
        builder = builder.timeout(t);
    }
    builder
        .build()
        .expect("the HTTP client configuration is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn non_public_addresses_are_refused_by_kind() {
        for (addr, kind) in [
            ("127.0.0.1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("0.0.0.0", "unspecified"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fe80::1", "link-local"),
            ("fd00::1", "unique-local"),
            ("::ffff:127.0.0.1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
        ] {
            assert_eq!(restricted(ip(addr)), Some(kind), "{addr}");
        }
        for public in ["1.1.1.1", "93.184.216.34", "2606:4700::1111"] {
            assert_eq!(restricted(ip(public)), None, "{public}");
        }
    }

    #[test]
    fn the_allow_list_takes_cidrs_addresses_and_host_names() {
        let allow = HttpAllow::parse("10.0.0.0/8, 127.0.0.1 localhost .corp.example").unwrap();
        assert!(allow.check("x", ip("10.9.9.9")).is_ok());
        assert!(allow.check("127.0.0.1", ip("127.0.0.1")).is_ok());
        assert!(allow.check("x", ip("127.0.0.2")).is_err());
        assert!(allow.check("localhost", ip("::1")).is_ok());
        assert!(allow.check("api.corp.example", ip("192.168.0.1")).is_ok());
        assert!(allow.check("corp.example", ip("192.168.0.1")).is_ok());
        assert!(allow.check("evilcorp.example", ip("192.168.0.1")).is_err());
        let refused = HttpAllow::default()
            .check("metadata", ip("169.254.169.254"))
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "refused: metadata (169.254.169.254) is a link-local address, which only an operator can allow (PGDAG_HTTP_ALLOW)"
        );
        assert!(HttpAllow::parse("not a/host!").is_err());
    }

    #[test]
    fn urls_with_addresses_are_checked_before_the_request() {
        let none = HttpAllow::default();
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(check_url(&url("http://127.0.0.1:8080/x"), &none).is_err());
        assert!(check_url(&url("http://[::1]/x"), &none).is_err());
        assert!(check_url(&url("file:///etc/passwd"), &none).is_err());
        assert!(check_url(&url("https://example.com/"), &none).is_ok());
        assert!(check_url(&url("http://127.0.0.1/"), &HttpAllow::everything()).is_ok());
    }
}
