import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { CmphaError, errorMessage } from '../shared/errors.js';
import { exchange, HttpExchangeError, type ExchangeResponse } from '../shared/http-exchange.js';
import type { Logger } from '../shared/logger.js';
import type { OutgoingProxy } from '../shared/outgoing-proxy.js';
import { sleep } from '../shared/time.js';
import { MalformedAnswer } from './answer-check.js';
import { codeForStatus, OpenStackError, serviceLabel, type OpenStackService } from './errors.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface HttpRequest {
  readonly service: OpenStackService;
  readonly method: HttpMethod;
  /** Absolute URL. */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  /**
   * Whether sending the request twice does no harm. Only idempotent requests are retried on 5xx,
   * timeouts and dropped connections.
   */
  readonly idempotent: boolean;
  /**
   * For a POST whose duplicate does harm (evacuate, live-migrate): when it fails in a way that leaves
   * open whether the service acted (timeout, reset, 5xx), throw this code so the caller re-reads state.
   */
  readonly outcomeUnknownCode?: string;
  readonly signal?: AbortSignal;
  /**
   * Checks a 2xx body and returns what the caller gets as `data`; throws MalformedAnswer naming the field
   * that does not fit. A malformed answer is retried like a 5xx (a proxy or an API worker can garble one
   * answer) and, when it persists, ends in a retryable `<service>_malformed_answer`.
   */
  readonly validate?: (data: unknown) => unknown;
}

export interface HttpResponse<T = unknown> {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed JSON body; undefined when the body was empty. */
  readonly data: T;
  readonly requestId?: string;
}

export interface HttpClientOptions {
  /** Bounds each attempt in total: connect, headers and the whole body ([cloud] api_timeout). */
  readonly timeoutMs: number;
  /** Largest response body accepted ([cloud] max_response_size); default 32 MiB. */
  readonly maxResponseBytes?: number;
  /** Used only when configured ([cloud] proxy); HTTP(S)_PROXY in the environment is never read. */
  readonly proxy?: OutgoingProxy;
  readonly retries: number;
  readonly cacert?: string;
  readonly insecure: boolean;
  readonly logger: Logger;
  /** First backoff delay; doubles per attempt, with jitter, capped at `retryMaxDelayMs`. */
  readonly retryBaseDelayMs?: number;
  readonly retryMaxDelayMs?: number;
  readonly userAgent?: string;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/** Codes of failures after which the same idempotent request may succeed. 4xx never is one. */
const TRANSIENT = new Set(['timeout', 'connection_reset', 'connection_refused']);

function isTransient(err: OpenStackError): boolean {
  return TRANSIENT.has(err.code) || isGarbled(err) || (err.status !== undefined && err.status >= 500);
}

/** A 2xx whose body was not JSON or not the documented shape. */
function isGarbled(err: OpenStackError): boolean {
  return err.code === `${err.service}_malformed_answer` || err.code === `${err.service}_invalid_response`;
}

/**
 * Failures after which the service may have acted although we got no answer. A refused connection,
 * a name that does not resolve or a failed TLS handshake mean the request never left.
 */
const MAY_HAVE_ACTED = new Set(['timeout', 'aborted', 'connection_reset', 'network_error']);

function mayHaveActed(err: OpenStackError): boolean {
  // An answer refused for its size still came with a status: the service acted on the request.
  return MAY_HAVE_ACTED.has(err.code) || err.code.endsWith('_response_too_large') || (err.status !== undefined && err.status >= 500);
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_NOT_YET_VALID',
]);

/**
 * The one HTTP transport to the cloud: timeouts, retries with backoff, error translation, redaction.
 * It knows nothing about tokens; the Keystone session adds them.
 */
export class HttpClient {
  readonly #agents: { readonly http: http.Agent; readonly https: https.Agent };
  readonly #ca: Buffer | undefined;
  readonly #opts: HttpClientOptions;
  readonly #secrets = new Set<string>();

  constructor(opts: HttpClientOptions) {
    this.#opts = opts;
    let ca: Buffer | undefined;
    if (opts.cacert !== undefined) {
      try {
        ca = readFileSync(opts.cacert);
      } catch (err) {
        throw new CmphaError('config_cacert_unreadable', `cannot read the CA file cacert = ${opts.cacert}: ${errorMessage(err)}`);
      }
    }
    this.#ca = ca;
    this.#agents = {
      http: new http.Agent({ keepAlive: true }),
      https: new https.Agent({ keepAlive: true, ca, rejectUnauthorized: !opts.insecure }),
    };
  }

  /** Closes idle keep-alive connections, so a finished command exits at once. */
  close(): void {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  /** Strings (passwords, tokens) scrubbed from every message this client produces. */
  addSecret(value: string): void {
    if (value.length >= 4) this.#secrets.add(value);
  }

  forgetSecret(value: string): void {
    this.#secrets.delete(value);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.#secrets) out = out.split(s).join('***');
    return out;
  }

  async send<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    const path = describePath(req.url);
    const log = this.#opts.logger;
    if (req.signal?.aborted) {
      throw new OpenStackError('aborted', `${serviceLabel(req.service)} ${req.method} ${path} was not sent: the caller had already given up`, {
        service: req.service, method: req.method, path,
      });
    }
    for (let attempt = 0; ; attempt++) {
      let failure: OpenStackError;
      const started = Date.now();
      try {
        const res = await this.#once(req);
        const headers = flattenHeaders(res.headers);
        const requestId = headers['x-openstack-request-id'] ?? headers['x-compute-request-id'];
        log.debug({ service: req.service, method: req.method, path, status: res.status, requestId, attempt, ms: Date.now() - started }, 'openstack call');
        if (res.status < 400) {
          const parsed = this.#parse<T>(req, path, res, headers, requestId);
          if (!(parsed instanceof OpenStackError)) return parsed;
          failure = parsed;
          log.warn({ service: req.service, method: req.method, path, status: res.status, requestId, error: failure.code, field: failure.context.field }, 'openstack answer malformed');
        } else {
          failure = this.#httpError(req, path, res, requestId);
        }
      } catch (err) {
        if (err instanceof OpenStackError) throw err;
        failure = this.#networkError(req, path, err);
        log.debug({ service: req.service, method: req.method, path, error: failure.code, attempt, ms: Date.now() - started }, 'openstack call failed');
      }
      if (!req.idempotent) {
        // Checked before the caller's abort: a POST evacuate abandoned in flight may still have been acted on.
        // A garbled 2xx to such a POST means it was accepted with an answer we cannot read: re-read as well.
        if (req.outcomeUnknownCode !== undefined && (mayHaveActed(failure) || isGarbled(failure))) throw this.#outcomeUnknown(req, path, failure);
        throw failure;
      }
      if (req.signal?.aborted || !isTransient(failure) || attempt >= this.#opts.retries) throw failure;
      const delay = this.#backoff(attempt);
      log.warn({ service: req.service, method: req.method, path, error: failure.code, status: failure.status, attempt: attempt + 1, retries: this.#opts.retries, delayMs: delay }, 'openstack call failed, retrying');
      try {
        await sleep(delay, req.signal);
      } catch {
        throw failure;
      }
    }
  }

  #once(req: HttpRequest): Promise<ExchangeResponse> {
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'User-Agent': this.#opts.userAgent ?? 'cmpha',
      ...req.headers,
    };
    let data: string | undefined;
    if (req.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      data = JSON.stringify(req.body);
    }
    const secure = req.url.startsWith('https:');
    // Redirects are not followed: a redirect would carry the token to wherever it points.
    return exchange({
      method: req.method, url: req.url, headers, body: data, signal: req.signal,
      deadlineMs: this.#opts.timeoutMs,
      maxBodyBytes: this.#opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      agent: secure ? this.#agents.https : this.#agents.http,
      tls: { ca: this.#ca, rejectUnauthorized: !this.#opts.insecure },
      proxy: this.#opts.proxy,
    });
  }

  /** The parsed (and, with `validate`, checked) answer, or the OpenStackError saying why it is unusable. */
  #parse<T>(req: HttpRequest, path: string, res: ExchangeResponse, headers: Record<string, string>, requestId: string | undefined): HttpResponse<T> | OpenStackError {
    const text = res.body;
    const details = { service: req.service, method: req.method, path, status: res.status, requestId };
    const what = `${serviceLabel(req.service)} ${req.method} ${path} answered ${res.status}`;
    const rid = requestId ? ` (request ${requestId})` : '';
    let data: unknown;
    if (text.trim().length > 0) {
      try {
        data = JSON.parse(text);
      } catch {
        return new OpenStackError(`${req.service}_invalid_response`, `${what} with a body that is not JSON${rid}`, details, { retryable: true });
      }
    }
    if (req.validate) {
      try {
        data = req.validate(data);
      } catch (err) {
        if (!(err instanceof MalformedAnswer)) throw err;
        return new OpenStackError(`${req.service}_malformed_answer`, `${what} with a malformed body: ${this.redact(err.message)}${rid}`,
          { ...details, field: err.field }, { retryable: true });
      }
    }
    return { status: res.status, headers, data: data as T, requestId };
  }

  #httpError(req: HttpRequest, path: string, res: ExchangeResponse, requestId: string | undefined): OpenStackError {
    const serviceMessage = this.redact(extractMessage(res.body));
    const { code, retryable } = codeForStatus(req.service, res.status);
    const what = `${serviceLabel(req.service)} ${req.method} ${path} answered ${res.status}`;
    const message = `${what}${serviceMessage ? `: ${serviceMessage}` : ''}${requestId ? ` (request ${requestId})` : ''}`;
    return new OpenStackError(code, message, {
      service: req.service, method: req.method, path, status: res.status, requestId, serviceMessage: serviceMessage || undefined,
    }, { retryable });
  }

  #networkError(req: HttpRequest, path: string, err: unknown): OpenStackError {
    const details = { service: req.service, method: req.method, path };
    const label = `${serviceLabel(req.service)} ${req.method} ${path}`;
    if (!(err instanceof HttpExchangeError)) {
      return new OpenStackError('network_error', `${label} failed: ${this.redact(errorMessage(err))}`, details, { retryable: true });
    }
    const sysCode = err.sysCode;
    if (err.failure === 'aborted') {
      const reason: unknown = req.signal?.reason;
      const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
      return new OpenStackError(timedOut ? 'timeout' : 'aborted', `${label} ${timedOut ? 'timed out (caller deadline)' : 'was aborted by the caller'}`, details, { retryable: timedOut });
    }
    if (err.failure === 'deadline') {
      return new OpenStackError('timeout', `${label} timed out: ${err.message} (api_timeout)`, { ...details, status: err.status }, { retryable: true });
    }
    if (err.failure === 'too_large') {
      return new OpenStackError(`${req.service}_response_too_large`,
        `${label} refused: ${err.message} (raise [cloud] max_response_size if this answer is expected)`,
        { ...details, status: err.status });
    }
    if (err.failure === 'proxy') {
      return new OpenStackError('proxy_error', `${label}: ${this.redact(err.message)} ([cloud] proxy)`, details, { retryable: true });
    }
    if (sysCode === 'ECONNRESET' || sysCode === 'EPIPE' || /socket hang up/i.test(err.message)) {
      return new OpenStackError('connection_reset', `${label}: the connection was reset (${sysCode ?? 'socket hang up'})`, details, { retryable: true });
    }
    if (sysCode === 'ECONNREFUSED') {
      return new OpenStackError('connection_refused', `${label}: connection refused`, details, { retryable: true });
    }
    if (sysCode === 'ETIMEDOUT' || sysCode === 'ECONNABORTED') {
      return new OpenStackError('timeout', `${label} timed out (${sysCode})`, details, { retryable: true });
    }
    if (sysCode !== undefined && TLS_CODES.has(sysCode)) {
      return new OpenStackError('tls_error', `${label}: TLS verification failed (${sysCode}); set cacert to the CA that signed the certificate`, details);
    }
    if (sysCode === 'ENOTFOUND' || sysCode === 'EAI_AGAIN') {
      return new OpenStackError('dns_error', `${label}: the host name does not resolve (${sysCode})`, details, { retryable: true });
    }
    // The raw error is not kept as `cause`: it may name the request's headers, the token among them.
    return new OpenStackError('network_error', `${label} failed: ${this.redact(err.message)}${sysCode ? ` (${sysCode})` : ''}`, details, { retryable: true });
  }

  #outcomeUnknown(req: HttpRequest, path: string, failure: OpenStackError): OpenStackError {
    return new OpenStackError(
      req.outcomeUnknownCode!,
      `${failure.message}; the request was not repeated because a duplicate does harm: whether ${serviceLabel(req.service)} acted is unknown, re-read the state before trying again`,
      { service: req.service, method: req.method, path, status: failure.status, requestId: failure.requestId, serviceMessage: failure.serviceMessage },
      { retryable: false, cause: failure },
    );
  }

  #backoff(attempt: number): number {
    const base = this.#opts.retryBaseDelayMs ?? 500;
    const cap = this.#opts.retryMaxDelayMs ?? 10_000;
    const exp = Math.min(cap, base * 2 ** attempt);
    // Half fixed, half random: spreads a herd of controllers without ever retrying at once.
    return Math.round(exp / 2 + Math.random() * (exp / 2));
  }
}

function describePath(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return '(invalid URL)';
  }
}

function flattenHeaders(headers: ExchangeResponse['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || v === null) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

/**
 * The human message inside an OpenStack error body: Nova's `{"badRequest": {"message": ...}}`,
 * Keystone's `{"error": {"message": ...}}`, Neutron's `{"NeutronError": {"message": ...}}`,
 * Placement's `{"errors": [{"detail": ...}]}`, or the start of a plain-text body from a proxy.
 */
export function extractMessage(body: string): string {
  const text = body.trim();
  if (!text) return '';
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object') {
      const obj = parsed as Record<string, unknown>;
      if (typeof obj.message === 'string') return obj.message;
      // A Cloudpods region: {"code": 400, "class": "BadRequestError", "details": "..."}.
      if (typeof obj.details === 'string') return obj.details;
      if (Array.isArray(obj.errors)) {
        const first = obj.errors[0] as Record<string, unknown> | undefined;
        const m = first?.detail ?? first?.title;
        if (typeof m === 'string') return m;
      }
      for (const v of Object.values(obj)) {
        if (v && typeof v === 'object' && typeof (v as Record<string, unknown>).message === 'string') {
          return (v as Record<string, string>).message!;
        }
      }
    }
  } catch {
    // not JSON: fall through to plain text
  }
  const plain = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return plain.length > 200 ? `${plain.slice(0, 200)}…` : plain;
}
