import { PodmanDriver } from '../runtime/podman/podman-driver.js';
import { ensurePodmanService } from '../runtime/podman/podman-service.js';

export const PODMAN_SOCKET = process.env.BERTH_RUNTIME_SOCKET ?? '/run/podman/podman.sock';
export const TEST_IMAGE = 'localhost/berth/test:busybox';

/**
 * A driver on the real Podman engine for integration tests: the system socket, started when nothing
 * answers there (CI has no Podman service running), and stopped again by `close` if we started it.
 */
export async function realPodman(): Promise<{ driver: PodmanDriver; socketPath: string; close(): Promise<void> }> {
  const service = await ensurePodmanService({ socketPath: PODMAN_SOCKET });
  const driver = new PodmanDriver({ socketPath: PODMAN_SOCKET });
  return {
    driver,
    socketPath: PODMAN_SOCKET,
    close: async () => {
      await driver.close();
      await service.stop();
    },
  };
}
