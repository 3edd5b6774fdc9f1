import http from 'node:http';

/** libpod endpoints are versioned; Berth's driver uses the same prefix. */
export const LIBPOD = '/v4.0.0/libpod';

/** A non-2xx answer from the engine. */
export class EngineError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export interface EngineContainerSummary {
  Id: string;
  Names?: string[];
  Labels?: Record<string, string> | null;
  State?: string;
}

/** The libpod container-create body fields the harness sends (SpecGenerator). */
export interface LibpodCreateSpec {
  name: string;
  image: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  init: boolean;
  work_dir: string;
  mounts: { type: 'bind'; source: string; destination: string; options: string[] }[];
  no_new_privileges: boolean;
  privileged: boolean;
  resource_limits: { pids: { limit: number } };
  netns: { nsmode: 'bridge' | 'none' };
  devices: { path: string }[];
  command?: string[];
}

/**
 * A minimal client for Podman's REST API over its unix socket, with pooled keep-alive connections
 * (as Berth's own driver uses), so raw timings carry no connection set-up that Berth's do not.
 */
export class EngineClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  constructor(readonly socketPath: string) {}

  /** Sends one request and reads the whole (small) answer. */
  request(method: string, path: string, body?: unknown, options: { timeoutMs?: number } = {}): Promise<{ status: number; text: string }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { Host: 'podman' };
      if (payload) {
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = payload.length;
      }
      const req = http.request({ socketPath: this.socketPath, path, method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      const timeoutMs = options.timeoutMs ?? 120_000;
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer from ${this.socketPath} within ${timeoutMs} ms`)));
      req.end(payload);
    });
  }

  /** A request that must succeed (2xx, or a status in `allow`); answers the parsed JSON body. */
  async call<T = unknown>(method: string, path: string, body?: unknown, allow: number[] = []): Promise<{ status: number; body: T | undefined }> {
    const { status, text } = await this.request(method, path, body);
    if ((status < 200 || status >= 300) && !allow.includes(status)) {
      throw new EngineError(status, `${method} ${path} → ${status}: ${engineMessage(text)}`);
    }
    return { status, body: parseJson(text) as T | undefined };
  }

  async ping(timeoutMs = 2_000): Promise<boolean> {
    try {
      const { status } = await this.request('GET', `${LIBPOD}/_ping`, undefined, { timeoutMs });
      return status === 200;
    } catch {
      return false;
    }
  }

  /** Podman's version, the Docker API version it serves, and its OCI runtime. */
  async version(): Promise<{ version: string; apiVersion: string; runtime: string | null }> {
    const { body } = await this.call<{ Version?: string; ApiVersion?: string; Components?: { Name: string; Version: string }[] }>('GET', `${LIBPOD}/version`);
    const runtime = body?.Components?.find((c) => c.Name.startsWith('OCI Runtime'));
    return { version: body?.Version ?? 'unknown', apiVersion: body?.ApiVersion ?? 'unknown', runtime: runtime ? (runtime.Version.split('\n')[0] ?? null) : null };
  }

  async imageConfig(ref: string): Promise<{ cmd: string[]; entrypoint: string[] } | null> {
    const { status, body } = await this.call<{ Config?: { Cmd?: string[] | null; Entrypoint?: string[] | null } }>(
      'GET',
      `${LIBPOD}/images/${encodeURIComponent(ref)}/json`,
      undefined,
      [404],
    );
    if (status === 404) return null;
    return { cmd: body?.Config?.Cmd ?? [], entrypoint: body?.Config?.Entrypoint ?? [] };
  }

  async createContainer(spec: LibpodCreateSpec): Promise<string> {
    const { body } = await this.call<{ Id: string }>('POST', `${LIBPOD}/containers/create`, spec);
    if (!body?.Id) throw new Error(`container create for ${spec.name} answered no Id`);
    return body.Id;
  }

  async startContainer(id: string): Promise<void> {
    await this.call('POST', `${LIBPOD}/containers/${encodeURIComponent(id)}/start`, undefined, [304]);
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.call('POST', `${LIBPOD}/containers/${encodeURIComponent(id)}/stop?timeout=${timeoutSeconds}`, undefined, [304]);
  }

  /** Force-removes a container; one already gone is fine. */
  async removeContainer(idOrName: string): Promise<void> {
    await this.call('DELETE', `${LIBPOD}/containers/${encodeURIComponent(idOrName)}?force=true`, undefined, [404]);
  }

  /** The container's engine state (`running`, `exited`, ...), or null when it does not exist. */
  async containerState(idOrName: string): Promise<string | null> {
    const { status, body } = await this.call<{ State?: { Status?: string } }>('GET', `${LIBPOD}/containers/${encodeURIComponent(idOrName)}/json`, undefined, [404]);
    return status === 404 ? null : (body?.State?.Status ?? 'unknown');
  }

  /** Every container (running or not) carrying all of `labels` (`key=value` or `key`). */
  async listContainers(labels: string[]): Promise<EngineContainerSummary[]> {
    const filters = encodeURIComponent(JSON.stringify({ label: labels }));
    const { body } = await this.call<EngineContainerSummary[]>('GET', `${LIBPOD}/containers/json?all=true&filters=${filters}`);
    return body ?? [];
  }

  close(): void {
    this.agent.destroy();
  }
}

function parseJson(text: string): unknown {
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function engineMessage(text: string): string {
  const parsed = parseJson(text) as { message?: unknown } | undefined;
  return typeof parsed?.message === 'string' ? parsed.message : text.trim().slice(0, 500);
}
