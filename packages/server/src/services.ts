import { BotPaths } from './core/bot-paths.js';
import { BotService, cleanUpAtStart, ContainerService, DiskLimits, operationRecovery, PauseWatchdog, reconcile } from './lifecycle/index.js';
import { BotWorkLimiter, DEFAULT_TERMINAL_LIMITS } from './core/bot-work-limiter.js';
import { ChangeFeed } from './core/change-feed.js';
import { DataService } from './data/index.js';
import { HardLinkedDataSnapshots, reconcileSnapshots, snapshotsDir, SnapshotService } from './snapshots/index.js';
import { ExecService, TaskService } from './exec/index.js';
import { FilesService } from './files/index.js';
import { Operations } from './core/operations.js';
import { TerminalService } from './terminal/index.js';
import { SessionService, TokenService } from './tokens/index.js';
import { LiveConnections } from './core/live-connections.js';
import { CdiRegistry } from './cdi/cdi-registry.js';
import type { Config } from './config/config.js';
import { Failpoints } from './failpoints.js';
import { createApp } from './http/app.js';
import { AdminOrBotTokenAuthenticator, AdminTokenAuthenticator } from './http/auth.js';
import { createWebSocketSupport } from './http/websocket.js';
import type { Logger } from './logger.js';
import type { ContainerState, RuntimeDriver } from './runtime/driver.js';
import { podmanRegistryHosts } from './runtime/podman/podman-registries.js';
import { ChangeLogStore } from './store/change-log-store.js';
import { ensureInstanceId } from './store/instance-id.js';
import { SnapshotStore } from './store/snapshot-store.js';
import type { Store } from './store/store.js';
import { BERTH_VERSION } from './version.js';

/**
 * Wires the use cases over a store and a driver, reconciles with the engine, and builds the app.
 * Shared by `main.ts` and the tests, so both run the same composition.
 */
export async function composeBerth(options: { config: Readonly<Config>; logger: Logger; store: Store; driver: RuntimeDriver; adminToken: string; allowedRegistries?: readonly string[] }) {
  const { config, logger, store, driver } = options;
  const failpoints = Failpoints.parse(config.failpoints, { dir: config.home });
  if (failpoints.active) logger.warn({ failpoints: config.failpoints }, 'fault-injection points are set (BERTH_FAILPOINTS): for tests only');
  const { id: instanceId, created: newInstance } = await ensureInstanceId(store);
  // Numbered by the database, so `/events` clients resume across disconnects and restarts.
  const changes = new ChangeFeed({ log: new ChangeLogStore(store.db), logger });
  const operations = new Operations({ store, logger, changes });
  const cdi = new CdiRegistry({ specDirs: config.cdiSpecDirs });
  const paths = new BotPaths(config.home);
  // One bot's flood of exec/files/task calls queues behind itself, not in front of other bots.
  const limiter = new BotWorkLimiter();
  const exec = new ExecService({ store, driver, logger, containerDataPath: config.containerDataPath, outputLimit: config.execOutputLimit, limiter });
  const tasks = new TaskService({ store, driver, exec, logger });
  // Measures each bot's disk usage and acts on its limit; it reaches the containers through closures (they are made below).
  const diskLimits: DiskLimits = new DiskLimits({ store, driver, paths, logger, changes, sampleSeconds: config.diskSampleSeconds, containerOf: (bot): Promise<ContainerState | null> => containers.engineContainer(bot), stopBot: (botId): Promise<unknown> => containers.stop(botId) });
  const files = new FilesService({ store, driver, paths, logger, containerDataPath: config.containerDataPath, readLimit: config.filesReadLimit, limiter, diskLimits });
  const terminal = new TerminalService({ store, driver, containerDataPath: config.containerDataPath, idleSeconds: config.terminalIdleSeconds, limiter: new BotWorkLimiter(DEFAULT_TERMINAL_LIMITS, 'terminals') });
  const webSockets = createWebSocketSupport();
  const containers = new ContainerService({ store, driver, operations, cdi, paths, changes, logger, failpoints, containerDataPath: config.containerDataPath, countTasks: (bot, c) => tasks.countRunning(bot, c), instanceId, diskLimit: (bot, c) => diskLimits.describe(bot, c), admitStart: (bot) => diskLimits.assertMayStart(bot) });
  // Terminals and streams by the credential that opened them: revoking it ends them.
  const connections = new LiveConnections();
  const tokens = new TokenService({ store, logger, connections, changes });
  const sessions = new SessionService({ store, logger, adminToken: options.adminToken, instanceId, connections });
  // Ends pauses an engine failure left behind (a snapshot's or an import's); stopped by the caller.
  const pauses = new PauseWatchdog({ driver, store, logger });
  const data = new DataService({ store, operations, paths, logger, driver, containers, failpoints, pauses, maxImportBytes: config.maxImportBytes, importLimits: { maxEntries: config.maxImportEntries }, diskLimits });
  const snapshotStore = new SnapshotStore(store.db);
  const dataSnapshots = new HardLinkedDataSnapshots({ rootOf: (botId) => snapshotsDir(paths, botId), warn: (msg, details) => logger.warn(details, msg) });
  const snapshots = new SnapshotService({ store, snapshots: snapshotStore, driver, operations, containers, data: dataSnapshots, paths, changes, logger, failpoints, pauses });
  const bots = new BotService({ store, driver, containers, paths, changes, logger, defaultImage: config.defaultImage, defaultPidsLimit: config.defaultPidsLimit, defaultDiskLimitMb: config.defaultDiskLimitMb, snapshots, operations, failpoints,
    // Registries on local addresses an image may name: those the engine is configured with.
    allowedRegistries: options.allowedRegistries ?? (driver.name === 'podman' ? podmanRegistryHosts() : []) });

  // Operations a crash cut off are finished or undone from their journals, and marked accordingly.
  await operations.recoverInterrupted(operationRecovery({ containers, snapshots, data }));
  // Deletes a crash cut off are finished, and what no bot owns is removed, before the reconciliation.
  await cleanUpAtStart({ store, driver, deletion: bots.deletion, home: config.home, instanceId, keepOrphanDirs: newInstance, logger });
  const { unmanaged } = await reconcile({ store, driver, logger });
  // Whatever else an import or reset left (journals of operations no longer recorded, staging dirs).
  await data.recoverInterrupted();
  await reconcileSnapshots({ store, snapshots: snapshotStore, driver, data: dataSnapshots, logger });
  await tasks.reconcileAll();
  // The operations a crash cut off are failed by now: a pause one of them left is nobody's.
  await pauses.sweep();
  pauses.start();
  // Sessions opened with another admin token, or expired while Berth was down, end here; stopped by the caller.
  await sessions.start();
  diskLimits.start();

  const app = createApp({
    version: BERTH_VERSION,
    logger,
    auth: new AdminOrBotTokenAuthenticator(new AdminTokenAuthenticator(options.adminToken), tokens),
    sessions,
    connections,
    driver,
    bots,
    containers,
    operations,
    changes,
    cdi,
    unmanaged: () => unmanaged,
    tokens,
    data,
    snapshots,
    exec,
    tasks,
    files,
    terminal,
    webSockets,
    mcp: {
      resolveBot: (ref) => store.mustGetBot(ref),
      createMcpServer: async (botId) => {
        // The MCP SDK is loaded on the first MCP request, not at start-up (idle memory).
        const { createBotMcpServer } = await import('./mcp/bot-mcp-server.js');
        return createBotMcpServer(botId, { version: BERTH_VERSION, logger, exec, tasks, files, containers, progressIntervalMs: config.mcpProgressSeconds * 1000 });
      },
    },
    webDist: config.webDist,
    maxImportBytes: config.maxImportBytes,
  });
  return { app, limiter, pauses, sessions, connections, diskLimits, failpoints, instanceId, bots, containers, operations, changes, cdi, paths, tokens, data, snapshots, exec, tasks, files, terminal, webSockets };
}
