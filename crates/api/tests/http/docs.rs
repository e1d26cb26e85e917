//! The OpenAPI document and Swagger UI.

use api::{ApiConfig, openapi_json};
use domain::integration_point::{Field, Group};
use serde_json::Value;

use crate::fake::FakeService;
use crate::{POINTS, client, header, text};

async fn spec() -> Value {
    let response = client(&FakeService::default())
        .get("/openapi.json")
        .send()
        .await;
    assert_eq!(response.0.status().as_u16(), 200);
    serde_json::from_str(&text(response).await).expect("a JSON document")
}

#[tokio::test]
async fn the_document_served_is_the_one_the_cli_prints() {
    let printed: Value =
        serde_json::from_str(&openapi_json(FakeService::default(), ApiConfig::default()))
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
    let paths = spec["paths"].as_object().expect("paths");
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().expect("operations") {
            assert_eq!(
                operation["security"],
                serde_json::json!([{"apiKey": []}]),
                "{method} {path}"
            );
        }
    }
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
    let response = client(&FakeService::default()).get("/docs").send().await;

    assert_eq!(response.0.status().as_u16(), 200);
    assert!(header(&response, "content-type").is_some_and(|t| t.starts_with("text/html")));
    assert!(text(response).await.contains("swagger"));
}
