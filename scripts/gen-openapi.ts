// Writes docs/openapi.json from the document the API serves (src/api/openapi.ts); test/e2e/api.test.ts checks they match.
import { writeFileSync } from 'node:fs';
import { OPENAPI } from '../src/api/openapi.js';

writeFileSync(new URL('../docs/openapi.json', import.meta.url), `${JSON.stringify(OPENAPI, null, 2)}\n`);
