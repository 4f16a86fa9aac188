import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { importMasakari, type MasakariHostRow, type MasakariSegmentRow } from '../../masakari/import.js';
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

/**
 * Reads `openstack segment list -f json` (SEGMENTS) and `openstack segment host list SEGMENT -f json` (one file per
 * segment) and prints the equivalent [segment:NAME] sections, or writes them to --out; what did not map goes to
 * stderr as well. Exit 0 when written, 2 when an input cannot be read.
 */
export function runImportMasakari(segmentsFile: string, hostFiles: readonly string[], opts: { out?: string }, out: Out, err: Out): number {
  try {
    const segments = readRows<MasakariSegmentRow>(segmentsFile, 'openstack segment list');
    for (const s of segments) if (typeof s.uuid !== 'string' || typeof s.name !== 'string') throw new CmphaError('import_bad_row', `${segmentsFile}: every segment needs uuid and name (got ${JSON.stringify(s)})`);
    const hosts = hostFiles.flatMap((f) => readRows<MasakariHostRow>(f, 'openstack segment host list SEGMENT'));
    for (const h of hosts) if (typeof h.name !== 'string' || typeof h.failover_segment_id !== 'string') throw new CmphaError('import_bad_row', `a host row needs name and failover_segment_id (got ${JSON.stringify(h)})`);
    const r = importMasakari(segments, hosts);
    if (opts.out) writeFileSync(opts.out, r.conf);
    else out.write(r.conf);
    for (const u of r.unmapped) err.write(`cmpha: not carried over as it was: ${u}\n`);
    err.write(`cmpha: ${segments.length} segment(s), ${hosts.length} host(s) read${opts.out ? `; written to ${opts.out}` : ''}\n`);
    return 0;
  } catch (e) {
    err.write(`cmpha: ${errorMessage(e)}\n`);
    return EXIT_CONFIG;
  }
}

export function registerImportCommands(program: Command): void {
  const imp = program.command('import').description('Write cmpha.conf sections from another HA controller\'s settings');
  imp.command('masakari')
    .description('Masakari\'s segments and hosts → [segment:NAME] sections. SEGMENTS: `openstack segment list -f json` output; HOSTS: `openstack segment host list SEGMENT -f json` output, one file per segment')
    .argument('<segments>', 'file with `openstack segment list -f json` output')
    .argument('[hosts...]', 'files with `openstack segment host list SEGMENT -f json` output')
    .option('--out <file>', 'write the sections to this file instead of stdout')
    .action((segments: string, hosts: string[], o: { out?: string }) => {
      process.exitCode = runImportMasakari(segments, hosts, o, process.stdout, process.stderr);
    });
}
