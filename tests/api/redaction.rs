//! A database password, written in the URL's user info or as a `password`
//! parameter, never reaches what the binary prints: `serve`'s start-up log,
//! `check-config` and `migrate status`.

use std::process::Output;

use crate::helpers::{self, Backend};
use crate::process::{ServiceProcess, run};

const SECRET: &str = "s3cret-Pa55";

/// `url` written with the password both ways, each with what it prints as.
fn both_forms(url: &str) -> [(String, String); 2] {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let (user, host_and_path) = rest.split_once('@').expect("a URL with a user");
    let separator = if host_and_path.contains('?') {
        '&'
    } else {
        '?'
    };
    [
        (
            format!("{scheme}://{user}:{SECRET}@{host_and_path}"),
            format!("{scheme}://{user}:<redacted>@{host_and_path}"),
        ),
        (
            format!("{url}{separator}password={SECRET}"),
            format!("{url}{separator}password=<redacted>"),
        ),
    ]
}

/// Nothing is listening on port 1: connecting fails at once.
const UNREACHABLE: &str = "postgres://app@127.0.0.1:1/points";

fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn check_config_shows_the_database_url_with_either_password_redacted() {
    for (url, redacted) in both_forms("postgres://app@db:5432/points?sslmode=require") {
        // Act
        let output = run(&["check-config"], &[("APP__DATABASE__URL", &url)]);

        // Assert
        let text = printed(&output);
        assert!(output.status.success(), "{text}");
        assert!(
            text.contains(&redacted),
            "{url} shows as {redacted}:\n{text}"
        );
        assert!(!text.contains(SECRET), "{url}:\n{text}");
    }
}

#[test]
fn migrate_status_names_an_unreachable_database_with_either_password_redacted() {
    for (url, redacted) in both_forms(UNREACHABLE) {
        // Act
        let output = run(&["migrate", "status"], &[("APP__DATABASE__URL", &url)]);

        // Assert
        let text = printed(&output);
        assert!(!output.status.success(), "{text}");
        assert!(
            text.contains(&redacted),
            "{url} shows as {redacted}:\n{text}"
        );
        assert!(!text.contains(SECRET), "{url}:\n{text}");
    }
}

#[test]
#[pg_gate::requires_postgres]
fn migrate_status_on_a_reachable_database_prints_no_password() {
    let Some((settings, _)) = helpers::test_settings(Backend::Postgres) else {
        return;
    };
    // Trust authentication ignores the password, which lets it stand for a real one.
    for (url, _) in both_forms(&settings.database.url) {
        // Act
        let output = run(
            &["migrate", "status"],
            &[
                ("APP__DATABASE__URL", &url),
                ("APP__DATABASE__SCHEMA", &settings.database.schema),
                ("APP__LOG__LEVEL", "trace"),
            ],
        );

        // Assert
        let text = printed(&output);
        assert!(output.status.success(), "{text}");
        assert!(text.contains("pending"), "{text}");
        assert!(!text.contains(SECRET), "{url}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn serve_logs_the_database_it_starts_on_with_either_password_redacted() {
    let Some((settings, _)) = helpers::test_settings(Backend::Postgres) else {
        return;
    };
    for (url, redacted) in both_forms(&settings.database.url) {
        // Act
        let mut service = ServiceProcess::start(&[
            ("APP__DATABASE__URL", &url),
            ("APP__DATABASE__SCHEMA", &settings.database.schema),
        ])
        .await;
        let ready = service
            .wait_for_log(|line| line["fields"]["message"] == "database ready")
            .await;

        // Assert
        assert_eq!(ready["fields"]["database"], redacted.as_str(), "{ready}");
        let output = service.lines().join("\n");
        assert!(!output.contains(SECRET), "{url}:\n{output}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_logs_an_unreachable_database_with_either_password_redacted() {
    for (url, redacted) in both_forms(UNREACHABLE) {
        // Act: serve starts without its database and says which one it waits for.
        let mut service = ServiceProcess::start_listening(&[("APP__DATABASE__URL", &url)]).await;
        let waiting = service
            .wait_for_log(|line| line["fields"]["database"].is_string())
            .await;

        // Assert
        assert_eq!(
            waiting["fields"]["database"],
            redacted.as_str(),
            "{waiting}"
        );
        let output = service.lines().join("\n");
        assert!(!output.contains(SECRET), "{url}:\n{output}");
    }
}
