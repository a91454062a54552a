# Multi-stage build of bottleneckd on Debian 12, using the same install script as the README.
# Build stage: every build dependency; runtime stage: only the shared libraries bottleneckd links.
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
# The npm datasets are for tests and benchmarks, not for the image.
RUN BOTTLENECK_SKIP_DATASETS=1 bash scripts/install-deps.sh
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build --target bottleneckd bottleneck -j"$(nproc)"

FROM debian:12 AS runtime
COPY scripts/install-deps.sh /opt/bottleneck/scripts/install-deps.sh
RUN bash /opt/bottleneck/scripts/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/bottleneck --create-home bottleneck
COPY --from=build /build/server/bottleneckd /build/client/bottleneck /usr/local/bin/
USER bottleneck
VOLUME ["/var/lib/bottleneck"]
EXPOSE 50051 50052 9464
# The CLI's health command calls the standard gRPC health service.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s \
  CMD ["/usr/local/bin/bottleneck", "--server", "127.0.0.1:50051", "health"]
# Flags given to `docker run IMAGE ...` (or compose's `command`) replace these defaults.
ENTRYPOINT ["/usr/local/bin/bottleneckd"]
CMD ["--listen=0.0.0.0:50051", "--data-dir=/var/lib/bottleneck"]
