import type { Server } from 'node:http';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { loadAdminToken } from './admin-token.js';
import { forgetSecretEnv } from './config/child-env.js';
import { loadConfig } from './config/config.js';
import { prepareHome } from './home.js';
import { createLogger } from './logger.js';
import type { RuntimeDriver } from './runtime/driver.js';
import { cdiDirsPodmanIgnores, PODMAN_CDI_SPEC_DIRS } from './runtime/podman/podman-cdi.js';
import { PodmanDriver } from './runtime/podman/podman-driver.js';
import { PodmanIsolation } from './runtime/podman/podman-isolation.js';
import { ensurePodmanService } from './runtime/podman/podman-service.js';
import { composeBerth } from './services.js';
import { openStore } from './store/store.js';

const DEFAULT_PODMAN_SOCKET = '/run/podman/podman.sock';

async function main(): Promise<void> {
  const config = loadConfig();
  // The config holds the admin token now; no process started from here on may inherit it.
  forgetSecretEnv();
  const logger = createLogger({ level: config.logLevel });
  prepareHome(config.home);
  const admin = loadAdminToken({ home: config.home, configured: config.adminToken });
  const store = await openStore({ home: config.home, databaseUrl: config.databaseUrl });

  if (config.runtime !== 'podman') {
    throw new Error(`BERTH_RUNTIME=${config.runtime} is not available in this build; use podman`);
  }
  // Devices Berth lists must be ones the engine can inject, and Podman reads only its own dirs.
  const ignored = cdiDirsPodmanIgnores(config.cdiSpecDirs);
  if (ignored.length > 0) {
    throw new Error(
      `BERTH_CDI_SPEC_DIRS names ${ignored.join(', ')}, where Podman never reads CDI specs (it reads only ${PODMAN_CDI_SPEC_DIRS.join(' and ')}): ` +
        'devices declared there would be listed but could not be attached. Move those specs into one of Podman’s dirs, or leave BERTH_CDI_SPEC_DIRS unset.',
    );
  }
  const timeoutMs = config.engineTimeoutSeconds * 1000;
  // Use the engine's socket when one answers; otherwise run our own Podman service under BERTH_HOME.
  let socketPath = config.runtimeSocket ?? DEFAULT_PODMAN_SOCKET;
  if (!config.runtimeSocket && !(await answers(socketPath))) socketPath = path.join(config.home, 'podman.sock');
  // Ours is restarted when it dies; one we did not start is only used.
  const service = await ensurePodmanService({ socketPath, logger, supervise: true });
  // Bots are kept from each other and from the host by firewall rules on their own networks: without
  // them Berth does not start (never pretend), rather than run bots that can reach each other.
  const isolation = new PodmanIsolation();
  await isolation.ensure().catch(async (err: unknown) => {
    await service.stop().catch(() => undefined);
    throw err;
  });
  // A firewall reload (or netavark after a reboot) can take them away or get ahead of them meanwhile.
  const stopIsolationWatch = isolation.watch(logger);
  const driver: RuntimeDriver = new PodmanDriver({ socketPath, timeoutMs, isolation });

  // A service we started must not outlive a start-up that fails after it.
  const berth = await composeBerth({ config, logger, store, driver, adminToken: admin.token }).catch(async (err: unknown) => {
    await service.stop().catch(() => undefined);
    throw err;
  });
  const server = serve({ fetch: berth.app.fetch, hostname: config.host, port: config.port }, (info) => {
    logger.info({ url: `http://${config.host}:${info.port}`, runtime: driver.name, socketPath }, 'Berth is listening');
    if (admin.generated) process.stdout.write(generatedTokenNotice(path.join(config.home, 'admin-token'), admin.token, process.stdout.isTTY === true));
  });
  // WebSocket upgrades (the terminal) go through the app like any request.
  berth.webSockets.inject(server as Server);

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    berth.operations.abortAll();
    berth.sessions.stop();
    stopIsolationWatch();
    server.close();
    void (async () => {
      await berth.pauses.stop().catch(() => undefined);
      await berth.diskLimits.stop().catch(() => undefined);
      await berth.changes.flush();
      await store.close().catch(() => undefined);
      await driver.close().catch(() => undefined);
      await service.stop().catch(() => undefined);
      process.exit(0);
    })();
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

/**
 * What a start that generated the admin token prints. The token itself only on a terminal: stdout
 * that is a file or a pipe usually ends in a log, where a secret must not.
 */
function generatedTokenNotice(file: string, token: string, tty: boolean): string {
  if (tty) return `\nAdmin token (saved in ${file}, mode 0600):\n  ${token}\n\n`;
  return `\nAn admin token was generated and saved in ${file} (mode 0600); read it from there to log in.\n\n`;
}

async function answers(socketPath: string): Promise<boolean> {
  const probe = new PodmanDriver({ socketPath });
  try {
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    await probe.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`berth: ${err instanceof Error ? err.message : String(err)}\n`);
  if (err instanceof Error && err.cause) process.stderr.write(`  cause: ${String(err.cause)}\n`);
  process.exit(1);
});
