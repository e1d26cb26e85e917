//! Conversions between rows and domain points.
//!
//! Rows are rebuilt through the domain's constructors, so a row that breaks a
//! rule (written by hand, or by an older version with looser rules) is reported
//! as a store failure that names the row and the field, never as a panic and
//! never as an invalid point let loose.

use domain::integration_point::{
    Attributes, Code, Comment, Field, IntegrationPoint, Opts, PointId, PointType, ScriptCode,
    StoreError, TextError, Timestamp, Title, TokenLocal, TokenRemote, Url, Version,
};
use sea_orm::ActiveValue::Set;
use uuid::Uuid;

use super::entity;

/// A stored row that no longer passes the domain's rules.
#[derive(Debug, thiserror::Error)]
#[error("stored integration point {id} is invalid: {field}: {problem}")]
struct InvalidRow {
    id: Uuid,
    field: &'static str,
    // The rule that failed, never the value: values may be secrets.
    problem: String,
}

fn invalid_row(id: Uuid, field: &'static str, problem: String) -> StoreError {
    StoreError::Unknown(Box::new(InvalidRow { id, field, problem }))
}

/// The error for a value of `field` in row `id` that its constructor refused.
fn invalid(id: Uuid, field: Field) -> impl Fn(TextError) -> StoreError {
    move |error| invalid_row(id, field.path(), error.to_string())
}

impl TryFrom<entity::Model> for IntegrationPoint {
    type Error = StoreError;

    fn try_from(row: entity::Model) -> Result<Self, Self::Error> {
        // Every column by name, without `..`: a column added to the entity
        // and not read here does not compile.
        let entity::Model {
            id,
            code,
            r#type,
            token_local,
            token_remote,
            token_remote2,
            url,
            recv_svcscriptcode,
            recv_svcscriptcode_ws,
            send_svcscriptcode,
            send_svcscriptcode_ws,
            opts_title,
            opts_comment,
            opts_allow_files_api,
            opts_issync,
            ct,
            lwt,
            version,
        } = row;
        let attributes = Attributes {
            code: Code::new(code).map_err(invalid(id, Field::Code))?,
            kind: PointType::new(r#type).map_err(invalid(id, Field::Type))?,
            token_remote: TokenRemote::new(token_remote)
                .map_err(invalid(id, Field::TokenRemote))?,
            token_remote2: TokenRemote::new(token_remote2)
                .map_err(invalid(id, Field::TokenRemote2))?,
            url: Url::new(url).map_err(invalid(id, Field::Url))?,
            recv_svcscriptcode: ScriptCode::new(recv_svcscriptcode)
                .map_err(invalid(id, Field::RecvSvcscriptcode))?,
            recv_svcscriptcode_ws: ScriptCode::new(recv_svcscriptcode_ws)
                .map_err(invalid(id, Field::RecvSvcscriptcodeWs))?,
            send_svcscriptcode: ScriptCode::new(send_svcscriptcode)
                .map_err(invalid(id, Field::SendSvcscriptcode))?,
            send_svcscriptcode_ws: ScriptCode::new(send_svcscriptcode_ws)
                .map_err(invalid(id, Field::SendSvcscriptcodeWs))?,
            opts: Opts {
                title: Title::new(opts_title).map_err(invalid(id, Field::OptsTitle))?,
                comment: Comment::new(opts_comment).map_err(invalid(id, Field::OptsComment))?,
                allow_files_api: opts_allow_files_api,
                issync: opts_issync,
            },
        };
        Ok(IntegrationPoint::new(
            PointId::from_uuid(id),
            TokenLocal::new(token_local).map_err(invalid(id, Field::TokenLocal))?,
            attributes,
            Timestamp::from_millis(ct).map_err(invalid(id, Field::ExtCt))?,
            Timestamp::from_millis(lwt).map_err(invalid(id, Field::ExtLwt))?,
            Version::new(version).map_err(|version| {
                invalid_row(
                    id,
                    "version",
                    format!("must be at least 1, found {version}"),
                )
            })?,
        ))
    }
}

impl From<&IntegrationPoint> for entity::ActiveModel {
    fn from(point: &IntegrationPoint) -> Self {
        // Every attribute by name, without `..`: one added to the domain and
        // not stored here does not compile.
        let Attributes {
            code,
            kind,
            token_remote,
            token_remote2,
            url,
            recv_svcscriptcode,
            recv_svcscriptcode_ws,
            send_svcscriptcode,
            send_svcscriptcode_ws,
            opts:
                Opts {
                    title,
                    comment,
                    allow_files_api,
                    issync,
                },
        } = point.attributes();
        let text = |value: &str| Set(value.to_owned());
        Self {
            id: Set(point.id().as_uuid()),
            code: text(code.as_str()),
            r#type: text(kind.as_str()),
            token_local: text(point.token_local().as_str()),
            token_remote: text(token_remote.as_str()),
            token_remote2: text(token_remote2.as_str()),
            url: text(url.as_str()),
            recv_svcscriptcode: text(recv_svcscriptcode.as_str()),
            recv_svcscriptcode_ws: text(recv_svcscriptcode_ws.as_str()),
            send_svcscriptcode: text(send_svcscriptcode.as_str()),
            send_svcscriptcode_ws: text(send_svcscriptcode_ws.as_str()),
            opts_title: text(title.as_str()),
            opts_comment: text(comment.as_str()),
            opts_allow_files_api: Set(*allow_files_api),
            opts_issync: Set(*issync),
            ct: Set(point.created_at().as_millis()),
            lwt: Set(point.updated_at().as_millis()),
            version: Set(point.version().get()),
        }
    }
}

/// A valid row with a value in every column, for tests.
#[cfg(test)]
pub(crate) fn sample_row() -> entity::Model {
    entity::Model {
        id: Uuid::from_u128(0x0193_a0b4_7c1e_7a3b_9c1d_5e6f_7a8b_9c0d),
        code: "ABCDE".into(),
        r#type: "telegram".into(),
        token_local: "82ddc7c68623726346a78371173e2f8d".into(),
        token_remote: "remote".into(),
        token_remote2: "remote2".into(),
        url: "http://trapper.com".into(),
        recv_svcscriptcode: "ws_hook".into(),
        recv_svcscriptcode_ws: "recv_ws".into(),
        send_svcscriptcode: "send_to_web".into(),
        send_svcscriptcode_ws: "send_ws".into(),
        opts_title: "Заголовок".into(),
        opts_comment: "comment".into(),
        opts_allow_files_api: true,
        opts_issync: false,
        ct: 1_567_000_000_000,
        lwt: 1_567_000_000_427,
        version: 3,
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::TryIntoModel;

    use super::sample_row as row;
    use super::*;

    #[test]
    fn a_valid_row_becomes_a_point_and_back_unchanged() {
        // Arrange
        let original = row();

        // Act
        let point = IntegrationPoint::try_from(original.clone()).expect("valid row");
        let back = entity::ActiveModel::from(&point)
            .try_into_model()
            .expect("every column set");

        // Assert
        assert_eq!(back, original);
        assert_eq!(point.attributes().opts.title.as_str(), "Заголовок");
        assert_eq!(point.updated_at().to_string(), "2019-08-28T13:46:40.427Z");
    }

    #[test]
    fn a_row_that_breaks_a_rule_is_a_store_failure_naming_the_field_but_not_the_value() {
        // Arrange
        let broken = entity::Model {
            token_local: "NOT-A-TOKEN-secret".into(),
            ..row()
        };

        // Act
        let error = IntegrationPoint::try_from(broken).expect_err("invalid row");

        // Assert
        let StoreError::Unknown(source) = error else {
            panic!("expected Unknown, got {error:?}");
        };
        let message = source.to_string();
        assert!(message.contains("token_local"), "{message}");
        assert!(
            message.contains("0193a0b4-7c1e-7a3b-9c1d-5e6f7a8b9c0d"),
            "{message}"
        );
        assert!(!message.contains("secret"), "{message}");
    }

    #[test]
    fn a_row_with_a_version_below_one_is_a_store_failure() {
        let error = IntegrationPoint::try_from(entity::Model {
            version: 0,
            ..row()
        })
        .expect_err("invalid row");

        assert!(matches!(error, StoreError::Unknown(_)), "{error:?}");
    }

    #[test]
    fn a_row_with_an_instant_out_of_range_is_a_store_failure_naming_the_field() {
        let error = IntegrationPoint::try_from(entity::Model {
            ct: i64::MAX,
            ..row()
        })
        .expect_err("invalid row");

        let message = std::error::Error::source(&error).map(ToString::to_string);
        assert!(message.is_some_and(|m| m.contains("ext.ct")), "{error:?}");
    }
}
