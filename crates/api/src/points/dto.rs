//! The JSON bodies of the integration point operations.
//!
//! Request bodies are parsed by serde (through `payload::JsonBody`, so that
//! every error names its field) and documented by poem-openapi; each turns
//! into a domain command with `try_into_domain`, where the domain's
//! constructors decide what is valid. Response bodies are written by `render`;
//! [`IntegrationPointBody`] only documents their shape.
//!
//! The members that are fields carry no doc comment: their descriptions and
//! constraints in the OpenAPI document come from the field table
//! (`document::add_field_schemas`). The conversions destructure each body
//! without `..`, so a member added and not converted does not compile.

use chrono::{DateTime, Utc};
use domain::integration_point::{
    Attributes, Code, Comment, CreatePointRequest, Field, FieldError, LookupKey, Opts,
    PatchPointRequest, PointId, PointType, ScriptCode, TextError, Timestamp, Title, TokenLocal,
    TokenRemote, Url,
};
use poem_openapi::{Object, Union};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use uuid::Uuid;

use crate::http::error::ApiError;
use crate::http::payload::present;

/// A new integration point: `code` is required, every other field has a
/// default. `id` and `token_local` may be given to import an existing channel;
/// `ext` is read-only and may not be sent.
#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an integration point object")]
pub(crate) struct CreateIntegrationPointBody {
    #[serde(default, deserialize_with = "present")]
    id: Option<String>,
    code: String,
    #[oai(rename = "type", default = "default_type")]
    #[serde(rename = "type", default = "default_type")]
    kind: String,
    #[serde(default, deserialize_with = "present")]
    token_local: Option<String>,
    #[oai(default)]
    #[serde(default)]
    token_remote: String,
    #[oai(default)]
    #[serde(default)]
    token_remote2: String,
    #[oai(default)]
    #[serde(default)]
    url: String,
    #[oai(default)]
    #[serde(default)]
    recv_svcscriptcode: String,
    #[oai(default)]
    #[serde(default)]
    recv_svcscriptcode_ws: String,
    #[oai(default)]
    #[serde(default)]
    send_svcscriptcode: String,
    #[oai(default)]
    #[serde(default)]
    send_svcscriptcode_ws: String,
    /// Client options.
    #[oai(default)]
    #[serde(default)]
    opts: OptsBody,
    // Not documented as a property: it may not be sent at all.
    #[oai(skip)]
    #[serde(default, rename = "ext")]
    _ext: ServerSet,
}

fn default_type() -> String {
    PointType::default().as_str().to_owned()
}

/// Client options of a new point; each member defaults as shown.
#[derive(Debug, Default, Object, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object of options")]
pub(crate) struct OptsBody {
    #[oai(default)]
    #[serde(default)]
    title: String,
    #[oai(default)]
    #[serde(default)]
    comment: String,
    #[oai(default)]
    #[serde(default)]
    allow_files_api: bool,
    #[oai(default)]
    #[serde(default)]
    issync: bool,
}

/// A field only the server sets: any value a client sends for it is a 400.
#[derive(Debug, Default)]
struct ServerSet;

impl<'de> Deserialize<'de> for ServerSet {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(de::Error::custom("is read-only: the server sets it"))
    }
}

/// Names the field a rejected value was meant for.
fn at(field: Field) -> impl Fn(TextError) -> FieldError {
    move |error| FieldError::new(field, error)
}

impl CreateIntegrationPointBody {
    /// The create command.
    ///
    /// # Errors
    /// The first value that breaks its field's rule, with the field.
    pub(crate) fn try_into_domain(self) -> Result<CreatePointRequest, FieldError> {
        let Self {
            id,
            code,
            kind,
            token_local,
            token_remote,
            token_remote2,
            url,
            recv_svcscriptcode,
            recv_svcscriptcode_ws,
            send_svcscriptcode,
            send_svcscriptcode_ws,
            opts:
                OptsBody {
                    title,
                    comment,
                    allow_files_api,
                    issync,
                },
            _ext: ServerSet,
        } = self;
        let attributes = Attributes {
            code: Code::new(code).map_err(at(Field::Code))?,
            kind: PointType::new(kind).map_err(at(Field::Type))?,
            token_remote: TokenRemote::new(token_remote).map_err(at(Field::TokenRemote))?,
            token_remote2: TokenRemote::new(token_remote2).map_err(at(Field::TokenRemote2))?,
            url: Url::new(url).map_err(at(Field::Url))?,
            recv_svcscriptcode: ScriptCode::new(recv_svcscriptcode)
                .map_err(at(Field::RecvSvcscriptcode))?,
            recv_svcscriptcode_ws: ScriptCode::new(recv_svcscriptcode_ws)
                .map_err(at(Field::RecvSvcscriptcodeWs))?,
            send_svcscriptcode: ScriptCode::new(send_svcscriptcode)
                .map_err(at(Field::SendSvcscriptcode))?,
            send_svcscriptcode_ws: ScriptCode::new(send_svcscriptcode_ws)
                .map_err(at(Field::SendSvcscriptcodeWs))?,
            opts: Opts {
                title: Title::new(title).map_err(at(Field::OptsTitle))?,
                comment: Comment::new(comment).map_err(at(Field::OptsComment))?,
                allow_files_api,
                issync,
            },
        };
        Ok(CreatePointRequest {
            id: id
                .map(|id| PointId::parse(&id))
                .transpose()
                .map_err(at(Field::Id))?,
            token_local: token_local
                .map(TokenLocal::new)
                .transpose()
                .map_err(at(Field::TokenLocal))?,
            attributes,
        })
    }
}

/// A partial update: present fields are set, absent ones stay. `opts` merges
/// key by key. `id`, `token_local` and `ext` (whole or in part) may be sent
/// back as read, but only with their current values.
#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object of fields to change")]
pub(crate) struct PatchIntegrationPointBody {
    #[serde(default, deserialize_with = "present")]
    id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    code: Option<String>,
    #[oai(rename = "type")]
    #[serde(rename = "type", default, deserialize_with = "present")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "present")]
    token_local: Option<String>,
    #[serde(default, deserialize_with = "present")]
    token_remote: Option<String>,
    #[serde(default, deserialize_with = "present")]
    token_remote2: Option<String>,
    #[serde(default, deserialize_with = "present")]
    url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    recv_svcscriptcode: Option<String>,
    #[serde(default, deserialize_with = "present")]
    recv_svcscriptcode_ws: Option<String>,
    #[serde(default, deserialize_with = "present")]
    send_svcscriptcode: Option<String>,
    #[serde(default, deserialize_with = "present")]
    send_svcscriptcode_ws: Option<String>,
    /// Client options to change, key by key.
    #[serde(default, deserialize_with = "present")]
    opts: Option<PatchOptsBody>,
    /// Server-kept timestamps, accepted only with their current values.
    #[serde(default, deserialize_with = "present")]
    ext: Option<ExtBody>,
}

/// Client options to change; absent members stay.
#[derive(Debug, Default, Object, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object of options")]
pub(crate) struct PatchOptsBody {
    #[serde(default, deserialize_with = "present")]
    title: Option<String>,
    #[serde(default, deserialize_with = "present")]
    comment: Option<String>,
    #[serde(default, deserialize_with = "present")]
    allow_files_api: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    issync: Option<bool>,
}

/// Server-kept timestamps as a client read them; each must equal the current value.
#[derive(Debug, Default, Object, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object of timestamps")]
pub(crate) struct ExtBody {
    #[serde(default, deserialize_with = "present")]
    ct: Option<String>,
    #[serde(default, deserialize_with = "present")]
    lwt: Option<String>,
}

impl PatchIntegrationPointBody {
    /// The patch command. Whether `id`, `token_local` and `ext` hold the
    /// current values is for the domain to decide, against the stored point.
    ///
    /// # Errors
    /// The first value that breaks its field's rule, with the field.
    pub(crate) fn try_into_domain(self) -> Result<PatchPointRequest, FieldError> {
        fn parse<T>(
            value: Option<String>,
            field: Field,
            new: impl FnOnce(String) -> Result<T, TextError>,
        ) -> Result<Option<T>, FieldError> {
            value.map(new).transpose().map_err(at(field))
        }
        let Self {
            id,
            code,
            kind,
            token_local,
            token_remote,
            token_remote2,
            url,
            recv_svcscriptcode,
            recv_svcscriptcode_ws,
            send_svcscriptcode,
            send_svcscriptcode_ws,
            opts,
            ext,
        } = self;
        let PatchOptsBody {
            title,
            comment,
            allow_files_api,
            issync,
        } = opts.unwrap_or_default();
        let ExtBody { ct, lwt } = ext.unwrap_or_default();
        let timestamp = |value: String| Timestamp::parse_rfc3339(&value);
        Ok(PatchPointRequest {
            id: parse(id, Field::Id, |id| PointId::parse(&id))?,
            token_local: parse(token_local, Field::TokenLocal, TokenLocal::new)?,
            created_at: parse(ct, Field::ExtCt, timestamp)?,
            updated_at: parse(lwt, Field::ExtLwt, timestamp)?,
            code: parse(code, Field::Code, Code::new)?,
            kind: parse(kind, Field::Type, PointType::new)?,
            token_remote: parse(token_remote, Field::TokenRemote, TokenRemote::new)?,
            token_remote2: parse(token_remote2, Field::TokenRemote2, TokenRemote::new)?,
            url: parse(url, Field::Url, Url::new)?,
            recv_svcscriptcode: parse(
                recv_svcscriptcode,
                Field::RecvSvcscriptcode,
                ScriptCode::new,
            )?,
            recv_svcscriptcode_ws: parse(
                recv_svcscriptcode_ws,
                Field::RecvSvcscriptcodeWs,
                ScriptCode::new,
            )?,
            send_svcscriptcode: parse(
                send_svcscriptcode,
                Field::SendSvcscriptcode,
                ScriptCode::new,
            )?,
            send_svcscriptcode_ws: parse(
                send_svcscriptcode_ws,
                Field::SendSvcscriptcodeWs,
                ScriptCode::new,
            )?,
            title: parse(title, Field::OptsTitle, Title::new)?,
            comment: parse(comment, Field::OptsComment, Comment::new)?,
            allow_files_api,
            issync,
        })
    }
}

/// An integration point, as every operation that returns one sends it.
///
/// Every field is present in the full representation. `mask` keeps only the
/// fields it names (with their nesting), and `flat=true` turns the members of
/// `opts` and `ext` into dotted top-level keys such as `"opts.title"`; so no
/// field is required here, and the dotted keys are documented beside the
/// nested ones.
#[derive(Debug, Object)]
pub(crate) struct IntegrationPointBody {
    id: Option<Uuid>,
    code: Option<String>,
    #[oai(rename = "type")]
    kind: Option<String>,
    token_local: Option<String>,
    token_remote: Option<String>,
    token_remote2: Option<String>,
    url: Option<String>,
    recv_svcscriptcode: Option<String>,
    recv_svcscriptcode_ws: Option<String>,
    send_svcscriptcode: Option<String>,
    send_svcscriptcode_ws: Option<String>,
    /// Client options.
    opts: Option<IntegrationPointOpts>,
    /// Server-kept timestamps.
    ext: Option<IntegrationPointExt>,
    #[oai(rename = "opts.title")]
    flat_opts_title: Option<String>,
    #[oai(rename = "opts.comment")]
    flat_opts_comment: Option<String>,
    #[oai(rename = "opts.allow_files_api")]
    flat_opts_allow_files_api: Option<bool>,
    #[oai(rename = "opts.issync")]
    flat_opts_issync: Option<bool>,
    #[oai(rename = "ext.ct")]
    flat_ext_ct: Option<DateTime<Utc>>,
    #[oai(rename = "ext.lwt")]
    flat_ext_lwt: Option<DateTime<Utc>>,
}

/// Client options of a point; `mask` may keep only some of them.
#[derive(Debug, Object)]
pub(crate) struct IntegrationPointOpts {
    title: Option<String>,
    comment: Option<String>,
    allow_files_api: Option<bool>,
    issync: Option<bool>,
}

/// Server-kept timestamps of a point; `mask` may keep only one of them.
#[derive(Debug, Object)]
pub(crate) struct IntegrationPointExt {
    ct: Option<DateTime<Utc>>,
    lwt: Option<DateTime<Utc>>,
}

/// The key LOOKUP searches for, as sent: a JSON string, or an object with
/// exactly one of `id`, `code`, `token_local` whose value is a string. The
/// domain's [`LookupKey`] decides whether the value may be searched for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LookupBody {
    /// A bare string.
    Any(String),
    /// An object: its one key and the value.
    Field(Field, String),
}

/// How errors name a bare LOOKUP key, which has no field name of its own.
pub(crate) const BARE_LOOKUP_KEY: &str = "key";

impl LookupBody {
    /// The domain's key.
    ///
    /// # Errors
    /// A 400 naming the object's key (or [`BARE_LOOKUP_KEY`]) when the value
    /// holds NUL.
    pub(crate) fn try_into_domain(self) -> Result<LookupKey, ApiError> {
        match self {
            Self::Any(key) => LookupKey::any(key).map_err(|error| {
                ApiError::invalid(BARE_LOOKUP_KEY, format!("{BARE_LOOKUP_KEY}: {error}"))
            }),
            Self::Field(field, value) => Ok(LookupKey::for_field(field, value)?),
        }
    }
}

/// The keys a lookup object may have, with the fields they search.
pub(crate) const LOOKUP_FIELDS: [Field; 3] = [Field::Id, Field::Code, Field::TokenLocal];

impl<'de> Deserialize<'de> for LookupBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LookupVisitor)
    }
}

struct LookupVisitor;

impl<'de> Visitor<'de> for LookupVisitor {
    type Value = LookupBody;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string, or an object with exactly one of `id`, `code`, `token_local`")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<LookupBody, E> {
        Ok(LookupBody::Any(key.to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LookupBody, A::Error> {
        let one_key = || {
            de::Error::custom(
                "a lookup object must have exactly one key: `id`, `code` or `token_local`",
            )
        };
        // Read as a string, not an enum, so that an error in the value is
        // reported at the key's path.
        let key: String = map.next_key()?.ok_or_else(one_key)?;
        let field = LOOKUP_FIELDS
            .into_iter()
            .find(|field| field.path() == key)
            .ok_or_else(|| de::Error::unknown_field(&key, &["id", "code", "token_local"]))?;
        let value: String = map.next_value()?;
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(one_key());
        }
        Ok(LookupBody::Field(field, value))
    }
}

/// What LOOKUP searches for.
///
/// A string is matched against `id` (when it is a UUID), `code` and
/// `token_local`; an object with exactly one of those keys searches that
/// field alone.
#[derive(Debug, Union)]
#[oai(one_of)]
pub(crate) enum LookupRequestBody {
    /// The key, matched against every key field.
    Any(String),
    /// One field and its value.
    Field(LookupFieldBody),
}

/// A lookup of one field: exactly one of these keys.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct LookupFieldBody {
    id: Option<String>,
    code: Option<String>,
    token_local: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(json: &str) -> CreateIntegrationPointBody {
        serde_json::from_str(json).expect("valid body")
    }

    fn patch(json: &str) -> PatchIntegrationPointBody {
        serde_json::from_str(json).expect("valid body")
    }

    fn lookup(json: &str) -> Result<LookupKey, String> {
        serde_json::from_str::<LookupBody>(json)
            .map_err(|error| error.to_string())?
            .try_into_domain()
            .map_err(|error| error.to_string())
    }

    fn key(field: Field, value: &str) -> LookupKey {
        LookupKey::for_field(field, value).expect("a key field")
    }

    #[test]
    fn a_create_with_only_a_code_takes_every_default() {
        // Act
        let request = create(r#"{"code": "ABCDE"}"#)
            .try_into_domain()
            .expect("valid");

        // Assert
        let expected = Attributes::new(Code::new("ABCDE").expect("valid"));
        assert_eq!(request, CreatePointRequest::new(expected));
    }

    #[test]
    fn a_create_keeps_a_given_id_and_token() {
        let request = create(
            r#"{"code": "A", "id": "B4680FBE-016C-D86F-1D6B-50E54938780C",
                "token_local": "82ddc7c68623726346a78371173e2f8d"}"#,
        )
        .try_into_domain()
        .expect("valid");
        assert_eq!(
            request.id.map(|id| id.to_string()).as_deref(),
            Some("b4680fbe-016c-d86f-1d6b-50e54938780c")
        );
        assert_eq!(
            request.token_local.as_ref().map(TokenLocal::as_str),
            Some("82ddc7c68623726346a78371173e2f8d")
        );
    }

    #[test]
    fn each_invalid_create_value_is_reported_with_its_field() {
        let cases = [
            (r#"{"code": ""}"#, Field::Code),
            (r#"{"code": "A", "id": "nope"}"#, Field::Id),
            (r#"{"code": "A", "type": "Public"}"#, Field::Type),
            (r#"{"code": "A", "token_local": "XYZ"}"#, Field::TokenLocal),
            (r#"{"code": "A", "url": "ftp://x"}"#, Field::Url),
            (
                r#"{"code": "A", "send_svcscriptcode_ws": "\u0000"}"#,
                Field::SendSvcscriptcodeWs,
            ),
            (
                r#"{"code": "A", "opts": {"comment": "\u0000"}}"#,
                Field::OptsComment,
            ),
        ];
        for (json, field) in cases {
            let error = create(json).try_into_domain().expect_err(json);
            assert_eq!(error.field, field, "{json}");
        }
    }

    #[test]
    fn ext_may_not_be_sent_on_create() {
        for json in [
            r#"{"code": "A", "ext": {}}"#,
            r#"{"code": "A", "ext": null}"#,
        ] {
            let error = serde_json::from_str::<CreateIntegrationPointBody>(json).expect_err(json);
            assert!(error.to_string().starts_with("is read-only"), "{error}");
        }
    }

    #[test]
    fn an_empty_patch_is_the_empty_command() {
        assert_eq!(patch("{}").try_into_domain(), Ok(PatchPointRequest::EMPTY));
    }

    #[test]
    fn a_patch_carries_exactly_the_fields_sent() {
        // Act
        let request = patch(
            r#"{"type": "telegram", "opts": {"issync": true},
                "ext": {"lwt": "2019-08-28T13:34:16.427Z"}}"#,
        )
        .try_into_domain()
        .expect("valid");

        // Assert
        let expected = PatchPointRequest {
            kind: Some(PointType::new("telegram").expect("valid")),
            issync: Some(true),
            updated_at: Some(Timestamp::parse_rfc3339("2019-08-28T13:34:16.427Z").expect("valid")),
            ..PatchPointRequest::EMPTY
        };
        assert_eq!(request, expected);
    }

    #[test]
    fn each_invalid_patch_value_is_reported_with_its_field() {
        let cases = [
            (r#"{"code": " A"}"#, Field::Code),
            (r#"{"id": "nope"}"#, Field::Id),
            (r#"{"token_local": "nope"}"#, Field::TokenLocal),
            (r#"{"ext": {"ct": "yesterday"}}"#, Field::ExtCt),
            (r#"{"ext": {"lwt": "yesterday"}}"#, Field::ExtLwt),
            (r#"{"opts": {"title": "\u0000"}}"#, Field::OptsTitle),
        ];
        for (json, field) in cases {
            let error = patch(json).try_into_domain().expect_err(json);
            assert_eq!(error.field, field, "{json}");
        }
    }

    #[test]
    fn a_lookup_string_searches_every_key_field() {
        assert_eq!(
            lookup(r#""ABCDE""#).ok(),
            Some(LookupKey::any("ABCDE").expect("no NUL"))
        );
    }

    #[test]
    fn a_lookup_object_searches_its_one_field() {
        assert_eq!(lookup(r#"{"code": "A"}"#).ok(), Some(key(Field::Code, "A")));
        assert_eq!(
            lookup(r#"{"token_local": "t"}"#).ok(),
            Some(key(Field::TokenLocal, "t"))
        );
        assert_eq!(
            lookup(r#"{"id": "not a uuid"}"#).ok(),
            Some(LookupKey::Id(None))
        );
    }

    #[test]
    fn other_lookup_bodies_are_rejected() {
        for json in [
            "5",
            "null",
            "true",
            r#"["A"]"#,
            "{}",
            r#"{"code": "A", "id": "B"}"#,
            r#"{"url": "A"}"#,
            r#"{"code": 5}"#,
            r#"{"code": null}"#,
        ] {
            assert!(lookup(json).is_err(), "{json}");
        }
    }

    #[test]
    fn a_nul_in_a_lookup_key_is_a_400_naming_the_key() {
        for (json, field) in [
            (r#""a\u0000b""#, BARE_LOOKUP_KEY),
            (r#"{"id": "\u0000"}"#, "id"),
            (r#"{"code": "a\u0000"}"#, "code"),
            (
                r#"{"token_local": "0123456789abcdef0123456789abcde\u0000"}"#,
                "token_local",
            ),
        ] {
            let body: LookupBody = serde_json::from_str(json).expect("well-formed");
            let error = body.try_into_domain().expect_err(json).body();
            assert_eq!(error.error_code, 1400, "{json}");
            assert_eq!(
                error.error_message,
                format!("{field}: must not contain the NUL character"),
                "{json}"
            );
            assert_eq!(
                error.error_details.map(|d| d.field).as_deref(),
                Some(field),
                "{json}"
            );
        }
    }
}
