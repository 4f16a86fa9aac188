// `{{name}}` substitution and nothing more: no logic, no loops, no access to anything but the given values,
// so an operator's template file cannot reach a secret or run code.

export type Escaper = (value: string) => string;

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

export const escapers = {
  none: (s: string) => s,
  /** Inside a JSON string literal: the template supplies the quotes. */
  json: (s: string) => JSON.stringify(s).slice(1, -1),
  form: (s: string) => encodeURIComponent(s),
  url: (s: string) => encodeURIComponent(s),
  html: (s: string) =>
    s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;'),
} satisfies Record<string, Escaper>;

/** Replaces each `{{name}}` with the escaped value; a name without a value becomes the empty string. */
export function renderTemplate(template: string, vars: Readonly<Record<string, string | undefined>>, escape: Escaper): string {
  return template.replace(PLACEHOLDER, (_m, name: string) => escape(vars[name] ?? ''));
}

/** The names a template refers to, so unknown ones can be reported when the template is loaded. */
export function templateNames(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

/** Values every message offers to templates (webhook bodies, files in template_dir). */
export const MESSAGE_VARS = [
  'event', 'severity', 'title', 'host', 'incident', 'summary', 'details', 'at', 'instances', 'instance_count',
  'action', 'ack_id', 'repeat', 'subject', 'text', 'sms', 'recipient', 'user',
] as const;

export function unknownNames(template: string, allowed: readonly string[]): string[] {
  return [...new Set(templateNames(template).filter((n) => !allowed.includes(n)))];
}
