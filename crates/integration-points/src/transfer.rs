//! `export` and `import`: every point as one JSON object a line (NDJSON), in
//! the API's representation, streamed both ways so that memory stays flat
//! whatever the number of points.

use std::fs::File;
use std::io::{self, BufRead, IsTerminal as _, Read as _, Write};
use std::os::fd::AsFd as _;
use std::time::Duration;

use anyhow::Context as _;
use application::TransferService;
use application::transfer::IMPORT_BATCH_SIZE;
use domain::integration_point::{
    ExistingPoints, ImportOutcome, IntegrationPoint, PointTransferService, StoreError,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use infrastructure::{Database, SeaOrmIntegrationPointRepository};
use tokio::task::JoinHandle;

use crate::configuration::Settings;

/// The longest line `import` reads: far more than the longest valid point
/// (every text field at its limit, every character escaped), so only a file
/// that is not an export reaches it, and it cannot make memory grow.
const MAX_LINE_BYTES: u64 = 1024 * 1024;

/// What an import did, line by line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    /// Lines whose point was new and is stored.
    pub created: u64,
    /// Lines whose id was stored already and was kept.
    pub skipped: u64,
    /// Lines whose id was stored already and was overwritten.
    pub replaced: u64,
    /// Lines that were not a valid point, or whose code or token another
    /// point holds.
    pub rejected: u64,
}

/// Connects to the configured database and migrates it when configured to:
/// an import into a new database needs the table.
async fn open_database(settings: &Settings) -> anyhow::Result<Database> {
    let db_settings = &settings.database;
    let safe_url = infrastructure::redact_url_password(&db_settings.url);
    let db = infrastructure::connect(&db_settings.to_connection_settings())
        .await
        .with_context(|| format!("failed to connect to the database at {safe_url}"))?;
    if db_settings.auto_migrate {
        infrastructure::migrate(&db)
            .await
            .context("failed to apply database migrations")?;
    }
    Ok(db)
}

/// Writes every point to `out`, one line each, in id order; returns how many.
///
/// # Errors
/// When the database cannot be read or `out` written.
pub async fn export(settings: &Settings, out: impl Write) -> anyhow::Result<u64> {
    let db = open_database(settings).await?;
    let transfer = TransferService::new(SeaOrmIntegrationPointRepository::new(&db));
    let progress = progress_bar(None, "{spinner} {human_pos} points exported ({per_sec})");
    let exported = write_all(&transfer, out, &progress).await;
    progress.finish_and_clear();
    db.close().await;
    exported
}

async fn write_all(
    transfer: &impl PointTransferService,
    out: impl Write,
    progress: &ProgressBar,
) -> anyhow::Result<u64> {
    let mut out = io::BufWriter::new(out);
    let mut after = None;
    let mut count = 0_u64;
    loop {
        let page = transfer
            .export_page(after)
            .await
            .context("reading points failed")?;
        let Some(last) = page.last() else { break };
        after = Some(last.id());
        for point in &page {
            let line = api::transfer::export_line(point).context("a point could not be written")?;
            writeln!(out, "{line}").context("writing the export failed")?;
        }
        count += page.len() as u64;
        progress.set_position(count);
    }
    out.flush().context("writing the export failed")?;
    Ok(count)
}

/// Reads points from `input`, one line each, and stores them in batches,
/// reading and parsing each batch while the one before is being stored;
/// each rejected line is reported on `report` with its number, in the order
/// reading and storing one batch after the other would report them.
///
/// # Errors
/// When the database cannot be written, or `input` read; lines that are not
/// valid points are counted and reported, not errors.
pub async fn import(
    settings: &Settings,
    input: impl BufRead,
    input_len: Option<u64>,
    existing: ExistingPoints,
    report: impl Write,
) -> anyhow::Result<ImportSummary> {
    let db = open_database(settings).await?;
    let transfer = TransferService::new(SeaOrmIntegrationPointRepository::new(&db));
    let progress = match input_len {
        Some(len) => progress_bar(
            Some(len),
            "{bar:40} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta} left)",
        ),
        None => progress_bar(
            None,
            "{spinner} {binary_bytes} read ({binary_bytes_per_sec})",
        ),
    };
    let mut importer = Importer {
        transfer,
        existing,
        report,
        progress: progress.clone(),
        batch: Vec::with_capacity(IMPORT_BATCH_SIZE),
        storing: None,
        held: Vec::new(),
        summary: ImportSummary::default(),
    };
    let imported = importer.run(input).await;
    progress.finish_and_clear();
    db.close().await;
    imported
}

/// How many rejected lines are held back while a batch is being stored
/// before the importer waits for that batch: memory stays flat, whatever the
/// input.
const MAX_HELD_REJECTIONS: usize = IMPORT_BATCH_SIZE;

struct Importer<T, W> {
    transfer: T,
    existing: ExistingPoints,
    report: W,
    progress: ProgressBar,
    /// The points read and not yet sent to be stored, with their line numbers.
    batch: Vec<(u64, IntegrationPoint)>,
    /// The batch being stored while the next one is read and parsed: its
    /// line numbers, and the task storing it. One at a time, so batches are
    /// stored in input order, as if each waited for the one before.
    storing: Option<(Vec<u64>, Storing)>,
    /// Rejected lines read while a batch was being stored, reported after
    /// that batch's outcomes: the report's order is that of reading and
    /// storing one batch after the other.
    held: Vec<String>,
    summary: ImportSummary,
}

type Storing = JoinHandle<Result<Vec<ImportOutcome>, StoreError>>;

impl<T: PointTransferService, W: Write> Importer<T, W> {
    async fn run(&mut self, mut input: impl BufRead) -> anyhow::Result<ImportSummary> {
        let mut line = Vec::new();
        let mut number = 0_u64;
        loop {
            line.clear();
            let read = (&mut input)
                .take(MAX_LINE_BYTES)
                .read_until(b'\n', &mut line)
                .context("reading the input failed")?;
            if read == 0 {
                break;
            }
            number += 1;
            self.progress.inc(read as u64);
            if line.last() != Some(&b'\n') && read as u64 == MAX_LINE_BYTES {
                let rest = skip_line(&mut input).context("reading the input failed")?;
                self.progress.inc(rest);
                self.reject(number, &format!("longer than {MAX_LINE_BYTES} bytes"))
                    .await?;
                continue;
            }
            let Ok(text) = std::str::from_utf8(&line) else {
                self.reject(number, "not UTF-8 text").await?;
                continue;
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            match api::transfer::parse_line(text) {
                Ok(point) => self.batch.push((number, point)),
                Err(error) => self.reject(number, &error.to_string()).await?,
            }
            if self.batch.len() >= IMPORT_BATCH_SIZE {
                self.send_batch().await?;
            }
        }
        self.send_batch().await?;
        self.settle().await?;
        Ok(self.summary)
    }

    /// Sends the batch read to be stored, once the one before it is stored:
    /// the next batch is then read and parsed while this one is stored.
    async fn send_batch(&mut self) -> anyhow::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.settle().await?;
        let (numbers, points): (Vec<u64>, Vec<IntegrationPoint>) = self.batch.drain(..).unzip();
        let transfer = self.transfer.clone();
        let existing = self.existing;
        let task = tokio::spawn(async move { transfer.import_batch(&points, existing).await });
        self.storing = Some((numbers, task));
        Ok(())
    }

    /// Waits for the batch being stored, if any, and reports its outcomes,
    /// then the rejections held back meanwhile.
    async fn settle(&mut self) -> anyhow::Result<()> {
        if let Some((numbers, task)) = self.storing.take() {
            let outcomes = task
                .await
                .context("storing points failed")?
                .context("storing points failed")?;
            for (number, outcome) in numbers.into_iter().zip(outcomes) {
                match outcome {
                    ImportOutcome::Created => self.summary.created += 1,
                    ImportOutcome::Skipped => self.summary.skipped += 1,
                    ImportOutcome::Replaced => self.summary.replaced += 1,
                    ImportOutcome::Rejected(field) => {
                        let path = field.field().path();
                        self.summary.rejected += 1;
                        let line = rejection(number, &format!("{path}: another point has it"));
                        self.write(&line)?;
                    }
                }
            }
        }
        for line in std::mem::take(&mut self.held) {
            self.write(&line)?;
        }
        Ok(())
    }

    async fn reject(&mut self, number: u64, why: &str) -> anyhow::Result<()> {
        self.summary.rejected += 1;
        let line = rejection(number, why);
        if self.storing.is_none() {
            return self.write(&line);
        }
        self.held.push(line);
        if self.held.len() >= MAX_HELD_REJECTIONS {
            self.settle().await?;
        }
        Ok(())
    }

    fn write(&mut self, line: &str) -> anyhow::Result<()> {
        let report = &mut self.report;
        self.progress
            .suspend(|| writeln!(report, "{line}"))
            .context("writing the report failed")
    }
}

/// The report's line for a rejected input line.
fn rejection(number: u64, why: &str) -> String {
    format!("line {number}: rejected: {why}")
}

/// Reads past the rest of an over-long line; returns the bytes skipped.
fn skip_line(input: &mut impl BufRead) -> io::Result<u64> {
    let mut skipped = 0;
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            return Ok(skipped);
        }
        let (used, done) = match buffer.iter().position(|byte| *byte == b'\n') {
            Some(end) => (end + 1, true),
            None => (buffer.len(), false),
        };
        input.consume(used);
        skipped += used as u64;
        if done {
            return Ok(skipped);
        }
    }
}

/// The size of standard input when it is a file (`import < points.ndjson`),
/// for a progress bar with an end; `None` for a pipe.
pub fn stdin_len() -> Option<u64> {
    let file = File::from(io::stdin().as_fd().try_clone_to_owned().ok()?);
    let metadata = file.metadata().ok()?;
    metadata.is_file().then_some(metadata.len())
}

/// A progress bar on standard error, drawn only when it is a terminal (a
/// pipe or a log file gets no control characters).
fn progress_bar(len: Option<u64>, template: &str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    if len.is_none() {
        bar.enable_steady_tick(Duration::from_millis(200));
    }
    bar
}

/// The summary line `import` ends with.
impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            created,
            skipped,
            replaced,
            rejected,
        } = self;
        write!(
            f,
            "created {created}, skipped {skipped}, replaced {replaced}, rejected {rejected}"
        )
    }
}
