//! The container files, which cannot be run here: every setting they pass
//! must be one the service knows, and the probes must be the service's.

use crate::process::{ScratchDir, ServiceProcess, run};

const COMPOSE: &str = include_str!("../../docker-compose.yml");
const DOCKERFILE: &str = include_str!("../../Dockerfile");
const GITIGNORE: &str = include_str!("../../.gitignore");

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
        COMPOSE.contains(r#"test: ["CMD", "integration-points", "healthcheck"]"#),
        "the service's healthcheck is the binary's own"
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

#[test]
fn compose_publishes_on_loopback_and_takes_the_key_from_an_uncommitted_env_file() {
    let published: Vec<&str> = COMPOSE
        .lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix("- \""))
        .filter(|mapping| mapping.ends_with(":8080\""))
        .collect();

    assert_eq!(published, ["127.0.0.1:8080:8080\""], "the published ports");
    assert!(
        COMPOSE.contains("env_file: service.env"),
        "the key's env file"
    );
    assert!(
        GITIGNORE.lines().any(|line| line == "/service.env"),
        "service.env is not committed"
    );
    let settings = || {
        COMPOSE
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
    };
    assert!(
        !settings().any(|line| line.contains("APP__AUTH__KEYS") || line.contains("sha256:")),
        "no key is committed in the compose file"
    );
}

#[test]
fn the_image_has_a_stripped_binary_listens_on_every_interface_and_probes_itself() {
    let runtime = &DOCKERFILE[DOCKERFILE.rfind("\nFROM ").expect("a runtime stage")..];

    assert!(
        DOCKERFILE.contains("ENV CARGO_PROFILE_RELEASE_STRIP=symbols"),
        "the binary is stripped"
    );
    assert!(
        runtime.contains("ENV APP__SERVER__HOST=0.0.0.0"),
        "{runtime}"
    );
    assert!(
        runtime.contains(r#"CMD ["integration-points", "healthcheck"]"#),
        "the HEALTHCHECK runs the binary"
    );
    assert!(!DOCKERFILE.contains("curl"), "no curl in the image");
    assert!(!COMPOSE.contains("curl"), "no curl in compose");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_exits_0_when_the_service_is_ready_and_1_saying_why_otherwise() {
    // Arrange: one service ready, one whose database does not answer, and a
    // port where nothing listens.
    let scratch = ScratchDir::new();
    let url = scratch.sqlite_url();
    let ready = ServiceProcess::start(&[("APP__DATABASE__URL", &url)]).await;
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let unreachable = format!("postgres://postgres@{nowhere}/points");
    let waiting = ServiceProcess::start_listening(&[
        ("APP__DATABASE__URL", &unreachable),
        ("APP__DATABASE__CONNECT_TIMEOUT_MS", "500"),
    ])
    .await;
    let probe = |port: u16, database: &str| {
        let port = port.to_string();
        run(
            &["healthcheck"],
            &[
                ("APP__SERVER__PORT", &port),
                ("APP__DATABASE__URL", database),
                ("APP__DATABASE__ACQUIRE_TIMEOUT_MS", "1000"),
            ],
        )
    };

    // Act
    let on_ready = probe(ready.port, &url);
    let on_waiting = probe(waiting.port, &unreachable);
    let on_nothing = probe(nowhere.port(), &url);

    // Assert
    let stderr =
        |output: &std::process::Output| String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(on_ready.status.success(), "{}", stderr(&on_ready));
    assert_eq!(on_waiting.status.code(), Some(1), "{}", stderr(&on_waiting));
    assert!(
        stderr(&on_waiting).contains("not ready: /health/ready answered 503"),
        "{}",
        stderr(&on_waiting)
    );
    assert_eq!(on_nothing.status.code(), Some(1), "{}", stderr(&on_nothing));
    assert!(
        stderr(&on_nothing).contains("not ready: nothing answers"),
        "{}",
        stderr(&on_nothing)
    );
}
