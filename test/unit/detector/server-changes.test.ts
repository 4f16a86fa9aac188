import { describe, expect, it } from 'vitest';
import { ServerChangeFeed } from '../../../src/detector/server-changes.js';
import { hostOf } from '../../../src/compute/nova/index.js';
import type { ComputeHost } from '../../../src/compute/types.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { FakeNova } from '../../helpers/fake-nova.js';
import { computeOf } from '../../helpers/compute.js';

// Nova's clock in these tests is far from the test's: every time asked for must come from Nova's answers.
const NOVA = Date.parse('2031-03-04T05:06:07Z');

function service(updatedAt: number | null): ComputeHost {
  return hostOf({
    id: 'svc', binary: 'nova-compute', host: 'h', state: 'up', status: 'enabled', forcedDown: false, disabledReason: null,
    updatedAt: updatedAt === null ? null : new Date(updatedAt),
  }, { reasonPrefix: 'cmpha', spareReasonPrefix: 'down_prepare' });
}

function novaWith(): { nova: FakeNova; boot(host: string, name: string, at: number): void } {
  const nova = new FakeNova();
  return {
    nova,
    boot(host, name, at) {
      const s = nova.addServer(host, name, [{ network: 'provider', addr: `10.0.0.${nova.servers.length + 1}` }]);
      (s as { updatedAt?: Date }).updatedAt = new Date(at);
    },
  };
}

const sinceAsked = (nova: FakeNova) => nova.callsTo('listServersChangedSince').map((c) => (c.args[0] as Date).getTime());

describe('server change feed', () => {
  it('asks nothing until Nova has written a time, then starts from the newest service heartbeat less the overlap', async () => {
    const { nova, boot } = novaWith();
    const feed = new ServerChangeFeed(computeOf(nova), silentLogger, 60_000);
    feed.seed([service(null)]);
    expect(await feed.poll()).toEqual([]);
    expect(nova.callsTo('listServersChangedSince')).toHaveLength(0);
    boot('h1', 'old', NOVA - 3600_000);
    boot('h2', 'recent', NOVA - 30_000);
    feed.seed([service(NOVA - 5000), service(NOVA)]);
    expect((await feed.poll()).map((s) => s.name)).toEqual(['recent']);
    expect(sinceAsked(nova)).toEqual([NOVA - 60_000]);
  });

  it('moves on with the newest `updated` Nova returned, and reports each change once although the overlap lists it again', async () => {
    const { nova, boot } = novaWith();
    const feed = new ServerChangeFeed(computeOf(nova), silentLogger, 60_000);
    feed.seed([service(NOVA)]);
    expect(await feed.poll()).toEqual([]);
    boot('h1', 'a', NOVA + 10_000);
    expect((await feed.poll()).map((s) => s.name)).toEqual(['a']);
    expect(await feed.poll()).toEqual([]);
    boot('h2', 'b', NOVA + 200_000);
    expect((await feed.poll()).map((s) => s.name)).toEqual(['b']);
    // A change to `a` (moved, rebuilt) is a new `updated`: reported again.
    Object.assign(nova.servers[0]!, { host: 'h3', updatedAt: new Date(NOVA + 210_000) });
    expect((await feed.poll()).map((s) => `${s.name}@${s.host}`)).toEqual(['a@h3']);
    expect(sinceAsked(nova)).toEqual([NOVA - 60_000, NOVA - 60_000, NOVA - 50_000, NOVA - 50_000, NOVA + 140_000]);
  });

  it('keeps its start point when Nova fails, so the next round asks for the same window', async () => {
    const { nova, boot } = novaWith();
    const feed = new ServerChangeFeed(computeOf(nova), silentLogger, 60_000);
    feed.seed([service(NOVA)]);
    boot('h1', 'a', NOVA + 1000);
    nova.failNext('listServersChangedSince', new Error('Nova answered 503'));
    expect(await feed.poll()).toEqual([]);
    expect((await feed.poll()).map((s) => s.name)).toEqual(['a']);
    expect(sinceAsked(nova)).toEqual([NOVA - 60_000, NOVA - 60_000]);
  });
});
