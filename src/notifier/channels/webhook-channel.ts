import http from 'node:http';
import https from 'node:https';
import { errorMessage } from '../../shared/errors.js';
import { exchange, HttpExchangeError } from '../../shared/http-exchange.js';
import type { WebhookChannelOptions } from '../channel-options.js';
import { redactSecrets } from '../redact.js';
import { retryBudgetMs, withRetries, type AttemptFailure } from '../retry.js';
import type { Channel, RenderedMessage } from '../types.js';
import { readCa } from './read-ca.js';
import { buildWebhookRequest } from './webhook-request.js';

// A certificate that does not verify will not verify on the next try either.
const TLS_VERIFY_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED', 'CERT_REJECTED',
]);

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

/** A webhook's answer is an acknowledgement of a few hundred bytes; anything near this is not a gateway. */
const MAX_WEBHOOK_ANSWER = 1024 * 1024;

/** An answer that arrived with a status other than 2xx. */
class WebhookStatusError extends Error {
  constructor(readonly status: number, readonly body: string) {
    super(`HTTP ${status}`);
  }
}

/** 5xx, 408, 429 and network errors may pass; any other 4xx means the request itself is wrong. */
export function classifyHttpError(err: unknown, origin: string): AttemptFailure {
  if (err instanceof WebhookStatusError) {
    const status = err.status;
    const said = err.body ? `: ${err.body.replace(/\s+/g, ' ').slice(0, 200)}` : '';
    const retry = status >= 500 || status === 408 || status === 429;
    return { verdict: retry ? 'retry' : 'stop', code: retry ? 'webhook_unavailable' : 'webhook_rejected', message: `webhook ${origin} answered HTTP ${status}${said}` };
  }
  if (!(err instanceof HttpExchangeError)) return { verdict: 'retry', code: 'webhook_unreachable', message: `cannot reach webhook ${origin}: ${errorMessage(err)}` };
  switch (err.failure) {
    case 'aborted':
      return { verdict: 'stop', code: 'notify_aborted', message: `webhook ${origin}: request cancelled` };
    case 'deadline':
      return { verdict: 'retry', code: 'webhook_timeout', message: err.phase === 'body'
        ? `webhook ${origin} did not answer in time (HTTP ${err.status ?? '?'} came, the body did not finish)`
        : `webhook ${origin} did not answer in time` };
    case 'too_large':
      return { verdict: 'stop', code: 'webhook_bad_answer', message: `webhook ${origin} answered HTTP ${err.status ?? '?'}, refused: ${err.message}` };
    case 'proxy':
      return { verdict: 'retry', code: 'webhook_unreachable', message: `cannot reach webhook ${origin}: ${err.message} ([cloud] proxy)` };
    case 'transport':
      break;
  }
  const code = err.sysCode;
  const why = code && !err.message.includes(code) ? `${code} ${err.message}` : err.message;
  if (code !== undefined && TLS_VERIFY_CODES.has(code)) {
    return { verdict: 'stop', code: 'webhook_tls', message: `cannot verify the TLS certificate of webhook ${origin}: ${why} (set cacert to the CA that signed it)` };
  }
  return { verdict: 'retry', code: 'webhook_unreachable', message: `cannot reach webhook ${origin}: ${why}` };
}

/** HTTP(S) webhooks: SMS and phone gateways (Twilio), chat (Slack), or any JSON/form endpoint. */
export function createWebhookChannel(name: string, o: WebhookChannelOptions): Channel {
  const ca = readCa(name, o.cacert);
  const httpsAgent = new https.Agent({ rejectUnauthorized: true, keepAlive: false, ...(ca ? { ca } : {}) });
  const httpAgent = new http.Agent({ keepAlive: false });
  const secrets = Object.values(o.secrets);
  const budgetMs = retryBudgetMs(o.retry, o.timeoutMs);
  return {
    name,
    kind: 'webhook',
    budgetMs,
    async send(message: RenderedMessage, recipient: string, signal: AbortSignal) {
      const req = buildWebhookRequest(o, message, recipient);
      // Basic auth travels as base64("user:password"); a gateway may echo that header back in an error.
      const hidden = req.basicAuth ? [basic(req.basicAuth)] : [];
      const origin = redactSecrets(originOf(req.url), secrets, hidden);
      const { attempts } = await withRetries(
        o.retry,
        signal,
        () =>
          // Redirects are not followed: one would resend credentials to wherever the gateway points.
          exchange({
            method: req.method,
            url: req.url,
            headers: { ...req.headers, ...(req.basicAuth ? { Authorization: `Basic ${basic(req.basicAuth)}` } : {}) },
            ...(req.body !== undefined ? { body: req.body } : {}),
            deadlineMs: o.timeoutMs,
            maxBodyBytes: MAX_WEBHOOK_ANSWER,
            signal,
            agent: req.url.startsWith('https:') ? httpsAgent : httpAgent,
            tls: { ...(ca ? { ca } : {}), rejectUnauthorized: true },
            ...(o.proxy ? { proxy: o.proxy } : {}),
          }).then((res) => {
            if (res.status < 200 || res.status >= 300) throw new WebhookStatusError(res.status, res.body);
            return res;
          }),
        (err) => {
          const f = classifyHttpError(err, origin);
          return { ...f, message: redactSecrets(f.message, secrets, hidden) };
        },
      );
      return { attempts };
    },
  };
}

function basic(auth: { readonly username: string; readonly password: string }): string {
  return Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
}
