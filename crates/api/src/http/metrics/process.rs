//! The process's own metrics under the names every Prometheus client library
//! gives them (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! …), so that dashboards made for other services work unchanged. They are
//! read from `/proc` when scraped; where there is no `/proc` (not Linux) they
//! are left out rather than reported as zero.

use std::fmt;
use std::fs;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// The unit of the CPU times and the start time in `/proc/<pid>/stat`.
/// `sysconf(_SC_CLK_TCK)` would say it, but that needs `unsafe` (forbidden
/// here), and Linux fixes it at 100 for user space on every architecture we
/// could run on; Prometheus's own procfs library assumes the same.
const TICKS_PER_SECOND: f64 = 100.0;

/// Reads the process metrics on every scrape.
#[derive(Debug, Default)]
pub(super) struct ProcessMetrics;

/// One reading of the process, in the units the metrics have.
#[derive(Debug, Clone, PartialEq)]
struct Reading {
    cpu_seconds: f64,
    start_time_seconds: f64,
    virtual_bytes: u64,
    resident_bytes: u64,
    open_fds: u64,
    max_fds: Option<u64>,
}

impl Reading {
    fn of_this_process() -> Option<Self> {
        let stat = parse_stat(&fs::read_to_string("/proc/self/stat").ok()?)?;
        let boot_time = parse_boot_time(&fs::read_to_string("/proc/stat").ok()?)?;
        let resident_bytes = parse_resident_bytes(&fs::read_to_string("/proc/self/status").ok()?)?;
        let open_fds = u64::try_from(fs::read_dir("/proc/self/fd").ok()?.count()).ok()?;
        let max_fds = fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|limits| parse_max_fds(&limits));
        Some(Self {
            cpu_seconds: stat.cpu_ticks as f64 / TICKS_PER_SECOND,
            start_time_seconds: boot_time as f64 + stat.start_ticks as f64 / TICKS_PER_SECOND,
            virtual_bytes: stat.virtual_bytes,
            resident_bytes,
            open_fds,
            max_fds,
        })
    }
}

/// What `/proc/<pid>/stat` tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    /// User plus system time of every thread, in ticks.
    cpu_ticks: u64,
    /// When the process started, in ticks after boot.
    start_ticks: u64,
    virtual_bytes: u64,
}

/// Parses `/proc/<pid>/stat` (proc(5)): the command name in parentheses may
/// itself hold spaces and parentheses, so the fields are counted from the
/// last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let (_, after_name) = text.rsplit_once(')')?;
    // Field 3 (the state) is the first after the name.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |number: usize| -> Option<u64> { fields.get(number - 3)?.parse().ok() };
    Some(Stat {
        cpu_ticks: field(14)?.checked_add(field(15)?)?,
        start_ticks: field(22)?,
        virtual_bytes: field(23)?,
    })
}

/// The boot time in seconds since the epoch, from `/proc/stat`'s `btime`.
fn parse_boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse().ok())
}

/// The resident set size in bytes, from `/proc/<pid>/status`'s `VmRSS`
/// (in kB there, so no page size is needed).
fn parse_resident_bytes(text: &str) -> Option<u64> {
    let value = text.lines().find_map(|line| line.strip_prefix("VmRSS:"))?;
    let kilobytes: u64 = value.trim().strip_suffix("kB")?.trim().parse().ok()?;
    kilobytes.checked_mul(1024)
}

/// The soft limit on open files from `/proc/<pid>/limits`; `None` when
/// unlimited.
fn parse_max_fds(text: &str) -> Option<u64> {
    let line = text
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.strip_prefix("Max open files")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Collector for ProcessMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let Some(reading) = Reading::of_this_process() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(reading.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time the process spent, in seconds",
            None,
            cpu.metric_type(),
        )?)?;
        let start = ConstGauge::new(reading.start_time_seconds);
        start.encode(encoder.encode_descriptor(
            "process_start_time_seconds",
            "When the process started, in seconds since the Unix epoch",
            None,
            start.metric_type(),
        )?)?;
        let sizes = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                Some(reading.resident_bytes),
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                Some(reading.virtual_bytes),
            ),
            (
                "process_open_fds",
                "Open file descriptors",
                Some(reading.open_fds),
            ),
            (
                "process_max_fds",
                "The most file descriptors the process may open",
                reading.max_fds,
            ),
        ];
        for (name, help, value) in sizes {
            let Some(value) = value.and_then(|value| i64::try_from(value).ok()) else {
                continue;
            };
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis_of_the_name() {
        let text = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                    150 25 0 0 20 0 9 0 28110 123461632 5120 18446744073709551615 1 1 0 0 0";

        assert_eq!(
            parse_stat(text),
            Some(Stat {
                cpu_ticks: 175,
                start_ticks: 28110,
                virtual_bytes: 123_461_632,
            })
        );
    }

    #[test]
    fn a_truncated_stat_gives_no_reading() {
        assert_eq!(parse_stat("4242 (name) S 1 2 3"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
    }

    #[test]
    fn boot_time_is_the_btime_line() {
        let text = "cpu  1 2 3 4\nintr 5\nbtime 1795973999\nprocesses 7\n";

        assert_eq!(parse_boot_time(text), Some(1_795_973_999));
    }

    #[test]
    fn resident_memory_is_vmrss_in_bytes() {
        let text = "Name:\tcat\nVmSize:\t    3892 kB\nVmRSS:\t    2180 kB\n";

        assert_eq!(parse_resident_bytes(text), Some(2180 * 1024));
    }

    #[test]
    fn the_open_files_limit_is_the_soft_limit_or_none_when_unlimited() {
        let header =
            "Limit                     Soft Limit           Hard Limit           Units     \n";
        let limited = format!(
            "{header}Max open files            1024                 524288               files     \n"
        );
        let unlimited = format!(
            "{header}Max open files            unlimited            unlimited            files     \n"
        );

        assert_eq!(parse_max_fds(&limited), Some(1024));
        assert_eq!(parse_max_fds(&unlimited), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_can_be_read_on_linux() {
        let reading = Reading::of_this_process().expect("a reading from /proc");

        assert!(reading.resident_bytes > 0, "{reading:?}");
        assert!(reading.open_fds > 0, "{reading:?}");
        assert!(reading.start_time_seconds > 1.0e9, "{reading:?}");
    }
}
