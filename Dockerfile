# The tetra image: one static binary on distroless, run as a non-root
# user, the data directory a volume. Build and run (docs/release.md):
#
#   docker build --build-arg VERSION=v0.1.0 -t tetra:v0.1.0 .
#   docker run --rm -p 7070:7070 tetra:v0.1.0 serve --demo --listen 0.0.0.0:7070
#
# The build stage is the release build (build/release.sh): no cgo,
# -trimpath, the version stamped with -ldflags.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/tetra ./cmd/tetra \
 && /out/tetra --version \
 && mkdir -p /out/data

# distroless/static has no shell and no package manager; its nonroot user
# is uid 65532. The data directory is created owned by that user, so that
# a new volume mounted there starts writable.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tetra /usr/local/bin/tetra
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME ["/data"]
EXPOSE 7070
ENV TETRA_DATA=/data
ENTRYPOINT ["/usr/local/bin/tetra"]
# Listening beyond loopback needs API keys in /data (tetra key create);
# see docs/release.md.
CMD ["serve", "--data", "/data", "--listen", "0.0.0.0:7070"]
