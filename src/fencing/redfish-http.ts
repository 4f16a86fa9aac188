import http from 'node:http';
import https from 'node:https';
import { CmphaError } from '../shared/errors.js';
import { FenceCode } from './codes.js';

export interface RedfishEndpoint {
  readonly name: string;
  readonly scheme: 'https' | 'http';
  readonly address: string;
  readonly port: number;
  /** PEM text of the CA that signed the BMC's certificate; without it the system trust store is used. */
  readonly ca?: string;
  /** Skip certificate verification. Only when the operator set redfish_insecure. */
  readonly insecure: boolean;
}

export interface RedfishResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

const MAX_BODY = 1024 * 1024;

// Certificate problems are configuration, not weather: retrying will not make a self-signed cert trusted.
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'ERR_SSL_WRONG_VERSION_NUMBER', 'EPROTO',
]);
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/** One HTTP(S) exchange with a BMC, with its own timeout, turning transport failures into fencing errors. */
export class RedfishHttp {
  readonly base: string;
  private readonly agent: http.Agent;
  private readonly endpoint: RedfishEndpoint;

  constructor(endpoint: RedfishEndpoint) {
    this.endpoint = endpoint;
    const host = endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
    this.base = `${endpoint.scheme}://${host}:${endpoint.port}`;
    // No keep-alive: BMCs are slow and drop idle connections; a fresh connection per call fails more honestly.
    this.agent = endpoint.scheme === 'https'
      ? new https.Agent({ keepAlive: false, rejectUnauthorized: !endpoint.insecure, ...(endpoint.ca ? { ca: endpoint.ca } : {}) })
      : new http.Agent({ keepAlive: false });
  }

  request(method: string, path: string, opts: { headers?: Record<string, string>; body?: unknown; timeoutMs: number; signal: AbortSignal }): Promise<RedfishResponse> {
    const what = `${method} ${path}`;
    return new Promise((resolve, reject) => {
      if (opts.signal.aborted) {
        reject(new CmphaError(FenceCode.aborted, `${this.endpoint.name}: ${what} cancelled`));
        return;
      }
      const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
      const lib = this.endpoint.scheme === 'https' ? https : http;
      const req = lib.request(`${this.base}${path}`, {
        method,
        agent: this.agent,
        headers: {
          Accept: 'application/json',
          'OData-Version': '4.0',
          ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}),
          ...opts.headers,
        },
      });
      let settled = false;
      const finish = (err: CmphaError | undefined, res?: RedfishResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal.removeEventListener('abort', onAbort);
        if (err) reject(err); else resolve(res!);
      };
      const timer = setTimeout(() => {
        finish(new CmphaError(FenceCode.timeout, `${this.endpoint.name}: BMC at ${this.base} did not answer ${what} within ${opts.timeoutMs} ms`, { retryable: true }));
        req.destroy();
      }, opts.timeoutMs);
      const onAbort = () => {
        finish(new CmphaError(FenceCode.aborted, `${this.endpoint.name}: ${what} cancelled`));
        req.destroy();
      };
      opts.signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err: NodeJS.ErrnoException) => finish(this.transportError(err, what)));
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => { if (body.length < MAX_BODY) body += d; });
        res.on('error', (err: NodeJS.ErrnoException) => finish(this.transportError(err, what)));
        res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.end(payload);
    });
  }

  private transportError(err: NodeJS.ErrnoException, what: string): CmphaError {
    const code = err.code ?? '';
    if (TLS_CODES.has(code) || /certificate|ssl|tls/i.test(err.message)) {
      const hint = this.endpoint.ca ? 'the certificate is not signed by redfish_cacert or does not name this address' : 'set redfish_cacert to the CA that signed the BMC certificate';
      return new CmphaError(FenceCode.tlsFailed, `${this.endpoint.name}: TLS verification of ${this.base} failed (${err.message}); ${hint}`, { cause: err });
    }
    if (UNREACHABLE_CODES.has(code)) {
      return new CmphaError(FenceCode.unreachable, `${this.endpoint.name}: no answer from the BMC at ${this.base} (${code}) for ${what}`, { retryable: true, cause: err });
    }
    return new CmphaError(FenceCode.error, `${this.endpoint.name}: ${what} to ${this.base} failed: ${err.message}`, { cause: err });
  }
}
