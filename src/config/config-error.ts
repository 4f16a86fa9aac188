export interface ConfigIssue {
  readonly file: string;
  readonly section?: string;
  readonly key?: string;
  readonly line?: number;
  readonly message: string;
}

/** Every problem found in one pass, so an operator fixes them all at once. Never holds a secret value. */
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
  const file = i.line === undefined ? i.file : `${i.file}:${i.line}`;
  const where = [file, i.section !== undefined ? `[${i.section}]` : undefined, i.key].filter(Boolean).join(' ');
  return `${where}: ${i.message}`;
}
