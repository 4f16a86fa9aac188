import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SegmentConfig } from '../../../src/config/types.js';
import { SegmentStore } from '../../../src/masakari/segments.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

// Segments live in Redis with cmpha.conf as the seed: per segment, the last change wins (a file edit or an API call).
let server: RedisServer;
let redis: Redis;
const rack = (over: Partial<SegmentConfig> = {}): SegmentConfig => ({
  name: 'rack1', hosts: ['c1', 'c2', 'c3'], reservedHosts: ['c3'], recoveryMethod: 'rh_priority', serviceType: 'COMPUTE', enabled: true, ...over,
});

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

describe('segments seeded from the file', () => {
  it('seeds a new section, keeps an API change across restarts, takes a file edit, and removes what the file dropped', async () => {
    const prefix = 'seed-1';
    const first = await new SegmentStore(redis, prefix, [rack()]).list();
    expect(first.map((s) => [s.name, s.hosts, s.reserved, s.from])).toEqual([['rack1', ['c1', 'c2', 'c3'], ['c3'], 'config']]);

    // An operator changes it through the API; a restart with the same file keeps the change.
    const api = new SegmentStore(redis, prefix, [rack()]);
    await api.put({ ...first[0]!, reserved: ['c2', 'c3'], recovery_method: 'auto' });
    await api.put({ ...first[0]!, uuid: 'made-by-api', id: 1001, name: 'lab', hosts: ['c9', 'c2'], reserved: [], from: 'api' });
    const restarted = await new SegmentStore(redis, prefix, [rack()]).list();
    expect(restarted.find((s) => s.name === 'rack1')).toMatchObject({ reserved: ['c2', 'c3'], recovery_method: 'auto' });

    // The file's section edited: its version replaces the API's, and a host it names leaves other segments.
    const edited = await new SegmentStore(redis, prefix, [rack({ hosts: ['c1', 'c2', 'c3', 'c4'] })]).list();
    expect(edited.find((s) => s.name === 'rack1')).toMatchObject({ hosts: ['c1', 'c2', 'c3', 'c4'], reserved: ['c3'], recovery_method: 'rh_priority', uuid: first[0]!.uuid });
    expect(edited.find((s) => s.name === 'lab')!.hosts).toEqual(['c9']);

    // The section removed from the file: the segment it seeded goes; the API's stays.
    expect((await new SegmentStore(redis, prefix, []).list()).map((s) => s.name)).toEqual(['lab']);
  });

  it('a seeded segment deleted through the API stays deleted while the file is unchanged', async () => {
    const prefix = 'seed-2';
    const [s] = await new SegmentStore(redis, prefix, [rack()]).list();
    await new SegmentStore(redis, prefix, [rack()]).delete(s!.uuid);
    expect(await new SegmentStore(redis, prefix, [rack()]).list()).toEqual([]);
  });
});
