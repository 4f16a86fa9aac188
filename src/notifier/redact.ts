import type { Secret } from '../config/secret.js';

/**
 * Replaces every occurrence of the given secrets (and their URL/base64 forms, which is how they travel in
 * basic auth and query strings) with ***. The net under error messages built from server answers, which may
 * echo what we sent.
 */
export function redactSecrets(text: string, secrets: readonly (Secret | undefined)[], literals: readonly string[] = []): string {
  let out = text;
  for (const l of literals) if (l.length >= 3) out = out.split(l).join('***');
  for (const s of secrets) {
    if (!s || s.empty) continue;
    const v = s.reveal();
    const forms = new Set([v, encodeURIComponent(v), Buffer.from(v).toString('base64')]);
    for (const f of forms) if (f.length >= 3) out = out.split(f).join('***');
  }
  return out;
}
