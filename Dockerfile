# cmpha container image.
#   docker build -t cmpha .          (or: podman build / buildah bud)
#   docker run -d --name cmpha --restart=on-failure:5 --net=host --cap-add NET_RAW \
#     -v /etc/cmpha:/etc/cmpha:ro cmpha
# --net=host: cmpha pings the hosts' management and instance addresses and reaches BMCs as the host does.
# --cap-add NET_RAW: fping needs CAP_NET_RAW. Docker grants it by default, Podman does not: without it every
# probe fails, the controller reads as isolated and nothing is ever recovered. Give it on both.
# --restart=on-failure:5: a configuration error exits 2 and should stop, not loop (see docs/operations.md).

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="cmpha" \
      org.opencontainers.image.description="High-availability controller for OpenStack compute nodes: detect, fence, evacuate, verify, notify" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/cmpha/cmpha" \
      org.opencontainers.image.documentation="https://github.com/cmpha/cmpha/blob/main/docs/install.md" \
      org.opencontainers.image.base.name="docker.io/library/node:20-bookworm-slim"
# fping gets cap_net_raw as a file capability from its Debian postinst, so it works for a non-root user,
# provided the container's bounding set holds CAP_NET_RAW (--cap-add NET_RAW).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fping ipmitool ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 cmpha \
    && useradd --system --uid 10001 --gid cmpha --home-dir /nonexistent --shell /usr/sbin/nologin cmpha \
    && mkdir -p /etc/cmpha
WORKDIR /opt/cmpha
ENV NODE_ENV=production
# A 1 GiB heap limit keeps V8 from letting garbage grow to four times the live heap between full collections
# (as deploy/systemd/cmpha.service sets it; docs/benchmarks.md "Detector round at scale").
ENV NODE_OPTIONS="--max-old-space-size=1024 --max-semi-space-size=4"
COPY package.json package-lock.json LICENSE ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY --from=build /src/dist ./dist
COPY deploy ./deploy
RUN ln -s /opt/cmpha/bin/cmpha.js /usr/local/bin/cmpha
USER cmpha
EXPOSE 9464
# Node's fetch instead of curl: the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["cmpha", "run", "--config", "/etc/cmpha/cmpha.conf"]
