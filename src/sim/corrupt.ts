import { SimHttpError } from './http-error.js';
import type { SimResponse } from './http-types.js';

/**
 * A malformed answer the simulator gives on purpose: a proxy or API worker that garbles a 2xx body, as
 * cmpha must survive. The request is applied as usual; only its answer is altered.
 */
export interface CorruptRule {
  /** Regular expression tested against the request path (with its query), e.g. "/servers/detail". */
  path: string;
  /** Default GET. */
  method: string;
  /** Dotted paths into the body (`*` = every element of a list) and the value each gets. */
  set?: Record<string, unknown>;
  /** Dotted paths removed from the body. */
  unset?: string[];
  /** The whole body replaced by this JSON value. */
  replace?: unknown;
  /** The whole body replaced by this text (not JSON). */
  raw?: string;
  /** A string field `padding` of this many bytes added to the (object) body: a huge answer. */
  padBytes?: number;
  /** Matching answers left untouched before the rule starts. */
  skip: number;
  /** Answers still to corrupt; null = every matching answer until the rules are replaced. */
  remaining: number | null;
}

const MAX_PAD = 64 * 1024 * 1024;

function bad(message: string): SimHttpError {
  return new SimHttpError(400, { error: message });
}

/** Validates `corrupt: [...]` from POST /sim/faults. */
export function parseCorruptRules(input: unknown): CorruptRule[] {
  if (!Array.isArray(input)) throw bad('corrupt must be a list of rules');
  return input.map((raw, i) => {
    const where = `corrupt[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad(`${where} must be an object`);
    const r = raw as Record<string, unknown>;
    const known = ['path', 'method', 'set', 'unset', 'replace', 'raw', 'padBytes', 'skip', 'times'];
    for (const k of Object.keys(r)) if (!known.includes(k)) throw bad(`${where}.${k} is unknown; known: ${known.join(', ')}`);
    if (typeof r.path !== 'string' || r.path === '') throw bad(`${where}.path must be a regular expression`);
    try {
      new RegExp(r.path);
    } catch (e) {
      throw bad(`${where}.path is not a regular expression: ${(e as Error).message}`);
    }
    if (r.method !== undefined && typeof r.method !== 'string') throw bad(`${where}.method must be a string`);
    if (r.set !== undefined && (typeof r.set !== 'object' || r.set === null || Array.isArray(r.set))) throw bad(`${where}.set must be an object`);
    if (r.unset !== undefined && (!Array.isArray(r.unset) || !r.unset.every((u) => typeof u === 'string'))) throw bad(`${where}.unset must be a list of paths`);
    if (r.raw !== undefined && typeof r.raw !== 'string') throw bad(`${where}.raw must be a string`);
    const int = (k: 'padBytes' | 'skip' | 'times', max = Number.MAX_SAFE_INTEGER) => {
      const v = r[k];
      if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)) throw bad(`${where}.${k} must be an integer in [0, ${max}]`);
      return v as number | undefined;
    };
    const padBytes = int('padBytes', MAX_PAD);
    const times = int('times');
    return {
      path: r.path, method: (r.method ?? 'GET').toUpperCase(),
      ...(r.set !== undefined ? { set: r.set as Record<string, unknown> } : {}),
      ...(r.unset !== undefined ? { unset: r.unset as string[] } : {}),
      ...('replace' in r ? { replace: r.replace } : {}),
      ...(r.raw !== undefined ? { raw: r.raw } : {}),
      ...(padBytes !== undefined ? { padBytes } : {}),
      skip: int('skip') ?? 0,
      remaining: times ?? null,
    };
  });
}

function edit(node: unknown, keys: readonly string[], apply: (parent: Record<string, unknown> | unknown[], key: string) => void): void {
  if (node === null || typeof node !== 'object' || keys.length === 0) return;
  const [k, ...rest] = keys as [string, ...string[]];
  const targets: string[] = k === '*' ? Object.keys(node) : [k];
  for (const t of targets) {
    if (rest.length === 0) apply(node as Record<string, unknown>, t);
    else edit((node as Record<string, unknown>)[t], rest, apply);
  }
}

/** The answer as the rule garbles it. */
export function corruptAnswer(rule: CorruptRule, r: SimResponse): SimResponse {
  if (rule.raw !== undefined) return { ...r, body: undefined, rawBody: rule.raw };
  let body: unknown = 'replace' in rule ? structuredClone(rule.replace) : structuredClone(r.body);
  for (const [p, v] of Object.entries(rule.set ?? {})) {
    edit(body, p.split('.'), (parent, key) => { (parent as Record<string, unknown>)[key] = structuredClone(v); });
  }
  for (const p of rule.unset ?? []) {
    edit(body, p.split('.'), (parent, key) => { delete (parent as Record<string, unknown>)[key]; });
  }
  if (rule.padBytes !== undefined && body !== null && typeof body === 'object' && !Array.isArray(body)) {
    body = { ...body, padding: 'x'.repeat(rule.padBytes) };
  }
  return { ...r, body };
}

/** The first live rule for this request, counted as used; null when none applies. */
export function takeRule(rules: CorruptRule[], method: string, pathAndQuery: string): CorruptRule | null {
  for (const rule of rules) {
    if (rule.method !== method || rule.remaining === 0 || !new RegExp(rule.path).test(pathAndQuery)) continue;
    if (rule.skip > 0) {
      rule.skip -= 1;
      continue;
    }
    if (rule.remaining !== null) rule.remaining -= 1;
    return rule;
  }
  return null;
}
