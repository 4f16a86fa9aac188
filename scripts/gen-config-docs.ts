// Writes cmpha.conf.example and docs/configuration.md from the key declarations (through src/config/reference.ts).
// test/unit/config/load.test.ts fails when either file differs from what this writes.
import { writeFileSync } from 'node:fs';
import { renderConfigDocs, renderExampleConfig } from '../src/config/reference.js';

writeFileSync(new URL('../cmpha.conf.example', import.meta.url), renderExampleConfig());
writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigDocs());
