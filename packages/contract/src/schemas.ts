import { z } from 'zod';
import { ERROR_CODES } from './errors.js';

/**
 * CDI device name: `vendor.tld/class=name` (CDI "fully-qualified device name"), following the CDI
 * parser's rules so that nothing passes here that the engine would refuse:
 * - vendor: a DNS-style domain with at least one dot (Berth asks for `vendor.tld`); labels of
 *   letters, digits and inner `-`; it must start with a letter (CDI's parser requires that);
 * - class: starts with a letter, ends with a letter or digit, `_` `-` `.` in between;
 * - device: starts and ends with a letter or digit, `_` `-` `.` `:` in between.
 */
export const CDI_NAME_RE =
  /^[a-zA-Z](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)+\/[a-zA-Z](?:[a-zA-Z0-9_.-]*[a-zA-Z0-9])?=[a-zA-Z0-9](?:[a-zA-Z0-9_.:-]*[a-zA-Z0-9])?$/;

/**
 * Turns the accepted input forms (an array, or one string separated by newlines or commas) into a
 * trimmed, de-duplicated list in the order given.
 */
export function parseCdiDeviceList(input: string | readonly string[]): string[] {
  const parts = typeof input === 'string' ? input.split(/[\n,]/) : input.flatMap((s) => s.split(/[\n,]/));
  const seen = new Set<string>();
  for (const raw of parts) {
    const name = raw.trim();
    if (name) seen.add(name);
  }
  return [...seen];
}

export const CdiDevicesInput = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => parseCdiDeviceList(v))
  .pipe(
    z.array(z.string().regex(CDI_NAME_RE, 'CDI device names look like vendor.com/class=name')).max(64),
  );

export const BotName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'names are 1-63 characters of a-z, 0-9 and -, starting with a letter or digit');

export const Resources = z
  .object({
    cpus: z.number().positive().max(1024).nullable(),
    memoryMb: z.number().int().min(6).max(4_194_304).nullable(),
    pidsLimit: z.number().int().min(16).max(1_000_000),
  })
  .meta({ id: 'Resources' });
export type Resources = z.infer<typeof Resources>;

export const ResourcesInput = z
  .object({
    // The kernel's smallest CPU quota is 1 ms per 100 ms period: 0.01 CPUs.
    cpus: z.number().min(0.01, 'cpus is at least 0.01').max(1024).nullable().optional(),
    memoryMb: z.number().int().min(6).max(4_194_304).nullable().optional(),
    pidsLimit: z.number().int().min(16).max(1_000_000).optional(),
  })
  .strict();

export const Network = z.enum(['bridge', 'none']);
export type Network = z.infer<typeof Network>;

const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _');
export const Env = z.record(EnvName, z.string().max(65_536));

/** MiB the data dir and the container's writable layer may take together; null: no limit. Up to 16 TiB. */
export const DiskLimitMb = z.number().int().min(1).max(16 * 1024 * 1024).nullable();

export const CreateBotBody = z
  .object({
    name: BotName,
    image: z.string().min(1).max(512).optional(),
    cdiDevices: CdiDevicesInput.optional(),
    resources: ResourcesInput.optional(),
    network: Network.optional(),
    env: Env.optional(),
    diskLimitMb: DiskLimitMb.optional(),
  })
  .strict()
  .meta({ id: 'CreateBotBody' });
export type CreateBotBody = z.input<typeof CreateBotBody>;

export const PatchBotBody = CreateBotBody.partial().strict().meta({ id: 'PatchBotBody' });
export type PatchBotBody = z.input<typeof PatchBotBody>;

export const Bot = z.object({
  id: z.string(),
  name: z.string(),
  image: z.string(),
  cdiDevices: z.array(z.string()),
  resources: Resources,
  network: Network,
  env: z.record(z.string(), z.string()),
  diskLimitMb: DiskLimitMb,
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Observed container status, or null when the bot has no container. */
  status: z.enum(['creating', 'running', 'stopped', 'exited', 'error']).nullable(),
  version: z.number().int(),
}).meta({ id: 'Bot' });
export type Bot = z.infer<typeof Bot>;

export const BotList = z.object({ bots: z.array(Bot) }).meta({ id: 'BotList' });

export const ContainerStatus = z.enum(['creating', 'running', 'stopped', 'exited', 'error']);
export type ContainerStatus = z.infer<typeof ContainerStatus>;

export const DeviceMapping = z.object({ hostPath: z.string(), containerPath: z.string() });

/**
 * The bot's disk limit as enforced now, and its usage as last measured (MiB). `hard`: the file system
 * refuses writes past it; `soft`: usage is measured and Berth acts on it (refuses writes through the
 * API, stops the bot past a margin); `none`: the bot has no limit.
 */
export const DiskLimitInfo = z.object({
  mb: z.number().int().nullable(),
  enforcement: z.enum(['hard', 'soft', 'none']),
  usedMb: z.number().nullable(),
  dataMb: z.number().nullable(),
  layerMb: z.number().nullable(),
  exceeded: z.boolean(),
  measuredAt: z.string().nullable(),
}).meta({ id: 'DiskLimitInfo' });
export type DiskLimitInfo = z.infer<typeof DiskLimitInfo>;

export const Container = z.object({
  id: z.string(),
  name: z.string(),
  botId: z.string(),
  status: ContainerStatus,
  image: z.string(),
  imageId: z.string(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  exitCode: z.number().int().nullable(),
  paths: z.object({ host: z.string(), container: z.string() }),
  tasks: z.number().int(),
  processes: z.number().int(),
  cdiDevices: z.array(z.string()),
  devices: z.array(DeviceMapping),
  version: z.number().int(),
  pendingRecreate: z.boolean(),
  resources: Resources,
  network: Network,
  runtime: z.string(),
  diskLimit: DiskLimitInfo,
}).meta({ id: 'Container' });
export type Container = z.infer<typeof Container>;

export const CreateContainerBody = z.object({ recreate: z.boolean().optional() }).strict().meta({ id: 'CreateContainerBody' });
export const StopContainerBody = z.object({ timeoutSeconds: z.number().int().min(0).max(3600).optional() }).strict().meta({ id: 'StopContainerBody' });

/** `delete` removes the container; `delete-bot` removes the whole bot (container, snapshots, data dir, records). */
export const OperationKind = z.enum(['create', 'recreate', 'start', 'stop', 'delete', 'snapshot', 'restore', 'import', 'reset', 'delete-bot']);
export type OperationKind = z.infer<typeof OperationKind>;

export const ApiErrorPayload = z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }).meta({ id: 'OperationError' });

export const Operation = z.object({
  id: z.string(),
  botId: z.string(),
  kind: OperationKind,
  status: z.enum(['running', 'succeeded', 'failed']),
  phase: z.string().nullable(),
  error: ApiErrorPayload.nullable(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
}).meta({ id: 'Operation' });
export type Operation = z.infer<typeof Operation>;

export const OperationAccepted = z.object({ operation: Operation }).meta({ id: 'OperationAccepted' });

export const CdiDevice = z.object({ name: z.string(), specFile: z.string() }).meta({ id: 'CdiDevice' });
export const CdiDeviceList = z.object({ devices: z.array(CdiDevice) }).meta({ id: 'CdiDeviceList' });

export const Capabilities = z.object({
  cdi: z.boolean(),
  pullProgress: z.boolean(),
  resources: z.boolean(),
  networkNone: z.boolean(),
}).meta({ id: 'Capabilities' });
export type Capabilities = z.infer<typeof Capabilities>;

export const Info = z.object({
  name: z.literal('berth'),
  version: z.string(),
  runtime: z.object({ name: z.string(), version: z.string(), capabilities: Capabilities }),
  unmanagedContainers: z.array(z.object({ id: z.string(), name: z.string(), botId: z.string().nullable() })),
}).meta({ id: 'Info' });
export type Info = z.infer<typeof Info>;

/** The body of every error answer (SPEC §7). */
export const ErrorEnvelope = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES).describe('stable: always answered with the same HTTP status (SPEC §7)'),
      message: z.string(),
      details: z.unknown().optional(),
      requestId: z.string().describe('also in the X-Request-Id header, and in the server log'),
    }),
  })
  .meta({ id: 'Error' });
