import { describe, expect, it } from 'vitest';
import { globRegExp, judgeServer, parsePolicyRule, tierOf, type EvacuationPolicy, type PolicyRule, type PolicySubject } from '../../../src/evacuator/policy.js';

function rules(...texts: string[]): PolicyRule[] {
  return texts.map((t) => {
    const r = parsePolicyRule(t);
    if (typeof r === 'string') throw new Error(r);
    return r;
  });
}
const policy = (texts: string[], extra: Partial<EvacuationPolicy> = {}): EvacuationPolicy => ({ rules: rules(...texts), fallback: 'evacuate', tiers: [], ...extra });
const subject = (extra: Partial<PolicySubject> = {}): PolicySubject => ({
  name: 'web-1', projectId: 'p-web', metadata: {}, flavorExtraSpecs: {}, imageProperties: {}, aggregates: [], ...extra,
});

describe('evacuability rules as written', () => {
  it.each([
    ['name:amphora-* -> never', { source: 'name', pattern: 'amphora-*', action: { kind: 'never' } }],
    ['flavor:hw:cpu_policy=dedicated -> priority 50', { source: 'flavor', key: 'hw:cpu_policy', pattern: 'dedicated', action: { kind: 'priority', value: 50 } }],
    ['IMAGE:evacuable = true  ->  EVACUATE', { source: 'image', key: 'evacuable', pattern: 'true', action: { kind: 'evacuate' } }],
    ['aggregate:ha=* -> priority -5', { source: 'aggregate', key: 'ha', pattern: '*', action: { kind: 'priority', value: -5 } }],
    ['project:0a1b* -> never', { source: 'project', pattern: '0a1b*', action: { kind: 'never' } }],
  ])('%s', (text, want) => {
    expect(parsePolicyRule(text)).toMatchObject(want);
  });

  it.each([
    ['amphora-* -> never', /is not SOURCE:MATCH -> ACTION/],
    ['host:cmp1 -> never', /source "host" is not one of flavor, image, aggregate, metadata, name, project/],
    ['flavor:evacuable -> never', /flavor rules match KEY=GLOB/],
    ['name:x -> move', /action "move" is not evacuate, never or priority N/],
    ['name:x -> priority high', /is not evacuate, never or priority N/],
    ['metadata:=true -> never', /KEY=GLOB|key before = is empty/],
  ])('refuses %s, saying why', (text, why) => {
    expect(parsePolicyRule(text)).toMatch(why);
  });

  it('globs match the whole value, any case, with * and ? and nothing else special', () => {
    expect(globRegExp('amphora-*').test('AMPHORA-1234')).toBe(true);
    expect(globRegExp('amphora-*').test('my-amphora-1')).toBe(false);
    expect(globRegExp('db-?').test('db-1')).toBe(true);
    expect(globRegExp('db-?').test('db-10')).toBe(false);
    expect(globRegExp('a.b(c)').test('a.b(c)')).toBe(true);
    expect(globRegExp('a.b(c)').test('axb(c)')).toBe(false);
  });
});

describe('how the rules combine', () => {
  it('the first matching evacuate/never rule decides, whatever comes after it', () => {
    const p = policy(['metadata:ha=true -> evacuate', 'name:amphora-* -> never']);
    expect(judgeServer(subject({ name: 'amphora-1', metadata: { ha: 'true' } }), p)).toMatchObject({ move: true, decidedBy: 'metadata:ha=true -> evacuate' });
    expect(judgeServer(subject({ name: 'amphora-1' }), p)).toMatchObject({ move: false, decidedBy: 'name:amphora-* -> never' });
  });

  it('no move rule matches: require_metadata decides, else policy_default', () => {
    const p = policy(['name:amphora-* -> never'], { fallback: 'never' });
    expect(judgeServer(subject(), p)).toMatchObject({ move: false, decidedBy: 'policy_default = never' });
    const req = { requireMetadata: { key: 'HA_Enabled', value: 'True' } };
    expect(judgeServer(subject({ metadata: { HA_Enabled: 'True' } }), p, req)).toMatchObject({ move: true, decidedBy: 'require_metadata HA_Enabled=True' });
    expect(judgeServer(subject(), p, req)).toMatchObject({ move: false, decidedBy: 'require_metadata HA_Enabled=True (not set)' });
    expect(judgeServer(subject({ name: 'amphora-9', metadata: { HA_Enabled: 'True' } }), p, req)).toMatchObject({ move: false, decidedBy: 'name:amphora-* -> never' });
  });

  it('priority: the first matching priority rule, then priority_metadata_key, then 0; tiers cut by thresholds', () => {
    const p = policy(['flavor:hw:cpu_policy=dedicated -> priority 50', 'metadata:tier=db -> priority 100'], { tiers: [100, 50] });
    const legacy = { priorityMetadataKey: 'ha_priority' };
    expect(judgeServer(subject({ flavorExtraSpecs: { 'hw:cpu_policy': 'dedicated' }, metadata: { tier: 'db' } }), p, legacy))
      .toMatchObject({ priority: 50, priorityFrom: 'flavor:hw:cpu_policy=dedicated -> priority 50', tier: 2 });
    expect(judgeServer(subject({ metadata: { tier: 'db', ha_priority: '7' } }), p, legacy)).toMatchObject({ priority: 100, tier: 1 });
    expect(judgeServer(subject({ metadata: { ha_priority: '7' } }), p, legacy)).toMatchObject({ priority: 7, priorityFrom: 'metadata ha_priority', tier: 3 });
    expect(judgeServer(subject(), p, legacy)).toMatchObject({ priority: 0, priorityFrom: '', tier: 3 });
    expect([tierOf(100, [100, 50]), tierOf(99, [100, 50]), tierOf(50, [100, 50]), tierOf(-1, [100, 50]), tierOf(5, [])]).toEqual([1, 2, 2, 3, 1]);
  });

  it('a rule on something the cloud did not say does not match, and the verdict names it', () => {
    const p = policy(['image:evacuable=false -> never', 'aggregate:ha=none -> never']);
    const v = judgeServer({ name: 'x', projectId: 'p', metadata: {} }, p);
    expect(v).toMatchObject({ move: true, decidedBy: 'policy_default = evacuate', unknown: ['image:evacuable=false -> never', 'aggregate:ha=none -> never'] });
    expect(judgeServer(subject({ aggregates: [{ name: 'a', metadata: { ha: 'NONE' } }] }), p)).toMatchObject({ move: false, decidedBy: 'aggregate:ha=none -> never' });
  });
});
