import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { isoTimes, onlyChanges, renderList, renderOne, type Column } from '../../../src/cli/output.js';

interface Row { id: string; host: string; openedAt: number; ack?: { by: string; at: number } }
const rows: Row[] = [
  { id: 'inc-1', host: 'compute1', openedAt: Date.UTC(2026, 0, 2, 3, 4, 5), ack: { by: 'alice', at: Date.UTC(2026, 0, 2, 3, 10) } },
  { id: 'inc-2', host: 'compute22', openedAt: Date.UTC(2026, 0, 3) },
];
const cols: Column<Row>[] = [
  { header: 'ID', key: 'id', cell: (r) => r.id },
  { header: 'HOST', key: 'host', cell: (r) => r.host },
  { header: 'ACK BY', key: 'ack', cell: (r) => r.ack?.by },
];
const t = (format: 'table' | 'json' | 'value' | 'yaml', columns: string[] = []) => ({ format, columns });

describe('output layer', () => {
  it('prints one aligned table, "-" for empty cells', () => {
    expect(renderList(rows, cols, t('table'))).toBe('ID     HOST       ACK BY\ninc-1  compute1   alice\ninc-2  compute22  -\n');
  });

  it('-c picks columns in the order asked, by header or key, any case', () => {
    expect(renderList(rows, cols, t('value', ['host', 'ID']))).toBe('compute1 inc-1\ncompute22 inc-2\n');
    expect(renderList(rows, cols, t('value', ['ack_by']))).toBe('alice\n-\n');
    expect(() => renderList(rows, cols, t('table', ['nope']))).toThrow('-c nope: no such column (columns: ID, HOST, ACK BY)');
  });

  it('json and yaml carry the full record with ISO-8601 UTC times', () => {
    const json = JSON.parse(renderList(rows, cols, t('json'), { full: (r) => r })) as Array<Record<string, unknown>>;
    expect(json[0]).toEqual({ id: 'inc-1', host: 'compute1', openedAt: '2026-01-02T03:04:05.000Z', ack: { by: 'alice', at: '2026-01-02T03:10:00.000Z' } });
    const yaml = parseYaml(renderList(rows, cols, t('yaml'), { full: (r) => r })) as Array<Record<string, unknown>>;
    expect(yaml[1]!.openedAt).toBe('2026-01-03T00:00:00.000Z');
    expect(JSON.parse(renderList(rows, cols, t('json', ['host'])))).toEqual([{ host: 'compute1' }, { host: 'compute22' }]);
  });

  it('json shows every time as ISO-8601, an instance\'s downFrom included', () => {
    const inc = { openedAt: Date.UTC(2026, 0, 1), instances: [{ name: 'vm-1', downFrom: Date.UTC(2026, 0, 1, 0, 0, 5), backAt: Date.UTC(2026, 0, 1, 0, 0, 9), downtimeMs: 4000 }] };
    const json = JSON.parse(renderOne(inc, t('json'))) as { instances: Array<Record<string, unknown>> };
    expect(json.instances[0]).toEqual({ name: 'vm-1', downFrom: '2026-01-01T00:00:05.000Z', backAt: '2026-01-01T00:00:09.000Z', downtimeMs: 4000 });
  });

  it('a show prints FIELD/VALUE rows, or only the fields asked for', () => {
    const rec = { id: 'inc-1', status: 'resolved', closedAt: Date.UTC(2026, 0, 1) };
    expect(renderOne(rec, t('table'))).toBe('FIELD     VALUE\nid        inc-1\nstatus    resolved\nclosedAt  2026-01-01T00:00:00.000Z\n');
    expect(renderOne(rec, t('value', ['status']))).toBe('resolved\n');
    expect(renderOne(rec, t('table'), { tableText: () => 'human view\n' })).toBe('human view\n');
  });

  it('leaves numbers that are not times alone', () => {
    expect(isoTimes({ failoverMs: 12_000, at: 5, rounds: 3, startedAt: 1_700_000_000_000 })).toEqual({ failoverMs: 12_000, at: 5, rounds: 3, startedAt: '2023-11-14T22:13:20.000Z' });
  });

  it('progress prints a line only when it changed', () => {
    const seen: string[] = [];
    const p = onlyChanges((l) => seen.push(l));
    for (const l of ['waiting for compute1 up', 'waiting for compute1 up', 'waiting for compute1 up', 'compute1 is up', 'waiting for compute1 up']) p(l);
    expect(seen).toEqual(['waiting for compute1 up', 'compute1 is up', 'waiting for compute1 up']);
  });
});
