import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { CmphaError } from './errors.js';
import { proxyFor, type OutgoingProxy } from './outgoing-proxy.js';

// The one way cmpha sends an HTTP request out of the process (cloud APIs, BMCs, webhooks). Two promises
// every caller relies on:
//  - the deadline bounds the whole exchange: connecting, the proxy tunnel, the headers AND the body. A server
//    that sends headers and then trickles or stalls the body fails at the deadline like one that never answers;
//  - the body is never held beyond `maxBodyBytes`: a larger answer is refused (declared Content-Length at
//    once, otherwise as soon as the count passes the cap), so one bad endpoint cannot exhaust memory.

export interface ExchangeTls {
  /** PEM CA bundle; without it Node's trust store. */
  readonly ca?: string | Buffer;
  readonly rejectUnauthorized: boolean;
}

export interface ExchangeRequest {
  readonly method: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  /** Total time for the exchange, in ms. */
  readonly deadlineMs: number;
  /** Largest body accepted, in bytes. */
  readonly maxBodyBytes: number;
  readonly signal?: AbortSignal;
  /** Connection pool for direct connections (keep-alive, TLS options); not used through a proxy. */
  readonly agent?: http.Agent;
  /** TLS options for https destinations; must match the agent's. */
  readonly tls?: ExchangeTls;
  readonly proxy?: OutgoingProxy;
}

export interface ExchangeResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** The elapsed time of the whole exchange. */
  readonly ms: number;
}

/**
 * Why an exchange failed, for callers to translate into their own codes:
 * - `deadline`: the total deadline passed (`phase` says whether headers had arrived);
 * - `too_large`: the body passed `maxBodyBytes`;
 * - `aborted`: the caller's signal fired;
 * - `proxy`: the proxy refused or failed the tunnel;
 * - `transport`: a socket or TLS error (`sysCode` holds Node's code).
 */
export type ExchangeFailure = 'deadline' | 'too_large' | 'aborted' | 'proxy' | 'transport';

export class HttpExchangeError extends CmphaError {
  readonly failure: ExchangeFailure;
  readonly sysCode?: string;
  readonly phase: 'request' | 'body';
  /** The HTTP status, when headers arrived. */
  readonly status?: number;

  constructor(failure: ExchangeFailure, message: string, o: { sysCode?: string; phase: 'request' | 'body'; status?: number; cause?: unknown }) {
    super(`http_${failure}`, message, { retryable: failure === 'deadline' || failure === 'transport', cause: o.cause });
    this.name = 'HttpExchangeError';
    this.failure = failure;
    this.sysCode = o.sysCode;
    this.phase = o.phase;
    this.status = o.status;
  }
}

/** Human words for a size: 1048576 → "1 MiB". */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** One bounded HTTP exchange. Never throws anything but HttpExchangeError. */
export function exchange(req: ExchangeRequest): Promise<ExchangeResponse> {
  const started = Date.now();
  const target = new URL(req.url);
  const secure = target.protocol === 'https:';
  const via = proxyFor(req.proxy, target);

  return new Promise<ExchangeResponse>((resolve, reject) => {
    let settled = false;
    let phase: 'request' | 'body' = 'request';
    let status: number | undefined;
    const cleanups: (() => void)[] = [];
    const finish = (err: HttpExchangeError | undefined, res?: ExchangeResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      // Only a failed exchange tears its connection down. After a complete answer a keep-alive socket is back in
      // the agent's pool and may already carry another request: destroying it then would break that one.
      if (err) for (const c of cleanups) c();
      if (err) reject(err); else resolve(res!);
    };
    const fail = (failure: ExchangeFailure, message: string, extra: { sysCode?: string; cause?: unknown } = {}) =>
      finish(new HttpExchangeError(failure, message, { ...extra, phase, status }));

    const timer = setTimeout(() => {
      fail('deadline', phase === 'body'
        ? `the body was not complete within ${req.deadlineMs} ms (headers had arrived)`
        : `no answer within ${req.deadlineMs} ms`);
    }, req.deadlineMs);
    const onAbort = () => fail('aborted', 'cancelled by the caller', { cause: req.signal?.reason });
    if (req.signal?.aborted) { onAbort(); return; }
    req.signal?.addEventListener('abort', onAbort, { once: true });

    const onResponse = (res: http.IncomingMessage) => {
      phase = 'body';
      status = res.statusCode ?? 0;
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > req.maxBodyBytes) {
        fail('too_large', `the answer declares ${declared} bytes, more than the ${formatBytes(req.maxBodyBytes)} accepted`);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > req.maxBodyBytes) {
          fail('too_large', `the answer is larger than the ${formatBytes(req.maxBodyBytes)} accepted`);
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (err: NodeJS.ErrnoException) => fail('transport', err.message, { sysCode: err.code, cause: err }));
      res.on('close', () => { if (!res.complete) fail('transport', 'the connection closed before the body was complete', { sysCode: 'ECONNRESET' }); });
      res.on('end', () => finish(undefined, { status: status!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - started }));
    };

    const send = (opts: http.RequestOptions & https.RequestOptions, url: string | URL, lib: typeof http | typeof https, proxyHost?: string) => {
      const out = lib.request(url, opts, onResponse);
      cleanups.push(() => out.destroy());
      out.on('error', (err: NodeJS.ErrnoException) => {
        // Through a plain-HTTP proxy, a failure before any answer is the proxy's: an unreachable destination
        // would have come back from it as a 502.
        if (proxyHost !== undefined && phase !== 'body') fail('proxy', `proxy ${proxyHost} failed: ${err.message}`, { sysCode: err.code, cause: err });
        else fail('transport', err.message, { sysCode: err.code, cause: err });
      });
      out.end(req.body);
    };

    const headers = { ...req.headers } as Record<string, string>;
    if (req.body !== undefined && headers['Content-Length'] === undefined && headers['content-length'] === undefined) {
      headers['Content-Length'] = String(Buffer.byteLength(req.body));
    }

    if (via === undefined) {
      send({ method: req.method, headers, agent: req.agent }, target, secure ? https : http);
      return;
    }
    const proxyAuth = via.username !== ''
      ? { 'Proxy-Authorization': `Basic ${Buffer.from(`${decodeURIComponent(via.username)}:${decodeURIComponent(via.password)}`).toString('base64')}` }
      : {};
    const proxyPort = Number(via.port || 80);
    if (!secure) {
      // Plain HTTP through a proxy: the absolute URL as the request target.
      send({ method: req.method, host: via.hostname, port: proxyPort, path: target.href, headers: { ...headers, Host: target.host, ...proxyAuth }, agent: false }, `http://${via.host}`, http, via.host);
      return;
    }
    const authority = `${target.hostname.includes(':') ? `[${target.hostname}]` : target.hostname}:${target.port || 443}`;
    const connect = http.request({ host: via.hostname, port: proxyPort, method: 'CONNECT', path: authority, headers: { Host: authority, ...proxyAuth }, agent: false });
    cleanups.push(() => connect.destroy());
    connect.on('error', (err: NodeJS.ErrnoException) => fail('proxy', `proxy ${via.host} failed: ${err.message}`, { sysCode: err.code, cause: err }));
    connect.on('connect', (res: http.IncomingMessage, socket: Socket) => {
      cleanups.push(() => socket.destroy());
      if (res.statusCode !== 200) {
        fail('proxy', `proxy ${via.host} refused the tunnel to ${authority}: ${res.statusCode} ${res.statusMessage ?? ''}`.trim());
        return;
      }
      const servername = target.hostname.replace(/^\[(.*)\]$/, '$1');
      const tlsSocket = tls.connect({
        socket,
        host: servername,
        ...(tlsServername(servername) ? { servername } : {}),
        ...(req.tls?.ca ? { ca: req.tls.ca } : {}),
        rejectUnauthorized: req.tls?.rejectUnauthorized ?? true,
      });
      cleanups.push(() => tlsSocket.destroy());
      tlsSocket.on('error', (err: NodeJS.ErrnoException) => fail('transport', err.message, { sysCode: err.code, cause: err }));
      // No agent at all: with `agent: false` Node would make a fresh agent and ignore createConnection.
      send({ method: req.method, headers, createConnection: () => tlsSocket }, target, https);
    });
    connect.end();
  });
}

/** SNI takes names only, never IP literals. */
function tlsServername(hostname: string): boolean {
  return !/^[0-9.]+$/.test(hostname) && !hostname.includes(':');
}
