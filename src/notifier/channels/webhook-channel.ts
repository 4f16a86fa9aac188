import http from 'node:http';
import https from 'node:https';
import axios, { AxiosError } from 'axios';
import { errorMessage } from '../../shared/errors.js';
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

/** 5xx, 408, 429 and network errors may pass; any other 4xx means the request itself is wrong. */
export function classifyHttpError(err: unknown, origin: string): AttemptFailure {
  if (err instanceof AxiosError && err.response) {
    const status = err.response.status;
    const raw = typeof err.response.data === 'string' ? err.response.data : JSON.stringify(err.response.data ?? '');
    const said = raw ? `: ${raw.replace(/\s+/g, ' ').slice(0, 200)}` : '';
    const retry = status >= 500 || status === 408 || status === 429;
    return { verdict: retry ? 'retry' : 'stop', code: retry ? 'webhook_unavailable' : 'webhook_rejected', message: `webhook ${origin} answered HTTP ${status}${said}` };
  }
  const code = err instanceof AxiosError ? err.code : undefined;
  const cause = err instanceof AxiosError && err.cause instanceof Error ? err.cause.message : errorMessage(err);
  if (code === AxiosError.ERR_CANCELED) return { verdict: 'stop', code: 'notify_aborted', message: `webhook ${origin}: request cancelled` };
  if (code === 'ECONNABORTED' || code === AxiosError.ETIMEDOUT) return { verdict: 'retry', code: 'webhook_timeout', message: `webhook ${origin} did not answer in time` };
  const why = code && !cause.includes(code) ? `${code} ${cause}` : cause;
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
      const hidden = req.basicAuth ? [Buffer.from(`${req.basicAuth.username}:${req.basicAuth.password}`).toString('base64')] : [];
      const origin = redactSecrets(originOf(req.url), secrets, hidden);
      const { attempts } = await withRetries(
        o.retry,
        signal,
        () =>
          axios.request({
            method: req.method,
            url: req.url,
            headers: req.headers,
            data: req.body,
            auth: req.basicAuth,
            timeout: o.timeoutMs,
            signal,
            httpAgent,
            httpsAgent,
            // A redirect would resend credentials to wherever the gateway points; refuse it.
            maxRedirects: 0,
            responseType: 'text',
            transformResponse: (d: unknown) => d,
            validateStatus: (s) => s >= 200 && s < 300,
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
