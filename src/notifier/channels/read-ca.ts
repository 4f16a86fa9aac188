import { readFileSync } from 'node:fs';
import { CmphaError } from '../../shared/errors.js';

/** Reads a `cacert` PEM file when the channel is built, so a wrong path stops start-up with a clear message. */
export function readCa(notifier: string, file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CmphaError('notifier_config_invalid', `[notifier:${notifier}] cacert: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}
