import type { Config } from './types.js';

export interface ConfigIssue {
  readonly file: string;
  readonly section?: string;
  readonly key?: string;
  readonly message: string;
}

export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
  lines(): string[] {
    return this.issues.map(formatIssue);
  }
}

export function formatIssue(i: ConfigIssue): string {
  const where = [i.file, i.section ? `[${i.section}]` : undefined, i.key].filter(Boolean).join(' ');
  return `${where}: ${i.message}`;
}

export interface LoadOptions {
  readonly path?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export async function loadConfig(_opts: LoadOptions): Promise<Config> {
  throw new ConfigError([{ file: '(none)', message: 'config loading is not implemented yet' }]);
}
