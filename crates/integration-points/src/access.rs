//! Who may call the service (contract §6): the `[auth]` settings, and the
//! loopback rule that decides whether a service without keys may start.
//!
//! Keys are read as `{name, key, scopes}` tables, or, since containers have no
//! configuration file, as one JSON array in `APP__AUTH__KEYS`. A key is either
//! the secret itself, hashed as soon as it is read, or `sha256:<hex>` of it;
//! either way only the digest is kept, and only the digest is ever printed.

use std::fmt;
use std::net::IpAddr;

use api::{Access, ApiKey, KeyDigest, KeyError, KeyRing, Scope};
use serde::de::{self, SeqAccess, Visitor, value::SeqAccessDeserializer};
use serde::{Deserialize, Deserializer, Serialize};

use crate::choice::{Choice, choice_list};

/// The `[auth]` settings: who may call the API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "AuthTable", into = "AuthTable")]
pub struct AuthSettings {
    access: Access,
}

impl AuthSettings {
    /// Anyone without a key when no key is configured, else the keys.
    pub fn access(&self) -> &Access {
        &self.access
    }
}

/// Why the `[auth]` settings are invalid. No message repeats a key.
#[derive(Debug, thiserror::Error)]
pub enum AuthSettingsError {
    /// One key is invalid.
    #[error("auth.keys: key {name:?}: {error}")]
    Key {
        /// The key's name, as configured.
        name: String,
        /// What is wrong with it.
        error: KeyError,
    },
    /// The keys cannot be told apart.
    #[error("auth.keys: {0}")]
    Keys(KeyError),
}

/// The settings as written.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AuthTable {
    #[serde(default, deserialize_with = "list_or_json")]
    keys: Vec<KeyEntry>,
}

/// One key as written. Deliberately not `Debug`: `key` may be the secret.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    name: String,
    key: String,
    #[serde(deserialize_with = "choice_list")]
    scopes: Vec<Scope>,
}

impl Choice for Scope {
    const ALL: &'static [Self] = &Scope::ALL;

    fn name(self) -> &'static str {
        Scope::name(self)
    }
}

impl TryFrom<AuthTable> for AuthSettings {
    type Error = AuthSettingsError;

    fn try_from(table: AuthTable) -> Result<Self, Self::Error> {
        if table.keys.is_empty() {
            return Ok(Self {
                access: Access::Open,
            });
        }
        let keys = table
            .keys
            .into_iter()
            .map(|KeyEntry { name, key, scopes }| {
                KeyDigest::from_config(&key)
                    .and_then(|digest| ApiKey::new(name.clone(), digest, scopes))
                    .map_err(|error| AuthSettingsError::Key { name, error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ring = KeyRing::new(keys).map_err(AuthSettingsError::Keys)?;
        Ok(Self {
            access: Access::Keys(ring),
        })
    }
}

impl From<AuthSettings> for AuthTable {
    fn from(settings: AuthSettings) -> Self {
        let keys = match settings.access {
            Access::Open => vec![],
            Access::Keys(ring) => ring
                .keys()
                .iter()
                .map(|key| KeyEntry {
                    name: key.name().to_owned(),
                    key: key.digest().to_config(),
                    scopes: key.scopes().to_vec(),
                })
                .collect(),
        };
        Self { keys }
    }
}

/// Reads `keys` as a list of tables (configuration files) or as a string
/// holding that list in JSON (`APP__AUTH__KEYS`, since an environment
/// variable is only ever a string).
fn list_or_json<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<KeyEntry>, D::Error> {
    struct KeysVisitor;

    impl<'de> Visitor<'de> for KeysVisitor {
        type Value = Vec<KeyEntry>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of {name, key, scopes} tables, or that list as a JSON string")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Vec::deserialize(SeqAccessDeserializer::new(seq))
        }

        fn visit_str<E: de::Error>(self, json: &str) -> Result<Self::Value, E> {
            serde_json::from_str(json)
                .map_err(|error| E::custom(format!("not a JSON list of keys: {error}")))
        }
    }

    deserializer.deserialize_any(KeysVisitor)
}

/// A service without keys on an address other hosts can reach.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to serve on {host} without API keys: anyone who can reach it could read and \
     change every integration point. Configure auth.keys (or APP__AUTH__KEYS), or set \
     server.host to a loopback address such as 127.0.0.1"
)]
pub struct OpenOnNetworkError {
    host: String,
}

/// The loopback rule: a service without keys may start only on a loopback
/// address, and says in its log that it serves without authentication.
///
/// # Errors
/// [`OpenOnNetworkError`] for a service without keys on any other address.
pub fn check_exposure(host: &str, access: &Access) -> Result<(), OpenOnNetworkError> {
    match access {
        Access::Keys(_) => Ok(()),
        Access::Open if is_loopback(host) => {
            tracing::warn!(
                host,
                "no API keys are configured (auth.keys): serving WITHOUT authentication, \
                 which is allowed on a loopback address only"
            );
            Ok(())
        }
        Access::Open => Err(OpenOnNetworkError {
            host: host.to_owned(),
        }),
    }
}

/// Whether `host` is `localhost` or a loopback address (127.0.0.0/8, `::1`,
/// with or without brackets). Other names are not resolved: a name that
/// merely points at loopback today is not a promise.
pub fn is_loopback(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(host);
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

#[cfg(test)]
mod tests {
    use config::Environment;

    use super::*;
    use crate::configuration::Settings;

    const KEY: &str = "0123456789abcdef-test-key";

    fn env(vars: &[(&str, &str)]) -> Environment {
        crate::configuration::test_environment(vars)
    }

    fn load_toml(toml: &str) -> anyhow::Result<Settings> {
        let path = std::env::temp_dir().join(format!(
            "ip-auth-{}-{}.toml",
            std::process::id(),
            toml.len()
        ));
        std::fs::write(&path, toml)?;
        let settings = Settings::load_from(None, Some(&path), env(&[]));
        std::fs::remove_file(&path)?;
        settings
    }

    fn ring(settings: &Settings) -> &KeyRing {
        match settings.auth.access() {
            Access::Keys(ring) => ring,
            Access::Open => panic!("keys were configured"),
        }
    }

    #[test]
    fn without_keys_access_is_open() {
        let settings = Settings::load_from(None, None, env(&[])).expect("defaults load");
        assert_eq!(settings.auth.access(), &Access::Open);
    }

    #[test]
    fn keys_are_read_from_tables_in_either_form() {
        // Arrange
        let digest = KeyDigest::from_config(KEY).expect("valid").to_config();
        let other = KeyDigest::from_config("another-key-0123456789")
            .expect("valid")
            .to_config();
        let toml = format!(
            "[[auth.keys]]\nname = \"plain\"\nkey = \"{KEY}\"\nscopes = [\"read\"]\n\n\
             [[auth.keys]]\nname = \"hashed\"\nkey = \"{other}\"\nscopes = [\"read\", \"write\"]\n"
        );

        // Act
        let settings = load_toml(&toml).expect("loads");

        // Assert
        let keys = ring(&settings).keys();
        assert_eq!(keys[0].name(), "plain");
        assert_eq!(keys[0].digest().to_config(), digest);
        assert_eq!(keys[0].scopes(), [Scope::Read]);
        assert_eq!(keys[1].name(), "hashed");
        assert_eq!(keys[1].digest().to_config(), other);
        assert_eq!(keys[1].scopes(), [Scope::Read, Scope::Write]);
    }

    #[test]
    fn keys_are_read_from_a_json_environment_variable() {
        // Arrange
        let json = format!(r#"[{{"name": "ci", "key": "{KEY}", "scopes": ["write"]}}]"#);

        // Act
        let settings =
            Settings::load_from(None, None, env(&[("APP__AUTH__KEYS", &json)])).expect("loads");

        // Assert
        let keys = ring(&settings).keys();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].name(), "ci");
        assert_eq!(keys[0].scopes(), [Scope::Write]);
    }

    #[test]
    fn invalid_keys_are_configuration_errors_that_do_not_repeat_the_key() {
        let cases = [
            r#"[{"name": "short", "key": "tiny-secret", "scopes": ["read"]}]"#,
            r#"[{"name": "bad digest", "key": "sha256:tiny-secret", "scopes": ["read"]}]"#,
            r#"[{"name": "none", "key": "0123456789abcdef-tiny-secret", "scopes": []}]"#,
            r#"[{"name": "x", "key": "0123456789abcdef-tiny-secret", "scopes": ["admin"]}]"#,
            r#"[{"name": "x", "key": "0123456789abcdef-tiny-secret"}]"#,
            r#"[{"name": "a", "key": "0123456789abcdef-tiny-secret", "scopes": ["read"]},
                {"name": "b", "key": "0123456789abcdef-tiny-secret", "scopes": ["read"]}]"#,
            "not json tiny-secret",
        ];
        for json in cases {
            let error = Settings::load_from(None, None, env(&[("APP__AUTH__KEYS", json)]))
                .expect_err("rejected");
            let message = format!("{error:#}");
            assert!(message.contains("auth"), "{message}");
            assert!(!message.contains("tiny-secret"), "{message}");
        }
    }

    #[test]
    fn printed_settings_show_digests_never_keys() {
        // Arrange
        let json = format!(r#"[{{"name": "ci", "key": "{KEY}", "scopes": ["read"]}}]"#);
        let settings =
            Settings::load_from(None, None, env(&[("APP__AUTH__KEYS", &json)])).expect("loads");

        // Act
        let printed = settings.redacted_toml().expect("prints");

        // Assert
        assert!(!printed.contains(KEY), "{printed}");
        let digest = KeyDigest::from_config(KEY).expect("valid").to_config();
        assert!(printed.contains(&digest), "{printed}");
        let reread = load_toml(&printed).expect("the printed settings load back");
        assert_eq!(reread.auth, settings.auth);
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        for host in [
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "localhost",
            "LocalHost",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "0.0.0.0",
            "::",
            "[::]",
            "10.0.0.1",
            "example.org",
            "localhost.example",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn a_service_without_keys_may_serve_on_loopback_only() {
        assert!(check_exposure("127.0.0.1", &Access::Open).is_ok());
        let error = check_exposure("0.0.0.0", &Access::Open).expect_err("refused");
        assert!(
            error
                .to_string()
                .starts_with("refusing to serve on 0.0.0.0")
        );
    }

    #[test]
    fn a_service_with_keys_may_serve_anywhere() {
        let digest = KeyDigest::from_config(KEY).expect("valid");
        let key = ApiKey::new("k", digest, [Scope::Read]).expect("valid");
        let access = Access::Keys(KeyRing::new(vec![key]).expect("valid"));
        assert!(check_exposure("0.0.0.0", &access).is_ok());
    }
}
