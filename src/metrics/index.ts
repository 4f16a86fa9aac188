export * from './metrics.js';
export * from './http-server.js';
