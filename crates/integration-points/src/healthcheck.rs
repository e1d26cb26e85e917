//! `healthcheck`: asks the service on this machine whether it is ready, for
//! container health checks, so that the image needs no HTTP client (curl)
//! of its own.

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::time::Duration;

use anyhow::Context as _;

use crate::configuration::Settings;

/// How long the probe waits beyond the readiness check's own bound (which
/// is `database.acquire_timeout_ms`), for connecting and the round trip.
const SLACK: Duration = Duration::from_secs(2);

/// `GET /health/ready` on the configured port; `Ok` only for a 200.
///
/// # Errors
/// When the service cannot be reached, does not answer in time, or answers
/// anything but 200 (the error says what).
pub fn check(settings: &Settings) -> anyhow::Result<()> {
    let host = probe_host(&settings.server.host);
    let port = settings.server.port;
    let timeout = Duration::from_millis(settings.database.acquire_timeout_ms) + SLACK;
    let address = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {host}"))?
        .next()
        .with_context(|| format!("{host} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .with_context(|| format!("not ready: nothing answers on {address}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET /health/ready HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
    )
    .context("not ready: the request could not be sent")?;
    // The status line is all that matters; a probe's answer is small.
    let mut head = [0_u8; 64];
    let read = stream
        .read(&mut head)
        .with_context(|| format!("not ready: no answer from {address}"))?;
    let status = status_code(&head[..read])
        .with_context(|| format!("not ready: {address} did not answer HTTP"))?;
    anyhow::ensure!(status == 200, "not ready: /health/ready answered {status}");
    Ok(())
}

/// Where to reach a service that listens on `host`: a wildcard address is
/// reached on loopback.
fn probe_host(host: &str) -> &str {
    match host {
        "0.0.0.0" | "" => "127.0.0.1",
        "::" | "[::]" => "::1",
        other => other,
    }
}

/// The status code of an HTTP/1.x response that starts with `head`.
fn status_code(head: &[u8]) -> Option<u16> {
    let line = std::str::from_utf8(head).ok()?.lines().next()?;
    let rest = line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| line.strip_prefix("HTTP/1.0 "))?;
    rest.get(..3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_address_is_probed_on_loopback() {
        assert_eq!(probe_host("0.0.0.0"), "127.0.0.1");
        assert_eq!(probe_host("::"), "::1");
        assert_eq!(probe_host("10.1.2.3"), "10.1.2.3");
        assert_eq!(probe_host("localhost"), "localhost");
    }

    #[test]
    fn the_status_code_is_read_from_the_status_line() {
        assert_eq!(
            status_code(b"HTTP/1.1 200 OK\r\ncontent-length: 15"),
            Some(200)
        );
        assert_eq!(
            status_code(b"HTTP/1.0 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(status_code(b"SSH-2.0-OpenSSH_9.2\r\n"), None);
        assert_eq!(status_code(b"HTTP/1.1 2"), None);
    }
}
