//! The real binary as a child process: what an operator runs, with its own
//! logging, signals and exit code, none of which an in-process server shows.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a process may take to start listening or to exit: generous, for
/// a loaded two-core CI machine.
pub const PROCESS_BOUND: Duration = Duration::from_secs(30);

/// The binary under test.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_integration-points"));
    // The tests' own configuration must not leak into the child's.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("APP_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    // What the test PostgreSQL needs; a SQLite service ignores it.
    if !crate::helpers::postgres_prepared_statements() {
        command.env("APP__DATABASE__PREPARED_STATEMENTS", "false");
    }
    command
}

/// Runs the binary to completion with `args` and `env`.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    binary()
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

/// A fresh directory for one test's files, removed when dropped.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Creates the directory.
    pub fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("ip-process-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Self(dir)
    }

    /// The directory.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// A URL of a SQLite database file inside, created on first use.
    pub fn sqlite_url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.0.join("points.db").display())
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `integration-points serve` running as a child process with JSON logs.
pub struct ServiceProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The port it listens on.
    pub port: u16,
    lines: Arc<Mutex<Vec<String>>>,
}

impl ServiceProcess {
    /// Starts the service on a free port with `env` added to its
    /// environment, and waits until it listens and has connected to its
    /// database (and migrated it).
    ///
    /// # Panics
    /// When it exits or does not get that far within [`PROCESS_BOUND`].
    pub async fn start(env: &[(&str, &str)]) -> Self {
        let mut process = Self::start_listening(env).await;
        process
            .wait_for_log(|line| line["fields"]["message"] == "database ready")
            .await;
        process
    }

    /// Starts the service on a free port with `env` added to its
    /// environment, and waits until it listens, which it does before it
    /// reaches its database.
    ///
    /// # Panics
    /// When it exits or does not listen within [`PROCESS_BOUND`].
    pub async fn start_listening(env: &[(&str, &str)]) -> Self {
        let mut child = binary()
            .env("APP__SERVER__HOST", "127.0.0.1")
            .env("APP__SERVER__PORT", "0")
            .env("APP__LOG__FORMAT", "json")
            .env("APP__LOG__LEVEL", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the service starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        // A thread, not a task: it blocks on the pipe until the child exits.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(line);
            }
        });
        let mut process = Self {
            child,
            address: String::new(),
            port: 0,
            lines,
        };
        // The service's own line, not poem's (which names the address `addr`).
        let listening = process
            .wait_for_log(|line| {
                line["fields"]["message"] == "listening" && line["fields"]["address"].is_string()
            })
            .await;
        let address = listening["fields"]["address"]
            .as_str()
            .expect("the listening line names the address");
        process.port = address
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .expect("the address has a port");
        process.address = format!("http://127.0.0.1:{}", process.port);
        process
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every line written to stdout so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every log line so far, parsed; a line that is not JSON fails the test.
    pub fn logs(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"))
            })
            .collect()
    }

    /// Waits until a log line satisfies `matches`, and returns it.
    ///
    /// # Panics
    /// When the process exits first or none comes within [`PROCESS_BOUND`].
    pub async fn wait_for_log(&mut self, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PROCESS_BOUND;
        loop {
            if let Some(line) = self.logs().into_iter().find(|line| matches(line)) {
                return line;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the service exited ({status}); output:\n{}",
                    self.lines().join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "no matching log line within {PROCESS_BOUND:?}; output:\n{}",
                self.lines().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends the process `signal` (`TERM`, `INT`, …), as an orchestrator would.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed: {status}");
    }

    /// Waits for the process to exit.
    ///
    /// # Panics
    /// When it is still running after [`PROCESS_BOUND`].
    pub async fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PROCESS_BOUND;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be waited for") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running after {PROCESS_BOUND:?}; output:\n{}",
                self.lines().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        // A failed test must not leave a server behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
