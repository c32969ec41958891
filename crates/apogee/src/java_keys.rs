//! Keys of a Java `broker.conf` / `namesrv.conf` that Apogee has no field
//! for. Java ignores keys it does not know, and real files carry many
//! tuning keys (thread pools, lock kinds, transient pools) whose absence
//! changes nothing a client can see, so those are logged once and ignored.
//! A few would change what the broker promises (authentication, where the
//! data lives, how it is replicated): starting without them would silently
//! serve something other than what the file asks for, so those refuse to
//! start and say why.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Result};

/// A key we refuse when `refused` says so, given its value and the rest of
/// the file (typed table of the keys we do know).
struct Rule {
    key: &'static str,
    refused: fn(&str, &toml::Table) -> bool,
    why: &'static str,
}

fn is_true(v: &str, _: &toml::Table) -> bool {
    v.eq_ignore_ascii_case("true")
}

/// `storePathCommitLog` is harmless only where Apogee looks anyway.
fn elsewhere_than_root_commitlog(v: &str, known: &toml::Table) -> bool {
    let Some(root) = known.get("storePathRootDir").and_then(|r| r.as_str()) else {
        return true;
    };
    Path::new(v) != Path::new(root).join("commitlog")
}

const RULES: &[Rule] = &[
    Rule {
        key: "authenticationEnabled",
        refused: is_true,
        why: "authentication is not implemented; every client would be served unchecked",
    },
    Rule {
        key: "authorizationEnabled",
        refused: is_true,
        why: "authorization is not implemented; every client would be served unchecked",
    },
    Rule {
        key: "enableDLegerCommitLog",
        refused: is_true,
        why: "the DLedger (Raft) commit log is not implemented; use brokerRole master/slave replication",
    },
    Rule {
        key: "fetchNamesrvAddrByAddressServer",
        refused: is_true,
        why: "looking NameServers up on an address server is not implemented; set namesrvAddr",
    },
    Rule {
        key: "storePathCommitLog",
        refused: elsewhere_than_root_commitlog,
        why: "the commit log always lives in <storePathRootDir>/commitlog; set storePathRootDir instead",
    },
];

/// Checks the keys of a Java properties file that no field takes: refuses
/// the ones in [`RULES`] (all named together), and logs the rest once at
/// WARN as ignored.
///
/// # Errors
/// One or more keys that would change behaviour, each with its reason.
pub fn check_unknown(
    unknown: &BTreeMap<String, String>,
    known: &toml::Table,
    path: &Path,
) -> Result<()> {
    let refused: Vec<String> = unknown
        .iter()
        .filter_map(|(k, v)| {
            RULES
                .iter()
                .find(|r| r.key == k && (r.refused)(v, known))
                .map(|r| format!("`{k}={v}`: {}", r.why))
        })
        .collect();
    if !refused.is_empty() {
        bail!(
            "{} asks for what Apogee does not do, so it refuses to start: {}",
            path.display(),
            refused.join("; ")
        );
    }
    if !unknown.is_empty() {
        let keys: Vec<&str> = unknown.keys().map(String::as_str).collect();
        tracing::warn!(
            file = %path.display(),
            keys = %keys.join(", "),
            "ignoring config keys Apogee has no setting for (as the Java broker ignores unknown keys)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(root: &str) -> toml::Table {
        let mut t = toml::Table::new();
        t.insert("storePathRootDir".into(), toml::Value::String(root.into()));
        t
    }

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn tuning_keys_are_ignored_and_semantic_ones_refused() {
        let p = Path::new("broker.conf");
        let ok = props(&[
            ("sendMessageThreadPoolNums", "16"),
            ("authenticationEnabled", "false"),
            ("storePathCommitLog", "/data/store/commitlog"),
        ]);
        check_unknown(&ok, &known("/data/store"), p).unwrap();
        let bad = props(&[
            ("authenticationEnabled", "true"),
            ("enableDLegerCommitLog", "TRUE"),
            ("storePathCommitLog", "/elsewhere"),
            ("traceTopicEnable", "true"),
        ]);
        let err = check_unknown(&bad, &known("/data/store"), p)
            .unwrap_err()
            .to_string();
        for key in [
            "authenticationEnabled",
            "enableDLegerCommitLog",
            "storePathCommitLog",
        ] {
            assert!(err.contains(key), "{err}");
        }
        assert!(!err.contains("traceTopicEnable"), "{err}");
    }
}
