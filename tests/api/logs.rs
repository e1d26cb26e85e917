//! No secret reaches a log line (contract §6): the real binary, logging at
//! TRACE level for every target, serves requests that carry known secret
//! values, and its whole output is searched for them.
//!
//! A child process, not a server in this test process: its logging is the
//! production set-up (`RUST_LOG`, the JSON format), and this process's global
//! subscriber stays out of the way.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{self, Backend, POINTS};
use crate::process::{PROCESS_BOUND, ScratchDir, ServiceProcess};

/// The API key; `api_key` names it `log-test` in the logs.
const API_KEY: &str = "api-key-SECRET-0001-abcdef";
/// A key that is not configured.
const WRONG_KEY: &str = "wrong-key-SECRET-0002-abcdef";
/// Secrets a client stores.
const TOKEN_LOCAL: &str = "5ec2e75ec2e75ec2e75ec2e75ec2e7a1";
const TOKEN_REMOTE: &str = "remote-SECRET-0003";
const TOKEN_REMOTE2: &str = "remote2-SECRET-0004";
const PATCHED_REMOTE: &str = "remote-SECRET-0005";
const REJECTED_REMOTE: &str = "rejected-SECRET-0006";
/// Other content of request bodies.
const TITLE: &str = "title-SECRET-0007";
const COMMENT: &str = "comment-SECRET-0008";
/// The database password, where there is one.
const DB_PASSWORD: &str = "db-SECRET-0009";

/// A client of the child process, sending the key.
struct Client {
    http: reqwest::Client,
    address: String,
}

impl Client {
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        key: &str,
    ) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a valid method");
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the request is sent");
        let status = response.status();
        let text = response.text().await.expect("a body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// A list request whose `filter` names the secrets.
fn filtered_list() -> String {
    let filter = json!({"token_remote": PATCHED_REMOTE, "token_local": {"in": [TOKEN_LOCAL]}});
    let url = reqwest::Url::parse_with_params(
        &format!("http://host{POINTS}"),
        [("filter", filter.to_string())],
    )
    .expect("a valid URL");
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

/// Exercises every operation with the secrets in bodies, query strings and
/// headers, including the paths where something fails; returns the token
/// that rotation generated, a secret too.
async fn exercise(client: &Client) -> String {
    let created = client
        .send(
            "POST",
            POINTS,
            Some(json!({
                "code": "log-test",
                "token_local": TOKEN_LOCAL,
                "token_remote": TOKEN_REMOTE,
                "token_remote2": TOKEN_REMOTE2,
                "opts": {"title": TITLE, "comment": COMMENT},
            })),
            API_KEY,
        )
        .await;
    assert_eq!(created.0, StatusCode::OK, "{}", created.1);
    let item = format!("{POINTS}/{}", created.1["id"].as_str().expect("an id"));

    let cases = [
        (
            "PATCH",
            item.clone(),
            Some(json!({"token_remote": PATCHED_REMOTE})),
            StatusCode::OK,
        ),
        (
            "LOOKUP",
            POINTS.to_owned(),
            Some(json!(TOKEN_LOCAL)),
            StatusCode::OK,
        ),
        (
            "POST",
            format!("{POINTS}/lookup"),
            Some(json!({"token_local": TOKEN_LOCAL})),
            StatusCode::OK,
        ),
        ("GET", item.clone(), None, StatusCode::OK),
        ("GET", filtered_list(), None, StatusCode::OK),
        // A unique violation: PostgreSQL's error detail names the value.
        (
            "POST",
            POINTS.to_owned(),
            Some(json!({"code": "other", "token_local": TOKEN_LOCAL})),
            StatusCode::CONFLICT,
        ),
        (
            "POST",
            POINTS.to_owned(),
            Some(json!({"code": "bad", "token_remote": REJECTED_REMOTE, "url": "nope"})),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (method, path, body, expected) in cases {
        let (status, reply) = client.send(method, &path, body, API_KEY).await;
        assert_eq!(status, expected, "{method} {path}: {reply}");
    }
    let (status, _) = client.send("GET", POINTS, None, WRONG_KEY).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, rotated) = client
        .send("POST", &format!("{item}/rotate_token"), None, API_KEY)
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    rotated["token_local"].as_str().expect("a token").to_owned()
}

/// How many requests [`exercise`] sends.
const REQUESTS: usize = 10;

/// The whole output, once the access lines of `requests` requests are in:
/// the reader of the child's pipe may lag behind the responses.
async fn output_once_answered(service: &ServiceProcess, requests: usize) -> String {
    let deadline = Instant::now() + PROCESS_BOUND;
    loop {
        let output = service.lines().join("\n");
        let answered = output
            .lines()
            .filter(|line| line.contains(r#""message":"answered""#))
            .count();
        if answered >= requests {
            return output;
        }
        assert!(
            Instant::now() < deadline,
            "{answered} of {requests} requests logged:\n{output}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts the binary at TRACE level with the key configured, exercises it,
/// and checks its output.
async fn no_secret_is_logged(database: &[(&str, &str)]) {
    // Arrange
    let keys =
        json!([{"name": "log-test", "key": API_KEY, "scopes": ["read", "write"]}]).to_string();
    let mut env = vec![("RUST_LOG", "trace"), ("APP__AUTH__KEYS", keys.as_str())];
    env.extend_from_slice(database);
    let service = ServiceProcess::start(&env).await;
    let client = Client {
        http: reqwest::Client::new(),
        address: service.address.clone(),
    };

    // Act
    let rotated_token = exercise(&client).await;

    // Assert
    let output = output_once_answered(&service, REQUESTS).await;
    assert!(
        output.contains(r#""api_key":"log-test""#),
        "the key's name is logged"
    );
    let secrets = [
        API_KEY,
        WRONG_KEY,
        TOKEN_LOCAL,
        TOKEN_REMOTE,
        TOKEN_REMOTE2,
        PATCHED_REMOTE,
        REJECTED_REMOTE,
        TITLE,
        COMMENT,
        DB_PASSWORD,
        &rotated_token,
    ];
    for secret in secrets {
        let leaks: Vec<&str> = output
            .lines()
            .filter(|line| line.contains(secret))
            .collect();
        assert!(
            leaks.is_empty(),
            "{secret} is logged:\n{}",
            leaks.join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_log_on_sqlite() {
    let scratch = ScratchDir::new();
    let url = scratch.sqlite_url();

    no_secret_is_logged(&[("APP__DATABASE__URL", &url)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn no_secret_reaches_the_log_on_postgres() {
    let Some((settings, _)) = helpers::test_settings(Backend::Postgres) else {
        return;
    };
    let url = helpers::with_password(&settings.database.url, DB_PASSWORD);

    no_secret_is_logged(&[
        ("APP__DATABASE__URL", &url),
        ("APP__DATABASE__SCHEMA", &settings.database.schema),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keys_the_log_warns_that_nobody_is_authenticated() {
    // Arrange
    let scratch = ScratchDir::new();
    let url = scratch.sqlite_url();

    // Act
    let mut service = ServiceProcess::start(&[("APP__DATABASE__URL", &url)]).await;

    // Assert
    let warning = service
        .wait_for_log(|line| {
            line["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("WITHOUT authentication"))
        })
        .await;
    assert_eq!(warning["level"], "WARN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pretty_format_writes_no_colour_codes_where_no_terminal_reads_it() {
    // Arrange: stdout is a pipe, as under a process manager or `> file`.
    let scratch = ScratchDir::new();
    let url = scratch.sqlite_url();
    let mut child = crate::process::binary()
        .env("APP__DATABASE__URL", &url)
        .env("APP__SERVER__PORT", "0")
        .env("APP__LOG__FORMAT", "pretty")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the service starts");
    let stdout = child.stdout.take().expect("stdout is piped");

    // Act: its lines up to the one saying it listens.
    let reading = tokio::task::spawn_blocking(move || {
        use std::io::BufRead as _;
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let listening = line.contains("listening");
            lines.push(line);
            if listening {
                break;
            }
        }
        lines
    });
    let lines = tokio::time::timeout(PROCESS_BOUND, reading).await;
    let _ = child.kill();
    let _ = child.wait();

    // Assert
    let lines = lines
        .expect("the service says it listens in time")
        .expect("the reader finishes");
    assert!(
        lines.iter().any(|line| line.contains("listening")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().all(|line| !line.contains('\u{1b}')),
        "escape codes in {lines:#?}"
    );
}
