/**
 * Every route the SDK calls, once, by capability: method and path template (relative to /api/v1).
 * No path is written anywhere else in the SDK.
 */
export const routes = {
  bots: {
    create: { method: 'POST', path: '/bots' },
    list: { method: 'GET', path: '/bots' },
    get: { method: 'GET', path: '/bots/{bot}' },
    update: { method: 'PATCH', path: '/bots/{bot}' },
    delete: { method: 'DELETE', path: '/bots/{bot}' },
  },
  lifecycle: {
    create: { method: 'POST', path: '/bots/{bot}/container' },
    get: { method: 'GET', path: '/bots/{bot}/container' },
    start: { method: 'POST', path: '/bots/{bot}/container/start' },
    stop: { method: 'POST', path: '/bots/{bot}/container/stop' },
    delete: { method: 'DELETE', path: '/bots/{bot}/container' },
    versions: { method: 'GET', path: '/bots/{bot}/versions' },
    operations: { method: 'GET', path: '/bots/{bot}/operations' },
  },
  snapshots: {
    create: { method: 'POST', path: '/bots/{bot}/snapshots' },
    list: { method: 'GET', path: '/bots/{bot}/snapshots' },
    get: { method: 'GET', path: '/bots/{bot}/snapshots/{snap}' },
    restore: { method: 'POST', path: '/bots/{bot}/snapshots/{snap}/restore' },
    delete: { method: 'DELETE', path: '/bots/{bot}/snapshots/{snap}' },
  },
  data: {
    export: { method: 'GET', path: '/bots/{bot}/data/export' },
    import: { method: 'POST', path: '/bots/{bot}/data/import' },
    reset: { method: 'POST', path: '/bots/{bot}/data/reset' },
  },
  exec: {
    run: { method: 'POST', path: '/bots/{bot}/exec' },
    listTasks: { method: 'GET', path: '/bots/{bot}/tasks' },
    getTask: { method: 'GET', path: '/bots/{bot}/tasks/{task}' },
    killTask: { method: 'DELETE', path: '/bots/{bot}/tasks/{task}' },
  },
  files: {
    read: { method: 'GET', path: '/bots/{bot}/files' },
    write: { method: 'PUT', path: '/bots/{bot}/files' },
    delete: { method: 'DELETE', path: '/bots/{bot}/files' },
    edit: { method: 'POST', path: '/bots/{bot}/files/edit' },
    move: { method: 'POST', path: '/bots/{bot}/files/move' },
  },
  terminal: {
    open: { method: 'GET', path: '/bots/{bot}/terminal' },
  },
  tokens: {
    create: { method: 'POST', path: '/bots/{bot}/tokens' },
    list: { method: 'GET', path: '/bots/{bot}/tokens' },
    revoke: { method: 'DELETE', path: '/bots/{bot}/tokens/{token}' },
  },
  mcp: {
    endpoint: { method: 'POST', path: '/bots/{bot}/mcp' },
  },
  operations: {
    get: { method: 'GET', path: '/operations/{op}' },
    events: { method: 'GET', path: '/operations/{op}/events' },
  },
  system: {
    info: { method: 'GET', path: '/info' },
    cdiDevices: { method: 'GET', path: '/cdi/devices' },
    events: { method: 'GET', path: '/events' },
  },
  session: {
    create: { method: 'POST', path: '/session' },
    delete: { method: 'DELETE', path: '/session' },
  },
} as const;
