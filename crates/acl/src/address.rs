//! `whiteRemoteAddress` patterns of `plain_acl.yml`: exact addresses, lists,
//! `a.b.c.{x,y}`, and one varying IPv4 octet (`*` or `n-m`) after a fixed
//! prefix, later octets ignored (as Java matches them).

use std::net::IpAddr;

/// A parsed address pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrPattern {
    /// Empty: matches nothing.
    Never,
    /// `*`, `*.*.*.*` or `*:*:*:*:*:*:*:*`.
    Any,
    /// Exact addresses.
    Set(Vec<IpAddr>),
    /// IPv4 with `prefix` as the leading octets and the next one in `lo..=hi`.
    Range { prefix: Vec<u8>, lo: u8, hi: u8 },
}

impl AddrPattern {
    /// Parses one pattern string.
    ///
    /// # Errors
    /// What is wrong with it, for the caller to name the field.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(AddrPattern::Never);
        }
        if matches!(text, "*" | "*.*.*.*" | "*:*:*:*:*:*:*:*") {
            return Ok(AddrPattern::Any);
        }
        if let Some(items) = text.strip_suffix('}') {
            let (prefix, items) = items
                .split_once('{')
                .ok_or_else(|| format!("'{text}' has '}}' without '{{'"))?;
            return items
                .split(',')
                .map(|item| exact(&format!("{prefix}{}", item.trim())))
                .collect::<Result<_, _>>()
                .map(AddrPattern::Set);
        }
        if text.contains(',') {
            return text
                .split(',')
                .map(|item| exact(item.trim()))
                .collect::<Result<_, _>>()
                .map(AddrPattern::Set);
        }
        if let Some(range) = ipv4_range(text)? {
            return Ok(range);
        }
        exact(text).map(|ip| AddrPattern::Set(vec![ip]))
    }

    /// Whether `ip` matches.
    pub fn matches(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match self {
            AddrPattern::Never => false,
            AddrPattern::Any => true,
            AddrPattern::Set(set) => set.contains(&ip),
            AddrPattern::Range { prefix, lo, hi } => match ip {
                IpAddr::V4(v4) => {
                    let octets = v4.octets();
                    octets.starts_with(prefix)
                        && octets
                            .get(prefix.len())
                            .is_some_and(|o| (*lo..=*hi).contains(o))
                }
                IpAddr::V6(_) => false,
            },
        }
    }
}

fn exact(text: &str) -> Result<IpAddr, String> {
    text.parse::<IpAddr>()
        .map(|ip: IpAddr| ip.to_canonical())
        .map_err(|_| format!("'{text}' is not an IP address or address pattern"))
}

/// `a.*.*.*`, `a.b.*.*`, `a.b.c.n-m`…: `None` when no octet varies.
fn ipv4_range(text: &str) -> Result<Option<AddrPattern>, String> {
    let octets: Vec<&str> = text.split('.').collect();
    if octets.len() != 4 {
        return Ok(None);
    }
    let Some(at) = octets.iter().position(|o| *o == "*" || o.contains('-')) else {
        return Ok(None);
    };
    let bad = || format!("'{text}' is not a valid IPv4 address pattern");
    if at == 0 {
        return Err(bad());
    }
    let prefix = octets[..at]
        .iter()
        .map(|o| o.parse::<u8>().map_err(|_| bad()))
        .collect::<Result<Vec<u8>, _>>()?;
    let (lo, hi) = match octets[at].split_once('-') {
        None => (0, 255),
        Some((lo, hi)) => {
            let lo = lo.trim().parse::<u8>().map_err(|_| bad())?;
            let hi = hi.trim().parse::<u8>().map_err(|_| bad())?;
            if lo > hi {
                return Err(bad());
            }
            (lo, hi)
        }
    };
    Ok(Some(AddrPattern::Range { prefix, lo, hi }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn patterns_match_as_java_does() {
        let p = |s: &str| AddrPattern::parse(s).unwrap();
        assert!(!p("").matches(ip("127.0.0.1")));
        assert!(p("*").matches(ip("10.1.2.3")));
        assert!(p("127.0.0.1").matches(ip("127.0.0.1")));
        assert!(p("127.0.0.1").matches(ip("::ffff:127.0.0.1")));
        assert!(!p("127.0.0.1").matches(ip("127.0.0.2")));
        assert!(p("10.0.0.1,10.0.0.2").matches(ip("10.0.0.2")));
        assert!(p("192.168.1.{1,2,3}").matches(ip("192.168.1.3")));
        assert!(!p("192.168.1.{1,2,3}").matches(ip("192.168.1.4")));
        assert!(p("192.168.*.*").matches(ip("192.168.77.1")));
        assert!(!p("192.168.*.*").matches(ip("192.169.0.1")));
        assert!(p("192.168.1.1-10").matches(ip("192.168.1.10")));
        assert!(!p("192.168.1.1-10").matches(ip("192.168.1.11")));
        assert!(p("::1").matches(ip("0:0:0:0:0:0:0:1")));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in [
            "300.1.1.1",
            "*.1.1.1",
            "10.0.0.9-2",
            "localhost",
            "10.1.1.{1,x}",
        ] {
            assert!(AddrPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
