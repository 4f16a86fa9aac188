// Epoch-millisecond fields are named for what they are: `at`, `since`, `until`, `...At`, `...Since`, `...From` (an
// instance's `downFrom`). A new time field must end in one of these, or json output would show it as a number.
const TIME_KEY = /(^at$|^since$|^until$|At$|Since$|From$)/;
const PLAUSIBLE_EPOCH_MS = 1e11;

/** Deep copy with every epoch-ms time field as an ISO-8601 UTC string: what json/yaml output and the API show. */
export function isoTimes(value: unknown, key = ''): unknown {
  if (typeof value === 'number' && TIME_KEY.test(key) && value > PLAUSIBLE_EPOCH_MS && Number.isFinite(value)) return new Date(value).toISOString();
  if (Array.isArray(value)) return value.map((v) => isoTimes(v));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const toJson = (value as { toJSON?: () => unknown }).toJSON;
    if (typeof toJson === 'function') return toJson.call(value);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isoTimes(v, k)]));
  }
  return value;
}
