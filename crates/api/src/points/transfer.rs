//! The export file's lines: one point a line, in the representation the API
//! answers with (id, tokens and `ext` included), read back through the same
//! rules as a create body, so that what the API would refuse is refused here
//! with the API's message.

use domain::integration_point::{Field, Group, IntegrationPoint, Timestamp, Version};
use serde_json::{Map, Value};

use crate::http::error::ApiError;
use crate::http::payload::parse_value;
use crate::points::dto::CreateIntegrationPointBody;
use crate::points::render::{PointView, View};

/// Why a line is not a point; the message names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LineError(String);

impl From<ApiError> for LineError {
    fn from(error: ApiError) -> Self {
        Self(error.body().error_message)
    }
}

/// `point` as one line of an export (without the line break): the API's full
/// representation.
///
/// # Errors
/// None in practice: the representation has string keys only.
pub fn export_line(point: &IntegrationPoint) -> Result<String, serde_json::Error> {
    serde_json::to_string(&PointView {
        point,
        view: View::default(),
    })
}

/// The point one line of an export describes, as it was: its id, local
/// token, `ext.ct` and `ext.lwt` are kept, and it starts at the first
/// version.
///
/// # Errors
/// A [`LineError`] naming the first field at fault: the rules are a create
/// body's, with `id`, `token_local` and `ext` required.
pub fn parse_line(line: &str) -> Result<IntegrationPoint, LineError> {
    let value: Value = serde_json::from_str(line)
        .map_err(|error| LineError(format!("not valid JSON: {error}")))?;
    let Value::Object(mut object) = value else {
        return Err(LineError("not a JSON object".to_owned()));
    };
    let ext = object
        .remove(Group::Ext.name())
        .ok_or_else(|| required(Group::Ext.name()))?;
    let (created_at, updated_at) = ext_times(ext)?;
    let body: CreateIntegrationPointBody = parse_value(Value::Object(object))?;
    let request = body.try_into_domain().map_err(ApiError::from)?;
    let id = request.id.ok_or_else(|| required(Field::Id.path()))?;
    let token_local = request
        .token_local
        .ok_or_else(|| required(Field::TokenLocal.path()))?;
    Ok(IntegrationPoint::new(
        id,
        token_local,
        request.attributes,
        created_at,
        updated_at,
        Version::INITIAL,
    ))
}

fn required(path: &str) -> LineError {
    LineError(format!("{path}: is required"))
}

/// `ext.ct` and `ext.lwt`, both required, nothing else allowed.
fn ext_times(ext: Value) -> Result<(Timestamp, Timestamp), LineError> {
    let Value::Object(mut ext) = ext else {
        return Err(LineError("ext: must be an object".to_owned()));
    };
    let created_at = timestamp(&mut ext, Field::ExtCt)?;
    let updated_at = timestamp(&mut ext, Field::ExtLwt)?;
    if let Some(key) = ext.keys().next() {
        return Err(LineError(format!("ext.{key}: is not a field")));
    }
    Ok((created_at, updated_at))
}

fn timestamp(ext: &mut Map<String, Value>, field: Field) -> Result<Timestamp, LineError> {
    let path = field.path();
    match ext.remove(field.key()) {
        Some(Value::String(text)) => {
            Timestamp::parse_rfc3339(&text).map_err(|error| LineError(format!("{path}: {error}")))
        }
        Some(_) => Err(LineError(format!("{path}: must be an RFC 3339 string"))),
        None => Err(required(path)),
    }
}

#[cfg(test)]
mod tests {
    use domain::integration_point::{
        Attributes, Code, PointId, ScriptCode, Title, TokenLocal, TokenRemote, Url,
    };

    use super::*;

    fn point(version: i64) -> IntegrationPoint {
        let mut attributes = Attributes::new(Code::new("ABCDE").expect("valid code"));
        attributes.url = Url::new("http://trapper.com").expect("valid url");
        attributes.token_remote = TokenRemote::new("remote \"secret\"").expect("valid");
        attributes.send_svcscriptcode = ScriptCode::new("send_to_web").expect("valid script");
        attributes.opts.title = Title::new("Поддержка").expect("valid title");
        attributes.opts.issync = true;
        IntegrationPoint::new(
            PointId::parse("0193a0b4-7c1e-7a3b-9c1d-5e6f7a8b9c0d").expect("valid id"),
            TokenLocal::new("82ddc7c68623726346a78371173e2f8d").expect("valid token"),
            attributes,
            Timestamp::parse_rfc3339("2019-08-28T13:34:16.427Z").expect("valid"),
            Timestamp::parse_rfc3339("2024-01-02T03:04:05.006Z").expect("valid"),
            Version::new(version).expect("positive"),
        )
    }

    fn line_with(change: impl FnOnce(&mut Map<String, Value>)) -> String {
        let line = export_line(&point(1)).expect("serialisable");
        let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(&line) else {
            panic!("an object: {line}");
        };
        change(&mut object);
        Value::Object(object).to_string()
    }

    fn message(line: &str) -> String {
        parse_line(line).expect_err("refused").to_string()
    }

    #[test]
    fn a_line_is_the_full_representation_on_one_line() {
        let line = export_line(&point(3)).expect("serialisable");

        assert!(!line.contains('\n'), "{line}");
        assert!(line.starts_with(r#"{"id":"0193a0b4-7c1e-7a3b-9c1d-5e6f7a8b9c0d","code":"ABCDE""#));
        assert!(line.ends_with(
            r#""ext":{"ct":"2019-08-28T13:34:16.427Z","lwt":"2024-01-02T03:04:05.006Z"}}"#
        ));
    }

    #[test]
    fn an_exported_line_reads_back_as_the_same_point_at_its_first_version() {
        let line = export_line(&point(9)).expect("serialisable");

        let parsed = parse_line(&line).expect("a point");

        assert_eq!(parsed, point(1));
        assert_eq!(export_line(&parsed).expect("serialisable"), line);
    }

    #[test]
    fn what_the_api_refuses_is_refused_with_its_message() {
        let cases = [
            (
                line_with(|o| drop(o.insert("code".into(), "".into()))),
                "code: ",
            ),
            (
                line_with(|o| drop(o.insert("colour".into(), "red".into()))),
                "colour",
            ),
            (
                line_with(|o| drop(o.insert("url".into(), "ftp://x".into()))),
                "url: ",
            ),
            (line_with(|o| drop(o.remove("id"))), "id: is required"),
            (
                line_with(|o| drop(o.remove("token_local"))),
                "token_local: is required",
            ),
            (line_with(|o| drop(o.remove("ext"))), "ext: is required"),
            (
                line_with(|o| {
                    drop(o.insert(
                        "ext".into(),
                        serde_json::json!({"ct": "2019-08-28T13:34:16.427Z"}),
                    ))
                }),
                "ext.lwt: is required",
            ),
            (
                line_with(|o| {
                    drop(o.insert(
                        "ext".into(),
                        serde_json::json!({"ct": "yesterday", "lwt": "2019-08-28T13:34:16.427Z"}),
                    ))
                }),
                "ext.ct: ",
            ),
            (
                line_with(|o| {
                    drop(o.insert(
                        "ext".into(),
                        serde_json::json!({"ct": "2019-08-28T13:34:16.427Z", "lwt": "2019-08-28T13:34:16.427Z", "v": 1}),
                    ));
                }),
                "ext.v: is not a field",
            ),
            ("[1, 2]".to_owned(), "not a JSON object"),
            ("{\"id\": ".to_owned(), "not valid JSON"),
        ];

        for (line, expected) in cases {
            let message = message(&line);
            assert!(message.contains(expected), "{line}: {message}");
        }
    }
}
