//! `deny_unknown_fields` for configs that flatten [`crate::ServerKeys`]:
//! serde does not support that attribute together with `flatten`, so such a
//! config ends with a flattened [`NoOtherKeys`] field instead. Flattened
//! fields are filled in declaration order and each takes its own keys, so
//! the last one sees exactly the keys no field wanted, and refuses them.
//! (A flattened struct takes its keys only when it has no `flatten` field
//! of its own: serde reads such a struct as a map, which takes nothing.)

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Refuses, by name, any key left over when it is deserialized; writes
/// nothing. Declare it as the last field, with `#[serde(flatten)]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoOtherKeys;

impl<'de> Deserialize<'de> for NoOtherKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(Refuse)
    }
}

struct Refuse;

impl<'de> Visitor<'de> for Refuse {
    type Value = NoOtherKeys;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no keys besides the known ones")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NoOtherKeys, A::Error> {
        match map.next_key::<String>()? {
            Some(key) => {
                map.next_value::<IgnoredAny>()?;
                Err(de::Error::custom(format_args!("unknown field `{key}`")))
            }
            None => Ok(NoOtherKeys),
        }
    }
}

impl Serialize for NoOtherKeys {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(std::iter::empty::<(&str, &str)>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerKeys;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    struct Role {
        listen_port: u16,
        #[serde(flatten)]
        server: ServerKeys,
        #[serde(flatten)]
        no_other_keys: NoOtherKeys,
    }

    #[test]
    fn known_keys_load_at_every_level_and_others_are_named() {
        let role: Role = serde_json::from_str(
            r#"{"listenPort":1,"serverMaxConnections":7,"tls.server.mode":"enforcing"}"#,
        )
        .unwrap();
        assert_eq!(role.listen_port, 1);
        assert_eq!(role.server.server_max_connections, 7);
        assert_eq!(role.server.tls_server_mode, "enforcing");
        let err = serde_json::from_str::<Role>(r#"{"listenPort":1,"bogusKey":2}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `bogusKey`"),
            "{err}"
        );
    }

    #[test]
    fn the_keys_are_written_flat_and_read_back() {
        let role = Role::default();
        let value = serde_json::to_value(&role).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert!(keys.contains(&"listenPort"), "{keys:?}");
        assert!(keys.contains(&"serverMaxConnections"), "{keys:?}");
        assert!(keys.contains(&"tls.server.need.client.auth"), "{keys:?}");
        assert_eq!(keys.len(), 1 + 7 + 6, "{keys:?}");
        assert_eq!(serde_json::from_value::<Role>(value).unwrap(), role);
    }
}
