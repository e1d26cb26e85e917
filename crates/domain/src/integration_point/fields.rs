//! The field table: every field of an integration point, declared once.
//!
//! `mask`, `order`, `flat` and the paths the API's documentation lists are
//! driven by this table. A new field still needs changes elsewhere too: the
//! domain struct and its patch, the filter's operand types, the entity, the
//! mapper, the change feed's trigger, the DTOs and their descriptions, and a
//! migration.

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

/// How a field's values are typed, which decides the operators it takes.
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

/// A field of an integration point, by its dotted path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// `id`
    Id,
    /// `code`
    Code,
    /// `type`
    Type,
    /// `token_local`
    TokenLocal,
    /// `token_remote`
    TokenRemote,
    /// `token_remote2`
    TokenRemote2,
    /// `url`
    Url,
    /// `recv_svcscriptcode`
    RecvSvcscriptcode,
    /// `recv_svcscriptcode_ws`
    RecvSvcscriptcodeWs,
    /// `send_svcscriptcode`
    SendSvcscriptcode,
    /// `send_svcscriptcode_ws`
    SendSvcscriptcodeWs,
    /// `opts.title`
    OptsTitle,
    /// `opts.comment`
    OptsComment,
    /// `opts.allow_files_api`
    OptsAllowFilesApi,
    /// `opts.issync`
    OptsIssync,
    /// `ext.ct`
    ExtCt,
    /// `ext.lwt`
    ExtLwt,
}

impl Field {
    /// Every field, in representation order.
    pub const ALL: [Field; 17] = [
        Field::Id,
        Field::Code,
        Field::Type,
        Field::TokenLocal,
        Field::TokenRemote,
        Field::TokenRemote2,
        Field::Url,
        Field::RecvSvcscriptcode,
        Field::RecvSvcscriptcodeWs,
        Field::SendSvcscriptcode,
        Field::SendSvcscriptcodeWs,
        Field::OptsTitle,
        Field::OptsComment,
        Field::OptsAllowFilesApi,
        Field::OptsIssync,
        Field::ExtCt,
        Field::ExtLwt,
    ];

    /// The dotted path, as clients write it in `mask`, `filter` and `order`.
    pub const fn path(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Code => "code",
            Field::Type => "type",
            Field::TokenLocal => "token_local",
            Field::TokenRemote => "token_remote",
            Field::TokenRemote2 => "token_remote2",
            Field::Url => "url",
            Field::RecvSvcscriptcode => "recv_svcscriptcode",
            Field::RecvSvcscriptcodeWs => "recv_svcscriptcode_ws",
            Field::SendSvcscriptcode => "send_svcscriptcode",
            Field::SendSvcscriptcodeWs => "send_svcscriptcode_ws",
            Field::OptsTitle => "opts.title",
            Field::OptsComment => "opts.comment",
            Field::OptsAllowFilesApi => "opts.allow_files_api",
            Field::OptsIssync => "opts.issync",
            Field::ExtCt => "ext.ct",
            Field::ExtLwt => "ext.lwt",
        }
    }

    /// The key inside its group (`title` for `opts.title`), or the path itself.
    pub fn key(self) -> &'static str {
        let path = self.path();
        path.split_once('.').map_or(path, |(_, key)| key)
    }

    /// The group the field belongs to, if it is a member of one.
    pub const fn group(self) -> Option<Group> {
        match self {
            Field::OptsTitle
            | Field::OptsComment
            | Field::OptsAllowFilesApi
            | Field::OptsIssync => Some(Group::Opts),
            Field::ExtCt | Field::ExtLwt => Some(Group::Ext),
            _ => None,
        }
    }

    /// How the field's values are typed.
    pub const fn kind(self) -> FieldKind {
        match self {
            Field::Id => FieldKind::Id,
            Field::OptsAllowFilesApi | Field::OptsIssync => FieldKind::Bool,
            Field::ExtCt | Field::ExtLwt => FieldKind::Timestamp,
            _ => FieldKind::Text,
        }
    }

    /// Whether no two points share a value of the field (the contract's
    /// uniqueness rules): an order needs nothing after such a key.
    pub const fn is_unique(self) -> bool {
        match self {
            Field::Id | Field::Code | Field::TokenLocal => true,
            Field::Type
            | Field::TokenRemote
            | Field::TokenRemote2
            | Field::Url
            | Field::RecvSvcscriptcode
            | Field::RecvSvcscriptcodeWs
            | Field::SendSvcscriptcode
            | Field::SendSvcscriptcodeWs
            | Field::OptsTitle
            | Field::OptsComment
            | Field::OptsAllowFilesApi
            | Field::OptsIssync
            | Field::ExtCt
            | Field::ExtLwt => false,
        }
    }

    /// Looks a field up by its dotted path.
    pub fn from_path(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.path() == path)
    }

    /// Every path, comma-separated, for messages that list the valid ones.
    pub fn all_paths() -> String {
        Self::ALL.map(Field::path).join(", ")
    }

    /// A one-line description, for the API documentation.
    pub const fn description(self) -> &'static str {
        match self {
            Field::Id => "Identifier, a UUID (new UUIDv7 unless given on create).",
            Field::Code => {
                "Unique, case-sensitive code: 1 to 128 characters, no control characters, no leading or trailing whitespace."
            }
            Field::Type => {
                "Kind of the outside system, `^[a-z][a-z0-9_]{0,31}$`, default `public`."
            }
            Field::TokenLocal => {
                "Secret with which the outside system calls the platform: 32 lowercase hex digits, generated unless given on create; changed only by rotate_token."
            }
            Field::TokenRemote => {
                "Secret with which the platform calls the outside system (at most 4096 characters)."
            }
            Field::TokenRemote2 => "Second remote secret (at most 4096 characters).",
            Field::Url => {
                "Empty, or the absolute http/https URL of the outside system (at most 2048 characters)."
            }
            Field::RecvSvcscriptcode => {
                "Service script that receives messages (at most 255 characters)."
            }
            Field::RecvSvcscriptcodeWs => {
                "Service script that receives messages over WebSocket (at most 255 characters)."
            }
            Field::SendSvcscriptcode => {
                "Service script that sends messages (at most 255 characters)."
            }
            Field::SendSvcscriptcodeWs => {
                "Service script that sends messages over WebSocket (at most 255 characters)."
            }
            Field::OptsTitle => "Human title (at most 255 characters).",
            Field::OptsComment => "Free-form comment (at most 4096 characters).",
            Field::OptsAllowFilesApi => "Whether the files API is allowed.",
            Field::OptsIssync => "Whether the point works synchronously.",
            Field::ExtCt => "Creation time, RFC 3339 UTC with milliseconds; read-only.",
            Field::ExtLwt => "Last write time, RFC 3339 UTC with milliseconds; read-only.",
        }
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
        let opts: Vec<_> = Group::Opts.fields().map(Field::key).collect();
        assert_eq!(opts, ["title", "comment", "allow_files_api", "issync"]);
    }

    #[test]
    fn kinds_match_the_contract() {
        assert_eq!(Field::Id.kind(), FieldKind::Id);
        assert_eq!(Field::OptsIssync.kind(), FieldKind::Bool);
        assert_eq!(Field::ExtCt.kind(), FieldKind::Timestamp);
        assert_eq!(Field::Url.kind(), FieldKind::Text);
    }
}
