import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IncidentStore } from '../../../src/incidents/incident-store.js';
import { noteResumed } from '../../../src/pipeline/note-resumed.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { newRedis } from './harness.js';

// Jobs handed back from a controller that stopped holding them are noted in their incident, but never in one
// that closed meanwhile: a deposed leader's job released when it woke must not add to the closed record.

let server: RedisServer;
let redis: Redis;
beforeAll(async () => { server = await startRedis(); redis = newRedis(server.url); });
afterAll(async () => { redis.disconnect(); await server.stop(); });

const req = (id: string, host: string) => ({ id, host, failureStartedAt: 1000, evidence: { mgmt: 'silent', nova: 'down' } });

describe('noteResumed', () => {
  it('notes the handed-back jobs in the open incident, adds nothing to the closed one', async () => {
    const plain = new IncidentStore(redis, 'note-resumed');
    await plain.open(req('open-1', 'cmp1'));
    await plain.open(req('closed-1', 'cmp2'));
    await plain.update('closed-1', (r) => ({ ...r, status: 'aborted' }));
    const before = (await plain.get('closed-1'))!.timeline.length;

    await noteResumed(plain.forRecovery(), [
      { queue: 'q-evacuate', incidentId: 'open-1', serverId: 's1' },
      { queue: 'q-incident', incidentId: 'closed-1' },
    ]);

    const open = (await plain.get('open-1'))!.timeline.filter((t) => t.step === 'resume');
    expect(open).toHaveLength(1);
    expect(open[0]!.message).toMatch(/held 1 job\(s\) of this incident \(servers s1\)/);
    expect((await plain.get('closed-1'))!.timeline).toHaveLength(before);
  });
});
