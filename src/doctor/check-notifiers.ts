import nodemailer from 'nodemailer';
import type { NotifierConfig } from '../config/types.js';
import { parseChannelOptions, type EmailChannelOptions } from '../notifier/channel-options.js';
import { classifySmtpError } from '../notifier/channels/email-channel.js';
import { readCa } from '../notifier/channels/read-ca.js';
import { errorMessage } from '../shared/errors.js';
import type { DoctorCheck } from './types.js';

/**
 * Each notifier's options parse; for email, optionally, the SMTP server greets and accepts the login
 * (nodemailer `verify()`: no message is sent — that is `cmpha notify test`).
 */
export async function checkNotifiers(notifiers: readonly NotifierConfig[], opts: { smtp: boolean; timeoutMs: number }): Promise<DoctorCheck[]> {
  return Promise.all(notifiers.map(async (n): Promise<DoctorCheck> => {
    const name = `notifier:${n.name}`;
    let options;
    try {
      options = parseChannelOptions(n);
    } catch (err) {
      return { name, status: 'fail', detail: errorMessage(err).replace(/\n/g, '; ') };
    }
    if (options.type !== 'email') return { name, status: 'ok', detail: `${n.type}: configuration valid (nothing sent)` };
    if (!opts.smtp) return { name, status: 'ok', detail: `email via ${options.host}:${options.port}: configuration valid (SMTP not contacted)` };
    return verifySmtp(name, n.name, options, opts.timeoutMs);
  }));
}

async function verifySmtp(name: string, notifier: string, o: EmailChannelOptions, timeoutMs: number): Promise<DoctorCheck> {
  const where = `${o.host}:${o.port}`;
  const wait = Math.min(o.timeoutMs, timeoutMs);
  let ca: Buffer | undefined;
  try {
    ca = readCa(notifier, o.cacert);
  } catch (err) {
    return { name, status: 'fail', detail: errorMessage(err) };
  }
  const transport = nodemailer.createTransport({
    host: o.host, port: o.port, secure: o.tls === 'tls', requireTLS: o.tls === 'starttls', ignoreTLS: o.tls === 'none',
    connectionTimeout: wait, greetingTimeout: wait, socketTimeout: wait,
    tls: { rejectUnauthorized: true, ...(ca ? { ca } : {}) },
    auth: o.username && o.password ? { user: o.username, pass: o.password.reveal() } : undefined,
    logger: false, debug: false,
  });
  try {
    await transport.verify();
    return { name, status: 'ok', detail: `email: SMTP server ${where} accepts connections${o.username ? ' and the login' : ''} (nothing sent)` };
  } catch (err) {
    // Mail is how people learn of a failover, not part of it: a warning, not a failure.
    return { name, status: 'warn', detail: classifySmtpError(err, where, [o.password]).message };
  } finally {
    transport.close();
  }
}
