import { describe, expect, it } from 'vitest';
import type { SimHttpError } from '../../../src/sim/http-error.js';
import { formatMicroversion, mv, requestMicroversion } from '../../../src/sim/microversion.js';
import { redact } from '../../../src/sim/control.js';

describe('compute microversions', () => {
  const min = mv('2.1');
  const max = mv('2.93');

  it('reads the modern header, then the legacy one, and defaults to the minimum', () => {
    expect(formatMicroversion(requestMicroversion({ 'openstack-api-version': 'compute 2.53' }, min, max))).toBe('2.53');
    expect(formatMicroversion(requestMicroversion({ 'openstack-api-version': 'volume 3.0, compute 2.60' }, min, max))).toBe('2.60');
    expect(formatMicroversion(requestMicroversion({ 'x-openstack-nova-api-version': '2.11' }, min, max))).toBe('2.11');
    expect(requestMicroversion({}, min, max)).toBe(min);
    expect(requestMicroversion({ 'openstack-api-version': 'compute latest' }, min, max)).toBe(max);
  });

  it('answers 406 outside the range and 400 for bad syntax', () => {
    const status = (h: Record<string, string>) => {
      try {
        requestMicroversion(h, min, max);
        return 200;
      } catch (e) {
        return (e as SimHttpError).status;
      }
    };
    expect(status({ 'openstack-api-version': 'compute 2.94' })).toBe(406);
    expect(status({ 'openstack-api-version': 'compute 3.0' })).toBe(406);
    expect(status({ 'openstack-api-version': 'compute 2.x' })).toBe(400);
  });

  it('orders minor versions numerically (2.9 < 2.10)', () => {
    expect(mv('2.9')).toBeLessThan(mv('2.10'));
  });
});

describe('redact', () => {
  it('replaces secrets at any depth', () => {
    expect(redact({ auth: { identity: { password: { user: { name: 'a', password: 'p' } } } }, Password: 'x', other: 1 }))
      .toEqual({ auth: { identity: { password: { user: { name: 'a', password: '***' } } } }, Password: '***', other: 1 });
  });
});
