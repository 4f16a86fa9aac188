import { CommanderError, Option, type Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { CmphaError, errorMessage } from '../shared/errors.js';
import { EXIT_CONFIG } from './context.js';
import { isoTimes } from '../shared/iso-times.js';
import { formatTable } from '../shared/table.js';

export { formatTable, isoTimes };

// The one output layer of every command that prints data, shaped as openstackclient's: `-f table|json|value|yaml`
// and `-c COLUMN` (repeatable). Tables are for people; json and yaml are for scripts and carry the full record
// with times as ISO-8601 UTC; value prints bare cells, one row per line, for `$(...)`.

export const FORMATS = ['table', 'json', 'value', 'yaml'] as const;
export type OutputFormat = (typeof FORMATS)[number];

export interface OutputOptions {
  readonly format: OutputFormat;
  /** Columns asked for with -c, in the order given; empty = all. */
  readonly columns: readonly string[];
}

/** One column of a listing: its table header, the key it has in json/yaml, and how to show it in a table. */
export interface Column<T> {
  readonly header: string;
  readonly key: string;
  readonly cell: (row: T) => unknown;
}

interface RawOutputOpts { format?: string; column?: string[]; json?: boolean }

/**
 * Adds -f/--format and -c/--column to a command; `--json` stays as an alias of `-f json` where it existed.
 * `columns` names what -c may pick (a listing's headers, or a show's fields): any other name, and anything that
 * looks like a file path (`-c` was the config file before it was --column), stops the command before it does
 * any work, with exit code EXIT_CONFIG.
 */
export function withOutputOptions(cmd: Command, opts: { json?: boolean; columns?: readonly Named[] } = {}): Command {
  cmd.addOption(new Option('-f, --format <format>', 'output format').choices([...FORMATS]).default('table'));
  cmd.option('-c, --column <name>', 'show only this column (repeat for more)', (v: string, prev: string[] = []) => [...prev, v]);
  if (opts.json) cmd.option('--json', 'same as -f json');
  cmd.hook('preAction', (_self, action) => {
    const wanted = action.opts<{ column?: string[] }>().column ?? [];
    const problem = columnProblem(wanted, opts.columns);
    if (problem) throw new CommanderError(EXIT_CONFIG, 'cmpha.badColumn', `cmpha ${commandPath(action)}: ${problem}`);
  });
  return cmd;
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

const CONFIG_HINT = '-c is --column (a column name); the config file is --config PATH';

/** Looks like a file, not a column: a slash, a leading dot or tilde, or a config file's extension. */
const looksLikePath = (v: string) => /[/\\]/.test(v) || /^[.~]/.test(v) || /\.(conf|ini|cfg|ya?ml|json)$/i.test(v);

/** A column as -c names it: by header or key, any case, `_`/`-`/space alike. */
type Named = Pick<Column<unknown>, 'header' | 'key'>;

/** A show's fields as -c names them. */
export const fieldColumns = (...keys: string[]): Named[] => keys.map((k) => ({ header: k, key: k }));

/** Why -c cannot be honoured (a path, or a name not in `known`), or undefined. */
export function columnProblem(wanted: readonly string[], known: readonly Named[] | undefined): string | undefined {
  for (const w of wanted) {
    const listed = known ? ` (columns: ${known.map((k) => k.header).join(', ')})` : '';
    if (looksLikePath(w)) return `-c ${w}: a column name was expected, not a file${listed}; ${CONFIG_HINT}`;
    if (known && !known.some((k) => norm(k.header) === norm(w) || norm(k.key) === norm(w))) return `-c ${w}: no such column${listed}; ${CONFIG_HINT}`;
  }
  return undefined;
}

export function outputOptions(raw: RawOutputOpts): OutputOptions {
  const format = raw.json ? 'json' : ((raw.format ?? 'table') as OutputFormat);
  return { format, columns: raw.column ?? [] };
}

const norm = (s: string) => s.toLowerCase().replace(/[\s_-]+/g, '');

/**
 * Checks -c before a command does any work (probes, Nova calls): an unknown column is a usage error, printed as
 * `cmpha COMMAND: …` with exit code EXIT_CONFIG. Returns false when the command must stop.
 */
export function columnsUsable<T>(command: string, columns: readonly Column<T>[], wanted: readonly string[]): boolean {
  try {
    selectColumns(columns, wanted);
    return true;
  } catch (err) {
    process.stderr.write(`cmpha ${command}: ${errorMessage(err)}\n`);
    process.exitCode = EXIT_CONFIG;
    return false;
  }
}

/** The columns -c selected, in the order asked; an unknown name is a usage error listing the known ones. */
export function selectColumns<T>(columns: readonly Column<T>[], wanted: readonly string[]): Column<T>[] {
  if (wanted.length === 0) return [...columns];
  return wanted.map((w) => {
    const c = columns.find((x) => norm(x.header) === norm(w) || norm(x.key) === norm(w));
    if (!c) throw new CmphaError('cli_unknown_column', `-c ${w}: no such column (columns: ${columns.map((x) => x.header).join(', ')}); ${CONFIG_HINT}`);
    return c;
  });
}

function cellText(v: unknown): string {
  if (v === undefined || v === null || v === '') return '-';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

function machine(data: unknown, format: 'json' | 'yaml'): string {
  const v = isoTimes(data);
  return format === 'json' ? `${JSON.stringify(v, null, 2)}\n` : toYaml(v);
}

/**
 * A listing. `table` prints the columns; `value` the bare cells; json/yaml the full records (or, with -c, only
 * the selected columns under their keys). `tableText` replaces the plain table for commands whose table carries
 * more than cells (notes below it); it is used only when no -c was given.
 */
export function renderList<T>(rows: readonly T[], columns: readonly Column<T>[], out: OutputOptions, opts: { full?: (row: T) => unknown; tableText?: () => string; empty?: string } = {}): string {
  const cols = selectColumns(columns, out.columns);
  if (out.format === 'json' || out.format === 'yaml') {
    const data = out.columns.length === 0 && opts.full
      ? rows.map(opts.full)
      : rows.map((r) => Object.fromEntries(cols.map((c) => [c.key, c.cell(r)])));
    return machine(data, out.format);
  }
  if (out.format === 'value') return rows.map((r) => `${cols.map((c) => cellText(c.cell(r))).join(' ')}\n`).join('');
  if (out.columns.length === 0 && opts.tableText) return opts.tableText();
  if (rows.length === 0 && opts.empty) return `${opts.empty}\n`;
  return formatTable(cols.map((c) => c.header), rows.map((r) => cols.map((c) => cellText(c.cell(r)))));
}

/**
 * One object (`show`). `table` prints `tableText` (the human view) or FIELD/VALUE rows; json/yaml the record
 * (-c keeps only those top-level fields); value prints each selected field's value on its own line.
 */
export function renderOne(record: Record<string, unknown>, out: OutputOptions, opts: { tableText?: () => string } = {}): string {
  const keys = Object.keys(record);
  const wanted = out.columns.length === 0 ? keys : out.columns.map((w) => {
    const k = keys.find((x) => norm(x) === norm(w));
    if (!k) throw new CmphaError('cli_unknown_column', `-c ${w}: no such field (fields: ${keys.join(', ')}); ${CONFIG_HINT}`);
    return k;
  });
  const picked = Object.fromEntries(wanted.map((k) => [k, record[k]]));
  if (out.format === 'json' || out.format === 'yaml') return machine(picked, out.format);
  const shown = isoTimes(picked) as Record<string, unknown>;
  if (out.format === 'value') return wanted.map((k) => `${cellText(shown[k])}\n`).join('');
  if (out.columns.length === 0 && opts.tableText) return opts.tableText();
  return formatTable(['FIELD', 'VALUE'], wanted.map((k) => [k, cellText(shown[k])]));
}

/** A progress callback that prints a line only when it differs from the one before (polls repeat themselves). */
export function onlyChanges(print: (line: string) => void): (line: string) => void {
  let last: string | undefined;
  return (line) => {
    if (line === last) return;
    last = line;
    print(line);
  };
}
