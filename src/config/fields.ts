import { isIP } from 'node:net';
import { z } from 'zod';
import { parseDuration } from '../shared/duration.js';

// INI values arrive as strings (the parser may turn `true`/`false` into booleans); these builders turn them
// into typed values with messages that say what was expected.

type Raw = string | boolean | number | undefined;

const asText = (v: Raw): string | undefined => (v === undefined ? undefined : String(v).trim());

/** What an INI value may arrive as, before a builder turns it into its type. */
const raw = () => z.union([z.string(), z.number(), z.boolean()]).optional();

export function duration(defaultValue: string, opts: { min?: string; bareUnit?: 'ms' | 's' } = {}) {
  const min = opts.min === undefined ? 0 : parseDuration(opts.min)!;
  return raw().transform((v, ctx) => {
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
    });
}

export function integer(defaultValue: number, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return raw().transform((v, ctx) => {
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
    });
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
  return raw().transform((v, ctx) => {
      const text = asText(v);
      if (text === undefined || text === '') return defaultValue;
      const n = Number(text);
      if (!/^\d*\.?\d+$/.test(text) || n < 0 || n > 1) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a fraction between 0 and 1` });
        return z.NEVER;
      }
      return n;
    });
}

const TRUE = new Set(['true', 'yes', 'on', '1']);
const FALSE = new Set(['false', 'no', 'off', '0']);

export function bool(defaultValue: boolean) {
  return raw().transform((v, ctx) => {
      const text = asText(v)?.toLowerCase();
      if (text === undefined || text === '') return defaultValue;
      if (TRUE.has(text)) return true;
      if (FALSE.has(text)) return false;
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a boolean (true/false)` });
      return z.NEVER;
    });
}

/** Comma-separated list, as oslo.config's ListOpt. */
export function list(defaultValue: readonly string[] = []) {
  return raw().transform((v) => {
      const text = asText(v);
      if (text === undefined) return [...defaultValue];
      return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    });
}

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3 };

/** A size such as `32MiB`, `512KiB`, `1048576` (bytes), to a number of bytes. */
export function byteSize(defaultValue: string, opts: { min: number }) {
  return raw().transform((v, ctx) => {
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
  });
}

export function text(defaultValue?: string) {
  return raw().transform((v) => {
      const t = asText(v);
      return t === undefined || t === '' ? defaultValue : t;
    });
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

export function oneOf<const T extends readonly [string, ...string[]]>(values: T, defaultValue: T[number]) {
  return raw().transform((v, ctx) => {
      const t = asText(v);
      if (t === undefined || t === '') return defaultValue;
      if (!(values as readonly string[]).includes(t)) {
        ctx.addIssue({ code: 'custom', message: `"${t}" is not one of ${values.join(', ')}` });
        return z.NEVER;
      }
      return t as T[number];
    });
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

export function listenAddress(defaultValue: string) {
  return text(defaultValue).transform((t, ctx) => {
    const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(t!);
    if (!m || Number(m[2]) > 65535) {
      ctx.addIssue({ code: 'custom', message: `"${t}" is not HOST:PORT` });
      return z.NEVER;
    }
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  });
}
