import type { z } from 'zod';

/**
 * A 2xx body that is not what the API documents: a field missing, of the wrong type or out of its set.
 * Thrown by the answer checks and turned by the HTTP client into a retryable `<service>_malformed_answer`
 * OpenStackError naming the endpoint; it never leaves src/openstack on its own.
 */
export class MalformedAnswer extends Error {
  constructor(readonly field: string, readonly problem: string) {
    super(`${field} ${problem}`);
    this.name = 'MalformedAnswer';
  }
}

/** `servers[3].OS-EXT-SRV-ATTR:host`: the path as an operator reads it next to the JSON. */
export function fieldPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : `${out ? '.' : ''}${String(k)}`;
  return out || '(body)';
}

function at(data: unknown, path: readonly PropertyKey[]): unknown {
  let v = data;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** A short description of a bad value: its JSON type and, for scalars, the value itself. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array (${v.length} items)`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `the ${typeof v} ${String(v)}`;
}

/** Parses `data` with `schema`, or throws MalformedAnswer for the first field that does not fit. */
export function checkAnswer<S extends z.ZodType>(schema: S, data: unknown, root = ''): z.output<S> {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = fieldPath(root, issue.path);
  const value = at(data, issue.path);
  if (issue.code === 'unrecognized_keys' || issue.code === 'custom') throw new MalformedAnswer(field, issue.message);
  throw new MalformedAnswer(field, value === undefined ? 'is missing' : `is ${describeValue(value)} (${issue.message.replace(/^Invalid input: /, '')})`);
}
