import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ApiToken } from '../config/types.js';
import { ApiError } from './api-error.js';

export type Role = 'read' | 'write';

/** Who made a request: the token's name (recorded with every write) and what it may do. */
export interface Caller {
  readonly name: string;
  readonly role: Role | 'anonymous';
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Bearer tokens (`Authorization: Bearer T`), or `X-Auth-Token: T` as OpenStack clients send it. Compared
 * in constant time over digests, so neither the value nor its length leaks through timing.
 */
export function createAuthenticator(tokens: readonly ApiToken[], opts: { anonymousRead: boolean }) {
  const known = tokens.map((t) => ({ name: t.name, role: t.role, digest: digest(t.secret.reveal()) }));
  return function authenticate(headers: IncomingHttpHeaders, need: Role): Caller {
    const auth = headers.authorization;
    const bearer = typeof auth === 'string' && /^Bearer\s+/i.test(auth) ? auth.replace(/^Bearer\s+/i, '').trim() : undefined;
    const xAuth = typeof headers['x-auth-token'] === 'string' ? headers['x-auth-token'].trim() : undefined;
    const presented = bearer ?? xAuth;
    if (presented === undefined || presented === '') {
      if (need === 'read' && opts.anonymousRead) return { name: 'anonymous', role: 'anonymous' };
      throw new ApiError(401, 'unauthenticated', 'a token is required: send Authorization: Bearer TOKEN (or X-Auth-Token: TOKEN)');
    }
    const d = digest(presented);
    const match = known.find((k) => timingSafeEqual(k.digest, d));
    if (!match) throw new ApiError(401, 'bad_token', 'the token is not one of the [api] token files');
    if (need === 'write' && match.role !== 'write') throw new ApiError(403, 'read_only_token', `token ${match.name} may only read; this needs a token from [api] write_token_files`);
    return { name: match.name, role: match.role };
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
