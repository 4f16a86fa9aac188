import { afterAll, describe, expect, it } from 'vitest';
import { configTexts } from '../../helpers/config-text.js';

const texts = configTexts();
afterAll(() => texts.remove());

describe('[segment:NAME] and [instance_failure]', () => {
  it('reads segments in file order; an rh_priority segment\'s reserved hosts are spares, an auto one\'s are not', async () => {
    const c = await texts.load([
      '[evacuation]', 'spare_hosts = compute9',
      '[segment:rack1]', 'hosts = compute1, compute2, compute3', 'reserved_hosts = compute3', 'description = rack one',
      '[segment:rack2]', 'hosts = compute4,compute5', 'reserved_hosts = compute5', 'recovery_method = auto', 'enabled = false', '',
    ].join('\n'));
    expect(c.segments?.map((s) => [s.name, s.hosts, s.reservedHosts, s.recoveryMethod, s.enabled])).toEqual([
      ['rack1', ['compute1', 'compute2', 'compute3'], ['compute3'], 'rh_priority', true],
      ['rack2', ['compute4', 'compute5'], ['compute5'], 'auto', false],
    ]);
    expect(c.evacuation.spareHosts).toEqual(['compute9', 'compute3']);
    expect(c.instanceFailure).toMatchObject({ enabled: true, haMetadata: { key: 'HA_Enabled', value: 'True' }, maxRestarts: 3, restartWindowMs: 3_600_000 });
  });

  it('refuses Masakari recovery methods cmpha cannot honour, saying why, and a host in two segments', async () => {
    const lines = await texts.problems([
      '[segment:a]', 'hosts = compute1', 'recovery_method = reserved_host',
      '[segment:b]', 'hosts = compute1,compute2', 'reserved_hosts = compute7', 'recovery_method = auto_priority', '',
    ].join('\n'));
    expect(lines.join('\n')).toContain('[segment:a] recovery_method: recovery_method reserved_host is not supported: cmpha never leaves servers down when no reserved host fits; use rh_priority');
    expect(lines.join('\n')).toContain('recovery_method auto_priority is not supported');
    const more = await texts.problems(['[segment:a]', 'hosts = compute1', '[segment:b]', 'hosts = compute1,compute2', 'reserved_hosts = compute7', ''].join('\n'));
    expect(more.join('\n')).toContain('[segment:b] reserved_hosts: compute7 is not in hosts');
    expect(more.join('\n')).toContain('[segment:b] hosts: compute1 is already in [segment:a]; a host belongs to one segment');
  });
});
