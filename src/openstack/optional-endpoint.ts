import type { KeystoneSession } from './keystone.js';

/**
 * The first of `types` the catalog lists, without a trailing slash; null when it lists none. A service cmpha can
 * do without (Glance for image rules, Cinder for volume placement) is optional: any other error is thrown.
 */
export async function optionalEndpoint(session: KeystoneSession, types: readonly string[], signal?: AbortSignal): Promise<string | null> {
  for (const type of types) {
    try {
      return (await session.endpoint(type, signal)).replace(/\/+$/, '');
    } catch (err) {
      if ((err as { code?: string }).code !== 'endpoint_not_found') throw err;
    }
  }
  return null;
}
