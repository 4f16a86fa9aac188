import nodemailer, { type SendMailOptions, type SMTPSentMessageInfo, type SMTPTransportOptions, type Transporter } from 'nodemailer';
import { errorMessage } from '../../shared/errors.js';
import type { EmailChannelOptions } from '../channel-options.js';
import { redactSecrets } from '../redact.js';
import { retryBudgetMs, withRetries, type AttemptFailure } from '../retry.js';
import type { Channel, RenderedMessage } from '../types.js';
import { readCa } from './read-ca.js';

const TRANSIENT_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNRESET', 'ECONNREFUSED', 'EPROTOCOL']);

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
}

/** Turns a nodemailer error into words an operator can act on, and decides whether another try can help. */
export function classifySmtpError(err: unknown, where: string, secrets: EmailChannelOptions['password'][]): AttemptFailure {
  const e = err as SmtpError;
  const rc = e.responseCode;
  const said = e.response ? `: ${e.response.split('\n')[0]}` : '';
  let failure: AttemptFailure;
  if (e.code === 'EAUTH') {
    failure = { verdict: 'retry-once', code: 'smtp_auth_failed', message: `SMTP authentication failed at ${where}${rc ? ` (${rc})` : ''}${said}` };
  } else if (rc !== undefined && rc >= 400 && rc < 500) {
    failure = { verdict: 'retry', code: 'smtp_transient', message: `SMTP server ${where} answered ${rc}${said}` };
  } else if (rc !== undefined && rc >= 500) {
    failure = { verdict: 'stop', code: 'smtp_rejected', message: `SMTP server ${where} rejected the message (${rc})${said}` };
  } else if (e.code !== undefined && TRANSIENT_CODES.has(e.code)) {
    failure = { verdict: 'retry', code: 'smtp_unreachable', message: `cannot deliver via SMTP server ${where}: ${errorMessage(err)}` };
  } else {
    failure = { verdict: 'retry', code: 'smtp_failed', message: `SMTP delivery via ${where} failed: ${errorMessage(err)}` };
  }
  return { ...failure, message: redactSecrets(failure.message, secrets) };
}

/** Sends mail over SMTP with nodemailer: plain text plus HTML, one envelope recipient per send. */
export function createEmailChannel(name: string, o: EmailChannelOptions): Channel {
  const ca = readCa(name, o.cacert);
  const transportOptions: SMTPTransportOptions = {
    host: o.host,
    port: o.port,
    secure: o.tls === 'tls',
    requireTLS: o.tls === 'starttls',
    ignoreTLS: o.tls === 'none',
    connectionTimeout: o.timeoutMs,
    greetingTimeout: o.timeoutMs,
    socketTimeout: o.timeoutMs,
    tls: { rejectUnauthorized: true, ...(ca ? { ca } : {}) },
    logger: false,
    debug: false,
  };
  // A transport per send: the password is revealed only for the connection that uses it, and a long-lived
  // object holding it in plain text never exists.
  const transportFor = () => nodemailer.createTransport({
    ...transportOptions,
    auth: o.username && o.password ? { user: o.username, pass: o.password.reveal() } : undefined,
  });
  const where = `${o.host}:${o.port}`;
  // Connecting, greeting and each socket read have their own timeout; three of them bound one attempt.
  const budgetMs = retryBudgetMs(o.retry, o.timeoutMs * 3);
  return {
    name,
    kind: 'email',
    budgetMs,
    async send(message: RenderedMessage, recipient: string, signal: AbortSignal) {
      const mail = {
        from: o.from,
        to: recipient,
        subject: `${o.subjectPrefix} ${message.subject}`.trim(),
        text: message.text,
        ...(o.html ? { html: message.html } : {}),
        headers: { 'X-Cmpha-Event': message.event, 'X-Cmpha-Severity': message.severity },
      };
      const { attempts } = await withRetries(o.retry, signal, () => sendAbortable(transportFor(), mail, signal), (err) => classifySmtpError(err, where, [o.password]));
      return { attempts };
    },
  };
}

function sendAbortable(transport: Transporter<SMTPSentMessageInfo>, mail: SendMailOptions, signal: AbortSignal): Promise<unknown> {
  // nodemailer has no AbortSignal support; racing the signal bounds our wait and the socket timeouts end the rest.
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    transport.sendMail(mail).then(
      (info) => { signal.removeEventListener('abort', onAbort); transport.close(); resolve(info); },
      (err: unknown) => { signal.removeEventListener('abort', onAbort); transport.close(); reject(err); },
    );
  });
}
