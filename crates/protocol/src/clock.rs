//! The wall clock as RocketMQ records it: milliseconds since the Unix
//! epoch, in born and store timestamps, subscription versions and offsets
//! searched by time. One definition for every crate.

/// Milliseconds since the Unix epoch (0 before it, `i64::MAX` far after).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_is_after_2020() {
        assert!(super::now_ms() > 1_577_836_800_000);
    }
}
