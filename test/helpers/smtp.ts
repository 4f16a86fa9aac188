import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

/** A mail as the SMTP server received it: envelope plus the decoded parts a reader sees. */
export interface ReceivedMail {
  readonly envelopeFrom: string;
  readonly envelopeTo: readonly string[];
  /** The SMTP AUTH user, if the client logged in. */
  readonly user?: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly raw: string;
}

export interface SmtpServerHandle {
  readonly port: number;
  readonly messages: readonly ReceivedMail[];
  /** Every AUTH attempt (user and whether it was accepted), for asserting retries. */
  readonly authAttempts: readonly { user: string; ok: boolean }[];
  waitForMessages(n: number, timeoutMs?: number): Promise<readonly ReceivedMail[]>;
  close(): Promise<void>;
}

/**
 * A real SMTP server (smtp-server) on a free loopback port, STARTTLS disabled, collecting parsed mails.
 * With `users`, AUTH is required and a wrong password gets the standard 535 answer.
 */
export async function startSmtp(opts: { users?: Readonly<Record<string, string>> } = {}): Promise<SmtpServerHandle> {
  const messages: ReceivedMail[] = [];
  const authAttempts: { user: string; ok: boolean }[] = [];
  const waiters = new Set<() => void>();
  const options: SMTPServerOptions = {
    disabledCommands: ['STARTTLS'],
    authOptional: opts.users === undefined,
    allowInsecureAuth: true,
    logger: false,
    hideSTARTTLS: true,
    onAuth(auth, _session, cb) {
      const ok = opts.users !== undefined && auth.username !== undefined && opts.users[auth.username] === auth.password;
      authAttempts.push({ user: auth.username ?? '', ok });
      if (!ok) {
        const err = new Error('Invalid username or password') as Error & { responseCode: number };
        err.responseCode = 535;
        cb(err);
        return;
      }
      cb(null, { user: auth.username });
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const parsed = parseMail(raw);
        messages.push({
          envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          envelopeTo: session.envelope.rcptTo.map((r) => r.address),
          user: typeof session.user === 'string' ? session.user : undefined,
          raw,
          ...parsed,
        });
        for (const w of waiters) w();
        cb();
      });
    },
  };
  const server = new SMTPServer(options);
  const port = await new Promise<number>((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    });
  });
  return {
    port,
    messages,
    authAttempts,
    waitForMessages(n, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (messages.length >= n) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(messages);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`SMTP server got ${messages.length} of ${n} messages within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// A small MIME reader: enough for what nodemailer writes (multipart/alternative, 7bit, quoted-printable,
// base64, RFC 2047 encoded words). The project has no mail parser dependency and needs none in production.

function decodeWords(s: string): string {
  return s
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_m, _cs: string, enc: string, text: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : decodeQp(text.replace(/_/g, ' ')));
}

function decodeQp(s: string): string {
  const bytes: number[] = [];
  const t = s.replace(/=\r?\n/g, '');
  for (let i = 0; i < t.length; i++) {
    if (t[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(t.slice(i + 1, i + 3))) {
      bytes.push(parseInt(t.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(t[i]!, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function splitHead(raw: string): { headers: Map<string, string>; body: string } {
  const idx = raw.search(/\r?\n\r?\n/);
  const head = idx < 0 ? raw : raw.slice(0, idx);
  const body = idx < 0 ? '' : raw.slice(idx).replace(/^\r?\n\r?\n/, '');
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const c = line.indexOf(':');
    if (c > 0) headers.set(line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim());
  }
  return { headers, body };
}

function collect(raw: string, out: { text: string; html: string }): void {
  const { headers, body } = splitHead(raw);
  const ctype = headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(ctype)?.[1];
  if (/^multipart\//i.test(ctype) && boundary) {
    const parts = body.split(`--${boundary}`).slice(1);
    for (const p of parts) if (!p.startsWith('--')) collect(p.replace(/^\r?\n/, ''), out);
    return;
  }
  const cte = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  const decoded = cte === 'base64' ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8') : cte === 'quoted-printable' ? decodeQp(body) : body;
  const clean = decoded.replace(/\r\n/g, '\n').replace(/\n$/, '');
  if (/^text\/html/i.test(ctype)) out.html += clean;
  else if (/^text\/plain/i.test(ctype)) out.text += clean;
}

export function parseMail(raw: string): { headers: Map<string, string>; subject: string; text: string; html: string } {
  const { headers } = splitHead(raw);
  const out = { text: '', html: '' };
  collect(raw, out);
  return { headers, subject: decodeWords(headers.get('subject') ?? ''), ...out };
}
