import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { importMasakari, type MasakariHostRow, type MasakariSegmentRow } from '../../masakari/import.js';
import { MasakariReader } from '../../openstack/masakari.js';
import { CmphaError, errorMessage } from '../../shared/errors.js';
import { EXIT_CONFIG } from '../context.js';

interface Out {
  write(s: string): unknown;
}

function readRows<T>(file: string, what: string): T[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CmphaError('import_unreadable', `cannot read ${file}: ${errorMessage(err)}`);
  }
  let rows: unknown;
  try {
    rows = JSON.parse(text);
  } catch (err) {
    throw new CmphaError('import_not_json', `${file} is not JSON (${errorMessage(err)}); give the output of ${what} -f json`);
  }
  if (!Array.isArray(rows)) throw new CmphaError('import_not_list', `${file} is not a JSON list; give the output of ${what} -f json`);
  return rows as T[];
}

/** Checks the rows, maps them, and writes the sections (or prints them); what did not map goes to stderr too. */
function writeImport(segments: MasakariSegmentRow[], hosts: MasakariHostRow[], from: string, opts: { out?: string }, out: Out, err: Out): number {
  for (const s of segments) if (typeof s.uuid !== 'string' || typeof s.name !== 'string') throw new CmphaError('import_bad_row', `${from}: every segment needs uuid and name (got ${JSON.stringify(s)})`);
  for (const h of hosts) if (typeof h.name !== 'string' || typeof h.failover_segment_id !== 'string') throw new CmphaError('import_bad_row', `a host row needs name and failover_segment_id (got ${JSON.stringify(h)})`);
  const r = importMasakari(segments, hosts);
  if (opts.out) writeFileSync(opts.out, r.conf);
  else out.write(r.conf);
  for (const u of r.unmapped) err.write(`cmpha: not carried over as it was: ${u}\n`);
  err.write(`cmpha: ${segments.length} segment(s), ${hosts.length} host(s) read from ${from}${opts.out ? `; written to ${opts.out}` : ''}\n`);
  return 0;
}

/**
 * Reads `openstack segment list -f json` (SEGMENTS) and `openstack segment host list SEGMENT -f json` (one file per
 * segment) and prints the equivalent [segment:NAME] sections, or writes them to --out; what did not map goes to
 * stderr as well. Exit 0 when written, 2 when an input cannot be read.
 */
export function runImportMasakari(segmentsFile: string, hostFiles: readonly string[], opts: { out?: string }, out: Out, err: Out): number {
  try {
    const segments = readRows<MasakariSegmentRow>(segmentsFile, 'openstack segment list');
    const hosts = hostFiles.flatMap((f) => readRows<MasakariHostRow>(f, 'openstack segment host list SEGMENT'));
    return writeImport(segments, hosts, segmentsFile, opts, out, err);
  } catch (e) {
    err.write(`cmpha: ${errorMessage(e)}\n`);
    return EXIT_CONFIG;
  }
}

/** The token for a live Masakari: --token-file, else OS_TOKEN; never an argument of its own (ps would show it). */
function masakariToken(tokenFile: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  if (tokenFile !== undefined) {
    let t: string;
    try {
      t = readFileSync(tokenFile, 'utf8').trim();
    } catch (err) {
      throw new CmphaError('import_unreadable', `cannot read the token file ${tokenFile}: ${errorMessage(err)}`);
    }
    if (t === '') throw new CmphaError('import_no_token', `the token file ${tokenFile} is empty`);
    return t;
  }
  const t = env.OS_TOKEN?.trim();
  if (!t) throw new CmphaError('import_no_token', 'no token for --url: give --token-file FILE (a file holding a Keystone token, e.g. from `openstack token issue -f value -c id`) or set OS_TOKEN');
  return t;
}

/** Reads the segments and hosts from a running Masakari API (--url) and writes them as runImportMasakari does. */
export async function runImportMasakariLive(
  opts: { url: string; tokenFile?: string; out?: string; cacert?: string; insecure?: boolean }, env: Readonly<Record<string, string | undefined>>, out: Out, err: Out,
): Promise<number> {
  let reader: MasakariReader | undefined;
  try {
    reader = new MasakariReader(opts.url, masakariToken(opts.tokenFile, env), { ...(opts.cacert ? { cacert: opts.cacert } : {}), insecure: opts.insecure ?? false });
    const segments = await reader.segments() as MasakariSegmentRow[];
    const hosts: MasakariHostRow[] = [];
    for (const s of segments) {
      if (typeof s?.uuid !== 'string') continue;
      hosts.push(...(await reader.hosts(s.uuid) as MasakariHostRow[]));
    }
    return writeImport(segments, hosts, opts.url, opts, out, err);
  } catch (e) {
    err.write(`cmpha: ${errorMessage(e)}\n`);
    return EXIT_CONFIG;
  } finally {
    reader?.close();
  }
}

export function registerImportCommands(program: Command): void {
  const imp = program.command('import').description('Write cmpha.conf sections from another HA controller\'s settings');
  imp.command('masakari')
    .description('Masakari\'s segments and hosts → [segment:NAME] sections. From a running Masakari API (--url, token from --token-file or OS_TOKEN), or from files: SEGMENTS is `openstack segment list -f json` output, HOSTS `openstack segment host list SEGMENT -f json` output, one file per segment')
    .argument('[segments]', 'file with `openstack segment list -f json` output (not with --url)')
    .argument('[hosts...]', 'files with `openstack segment host list SEGMENT -f json` output')
    .option('--url <url>', 'read a running Masakari API instead of files: its endpoint, e.g. http://controller:15868/v1 (`openstack endpoint list --service instance-ha`)')
    .option('--token-file <file>', 'with --url: a file holding the token (else the OS_TOKEN environment variable)')
    .option('--cacert <file>', 'with --url: CA bundle for an https endpoint')
    .option('--insecure', 'with --url: do not verify the https certificate')
    .option('--out <file>', 'write the sections to this file instead of stdout')
    .action(async (segments: string | undefined, hosts: string[], o: { out?: string; url?: string; tokenFile?: string; cacert?: string; insecure?: boolean }) => {
      if (o.url !== undefined) {
        if (segments !== undefined) {
          process.stderr.write('cmpha: give either --url or files, not both\n');
          process.exitCode = EXIT_CONFIG;
          return;
        }
        process.exitCode = await runImportMasakariLive({ ...o, url: o.url }, process.env, process.stdout, process.stderr);
        return;
      }
      if (segments === undefined) {
        process.stderr.write('cmpha: give SEGMENTS [HOSTS...] files, or --url of a running Masakari API\n');
        process.exitCode = EXIT_CONFIG;
        return;
      }
      process.exitCode = runImportMasakari(segments, hosts, o, process.stdout, process.stderr);
    });
}
