//! Loading configuration files: Java `.conf`/`.properties` files (the keys of
//! `broker.conf` and `namesrv.conf`, as they are) and TOML, plus `APOGEE_*`
//! environment overrides. Java properties carry no types, so each value is
//! typed by the field it sets, as shown by the struct's defaults.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Reads `path` (TOML when it ends in `.toml`, Java properties otherwise)
/// over the defaults of `T`, then applies `APOGEE_<PREFIX>_<KEY>` variables.
/// A Java properties file may hold keys we have no field for: they are
/// ignored with one warning, as Java does, unless they would change
/// behaviour (see `java_keys`). TOML files and variables are ours, so an
/// unknown key there is a typo and an error.
///
/// # Errors
/// The file cannot be read, a line does not parse, a key is unknown (in
/// TOML or a variable) or refused (in a properties file), each named in the
/// message, or a value does not fit its field.
pub fn load<T>(path: Option<&Path>, env_prefix: &str) -> Result<T>
where
    T: Serialize + DeserializeOwned + Default,
{
    load_sharing(path, env_prefix, |_| false)
}

/// As [`load`], for a file `T` shares with another component: keys that
/// `T` has no field for and `other_knows` claims are left to that
/// component (neither an error nor a warning). The NameServer's file holds
/// the embedded controller's keys this way, as Java's does.
///
/// # Errors
/// As [`load`].
pub fn load_sharing<T>(
    path: Option<&Path>,
    env_prefix: &str,
    other_knows: impl Fn(&str) -> bool,
) -> Result<T>
where
    T: Serialize + DeserializeOwned + Default,
{
    let mut table = defaults_table::<T>()?;
    if let Some(path) = path {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let is_toml = path.extension().is_some_and(|e| e == "toml");
        let entries = if is_toml {
            let mut parsed: toml::Table = toml::from_str(&text)
                .with_context(|| format!("{} is not valid TOML", path.display()))?;
            parsed.retain(|k, _| table.contains_key(k) || !other_knows(k));
            if let Some(key) = parsed.keys().find(|k| !table.contains_key(*k)) {
                bail!("unknown config key `{key}` in {}", path.display());
            }
            parsed.into_iter().collect()
        } else {
            let (known, unknown): (BTreeMap<_, _>, BTreeMap<_, _>) = parse_properties(&text)
                .with_context(|| format!("{} is not a valid properties file", path.display()))?
                .into_iter()
                .partition(|(k, _)| table.contains_key(k));
            let unknown = unknown
                .into_iter()
                .filter(|(k, _)| !other_knows(k))
                .collect();
            let typed = typed_properties(&table, known)?;
            let mut merged = table.clone();
            merged.extend(typed.iter().cloned());
            crate::java_keys::check_unknown(&unknown, &merged, path)?;
            typed
        };
        table.extend(entries);
    }
    let env: BTreeMap<String, String> = std::env::vars()
        .filter_map(|(k, v)| {
            k.strip_prefix(&format!("APOGEE_{env_prefix}_"))
                .map(|rest| (env_key(rest, &table), v))
        })
        .collect();
    table.extend(typed_properties(&table, env)?);
    toml::Value::Table(table)
        .try_into()
        .map_err(|e| anyhow!("bad configuration: {e}"))
}

/// The defaults of `T` as a TOML table: the schema that types properties.
fn defaults_table<T: Serialize + Default>() -> Result<toml::Table> {
    match toml::Value::try_from(T::default()).context("cannot serialize defaults")? {
        toml::Value::Table(t) => Ok(t),
        _ => bail!("configuration defaults are not a table"),
    }
}

/// Maps an environment suffix such as `LISTEN_PORT` to the camelCase key it
/// names (`listenPort`), matching case-insensitively without underscores
/// (and without the dots of Java's `tls.server.mode`: `TLS_SERVER_MODE`).
fn env_key(suffix: &str, table: &toml::Table) -> String {
    let flat: String = suffix.chars().filter(|c| *c != '_').collect();
    table
        .keys()
        .find(|k| k.replace('.', "").eq_ignore_ascii_case(&flat))
        .cloned()
        .unwrap_or(flat)
}

/// Every `key = value` of a config file as text: Java properties as they
/// are, TOML scalars (strings unquoted, numbers and booleans as written),
/// for a component that reads its own keys from a file it shares.
///
/// # Errors
/// The file cannot be read or does not parse.
pub fn raw_pairs(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "toml") {
        let parsed: toml::Table = toml::from_str(&text)
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        Ok(parsed
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect())
    } else {
        parse_properties(&text)
            .with_context(|| format!("{} is not a valid properties file", path.display()))
    }
}

/// Parses Java properties text (protocol's one parser); a later duplicate
/// key wins.
pub fn parse_properties(text: &str) -> Result<BTreeMap<String, String>> {
    Ok(protocol::java_properties::parse(text)?
        .into_iter()
        .collect())
}

/// Types each property by the default of the field it sets; a key that no
/// field has is an error naming it.
fn typed_properties(
    schema: &toml::Table,
    props: BTreeMap<String, String>,
) -> Result<Vec<(String, toml::Value)>> {
    props
        .into_iter()
        .map(|(key, raw)| {
            let value = match schema.get(&key) {
                Some(toml::Value::Integer(_)) => raw
                    .parse::<i64>()
                    .map(toml::Value::Integer)
                    .map_err(|_| anyhow!("config key `{key}`: `{raw}` is not an integer"))?,
                Some(toml::Value::Float(_)) => raw
                    .parse::<f64>()
                    .map(toml::Value::Float)
                    .map_err(|_| anyhow!("config key `{key}`: `{raw}` is not a number"))?,
                Some(toml::Value::Boolean(_)) => match raw.to_ascii_lowercase().as_str() {
                    "true" => toml::Value::Boolean(true),
                    "false" => toml::Value::Boolean(false),
                    _ => bail!("config key `{key}`: `{raw}` is not true or false"),
                },
                Some(toml::Value::String(_)) => toml::Value::String(raw),
                Some(_) => bail!("config key `{key}` cannot be set from a properties file"),
                None => bail!("unknown config key `{key}`"),
            };
            Ok((key, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase", deny_unknown_fields, default)]
    struct Sample {
        listen_port: u16,
        broker_name: String,
        auto_create: bool,
        ratio: f64,
        ip: String,
    }

    impl Default for Sample {
        fn default() -> Self {
            Sample {
                listen_port: 9876,
                broker_name: "b".into(),
                auto_create: true,
                ratio: 0.5,
                ip: String::new(),
            }
        }
    }

    /// A config file in a directory of its own, removed when the test drops it.
    struct File {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
    }

    fn write(name: &str, text: &str) -> File {
        let dir = tempfile::Builder::new()
            .prefix("apogee-cfg-")
            .tempdir()
            .unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        File { _dir: dir, path }
    }

    #[test]
    fn java_properties_are_typed_by_defaults() {
        let p = write(
            "a.conf",
            "# comment\nlistenPort = 10911\nbrokerName=123\nautoCreate=FALSE\nratio:0.25\nip=10.0.0.1\n",
        );
        let s: Sample = load(Some(&p.path), "TEST1").unwrap();
        assert_eq!(
            s,
            Sample {
                listen_port: 10911,
                broker_name: "123".into(),
                auto_create: false,
                ratio: 0.25,
                ip: "10.0.0.1".into(),
            }
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let p = write("b.toml", "listenPrt=1\n");
        let err = load::<Sample>(Some(&p.path), "TEST2")
            .unwrap_err()
            .to_string();
        assert!(err.contains("listenPrt"), "{err}");
        let p = write("b.conf", "listenPrt=1\nlistenPort=5\n");
        let s = load::<Sample>(Some(&p.path), "TEST2").unwrap();
        assert_eq!(s.listen_port, 5, "unknown Java keys are ignored");
        let p = write("b2.conf", "enableDLegerCommitLog=true\n");
        let err = load::<Sample>(Some(&p.path), "TEST2")
            .unwrap_err()
            .to_string();
        assert!(err.contains("enableDLegerCommitLog"), "{err}");
        let p = write("c.conf", "listenPort=abc\n");
        let err = load::<Sample>(Some(&p.path), "TEST3")
            .unwrap_err()
            .to_string();
        assert!(err.contains("listenPort"), "{err}");
    }

    #[test]
    fn a_shared_file_leaves_the_other_components_keys_alone() {
        let other = |k: &str| k.starts_with("controller");
        let p = write("e.conf", "listenPort=3\ncontrollerDLegerSelfId=n0\n");
        let s: Sample = load_sharing(Some(&p.path), "TEST6", other).unwrap();
        assert_eq!(s.listen_port, 3);
        let p = write(
            "e.toml",
            "listenPort = 4\ncontrollerDLegerSelfId = \"n0\"\nbogus = 1\n",
        );
        let err = load_sharing::<Sample>(Some(&p.path), "TEST6", other)
            .unwrap_err()
            .to_string();
        assert!(err.contains("bogus"), "{err}");
        let p = write(
            "f.toml",
            "listenPort = 4\ncontrollerDLegerSelfId = \"n0\"\nratio = 0.5\n",
        );
        let s: Sample = load_sharing(Some(&p.path), "TEST6", other).unwrap();
        assert_eq!(s.listen_port, 4);
        let raw = raw_pairs(&p.path).unwrap();
        assert_eq!(raw["controllerDLegerSelfId"], "n0");
        assert_eq!(raw["listenPort"], "4");
    }

    #[test]
    fn toml_files_work() {
        let p = write("d.toml", "listenPort = 1\nbrokerName = \"x\"\n");
        let s: Sample = load(Some(&p.path), "TEST4").unwrap();
        assert_eq!(s.listen_port, 1);
        assert_eq!(s.broker_name, "x");
    }

    #[test]
    fn env_overrides_apply() {
        std::env::set_var("APOGEE_TEST5_LISTEN_PORT", "77");
        let s: Sample = load(None, "TEST5").unwrap();
        assert_eq!(s.listen_port, 77);
    }
}
