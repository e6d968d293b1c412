# syntax=docker/dockerfile:1
# Mirrors the Makefile: `make release` builds the same product the same way, and the
# defaults below (port 8080, data dir /data, Config/destination.json) match the config
# defaults. Tests/DestinationAppTests/DockerfileTests.swift keeps them from drifting apart.

# ---- build stage: the official Swift image (Debian 12, as on the build machines) ----
FROM swift:6.3-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libssl-dev zlib1g-dev libsqlite3-dev libpq-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Resolve dependencies in their own layer so source edits do not refetch them.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product adobe-target-destination --static-swift-stdlib \
 && install -D .build/release/adobe-target-destination /out/adobe-target-destination

# ---- runtime stage: slim Debian with only the runtime libraries ----
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libssl3 zlib1g libsqlite3-0 libpq5 libcurl4 libxml2 tzdata ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin destination \
 && mkdir -p /data && chown destination /data
WORKDIR /app
COPY --from=build /out/adobe-target-destination /usr/local/bin/adobe-target-destination
COPY Config ./Config
USER destination
ENV PORT=8080 \
    DATA_DIR=/data \
    LOG_LEVEL=info
VOLUME ["/data"]
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${PORT}/health" || exit 1
ENTRYPOINT ["adobe-target-destination"]
CMD ["serve", "--config", "Config/destination.json"]
