# Multi-stage build of bottleneckd on Debian 12, using the same install script as the README.
# Build stage: what compiling needs; runtime stage: only the shared libraries bottleneckd links.
# Without a Docker daemon: scripts/build-image.sh (buildah); deploy/README.md has the commands.
FROM debian:12 AS build
# Compile jobs (docker build --build-arg JOBS=8); default: every core.
ARG JOBS=
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
# Only the compile dependencies: the test, fuzz and client packages and the npm datasets are for
# CI, not for the image.
RUN BOTTLENECK_SKIP_DATASETS=1 bash scripts/install-deps.sh --compile \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY . .
# The two binaries, stripped of their symbol tables, go to /opt/bottleneck/bin. ccache keeps its
# objects in a build cache (BuildKit's and buildah's RUN --mount), so that a rebuild after a
# source change compiles only what changed.
RUN --mount=type=cache,target=/root/.cache/ccache \
    cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build --target bottleneckd bottleneck -j"${JOBS:-$(nproc)}" \
 && install -D -s -m 755 -t /opt/bottleneck/bin /build/server/bottleneckd /build/client/bottleneck

FROM debian:12 AS runtime
# Like Debian's slim images: no documentation, manual pages or translations from packages.
RUN printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
      'path-exclude /usr/share/locale/*' 'path-exclude /usr/share/lintian/*' \
      > /etc/dpkg/dpkg.cfg.d/bottleneck-slim
COPY scripts/install-deps.sh /opt/bottleneck/scripts/install-deps.sh
RUN bash /opt/bottleneck/scripts/install-deps.sh --runtime \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log \
 && useradd --system --uid 10001 --home-dir /var/lib/bottleneck --create-home bottleneck
COPY --from=build /opt/bottleneck/bin/ /usr/local/bin/
USER bottleneck
VOLUME ["/var/lib/bottleneck"]
EXPOSE 50051 50052 9464
# The CLI's health command calls the standard gRPC health service.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s \
  CMD ["/usr/local/bin/bottleneck", "--server", "127.0.0.1:50051", "health"]
# Flags given to `docker run IMAGE ...` (or compose's `command`) replace these defaults.
ENTRYPOINT ["/usr/local/bin/bottleneckd"]
CMD ["--listen=0.0.0.0:50051", "--data-dir=/var/lib/bottleneck"]
