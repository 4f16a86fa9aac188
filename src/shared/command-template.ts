import { CmphaError } from './errors.js';

/** The placeholders a remediation command may use, each filled from one value about the host. */
export const PLACEHOLDERS = ['host', 'mgmt_ip'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

/**
 * A command template split into argv at parse time: whitespace separates arguments, single or double quotes
 * group them (no escapes, no expansion: there is no shell). Placeholders stay inside the element they were
 * written in, so a value is always exactly one argument, or part of one, whatever it contains.
 */
export function parseCommandTemplate(template: string, where: string, placeholders: readonly string[] = PLACEHOLDERS): readonly string[] {
  const argv: string[] = [];
  let cur = '';
  let inArg = false;
  let quote: '"' | "'" | null = null;
  for (const ch of template) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inArg = true;
    } else if (/\s/.test(ch)) {
      if (inArg) argv.push(cur);
      cur = '';
      inArg = false;
    } else {
      cur += ch;
      inArg = true;
    }
  }
  if (quote) throw new CmphaError('config_invalid', `${where}: unterminated ${quote} quote in ${JSON.stringify(template)}`);
  if (inArg) argv.push(cur);
  if (argv.length === 0) throw new CmphaError('config_invalid', `${where}: the command is empty`);
  for (const a of argv) {
    for (const m of a.matchAll(/\{([^}]*)\}/g)) {
      if (!placeholders.includes(m[1]!)) {
        throw new CmphaError('config_invalid', `${where}: unknown placeholder {${m[1]}} (known: ${placeholders.map((p) => `{${p}}`).join(', ')})`);
      }
    }
  }
  return argv;
}

/**
 * What a value from the cloud may contain to be put into a command: host names and IP literals, nothing a
 * shell down the line (ssh runs its remote command through one) would read as syntax.
 */
const SAFE_VALUE = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/** What renderCommand says when a value is missing or unsafe: the remediation's codes unless told otherwise. */
export interface RenderErrors {
  readonly what: string;
  readonly noValue: string;
  readonly unsafeValue: string;
}

const REMEDIATION_ERRORS: RenderErrors = { what: 'the remediation command', noValue: 'remediation_no_value', unsafeValue: 'remediation_unsafe_value' };

/**
 * The argv for one run: each placeholder replaced inside its own element. A value that is not a plain host
 * name or address is refused, since `ssh HOST cmd` hands its arguments to the remote shell.
 */
export function renderCommand(argv: readonly string[], values: Readonly<Record<string, string | null>>, errors: RenderErrors = REMEDIATION_ERRORS): string[] {
  return argv.map((a) => a.replace(/\{([a-z_]+)\}/g, (_m, name: string) => {
    const v = values[name];
    if (v === null || v === undefined || v === '') {
      throw new CmphaError(errors.noValue, `${errors.what} needs {${name}}, and none is known for host ${JSON.stringify(values.host)}`);
    }
    if (!SAFE_VALUE.test(v)) {
      throw new CmphaError(errors.unsafeValue,
        `refusing to put ${JSON.stringify(v)} into ${errors.what} as {${name}}: only letters, digits and . _ : - are allowed`);
    }
    return v;
  }));
}
