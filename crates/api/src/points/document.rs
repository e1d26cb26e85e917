//! What the OpenAPI document says beyond what poem-openapi derives: each
//! field's description and constraints from the field table, examples that a
//! person can run in Swagger UI, in order, on an empty database, and the
//! `LOOKUP` method, which OpenAPI 3.0 cannot describe.
//!
//! Swagger UI fills "Try it out" with each operation's examples, so these
//! are chosen to work one after the other: create → list → get → patch →
//! lookup → rotate_token → delete. Create's example names a fixed `id`, the
//! one the operations on a single point are pre-filled with; the sequence
//! ends by deleting that point, so it can be run again. (Without the `id`
//! create would work, but nothing after it could know the id it made.)
//! Running create twice in a row is a 409, as for any client repeating a
//! `code`.

use domain::integration_point::{Field, FieldDefault, FieldKind, Group};
use serde_json::{Map, Value, json};

use crate::points::COLLECTION_PATH;
use crate::points::dto::LOOKUP_FIELDS;

/// The id of the point the examples create, then read, change and delete.
pub(crate) const EXAMPLE_ID: &str = "0193a0b4-7c1e-7a3b-9c1d-5e6f7a8b9c0d";

/// The `code` of that point.
const EXAMPLE_CODE: &str = "ABCDE";

/// The body of create's example: everything but `token_local`, which the
/// service generates.
fn create_example() -> Value {
    json!({
        "id": EXAMPLE_ID,
        "code": EXAMPLE_CODE,
        "type": "public",
        "url": "http://trapper.com",
        "recv_svcscriptcode": "ws_hook",
        "send_svcscriptcode": "send_to_web",
        "opts": {"title": "Trapper web hook", "comment": "", "allow_files_api": false, "issync": false}
    })
}

/// The body of patch's example: two fields, one of them inside `opts`.
fn patch_example() -> Value {
    json!({"url": "https://trapper.com/hook", "opts": {"title": "Trapper web hook, v2"}})
}

/// The key of lookup's example: the point's `code`, which neither patch nor
/// rotate_token changes.
fn lookup_example() -> Value {
    json!(EXAMPLE_CODE)
}

/// A point as the service sends it: the contract's example representation.
fn point_example() -> Value {
    json!({
        "id": EXAMPLE_ID,
        "code": EXAMPLE_CODE,
        "type": "public",
        "token_local": "82ddc7c68623726346a78371173e2f8d",
        "token_remote": "",
        "token_remote2": "",
        "url": "http://trapper.com",
        "recv_svcscriptcode": "ws_hook",
        "recv_svcscriptcode_ws": "",
        "send_svcscriptcode": "send_to_web",
        "send_svcscriptcode_ws": "",
        "opts": {"title": "Trapper web hook", "comment": "", "allow_files_api": false, "issync": false},
        "ext": {"ct": "2019-08-28T13:34:16.427Z", "lwt": "2019-08-28T13:34:16.427Z"}
    })
}

/// The parameters the list is pre-filled with: they select and order what
/// create's example made, and show the syntax of each.
fn list_examples() -> [(&'static str, Value); 2] {
    [
        ("filter", json!(r#"{"code": {"like": "AB%"}}"#)),
        ("order", json!(r#"[{"ext.ct": "desc"}]"#)),
    ]
}

/// What the vendor extension on the collection path says of `LOOKUP`.
const LOOKUP_DESCRIPTION: &str = "`LOOKUP` on the collection path: the operation of \
    `POST …/lookup`, with the same body, scope and answers. OpenAPI 3.0 has no place for a \
    method outside its fixed list, so it is described here, in the shape of OpenAPI 3.2's \
    `additionalOperations`; Swagger UI cannot send it, and uses the alias.";

/// The name of the vendor extension that describes `LOOKUP`.
pub(crate) const ADDITIONAL_OPERATIONS: &str = "x-additionalOperations";

/// The document poem-openapi wrote, with the examples and the `LOOKUP`
/// extension added. A document that is not JSON (poem-openapi wrote it, so
/// that is a bug) is returned as it is.
pub(crate) fn finish(spec: &str) -> String {
    let Ok(mut document) = serde_json::from_str::<Value>(spec) else {
        tracing::error!("the OpenAPI document is not JSON; serving it without examples");
        return spec.to_owned();
    };
    add_field_schemas(&mut document);
    add_examples(&mut document);
    add_lookup_method(&mut document);
    serde_json::to_string_pretty(&document).unwrap_or_else(|_| spec.to_owned())
}

/// Which fields a schema's properties document, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Members {
    /// The fields outside any group, under their keys.
    Ungrouped,
    /// The members of a group, under their bare keys.
    Group(Group),
    /// Every grouped field under its dotted path (`flat=true`).
    Flat,
    /// The keys of a lookup object: searched for, not stored, so a value
    /// outside the field's rules matches nothing rather than being invalid.
    LookupKeys,
}

/// The schemas whose properties are fields, and whether a value the field's
/// rules reject is a 400 (`validated`) and so carries its constraints.
pub(crate) const FIELD_SCHEMAS: [(&str, Members, Validated); 9] = [
    (
        "CreateIntegrationPointBody",
        Members::Ungrouped,
        Validated::OnCreate,
    ),
    ("OptsBody", Members::Group(Group::Opts), Validated::OnCreate),
    (
        "PatchIntegrationPointBody",
        Members::Ungrouped,
        Validated::Yes,
    ),
    ("PatchOptsBody", Members::Group(Group::Opts), Validated::Yes),
    ("ExtBody", Members::Group(Group::Ext), Validated::Yes),
    ("IntegrationPointBody", Members::Ungrouped, Validated::Yes),
    ("IntegrationPointBody", Members::Flat, Validated::Yes),
    (
        "IntegrationPointOpts",
        Members::Group(Group::Opts),
        Validated::Yes,
    ),
    (
        "IntegrationPointExt",
        Members::Group(Group::Ext),
        Validated::Yes,
    ),
];

/// Whether a schema's values obey the fields' rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validated {
    /// Yes: every constraint applies.
    Yes,
    /// Yes, and a field left out takes the table's default.
    OnCreate,
    /// No: only the description applies.
    No,
}

impl Members {
    /// The fields, each with the property key it is documented under.
    pub(crate) fn fields(self) -> Vec<(&'static str, Field)> {
        match self {
            Members::Ungrouped => Field::ALL
                .into_iter()
                .filter(|f| f.group().is_none())
                .map(|f| (f.key(), f))
                .collect(),
            Members::Group(group) => group.fields().map(|f| (f.key(), f)).collect(),
            Members::Flat => Field::ALL
                .into_iter()
                .filter(|f| f.group().is_some())
                .map(|f| (f.path(), f))
                .collect(),
            Members::LookupKeys => LOOKUP_FIELDS.into_iter().map(|f| (f.key(), f)).collect(),
        }
    }
}

/// The JSON Schema keywords the field table gives a field's property: its
/// description and, where its values are validated, what the service checks,
/// so that a generated client rejects what the service would.
pub(crate) fn field_keywords(field: Field, validated: Validated) -> Map<String, Value> {
    let mut keywords = Map::new();
    keywords.insert("description".to_owned(), json!(field.description()));
    if validated == Validated::No {
        return keywords;
    }
    match field.kind() {
        FieldKind::Id => {
            keywords.insert("format".to_owned(), json!("uuid"));
        }
        FieldKind::Text => {
            if field.min_chars() > 0 {
                keywords.insert("minLength".to_owned(), json!(field.min_chars()));
            }
            if let Some(max) = field.max_chars() {
                keywords.insert("maxLength".to_owned(), json!(max));
            }
            if let Some(pattern) = field.pattern() {
                keywords.insert("pattern".to_owned(), json!(pattern));
            }
        }
        FieldKind::Bool => {}
        FieldKind::Timestamp => {
            keywords.insert("format".to_owned(), json!("date-time"));
        }
    }
    if validated == Validated::OnCreate {
        match field.default_value() {
            FieldDefault::Text(text) => {
                keywords.insert("default".to_owned(), json!(text));
            }
            FieldDefault::Bool(value) => {
                keywords.insert("default".to_owned(), json!(value));
            }
            FieldDefault::Required | FieldDefault::Generated => {}
        }
    }
    keywords
}

/// Writes the field table into every schema that documents fields: the DTOs
/// spell their members for serde and poem-openapi, the table says what each is.
fn add_field_schemas(document: &mut Value) {
    let lookup = ("LookupFieldBody", Members::LookupKeys, Validated::No);
    for (schema, members, validated) in FIELD_SCHEMAS.into_iter().chain([lookup]) {
        let Some(properties) = document
            .pointer_mut(&format!("/components/schemas/{schema}/properties"))
            .and_then(Value::as_object_mut)
        else {
            tracing::error!(schema, "the OpenAPI document lacks a schema of fields");
            continue;
        };
        for (key, field) in members.fields() {
            // Only properties the DTO declares: a field a body may not carry
            // (`ext` on create) is not invented here.
            if let Some(property) = properties.get_mut(key).and_then(Value::as_object_mut) {
                property.extend(field_keywords(field, validated));
            }
        }
    }
}

fn add_examples(document: &mut Value) {
    if let Some(point) = document.pointer_mut("/components/schemas/IntegrationPointBody") {
        point["example"] = point_example();
    }
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
    {
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let (body, params): (Option<Value>, Vec<(&str, Value)>) = match id.as_str() {
            "createIntegrationPoint" => (Some(create_example()), vec![]),
            "listIntegrationPoints" => (None, list_examples().to_vec()),
            "getIntegrationPoint" | "deleteIntegrationPoint" | "rotateIntegrationPointToken" => {
                (None, vec![("id", json!(EXAMPLE_ID))])
            }
            "patchIntegrationPoint" => (Some(patch_example()), vec![("id", json!(EXAMPLE_ID))]),
            "lookupIntegrationPoints" => {
                set_media_examples(operation, "/responses/200/content", &json!([EXAMPLE_ID]));
                (Some(lookup_example()), vec![])
            }
            _ => (None, vec![]),
        };
        if let Some(body) = body {
            set_media_examples(operation, "/requestBody/content", &body);
        }
        for (name, example) in params {
            let param = operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
                .and_then(|params| params.iter_mut().find(|p| p["name"] == name));
            if let Some(param) = param {
                param["example"] = example;
            }
        }
    }
}

/// Sets `example` on every media type of the `content` object at `pointer`.
fn set_media_examples(operation: &mut Value, pointer: &str, example: &Value) {
    let content = operation
        .pointer_mut(pointer)
        .and_then(Value::as_object_mut);
    for media in content.into_iter().flat_map(|c| c.values_mut()) {
        media["example"] = example.clone();
    }
}

/// Describes `LOOKUP` on the collection path as a copy of its alias.
fn add_lookup_method(document: &mut Value) {
    let alias = document
        .pointer(&format!(
            "/paths/{}~1lookup/post",
            COLLECTION_PATH.replace('/', "~1")
        ))
        .cloned();
    let (Some(mut lookup), Some(collection)) = (
        alias,
        document.pointer_mut(&format!("/paths/{}", COLLECTION_PATH.replace('/', "~1"))),
    ) else {
        return;
    };
    if let Some(lookup) = lookup.as_object_mut() {
        lookup.remove("operationId");
        lookup.insert(
            "summary".to_owned(),
            json!("Look up integration points (the LOOKUP method)"),
        );
        lookup.insert("description".to_owned(), json!(LOOKUP_DESCRIPTION));
    }
    collection[ADDITIONAL_OPERATIONS] = json!({ "LOOKUP": lookup });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_agree_on_the_point_they_make() {
        let created = create_example();
        let point = point_example();
        for (key, value) in created.as_object().expect("an object") {
            assert_eq!(&point[key], value, "{key}");
        }
        assert_eq!(lookup_example(), point["code"]);
    }

    #[test]
    fn create_leaves_the_token_to_the_service() {
        assert!(create_example().get("token_local").is_none());
    }

    #[test]
    fn a_document_that_is_not_json_is_left_as_it_is() {
        assert_eq!(finish("not json"), "not json");
    }
}
