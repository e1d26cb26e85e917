# syntax=docker/dockerfile:1

# Build stage: the release binary. The cache mounts keep the crates.io
# downloads and compiled dependencies between builds, so an edit rebuilds our
# crates only; .dockerignore keeps target/ out of the context.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p integration-points \
    && cp target/release/integration-points /usr/local/bin/integration-points

# Runtime stage: a small image, a non-root user, no toolchain. curl is there
# for the healthcheck (GET /health/ready), which compose runs inside the container.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /app/data \
    && chown app /app/data
WORKDIR /app
COPY --from=build /usr/local/bin/integration-points /usr/local/bin/integration-points
COPY config /app/config
USER app
EXPOSE 8080
# The binary handles SIGTERM itself (graceful shutdown), even as PID 1.
STOPSIGNAL SIGTERM
ENTRYPOINT ["integration-points"]
CMD ["serve"]
