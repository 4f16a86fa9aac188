# cmpha container image.
#   docker build -t cmpha .
#   docker run -d --net=host -v /etc/cmpha:/etc/cmpha:ro cmpha
# --net=host: cmpha pings the hosts' management and instance addresses and reaches BMCs as the host does.
# fping needs CAP_NET_RAW (in Docker's default capability set; with --cap-drop=ALL add --cap-add=NET_RAW).
# See docs/operations.md.

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS runtime
# fping gets cap_net_raw as a file capability from its Debian postinst, so it works for a non-root user.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fping ipmitool ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 cmpha \
    && useradd --system --uid 10001 --gid cmpha --home-dir /nonexistent --shell /usr/sbin/nologin cmpha \
    && mkdir -p /etc/cmpha
WORKDIR /opt/cmpha
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY --from=build /src/dist ./dist
COPY deploy ./deploy
RUN ln -s /opt/cmpha/bin/cmpha.js /usr/local/bin/cmpha
USER cmpha
EXPOSE 9464
# Node's fetch instead of curl: the slim image has no curl. No --start-period: dockerfilelint 1.8 rejects it,
# and three misses 30 s apart already give startup 90 s.
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["cmpha", "run", "--config", "/etc/cmpha/cmpha.conf"]
