//! A deadline on request heads, so that a client that sends its headers slowly
//! (or sends nothing, or stops reading) cannot hold a connection for ever.
//!
//! hyper has such a timeout (`header_read_timeout`), but poem 3.1 builds its
//! hyper connections without the timer that it needs, and offers no way to set
//! one. So [`HeadTimeout`] wraps every accepted connection in a
//! [`HeadDeadline`], which watches the bytes going through it: from the moment
//! a connection can take a request (when it is accepted, and each time the
//! server writes to it while no request is being handled) the client has the
//! configured time to complete a request head, up to the blank line that ends
//! it. Past that the connection is closed, after a 408 in the §4 shape when
//! part of a head had arrived. Idle keep-alive connections are closed the same
//! way, silently.
//!
//! While a request is handled nothing is timed here: the request timeout
//! (`limits`) bounds that. A response starting, that is a write beginning
//! with `HTTP/` and a final (non-1xx) status, ends the request, so a response
//! that streams (the change feed's events) keeps its connection by writing
//! at least once per timeout (the feed's heartbeat is derived from it), or it
//! is taken for an idle connection and closed. HTTP/2
//! connections, whose frames never start so, are therefore not timed after
//! their preface; the service is meant to sit behind HTTP/1.1 clients and
//! proxies.
//!
//! A client that closes its end of the connection once its response has
//! begun (or between requests) has gone: from the read that finds the end of
//! its bytes, every write and flush fails, so the connection ends at once,
//! and with it a response still streaming (an event stream). hyper means it
//! so (it takes a close in the middle of an exchange for an error,
//! half-closed connections being off), but poem 3.1's server polls a failed
//! connection again to finish it gracefully, which resumes it: an event
//! stream to a client that had gone ran on until one of its writes failed,
//! two heartbeats later. A client that shuts its side right after sending a
//! request (a half-close, as `nc -N` does) still gets the response: that
//! resumed connection writes it.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::http::error::{ApiError, JSON_CONTENT_TYPE};

/// An acceptor whose connections must deliver each request head in time.
pub(crate) struct HeadTimeout<A> {
    inner: A,
    timeout: Duration,
    /// The whole 408 response, made once.
    expired: Arc<[u8]>,
}

impl<A> HeadTimeout<A> {
    /// Gives the connections of `inner` `timeout` for each request head.
    pub(crate) fn new(inner: A, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            expired: expired_response(timeout),
        }
    }
}

impl<A: Acceptor> Acceptor for HeadTimeout<A> {
    type Io = HeadDeadline<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, scheme) = self.inner.accept().await?;
        let io = HeadDeadline::new(io, self.timeout, Arc::clone(&self.expired));
        Ok((io, local, remote, scheme))
    }
}

/// `HTTP/1.1 408` with a §4 body, closing the connection.
fn expired_response(timeout: Duration) -> Arc<[u8]> {
    let body = serde_json::to_vec(&ApiError::head_timeout(timeout).body()).unwrap_or_default();
    let mut response = format!(
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: {JSON_CONTENT_TYPE}\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    response.into()
}

/// Where a connection is in its request cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request head to end: `started` once a byte other than a
    /// line ending has come, `newlines` counts the line feeds since the last
    /// such byte (two end the head; a `\r` before each is optional).
    Head { started: bool, newlines: u8 },
    /// A head has ended; the request is the endpoint's until its response starts.
    Request,
    /// The deadline has passed; every further read fails.
    Expired,
}

/// A connection that must deliver each request head in time (see the module
/// documentation).
pub(crate) struct HeadDeadline<T> {
    inner: T,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
    phase: Phase,
    /// The last write did not go out whole: a 408 now would be spliced into a
    /// response.
    write_blocked: bool,
    /// A read found the end of the client's bytes while no request awaited
    /// its response: nothing more is written.
    client_gone: bool,
    expired: Arc<[u8]>,
}

impl<T> HeadDeadline<T> {
    fn new(inner: T, timeout: Duration, expired: Arc<[u8]>) -> Self {
        Self {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            phase: Phase::Head {
                started: false,
                newlines: 0,
            },
            write_blocked: false,
            client_gone: false,
            expired,
        }
    }

    /// Follows a head through the bytes read, until it ends. Bytes after its
    /// end are the body's (or a pipelined request's, which hyper has then
    /// read whole or will wait for after the response, with a new deadline).
    fn observe_read(&mut self, bytes: &[u8]) {
        let Phase::Head {
            mut started,
            mut newlines,
        } = self.phase
        else {
            return;
        };
        for &byte in bytes {
            match byte {
                b'\n' if started => {
                    newlines += 1;
                    if newlines == 2 {
                        self.phase = Phase::Request;
                        return;
                    }
                }
                // Line endings before the request line do not start a head.
                b'\r' | b'\n' => {}
                _ => {
                    started = true;
                    newlines = 0;
                }
            }
        }
        self.phase = Phase::Head { started, newlines };
    }

    /// Notes a write attempt: a final response ends the request and starts
    /// the clock for the next head, and while the clock runs every byte
    /// written puts the deadline off (a big response to a slow reader is not
    /// the reader's head being late).
    fn observe_write(
        &mut self,
        cx: &mut Context<'_>,
        first: &[u8],
        offered: usize,
        result: &Poll<io::Result<usize>>,
    ) {
        match result {
            Poll::Ready(Ok(written)) if *written > 0 => {
                self.write_blocked = *written < offered;
                let final_response = first.starts_with(b"HTTP/") && first.get(9) != Some(&b'1');
                if self.phase == Phase::Request && final_response {
                    self.phase = Phase::Head {
                        started: false,
                        newlines: 0,
                    };
                }
                if matches!(self.phase, Phase::Head { .. }) {
                    let deadline = Instant::now() + self.timeout;
                    self.deadline.as_mut().reset(deadline);
                    // hyper need not read again after a response until the
                    // socket wakes it, and an idle client never does: the
                    // deadline has to wake the connection by itself.
                    let _ = self.deadline.as_mut().poll(cx);
                }
            }
            Poll::Pending => self.write_blocked = true,
            Poll::Ready(_) => {}
        }
    }

    /// Whether the deadline has passed while a head is awaited; registers
    /// the task to be woken when it does.
    fn head_is_late(&mut self, cx: &mut Context<'_>) -> bool {
        match self.phase {
            Phase::Head { .. } => self.deadline.as_mut().poll(cx).is_ready(),
            Phase::Request => false,
            Phase::Expired => true,
        }
    }

    fn late() -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            "the request head did not arrive in time",
        )
    }

    fn gone() -> io::Error {
        io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the client closed the connection",
        )
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for HeadDeadline<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.phase == Phase::Expired {
            return Poll::Ready(Err(Self::late()));
        }
        let already_filled = buf.filled().len();
        let room = buf.remaining();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[already_filled..];
                // A client may shut its side once its request is sent and
                // still read the answer (half-close): that end is the
                // client leaving only once no request awaits its response.
                if read.is_empty() && room > 0 && this.phase != Phase::Request {
                    this.client_gone = true;
                }
                this.observe_read(read);
                Poll::Ready(Ok(()))
            }
            Poll::Pending if this.head_is_late(cx) => {
                let partial_head = matches!(this.phase, Phase::Head { started: true, .. });
                if partial_head && !this.write_blocked {
                    // Best effort, once: the client is told why before the
                    // connection closes. A full send buffer means it is not
                    // reading anyway.
                    let _ = Pin::new(&mut this.inner).poll_write(cx, &this.expired);
                }
                this.phase = Phase::Expired;
                tracing::debug!("closing a connection whose request head is late");
                Poll::Ready(Err(Self::late()))
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for HeadDeadline<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.client_gone {
            return Poll::Ready(Err(Self::gone()));
        }
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.observe_write(cx, buf, buf.len(), &result);
        match result {
            // A client that stops reading between requests is as late as one
            // that stops writing.
            Poll::Pending if this.head_is_late(cx) => Poll::Ready(Err(Self::late())),
            other => other,
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.client_gone {
            return Poll::Ready(Err(Self::gone()));
        }
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        let offered = bufs.iter().map(|b| b.len()).sum();
        this.observe_write(cx, first, offered, &result);
        match result {
            Poll::Pending if this.head_is_late(cx) => Poll::Ready(Err(Self::late())),
            other => other,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.client_gone {
            // hyper flushes on every turn, so a connection whose client has
            // gone fails here even when it has nothing to write.
            return Poll::Ready(Err(Self::gone()));
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream, duplex};

    use super::*;

    const TIMEOUT: Duration = Duration::from_millis(100);
    /// Long enough past [`TIMEOUT`] for a loaded machine.
    const WELL_PAST: Duration = Duration::from_millis(600);

    /// A server end wrapped in a deadline, and the client end.
    fn connection() -> (HeadDeadline<DuplexStream>, DuplexStream) {
        let (server, client) = duplex(64 * 1024);
        (
            HeadDeadline::new(server, TIMEOUT, expired_response(TIMEOUT)),
            client,
        )
    }

    /// What the server reads next, or the error, or `None` if nothing comes
    /// by [`WELL_PAST`].
    async fn next_read(server: &mut HeadDeadline<DuplexStream>) -> Option<io::Result<Vec<u8>>> {
        let mut buf = vec![0; 1024];
        match tokio::time::timeout(WELL_PAST, server.read(&mut buf)).await {
            Ok(Ok(n)) => Some(Ok(buf[..n].to_vec())),
            Ok(Err(error)) => Some(Err(error)),
            Err(_) => None,
        }
    }

    async fn received_by(client: &mut DuplexStream) -> String {
        let mut buf = vec![0; 4096];
        let n = tokio::time::timeout(WELL_PAST, client.read(&mut buf))
            .await
            .map_or(0, |read| read.unwrap_or(0));
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    fn is_late(read: Option<io::Result<Vec<u8>>>) -> bool {
        matches!(read, Some(Err(error)) if error.kind() == io::ErrorKind::TimedOut)
    }

    #[tokio::test]
    async fn a_head_that_arrives_in_time_leaves_the_request_untimed() {
        // Arrange
        let (mut server, mut client) = connection();
        client
            .write_all(b"POST / HTTP/1.1\r\nHost: a\r\n\r\n{")
            .await
            .expect("written");

        // Act
        let head = next_read(&mut server).await;
        let body_wait = next_read(&mut server).await;

        // Assert
        assert!(matches!(head, Some(Ok(bytes)) if bytes.ends_with(b"\r\n\r\n{")));
        assert!(
            body_wait.is_none(),
            "the body is the request timeout's business"
        );
    }

    #[tokio::test]
    async fn a_head_that_stalls_is_cut_off_with_a_408() {
        // Arrange
        let (mut server, mut client) = connection();
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
            .await
            .expect("written");
        assert!(matches!(next_read(&mut server).await, Some(Ok(_))));

        // Act
        let stalled = next_read(&mut server).await;

        // Assert
        assert!(is_late(stalled));
        let response = received_by(&mut client).await;
        assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
        assert!(response.contains(r#""error_code":1408"#), "{response}");
        assert!(is_late(next_read(&mut server).await), "it stays closed");
    }

    #[tokio::test]
    async fn a_connection_that_sends_nothing_is_closed_without_a_response() {
        // Arrange
        let (mut server, mut client) = connection();

        // Act
        let idle = next_read(&mut server).await;
        drop(server);

        // Assert
        assert!(is_late(idle));
        assert_eq!(received_by(&mut client).await, "");
    }

    #[tokio::test]
    async fn blank_lines_before_the_request_line_do_not_end_a_head() {
        let (mut server, mut client) = connection();
        client
            .write_all(b"\r\n\r\nGET / HTTP/1.1\r\n")
            .await
            .expect("written");
        assert!(matches!(next_read(&mut server).await, Some(Ok(_))));

        assert!(is_late(next_read(&mut server).await));
    }

    #[tokio::test]
    async fn an_interim_response_does_not_end_the_request() {
        // Arrange: a head asking for `100 Continue`, which the server sends.
        let (mut server, mut client) = connection();
        client
            .write_all(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n")
            .await
            .expect("written");
        assert!(matches!(next_read(&mut server).await, Some(Ok(_))));

        // Act
        server
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .expect("written");

        // Assert
        assert!(next_read(&mut server).await.is_none(), "still untimed");
    }

    #[tokio::test]
    async fn a_response_starts_the_clock_for_the_next_head() {
        // Arrange
        let (mut server, mut client) = connection();
        client
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .await
            .expect("written");
        assert!(matches!(next_read(&mut server).await, Some(Ok(_))));

        // Act
        server
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await
            .expect("written");

        // Assert: a keep-alive connection left idle is closed.
        assert!(is_late(next_read(&mut server).await));
    }

    /// A waker that records whether it was woken.
    struct Flag(std::sync::atomic::AtomicBool);

    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn after_a_response_the_deadline_wakes_the_connection_even_if_it_is_not_read() {
        // Arrange: a request read whole; the server writes its response and,
        // as hyper may, does not poll for the next head.
        let (mut server, mut client) = connection();
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("written");
        let head = next_read(&mut server).await;
        assert!(matches!(head, Some(Ok(_))), "{head:?}");
        let flag = Arc::new(Flag(std::sync::atomic::AtomicBool::new(false)));
        let waker = std::task::Waker::from(Arc::clone(&flag));
        let mut cx = Context::from_waker(&waker);

        // Act
        let written = Pin::new(&mut server).poll_write(&mut cx, b"HTTP/1.1 200 OK\r\n\r\n");
        tokio::time::sleep(WELL_PAST).await;

        // Assert: woken, and the next read finds the head late.
        assert!(matches!(written, Poll::Ready(Ok(_))), "{written:?}");
        assert!(
            flag.0.load(std::sync::atomic::Ordering::SeqCst),
            "the deadline woke the connection"
        );
        assert!(is_late(next_read(&mut server).await));
    }

    #[tokio::test]
    async fn heads_ended_by_bare_line_feeds_are_recognised() {
        let (mut server, mut client) = connection();
        client
            .write_all(b"GET / HTTP/1.1\nHost: a\n\n")
            .await
            .expect("written");
        assert!(matches!(next_read(&mut server).await, Some(Ok(_))));

        assert!(next_read(&mut server).await.is_none());
    }

    #[tokio::test]
    async fn once_the_client_has_closed_its_end_nothing_more_is_written_or_flushed() {
        // Arrange: a request read whole, its response streaming.
        let (mut server, mut client) = connection();
        client
            .write_all(b"GET /changes HTTP/1.1\r\nAccept: text/event-stream\r\n\r\n")
            .await
            .expect("written");
        assert!(matches!(next_read(&mut server).await, Some(Ok(_))));
        server
            .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            .await
            .expect("written");

        // Act: the client goes; the server reads the end of its bytes.
        drop(client);
        let end = next_read(&mut server).await;

        // Assert
        assert!(
            matches!(end, Some(Ok(ref bytes)) if bytes.is_empty()),
            "{end:?}"
        );
        let flushed = server.flush().await;
        assert!(
            matches!(&flushed, Err(e) if e.kind() == io::ErrorKind::BrokenPipe),
            "{flushed:?}"
        );
        let written = server.write(b"3\r\n:\n\n\r\n").await;
        assert!(
            matches!(&written, Err(e) if e.kind() == io::ErrorKind::BrokenPipe),
            "{written:?}"
        );
    }

    #[tokio::test]
    async fn a_client_that_shuts_its_side_after_its_request_still_gets_the_response() {
        // Arrange: a request, then the client's end of its bytes.
        let (mut server, mut client) = connection();
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .expect("written");
        client.shutdown().await.expect("half-closed");
        assert!(matches!(next_read(&mut server).await, Some(Ok(_))));
        let end = next_read(&mut server).await;

        // Act
        let written = server
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await;
        let flushed = server.flush().await;

        // Assert
        assert!(
            matches!(end, Some(Ok(ref bytes)) if bytes.is_empty()),
            "{end:?}"
        );
        assert!(written.is_ok(), "{written:?}");
        assert!(flushed.is_ok(), "{flushed:?}");
        assert!(
            received_by(&mut client)
                .await
                .starts_with("HTTP/1.1 200 OK")
        );
    }

    #[tokio::test]
    async fn a_read_into_a_full_buffer_is_not_taken_for_the_client_leaving() {
        // Arrange
        let (mut server, mut client) = connection();
        client
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .await
            .expect("written");

        // Act: a read with no room reads nothing, whatever the client did.
        let nothing = server.read(&mut []).await;

        // Assert
        assert!(matches!(nothing, Ok(0)), "{nothing:?}");
        assert!(server.flush().await.is_ok());
    }
}
