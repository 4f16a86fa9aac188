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
  return new UniqueKeyLogger(logger, {}, logger);
}

type Level = 'debug' | 'info' | 'warn' | 'error';

/**
 * pino writes a child's bindings and the logged object side by side, so `child({ incidentId })` followed by
 * `log({ incidentId })` (or two children both binding `component`) gives a JSON line with the key twice, which
 * most log pipelines read as "last one wins" or reject. Here bindings merge (the inner child wins), and a key
 * the logged object repeats is left out of the bindings for that line: every key appears once.
 */
class UniqueKeyLogger implements Logger {
  readonly #root: PinoLogger;
  readonly #bindings: Readonly<Record<string, unknown>>;
  readonly #bound: PinoLogger;

  constructor(root: PinoLogger, bindings: Readonly<Record<string, unknown>>, bound: PinoLogger) {
    this.#root = root;
    this.#bindings = bindings;
    this.#bound = bound;
  }

  debug(obj: object | string, msg?: string): void { this.#write('debug', obj, msg); }
  info(obj: object | string, msg?: string): void { this.#write('info', obj, msg); }
  warn(obj: object | string, msg?: string): void { this.#write('warn', obj, msg); }
  error(obj: object | string, msg?: string): void { this.#write('error', obj, msg); }

  child(bindings: Record<string, unknown>): Logger {
    const merged = { ...this.#bindings, ...bindings };
    return new UniqueKeyLogger(this.#root, merged, this.#root.child(merged));
  }

  #write(level: Level, obj: object | string, msg?: string): void {
    if (typeof obj === 'string') {
      this.#bound[level](obj);
      return;
    }
    if (!this.#bound.isLevelEnabled(level)) return;
    const repeated = Object.keys(obj).filter((k) => k in this.#bindings);
    if (repeated.length === 0) {
      this.#bound[level](obj, msg);
      return;
    }
    const rest: Record<string, unknown> = { ...this.#bindings };
    for (const k of repeated) delete rest[k];
    this.#root.child(rest)[level](obj, msg);
  }
}

export const silentLogger: Logger = {
  debug() {}, info() {}, warn() {}, error() {},
  child() { return silentLogger; },
};
