//! The command line, run as an operator runs it.

use std::process::Output;

use serde_json::Value;

use crate::process::{ScratchDir, ServiceProcess, run};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what}: {}\nstdout: {}\nstderr: {}",
        output.status,
        stdout(output),
        stderr(output)
    );
}

#[test]
fn help_names_every_command_with_examples() {
    let output = run(&["--help"], &[]);

    assert_success("--help", &output);
    let help = stdout(&output);
    for expected in [
        "serve",
        "migrate",
        "openapi",
        "check-config",
        "--config <FILE>",
        "APP__DATABASE__URL",
        "Examples:",
    ] {
        assert!(help.contains(expected), "{expected:?} in:\n{help}");
    }
}

#[test]
fn every_subcommand_has_its_own_help() {
    for command in ["serve", "migrate", "openapi", "check-config"] {
        let output = run(&[command, "--help"], &[]);

        assert_success(command, &output);
        assert!(
            stdout(&output).contains(&format!("integration-points {command}")),
            "{command}: {}",
            stdout(&output)
        );
    }
}

#[test]
fn openapi_prints_the_document_with_every_path() {
    let output = run(&["openapi"], &[]);

    assert_success("openapi", &output);
    let document: Value = serde_json::from_str(&stdout(&output)).expect("JSON on stdout");
    assert!(document["openapi"].is_string(), "{document}");
    for path in [
        "/rest/v1/service/integration_points",
        "/rest/v1/service/integration_points/{id}",
        "/rest/v1/service/integration_points/lookup",
        "/rest/v1/service/integration_points/{id}/rotate_token",
    ] {
        assert!(document["paths"][path].is_object(), "{path}");
    }
}

#[test]
fn openapi_needs_no_valid_setting() {
    let output = run(
        &["openapi"],
        &[
            ("APP__DATABASE__URL", "not-a-database"),
            ("APP__LOG__FORMAT", "xml"),
            ("APP__SERVER__PROT", "9000"),
        ],
    );

    assert_success("openapi with invalid settings", &output);
    let document: Value = serde_json::from_str(&stdout(&output)).expect("JSON on stdout");
    assert!(document["paths"].is_object(), "{document}");
}

#[test]
fn check_config_names_the_valid_values_of_an_enum_setting() {
    let cases = [
        (
            ("APP__LOG__FORMAT", "xml"),
            "log.format",
            "`xml` is not a valid value; valid values: pretty, json",
        ),
        (
            (
                "APP__AUTH__KEYS",
                r#"[{"name": "ops", "key": "0123456789abcdef-key", "scopes": ["admin"]}]"#,
            ),
            "auth.keys",
            "`admin` is not a valid value; valid values: read, write",
        ),
        (
            ("APP__DATABASE__SQLITE_SYNCHRONOUS", "off"),
            "database.sqlite_synchronous",
            "`off` is not a valid value; valid values: full, normal",
        ),
    ];
    for (variable, key, expected) in cases {
        let output = run(&["check-config"], &[variable]);

        assert!(!output.status.success(), "{key}: {}", stdout(&output));
        let message = stderr(&output);
        assert!(
            message.contains(expected) && message.contains(key),
            "{key}: {message}"
        );
        assert!(!message.contains("variant constructor"), "{key}: {message}");
    }
}

#[test]
fn check_config_prints_the_settings_with_the_password_redacted() {
    let output = run(
        &["check-config"],
        &[
            ("APP__DATABASE__URL", "postgres://app:s3cret@db:5432/points"),
            ("APP__SERVER__PORT", "9123"),
        ],
    );

    assert_success("check-config", &output);
    let printed = stdout(&output);
    assert!(printed.contains("port = 9123"), "{printed}");
    assert!(
        printed.contains("postgres://app:<redacted>@db:5432/points"),
        "{printed}"
    );
    assert!(!printed.contains("s3cret"), "{printed}");
}

#[test]
fn check_config_rejects_an_unknown_key_and_exits_non_zero() {
    let output = run(&["check-config"], &[("APP__SERVER__PROT", "9000")]);

    assert!(!output.status.success(), "{}", stdout(&output));
    assert!(stderr(&output).contains("prot"), "{}", stderr(&output));
}

#[test]
fn migrate_applies_lists_and_reverts_migrations_on_a_sqlite_file() {
    // Arrange
    let scratch = ScratchDir::new();
    let url = scratch.sqlite_url();
    let env = [("APP__DATABASE__URL", url.as_str())];
    let status_lines = || {
        let output = run(&["migrate", "status"], &env);
        assert_success("migrate status", &output);
        stdout(&output)
            .lines()
            .map(|line| line.split(' ').next().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };

    // Act & Assert
    let before = status_lines();
    let migrations = before.len();
    assert!(migrations > 0, "status lists the migrations");
    assert_eq!(before, vec!["pending"; migrations]);
    assert_success("migrate up", &run(&["migrate", "up"], &env));
    assert_eq!(status_lines(), vec!["applied"; migrations]);
    assert_success("migrate down", &run(&["migrate", "down"], &env));
    let mut after_down = vec!["applied"; migrations - 1];
    after_down.push("pending");
    assert_eq!(status_lines(), after_down);
}

/// The threads of a process whose name is `name` (Linux truncates names to
/// 15 bytes).
fn threads_named(pid: u32, name: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the process's threads are listed")
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_as_many_worker_threads_as_configured() {
    for workers in [1, 3] {
        // Arrange
        let scratch = ScratchDir::new();
        let url = scratch.sqlite_url();
        let count = workers.to_string();

        // Act
        let service = ServiceProcess::start(&[
            ("APP__DATABASE__URL", &url),
            ("APP__SERVER__WORKER_THREADS", &count),
        ])
        .await;

        // Assert
        assert_eq!(
            threads_named(service.pid(), "tokio-rt-worker"),
            workers,
            "APP__SERVER__WORKER_THREADS={workers}"
        );
    }
}

#[test]
fn secrets_may_come_from_files_named_by_file_variables() {
    // Arrange: files as Docker writes secrets, with a trailing line break.
    let scratch = ScratchDir::new();
    let url_file = scratch.path().join("database_url");
    let keys_file = scratch.path().join("auth_keys");
    std::fs::write(&url_file, "postgres://app:s3cret@db:5432/points\n").expect("a file");
    std::fs::write(
        &keys_file,
        r#"[{"name": "from-file", "key": "0123456789abcdef-key", "scopes": ["read"]}]"#.to_owned()
            + "\n",
    )
    .expect("a file");
    let (url_path, keys_path) = (
        url_file.display().to_string(),
        keys_file.display().to_string(),
    );

    // Act
    let output = run(
        &["check-config"],
        &[
            ("APP__DATABASE__URL_FILE", &url_path),
            ("APP__AUTH__KEYS_FILE", &keys_path),
        ],
    );
    let both = run(
        &["check-config"],
        &[
            ("APP__DATABASE__URL_FILE", &url_path),
            ("APP__DATABASE__URL", "sqlite::memory:"),
        ],
    );
    let missing = run(
        &["check-config"],
        &[("APP__AUTH__KEYS_FILE", "/no/such/secret")],
    );

    // Assert
    assert_success("check-config", &output);
    let printed = stdout(&output);
    assert!(
        printed.contains("postgres://app:<redacted>@db:5432/points\""),
        "{printed}"
    );
    assert!(printed.contains("from-file"), "{printed}");
    assert!(!printed.contains("s3cret"), "{printed}");
    assert!(!both.status.success());
    assert!(
        stderr(&both).contains("APP__DATABASE__URL and APP__DATABASE__URL_FILE are both set"),
        "{}",
        stderr(&both)
    );
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("APP__AUTH__KEYS_FILE: cannot read /no/such/secret"),
        "{}",
        stderr(&missing)
    );
}
