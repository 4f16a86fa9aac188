import { describe, expect, it } from 'vitest';
import { resolveOwners } from '../../../src/notifier/affected-users.js';
import type { AffectedInstance } from '../../../src/notifier/types.js';

const vm = (over: Partial<AffectedInstance>): AffectedInstance => ({ id: 'vm1', name: 'vm1', projectId: 'p1', userId: 'u1', sourceHost: 'h1', targetHost: 'h2', state: 'verified', ...over });

describe('owners of affected instances', () => {
  it('an instance that records no owning user (a Cloudpods guest) is reached by its metadata only, with no identity lookup', async () => {
    const asked: string[] = [];
    const lookup = async (id: string) => { asked.push(id); return { id, name: 'alice', email: 'alice@example.com' }; };
    const r = await resolveOwners([vm({ userId: '' }), vm({ id: 'vm2', userId: '', metadata: { owner_email: 'bob@example.com' } }), vm({ id: 'vm3' })],
      { kind: 'email', metadataKey: 'owner_email', lookup });
    expect(asked).toEqual(['u1']);
    expect(r.owners.map((o) => [o.recipient, o.instances.map((i) => i.id)])).toEqual([['bob@example.com', ['vm2']], ['alice@example.com', ['vm3']]]);
    expect(r.unresolved).toEqual([{ instance: expect.objectContaining({ id: 'vm1' }), reason: 'no owning user recorded for the instance (metadata key owner_email unset)' }]);
  });
});
