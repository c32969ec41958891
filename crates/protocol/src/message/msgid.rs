//! Message ids: the broker's offset id (store host + commit-log offset) and
//! the client-style UNIQ_KEY, which the broker generates for single messages
//! that arrive without one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::error::ProtocolError;

/// Length of an offset id with an IPv4 store host.
pub const OFFSET_MSG_ID_LEN_V4: usize = 32;
/// Length of an offset id with an IPv6 store host.
pub const OFFSET_MSG_ID_LEN_V6: usize = 56;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xF)]));
    }
}

/// `::ffff:a.b.c.d` becomes `a.b.c.d`: old clients cannot parse IPv6 hosts,
/// and a dual-stack listener reports IPv4 peers in this form.
pub fn normalize_addr(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// The offset message id: uppercase hex of the store host's ip bytes, the
/// port as int32 and the commit-log offset as int64 (32 chars for IPv4, 56
/// for IPv6). IPv4-mapped addresses are written as IPv4.
pub fn encode_offset_msg_id(store_host: SocketAddr, physical_offset: i64) -> String {
    let mut out = String::with_capacity(OFFSET_MSG_ID_LEN_V6);
    push_offset_msg_id(&mut out, store_host, physical_offset);
    out
}

/// Appends [`encode_offset_msg_id`]'s id to `out` (a batch's ids go into
/// one string, comma-separated, without a string per message).
pub fn push_offset_msg_id(out: &mut String, store_host: SocketAddr, physical_offset: i64) {
    let host = normalize_addr(store_host);
    // The id's bytes (16 + 4 + 8 at most), then their digits in one go.
    let mut raw = [0u8; 28];
    let ip_len = match host.ip() {
        IpAddr::V4(ip) => {
            raw[..4].copy_from_slice(&ip.octets());
            4
        }
        IpAddr::V6(ip) => {
            raw[..16].copy_from_slice(&ip.octets());
            16
        }
    };
    raw[ip_len..ip_len + 4].copy_from_slice(&i32::from(host.port()).to_be_bytes());
    raw[ip_len + 4..ip_len + 12].copy_from_slice(&physical_offset.to_be_bytes());
    let mut digits = [0u8; 56];
    for (pair, b) in digits.chunks_exact_mut(2).zip(&raw[..ip_len + 12]) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0xF)];
    }
    // Hex digits are ASCII.
    if let Ok(text) = std::str::from_utf8(&digits[..2 * (ip_len + 12)]) {
        out.push_str(text);
    }
}

fn unhex(s: &str) -> Result<Vec<u8>, ProtocolError> {
    let digit = |c: u8| -> Result<u8, ProtocolError> {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
            .ok_or_else(|| ProtocolError::BadMessage(format!("message id {s:?} is not hex")))
    };
    s.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Ok((digit(*hi)? << 4) | digit(*lo)?),
            _ => Err(ProtocolError::BadMessage(format!(
                "message id {s:?} has an odd length"
            ))),
        })
        .collect()
}

/// Decodes an offset message id into the store host and commit-log offset.
/// Either hex case is accepted.
///
/// # Errors
/// [`ProtocolError::BadMessage`] if the id is not 32 or 56 hex chars or its
/// port is out of range.
pub fn decode_offset_msg_id(id: &str) -> Result<(SocketAddr, i64), ProtocolError> {
    let bytes = unhex(id)?;
    let ip_len = match id.len() {
        OFFSET_MSG_ID_LEN_V4 => 4,
        OFFSET_MSG_ID_LEN_V6 => 16,
        n => {
            return Err(ProtocolError::BadMessage(format!(
                "message id {id:?} has {n} chars, expected {OFFSET_MSG_ID_LEN_V4} or {OFFSET_MSG_ID_LEN_V6}"
            )))
        }
    };
    let (ip, rest) = bytes.split_at(ip_len);
    let ip = match <[u8; 16]>::try_from(ip) {
        Ok(b) => IpAddr::V6(Ipv6Addr::from(b)),
        Err(_) => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(ip).unwrap_or([0; 4]))),
    };
    let (port, offset) = rest.split_at(4);
    let port = i32::from_be_bytes(<[u8; 4]>::try_from(port).unwrap_or([0; 4]));
    let port = u16::try_from(port)
        .map_err(|_| ProtocolError::BadMessage(format!("message id {id:?} has port {port}")))?;
    let offset = i64::from_be_bytes(<[u8; 8]>::try_from(offset).unwrap_or([0; 8]));
    Ok((SocketAddr::new(ip, port), offset))
}

/// Generates UNIQ_KEY ids: hex of client ip (4 or 16 bytes) + pid (2) +
/// a process hash (4) + ms since the start of the current month (4) +
/// a counter (2). Months are UTC months (Java uses the local zone; the
/// field is opaque to every reader, so only uniqueness matters).
#[derive(Debug, Clone)]
pub struct UniqIdGenerator {
    prefix: String,
    month_start_ms: i64,
    next_month_ms: i64,
    counter: u16,
}

impl UniqIdGenerator {
    /// A generator for a process at `ip` with process id `pid` (truncated
    /// to 16 bits as Java does) and `hash` (Java uses a class-loader hash;
    /// any per-process random value serves).
    pub fn new(ip: IpAddr, pid: u32, hash: i32) -> Self {
        let mut prefix = String::with_capacity(OFFSET_MSG_ID_LEN_V6);
        match ip {
            IpAddr::V4(v4) => push_hex(&mut prefix, &v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => push_hex(&mut prefix, &v4.octets()),
                None => push_hex(&mut prefix, &v6.octets()),
            },
        }
        push_hex(&mut prefix, &(pid as u16).to_be_bytes());
        push_hex(&mut prefix, &hash.to_be_bytes());
        Self {
            prefix,
            month_start_ms: 0,
            next_month_ms: i64::MIN,
            counter: 0,
        }
    }

    /// The next id at wall-clock time `now_ms` (ms since the Unix epoch).
    pub fn next(&mut self, now_ms: i64) -> String {
        if now_ms >= self.next_month_ms || now_ms < self.month_start_ms {
            let (start, next) = month_bounds_ms(now_ms);
            self.month_start_ms = start;
            self.next_month_ms = next;
        }
        let diff = now_ms.wrapping_sub(self.month_start_ms) as i32;
        let mut id = String::with_capacity(self.prefix.len() + 12);
        id.push_str(&self.prefix);
        push_hex(&mut id, &diff.to_be_bytes());
        push_hex(&mut id, &self.counter.to_be_bytes());
        self.counter = self.counter.wrapping_add(1);
        id
    }
}

const DAY_MS: i64 = 86_400_000;

/// Start of the UTC month containing `ms`, and start of the next one.
fn month_bounds_ms(ms: i64) -> (i64, i64) {
    let days = ms.div_euclid(DAY_MS);
    let (y, m, _) = civil_from_days(days);
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (
        days_from_civil(y, m, 1) * DAY_MS,
        days_from_civil(ny, nm, 1) * DAY_MS,
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`]: (year, month, day).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn offset_id_golden() {
        let host: SocketAddr = "192.168.0.1:10911".parse().unwrap();
        let id = encode_offset_msg_id(host, 0x1234);
        assert_eq!(id, "C0A8000100002A9F0000000000001234");
        assert_eq!(id.len(), 32);
        assert_eq!(decode_offset_msg_id(&id).unwrap(), (host, 0x1234));
        assert_eq!(
            decode_offset_msg_id(&id.to_lowercase()).unwrap(),
            (host, 0x1234)
        );
    }

    #[test]
    fn offset_id_v6_and_mapped() {
        let mapped: SocketAddr = "[::ffff:10.0.0.2]:10911".parse().unwrap();
        assert_eq!(encode_offset_msg_id(mapped, 1).len(), 32);
        let v6: SocketAddr = "[fe80::1]:10911".parse().unwrap();
        let id = encode_offset_msg_id(v6, 77);
        assert_eq!(id.len(), 56);
        assert!(id.starts_with("FE800000000000000000000000000001"));
        assert_eq!(decode_offset_msg_id(&id).unwrap(), (v6, 77));
    }

    #[test]
    fn offset_id_rejects() {
        assert!(decode_offset_msg_id("").is_err());
        assert!(decode_offset_msg_id("C0A8").is_err());
        assert!(decode_offset_msg_id(&"Z".repeat(32)).is_err());
        assert!(decode_offset_msg_id(&"A".repeat(33)).is_err());
        // Port 0x10000 does not fit a u16.
        assert!(decode_offset_msg_id("C0A8000100010000000000000000000A").is_err());
    }

    #[test]
    fn uniq_id_layout() {
        let mut g = UniqIdGenerator::new("10.0.0.1".parse().unwrap(), 0x1_0203, -1);
        // 2024-03-01T00:00:01.500Z
        let t = days_from_civil(2024, 3, 1) * DAY_MS + 1500;
        assert_eq!(t, 1_709_251_201_500);
        let a = g.next(t);
        let b = g.next(t);
        assert_eq!(a, "0A0000010203FFFFFFFF000005DC0000");
        assert_eq!(b, "0A0000010203FFFFFFFF000005DC0001");
        // A new month restarts the time field.
        let c = g.next(days_from_civil(2024, 4, 1) * DAY_MS);
        assert_eq!(&c[20..28], "00000000");
    }

    #[test]
    fn calendar() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(days_from_civil(2000, 2, 29)), (2000, 2, 29));
        assert_eq!(
            month_bounds_ms(days_from_civil(2023, 12, 31) * DAY_MS + 5),
            (
                days_from_civil(2023, 12, 1) * DAY_MS,
                days_from_civil(2024, 1, 1) * DAY_MS
            )
        );
        assert_eq!(month_bounds_ms(-1).1, 0);
    }

    proptest! {
        #[test]
        fn offset_id_roundtrip(ip in any::<[u8; 4]>(), ip6 in any::<[u8; 16]>(), port: u16, off: i64, v6: bool) {
            let addr = if v6 {
                normalize_addr(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip6)), port))
            } else {
                SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)
            };
            let id = encode_offset_msg_id(addr, off);
            prop_assert_eq!(decode_offset_msg_id(&id)?, (addr, off));
        }

        #[test]
        fn decode_never_panics(s in "[0-9A-Fa-fxz]{0,60}") {
            let _ = decode_offset_msg_id(&s);
        }

        #[test]
        fn month_bounds_contain(ms in -10_000_000_000_000i64..10_000_000_000_000) {
            let (start, next) = month_bounds_ms(ms);
            prop_assert!(start <= ms && ms < next);
            prop_assert!(next - start >= 28 * DAY_MS && next - start <= 31 * DAY_MS);
            prop_assert_eq!(civil_from_days(start / DAY_MS).2, 1);
        }
    }
}
