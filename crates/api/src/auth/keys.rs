//! API keys and what they allow (contract §6).
//!
//! The service keeps only the SHA-256 digest of each key: a plain key in the
//! configuration is hashed as it is read, and a presented key is hashed before
//! it is compared, in constant time, with every configured digest. So neither
//! memory nor a timing side channel gives a key away, and a configuration file
//! may hold `sha256:<hex>` instead of the secret.

use std::fmt;

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// What a key allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Reading: `GET`, `HEAD`, `LOOKUP` and its alias `POST …/lookup`.
    Read,
    /// Writing: create, patch, delete and rotate_token.
    Write,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 2] = [Scope::Read, Scope::Write];

    /// The scope's name, as configured and as error messages write it.
    pub const fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a key, or a set of keys, cannot be configured. No message repeats a
/// key: configuration errors end up in logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A name that is empty, too long, or has characters unfit for a log line.
    #[error(
        "key names are 1 to {max} letters, digits, `.`, `_` or `-`, starting with a letter or digit",
        max = ApiKey::MAX_NAME_CHARS
    )]
    InvalidName,
    /// A plain key that is too short, too long, or has characters that a
    /// header cannot carry.
    #[error(
        "a key is `sha256:` and 64 hex digits, or the key itself: {min} to {max} visible ASCII \
         characters without spaces",
        min = KeyDigest::MIN_KEY_CHARS,
        max = KeyDigest::MAX_KEY_CHARS
    )]
    InvalidKey,
    /// `sha256:` followed by anything but 64 hex digits.
    #[error("`sha256:` must be followed by exactly 64 hex digits")]
    InvalidDigest,
    /// A key that allows nothing, which is surely a mistake.
    #[error("key `{name}` has no scopes; give it `read`, `write` or both")]
    NoScopes {
        /// The key's name.
        name: String,
    },
    /// Two keys with one name, which would make the logs ambiguous.
    #[error("two keys are named `{name}`")]
    DuplicateName {
        /// The name.
        name: String,
    },
    /// One key configured twice, whose scopes would be ambiguous.
    #[error("keys `{first}` and `{second}` are the same key")]
    DuplicateKey {
        /// The first key's name.
        first: String,
        /// The second key's name.
        second: String,
    },
    /// A key ring without keys: no access at all is not a configuration.
    #[error("a key ring needs at least one key")]
    Empty,
}

/// The SHA-256 digest of an API key: all the service keeps of it.
///
/// Equality is decided in constant time, and `Debug` does not show the
/// digest, which would allow an offline guess of a weak key.
#[derive(Clone, Copy)]
pub struct KeyDigest([u8; 32]);

impl KeyDigest {
    /// How a configured digest starts.
    pub const PREFIX: &'static str = "sha256:";
    /// The fewest characters a plain key may have: 16 random characters are
    /// about 95 bits from the visible ASCII alphabet.
    pub const MIN_KEY_CHARS: usize = 16;
    /// The most characters a plain key may have.
    pub const MAX_KEY_CHARS: usize = 512;

    /// Reads a key as configured: `sha256:<64 hex digits>`, or the key itself,
    /// which is hashed at once.
    ///
    /// # Errors
    /// [`KeyError::InvalidDigest`] or [`KeyError::InvalidKey`].
    pub fn from_config(value: &str) -> Result<Self, KeyError> {
        if let Some(hex_digits) = value.strip_prefix(Self::PREFIX) {
            let mut digest = [0; 32];
            return hex::decode_to_slice(hex_digits, &mut digest)
                .map(|()| Self(digest))
                .map_err(|_| KeyError::InvalidDigest);
        }
        let fits_a_header = value.bytes().all(|b| b.is_ascii_graphic());
        if !(Self::MIN_KEY_CHARS..=Self::MAX_KEY_CHARS).contains(&value.len()) || !fits_a_header {
            return Err(KeyError::InvalidKey);
        }
        Ok(Self::of_key(value.as_bytes()))
    }

    /// The digest of a key.
    pub fn of_key(key: &[u8]) -> Self {
        Self(Sha256::digest(key).into())
    }

    /// The configuration form, `sha256:<64 lowercase hex digits>`, which can
    /// be shown: it does not give the key away.
    pub fn to_config(self) -> String {
        format!("{}{}", Self::PREFIX, hex::encode(self.0))
    }
}

impl PartialEq for KeyDigest {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for KeyDigest {}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyDigest(<redacted>)")
    }
}

/// A configured API key: a name for the logs, the key's digest, and what it
/// allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    name: String,
    digest: KeyDigest,
    scopes: Vec<Scope>,
}

impl ApiKey {
    /// The most characters a key's name may have.
    pub const MAX_NAME_CHARS: usize = 64;

    /// A key named `name` (it goes into log lines, so it is restricted to
    /// letters, digits, `.`, `_` and `-`) allowing `scopes`.
    ///
    /// # Errors
    /// [`KeyError::InvalidName`], or [`KeyError::NoScopes`].
    pub fn new(
        name: impl Into<String>,
        digest: KeyDigest,
        scopes: impl IntoIterator<Item = Scope>,
    ) -> Result<Self, KeyError> {
        let name = name.into();
        let starts_well = name.starts_with(|c: char| c.is_ascii_alphanumeric());
        let valid_name = starts_well
            && name.len() <= Self::MAX_NAME_CHARS
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid_name {
            return Err(KeyError::InvalidName);
        }
        let mut scopes: Vec<Scope> = scopes.into_iter().collect();
        scopes.sort_by_key(|scope| scope.name());
        scopes.dedup();
        if scopes.is_empty() {
            return Err(KeyError::NoScopes { name });
        }
        Ok(Self {
            name,
            digest,
            scopes,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key's digest.
    pub fn digest(&self) -> KeyDigest {
        self.digest
    }

    /// What the key allows, each scope once.
    pub fn scopes(&self) -> &[Scope] {
        &self.scopes
    }

    /// Whether the key allows `scope`.
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// The keys the service accepts: at least one, with distinct names and keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRing(Vec<ApiKey>);

impl KeyRing {
    /// Checks that the keys can be told apart.
    ///
    /// # Errors
    /// [`KeyError::Empty`], [`KeyError::DuplicateName`] or [`KeyError::DuplicateKey`].
    pub fn new(keys: Vec<ApiKey>) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        for (at, key) in keys.iter().enumerate() {
            for earlier in &keys[..at] {
                if earlier.name == key.name {
                    return Err(KeyError::DuplicateName {
                        name: key.name.clone(),
                    });
                }
                if earlier.digest == key.digest {
                    return Err(KeyError::DuplicateKey {
                        first: earlier.name.clone(),
                        second: key.name.clone(),
                    });
                }
            }
        }
        Ok(Self(keys))
    }

    /// The keys, in configuration order.
    pub fn keys(&self) -> &[ApiKey] {
        &self.0
    }

    /// The key whose digest is the presented key's.
    ///
    /// Every configured digest is compared, in constant time, so the time
    /// taken tells nothing about how close a guess came.
    pub(crate) fn find(&self, presented: &[u8]) -> Option<&ApiKey> {
        let digest = KeyDigest::of_key(presented);
        self.0.iter().fold(None, |found, key| {
            if key.digest == digest {
                Some(key)
            } else {
                found
            }
        })
    }
}

/// Who may call the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a key. The binary allows it only on a loopback address.
    Open,
    /// Holders of a key of the ring, within the key's scopes.
    Keys(KeyRing),
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef-key";

    fn key(name: &str, secret: &str, scopes: &[Scope]) -> ApiKey {
        let digest = KeyDigest::from_config(secret).expect("a valid key");
        ApiKey::new(name, digest, scopes.iter().copied()).expect("a valid key")
    }

    #[test]
    fn a_plain_key_and_its_sha256_form_are_the_same_key() {
        // Arrange
        let plain = KeyDigest::from_config(KEY).expect("valid");

        // Act
        let hashed = KeyDigest::from_config(&plain.to_config()).expect("valid");

        // Assert
        assert_eq!(plain, hashed);
    }

    #[test]
    fn the_sha256_form_is_the_hex_digest_of_the_key() {
        // `printf %s correct-horse-battery-staple | sha256sum`
        let digest = KeyDigest::from_config("correct-horse-battery-staple").expect("valid");
        assert_eq!(
            digest.to_config(),
            "sha256:87cbebfeebc05f7c54ac9336c4b4bbec831227a641951a4bde7edd56020f8590"
        );
    }

    #[test]
    fn malformed_digests_are_rejected() {
        for bad in [
            "sha256:",
            "sha256:abc",
            &format!("sha256:{}", "g".repeat(64)),
        ] {
            assert_eq!(
                KeyDigest::from_config(bad),
                Err(KeyError::InvalidDigest),
                "{bad}"
            );
        }
    }

    #[test]
    fn plain_keys_must_be_long_enough_and_fit_a_header() {
        for bad in [
            "short",
            "sixteen chars ok",
            "tab\tinside-a-long-key",
            "ключ-ключ-ключ-ключ",
        ] {
            assert_eq!(
                KeyDigest::from_config(bad),
                Err(KeyError::InvalidKey),
                "{bad}"
            );
        }
        assert!(KeyDigest::from_config("sixteen-chars-ok").is_ok());
    }

    #[test]
    fn digests_never_show_in_debug_output() {
        let digest = KeyDigest::from_config(KEY).expect("valid");
        let hex = digest.to_config();
        assert!(!format!("{digest:?}").contains(&hex[7..]));
        assert!(!format!("{:?}", key("ops", KEY, &[Scope::Read])).contains(&hex[7..]));
    }

    #[test]
    fn names_are_restricted_to_what_a_log_line_can_carry() {
        let digest = KeyDigest::of_key(b"x");
        for bad in ["", "-lead", "with space", "new\nline", &"n".repeat(65)] {
            assert_eq!(
                ApiKey::new(bad, digest, [Scope::Read]),
                Err(KeyError::InvalidName),
                "{bad:?}"
            );
        }
        assert!(ApiKey::new("ci.deploy_bot-2", digest, [Scope::Read]).is_ok());
    }

    #[test]
    fn a_key_needs_a_scope_and_keeps_each_once() {
        let digest = KeyDigest::of_key(b"x");
        assert_eq!(
            ApiKey::new("k", digest, []),
            Err(KeyError::NoScopes { name: "k".into() })
        );
        let key =
            ApiKey::new("k", digest, [Scope::Write, Scope::Read, Scope::Write]).expect("valid");
        assert_eq!(key.scopes(), [Scope::Read, Scope::Write]);
    }

    #[test]
    fn a_ring_refuses_duplicate_names_and_keys() {
        let a = key("a", KEY, &[Scope::Read]);
        let same_name = key("a", "another-key-0123456", &[Scope::Read]);
        let same_key = key("b", KEY, &[Scope::Write]);
        assert_eq!(
            KeyRing::new(vec![a.clone(), same_name]),
            Err(KeyError::DuplicateName { name: "a".into() })
        );
        assert_eq!(
            KeyRing::new(vec![a, same_key]),
            Err(KeyError::DuplicateKey {
                first: "a".into(),
                second: "b".into()
            })
        );
        assert_eq!(KeyRing::new(vec![]), Err(KeyError::Empty));
    }

    #[test]
    fn a_ring_finds_the_key_presented() {
        let ring = KeyRing::new(vec![
            key("reader", KEY, &[Scope::Read]),
            key("writer", "another-key-0123456", &[Scope::Write]),
        ])
        .expect("valid");

        assert_eq!(
            ring.find(b"another-key-0123456").map(ApiKey::name),
            Some("writer")
        );
        assert_eq!(ring.find(KEY.as_bytes()).map(ApiKey::name), Some("reader"));
        assert_eq!(ring.find(b"0123456789abcdef-kez"), None);
    }
}
