import type { OpenAPIHono } from '@hono/zod-openapi';
import { routes } from '@berth/contract';
import type { ChangeFeed } from '../../core/change-feed.js';
import type { Operations } from '../../core/operations.js';
import type { UnmanagedContainer } from '../../lifecycle/index.js';
import type { CdiRegistry } from '../../cdi/cdi-registry.js';
import type { RuntimeDriver } from '../../runtime/driver.js';
import { isAppError } from '../../errors.js';
import type { AppEnv } from '../context.js';
import { changeResumeId, lastEventId, pipeOperationEvents, sseResponse } from '../sse.js';

export interface SystemDeps {
  version: string;
  driver: RuntimeDriver;
  operations: Operations;
  changes: ChangeFeed;
  cdi: CdiRegistry;
  unmanaged: () => UnmanagedContainer[];
}

/** A health probe must answer fast, whatever the engine does. */
const HEALTH_PING_MS = 2_000;

export interface EngineHealth {
  status: 'ok' | 'degraded';
  engine: 'up' | 'down' | 'timeout';
  runtime: string;
}

/** `/healthz` (no token): whether the engine answers a ping within a short deadline (load balancers and supervisors read it). */
export async function engineHealth(driver: RuntimeDriver): Promise<EngineHealth> {
  try {
    await driver.ping({ timeoutMs: HEALTH_PING_MS });
    return { status: 'ok', engine: 'up', runtime: driver.name };
  } catch (err) {
    const engine = isAppError(err, 'runtime_timeout') ? 'timeout' : 'down';
    // No details: the probe needs no token, and the engine's error names host paths.
    return { status: 'degraded', engine, runtime: driver.name };
  }
}

export function systemRoutes(deps: SystemDeps, app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    routes.system.info,
    async (c) => {
      const [ping, capabilities] = await Promise.all([deps.driver.ping(), deps.driver.capabilities()]);
      return c.json({ name: 'berth' as const, version: deps.version, runtime: { name: deps.driver.name, version: ping.version, capabilities }, unmanagedContainers: deps.unmanaged() }, 200);
    },
  );

  app.openapi(
    routes.system.cdiDevices,
    async (c) => c.json({ devices: await deps.cdi.listDevices() }, 200),
  );

  app.openapi(
    routes.system.getOperation,
    async (c) => c.json(await deps.operations.get(c.req.valid('param').op), 200),
  );

  app.openapi(
    routes.system.operationEvents,
    async (c) => {
      const { op } = c.req.valid('param');
      const afterSeq = lastEventId(c);
      // An EventSource reconnects whenever a stream ends; only a 204 makes it stop. (An unknown id is operation_not_found here.)
      const end = await deps.operations.lastSeqIfEnded(op);
      if (end !== null && afterSeq >= end) return c.body(null, 204) as never;
      return sseResponse(c, (send, signal) => pipeOperationEvents(deps.operations.events(op, { afterSeq, signal }), send)) as never;
    },
  );

  app.openapi(
    routes.system.events,
    (c) => {
      // Ids come from the change log: a reconnect with Last-Event-ID gets what it missed (ChangeFeed.follow).
      const after = changeResumeId(c);
      return sseResponse(c, async (send, signal) => {
        for await (const frame of deps.changes.follow({ after, signal })) await send(frame.event, frame.data, frame.id);
      }) as never;
    },
  );
}
