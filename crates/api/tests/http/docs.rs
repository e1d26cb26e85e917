//! The OpenAPI document and Swagger UI.

use api::{ApiConfig, openapi_json};
use domain::integration_point::{Field, FieldDefault, FieldKind, Group};
use serde_json::{Value, json};

use crate::feed::TestFeed;
use crate::service::TestService;
use crate::{POINTS, client, header, text};

async fn spec() -> Value {
    let response = client(&TestService::default())
        .get("/openapi.json")
        .send()
        .await;
    assert_eq!(response.0.status().as_u16(), 200);
    serde_json::from_str(&text(response).await).expect("a JSON document")
}

#[tokio::test]
async fn the_document_served_is_the_one_the_cli_prints() {
    let service = TestService::default();
    let printed: Value = serde_json::from_str(&openapi_json(
        service.clone(),
        TestFeed::of(&service),
        ApiConfig::default(),
    ))
    .expect("JSON");

    assert_eq!(spec().await, printed);
}

#[tokio::test]
async fn the_document_names_the_service_and_its_version() {
    let spec = spec().await;

    assert_eq!(spec["info"]["title"], "Integration points");
    assert_eq!(spec["info"]["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn every_operation_documents_its_success_and_error_statuses() {
    let cases = [
        (
            "",
            "post",
            &[
                "200", "400", "401", "403", "409", "413", "414", "415", "500", "503",
            ][..],
        ),
        (
            "",
            "get",
            &["200", "400", "401", "403", "414", "500", "503"],
        ),
        (
            "/{id}",
            "get",
            &[
                "200", "304", "400", "401", "403", "404", "414", "500", "503",
            ],
        ),
        (
            "/{id}",
            "patch",
            &[
                "200", "400", "401", "403", "404", "409", "412", "413", "414", "415", "500", "503",
            ],
        ),
        (
            "/{id}",
            "delete",
            &[
                "204", "400", "401", "403", "404", "412", "414", "500", "503",
            ],
        ),
        (
            "/lookup",
            "post",
            &[
                "200", "400", "401", "403", "404", "413", "414", "415", "500", "503",
            ],
        ),
        (
            "/{id}/rotate_token",
            "post",
            &[
                "200", "400", "401", "403", "404", "409", "412", "414", "500", "503",
            ],
        ),
        (
            "/changes",
            "get",
            &["200", "400", "401", "403", "410", "414", "500", "503"],
        ),
    ];
    let spec = spec().await;
    for (path, method, statuses) in cases {
        let operation = &spec["paths"][format!("{POINTS}{path}")][method];
        let documented: Vec<&str> = operation["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} is documented"))
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(documented, statuses, "{method} {path}");
        assert!(
            operation["summary"].is_string(),
            "{method} {path} has a summary"
        );
    }
}

#[tokio::test]
async fn every_operation_asks_for_the_bearer_key_that_swagger_ui_can_send() {
    let spec = spec().await;

    let scheme = &spec["components"]["securitySchemes"]["apiKey"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    let description = scheme["description"].as_str().unwrap_or_default();
    assert!(description.contains("`read`") && description.contains("`write`"));
    for (path, method, operation) in operations(&spec) {
        assert_eq!(
            operation["security"],
            serde_json::json!([{"apiKey": []}]),
            "{method} {path}"
        );
    }
}

/// Every operation of the document as (path, method, operation), `LOOKUP`
/// (described in `x-additionalOperations`) included.
fn operations(spec: &Value) -> Vec<(String, String, Value)> {
    let mut all = vec![];
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (key, value) in item.as_object().expect("a path item") {
            if key == "x-additionalOperations" {
                for (method, operation) in value.as_object().expect("operations by method") {
                    all.push((path.clone(), method.clone(), operation.clone()));
                }
            } else {
                all.push((path.clone(), key.clone(), value.clone()));
            }
        }
    }
    all
}

#[tokio::test]
async fn lookup_is_described_on_the_collection_path_as_its_alias_is() {
    let spec = spec().await;

    let lookup = &spec["paths"][POINTS]["x-additionalOperations"]["LOOKUP"];
    let alias = &spec["paths"][format!("{POINTS}/lookup")]["post"];

    assert!(
        lookup["description"]
            .as_str()
            .is_some_and(|d| d.contains("`LOOKUP`") && d.contains("additionalOperations")),
        "{lookup}"
    );
    assert_eq!(lookup["requestBody"], alias["requestBody"]);
    assert_eq!(lookup["responses"], alias["responses"]);
    assert!(
        lookup.get("operationId").is_none(),
        "operation ids stay unique"
    );
}

#[tokio::test]
async fn headers_are_named_as_they_are_sent() {
    let spec = spec().await;
    let mut names = std::collections::BTreeSet::new();
    for (_, _, operation) in operations(&spec) {
        for response in operation["responses"]
            .as_object()
            .expect("responses")
            .values()
        {
            if let Some(headers) = response["headers"].as_object() {
                names.extend(headers.keys().cloned());
            }
        }
        for param in operation["parameters"].as_array().into_iter().flatten() {
            if param["in"] == "header" {
                names.insert(param["name"].as_str().expect("a name").to_owned());
            }
        }
    }

    for expected in [
        "ETag",
        "Location",
        "X-Total-Count",
        "WWW-Authenticate",
        "If-Match",
        "If-None-Match",
    ] {
        assert!(names.contains(expected), "{expected} in {names:?}");
    }
    for name in &names {
        assert_ne!(name, &name.to_ascii_uppercase(), "{name} is in capitals");
    }
}

#[tokio::test]
async fn every_error_status_has_a_real_example_of_its_own() {
    let spec = spec().await;
    let mut messages = std::collections::BTreeSet::new();
    for (path, method, operation) in operations(&spec) {
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let Ok(status) = status.parse::<u16>() else {
                continue;
            };
            if status < 400 {
                continue;
            }
            let media = response["content"]
                .as_object()
                .and_then(|content| content.values().next())
                .unwrap_or_else(|| panic!("{method} {path} {status} has a body"));
            let example = &media["schema"]["example"];
            assert_eq!(
                example["error_code"],
                serde_json::json!(1000 + status),
                "{method} {path} {status}: {example}"
            );
            let message = example["error_message"].as_str().unwrap_or_default();
            assert!(
                !message.is_empty() && message != "string",
                "{method} {path} {status}"
            );
            assert_eq!(
                media["schema"]["allOf"][0]["$ref"], "#/components/schemas/Error",
                "{method} {path} {status}"
            );
            messages.insert(message.to_owned());
        }
    }
    assert!(
        messages.len() > 10,
        "distinct examples, not one: {messages:?}"
    );
}

#[tokio::test]
async fn the_400_examples_of_bodies_and_parameters_name_their_field() {
    let spec = spec().await;
    let cases = [
        ("", "post", "code"),
        ("", "get", "filter"),
        ("/{id}", "get", "id"),
        ("/{id}", "patch", "url"),
        ("/{id}", "delete", "id"),
        ("/{id}/rotate_token", "post", "id"),
    ];
    for (path, method, field) in cases {
        let example = spec["paths"][format!("{POINTS}{path}")][method]["responses"]["400"]
            ["content"]["application/json; charset=utf-8"]["schema"]["example"]
            .clone();
        assert_eq!(
            example["error_details"]["field"], field,
            "{method} {path}: {example}"
        );
        assert!(
            example["error_message"]
                .as_str()
                .is_some_and(|m| m.starts_with(&format!("{field}: "))),
            "{method} {path}: {example}"
        );
    }
}

#[tokio::test]
async fn the_lookup_404_example_is_the_source_documents_body() {
    let spec = spec().await;

    let example = &spec["paths"][format!("{POINTS}/lookup")]["post"]["responses"]["404"]["content"]
        ["application/json; charset=utf-8"]["schema"]["example"];

    assert_eq!(
        example,
        &serde_json::json!({"error_code": 1404, "error_message": "Lookup failed"})
    );
}

#[tokio::test]
async fn the_point_example_keeps_its_groups_nested() {
    let spec = spec().await;

    let example = &spec["components"]["schemas"]["IntegrationPointBody"]["example"];

    let keys: Vec<&String> = example
        .as_object()
        .expect("an example object")
        .keys()
        .collect();
    assert!(keys.iter().all(|key| !key.contains('.')), "{keys:?}");
    for field in Field::ALL {
        let pointer = format!("/{}", field.path().replace('.', "/"));
        assert!(
            example.pointer(&pointer).is_some(),
            "{} in {example}",
            field.path()
        );
    }
}

#[tokio::test]
async fn swagger_ui_shows_the_finished_document() {
    let page = text(client(&TestService::default()).get("/docs").send().await).await;

    assert!(page.contains("x-additionalOperations"));
    assert!(page.contains("Trapper web hook, v2"), "the patch example");
}

#[tokio::test]
async fn the_lookup_alias_tells_of_the_lookup_method() {
    let spec = spec().await;

    let description = spec["paths"][format!("{POINTS}/lookup")]["post"]["description"]
        .as_str()
        .unwrap_or_default();

    assert!(description.contains("`LOOKUP`"), "{description}");
}

#[tokio::test]
async fn the_representation_documents_every_field_as_the_field_table_describes_it() {
    let spec = spec().await;
    let schemas = &spec["components"]["schemas"];
    for field in Field::ALL {
        let (schema, key) = match field.group() {
            None => ("IntegrationPointBody", field.key()),
            Some(Group::Opts) => ("IntegrationPointOpts", field.key()),
            Some(Group::Ext) => ("IntegrationPointExt", field.key()),
        };
        assert_eq!(
            schemas[schema]["properties"][key]["description"].as_str(),
            Some(field.description()),
            "{}",
            field.path()
        );
    }
}

#[tokio::test]
async fn request_bodies_describe_their_fields_as_the_field_table_does() {
    let spec = spec().await;
    let schemas = &spec["components"]["schemas"];
    for schema in ["CreateIntegrationPointBody", "PatchIntegrationPointBody"] {
        for field in Field::ALL.into_iter().filter(|f| f.group().is_none()) {
            let property = &schemas[schema]["properties"][field.key()];
            assert_eq!(
                property["description"].as_str(),
                Some(field.description()),
                "{schema}.{}",
                field.path()
            );
        }
    }
    for (schema, group) in [
        ("OptsBody", Group::Opts),
        ("PatchOptsBody", Group::Opts),
        ("ExtBody", Group::Ext),
    ] {
        for field in group.fields() {
            assert_eq!(
                schemas[schema]["properties"][field.key()]["description"].as_str(),
                Some(field.description()),
                "{schema}.{}",
                field.key()
            );
        }
    }
}

#[tokio::test]
async fn swagger_ui_is_served_at_docs() {
    let response = client(&TestService::default()).get("/docs").send().await;

    assert_eq!(response.0.status().as_u16(), 200);
    assert!(header(&response, "content-type").is_some_and(|t| t.starts_with("text/html")));
    assert!(text(response).await.contains("swagger"));
}

#[tokio::test]
async fn the_document_cites_nothing_outside_the_repository() {
    let document = spec().await.to_string();

    for outside in ["contract", "§", "../", "shared/spec"] {
        assert!(!document.contains(outside), "{outside:?} in the document");
    }
}

#[tokio::test]
async fn the_change_feed_is_documented_as_json_and_as_an_event_stream() {
    let spec = spec().await;

    let operation = &spec["paths"][format!("{POINTS}/changes")]["get"];
    let content = &operation["responses"]["200"]["content"];
    let parameters: Vec<&str> = operation["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    let list_headers = &spec["paths"][POINTS]["get"]["responses"]["200"]["headers"];

    assert!(content["application/json; charset=utf-8"]["schema"].is_object());
    assert!(content["text/event-stream"].is_object());
    assert_eq!(
        parameters,
        [
            "since",
            "limit",
            "wait",
            "mask",
            "flat",
            "Accept",
            "Last-Event-Id"
        ]
    );
    assert!(list_headers["X-Revision"].is_object(), "{list_headers}");
}

/// The schemas whose properties are fields: (schema, the group whose members
/// it holds, or `None` for the ungrouped fields; whether it is a create body).
const FIELD_SCHEMAS: [(&str, Option<Group>, bool); 8] = [
    ("CreateIntegrationPointBody", None, true),
    ("OptsBody", Some(Group::Opts), true),
    ("PatchIntegrationPointBody", None, false),
    ("PatchOptsBody", Some(Group::Opts), false),
    ("ExtBody", Some(Group::Ext), false),
    ("IntegrationPointBody", None, false),
    ("IntegrationPointOpts", Some(Group::Opts), false),
    ("IntegrationPointExt", Some(Group::Ext), false),
];

/// What the document must say of a field's values: what the service checks.
fn assert_constraints(property: &Value, field: Field, place: &str) {
    let path = field.path();
    match field.kind() {
        FieldKind::Id => assert_eq!(property["format"], "uuid", "{place}: {path}"),
        FieldKind::Text => {
            assert_eq!(property["type"], "string", "{place}: {path}");
            let min = Some(field.min_chars()).filter(|min| *min > 0);
            assert_eq!(
                property["minLength"].as_u64(),
                min.map(|m| m as u64),
                "{place}: {path}"
            );
            assert_eq!(
                property["maxLength"].as_u64(),
                field.max_chars().map(|m| m as u64),
                "{place}: {path}"
            );
            assert_eq!(
                property["pattern"].as_str(),
                field.pattern(),
                "{place}: {path}"
            );
        }
        FieldKind::Bool => assert_eq!(property["type"], "boolean", "{place}: {path}"),
        FieldKind::Timestamp => assert_eq!(property["format"], "date-time", "{place}: {path}"),
    }
}

#[tokio::test]
async fn every_field_property_states_the_constraints_the_service_checks() {
    let spec = spec().await;
    let schemas = &spec["components"]["schemas"];
    for (schema, group, create) in FIELD_SCHEMAS {
        for field in Field::ALL.into_iter().filter(|f| f.group() == group) {
            let property = &schemas[schema]["properties"][field.key()];
            let place = format!("{schema}.{}", field.key());
            assert_constraints(property, field, &place);
            let expected_default = match field.default_value() {
                FieldDefault::Text(text) if create => Some(json!(text)),
                FieldDefault::Bool(value) if create => Some(json!(value)),
                FieldDefault::Text(_)
                | FieldDefault::Bool(_)
                | FieldDefault::Required
                | FieldDefault::Generated => None,
            };
            assert_eq!(
                property.get("default"),
                expected_default.as_ref(),
                "{place}"
            );
        }
    }
    for field in Field::ALL.into_iter().filter(|f| f.group().is_some()) {
        let property = &schemas["IntegrationPointBody"]["properties"][field.path()];
        assert_eq!(
            property["description"].as_str(),
            Some(field.description()),
            "flat {}",
            field.path()
        );
        assert_constraints(property, field, "IntegrationPointBody (flat)");
    }
}

#[tokio::test]
async fn lookup_keys_are_described_but_not_constrained() {
    // A lookup value outside a field's rules matches nothing: it is no 400.
    let spec = spec().await;
    let properties = &spec["components"]["schemas"]["LookupFieldBody"]["properties"];
    for field in [Field::Id, Field::Code, Field::TokenLocal] {
        let property = &properties[field.key()];
        assert_eq!(property["description"].as_str(), Some(field.description()));
        for keyword in ["format", "minLength", "maxLength", "pattern"] {
            assert!(
                property.get(keyword).is_none(),
                "{}: {keyword}",
                field.path()
            );
        }
    }
}
