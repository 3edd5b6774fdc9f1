export * from './errors.js';
export * from './schemas.js';
export * from './events.js';
export * from './data.js';
export * from './tokens.js';
export * from './session.js';
export * from './snapshots.js';
export * from './client.js';
