export * from './metrics.js';
export * from './http-server.js';
export * from './track-readiness.js';
