# syntax=docker/dockerfile:1

# Build stage: a static, CGO-free binary stamped with version information by
# scripts/ldflags.sh (github.com/prometheus/common/version -X flags).
FROM golang:1.26 AS build
WORKDIR /src

# Module downloads are cached in their own layer.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "$(./scripts/ldflags.sh)" -o dcs_exporter .

# Runtime stage: distroless, no shell, non-root.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/dcs_exporter /dcs_exporter
EXPOSE 19867
USER 65532:65532
ENTRYPOINT ["/dcs_exporter"]
CMD ["--config.file=/etc/dcs-exporter/dcs_exporter.yml"]
