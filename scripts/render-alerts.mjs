#!/usr/bin/env node
// Prints deploy/prometheus/cmpha-alerts.yml with every runbook_url pointing at another copy of the docs:
//   npm run alerts -- --runbook-base https://wiki.example.net/cmpha > /etc/prometheus/rules/cmpha-alerts.yml
// The base is the URL under which operations.md is served; without the flag the file is printed as shipped.
import { readFileSync } from 'node:fs';

export const DEFAULT_RUNBOOK_BASE = 'https://github.com/cmpha/cmpha/blob/main/docs';

export function renderAlerts(text, base) {
  let url;
  try {
    url = new URL(base);
  } catch {
    throw new Error(`--runbook-base ${base} is not a URL (use e.g. https://wiki.example.net/cmpha)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`--runbook-base ${base}: use an http(s) URL`);
  const clean = base.replace(/\/+$/, '');
  return text.split(`${DEFAULT_RUNBOOK_BASE}/`).join(`${clean}/`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--runbook-base');
  const base = i >= 0 ? args[i + 1] : process.env.CMPHA_RUNBOOK_BASE;
  const text = readFileSync(new URL('../deploy/prometheus/cmpha-alerts.yml', import.meta.url), 'utf8');
  try {
    process.stdout.write(base ? renderAlerts(text, base) : text);
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
}
