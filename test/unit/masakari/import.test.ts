import { afterAll, describe, expect, it } from 'vitest';
import { importMasakari } from '../../../src/masakari/import.js';
import { configTexts } from '../../helpers/config-text.js';

const texts = configTexts();
afterAll(() => texts.remove());

// Rows as Debian's openstack client prints them with -f json (segment list, segment host list).
const segments = [
  { uuid: 's1', name: 'rack1', description: 'rack one', service_type: 'COMPUTE', recovery_method: 'reserved_host', is_enabled: true },
  { uuid: 's2', name: 'rack 2/b', description: null, service_type: 'COMPUTE', recovery_method: 'auto', is_enabled: false },
  { uuid: 's3', name: 'empty', description: null, service_type: 'COMPUTE', recovery_method: 'auto_priority' },
];
const hosts = [
  { uuid: 'h1', name: 'compute1', type: 'COMPUTE', control_attributes: 'SSH', reserved: false, on_maintenance: false, failover_segment_id: 's1' },
  { uuid: 'h2', name: 'compute2', type: 'COMPUTE', control_attributes: '', reserved: true, on_maintenance: true, failover_segment_id: 's1' },
  { uuid: 'h3', name: 'compute3', type: 'COMPUTE', control_attributes: '', reserved: false, on_maintenance: false, failover_segment_id: 's2' },
  { uuid: 'h4', name: 'compute1', type: 'COMPUTE', control_attributes: '', reserved: false, on_maintenance: false, failover_segment_id: 's2' },
];

describe('cmpha import masakari', () => {
  it('writes [segment:NAME] sections cmpha loads, and names everything it could not carry over', async () => {
    const r = importMasakari(segments, hosts);
    const c = await texts.load(r.conf);
    expect(c.segments?.map((s) => [s.name, s.hosts, s.reservedHosts, s.recoveryMethod, s.enabled, s.description])).toEqual([
      ['rack1', ['compute1', 'compute2'], ['compute2'], 'rh_priority', true, 'rack one'],
      ['rack 2-b', ['compute3'], [], 'auto', false, undefined],
    ]);
    expect(c.evacuation.spareHosts).toContain('compute2');
    expect(r.unmapped).toEqual([
      'segment rack1: recovery_method reserved_host became rh_priority (cmpha never leaves servers down when no reserved host fits: it falls back to the scheduler)',
      'host compute1: control_attributes "SSH" not carried over; its fencing goes in [host:compute1] (driver, address, credentials)',
      'host compute2: on_maintenance is run-time state, not configuration; set it again with `openstack segment host update rack1 compute2 --on_maintenance True` once cmpha serves the API',
      'segment "rack 2/b": renamed rack 2-b (cmpha\'s section names take letters, digits, spaces, . _ -)',
      'host compute1 is in segments rack1 and rack 2-b: kept in rack1 only (a host belongs to one segment in cmpha)',
      'segment empty: recovery_method auto_priority became auto (cmpha does not retry on reserved hosts after the scheduler failed)',
      'segment empty: no hosts, written commented out (a segment without hosts protects nothing)',
    ]);
    expect(r.conf).toContain('# [segment:empty]');
  });
});
