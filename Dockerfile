# The molt image: one static binary (the built-in modules inside) FROM scratch, run as
# a non-root user, its data on a volume.
#
#   docker build -t molt .
#   docker run --rm -p 8545:8545 -v molt-data:/data molt            # a dev node
#   docker run --rm -v net:/data molt node --datadir /data/node0     # a network node
#
# deploy/docker-compose.yml runs a 4-validator network; deploy/kubernetes/ a StatefulSet.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# glibc, linked statically: no libc, no loader, nothing else in the image. The `dist`
# profile is `release` with fat LTO, one codegen unit, stripped, and the dependencies
# off the hot path built for size (34 MB against 53 MB).
RUN rustup target add wasm32-wasip1 \
 && CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --profile dist --locked --target x86_64-unknown-linux-gnu -p molt-host --bin molt \
 && mkdir -p /out/data \
 && cp target/x86_64-unknown-linux-gnu/dist/molt /out/molt

FROM scratch
COPY --from=build /out/molt /molt
COPY --from=build --chown=10001:10001 /out/data /data
USER 10001:10001
# Compiled modules are cached beside the data (there is no home directory).
ENV MOLT_CACHE_DIR=/data/module-cache
VOLUME ["/data"]
# JSON-RPC (and the probes), the admin API, metrics without a token.
EXPOSE 8545 8551 9001
HEALTHCHECK --interval=10s --timeout=5s CMD ["/molt", "probe", "http://127.0.0.1:8545/readyz"]
ENTRYPOINT ["/molt"]
CMD ["dev", "--datadir", "/data", "--http.addr", "0.0.0.0", "--metrics.addr", "0.0.0.0:9001"]
