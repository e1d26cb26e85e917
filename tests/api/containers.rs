//! The container files, which cannot be run here: every setting they pass
//! must be one the service knows, and the probes must be the service's.

use crate::process::run;

const COMPOSE: &str = include_str!("../../docker-compose.yml");
const DOCKERFILE: &str = include_str!("../../Dockerfile");

/// A YAML scalar as written after `key:` or `- KEY=`, unquoted.
fn scalar(raw: &str) -> String {
    let raw = raw.trim();
    if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return inner.replace("''", "'");
    }
    if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        return inner.replace("\\\"", "\"").replace("\\\\", "\\");
    }
    // An unquoted scalar ends at a comment.
    raw.split(" #")
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_owned()
}

/// Every `APP__…` variable a file sets, in the forms compose and Dockerfiles
/// use: `KEY: value`, `- KEY=value` and `ENV KEY=value`.
fn app_variables(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line
                .strip_prefix("- ")
                .or_else(|| line.strip_prefix("ENV "))
                .unwrap_or(line);
            if !line.starts_with("APP__") {
                return None;
            }
            let split = line.find([':', '=']).expect("KEY: value or KEY=value");
            Some((line[..split].to_owned(), scalar(&line[split + 1..])))
        })
        .collect()
}

#[test]
fn compose_values_are_unquoted_as_yaml_reads_them() {
    let text = "  APP__A: plain # note\n  APP__B: 'it''s'\n  - APP__C=\"x\"\n  OTHER: 1\n";

    assert_eq!(
        app_variables(text),
        [
            ("APP__A".to_owned(), "plain".to_owned()),
            ("APP__B".to_owned(), "it's".to_owned()),
            ("APP__C".to_owned(), "x".to_owned()),
        ]
    );
}

#[test]
fn every_variable_the_container_files_pass_is_a_valid_setting() {
    // Arrange
    let variables: Vec<(String, String)> = app_variables(COMPOSE)
        .into_iter()
        .chain(app_variables(DOCKERFILE))
        .collect();
    assert!(
        variables.iter().any(|(key, _)| key == "APP__DATABASE__URL"),
        "the parser found the compose variables: {variables:?}"
    );
    let env: Vec<(&str, &str)> = variables
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();

    // Act: check-config refuses unknown keys and malformed values.
    let output = run(&["check-config"], &env);

    // Assert
    assert!(
        output.status.success(),
        "{env:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn compose_probes_readiness_and_starts_the_service_after_a_healthy_database() {
    assert!(
        COMPOSE.contains("/health/ready"),
        "the service's healthcheck"
    );
    assert!(COMPOSE.contains("pg_isready"), "the database's healthcheck");
    assert!(
        COMPOSE.contains("condition: service_healthy"),
        "the service waits for the database"
    );
}

#[test]
fn the_image_is_built_in_stages_and_runs_as_a_user() {
    let stages = DOCKERFILE
        .lines()
        .filter(|line| line.starts_with("FROM "))
        .count();
    let user = DOCKERFILE
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("USER "));

    assert!(stages >= 2, "a build stage and a runtime stage");
    assert!(
        user.is_some_and(|user| user.trim() != "root" && user.trim() != "0"),
        "runs as {user:?}"
    );
}
