//! Delay levels (`messageDelayLevel`): "1s 5s 10s 30s 1m … 2h" → level 1..N.

use std::time::Duration;

/// Parses a delay-level string into durations, level 1 first.
///
/// # Errors
/// A text naming the bad entry (units are s, m, h, d).
pub fn parse_levels(text: &str) -> Result<Vec<Duration>, String> {
    let levels: Vec<Duration> = text
        .split_whitespace()
        .map(|item| {
            let (num, unit) = item.split_at(item.len().saturating_sub(1));
            let n: u64 = num
                .parse()
                .map_err(|_| format!("`{item}` is not a number followed by s, m, h or d"))?;
            let secs = match unit {
                "s" => n,
                "m" => n * 60,
                "h" => n * 3600,
                "d" => n * 86400,
                _ => return Err(format!("`{item}` has an unknown unit (use s, m, h or d)")),
            };
            Ok(Duration::from_secs(secs))
        })
        .collect::<Result<_, String>>()?;
    if levels.is_empty() {
        return Err("no levels given".into());
    }
    Ok(levels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_levels_parse() {
        let l = parse_levels("1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h").unwrap();
        assert_eq!(l.len(), 18);
        assert_eq!(l[0], Duration::from_secs(1));
        assert_eq!(l[4], Duration::from_secs(60));
        assert_eq!(l[17], Duration::from_secs(7200));
    }

    #[test]
    fn bad_levels_are_named() {
        assert!(parse_levels("1s 5x").unwrap_err().contains("5x"));
        assert!(parse_levels("").is_err());
        assert!(parse_levels("s").is_err());
    }
}
