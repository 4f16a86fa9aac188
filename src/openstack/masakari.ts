import { silentLogger, type Logger } from '../shared/logger.js';
import { CmphaError } from '../shared/errors.js';
import { HttpClient } from './http.js';

/**
 * A running Masakari API, read only (`cmpha import masakari --url`): its segments and each segment's hosts, as
 * its v1 API lists them. The token is sent as X-Auth-Token and scrubbed from every message; it is never taken
 * from argv (the caller reads it from a file or the environment).
 */
export class MasakariReader {
  readonly #http: HttpClient;
  readonly #base: string;
  readonly #token: string;

  constructor(url: string, token: string, opts: { readonly timeoutMs?: number; readonly cacert?: string; readonly insecure?: boolean; readonly logger?: Logger } = {}) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new CmphaError('import_bad_url', `--url ${url} is not a URL; give Masakari's endpoint, e.g. http://controller:15868/v1`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CmphaError('import_bad_url', `--url ${url}: only http and https`);
    // The catalog's endpoint may end in /v1 or /v1/<project id>; the resources hang under it either way.
    this.#base = url.replace(/\/+$/, '');
    this.#token = token;
    this.#http = new HttpClient({
      timeoutMs: opts.timeoutMs ?? 30_000, retries: 2, insecure: opts.insecure ?? false, logger: opts.logger ?? silentLogger,
      ...(opts.cacert ? { cacert: opts.cacert } : {}),
    });
    this.#http.addSecret(token);
  }

  async #list(path: string, key: string): Promise<unknown[]> {
    const res = await this.#http.send<Record<string, unknown>>({
      service: 'masakari', method: 'GET', url: `${this.#base}${path}`, idempotent: true,
      headers: { 'X-Auth-Token': this.#token, Accept: 'application/json' },
    });
    const rows = res.data?.[key];
    if (!Array.isArray(rows)) throw new CmphaError('import_bad_answer', `${this.#base}${path} did not answer {"${key}": [...]}`);
    return rows;
  }

  segments(): Promise<unknown[]> {
    return this.#list('/segments', 'segments');
  }

  hosts(segmentUuid: string): Promise<unknown[]> {
    return this.#list(`/segments/${encodeURIComponent(segmentUuid)}/hosts`, 'hosts');
  }

  close(): void {
    this.#http.close();
  }
}
