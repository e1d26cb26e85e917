//! Settings whose value is one of a few names, read so that a wrong value is
//! answered with the valid ones.

use serde::Deserialize as _;

/// A setting whose value is one of a few names: every enum setting implements
/// it and reads its value through [`parse_choice`] (`choice_setting!` does the
/// wiring), so that a wrong value is answered with the valid ones. The
/// `config` crate's own answer names the Rust type instead ("enum LogFormat
/// does not have variant constructor xml").
pub trait Choice: Sized + Copy + 'static {
    /// Every value, in the order messages list them.
    const ALL: &'static [Self];

    /// The value's name, as written in the configuration.
    fn name(self) -> &'static str;
}

/// A value that is none of a [`Choice`]'s names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid value; valid values: {valid}")]
pub struct UnknownChoice {
    value: String,
    valid: String,
}

/// The value of `T` named `value`.
///
/// # Errors
/// [`UnknownChoice`], listing the valid names, when no value has that name.
pub fn parse_choice<T: Choice>(value: &str) -> Result<T, UnknownChoice> {
    T::ALL
        .iter()
        .copied()
        .find(|choice| choice.name() == value)
        .ok_or_else(|| UnknownChoice {
            value: value.to_owned(),
            valid: T::ALL
                .iter()
                .map(|choice| choice.name())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Reads and writes a [`Choice`] setting by its names: with
/// `#[serde(try_from = "String", into = "&'static str")]` on the type.
macro_rules! choice_setting {
    ($ty:ty) => {
        impl TryFrom<String> for $ty {
            type Error = UnknownChoice;

            fn try_from(value: String) -> Result<Self, UnknownChoice> {
                parse_choice(&value)
            }
        }

        impl From<$ty> for &'static str {
            fn from(value: $ty) -> Self {
                value.name()
            }
        }
    };
}

pub(crate) use choice_setting;

/// Reads one [`Choice`] value by its name, for a type defined elsewhere
/// whose own `Deserialize` would answer as `config` does.
///
/// # Errors
/// A name that is not valid, with the valid ones.
pub(crate) fn choice<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Choice,
{
    parse_choice(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
}

/// Writes a [`Choice`] value by its name.
///
/// # Errors
/// Only those of the serializer.
pub(crate) fn choice_name<S, T>(value: &T, serializer: S) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
    T: Choice,
{
    serializer.serialize_str(value.name())
}

/// Reads a list of [`Choice`] values by their names, for a type defined
/// elsewhere whose own `Deserialize` would answer as `config` does.
///
/// # Errors
/// The first name that is not valid, with the valid ones.
pub(crate) fn choice_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Choice,
{
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|name| parse_choice(name).map_err(serde::de::Error::custom))
        .collect()
}
