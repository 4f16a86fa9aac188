import { describe, expect, it } from 'vitest';
import { describeRecordedSignals } from '../../../src/detector/signals.js';

// The notice that a recovery started reads the signals from the incident's recorded evidence, which the pipeline
// holds as opaque JSON: a detector's evidence names them, anything else (an operator's evacuation) names none.
describe('the signals named from an incident\'s recorded evidence', () => {
  it('names what answered and what was silent, as the detector\'s notices do', () => {
    const evidence = JSON.parse(JSON.stringify({
      networks: [
        { role: 'mgmt', ip: '198.18.0.11', source: 'config', result: 'silent' },
        { role: 'storage', ip: '198.19.0.11', source: 'config', result: 'alive' },
      ],
      instances: { checked: true, note: '', addresses: [{ ip: '198.18.1.5', server: 'vm1', network: 'tenant', result: 'silent', baseline: true }], answered: 0, baselineSilent: 1, baselineTotal: 1 },
      storage: null,
    })) as unknown;
    expect(describeRecordedSignals(evidence)).toBe('answered: storage IP 198.19.0.11; silent: management IP 198.18.0.11, 1 of 1 instance address');
  });

  it('names none when the evidence is not a detector\'s', () => {
    for (const evidence of [{}, null, undefined, { networks: [] }, { origin: 'operator', reason: 'drain' }]) expect(describeRecordedSignals(evidence)).toBeNull();
  });
});
