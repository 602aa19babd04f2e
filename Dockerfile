# Build the single binary, then run it on a slim Debian that has redis-server for the embedded
# mode (set REDIS_URL to use an external Redis instead).
FROM oven/bun:1.4 AS build
WORKDIR /app
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile
COPY tsconfig.json ./
COPY src ./src
RUN bun run build

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /app/dist/tickwheel /usr/local/bin/tickwheel
WORKDIR /data
ENV TICKWHEEL_DATA_DIR=/data/.tickwheel \
    TICKWHEEL_HOST=0.0.0.0 \
    PORT=7420
EXPOSE 7420
# Listening on 0.0.0.0 requires TICKWHEEL_API_TOKEN (or TICKWHEEL_ALLOW_INSECURE=true).
ENTRYPOINT ["/usr/local/bin/tickwheel"]
CMD ["start"]
