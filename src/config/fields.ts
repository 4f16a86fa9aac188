import { isIP } from 'node:net';
import { z } from 'zod';
import { parseCommandTemplate } from '../shared/command-template.js';
import { parseDuration } from '../shared/duration.js';
import { fieldDefaults, type Raw } from './declare.js';

// INI values arrive as strings (the parser may turn `true`/`false` into booleans); these builders turn them
// into typed values with messages that say what was expected.

/** Records the default a builder applies, so the reference shows the value the loader really uses. */
function documented<S extends z.ZodType>(schema: S, defaultText: string | undefined): S {
  if (defaultText !== undefined && defaultText !== '') fieldDefaults.add(schema as z.ZodType, { default: defaultText });
  return schema;
}

const asText = (v: Raw): string | undefined => (v === undefined ? undefined : String(v).trim());

/** What an INI value may arrive as, before a builder turns it into its type. */
const raw = () => z.union([z.string(), z.number(), z.boolean()]).optional();

export function duration(defaultValue: string, opts: { min?: string; bareUnit?: 'ms' | 's' } = {}) {
  const min = opts.min === undefined ? 0 : parseDuration(opts.min)!;
  return documented(raw().transform((v, ctx) => {
      const text = asText(v) ?? defaultValue;
      const ms = parseDuration(text, opts.bareUnit ?? 's');
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (use e.g. 500ms, 20s, 2m, 1h)` });
        return z.NEVER;
      }
      if (ms < min) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is shorter than the minimum ${opts.min}` });
        return z.NEVER;
      }
      return ms;
    }), defaultValue);
}

export function integer(defaultValue: number, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return documented(raw().transform((v, ctx) => {
      const text = asText(v);
      if (text === undefined || text === '') return defaultValue;
      if (!/^-?\d+$/.test(text)) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a whole number` });
        return z.NEVER;
      }
      const n = Number(text);
      if (n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `${n} is out of range (${min}..${max})` });
        return z.NEVER;
      }
      return n;
    }), String(defaultValue));
}

export function optionalInteger(min = 0, max = Number.MAX_SAFE_INTEGER) {
  return raw().transform((v, ctx) => {
      const text = asText(v);
      if (text === undefined || text === '') return undefined;
      if (!/^-?\d+$/.test(text) || Number(text) < min || Number(text) > max) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a whole number in ${min}..${max}` });
        return z.NEVER;
      }
      return Number(text);
    });
}

export function fraction(defaultValue: number) {
  return documented(raw().transform((v, ctx) => {
      const text = asText(v);
      if (text === undefined || text === '') return defaultValue;
      const n = Number(text);
      if (!/^\d*\.?\d+$/.test(text) || n < 0 || n > 1) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a fraction between 0 and 1` });
        return z.NEVER;
      }
      return n;
    }), String(defaultValue));
}

/** `N per DURATION` (`3 per 30m`): at most N in any window of that length. Empty or unset: no limit. */
export function countPerWindow() {
  return raw().transform((v, ctx): { count: number; windowMs: number } | undefined => {
      const text = asText(v);
      if (text === undefined || text === '') return undefined;
      const m = /^(\d+)\s+per\s+(\S+)$/.exec(text);
      const windowMs = m ? parseDuration(m[2]!, 's') : undefined;
      if (!m || windowMs === undefined || windowMs <= 0 || Number(m[1]) < 1) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a count per window (write e.g. 3 per 30m: at least 1, a duration such as 30m or 1h)` });
        return z.NEVER;
      }
      return { count: Number(m[1]), windowMs };
    });
}

const TRUE = new Set(['true', 'yes', 'on', '1']);
const FALSE = new Set(['false', 'no', 'off', '0']);

export function bool(defaultValue: boolean) {
  return documented(raw().transform((v, ctx) => {
      const text = asText(v)?.toLowerCase();
      if (text === undefined || text === '') return defaultValue;
      if (TRUE.has(text)) return true;
      if (FALSE.has(text)) return false;
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a boolean (true/false)` });
      return z.NEVER;
    }), String(defaultValue));
}

/** Comma-separated list, as oslo.config's ListOpt. */
export function list(defaultValue: readonly string[] = []) {
  return documented(raw().transform((v) => {
      const text = asText(v);
      if (text === undefined) return [...defaultValue];
      return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    }), defaultValue.join(','));
}

export function text(): z.ZodType<string | undefined, Raw>;
export function text(defaultValue: string): z.ZodType<string, Raw>;
export function text(defaultValue?: string): z.ZodType<string | undefined, Raw> {
  return documented(raw().transform((v) => {
      const t = asText(v);
      return t === undefined || t === '' ? defaultValue : t;
    }), defaultValue);
}

export function requiredText() {
  return raw().transform((v, ctx) => {
      const t = asText(v);
      if (t === undefined || t === '') {
        ctx.addIssue({ code: 'custom', message: 'is required' });
        return z.NEVER;
      }
      return t;
    });
}

/** One of `values`; `aliases` maps other accepted spellings (e.g. keystoneauth's `internalURL`) to one of them. */
/** One of `values`; with `undefined` as the default, unset stays unset (for a default that depends on another key). */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T, defaultValue: T[number], aliases?: Readonly<Record<string, T[number]>>): z.ZodType<T[number], Raw>;
export function oneOf<const T extends readonly [string, ...string[]]>(values: T, defaultValue: undefined, aliases?: Readonly<Record<string, T[number]>>): z.ZodType<T[number] | undefined, Raw>;
export function oneOf<const T extends readonly [string, ...string[]]>(values: T, defaultValue: T[number] | undefined, aliases: Readonly<Record<string, T[number]>> = {}): z.ZodType<T[number] | undefined, Raw> {
  return documented(raw().transform((v, ctx) => {
      const t = asText(v);
      if (t === undefined || t === '') return defaultValue;
      if ((values as readonly string[]).includes(t)) return t as T[number];
      const alias = aliases[t];
      if (alias !== undefined) return alias;
      ctx.addIssue({ code: 'custom', message: `"${t}" is not one of ${values.join(', ')}` });
      return z.NEVER;
    }), defaultValue);
}

/** An IP literal (v4 or v6). Host names are refused: probing one would send a DNS query off this machine. */
export function isIpLiteral(s: string): boolean {
  return isIP(s) !== 0;
}

export function ipList() {
  return list().superRefine((ips, ctx) => {
    for (const ip of ips) if (!isIpLiteral(ip)) ctx.addIssue({ code: 'custom', message: `"${ip}" is not an IP literal (host names are not accepted)` });
  });
}

export function optionalIp() {
  return text().superRefine((ip, ctx) => {
    if (ip !== undefined && !isIpLiteral(ip)) ctx.addIssue({ code: 'custom', message: `"${ip}" is not an IP literal (host names are not accepted)` });
  });
}

/**
 * A BMC address: an IP literal or a DNS name. Digits and dots only is meant as an IPv4 address (no top-level
 * domain is numeric), so `192.0.2.999` or `10.1.2` is a typo to report, not a name to look up.
 */
export function hostAddress() {
  return text().superRefine((a, ctx) => {
    if (a !== undefined && /^[\d.]+$/.test(a) && !isIpLiteral(a)) ctx.addIssue({ code: 'custom', message: `"${a}" is not a valid IPv4 address (four numbers 0-255 separated by dots) and, all digits, cannot be a DNS name` });
  });
}

export function listenAddress(defaultValue: string) {
  return documented(text(defaultValue).transform((t, ctx) => {
    const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(t!);
    if (!m || Number(m[2]) > 65535) {
      ctx.addIssue({ code: 'custom', message: `"${t}" is not HOST:PORT` });
      return z.NEVER;
    }
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  }), defaultValue);
}

/** Parses `HOST:PORT` (IPv6 in brackets); undefined when it is not one. */
export function parseHostPort(t: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(t.trim());
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** Comma-separated `HOST:PORT` list. */
export function hostPortList() {
  return list().transform((items, ctx) => {
    const out: { host: string; port: number }[] = [];
    for (const item of items) {
      const hp = parseHostPort(item);
      if (!hp) ctx.addIssue({ code: 'custom', message: `"${item}" is not HOST:PORT` });
      else out.push(hp);
    }
    return out;
  });
}

/** A URL with one of the given schemes (`redis:`); credentials in it are never echoed in a message. */
export function url(defaultValue: string, schemes: readonly string[]): z.ZodType<string, Raw>;
export function url(defaultValue: undefined, schemes: readonly string[]): z.ZodType<string | undefined, Raw>;
export function url(defaultValue: string | undefined, schemes: readonly string[]): z.ZodType<string | undefined, Raw> {
  return documented(text().transform((given, ctx) => {
    const t = given ?? defaultValue;
    if (t === undefined) return undefined;
    let u: URL;
    try {
      u = new URL(t);
    } catch {
      ctx.addIssue({ code: 'custom', message: `is not a URL (expected ${schemes.map((s) => `${s}//HOST:PORT`).join(' or ')})` });
      return z.NEVER;
    }
    if (!schemes.includes(u.protocol)) {
      ctx.addIssue({ code: 'custom', message: `has scheme ${u.protocol} (expected ${schemes.join(' or ')})` });
      return z.NEVER;
    }
    if (u.hostname === '') {
      ctx.addIssue({ code: 'custom', message: 'names no host' });
      return z.NEVER;
    }
    return t;
  }), defaultValue);
}

/** `KEY=VALUE`, e.g. a metadata match. */
export function keyValue() {
  return text().transform((t, ctx) => {
    if (t === undefined) return undefined;
    const m = /^([^=]+)=(.*)$/.exec(t);
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `"${t}" is not KEY=VALUE` });
      return z.NEVER;
    }
    return { key: m[1]!.trim(), value: m[2]!.trim() };
  });
}

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3 };

/** A size such as `32MiB`, `512KiB`, `1048576` (bytes), to a number of bytes. */
export function byteSize(defaultValue: string, opts: { min: number }) {
  return documented(raw().transform((v, ctx) => {
    const t = asText(v) || defaultValue;
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(t);
    const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
    if (!m || unit === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${t}" is not a size (use e.g. 512KiB, 32MiB, 1GiB)` });
      return z.NEVER;
    }
    const n = Math.round(Number(m[1]) * unit);
    if (n < opts.min) {
      ctx.addIssue({ code: 'custom', message: `"${t}" is smaller than the minimum ${opts.min} bytes` });
      return z.NEVER;
    }
    return n;
  }), defaultValue);
}

/** A command template (src/shared/command-template.ts) split into argv once, here; unset or empty: none. */
/** An argv template (no shell); `placeholders` are the `{name}`s it may use (the remediation's by default). */
export function commandTemplate(placeholders?: readonly string[]) {
  return raw().transform((v, ctx): readonly string[] | undefined => {
    const t = asText(v);
    if (t === undefined || t === '') return undefined;
    try {
      return parseCommandTemplate(t, 'command', placeholders);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message.replace(/^command: /, '') : String(err) });
      return z.NEVER;
    }
  });
}
