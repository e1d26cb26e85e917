//! `export` and `import` with the real binary: moving every point from one
//! database to another leaves nothing behind and changes nothing.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::process::{Output, Stdio};

use api::testing::with_defaults;
use serde_json::{Value, json};

use crate::helpers::postgres_url;
use crate::process::{ScratchDir, binary};

/// Runs `command` (export or import, with its flags) on the database `env`
/// names, stdin from `input`, stdout into `output`.
fn transfer(args: &[&str], env: &[(&str, &str)], input: Option<&Path>, output: &Path) -> Output {
    let result = run_transfer(args, env, input, output);
    assert!(
        result.status.success(),
        "{args:?}: {}\nstderr: {}\nstdout: {}",
        result.status,
        String::from_utf8_lossy(&result.stderr),
        std::fs::read_to_string(output).unwrap_or_default()
    );
    result
}

/// [`transfer`], whatever the exit status.
fn run_transfer(
    args: &[&str],
    env: &[(&str, &str)],
    input: Option<&Path>,
    output: &Path,
) -> Output {
    let stdin = match input {
        Some(path) => Stdio::from(File::open(path).expect("the input file")),
        None => Stdio::null(),
    };
    binary()
        .args(args)
        .envs(env.iter().copied())
        .env("APP__LOG__LEVEL", "warn")
        .stdin(stdin)
        .stdout(Stdio::from(File::create(output).expect("the output file")))
        .output()
        .expect("the binary runs")
}

/// `count` points as an export writes them, in id order, every field used.
fn write_points(path: &Path, count: u128) {
    let mut out = BufWriter::new(File::create(path).expect("the points file"));
    for n in 1..=count {
        let point = json!({
            "id": uuid::Uuid::from_u128((0x0190 << 112) + n).to_string(),
            "code": format!("code-{n:06}"),
            "type": if n % 3 == 0 { "public" } else { "telegram" },
            "token_local": format!("{n:032x}"),
            "token_remote": format!("remote-{n}"),
            "token_remote2": "",
            "url": format!("https://example.com/hook/{n}"),
            "recv_svcscriptcode": "ws_hook",
            "recv_svcscriptcode_ws": "",
            "send_svcscriptcode": "send_to_web",
            "send_svcscriptcode_ws": "",
            "opts": {
                "title": format!("Бот «{n}»"),
                "comment": "line\nbreak \"quoted\"",
                "allow_files_api": n % 2 == 0,
                "issync": n % 5 == 0,
            },
            "ext": {
                "ct": format!("2019-08-28T13:34:{:02}.{:03}Z", n % 60, n % 1000),
                "lwt": "2024-01-02T03:04:05.006Z",
            },
        });
        writeln!(out, "{point}").expect("a line written");
    }
    out.flush().expect("the points file written");
}

fn stdout_of(path: &Path) -> String {
    std::fs::read_to_string(path).expect("the output file")
}

/// Drops a PostgreSQL schema a test made; best effort, as the database is a
/// throwaway one anyway.
async fn drop_schema(url: &str, schema: &str) {
    if let Ok(db) = infrastructure::connect(&crate::helpers::one_connection(url)).await {
        let _ = sea_orm::ConnectionTrait::execute_unprepared(
            db.connection(),
            &format!(r#"DROP SCHEMA IF EXISTS "{schema}" CASCADE"#),
        )
        .await;
        db.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn a_round_trip_sqlite_postgres_sqlite_of_100_000_points_exports_identically() {
    let _turn = crate::helpers::exclusive_turn().await;
    // Arrange
    let Some(postgres) = postgres_url() else {
        return;
    };
    let scratch = ScratchDir::new();
    let dir = scratch.path();
    let schema = format!("e2e_transfer_{}", uuid::Uuid::now_v7().simple());
    let (sqlite_a, sqlite_b) = (ScratchDir::new(), ScratchDir::new());
    let (url_a, url_b) = (sqlite_a.sqlite_url(), sqlite_b.sqlite_url());
    let databases: [Vec<(&str, &str)>; 3] = [
        vec![("APP__DATABASE__URL", &url_a)],
        vec![
            ("APP__DATABASE__URL", &postgres),
            ("APP__DATABASE__SCHEMA", &schema),
        ],
        vec![("APP__DATABASE__URL", &url_b)],
    ];
    let input = dir.join("input.ndjson");
    write_points(&input, 100_000);
    let report = dir.join("import.txt");

    // Act: into SQLite and out, into PostgreSQL and out, into a new SQLite and out.
    let mut exports = Vec::new();
    let mut source = input.clone();
    for (step, env) in databases.iter().enumerate() {
        transfer(&["import"], env, Some(&source), &report);
        let summary = stdout_of(&report);
        let export = dir.join(format!("export-{step}.ndjson"));
        transfer(&["export"], env, None, &export);
        assert_eq!(
            summary.trim_end(),
            "created 100000, skipped 0, replaced 0, rejected 0",
            "import {step}"
        );
        exports.push(stdout_of(&export));
        source = export;
    }
    drop_schema(&postgres, &schema).await;

    // Assert: the first export says what the input said (the input's keys
    // are in another order), and the later ones say it in the same bytes.
    let original = stdout_of(&input);
    assert_eq!(exports[0].lines().count(), 100_000);
    for (number, (exported, given)) in exports[0].lines().zip(original.lines()).enumerate() {
        let exported: Value = serde_json::from_str(exported).expect("a JSON line");
        let given: Value = serde_json::from_str(given).expect("a JSON line");
        assert_eq!(exported, with_defaults(given), "line {}", number + 1);
    }
    for (step, export) in exports.iter().enumerate().skip(1) {
        assert!(
            *export == exports[0],
            "export {step} differs from the first"
        );
    }
}

/// The points of an export, one per line.
fn exported(export: &str) -> Vec<Value> {
    export
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// What an export writes of a point imported from [`line`]: the same, with
/// the table's defaults in the fields the line leaves out.
fn line_as_exported(n: u128, code: &str, title: &str) -> Value {
    with_defaults(serde_json::from_str(&line(n, code, title)).expect("a JSON line"))
}

/// One exported line: the point numbered `n` with this code and title.
fn line(n: u128, code: &str, title: &str) -> String {
    let id = uuid::Uuid::from_u128(n);
    format!(
        concat!(
            r#"{{"id":"{id}","code":"{code}","type":"public","token_local":"{n:032x}","#,
            r#""token_remote":"","token_remote2":"","url":"","recv_svcscriptcode":"","#,
            r#""recv_svcscriptcode_ws":"","send_svcscriptcode":"","send_svcscriptcode_ws":"","#,
            r#""opts":{{"title":"{title}","comment":"","allow_files_api":false,"issync":false}},"#,
            r#""ext":{{"ct":"2019-08-28T13:34:16.427Z","lwt":"2020-01-01T00:00:00.000Z"}}}}"#,
        ),
        id = id,
        code = code,
        n = n,
        title = title,
    )
}

#[test]
fn import_reports_each_rejected_line_by_number_and_fails_when_any_was() {
    // Arrange
    let scratch = ScratchDir::new();
    let dir = scratch.path();
    let url = scratch.sqlite_url();
    let env = [("APP__DATABASE__URL", url.as_str())];
    let input = dir.join("input.ndjson");
    let lines = [
        line(1, "a", "first"),
        line(2, "", "empty code"),
        String::new(),
        "not json".to_owned(),
        line(3, "a", "code of line 1"),
        line(1, "a", "same id again"),
    ];
    std::fs::write(&input, lines.join("\n")).expect("the input");
    let report = dir.join("report.txt");

    // Act
    let output = run_transfer(&["import"], &env, Some(&input), &report);

    // Assert
    assert!(!output.status.success(), "{output:?}");
    let report = stdout_of(&report);
    let reported: Vec<&str> = report.lines().collect();
    assert_eq!(reported.len(), 4, "{report}");
    assert!(
        reported[0].starts_with("line 2: rejected: code: "),
        "{report}"
    );
    assert!(
        reported[1].starts_with("line 4: rejected: not valid JSON"),
        "{report}"
    );
    assert_eq!(reported[2], "line 5: rejected: code: another point has it");
    assert_eq!(reported[3], "created 1, skipped 1, replaced 0, rejected 3");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("3 line(s) rejected"),
        "{output:?}"
    );
}

#[test]
fn import_replaces_stored_points_only_when_told_to() {
    // Arrange
    let scratch = ScratchDir::new();
    let dir = scratch.path();
    let url = scratch.sqlite_url();
    let env = [("APP__DATABASE__URL", url.as_str())];
    let (original, changed) = (dir.join("original.ndjson"), dir.join("changed.ndjson"));
    std::fs::write(&original, line(1, "a", "original") + "\n").expect("a file");
    std::fs::write(&changed, line(1, "a", "changed") + "\n").expect("a file");
    let (report, export) = (dir.join("report.txt"), dir.join("export.ndjson"));
    transfer(&["import"], &env, Some(&original), &report);

    // Act
    transfer(&["import"], &env, Some(&changed), &report);
    let skipped = stdout_of(&report);
    transfer(&["export"], &env, None, &export);
    let kept = stdout_of(&export);
    transfer(&["import", "--replace"], &env, Some(&changed), &report);
    let replaced = stdout_of(&report);
    transfer(&["export"], &env, None, &export);

    // Assert
    assert_eq!(
        skipped.trim_end(),
        "created 0, skipped 1, replaced 0, rejected 0"
    );
    assert_eq!(exported(&kept), [line_as_exported(1, "a", "original")]);
    assert_eq!(
        replaced.trim_end(),
        "created 0, skipped 0, replaced 1, rejected 0"
    );
    assert_eq!(
        exported(&stdout_of(&export)),
        [line_as_exported(1, "a", "changed")]
    );
}
