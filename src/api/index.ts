export { startApiServer, type ApiServer } from './server.js';
export type { ApiDeps, ProbeRequests } from './types.js';
