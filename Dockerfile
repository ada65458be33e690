# uptime-exporter container image.
#
#   docker build -t registry.example.com/uptime-exporter:0.1.0 \
#     --build-arg REVISION="$(git rev-parse HEAD)" .
#
# Build stage: Deno compiles the exporter into one self-contained binary.
# Runtime stage: distroless "cc", which has the glibc and libgcc_s that a
# `deno compile` binary links against (the "static" and "base" images lack
# libgcc_s and cannot run it), no shell and no package manager.

# Pinned to the Deno version the project is developed and tested with.
FROM denoland/deno:2.9.6 AS build

WORKDIR /app

# Dependencies first, from deno.json and deno.lock alone, so this layer stays
# cached until they change. --frozen fails the build if deno.lock is out of date.
COPY deno.json deno.lock ./
RUN deno install --frozen

# Then the source, and the same `compile` task developers run: the permission
# flags of the binary live in deno.json only. `deno compile` downloads its
# `denort` runtime from Deno's download host during this step. The compile
# task first runs `deno task stamp`, which embeds $REVISION (the build context
# has no .git) as the revision of uptime_exporter_build_info; "unknown" if unset.
ARG REVISION=""
COPY main.ts ./
COPY lib/ ./lib/
COPY scripts/stamp.ts ./scripts/
RUN deno install --frozen --entrypoint main.ts \
    && deno task compile \
    && ./dist/uptime-exporter --version

FROM gcr.io/distroless/cc-debian12:nonroot

# The version comes from deno.json; tests/util/version_test.ts checks this default
# against it. The licence is the repository's (LICENSE, Apache-2.0). The source
# URL has no default in the repository yet:
#   docker build --build-arg SOURCE_URL=https://github.com/you/uptime-exporter ...
ARG VERSION=0.1.0
ARG REVISION=""
ARG SOURCE_URL=""

LABEL org.opencontainers.image.title="uptime-exporter" \
      org.opencontainers.image.description="Prometheus exporter that checks URLs and reports whether they are up and how fast they answer" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=build /app/dist/uptime-exporter /usr/local/bin/uptime-exporter

# The distroless "nonroot" user; Kubernetes' runAsNonRoot needs a numeric UID.
USER 65532:65532

EXPOSE 8080

# No HEALTHCHECK: distroless has no shell and no HTTP client to run one, and
# the exporter binary has no health-check mode. Kubernetes probes GET /healthz
# (liveness) and GET /readyz (readiness) instead (helm/uptime-exporter).
# checkov:skip=CKV_DOCKER_2:distroless image without shell or HTTP client; Kubernetes probes /healthz and /readyz instead
#
# Without arguments the exporter checks its two default URLs. To use a config
# file, mount its directory at /etc/uptime-exporter (a directory, so edits of
# the file reach the container and the exporter reloads them). Give it an
# open-file limit of at least max_concurrent_checks + 3 x scrape connections +
# 128 (docs/hardening.md, "connection guard"):
#   docker run --ulimit nofile=65536 \
#     -v "$PWD/config:/etc/uptime-exporter:ro" -p 8080:8080 IMAGE \
#     --config /etc/uptime-exporter/config.yaml
ENTRYPOINT ["/usr/local/bin/uptime-exporter"]
