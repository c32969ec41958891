//! Wall-clock time as RocketMQ stores it: milliseconds since the Unix
//! epoch. The one clock every table, rule and service reads.

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
