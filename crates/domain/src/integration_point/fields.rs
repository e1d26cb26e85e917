//! The field table: every field of an integration point, declared once.
//!
//! Each entry of [`field_table!`] below states everything the service knows
//! about one field: its path, group and kind, the limits of its values, its
//! default on create, who may set it, whether it is unique, and its
//! description. The rest is read from here: the value types' limits
//! (`values.rs`), `mask`, `order`, `flat` and the filter's operators and
//! operand types (`query.rs`), the SQL column map (infrastructure), and the
//! OpenAPI schemas' descriptions and constraints (api).
//!
//! What cannot be read from a table (a struct member, a column, a serde
//! field) is named by the compiler instead: every `match` over [`Field`] and
//! [`FieldKind`] is exhaustive, and the conversions destructure without `..`.
//! The migration is a frozen record and the change feed's trigger lists its
//! columns; the end-to-end walk over [`Field::ALL`] fails with the field's
//! path when a layer misses one.

use std::sync::LazyLock;

/// The composite fields whose members are written `group.key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// Client options: `opts.title`, `opts.comment`, `opts.allow_files_api`, `opts.issync`.
    Opts,
    /// Server-kept timestamps: `ext.ct`, `ext.lwt`.
    Ext,
}

impl Group {
    /// Every group, in representation order.
    pub const ALL: [Group; 2] = [Group::Opts, Group::Ext];

    /// The group's key in the representation.
    pub const fn name(self) -> &'static str {
        match self {
            Group::Opts => "opts",
            Group::Ext => "ext",
        }
    }

    /// Looks a group up by its key.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.name() == name)
    }

    /// The fields of the group, in representation order.
    pub fn fields(self) -> impl Iterator<Item = Field> {
        Field::ALL
            .into_iter()
            .filter(move |f| f.group() == Some(self))
    }
}

/// How a field's values are typed, which decides the operators it takes, the
/// JSON type of its filter operands and its schema in the API's document.
/// A closed set: every layer matches on it without a catch-all, so a new
/// kind is named by the compiler wherever it needs a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// A point id: compared as a UUID.
    Id,
    /// Text: compared by code point, matched with `like`/`ilike`.
    Text,
    /// A boolean: equality only.
    Bool,
    /// An instant: compared and sorted in time.
    Timestamp,
}

impl FieldKind {
    /// How the kind is named to a client who sent a value of the wrong type.
    pub const fn expected(self) -> &'static str {
        match self {
            FieldKind::Id => "a UUID string",
            FieldKind::Text => "a string",
            FieldKind::Bool => "a boolean",
            FieldKind::Timestamp => "an RFC 3339 timestamp string",
        }
    }
}

/// Who sets a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// The client, on create and on patch.
    Client,
    /// The server generates it unless the client gives one on create (an
    /// import keeps its own); a patch may only send it back unchanged.
    CreateOnly,
    /// The server alone; a create may not send it, a patch only unchanged.
    ServerOnly,
}

/// What a field holds when a create leaves it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldDefault {
    /// Nothing: a create must send it.
    Required,
    /// A value the server makes (a new id, token or instant).
    Generated,
    /// This text.
    Text(&'static str),
    /// This boolean.
    Bool(bool),
}

/// Everything the service knows about one field. Built with the `const`
/// methods below, one entry per field in [`field_table!`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    path: &'static str,
    group: Option<Group>,
    kind: FieldKind,
    min_chars: usize,
    max_chars: Option<usize>,
    pattern: Option<&'static str>,
    default: FieldDefault,
    access: Access,
    unique: bool,
    description: &'static str,
}

impl FieldSpec {
    /// A field of `kind` at `path`, set by the client, empty (or `false`) by
    /// default, with no limits and no description yet.
    const fn new(path: &'static str, group: Option<Group>, kind: FieldKind) -> Self {
        Self {
            path,
            group,
            kind,
            min_chars: 0,
            max_chars: None,
            pattern: None,
            default: match kind {
                FieldKind::Text => FieldDefault::Text(""),
                FieldKind::Bool => FieldDefault::Bool(false),
                FieldKind::Id | FieldKind::Timestamp => FieldDefault::Generated,
            },
            access: Access::Client,
            unique: false,
            description: "",
        }
    }

    /// Between `min` and `max` characters (Unicode scalar values).
    const fn chars(self, min: usize, max: usize) -> Self {
        Self {
            min_chars: min,
            max_chars: Some(max),
            ..self
        }
    }

    /// Every value matches `pattern`, as the contract writes it.
    const fn pattern(self, pattern: &'static str) -> Self {
        Self {
            pattern: Some(pattern),
            ..self
        }
    }

    /// The value a create that leaves the field out gets.
    const fn default(self, default: FieldDefault) -> Self {
        Self { default, ..self }
    }

    /// Who sets the field.
    const fn access(self, access: Access) -> Self {
        Self { access, ..self }
    }

    /// No two points share a value.
    const fn unique(self) -> Self {
        Self {
            unique: true,
            ..self
        }
    }

    /// The description; `{min}`, `{max}`, `{pattern}` and `{default}` stand
    /// for the field's own limits, so each is stated once.
    const fn describe(self, description: &'static str) -> Self {
        Self {
            description,
            ..self
        }
    }
}

/// Declares [`Field`], [`Field::ALL`] and each field's [`FieldSpec`] from one
/// list, so that a field cannot be declared without its entry.
macro_rules! field_table {
    ($($(#[$doc:meta])* $variant:ident = $spec:expr;)*) => {
        /// A field of an integration point, by its dotted path.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Field {
            $($(#[$doc])* $variant,)*
        }

        impl Field {
            /// Every field, in representation order.
            pub const ALL: [Field; [$(Field::$variant),*].len()] = [$(Field::$variant),*];

            /// Everything the table says of the field.
            pub const fn spec(self) -> &'static FieldSpec {
                match self {
                    $(Field::$variant => {
                        const SPEC: FieldSpec = $spec;
                        &SPEC
                    })*
                }
            }
        }
    };
}

use Access::{CreateOnly, ServerOnly};
use FieldKind::{Bool, Id, Text, Timestamp};

const OPTS: Option<Group> = Some(Group::Opts);
const EXT: Option<Group> = Some(Group::Ext);

field_table! {
    /// `id`
    Id = FieldSpec::new("id", None, Id)
        .access(CreateOnly)
        .unique()
        .describe("Identifier, a UUID (new UUIDv7 unless given on create).");
    /// `code`
    Code = FieldSpec::new("code", None, Text)
        .chars(1, 128)
        .default(FieldDefault::Required)
        .unique()
        .describe(
            "Unique, case-sensitive code: {min} to {max} characters, no control characters, \
             no leading or trailing whitespace.",
        );
    /// `type`
    Type = FieldSpec::new("type", None, Text)
        .chars(1, 32)
        .pattern("^[a-z][a-z0-9_]{0,31}$")
        .default(FieldDefault::Text("public"))
        .describe("Kind of the outside system, `{pattern}`, default `{default}`.");
    /// `token_local`
    TokenLocal = FieldSpec::new("token_local", None, Text)
        .chars(32, 32)
        .pattern("^[0-9a-f]{32}$")
        .default(FieldDefault::Generated)
        .access(CreateOnly)
        .unique()
        .describe(
            "Secret with which the outside system calls the platform: {max} lowercase hex \
             digits, generated unless given on create; changed only by rotate_token.",
        );
    /// `token_remote`
    TokenRemote = FieldSpec::new("token_remote", None, Text)
        .chars(0, 4096)
        .describe(
            "Secret with which the platform calls the outside system (at most {max} characters).",
        );
    /// `token_remote2`
    TokenRemote2 = FieldSpec::new("token_remote2", None, Text)
        .chars(0, 4096)
        .describe("Second remote secret (at most {max} characters).");
    /// `url`
    Url = FieldSpec::new("url", None, Text)
        .chars(0, 2048)
        .describe(
            "Empty, or the absolute http/https URL of the outside system (at most {max} characters).",
        );
    /// `recv_svcscriptcode`
    RecvSvcscriptcode = FieldSpec::new("recv_svcscriptcode", None, Text)
        .chars(0, 255)
        .describe("Service script that receives messages (at most {max} characters).");
    /// `recv_svcscriptcode_ws`
    RecvSvcscriptcodeWs = FieldSpec::new("recv_svcscriptcode_ws", None, Text)
        .chars(0, 255)
        .describe(
            "Service script that receives messages over WebSocket (at most {max} characters).",
        );
    /// `send_svcscriptcode`
    SendSvcscriptcode = FieldSpec::new("send_svcscriptcode", None, Text)
        .chars(0, 255)
        .describe("Service script that sends messages (at most {max} characters).");
    /// `send_svcscriptcode_ws`
    SendSvcscriptcodeWs = FieldSpec::new("send_svcscriptcode_ws", None, Text)
        .chars(0, 255)
        .describe("Service script that sends messages over WebSocket (at most {max} characters).");
    /// `opts.title`
    OptsTitle = FieldSpec::new("opts.title", OPTS, Text)
        .chars(0, 255)
        .describe("Human title (at most {max} characters).");
    /// `opts.comment`
    OptsComment = FieldSpec::new("opts.comment", OPTS, Text)
        .chars(0, 4096)
        .describe("Free-form comment (at most {max} characters).");
    /// `opts.allow_files_api`
    OptsAllowFilesApi = FieldSpec::new("opts.allow_files_api", OPTS, Bool)
        .describe("Whether the files API is allowed.");
    /// `opts.issync`
    OptsIssync = FieldSpec::new("opts.issync", OPTS, Bool)
        .describe("Whether the point works synchronously.");
    /// `ext.ct`
    ExtCt = FieldSpec::new("ext.ct", EXT, Timestamp)
        .access(ServerOnly)
        .describe("Creation time, RFC 3339 UTC with milliseconds; read-only.");
    /// `ext.lwt`
    ExtLwt = FieldSpec::new("ext.lwt", EXT, Timestamp)
        .access(ServerOnly)
        .describe("Last write time, RFC 3339 UTC with milliseconds; read-only.");
}

/// The descriptions with their placeholders filled in, in [`Field::ALL`] order.
static DESCRIPTIONS: LazyLock<Vec<String>> = LazyLock::new(|| {
    Field::ALL
        .iter()
        .map(|field| {
            let spec = field.spec();
            let default = match spec.default {
                FieldDefault::Text(text) => text.to_owned(),
                FieldDefault::Bool(value) => value.to_string(),
                FieldDefault::Required | FieldDefault::Generated => String::new(),
            };
            spec.description
                .replace("{min}", &spec.min_chars.to_string())
                .replace("{max}", &spec.max_chars.unwrap_or(0).to_string())
                .replace("{pattern}", spec.pattern.unwrap_or_default())
                .replace("{default}", &default)
        })
        .collect()
});

impl Field {
    /// The dotted path, as clients write it in `mask`, `filter` and `order`.
    pub const fn path(self) -> &'static str {
        self.spec().path
    }

    /// The key inside its group (`title` for `opts.title`), or the path itself.
    pub fn key(self) -> &'static str {
        let path = self.path();
        path.split_once('.').map_or(path, |(_, key)| key)
    }

    /// The group the field belongs to, if it is a member of one.
    pub const fn group(self) -> Option<Group> {
        self.spec().group
    }

    /// How the field's values are typed.
    pub const fn kind(self) -> FieldKind {
        self.spec().kind
    }

    /// Whether no two points share a value of the field (the contract's
    /// uniqueness rules): an order needs nothing after such a key.
    pub const fn is_unique(self) -> bool {
        self.spec().unique
    }

    /// Who sets the field's value.
    pub const fn access(self) -> Access {
        self.spec().access
    }

    /// What a create that leaves the field out gets.
    pub const fn default_value(self) -> FieldDefault {
        self.spec().default
    }

    /// The fewest characters a text value may have (0 for other kinds).
    pub const fn min_chars(self) -> usize {
        self.spec().min_chars
    }

    /// The most characters a text value may have, if it is bounded.
    pub const fn max_chars(self) -> Option<usize> {
        self.spec().max_chars
    }

    /// The pattern every value matches, as the contract writes it.
    pub const fn pattern(self) -> Option<&'static str> {
        self.spec().pattern
    }

    /// Looks a field up by its dotted path.
    pub fn from_path(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.path() == path)
    }

    /// Every path, comma-separated, for messages that list the valid ones.
    pub fn all_paths() -> String {
        Self::ALL.map(Field::path).join(", ")
    }

    /// A one-line description, for the API documentation, with the field's
    /// limits written in.
    pub fn description(self) -> &'static str {
        DESCRIPTIONS.get(self as usize).map_or("", String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_resolves_to_its_field() {
        for field in Field::ALL {
            assert_eq!(
                Field::from_path(field.path()),
                Some(field),
                "{}",
                field.path()
            );
        }
    }

    #[test]
    fn the_source_documents_prose_spellings_are_not_paths() {
        for prose in ["tokenlocal", "tokenremote", "tokenremote2", "opts", "title"] {
            assert_eq!(Field::from_path(prose), None, "{prose}");
        }
    }

    #[test]
    fn grouped_fields_have_dotted_paths_and_bare_keys() {
        assert_eq!(Field::OptsTitle.key(), "title");
        assert_eq!(Field::ExtLwt.key(), "lwt");
        assert_eq!(Field::Code.key(), "code");
        for group in Group::ALL {
            for field in group.fields() {
                assert_eq!(
                    format!("{}.{}", group.name(), field.key()),
                    field.path(),
                    "{}",
                    field.path()
                );
            }
        }
    }

    #[test]
    fn a_fields_group_is_the_prefix_of_its_path() {
        for field in Field::ALL {
            let prefix = field.path().split_once('.').map(|(group, _)| group);
            assert_eq!(prefix, field.group().map(Group::name), "{}", field.path());
        }
    }

    #[test]
    fn kinds_match_the_contract() {
        assert_eq!(Field::Id.kind(), FieldKind::Id);
        assert_eq!(Field::OptsIssync.kind(), FieldKind::Bool);
        assert_eq!(Field::ExtCt.kind(), FieldKind::Timestamp);
        assert_eq!(Field::Url.kind(), FieldKind::Text);
    }

    #[test]
    fn descriptions_state_the_fields_own_limits_and_no_placeholder() {
        for field in Field::ALL {
            let description = field.description();
            assert!(!description.is_empty(), "{}", field.path());
            for placeholder in ["{min}", "{max}", "{pattern}", "{default}"] {
                assert!(
                    !description.contains(placeholder),
                    "{}: {description}",
                    field.path()
                );
            }
            if let Some(max) = field.max_chars() {
                let stated = description.contains(&max.to_string())
                    || field.pattern().is_some_and(|p| description.contains(p));
                assert!(stated, "{}: {description}", field.path());
            }
        }
        assert_eq!(
            Field::Type.description(),
            "Kind of the outside system, `^[a-z][a-z0-9_]{0,31}$`, default `public`."
        );
    }

    #[test]
    fn limits_belong_to_text_fields_only() {
        for field in Field::ALL {
            let bounded = field.max_chars().is_some() || field.pattern().is_some();
            match field.kind() {
                FieldKind::Text => assert!(field.max_chars().is_some(), "{}", field.path()),
                FieldKind::Id | FieldKind::Bool | FieldKind::Timestamp => {
                    assert!(!bounded, "{}", field.path());
                }
            }
            assert!(
                field.max_chars().is_none_or(|max| field.min_chars() <= max),
                "{}",
                field.path()
            );
        }
    }

    #[test]
    fn server_only_fields_are_generated() {
        for field in Field::ALL {
            if field.access() == Access::ServerOnly || field.access() == Access::CreateOnly {
                assert_eq!(
                    field.default_value(),
                    FieldDefault::Generated,
                    "{}",
                    field.path()
                );
            }
        }
    }
}
