import { OpenStackError } from './errors.js';
import { identityV3Base, type KeystoneSession } from './keystone.js';
import type { CallOptions, IdentityApi, KeystoneUser } from './types.js';

/** Keystone lookups beyond authentication: the owner of a server, for telling users about their instances. */
export class IdentityClient implements IdentityApi {
  readonly #session: KeystoneSession;

  constructor(session: KeystoneSession) {
    this.#session = session;
  }

  async getUser(id: string, opts: CallOptions = {}): Promise<KeystoneUser | null> {
    const base = await this.#identityBase(opts.signal);
    try {
      const res = await this.#session.send<{ user?: { id?: string; name?: string; email?: unknown } }>({
        service: 'keystone', method: 'GET', url: `${base}/users/${encodeURIComponent(id)}`, idempotent: true, signal: opts.signal,
      });
      const u = res.data?.user ?? {};
      return {
        id: u.id ?? id,
        name: u.name ?? '',
        email: typeof u.email === 'string' && u.email.length > 0 ? u.email : undefined,
      };
    } catch (err) {
      if (err instanceof OpenStackError && err.status === 404) return null;
      if (err instanceof OpenStackError && err.status === 403) {
        throw new OpenStackError('forbidden', `the token lacks permission to read Keystone users (identity:get_user): ${err.message}`, {
          service: 'keystone', method: 'GET', path: err.path, status: 403, requestId: err.requestId, serviceMessage: err.serviceMessage,
        });
      }
      throw err;
    }
  }

  async #identityBase(signal?: AbortSignal): Promise<string> {
    try {
      return identityV3Base(await this.#session.endpoint('identity', signal));
    } catch (err) {
      // Small clouds often publish no identity endpoint for the chosen interface; auth_url is the same service.
      if (err instanceof Error && (err as { code?: string }).code === 'endpoint_not_found') return identityV3Base(this.#session.authUrl);
      throw err;
    }
  }
}
