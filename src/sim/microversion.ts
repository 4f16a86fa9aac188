import type { IncomingHttpHeaders } from 'node:http';
import { novaError } from './http-error.js';

/** A compute API microversion as one comparable number: 2.53 → 2053. */
export type Microversion = number;

export function parseMicroversion(text: string): Microversion | undefined {
  const m = /^(\d+)\.(\d+)$/.exec(text.trim());
  if (!m) return undefined;
  const minor = Number(m[2]);
  if (minor > 999) return undefined;
  return Number(m[1]) * 1000 + minor;
}

export function formatMicroversion(v: Microversion): string {
  return `${Math.floor(v / 1000)}.${v % 1000}`;
}

/** mv('2.53') for readable comparisons in handlers. */
export function mv(text: string): Microversion {
  const v = parseMicroversion(text);
  if (v === undefined) throw new Error(`bad microversion literal ${text}`);
  return v;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** The version a request asks of `service` in `OpenStack-API-Version: SERVICE X[, OTHER Y]`; undefined when it names none. */
export function askedVersion(headers: IncomingHttpHeaders, service: string): string | undefined {
  let text: string | undefined;
  for (const part of (headerValue(headers, 'openstack-api-version') ?? '').split(',')) {
    const [name, ...rest] = part.trim().split(/\s+/);
    if (name?.toLowerCase() === service) text = rest.join(' ');
  }
  return text;
}

/**
 * The request's compute microversion as nova-api reads it: `OpenStack-API-Version: compute X` first, then the
 * legacy `X-OpenStack-Nova-API-Version: X`; none means 2.1; `latest` means the maximum. Bad syntax → 400,
 * outside [min, max] → 406, with Nova's messages.
 */
export function requestMicroversion(headers: IncomingHttpHeaders, min: Microversion, max: Microversion): Microversion {
  let text = askedVersion(headers, 'compute');
  if (text === undefined) text = headerValue(headers, 'x-openstack-nova-api-version');
  if (text === undefined || text.trim() === '') return min;
  if (text.trim().toLowerCase() === 'latest') return max;
  const v = parseMicroversion(text);
  if (v === undefined) {
    throw novaError(400, `API Version String ${text.trim()} is of invalid format. Must be of format MajorNum.MinorNum.`);
  }
  if (v < min || v > max) {
    throw novaError(406, `Version ${formatMicroversion(v)} is not supported by the API. Minimum is ${formatMicroversion(min)} and maximum is ${formatMicroversion(max)}.`);
  }
  return v;
}

export function microversionHeaders(v: Microversion): Record<string, string> {
  const text = formatMicroversion(v);
  return {
    'OpenStack-API-Version': `compute ${text}`,
    'X-OpenStack-Nova-API-Version': text,
    Vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
  };
}
