# chainwatch's images, from one multi-stage build:
#   docker build -t chainwatch:dev .                      the binary (every chainwatch service)
#   docker build --target grafana -t chainwatch-grafana .  Grafana with the chainwatch datasource plugin
# Base images are pinned to exact versions (a floating tag broke peers' deployments).

FROM golang:1.26.0-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static binaries: no libc in the runtime image is needed.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/chainwatch ./cmd/chainwatch \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gpx_chainwatch_linux_amd64 ./grafana/pkg

FROM node:22.12.0-bookworm-slim AS frontend
WORKDIR /src/grafana
COPY grafana/package.json grafana/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY grafana/ ./
RUN npm run build:frontend

# Grafana with the plugin: unsigned, allowed for chainwatch's id only
# (GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS in docker-compose.yaml).
FROM grafana/grafana:12.0.2 AS grafana
COPY --from=frontend /src/grafana/dist /var/lib/grafana/plugins/chainwatch-chainwatch-datasource
COPY --from=build /out/gpx_chainwatch_linux_amd64 /var/lib/grafana/plugins/chainwatch-chainwatch-datasource/

FROM debian:12.11-slim AS chainwatch
RUN groupadd --system --gid 10001 chainwatch \
 && useradd --system --uid 10001 --gid chainwatch --home-dir /nonexistent --shell /usr/sbin/nologin chainwatch
COPY --from=build /out/chainwatch /usr/local/bin/chainwatch
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/chainwatch"]
CMD ["--help"]
