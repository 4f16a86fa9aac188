import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { CmphaError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

export interface ReadinessCheck {
  readonly ok: boolean;
  /** Human-readable state, e.g. "PONG in 2 ms" or "connect ECONNREFUSED 127.0.0.1:6379". Never a secret. */
  readonly detail: string;
}

/** What `/readyz` answers; built by the application, which knows Redis, Nova and the detector. */
export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: {
    readonly redis: ReadinessCheck;
    readonly nova: ReadinessCheck;
    /** `lastRoundAgeSeconds` is null before the first round finished. */
    readonly detector: { readonly ok: boolean; readonly lastRoundAgeSeconds: number | null };
    readonly role: 'leader' | 'standby';
  };
}

export interface MetricsServerOptions {
  /** Default 127.0.0.1:9464: metrics reveal the cloud's state, so bind wider only on purpose. */
  readonly listen?: { readonly host: string; readonly port: number };
  readonly registry: Registry;
  readonly readiness: () => Promise<ReadinessReport>;
  readonly logger: Logger;
  /** A readiness check that hangs must not hang the probe; answered as not ready after this. Default 5000. */
  readonly readinessTimeoutMs?: number;
}

export interface MetricsServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

const DEFAULT_LISTEN = { host: '127.0.0.1', port: 9464 } as const;

/** Serves /metrics, /healthz and /readyz for Prometheus, Docker HEALTHCHECK, systemd and load balancers. */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const listen = opts.listen ?? DEFAULT_LISTEN;
  const log = opts.logger.child({ component: 'metrics-http' });
  const readinessTimeoutMs = opts.readinessTimeoutMs ?? 5000;

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err: errorMessage(err), path: req.url }, 'metrics endpoint failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const known = path === '/metrics' || path === '/healthz' || path === '/readyz';
    if (!known) return send(res, 404, 'text/plain; charset=utf-8', 'not found: try /metrics, /healthz or /readyz\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    if (path === '/healthz') return send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
    if (path === '/metrics') return send(res, 200, opts.registry.contentType, await opts.registry.metrics());
    const { status, body } = await readyz();
    return send(res, status, 'application/json', `${JSON.stringify(body)}\n`);
  }

  async function readyz(): Promise<{ status: number; body: unknown }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`readiness check gave no answer within ${readinessTimeoutMs} ms`)), readinessTimeoutMs);
    });
    try {
      const report = await Promise.race([opts.readiness(), timeout]);
      return { status: report.ready ? 200 : 503, body: report };
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'readiness check failed');
      return { status: 503, body: { ready: false, error: errorMessage(err) } };
    } finally {
      clearTimeout(timer);
    }
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new CmphaError('metrics_listen_failed',
        `cannot serve metrics on ${listen.host}:${listen.port} ([metrics] listen): ${err.code ?? err.message}`,
        { cause: err, context: { host: listen.host, port: listen.port } }));
    };
    server.once('error', onError);
    server.listen(listen.port, listen.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err: errorMessage(err) }, 'metrics server error'));
  const port = (server.address() as AddressInfo).port;
  log.info({ host: listen.host, port }, 'metrics, health and readiness endpoints listening');

  return {
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Prometheus keeps connections alive between scrapes; without this close() waits for them.
      server.closeAllConnections();
    }),
  };
}

function send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'no-store');
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
