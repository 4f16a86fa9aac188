import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { IdentityApi, KeystoneUser } from '../openstack/types.js';
import { beforeDeadline } from './deadline.js';
import type { AffectedInstance } from './types.js';

/** Keystone answers in milliseconds; a lookup that takes longer must not hold up the other notices. */
const LOOKUP_DEADLINE_MS = 10_000;

export interface Owner {
  readonly recipient: string;
  readonly name?: string;
  readonly instances: readonly AffectedInstance[];
}

export interface OwnerResolution {
  readonly owners: readonly Owner[];
  /** Instances whose owner has no address we can use, with why. */
  readonly unresolved: readonly { readonly instance: AffectedInstance; readonly reason: string }[];
}

/** Looks each user up once per incident, however many instances they own. */
export function userLookup(identity: IdentityApi | undefined, logger: Logger, signal?: AbortSignal) {
  const cache = new Map<string, Promise<KeystoneUser | null | Error>>();
  return (userId: string): Promise<KeystoneUser | null | Error> => {
    let p = cache.get(userId);
    if (!p) {
      p = identity
        ? beforeDeadline(identity.getUser(userId, { signal }), LOOKUP_DEADLINE_MS, 'Keystone user lookup').catch((err: unknown) => {
            logger.warn({ userId, err: errorMessage(err) }, 'cannot look up instance owner in Keystone');
            return err instanceof Error ? err : new Error(String(err));
          })
        : Promise.resolve(null);
      cache.set(userId, p);
    }
    return p;
  };
}

/**
 * Groups instances by the address their owner is reached at: a server metadata key first (the owner may
 * want alerts somewhere else than their Keystone address), then the Keystone user's email. Phone numbers
 * come only from metadata, since Keystone has none.
 */
export async function resolveOwners(
  instances: readonly AffectedInstance[],
  opts: { kind: 'email' | 'phone'; metadataKey?: string; lookup: ReturnType<typeof userLookup> },
): Promise<OwnerResolution> {
  const groups = new Map<string, { name?: string; recipient: string; instances: AffectedInstance[] }>();
  const unresolved: { instance: AffectedInstance; reason: string }[] = [];
  for (const i of instances) {
    const fromMeta = opts.metadataKey ? i.metadata?.[opts.metadataKey]?.trim() : undefined;
    let address: string | undefined;
    let name: string | undefined;
    if (fromMeta && valid(opts.kind, fromMeta)) {
      address = fromMeta;
    } else if (opts.kind === 'email' && i.userId === '') {
      // A guest that belongs to a project, not a user (a Cloudpods guest): only its metadata can name an owner.
      unresolved.push({ instance: i, reason: `no owning user recorded for the instance (${opts.metadataKey ? `metadata key ${opts.metadataKey} unset` : 'no metadata key configured'})` });
      continue;
    } else if (opts.kind === 'email') {
      const user = await opts.lookup(i.userId);
      if (user instanceof Error) {
        unresolved.push({ instance: i, reason: `cannot look up user ${i.userId}: ${user.message}` });
        continue;
      }
      if (user?.email && valid('email', user.email)) {
        address = user.email;
        name = user.name;
      }
    }
    if (!address) {
      const where = opts.metadataKey ? `metadata key ${opts.metadataKey}` : 'no metadata key configured';
      const reason = opts.kind === 'email'
        ? `no email address for user ${i.userId} (Keystone has none; ${where})`
        : `no phone number for user ${i.userId} (${where})`;
      unresolved.push({ instance: i, reason });
      continue;
    }
    const key = opts.kind === 'email' ? address.toLowerCase() : address.replace(/[\s()-]/g, '');
    const g = groups.get(key) ?? { recipient: opts.kind === 'email' ? address : key, name, instances: [] };
    g.instances.push(i);
    groups.set(key, g);
  }
  return { owners: [...groups.values()], unresolved };
}

function valid(kind: 'email' | 'phone', s: string): boolean {
  return kind === 'email' ? /^[^\s@<>,;]+@[^\s@<>,;]+$/.test(s) : /^\+?[0-9][0-9\s()-]{2,24}$/.test(s);
}
