//! UPDATE_BROKER_CONFIG (25): Java properties text in the body. Every pair
//! is checked before any takes effect; the remark says which keys apply now
//! and which at the next start, and where they were written.

use std::collections::BTreeMap;
use std::sync::Arc;

use protocol::RemotingCommand;

use crate::error::{BrokerError, BrokerResult};
use crate::state::BrokerState;
use protocol::clock::now_ms;

/// UPDATE_BROKER_CONFIG (25).
pub fn update_broker_config(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let text = std::str::from_utf8(&req.body)
        .map_err(|_| BrokerError::InvalidParameter("the properties body is not UTF-8".into()))?;
    let pairs = parse_properties(text)?;
    if pairs.is_empty() {
        return Err(BrokerError::InvalidParameter(
            "the body names no `key=value` to update".into(),
        ));
    }
    let before = state.live.broker().broker_permission;
    let outcome = state.live.update(&pairs, now_ms())?;
    tracing::info!(live = ?outcome.live, on_restart = ?outcome.on_restart,
        file = %outcome.file.display(), "broker config updated by admin");
    if state.live.broker().broker_permission != before {
        // NameServers learn the new permission now, not at the next period.
        let s = state.clone();
        state.tasks.spawn(async move {
            let outcome = crate::services::register::register_all(&s).await;
            s.set_master(outcome);
        });
    }
    let list = |keys: &[String]| {
        if keys.is_empty() {
            "none".to_owned()
        } else {
            keys.join(",")
        }
    };
    let remark = format!(
        "applied now: {}; after a restart: {}; written to {}",
        list(&outcome.live),
        list(&outcome.on_restart),
        outcome.file.display()
    );
    let mut response = RemotingCommand::success();
    response.remark = Some(remark);
    Ok(response)
}

/// `key=value` (or `key:value`) lines; `#`/`!` comments and blank lines
/// are skipped, as `java.util.Properties` does.
fn parse_properties(text: &str) -> BrokerResult<BTreeMap<String, String>> {
    let mut pairs = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let (k, v) = line.split_once(['=', ':']).ok_or_else(|| {
            BrokerError::InvalidParameter(format!("line `{line}` is not `key=value`"))
        })?;
        let k = k.trim();
        if k.is_empty() {
            return Err(BrokerError::InvalidParameter(format!(
                "line `{line}` has no key"
            )));
        }
        pairs.insert(k.to_owned(), v.trim().to_owned());
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_parse_like_java() {
        let p = parse_properties("# c\n\na=1\n b : two \n").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!((p["a"].as_str(), p["b"].as_str()), ("1", "two"));
        let e = parse_properties("a=1\nnoequals\n").unwrap_err().to_string();
        assert!(e.contains("noequals"), "{e}");
        assert!(parse_properties("=1").is_err());
    }
}
