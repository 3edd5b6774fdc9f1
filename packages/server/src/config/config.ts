import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { Failpoints } from '../failpoints.js';

/** Everything Berth reads from the environment, parsed once, validated and frozen (SPEC §2). */
export interface Config {
  home: string;
  host: string;
  port: number;
  runtime: 'podman' | 'docker' | 'kubernetes';
  runtimeSocket: string | null;
  defaultImage: string;
  adminToken: string | null;
  databaseUrl: string | null;
  cdiSpecDirs: string[];
  maxImportBytes: number;
  /** Most entries an imported archive may have (SPEC §5); set in code, not by the environment. */
  maxImportEntries: number;
  containerDataPath: string;
  defaultPidsLimit: number;
  logLevel: string;
  /** The built web UI served at `/` (packages/web/dist). */
  webDist: string;
  /** Bytes of each output stream a buffered exec answers with; the rest is counted, not kept. */
  execOutputLimit: number;
  /** Most bytes one files read answers with; more needs a range. */
  filesReadLimit: number;
  /** A terminal with no input or output this long is closed. */
  terminalIdleSeconds: number;
  /** The deadline of one engine call; streams: the longest silence between two pieces of progress. */
  engineTimeoutSeconds: number;
  /** The disk limit (MiB) a bot gets when its create names none; null: no limit (BERTH_DEFAULT_DISK_LIMIT_MB=0). */
  defaultDiskLimitMb: number | null;
  /** How often the disk monitor measures the running bots' usage; set in code (tests narrow it), not by the environment. */
  diskSampleSeconds: number;
  /** How often a long MCP tool call sends progress (so clients keep waiting); set in code (tests narrow it). */
  mcpProgressSeconds: number;
  /** Fault-injection points (`BERTH_FAILPOINTS`, see failpoints.ts); empty in normal use. */
  failpoints: string;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

// Both src/config and dist/config sit two levels below packages/server, so this holds for either.
const DEFAULT_WEB_DIST = fileURLToPath(new URL('../../../web/dist', import.meta.url));

const EnvSchema = z.object({
  BERTH_HOME: z.string().min(1).default('./.berth'),
  BERTH_HOST: z.string().min(1).default('127.0.0.1'),
  BERTH_PORT: z.coerce.number().int().min(0).max(65535).default(7070),
  BERTH_RUNTIME: z.enum(['podman', 'docker', 'kubernetes']).default('podman'),
  BERTH_RUNTIME_SOCKET: z.string().min(1).optional(),
  BERTH_DEFAULT_IMAGE: z.string().min(1).default('localhost/berth/workspace:bookworm'),
  BERTH_ADMIN_TOKEN: z.string().min(16, 'BERTH_ADMIN_TOKEN must be at least 16 characters').optional(),
  BERTH_DATABASE_URL: z.string().min(1).optional(),
  BERTH_CDI_SPEC_DIRS: z.string().default('/etc/cdi:/var/run/cdi'),
  BERTH_MAX_IMPORT_BYTES: z.coerce.number().int().positive().default(10 * GiB),
  BERTH_EXEC_OUTPUT_LIMIT: z.coerce.number().int().positive().default(MiB),
  BERTH_FILES_READ_LIMIT: z.coerce.number().int().positive().default(100 * MiB),
  // Capped at a week: Node's timers overflow past about 24.8 days and would fire at once.
  BERTH_TERMINAL_IDLE_SECONDS: z.coerce.number().int().positive().max(7 * 24 * 3600).default(1800),
  // A frozen engine must not hold a request forever, yet a loaded one may take a while to answer.
  BERTH_ENGINE_TIMEOUT_SECONDS: z.coerce.number().positive().max(3600).default(30),
  // 10 GiB, as the largest import: generous for a workspace, yet a runaway bot cannot fill the host. 0: no limit.
  BERTH_DEFAULT_DISK_LIMIT_MB: z.coerce.number().int().min(0).max(16 * 1024 * 1024).default(10 * 1024),
  BERTH_FAILPOINTS: z
    .string()
    .default('')
    .superRefine((v, ctx) => {
      try {
        Failpoints.parse(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    }),
  BERTH_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Readonly<Config> {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  const config: Config = {
    home: path.resolve(e.BERTH_HOME),
    host: e.BERTH_HOST,
    port: e.BERTH_PORT,
    runtime: e.BERTH_RUNTIME,
    runtimeSocket: e.BERTH_RUNTIME_SOCKET ?? null,
    defaultImage: e.BERTH_DEFAULT_IMAGE,
    adminToken: e.BERTH_ADMIN_TOKEN ?? null,
    databaseUrl: e.BERTH_DATABASE_URL ?? null,
    cdiSpecDirs: e.BERTH_CDI_SPEC_DIRS.split(':').filter(Boolean),
    maxImportBytes: e.BERTH_MAX_IMPORT_BYTES,
    maxImportEntries: 100_000,
    containerDataPath: '/data',
    defaultPidsLimit: 4096,
    logLevel: e.BERTH_LOG_LEVEL,
    webDist: DEFAULT_WEB_DIST,
    execOutputLimit: e.BERTH_EXEC_OUTPUT_LIMIT,
    filesReadLimit: e.BERTH_FILES_READ_LIMIT,
    terminalIdleSeconds: e.BERTH_TERMINAL_IDLE_SECONDS,
    engineTimeoutSeconds: e.BERTH_ENGINE_TIMEOUT_SECONDS,
    defaultDiskLimitMb: e.BERTH_DEFAULT_DISK_LIMIT_MB === 0 ? null : e.BERTH_DEFAULT_DISK_LIMIT_MB,
    diskSampleSeconds: 30,
    mcpProgressSeconds: 10,
    failpoints: e.BERTH_FAILPOINTS,
    ...overrides,
  };
  return Object.freeze(config);
}
