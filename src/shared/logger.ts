import { pino, type Logger as PinoLogger } from 'pino';

/** The logger every module takes. pino satisfies it; tests may pass `silentLogger`. */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/**
 * Keys whose values are secrets wherever they appear in a logged object. Modules must still not log
 * secrets on purpose; this is the net under the trapeze.
 */
export const SECRET_KEYS = [
  'password', 'secret', 'token', 'application_credential_secret', 'authorization', 'x-auth-token',
  'x-subject-token', 'auth_token', 'pass', 'apiKey', 'api_key', 'authToken',
];

const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `headers["${k}"]`]);

export function createLogger(opts: { level?: LogLevel; pretty?: boolean; color?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = opts.level ?? 'info';
  const pretty = opts.pretty ?? false;
  const base = { redact: { paths: REDACT_PATHS, censor: '***' }, level, base: { app: 'cmpha' } };
  let logger: PinoLogger;
  if (pretty) {
    logger = pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: opts.color ?? true, destination: 2 } } });
  } else {
    logger = pino(base, (opts.destination as pino.DestinationStream | undefined) ?? pino.destination(2));
  }
  return logger as unknown as Logger;
}

export const silentLogger: Logger = {
  debug() {}, info() {}, warn() {}, error() {},
  child() { return silentLogger; },
};
