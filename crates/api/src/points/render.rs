//! The representation of an integration point (contract §1), serialised
//! straight from the entity.
//!
//! Every response that returns points goes through here, so it is written by
//! hand against serde's serializer: no intermediate `serde_json::Value`, no
//! allocation per field. The field table (`Field::ALL` and its groups) decides
//! which keys exist and in what order; `mask` and `flat` only select and
//! rename them.

use domain::integration_point::{Field, FieldRef, Group, IntegrationPoint, Mask};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// How a client asked to see points: which fields, nested or flat.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct View {
    /// The fields shown; every field by default.
    pub mask: Mask,
    /// Whether group members are dotted top-level keys (`"opts.title"`).
    pub flat: bool,
}

/// One point as the client asked to see it.
pub(crate) struct PointView<'a> {
    /// The point.
    pub point: &'a IntegrationPoint,
    /// How to show it.
    pub view: View,
}

/// Points as the client asked to see them: a JSON array of [`PointView`]s.
pub(crate) struct ListView<'a> {
    /// The points, in order.
    pub points: &'a [IntegrationPoint],
    /// How to show each of them.
    pub view: View,
}

/// A top-level key of the nested representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// A field outside any group, under its own key.
    Field(Field),
    /// A group, as an object of its members.
    Group(Group),
}

/// The top-level keys of the nested representation in the contract's order:
/// a group stands where its first member does in the field table.
fn nested_entries() -> impl Iterator<Item = Entry> {
    Field::ALL
        .into_iter()
        .filter_map(|field| match field.group() {
            None => Some(Entry::Field(field)),
            Some(group) => (group.fields().next() == Some(field)).then_some(Entry::Group(group)),
        })
}

impl Serialize for PointView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let View { mask, flat } = self.view;
        let point = self.point;
        if flat {
            let fields = || Field::ALL.into_iter().filter(move |f| mask.contains(*f));
            let mut map = serializer.serialize_map(Some(fields().count()))?;
            for field in fields() {
                map.serialize_entry(field.path(), &FieldValue::of(point, field))?;
            }
            return map.end();
        }
        let entries = || {
            nested_entries().filter(move |entry| match *entry {
                Entry::Field(field) => mask.contains(field),
                Entry::Group(group) => mask.contains_any_of(group),
            })
        };
        let mut map = serializer.serialize_map(Some(entries().count()))?;
        for entry in entries() {
            match entry {
                Entry::Field(field) => {
                    map.serialize_entry(field.key(), &FieldValue::of(point, field))?;
                }
                Entry::Group(group) => {
                    map.serialize_entry(group.name(), &GroupView { point, group, mask })?;
                }
            }
        }
        map.end()
    }
}

impl Serialize for ListView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.points.len()))?;
        for point in self.points {
            seq.serialize_element(&PointView {
                point,
                view: self.view,
            })?;
        }
        seq.end()
    }
}

/// The masked members of one group of a point, keyed by their bare keys.
struct GroupView<'a> {
    point: &'a IntegrationPoint,
    group: Group,
    mask: Mask,
}

impl Serialize for GroupView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Self { point, group, mask } = *self;
        let members = || group.fields().filter(move |f| mask.contains(*f));
        let mut map = serializer.serialize_map(Some(members().count()))?;
        for field in members() {
            map.serialize_entry(field.key(), &FieldValue::of(point, field))?;
        }
        map.end()
    }
}

/// A field's value, borrowed from the point, serialised without copying.
#[derive(Debug, Clone, Copy)]
struct FieldValue<'a>(FieldRef<'a>);

impl<'a> FieldValue<'a> {
    fn of(point: &'a IntegrationPoint, field: Field) -> Self {
        Self(point.get(field))
    }
}

impl Serialize for FieldValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            FieldRef::Text(text) => serializer.serialize_str(text),
            FieldRef::Bool(value) => serializer.serialize_bool(value),
            // `collect_str` writes the Display output straight into the
            // serializer's buffer (lowercase hyphenated ids, `…T13:34:16.420Z`).
            FieldRef::Id(id) => serializer.collect_str(&id),
            FieldRef::Timestamp(instant) => serializer.collect_str(&instant),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::integration_point::{
        Attributes, Code, Comment, PointId, PointType, ScriptCode, Timestamp, Title, TokenLocal,
        TokenRemote, Url, Version,
    };
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    /// The point of the contract's representation example.
    fn example_point() -> IntegrationPoint {
        let mut attributes = Attributes::new(Code::new("ABCDE").expect("valid code"));
        attributes.url = Url::new("http://trapper.com").expect("valid url");
        attributes.recv_svcscriptcode = ScriptCode::new("ws_hook").expect("valid script");
        attributes.send_svcscriptcode = ScriptCode::new("send_to_web").expect("valid script");
        let at = Timestamp::parse_rfc3339("2019-08-28T13:34:16.427Z").expect("valid timestamp");
        IntegrationPoint::new(
            PointId::parse("0193a0b4-7c1e-7a3b-9c1d-5e6f7a8b9c0d").expect("valid id"),
            TokenLocal::new("82ddc7c68623726346a78371173e2f8d").expect("valid token"),
            attributes,
            at,
            at,
            Version::INITIAL,
        )
    }

    /// The contract's example, byte for byte once its whitespace is removed.
    const EXAMPLE: &str = concat!(
        r#"{"id":"0193a0b4-7c1e-7a3b-9c1d-5e6f7a8b9c0d","code":"ABCDE","type":"public","#,
        r#""token_local":"82ddc7c68623726346a78371173e2f8d","token_remote":"","token_remote2":"","#,
        r#""url":"http://trapper.com","recv_svcscriptcode":"ws_hook","recv_svcscriptcode_ws":"","#,
        r#""send_svcscriptcode":"send_to_web","send_svcscriptcode_ws":"","#,
        r#""opts":{"title":"","comment":"","allow_files_api":false,"issync":false},"#,
        r#""ext":{"ct":"2019-08-28T13:34:16.427Z","lwt":"2019-08-28T13:34:16.427Z"}}"#,
    );

    fn render(point: &IntegrationPoint, mask: &str, flat: bool) -> String {
        let view = View {
            mask: Mask::parse(mask).expect("valid mask"),
            flat,
        };
        serde_json::to_string(&PointView { point, view }).expect("serialisable")
    }

    #[test]
    fn the_full_representation_is_the_contracts_example() {
        // Arrange
        let point = example_point();

        // Act: the fields the contract's example shows (a frozen record, like
        // a migration: fields added since show in the tests below).
        let json = render(&point, EXAMPLE_FIELDS, false);

        // Assert
        assert_eq!(json, EXAMPLE);
    }

    /// The fields of [`EXAMPLE`].
    const EXAMPLE_FIELDS: &str = "id,code,type,token_local,token_remote,token_remote2,url,\
        recv_svcscriptcode,recv_svcscriptcode_ws,send_svcscriptcode,send_svcscriptcode_ws,\
        opts.title,opts.comment,opts.allow_files_api,opts.issync,ext.ct,ext.lwt";

    /// Where each key starts in `json`, in the order given; a key missing
    /// fails with its name.
    fn positions(json: &str, keys: impl IntoIterator<Item = &'static str>) -> Vec<usize> {
        keys.into_iter()
            .map(|key| {
                json.find(&format!("\"{key}\":"))
                    .unwrap_or_else(|| panic!("{key} missing in {json}"))
            })
            .collect()
    }

    fn in_order(positions: &[usize]) -> bool {
        positions.windows(2).all(|pair| pair[0] < pair[1])
    }

    #[test]
    fn every_field_has_its_value() {
        // Arrange
        let mut attributes = Attributes::new(Code::new("C").expect("valid"));
        attributes.kind = PointType::new("telegram").expect("valid");
        attributes.token_remote = TokenRemote::new("r1").expect("valid");
        attributes.token_remote2 = TokenRemote::new("r2").expect("valid");
        attributes.recv_svcscriptcode_ws = ScriptCode::new("rw").expect("valid");
        attributes.send_svcscriptcode_ws = ScriptCode::new("sw").expect("valid");
        attributes.opts.title = Title::new("T").expect("valid");
        attributes.opts.comment = Comment::new("K").expect("valid");
        attributes.opts.allow_files_api = true;
        attributes.opts.issync = true;
        let point = IntegrationPoint::new(
            PointId::parse("B4680FBE-016C-D86F-1D6B-50E54938780C").expect("valid id"),
            TokenLocal::from_bytes([0xab; 16]),
            attributes,
            Timestamp::from_millis(1_567_000_000_000).expect("in range"),
            Timestamp::from_millis(1_567_000_000_001).expect("in range"),
            Version::INITIAL,
        );

        // Act
        let json = render(&point, "", false);

        // Assert: one arm per field, so a new field is named here.
        let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        for field in Field::ALL {
            let expected = match field {
                Field::Id => json!("b4680fbe-016c-d86f-1d6b-50e54938780c"),
                Field::Code => json!("C"),
                Field::Type => json!("telegram"),
                Field::TokenLocal => json!("ab".repeat(16)),
                Field::TokenRemote => json!("r1"),
                Field::TokenRemote2 => json!("r2"),
                Field::Url | Field::RecvSvcscriptcode | Field::SendSvcscriptcode => json!(""),
                Field::RecvSvcscriptcodeWs => json!("rw"),
                Field::SendSvcscriptcodeWs => json!("sw"),
                Field::OptsTitle => json!("T"),
                Field::OptsComment => json!("K"),
                Field::OptsAllowFilesApi | Field::OptsIssync => json!(true),
                Field::ExtCt => json!("2019-08-28T13:46:40.000Z"),
                Field::ExtLwt => json!("2019-08-28T13:46:40.001Z"),
            };
            let pointer = format!("/{}", field.path().replace('.', "/"));
            assert_eq!(value.pointer(&pointer), Some(&expected), "{}", field.path());
        }
        let top = nested_entries().map(|entry| match entry {
            Entry::Field(field) => field.key(),
            Entry::Group(group) => group.name(),
        });
        assert!(
            in_order(&positions(&json, top)),
            "the table's order: {json}"
        );
        let keys = value.as_object().map(|o| o.len());
        assert_eq!(keys, Some(nested_entries().count()), "no other key: {json}");
    }

    #[test]
    fn text_is_escaped_as_json() {
        // Arrange
        let mut point = example_point();
        let mut attributes = point.attributes().clone();
        attributes.opts.title = Title::new("say \"hi\"\\\n\u{1}").expect("valid title");
        point = IntegrationPoint::new(
            point.id(),
            point.token_local().clone(),
            attributes,
            point.created_at(),
            point.updated_at(),
            point.version(),
        );

        // Act
        let json = render(&point, "opts.title", false);

        // Assert
        assert_eq!(json, r#"{"opts":{"title":"say \"hi\"\\\n\u0001"}}"#);
    }

    #[test]
    fn a_mask_keeps_the_nesting_and_the_contracts_order() {
        let json = render(&example_point(), "opts.title,code,id", false);
        assert_eq!(
            json,
            r#"{"id":"0193a0b4-7c1e-7a3b-9c1d-5e6f7a8b9c0d","code":"ABCDE","opts":{"title":""}}"#
        );
    }

    #[test]
    fn a_group_without_masked_members_is_omitted() {
        let json = render(&example_point(), "code,ext.lwt", false);
        assert_eq!(
            json,
            r#"{"code":"ABCDE","ext":{"lwt":"2019-08-28T13:34:16.427Z"}}"#
        );
    }

    #[test]
    fn a_masked_group_shows_all_its_members() {
        let json = render(&example_point(), "opts", false);
        let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        let full: serde_json::Value =
            serde_json::from_str(&render(&example_point(), "", false)).expect("JSON");

        assert_eq!(value, json!({"opts": full["opts"]}));
        assert!(json.starts_with(r#"{"opts":{"title":"#), "{json}");
        assert!(in_order(&positions(
            &json,
            Group::Opts.fields().map(Field::key)
        )));
    }

    #[test]
    fn flat_turns_group_members_into_dotted_keys() {
        let json = render(&example_point(), "", true);
        let flat: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        let nested: serde_json::Value =
            serde_json::from_str(&render(&example_point(), "", false)).expect("JSON");

        for field in Field::ALL {
            let pointer = format!("/{}", field.path().replace('.', "/"));
            assert_eq!(
                Some(&flat[field.path()]),
                nested.pointer(&pointer),
                "{}",
                field.path()
            );
        }
        assert_eq!(flat.as_object().map(|o| o.len()), Some(Field::ALL.len()));
        assert!(
            in_order(&positions(&json, Field::ALL.map(Field::path))),
            "{json}"
        );
    }

    #[test]
    fn flat_combines_with_a_mask() {
        let json = render(&example_point(), "ext,id,opts.issync", true);
        assert_eq!(
            json,
            concat!(
                r#"{"id":"0193a0b4-7c1e-7a3b-9c1d-5e6f7a8b9c0d","opts.issync":false,"#,
                r#""ext.ct":"2019-08-28T13:34:16.427Z","ext.lwt":"2019-08-28T13:34:16.427Z"}"#
            )
        );
    }

    #[test]
    fn a_list_is_an_array_of_representations_with_one_view() {
        // Arrange
        let first = example_point();
        let second = IntegrationPoint::new(
            PointId::parse("b4680fbe-016c-d86f-1d6b-50e54938780c").expect("valid id"),
            first.token_local().clone(),
            first.attributes().clone(),
            first.created_at(),
            first.updated_at(),
            first.version(),
        );
        let view = View {
            mask: Mask::parse("id,opts.issync").expect("valid mask"),
            flat: true,
        };

        // Act
        let json = serde_json::to_string(&ListView {
            points: &[first, second],
            view,
        })
        .expect("serialisable");

        // Assert
        assert_eq!(
            json,
            concat!(
                r#"[{"id":"0193a0b4-7c1e-7a3b-9c1d-5e6f7a8b9c0d","opts.issync":false},"#,
                r#"{"id":"b4680fbe-016c-d86f-1d6b-50e54938780c","opts.issync":false}]"#
            )
        );
    }

    #[test]
    fn an_empty_list_is_an_empty_array() {
        let json = serde_json::to_string(&ListView {
            points: &[],
            view: View::default(),
        })
        .expect("serialisable");
        assert_eq!(json, "[]");
    }

    #[test]
    fn the_nested_keys_follow_the_field_table() {
        let entries: Vec<_> = nested_entries().collect();
        let mut expected: Vec<_> = Field::ALL[..11].iter().map(|f| Entry::Field(*f)).collect();
        expected.extend([Entry::Group(Group::Opts), Entry::Group(Group::Ext)]);
        assert_eq!(entries, expected);
    }

    proptest! {
        #[test]
        fn every_mask_and_flat_renders_exactly_the_masked_fields(
            bits in proptest::collection::vec(any::<bool>(), Field::ALL.len()),
            flat in any::<bool>(),
        ) {
            // Arrange
            let shown: Vec<Field> = Field::ALL.into_iter().zip(&bits).filter(|(_, b)| **b).map(|(f, _)| f).collect();
            let mask = shown.iter().map(|f| f.path()).collect::<Vec<_>>().join(",");
            let point = example_point();

            // Act
            let json = render(&point, &mask, flat);

            // Assert
            let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
            let expected = if shown.is_empty() { Field::ALL.to_vec() } else { shown };
            let mut rendered: Vec<Field> = Vec::new();
            for field in Field::ALL {
                let found = match (flat, field.group()) {
                    (false, Some(group)) => value.get(group.name()).and_then(|g| g.get(field.key())),
                    _ => value.get(field.path()),
                };
                if found.is_some() {
                    rendered.push(field);
                }
            }
            let mut top_level: Vec<&str> = expected
                .iter()
                .map(|f| match (flat, f.group()) {
                    (false, Some(group)) => group.name(),
                    _ => f.path(),
                })
                .collect();
            top_level.dedup();
            prop_assert_eq!(value.as_object().map(serde_json::Map::len), Some(top_level.len()));
            prop_assert_eq!(rendered, expected);
        }
    }
}
