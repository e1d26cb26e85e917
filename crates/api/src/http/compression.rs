//! Response compression (contract §10): gzip or br, as the client's
//! `Accept-Encoding` prefers, for bodies of at least [`MIN_SIZE`] bytes that
//! are not event streams.
//!
//! poem's `Compression` middleware compresses every body, a 40-byte error and
//! an endless Server-Sent Events stream alike (a compressor holds back bytes
//! until it has enough, so events would stall), and it honours neither
//! `q=0` nor `identity`. So the decision is made here, and poem's
//! [`Compress`] does the compressing.

use std::io;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use poem::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use poem::http::{HeaderMap, HeaderValue};
use poem::web::{Compress, CompressionAlgo, CompressionLevel};
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response};

/// The smallest body worth compressing: below it, the saving is a few bytes
/// and the cost a compressor's setup.
pub(crate) const MIN_SIZE: u64 = 1024;

/// The media type of Server-Sent Events, which are never compressed.
const EVENT_STREAM: &str = "text/event-stream";

/// The codings offered, best first when a client rates them equally.
const CODINGS: [(&str, CompressionAlgo); 2] =
    [("br", CompressionAlgo::BR), ("gzip", CompressionAlgo::GZIP)];

/// Compresses the answers of the endpoint it wraps.
pub(crate) struct Compression;

impl<E: Endpoint> Middleware<E> for Compression {
    type Output = CompressionEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        CompressionEndpoint { inner }
    }
}

/// The endpoint [`Compression`] makes.
pub(crate) struct CompressionEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for CompressionEndpoint<E> {
    type Output = Response;

    async fn call(&self, request: Request) -> poem::Result<Response> {
        let coding = negotiate(request.headers());
        let mut response = self.inner.call(request).await?.into_response();
        if !worth_compressing(&mut response) {
            return Ok(response);
        }
        // Whether this answer is compressed depends on Accept-Encoding.
        response
            .headers_mut()
            .append(VARY, HeaderValue::from_static("Accept-Encoding"));
        Ok(match coding {
            Some(algo) => Compress::new(response, algo)
                .with_quality(quality(algo))
                .into_response(),
            None => response,
        })
    }
}

/// How hard each coding works. gzip's default (6) and brotli's 4 cost about
/// the same CPU; brotli's own default (11) is meant for static files, compressed
/// once, not for each answer (BENCHMARKS.md has the figures).
fn quality(algo: CompressionAlgo) -> CompressionLevel {
    match algo {
        CompressionAlgo::BR => CompressionLevel::Precise(4),
        CompressionAlgo::GZIP | CompressionAlgo::DEFLATE | CompressionAlgo::ZSTD => {
            CompressionLevel::Default
        }
    }
}

/// Whether `response` is one compression is for: not yet encoded, not an
/// event stream, and a body of at least [`MIN_SIZE`] bytes (or of a size
/// not known in advance).
fn worth_compressing(response: &mut Response) -> bool {
    let headers = response.headers();
    if headers.contains_key(CONTENT_ENCODING) {
        return false;
    }
    let is_event_stream = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case(EVENT_STREAM));
    if is_event_stream {
        return false;
    }
    let (body, size) = body_size(response.take_body());
    response.set_body(body);
    size.is_none_or(|size| size >= MIN_SIZE)
}

/// The exact size of a body, when it is known before it is sent (the body
/// comes back unchanged).
fn body_size(body: Body) -> (Body, Option<u64>) {
    let boxed = BoxBody::<Bytes, io::Error>::from(body);
    let size = http_body::Body::size_hint(&boxed).exact();
    (Body::from(boxed), size)
}

/// The coding the client prefers among those offered (RFC 9110 §12.5.3):
/// the highest `q` wins, `q=0` refuses a coding, `*` stands for those not
/// named, and at equal `q` brotli is preferred. `None` when the client asks
/// for none of them (or sends no `Accept-Encoding`).
fn negotiate(headers: &HeaderMap) -> Option<CompressionAlgo> {
    let mut named: Vec<(String, u16)> = Vec::new();
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            if coding.is_empty() {
                continue;
            }
            let q = parts
                .find_map(|param| {
                    let (name, value) = param.split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("q")
                        .then(|| parse_q(value.trim()))
                })
                .unwrap_or(Some(1000));
            // A malformed weight makes the item meaningless, not preferred.
            if let Some(q) = q {
                named.push((coding, q));
            }
        }
    }
    let weight = |coding: &str| {
        named
            .iter()
            .find(|(name, _)| name == coding)
            .or_else(|| named.iter().find(|(name, _)| name == "*"))
            .map_or(0, |(_, q)| *q)
    };
    CODINGS
        .iter()
        .map(|(name, algo)| (weight(name), *algo))
        .filter(|(q, _)| *q > 0)
        // `max_by_key` keeps the last of equals; reversed, that is the first offered.
        .rev()
        .max_by_key(|(q, _)| *q)
        .map(|(_, algo)| algo)
}

/// A `q` value in thousandths: `0` to `1` with at most three decimals.
fn parse_q(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use poem::http::header::ACCEPT_ENCODING;

    use super::*;

    fn offered(values: &[&str]) -> Option<&'static str> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                ACCEPT_ENCODING,
                HeaderValue::from_str(value).expect("a valid header"),
            );
        }
        negotiate(&headers).map(|algo| match algo {
            CompressionAlgo::BR => "br",
            CompressionAlgo::GZIP => "gzip",
            CompressionAlgo::DEFLATE => "deflate",
            CompressionAlgo::ZSTD => "zstd",
        })
    }

    #[test]
    fn brotli_is_preferred_when_the_client_rates_both_alike() {
        assert_eq!(offered(&["gzip, deflate, br"]), Some("br"));
        assert_eq!(offered(&["gzip", "br"]), Some("br"));
        assert_eq!(offered(&["*"]), Some("br"));
    }

    #[test]
    fn the_clients_weights_decide() {
        assert_eq!(offered(&["br;q=0.5, gzip"]), Some("gzip"));
        assert_eq!(offered(&["gzip;q=0.8, br;q=0.9"]), Some("br"));
        assert_eq!(offered(&["GZIP ; Q=1.0"]), Some("gzip"));
    }

    #[test]
    fn a_zero_weight_refuses_a_coding() {
        assert_eq!(offered(&["gzip;q=0"]), None);
        assert_eq!(offered(&["br;q=0, gzip;q=0.1"]), Some("gzip"));
        assert_eq!(offered(&["*;q=0, gzip"]), Some("gzip"));
        assert_eq!(offered(&["*, br;q=0"]), Some("gzip"));
    }

    #[test]
    fn no_compression_without_an_acceptable_coding() {
        for values in [
            &[][..],
            &["identity"],
            &["deflate"],
            &["zstd"],
            &["gzip;q=2"],
            &["gzip;q=abc"],
            &[""],
        ] {
            assert_eq!(offered(values), None, "{values:?}");
        }
    }

    #[test]
    fn q_values_are_read_in_thousandths() {
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("0.001"), Some(1));
        assert_eq!(parse_q("0"), Some(0));
        for bad in ["1.5", "0.0001", "-1", "", ".5", "2"] {
            assert_eq!(parse_q(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn an_event_stream_of_any_size_is_sent_uncompressed() {
        // Arrange: a stream whose size is not known in advance, as SSE is.
        let events = poem::endpoint::make(|_| async {
            let stream = tokio::io::AsyncReadExt::take(tokio::io::repeat(b'a'), 4096);
            Response::builder()
                .content_type("text/event-stream")
                .body(Body::from_async_read(stream))
        });
        let client = poem::test::TestClient::new(poem::EndpointExt::with(events, Compression));

        // Act
        let response = client
            .get("/")
            .header(ACCEPT_ENCODING, "gzip, br")
            .send()
            .await;

        // Assert
        response.assert_status_is_ok();
        response.assert_header_is_not_exist(CONTENT_ENCODING);
        let body = response.0.into_body().into_string().await.expect("text");
        assert_eq!(body, "a".repeat(4096));
    }

    #[test]
    fn small_bodies_and_event_streams_are_left_alone() {
        let response = |content_type: &str, body: Body| {
            Response::builder().content_type(content_type).body(body)
        };
        let big = || Body::from_vec(vec![b'a'; MIN_SIZE as usize]);
        let cases = [
            (response("application/json", big()), true),
            (
                response("application/json", Body::from_vec(vec![b'a'; 1023])),
                false,
            ),
            (response("text/event-stream", big()), false),
            (response("Text/Event-Stream; charset=utf-8", big()), false),
            (
                Response::builder()
                    .header(CONTENT_ENCODING, "gzip")
                    .body(big()),
                false,
            ),
        ];
        for (mut response, expected) in cases {
            let described = format!("{:?}", response.headers());
            assert_eq!(worth_compressing(&mut response), expected, "{described}");
        }
    }
}
