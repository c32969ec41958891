//! The `plain_acl.yml` model and its parser. A file that does not parse,
//! or has a field of the wrong kind, is refused with the field named, so a
//! broker never starts with a different ACL than the operator wrote.

use std::collections::HashMap;
use std::path::Path;

use protocol::signature::SigningKey;
use yaml_rust2::{Yaml, YamlLoader};

use super::address::AddrPattern;
use super::perm::Perm;

/// Group entries live under their retry topic, as Java keeps them.
pub const RETRY_PREFIX: &str = "%RETRY%";

/// One account of the file.
#[derive(Debug, Clone)]
pub struct Account {
    pub access_key: String,
    pub secret_key: String,
    pub admin: bool,
    pub white: AddrPattern,
    pub default_topic: Perm,
    pub default_group: Perm,
    /// Explicit topic perms (`topicPerms`).
    pub topics: HashMap<String, Perm>,
    /// Explicit group perms (`groupPerms`, and `topicPerms` entries naming
    /// a group's `%RETRY%` topic), by group name.
    pub groups: HashMap<String, Perm>,
    /// `secret_key`'s HMAC state, computed once per file load: checking a
    /// signature does not key the HMAC again.
    pub key: SigningKey,
}

/// What a permission is about: Java keeps groups under their retry topic,
/// `%RETRY%<group>`, so a topic of that name is the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    Topic(&'a str),
    Group(&'a str),
}

impl<'a> Resource<'a> {
    /// The resource a topic name stands for (a group for a retry topic).
    pub fn of_topic(name: &'a str) -> Resource<'a> {
        match name.strip_prefix(RETRY_PREFIX) {
            Some(group) => Resource::Group(group),
            None => Resource::Topic(name),
        }
    }
}

impl Account {
    /// What this account owns of `resource`: its explicit grant, else its
    /// default for topics or groups.
    pub fn perm(&self, resource: Resource<'_>) -> Perm {
        match resource {
            Resource::Topic(t) => self.topics.get(t).copied().unwrap_or(self.default_topic),
            Resource::Group(g) => self.groups.get(g).copied().unwrap_or(self.default_group),
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Default)]
pub struct PlainAcl {
    pub global_white: Vec<AddrPattern>,
    pub accounts: HashMap<String, Account>,
}

/// Why a file was refused.
#[derive(Debug, thiserror::Error)]
pub enum AclFileError {
    #[error("cannot read ACL file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("ACL file is not valid YAML: {0}")]
    Yaml(String),
    #[error("ACL file field {field}: {why}")]
    Field { field: String, why: String },
    /// One of several files is bad: which one, and why.
    #[error("{path}: {source}")]
    InFile {
        path: String,
        source: Box<AclFileError>,
    },
    /// Two files define one account.
    #[error("accessKey {access_key} is defined in two ACL files, {first} and {second}; each account must be in one file")]
    Duplicate {
        access_key: String,
        first: String,
        second: String,
    },
    #[error("no ACL file: {main} is missing and {dir} holds no *.yml file")]
    NoFile { main: String, dir: String },
}

fn field_err(field: impl Into<String>, why: impl Into<String>) -> AclFileError {
    AclFileError::Field {
        field: field.into(),
        why: why.into(),
    }
}

impl PlainAcl {
    /// Reads and parses `path`.
    ///
    /// # Errors
    /// [`AclFileError`] naming the file, line or field.
    pub fn load(path: &Path) -> Result<Self, AclFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| AclFileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Merges the ACLs of several files, as Java 4.9.x reads `plain_acl.yml`
    /// and every `*.yml` under `conf/acl/`: every global white address, every
    /// account. An account in two files is refused (naming both), since
    /// which definition should win is not something to guess.
    ///
    /// # Errors
    /// [`AclFileError::Duplicate`].
    pub fn merge<P: AsRef<Path>>(files: Vec<(P, PlainAcl)>) -> Result<Self, AclFileError> {
        let mut merged = PlainAcl::default();
        let mut origin: HashMap<String, String> = HashMap::new();
        for (path, acl) in files {
            let path = path.as_ref().display().to_string();
            merged.global_white.extend(acl.global_white);
            for (key, account) in acl.accounts {
                if let Some(first) = origin.get(&key) {
                    return Err(AclFileError::Duplicate {
                        access_key: key,
                        first: first.clone(),
                        second: path,
                    });
                }
                origin.insert(key.clone(), path.clone());
                merged.accounts.insert(key, account);
            }
        }
        Ok(merged)
    }

    /// Parses the text of a `plain_acl.yml`.
    ///
    /// # Errors
    /// [`AclFileError`] naming the line (YAML errors) or field.
    pub fn parse(text: &str) -> Result<Self, AclFileError> {
        let docs =
            YamlLoader::load_from_str(text).map_err(|e| AclFileError::Yaml(e.to_string()))?;
        let mut acl = PlainAcl::default();
        let Some(doc) = docs.into_iter().next() else {
            return Ok(acl);
        };
        if !matches!(doc, Yaml::Hash(_) | Yaml::Null) {
            return Err(field_err("<top level>", "must be a mapping"));
        }
        for (i, item) in list(
            &doc["globalWhiteRemoteAddresses"],
            "globalWhiteRemoteAddresses",
        )?
        .iter()
        .enumerate()
        {
            let field = format!("globalWhiteRemoteAddresses[{i}]");
            let text = scalar(item, &field)?.unwrap_or_default();
            acl.global_white
                .push(AddrPattern::parse(&text).map_err(|why| field_err(&field, why))?);
        }
        for (i, item) in list(&doc["accounts"], "accounts")?.iter().enumerate() {
            let account = parse_account(item, &format!("accounts[{i}]"))?;
            // Java keeps the first definition of a key.
            acl.accounts
                .entry(account.access_key.clone())
                .or_insert(account);
        }
        Ok(acl)
    }
}

fn parse_account(item: &Yaml, at: &str) -> Result<Account, AclFileError> {
    if !matches!(item, Yaml::Hash(_)) {
        return Err(field_err(at, "must be a mapping"));
    }
    let key = |name: &str| -> Result<String, AclFileError> {
        let field = format!("{at}.{name}");
        let value = scalar(&item[name], &field)?.unwrap_or_default();
        if value.chars().count() <= 6 {
            return Err(field_err(field, "must be longer than 6 characters"));
        }
        Ok(value)
    };
    let perm = |name: &str| -> Result<Perm, AclFileError> {
        let field = format!("{at}.{name}");
        match scalar(&item[name], &field)? {
            None => Ok(Perm::DENY),
            Some(text) => Perm::parse(&text).map_err(|why| field_err(field, why)),
        }
    };
    let white_field = format!("{at}.whiteRemoteAddress");
    let white = scalar(&item["whiteRemoteAddress"], &white_field)?.unwrap_or_default();
    let admin = match &item["admin"] {
        Yaml::Boolean(b) => *b,
        Yaml::BadValue | Yaml::Null => false,
        Yaml::String(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
            s.eq_ignore_ascii_case("true")
        }
        _ => return Err(field_err(format!("{at}.admin"), "must be true or false")),
    };
    let mut topics = HashMap::new();
    let mut groups = HashMap::new();
    for (list_name, is_group) in [("topicPerms", false), ("groupPerms", true)] {
        for (i, entry) in list(&item[list_name], &format!("{at}.{list_name}"))?
            .iter()
            .enumerate()
        {
            let field = format!("{at}.{list_name}[{i}]");
            let text = scalar(entry, &field)?.unwrap_or_default();
            let (name, perm) = text
                .split_once('=')
                .ok_or_else(|| field_err(&field, format!("'{text}' is not name=PERM")))?;
            let perm = Perm::parse(perm.trim()).map_err(|why| field_err(&field, why))?;
            let name = name.trim();
            match (is_group, Resource::of_topic(name)) {
                (true, _) => groups.insert(name.to_string(), perm),
                (false, Resource::Group(g)) => groups.insert(g.to_string(), perm),
                (false, Resource::Topic(t)) => topics.insert(t.to_string(), perm),
            };
        }
    }
    let secret_key = key("secretKey")?;
    Ok(Account {
        access_key: key("accessKey")?,
        key: SigningKey::new(&secret_key),
        secret_key,
        admin,
        white: AddrPattern::parse(&white).map_err(|why| field_err(white_field, why))?,
        default_topic: perm("defaultTopicPerm")?,
        default_group: perm("defaultGroupPerm")?,
        topics,
        groups,
    })
}

/// A list field; absent or null is empty.
fn list<'a>(value: &'a Yaml, field: &str) -> Result<&'a [Yaml], AclFileError> {
    match value {
        Yaml::Array(items) => Ok(items),
        Yaml::BadValue | Yaml::Null => Ok(&[]),
        _ => Err(field_err(field, "must be a list")),
    }
}

/// A scalar as text (YAML numbers included: sample files have
/// `secretKey: 12345678`); absent or null is `None`.
fn scalar(value: &Yaml, field: &str) -> Result<Option<String>, AclFileError> {
    match value {
        Yaml::String(s) | Yaml::Real(s) => Ok(Some(s.clone())),
        Yaml::Integer(n) => Ok(Some(n.to_string())),
        Yaml::Boolean(b) => Ok(Some(b.to_string())),
        Yaml::BadValue | Yaml::Null => Ok(None),
        _ => Err(field_err(field, "must be a single value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
globalWhiteRemoteAddresses:
  - 10.10.103.*
  - 192.168.0.*
accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - topicA=DENY
      - topicB=PUB|SUB
      - topicC=SUB
    groupPerms:
      - groupA=DENY
      - groupB=PUB|SUB
  - accessKey: rocketmq2
    secretKey: 12345678
    whiteRemoteAddress: 192.168.1.*
    admin: true
";

    #[test]
    fn the_upstream_sample_parses() {
        let acl = PlainAcl::parse(SAMPLE).unwrap();
        assert_eq!(acl.global_white.len(), 2);
        let a = &acl.accounts["RocketMQ"];
        assert_eq!(a.secret_key, "12345678");
        assert!(!a.admin);
        assert_eq!(a.default_group, Perm::SUB);
        assert_eq!(a.perm(Resource::Topic("topicB")), Perm::PUB_SUB);
        assert_eq!(a.perm(Resource::Topic("topicD")), Perm::DENY);
        assert_eq!(a.perm(Resource::Group("groupA")), Perm::DENY);
        assert_eq!(a.perm(Resource::Group("groupC")), Perm::SUB);
        assert_eq!(a.white, AddrPattern::Never);
        let b = &acl.accounts["rocketmq2"];
        assert!(b.admin);
        assert_eq!(b.default_topic, Perm::DENY);
    }

    #[test]
    fn bad_files_name_the_field_or_line() {
        let cases = [
            ("accounts:\n  - accessKey: short\n    secretKey: 12345678\n", "accounts[0].accessKey"),
            ("accounts:\n  - accessKey: RocketMQ\n    secretKey: 12345678\n    defaultTopicPerm: ALL\n", "accounts[0].defaultTopicPerm"),
            ("accounts:\n  - accessKey: RocketMQ\n    secretKey: 12345678\n    topicPerms: [t1]\n", "accounts[0].topicPerms[0]"),
            ("globalWhiteRemoteAddresses: [nonsense]\n", "globalWhiteRemoteAddresses[0]"),
            ("accounts: 5\n", "accounts"),
            ("accounts:\n  - accessKey: [x\n", "line"),
        ];
        for (text, named) in cases {
            let err = PlainAcl::parse(text).unwrap_err().to_string();
            assert!(err.contains(named), "{err} should name {named}");
        }
    }

    #[test]
    fn merging_keeps_every_account_and_refuses_one_in_two_files() {
        let a = PlainAcl::parse(
            "globalWhiteRemoteAddresses: [10.0.0.1]\naccounts:\n  - accessKey: account1\n    secretKey: secret-one\n",
        )
        .unwrap();
        let b = PlainAcl::parse(
            "globalWhiteRemoteAddresses: [10.0.0.2]\naccounts:\n  - accessKey: account2\n    secretKey: secret-two\n",
        )
        .unwrap();
        let merged = PlainAcl::merge(vec![("a.yml", a.clone()), ("b.yml", b)]).unwrap();
        assert_eq!(merged.global_white.len(), 2);
        assert!(merged.accounts.contains_key("account1"));
        assert!(merged.accounts.contains_key("account2"));
        let err = PlainAcl::merge(vec![("a.yml", a.clone()), ("c.yml", a)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("account1") && err.contains("a.yml") && err.contains("c.yml"),
            "{err}"
        );
    }
}
