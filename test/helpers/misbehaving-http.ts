import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback HTTP server whose answers go wrong the ways a broken API, BMC or gateway does:
 * - `trickle`: headers at once, then one byte every `trickleMs`, never ending;
 * - `stall`: headers and half a JSON document, then silence with the connection open;
 * - `huge`: a well-formed JSON array streamed without Content-Length, `hugeBytes` long;
 * - `huge-declared`: Content-Length of `hugeBytes` announced, the body streamed as asked;
 * - `ok`: `{"ok": true}`.
 */
export type Misbehaviour = 'trickle' | 'stall' | 'huge' | 'huge-declared' | 'ok';

export interface MisbehavingServer {
  readonly url: string;
  readonly port: number;
  /** Bytes of body the server managed to write, by request path (the client stops reading when it refuses). */
  readonly written: Map<string, number>;
  readonly requests: { method: string; path: string; headers: http.IncomingHttpHeaders }[];
  /** TCP connections accepted so far. */
  readonly connections: () => number;
  mode: Misbehaviour;
  close(): Promise<void>;
}

export async function startMisbehavingServer(opts: { hugeBytes?: number; trickleMs?: number } = {}): Promise<MisbehavingServer> {
  const hugeBytes = opts.hugeBytes ?? 64 * 1024 * 1024;
  const trickleMs = opts.trickleMs ?? 100;
  const timers = new Set<NodeJS.Timeout>();
  const written = new Map<string, number>();
  const requests: MisbehavingServer['requests'] = [];
  const state = { mode: 'ok' as Misbehaviour };

  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push({ method: req.method ?? '', path, headers: req.headers });
    req.resume();
    const count = (n: number) => written.set(path, (written.get(path) ?? 0) + n);
    switch (state.mode) {
      case 'ok': {
        const body = '{"ok": true}';
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
        count(body.length);
        return;
      }
      case 'trickle': {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('[');
        count(1);
        const t = setInterval(() => { if (!res.destroyed) { res.write(' '); count(1); } }, trickleMs);
        timers.add(t);
        res.on('close', () => { clearInterval(t); timers.delete(t); });
        return;
      }
      case 'stall':
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{"services": [');
        count(14);
        return;
      case 'huge':
      case 'huge-declared': {
        res.writeHead(200, { 'Content-Type': 'application/json', ...(state.mode === 'huge-declared' ? { 'Content-Length': String(hugeBytes) } : {}) });
        const chunk = Buffer.alloc(64 * 1024, ' ');
        let left = hugeBytes - 2;
        res.write('[');
        count(1);
        const pump = () => {
          while (left > 0 && !res.destroyed) {
            const n = Math.min(left, chunk.length);
            left -= n;
            count(n);
            if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { res.once('drain', pump); return; }
          }
          if (!res.destroyed) { res.end(']'); count(1); }
        };
        pump();
        return;
      }
    }
  });
  let connections = 0;
  server.on('connection', () => { connections += 1; });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    connections: () => connections,
    url: `http://127.0.0.1:${port}`,
    port,
    written,
    requests,
    get mode() { return state.mode; },
    set mode(m: Misbehaviour) { state.mode = m; },
    close: () => new Promise<void>((resolve) => {
      for (const t of timers) clearInterval(t);
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
