//! Java properties text: `broker.conf` and `namesrv.conf`, and the bodies
//! of the UPDATE_*_CONFIG requests. The one parser every crate uses.
//!
//! Lines are `key=value` or `key:value` (spaces around the separator are
//! ignored); blank lines and `#` / `!` comments are skipped. A line without
//! a separator, an empty key, or a continuation line (trailing `\`, which
//! RocketMQ's shipped files never use) is an error naming the line, so a
//! typo is reported rather than read as something else.

use crate::error::ProtocolError;

/// The `(key, value)` pairs of properties text, in file order (a later
/// duplicate wins for whoever folds them into a map).
///
/// # Errors
/// [`ProtocolError::BadProperties`] naming the first bad line (1-based).
pub fn parse(text: &str) -> Result<Vec<(String, String)>, ProtocolError> {
    let mut pairs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let bad = |reason: String| ProtocolError::BadProperties {
            line: n + 1,
            reason,
        };
        if line.ends_with('\\') {
            return Err(bad("continuation lines are not supported".into()));
        }
        let split = line
            .find(['=', ':'])
            .ok_or_else(|| bad(format!("expected key=value, got `{line}`")))?;
        let key = line[..split].trim();
        if key.is_empty() {
            return Err(bad("empty key".into()));
        }
        pairs.push((key.to_owned(), line[split + 1..].trim().to_owned()));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_comments_and_separators() {
        let text = "# c\n! c\n\nlistenPort=19876\n kvConfigPath = /tmp/kv.json \nenableAllTopicList: false\nempty=\nurl=a=b\n";
        let pairs = parse(text).unwrap();
        let want = [
            ("listenPort", "19876"),
            ("kvConfigPath", "/tmp/kv.json"),
            ("enableAllTopicList", "false"),
            ("empty", ""),
            ("url", "a=b"),
        ];
        assert_eq!(pairs.len(), want.len());
        for ((k, v), (wk, wv)) in pairs.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_str()), (wk, wv));
        }
    }

    #[test]
    fn bad_lines_are_named() {
        let e = parse("a=1\nnoseparator\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("noseparator"), "{e}");
        assert!(parse("=1").unwrap_err().to_string().contains("empty key"));
        assert!(parse("a=1\\\nb")
            .unwrap_err()
            .to_string()
            .contains("line 1"));
    }
}
