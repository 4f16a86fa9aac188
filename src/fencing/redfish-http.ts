import http from 'node:http';
import https from 'node:https';
import { CmphaError } from '../shared/errors.js';
import { exchange, formatBytes, type HttpExchangeError } from '../shared/http-exchange.js';
import type { OutgoingProxy } from '../shared/outgoing-proxy.js';
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
  /** [cloud] proxy; unset: direct. */
  readonly proxy?: OutgoingProxy;
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

/**
 * One HTTP(S) exchange with a BMC through the shared bounded exchange: `timeoutMs` bounds the whole call (a BMC
 * that sends headers and then stalls fails like one that never answers) and an answer over 1 MiB is refused.
 */
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

  async request(method: string, path: string, opts: { headers?: Record<string, string>; body?: unknown; timeoutMs: number; signal: AbortSignal }): Promise<RedfishResponse> {
    const what = `${method} ${path}`;
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    try {
      const res = await exchange({
        method,
        url: `${this.base}${path}`,
        headers: {
          Accept: 'application/json',
          'OData-Version': '4.0',
          ...(payload ? { 'Content-Type': 'application/json' } : {}),
          ...opts.headers,
        },
        ...(payload ? { body: payload } : {}),
        deadlineMs: opts.timeoutMs,
        maxBodyBytes: MAX_BODY,
        signal: opts.signal,
        agent: this.agent,
        tls: { ...(this.endpoint.ca ? { ca: this.endpoint.ca } : {}), rejectUnauthorized: !this.endpoint.insecure },
        ...(this.endpoint.proxy ? { proxy: this.endpoint.proxy } : {}),
      });
      return { status: res.status, headers: res.headers, body: res.body };
    } catch (err) {
      throw this.exchangeError(err as HttpExchangeError, what, opts.timeoutMs);
    }
  }

  private exchangeError(err: HttpExchangeError, what: string, timeoutMs: number): CmphaError {
    switch (err.failure) {
      case 'aborted':
        return new CmphaError(FenceCode.aborted, `${this.endpoint.name}: ${what} cancelled`);
      case 'deadline':
        return new CmphaError(FenceCode.timeout, `${this.endpoint.name}: BMC at ${this.base} did not answer ${what} within ${timeoutMs} ms${err.phase === 'body' ? ' (headers came, the body did not finish)' : ''}`, { retryable: true });
      case 'too_large':
        return new CmphaError(FenceCode.error, `${this.endpoint.name}: BMC at ${this.base} answered ${what} with more than ${formatBytes(MAX_BODY)}; refused`);
      case 'proxy':
        return new CmphaError(FenceCode.unreachable, `${this.endpoint.name}: ${what} to ${this.base}: ${err.message} (add the BMC network to [cloud] no_proxy if BMCs are reached directly)`, { retryable: true });
      case 'transport':
        return this.transportError(err, what);
    }
  }

  private transportError(err: HttpExchangeError, what: string): CmphaError {
    const code = err.sysCode ?? '';
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
