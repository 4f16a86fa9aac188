// Writes cmpha.conf.example and docs/configuration.md from src/config/reference.ts.
import { writeFileSync } from 'node:fs';
import { renderConfigDocs, renderExampleConfig } from '../src/config/reference.js';

writeFileSync(new URL('../cmpha.conf.example', import.meta.url), renderExampleConfig());
writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigDocs());
