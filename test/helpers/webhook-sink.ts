import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface SinkRequest {
  readonly method: string;
  /** Path and query as sent. */
  readonly url: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** The body as a form (for form-encoded requests). */
  readonly form: URLSearchParams;
}

export interface SinkResponse {
  readonly status: number;
  readonly body?: string;
  /** Never answer (the client's timeout must end the request). */
  readonly hang?: boolean;
}

/** Decides the answer to request number `n` (1-based, counting every request the sink got). */
export type Responder = (req: SinkRequest, n: number) => SinkResponse;

export interface WebhookSink {
  readonly port: number;
  /** http(s)://127.0.0.1:PORT */
  readonly url: string;
  readonly requests: readonly SinkRequest[];
  respondWith(responder: Responder): void;
  waitForRequests(n: number, timeoutMs?: number): Promise<readonly SinkRequest[]>;
  close(): Promise<void>;
}

/**
 * A real HTTP server on a free loopback port that records every request and answers as told (200 by default).
 * With `tls` (PEM key and certificate) it serves HTTPS instead.
 */
export async function startWebhookSink(
  responder: Responder = () => ({ status: 200, body: '{"ok":true}' }),
  opts: { tls?: { key: string | Buffer; cert: string | Buffer } } = {},
): Promise<WebhookSink> {
  const requests: SinkRequest[] = [];
  const waiters = new Set<() => void>();
  let respond = responder;
  const handler: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const u = new URL(req.url ?? '/', 'http://sink');
      const r: SinkRequest = { method: req.method ?? '', url: req.url ?? '', path: u.pathname, query: u.searchParams, headers: req.headers, body, form: new URLSearchParams(body) };
      requests.push(r);
      for (const w of waiters) w();
      const answer = respond(r, requests.length);
      if (answer.hang) return;
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body ?? '');
    });
  };
  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    respondWith(r) {
      respond = r;
    },
    waitForRequests(n, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (requests.length >= n) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(requests);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`webhook sink got ${requests.length} of ${n} requests within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
