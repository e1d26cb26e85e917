//! The integration point entity and the commands that create and change it.

use super::fields::Field;
use super::values::{
    Code, Comment, FieldError, PointId, PointType, ScriptCode, SearchText, Timestamp, Title,
    TokenLocal, TokenRemote, Url, Version,
};
use crate::text::{TextError, reject_nul};

/// Client options of a point.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Opts {
    /// Human title.
    pub title: Title,
    /// Free-form comment.
    pub comment: Comment,
    /// Whether the files API is allowed.
    pub allow_files_api: bool,
    /// Whether the point works synchronously.
    pub issync: bool,
}

/// Everything about a point that a client chooses. Each member is already
/// valid, and there is no rule between members, so the fields are public.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    /// Unique code.
    pub code: Code,
    /// Kind of the outside system.
    pub kind: PointType,
    /// Secret for calling the outside system.
    pub token_remote: TokenRemote,
    /// Second secret for calling the outside system.
    pub token_remote2: TokenRemote,
    /// Where the outside system is reached.
    pub url: Url,
    /// Service script receiving messages.
    pub recv_svcscriptcode: ScriptCode,
    /// Service script receiving messages over WebSocket.
    pub recv_svcscriptcode_ws: ScriptCode,
    /// Service script sending messages.
    pub send_svcscriptcode: ScriptCode,
    /// Service script sending messages over WebSocket.
    pub send_svcscriptcode_ws: ScriptCode,
    /// Client options.
    pub opts: Opts,
}

impl Attributes {
    /// A point's attributes with every optional field at its default.
    pub fn new(code: Code) -> Self {
        Self {
            code,
            kind: PointType::default(),
            token_remote: TokenRemote::default(),
            token_remote2: TokenRemote::default(),
            url: Url::default(),
            recv_svcscriptcode: ScriptCode::default(),
            recv_svcscriptcode_ws: ScriptCode::default(),
            send_svcscriptcode: ScriptCode::default(),
            send_svcscriptcode_ws: ScriptCode::default(),
            opts: Opts::default(),
        }
    }
}

/// What a strong entity tag is made of: the version moves on every write, and
/// the creation time tells apart two lives of one id (deleted, then created
/// again), whose versions would otherwise coincide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Revision {
    /// When the point was created.
    pub created_at: Timestamp,
    /// How many times it has been written.
    pub version: Version,
}

/// The precondition of a conditional write (`If-Match`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: the point must exist, whatever its revision.
    Any,
    /// The point's current revision must be one of these.
    OneOf(Vec<Revision>),
}

impl IfMatch {
    /// Whether a point at `revision` satisfies the precondition.
    pub fn is_met_by(&self, revision: Revision) -> bool {
        match self {
            IfMatch::Any => true,
            IfMatch::OneOf(revisions) => revisions.contains(&revision),
        }
    }
}

/// An integration point. Every value in it has passed its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationPoint {
    id: PointId,
    token_local: TokenLocal,
    attributes: Attributes,
    created_at: Timestamp,
    updated_at: Timestamp,
    version: Version,
}

impl IntegrationPoint {
    /// Assembles a point from valid parts: a new one, or one read back from storage.
    pub fn new(
        id: PointId,
        token_local: TokenLocal,
        attributes: Attributes,
        created_at: Timestamp,
        updated_at: Timestamp,
        version: Version,
    ) -> Self {
        Self {
            id,
            token_local,
            attributes,
            created_at,
            updated_at,
            version,
        }
    }

    /// The id.
    pub fn id(&self) -> PointId {
        self.id
    }

    /// The local token.
    pub fn token_local(&self) -> &TokenLocal {
        &self.token_local
    }

    /// The client-chosen attributes.
    pub fn attributes(&self) -> &Attributes {
        &self.attributes
    }

    /// Creation time (`ext.ct`).
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// Last write time (`ext.lwt`).
    pub fn updated_at(&self) -> Timestamp {
        self.updated_at
    }

    /// The write counter.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The value of one field, borrowed: the field table's view of a point.
    pub fn get(&self, field: Field) -> FieldRef<'_> {
        let a = &self.attributes;
        match field {
            Field::Id => FieldRef::Id(self.id),
            Field::Code => FieldRef::Text(a.code.as_str()),
            Field::Type => FieldRef::Text(a.kind.as_str()),
            Field::TokenLocal => FieldRef::Text(self.token_local.as_str()),
            Field::TokenRemote => FieldRef::Text(a.token_remote.as_str()),
            Field::TokenRemote2 => FieldRef::Text(a.token_remote2.as_str()),
            Field::Url => FieldRef::Text(a.url.as_str()),
            Field::RecvSvcscriptcode => FieldRef::Text(a.recv_svcscriptcode.as_str()),
            Field::RecvSvcscriptcodeWs => FieldRef::Text(a.recv_svcscriptcode_ws.as_str()),
            Field::SendSvcscriptcode => FieldRef::Text(a.send_svcscriptcode.as_str()),
            Field::SendSvcscriptcodeWs => FieldRef::Text(a.send_svcscriptcode_ws.as_str()),
            Field::OptsTitle => FieldRef::Text(a.opts.title.as_str()),
            Field::OptsComment => FieldRef::Text(a.opts.comment.as_str()),
            Field::OptsAllowFilesApi => FieldRef::Bool(a.opts.allow_files_api),
            Field::OptsIssync => FieldRef::Bool(a.opts.issync),
            Field::ExtCt => FieldRef::Timestamp(self.created_at),
            Field::ExtLwt => FieldRef::Timestamp(self.updated_at),
        }
    }

    /// What an entity tag of this point is made of.
    pub fn revision(&self) -> Revision {
        Revision {
            created_at: self.created_at,
            version: self.version,
        }
    }

    /// Applies a patch with merge semantics.
    ///
    /// Returns `Ok(None)` when the patch changes nothing (so neither the version
    /// nor `lwt` move), else the point as it is to be stored, one version on.
    ///
    /// # Errors
    /// [`PatchRejected`] when the patch tries to change `id`, `token_local` or
    /// `ext`, which may only be sent back with their current values.
    pub fn patched(
        &self,
        patch: &PatchPointRequest,
        now: Timestamp,
    ) -> Result<Option<Self>, PatchRejected> {
        // Spelled out without `..`: a field added to the patch that is not
        // applied here does not compile.
        let PatchPointRequest {
            id,
            token_local,
            created_at,
            updated_at,
            code,
            kind,
            token_remote,
            token_remote2,
            url,
            recv_svcscriptcode,
            recv_svcscriptcode_ws,
            send_svcscriptcode,
            send_svcscriptcode_ws,
            title,
            comment,
            allow_files_api,
            issync,
        } = patch;
        let read_only_values_kept = [
            (Field::Id, id.is_none_or(|id| id == self.id)),
            (
                Field::TokenLocal,
                token_local.as_ref().is_none_or(|t| *t == self.token_local),
            ),
            (
                Field::ExtCt,
                created_at.is_none_or(|t| t == self.created_at),
            ),
            (
                Field::ExtLwt,
                updated_at.is_none_or(|t| t == self.updated_at),
            ),
        ];
        if let Some((field, _)) = read_only_values_kept.iter().find(|(_, kept)| !kept) {
            return Err(PatchRejected { field: *field });
        }

        let mut attributes = self.attributes.clone();
        let Attributes {
            code: a_code,
            kind: a_kind,
            token_remote: a_token_remote,
            token_remote2: a_token_remote2,
            url: a_url,
            recv_svcscriptcode: a_recv_svcscriptcode,
            recv_svcscriptcode_ws: a_recv_svcscriptcode_ws,
            send_svcscriptcode: a_send_svcscriptcode,
            send_svcscriptcode_ws: a_send_svcscriptcode_ws,
            opts:
                Opts {
                    title: a_title,
                    comment: a_comment,
                    allow_files_api: a_allow_files_api,
                    issync: a_issync,
                },
        } = &mut attributes;
        set(a_code, code);
        set(a_kind, kind);
        set(a_token_remote, token_remote);
        set(a_token_remote2, token_remote2);
        set(a_url, url);
        set(a_recv_svcscriptcode, recv_svcscriptcode);
        set(a_recv_svcscriptcode_ws, recv_svcscriptcode_ws);
        set(a_send_svcscriptcode, send_svcscriptcode);
        set(a_send_svcscriptcode_ws, send_svcscriptcode_ws);
        set(a_title, title);
        set(a_comment, comment);
        set(a_allow_files_api, allow_files_api);
        set(a_issync, issync);

        if attributes == self.attributes {
            return Ok(None);
        }
        Ok(Some(Self {
            attributes,
            ..self.written(now)
        }))
    }

    /// The point with a new local token, one version on.
    pub fn with_token_local(&self, token_local: TokenLocal, now: Timestamp) -> Self {
        Self {
            token_local,
            ..self.written(now)
        }
    }

    /// A copy stamped as written at `now`. `lwt` never goes back, even if the
    /// clock does (another replica's clock may be behind this one's).
    fn written(&self, now: Timestamp) -> Self {
        Self {
            updated_at: now.max(self.updated_at),
            version: self.version.next(),
            ..self.clone()
        }
    }
}

/// The value of one field of a point, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRef<'a> {
    /// An id.
    Id(PointId),
    /// Text.
    Text(&'a str),
    /// A boolean.
    Bool(bool),
    /// An instant.
    Timestamp(Timestamp),
}

fn set<T: Clone>(target: &mut T, value: &Option<T>) {
    if let Some(value) = value {
        target.clone_from(value);
    }
}

/// A patch tried to change a field that only the server changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: may only be sent with its current value", field.path())]
pub struct PatchRejected {
    /// The field whose value differs from the current one.
    pub field: Field,
}

/// A request to create a point. The server fills in what the client leaves out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePointRequest {
    /// An id to use instead of a new one (imports keep their ids).
    pub id: Option<PointId>,
    /// A local token to keep instead of a new one (migrating an existing channel).
    pub token_local: Option<TokenLocal>,
    /// The client-chosen attributes.
    pub attributes: Attributes,
}

impl CreatePointRequest {
    /// A request with server-chosen id and token.
    pub fn new(attributes: Attributes) -> Self {
        Self {
            id: None,
            token_local: None,
            attributes,
        }
    }
}

/// A partial update: `Some` fields are set, `None` fields stay as they are.
///
/// `id`, `token_local`, `created_at` and `updated_at` may be present so that a
/// client can PATCH back what it read, but only with the current values.
///
/// Deliberately not `Default`: [`IntegrationPoint::patched`] and every
/// conversion into a patch spell each member, so a new one that any of them
/// misses does not compile; [`PatchPointRequest::EMPTY`] is the one other place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchPointRequest {
    /// Must equal the current id.
    pub id: Option<PointId>,
    /// Must equal the current local token.
    pub token_local: Option<TokenLocal>,
    /// Must equal the current `ext.ct`.
    pub created_at: Option<Timestamp>,
    /// Must equal the current `ext.lwt`.
    pub updated_at: Option<Timestamp>,
    /// New code.
    pub code: Option<Code>,
    /// New type.
    pub kind: Option<PointType>,
    /// New remote token.
    pub token_remote: Option<TokenRemote>,
    /// New second remote token.
    pub token_remote2: Option<TokenRemote>,
    /// New URL.
    pub url: Option<Url>,
    /// New receiving script.
    pub recv_svcscriptcode: Option<ScriptCode>,
    /// New receiving WebSocket script.
    pub recv_svcscriptcode_ws: Option<ScriptCode>,
    /// New sending script.
    pub send_svcscriptcode: Option<ScriptCode>,
    /// New sending WebSocket script.
    pub send_svcscriptcode_ws: Option<ScriptCode>,
    /// New `opts.title`.
    pub title: Option<Title>,
    /// New `opts.comment`.
    pub comment: Option<Comment>,
    /// New `opts.allow_files_api`.
    pub allow_files_api: Option<bool>,
    /// New `opts.issync`.
    pub issync: Option<bool>,
}

impl PatchPointRequest {
    /// The patch that changes nothing.
    pub const EMPTY: Self = Self {
        id: None,
        token_local: None,
        created_at: None,
        updated_at: None,
        code: None,
        kind: None,
        token_remote: None,
        token_remote2: None,
        url: None,
        recv_svcscriptcode: None,
        recv_svcscriptcode_ws: None,
        send_svcscriptcode: None,
        send_svcscriptcode_ws: None,
        title: None,
        comment: None,
        allow_files_api: None,
        issync: None,
    };
}

/// What LOOKUP searches for. The text it holds is [`SearchText`], so a key
/// that reaches a store holds no NUL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LookupKey {
    /// A bare key, matched against `id` (when it is a UUID), `code` and `token_local`.
    Any(SearchText),
    /// `{"id": …}`: the id alone. `None` when the value is not a UUID, which
    /// matches nothing rather than being an error.
    Id(Option<PointId>),
    /// `{"code": …}`: the code alone.
    Code(SearchText),
    /// `{"token_local": …}`: the local token alone.
    TokenLocal(SearchText),
}

impl LookupKey {
    /// Whether the key names `point`: a bare key its `code`, its
    /// `token_local` or (when it is a UUID, in any case) its `id`; a field's
    /// key that field. The rule every repository follows: the SQL one states
    /// it as a query, in-memory ones call this.
    pub fn matches(&self, point: &IntegrationPoint) -> bool {
        match self {
            Self::Any(value) => {
                let value = value.as_str();
                point.attributes().code.as_str() == value
                    || point.token_local().as_str() == value
                    || PointId::parse(value).is_ok_and(|id| id == point.id())
            }
            Self::Id(id) => *id == Some(point.id()),
            Self::Code(code) => point.attributes().code.as_str() == code.as_str(),
            Self::TokenLocal(token) => point.token_local().as_str() == token.as_str(),
        }
    }

    /// Builds a bare key.
    ///
    /// # Errors
    /// [`TextError::ContainsNul`].
    pub fn any(value: impl Into<String>) -> Result<Self, TextError> {
        SearchText::new(value).map(Self::Any)
    }

    /// Builds the key of a single-field lookup object.
    ///
    /// # Errors
    /// A [`FieldError`] when `field` is not one of `id`, `code`, `token_local`,
    /// or when the value holds NUL (even for `id`, where any other malformed
    /// value merely matches nothing).
    pub fn for_field(field: Field, value: impl Into<String>) -> Result<Self, FieldError> {
        let value = value.into();
        let text = |value| SearchText::new(value).map_err(|error| FieldError::new(field, error));
        match field {
            Field::Id => {
                reject_nul(&value).map_err(|error| FieldError::new(field, error))?;
                Ok(Self::Id(PointId::parse(&value).ok()))
            }
            Field::Code => text(value).map(Self::Code),
            Field::TokenLocal => text(value).map(Self::TokenLocal),
            other => Err(FieldError::new(
                other,
                TextError::Pattern {
                    pattern: "one of id, code, token_local",
                },
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(millis: i64) -> Timestamp {
        Timestamp::from_millis(millis).expect("in range")
    }

    fn point() -> IntegrationPoint {
        IntegrationPoint::new(
            PointId::parse("b4680fbe-016c-d86f-1d6b-50e54938780c").expect("valid"),
            TokenLocal::from_bytes([7; 16]),
            Attributes::new(Code::new("ABCDE").expect("valid")),
            ts(1_000),
            ts(2_000),
            Version::INITIAL,
        )
    }

    #[test]
    fn a_bare_key_matches_the_code_the_token_or_the_id_in_any_case() {
        let point = point();
        for key in [
            "ABCDE",
            "07070707070707070707070707070707",
            "b4680fbe-016c-d86f-1d6b-50e54938780c",
            "B4680FBE-016C-D86F-1D6B-50E54938780C",
        ] {
            let key = LookupKey::any(key).expect("a key");
            assert!(key.matches(&point), "{key:?}");
        }
        for key in ["abcde", "0707", "B4680FBE", ""] {
            let key = LookupKey::any(key).expect("a key");
            assert!(!key.matches(&point), "{key:?}");
        }
    }

    #[test]
    fn a_fields_key_matches_that_field_only() {
        let point = point();
        let key = |field, value: &str| LookupKey::for_field(field, value).expect("a key field");
        assert!(key(Field::Id, "B4680FBE-016C-D86F-1D6B-50E54938780C").matches(&point));
        assert!(key(Field::Code, "ABCDE").matches(&point));
        assert!(key(Field::TokenLocal, "07070707070707070707070707070707").matches(&point));
        assert!(!key(Field::Id, "ABCDE").matches(&point));
        assert!(!key(Field::Code, "07070707070707070707070707070707").matches(&point));
        assert!(!key(Field::TokenLocal, "ABCDE").matches(&point));
    }

    #[test]
    fn an_empty_patch_changes_nothing() {
        assert_eq!(
            point().patched(&PatchPointRequest::EMPTY, ts(9_000)),
            Ok(None)
        );
    }

    #[test]
    fn a_patch_of_current_values_changes_nothing() {
        let current = point();
        let patch = PatchPointRequest {
            id: Some(current.id()),
            token_local: Some(current.token_local().clone()),
            created_at: Some(current.created_at()),
            updated_at: Some(current.updated_at()),
            code: Some(current.attributes().code.clone()),
            issync: Some(false),
            ..PatchPointRequest::EMPTY
        };
        assert_eq!(current.patched(&patch, ts(9_000)), Ok(None));
    }

    #[test]
    fn a_patch_sets_only_the_fields_it_carries() {
        let patch = PatchPointRequest {
            title: Some(Title::new("x").expect("valid")),
            ..PatchPointRequest::EMPTY
        };
        let updated = point()
            .patched(&patch, ts(9_000))
            .expect("accepted")
            .expect("changed");
        assert_eq!(updated.attributes().opts.title.as_str(), "x");
        assert_eq!(updated.attributes().code.as_str(), "ABCDE");
        assert_eq!(updated.attributes().opts.comment.as_str(), "");
    }

    #[test]
    fn a_change_moves_the_version_and_lwt_but_not_ct() {
        let patch = PatchPointRequest {
            issync: Some(true),
            ..PatchPointRequest::EMPTY
        };
        let updated = point()
            .patched(&patch, ts(9_000))
            .expect("accepted")
            .expect("changed");
        assert_eq!(updated.version(), Version::INITIAL.next());
        assert_eq!(updated.updated_at(), ts(9_000));
        assert_eq!(updated.created_at(), ts(1_000));
    }

    #[test]
    fn lwt_never_goes_back_when_the_clock_does() {
        let patch = PatchPointRequest {
            issync: Some(true),
            ..PatchPointRequest::EMPTY
        };
        let updated = point()
            .patched(&patch, ts(500))
            .expect("accepted")
            .expect("changed");
        assert_eq!(updated.updated_at(), ts(2_000));
    }

    #[test]
    fn read_only_fields_may_not_change() {
        let other_id = PointId::parse("a188288e-016c-d86f-cd99-50e54938780c").expect("valid");
        let cases = [
            (
                PatchPointRequest {
                    id: Some(other_id),
                    ..PatchPointRequest::EMPTY
                },
                Field::Id,
            ),
            (
                PatchPointRequest {
                    token_local: Some(TokenLocal::from_bytes([8; 16])),
                    ..PatchPointRequest::EMPTY
                },
                Field::TokenLocal,
            ),
            (
                PatchPointRequest {
                    created_at: Some(ts(1)),
                    ..PatchPointRequest::EMPTY
                },
                Field::ExtCt,
            ),
            (
                PatchPointRequest {
                    updated_at: Some(ts(1)),
                    ..PatchPointRequest::EMPTY
                },
                Field::ExtLwt,
            ),
        ];
        for (patch, field) in cases {
            assert_eq!(
                point().patched(&patch, ts(9_000)),
                Err(PatchRejected { field }),
                "{}",
                field.path()
            );
        }
    }

    #[test]
    fn rotating_the_token_is_a_write() {
        let rotated = point().with_token_local(TokenLocal::from_bytes([9; 16]), ts(9_000));
        assert_eq!(rotated.token_local(), &TokenLocal::from_bytes([9; 16]));
        assert_eq!(rotated.version(), Version::INITIAL.next());
        assert_eq!(rotated.updated_at(), ts(9_000));
    }

    #[test]
    fn if_match_any_is_met_by_every_revision() {
        assert!(IfMatch::Any.is_met_by(point().revision()));
    }

    #[test]
    fn if_match_requires_the_same_version_and_the_same_life() {
        let current = point().revision();
        assert!(IfMatch::OneOf(vec![current]).is_met_by(current));
        let older = Revision {
            version: Version::new(2).expect("positive"),
            ..current
        };
        assert!(!IfMatch::OneOf(vec![older]).is_met_by(current));
        let other_life = Revision {
            created_at: ts(5),
            ..current
        };
        assert!(!IfMatch::OneOf(vec![other_life]).is_met_by(current));
    }

    #[test]
    fn lookup_by_a_malformed_id_matches_nothing_instead_of_failing() {
        assert_eq!(
            LookupKey::for_field(Field::Id, "nope"),
            Ok(LookupKey::Id(None))
        );
    }

    #[test]
    fn lookup_objects_take_only_the_key_fields() {
        assert!(LookupKey::for_field(Field::Url, "x").is_err());
    }

    #[test]
    fn lookup_keys_reject_nul_naming_the_field_they_search() {
        assert_eq!(LookupKey::any("a\0b"), Err(TextError::ContainsNul));
        for field in [Field::Id, Field::Code, Field::TokenLocal] {
            assert_eq!(
                LookupKey::for_field(field, "0123456789abcdef0123456789abcde\0"),
                Err(FieldError::new(field, TextError::ContainsNul)),
                "{field:?}"
            );
        }
    }

    #[test]
    fn lookup_keys_without_nul_are_kept_as_sent() {
        let key = LookupKey::any("a b\u{1}").expect("no NUL");
        assert_eq!(
            key,
            LookupKey::Any(SearchText::new("a b\u{1}").expect("no NUL"))
        );
    }
}
