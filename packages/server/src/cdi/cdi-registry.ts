import type { Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AppError } from '../errors.js';

export interface CdiDeviceInfo {
  /** Fully-qualified CDI name, `vendor/class=name`. */
  name: string;
  /** The spec file that declares it (the one the engine would use). */
  specFile: string;
}

// The rules of CDI's own parser (container-device-interface pkg/parser), which is what the engine
// applies to spec files. They are looser than the names Berth accepts from clients (CDI_NAME_RE
// asks for a dotted vendor), on purpose: this lists what the host declares.
const VENDOR_OR_CLASS_RE = /^[A-Za-z](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
const DEVICE_NAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9_.:-]*[A-Za-z0-9])?$/;
// The CDI spec requires `cdiVersion` to be Semantic Versioning 2.0. Which versions an engine
// supports is its business; an unsupported one fails there with the engine's own error.
const SEMVER_RE = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

const Annotations = z.record(z.string(), z.string());

// Edits are only checked for shape; Berth never applies them (the engine does). Objects stay loose
// so that fields added by newer CDI versions don't make a valid spec look broken.
const ContainerEdits = z.looseObject({
  env: z.array(z.string()).optional(),
  deviceNodes: z.array(z.looseObject({ path: z.string() })).optional(),
  mounts: z.array(z.looseObject({ hostPath: z.string(), containerPath: z.string() })).optional(),
  hooks: z.array(z.looseObject({ hookName: z.string(), path: z.string() })).optional(),
});

const CdiSpecFile = z
  .looseObject({
    cdiVersion: z.string().regex(SEMVER_RE, 'must be a semantic version'),
    kind: z.string().refine(
      (kind) => {
        const [vendor, cls, ...rest] = kind.split('/');
        return rest.length === 0 && VENDOR_OR_CLASS_RE.test(vendor ?? '') && VENDOR_OR_CLASS_RE.test(cls ?? '');
      },
      { message: 'must look like vendor.com/class' },
    ),
    annotations: Annotations.optional(),
    devices: z
      .array(
        z.looseObject({
          name: z.string().regex(DEVICE_NAME_RE, 'is not a valid CDI device name'),
          annotations: Annotations.optional(),
          containerEdits: ContainerEdits.optional(),
        }),
      )
      .min(1, 'must declare at least one device'),
    containerEdits: ContainerEdits.optional(),
  })
  .superRefine((spec, ctx) => {
    // CDI rejects the whole spec when a device name repeats inside it.
    const seen = new Set<string>();
    for (const [i, device] of spec.devices.entries()) {
      if (seen.has(device.name)) {
        ctx.addIssue({ code: 'custom', path: ['devices', i, 'name'], message: `duplicate device "${device.name}"` });
      }
      seen.add(device.name);
    }
  });

interface LoadedSpec {
  path: string;
  devices: string[];
}

/**
 * Reads the host's CDI spec files to tell which device names the engine can inject, so that a bad
 * name fails before any container is made. Files are re-read on every call: spec files under
 * /var/run/cdi are generated at run time and change without notice.
 */
export class CdiRegistry {
  readonly #specDirs: readonly string[];
  /** Why files were skipped (or devices dropped) during the last `listDevices`. */
  lastWarnings: string[] = [];

  constructor(options: { specDirs: string[] }) {
    this.#specDirs = [...options.specDirs];
  }

  async listDevices(): Promise<CdiDeviceInfo[]> {
    const warnings: string[] = [];
    const winners = new Map<string, { specFile: string; priority: number }>();
    const conflicts = new Set<string>();

    // Precedence as in CDI (pkg/cdi cache and spec-dirs): a spec's priority is the index of its
    // directory, so the LATER a directory comes in the list, the higher its priority and it
    // overrides earlier ones (with the defaults, /var/run/cdi overrides /etc/cdi). Two files in the
    // same directory declaring the same device are a conflict, and CDI drops that device entirely.
    for (const [priority, dir] of this.#specDirs.entries()) {
      for (const spec of await readSpecDir(dir, warnings)) {
        for (const name of spec.devices) {
          const held = winners.get(name);
          if (held?.priority === priority) {
            conflicts.add(name);
            warnings.push(`conflicting device ${name} (specs ${held.specFile}, ${spec.path})`);
            continue;
          }
          winners.set(name, { specFile: spec.path, priority });
        }
      }
    }

    this.lastWarnings = warnings;
    return [...winners]
      .filter(([name]) => !conflicts.has(name))
      .map(([name, { specFile }]) => ({ name, specFile }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async resolve(names: string[]): Promise<{ resolved: string[]; unresolvable: string[] }> {
    const known = new Set((await this.listDevices()).map((d) => d.name));
    return {
      resolved: names.filter((n) => known.has(n)),
      unresolvable: names.filter((n) => !known.has(n)),
    };
  }

  async assertResolvable(names: string[]): Promise<void> {
    if (names.length === 0) return;
    const { unresolvable } = await this.resolve(names);
    if (unresolvable.length > 0) {
      // Worded like the CDI library's (and so Podman's) own error, which lists every requested name.
      throw new AppError('cdi_unresolvable', { devices: names.join(', ') }, {
        details: { devices: unresolvable },
      });
    }
  }
}

async function readSpecDir(dir: string, warnings: string[]): Promise<LoadedSpec[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return []; // a missing spec dir is normal: nothing installed
    warnings.push(`${dir}: cannot read CDI spec directory (${errorMessage(err)})`);
    return [];
  }

  const specs: LoadedSpec[] = [];
  // Lexical order, like CDI's directory walk, so that conflict reports are stable.
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (entry.isDirectory()) continue; // CDI does not descend into subdirectories
    const path = join(dir, entry.name);
    const ext = extname(entry.name);
    if (ext === '.yml') {
      // CDI only loads `.json` and `.yaml`; listing a `.yml` spec would promise devices the engine
      // cannot inject.
      warnings.push(`${path}: ignored, CDI only reads .json and .yaml spec files`);
      continue;
    }
    if (ext !== '.json' && ext !== '.yaml') continue;
    const spec = await readSpecFile(path, warnings);
    if (spec) specs.push(spec);
  }
  return specs;
}

async function readSpecFile(path: string, warnings: string[]): Promise<LoadedSpec | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    warnings.push(`${path}: cannot read CDI spec (${errorMessage(err)})`);
    return undefined;
  }

  let raw: unknown;
  try {
    // YAML 1.2 is a superset of JSON, so this also reads the .json specs.
    raw = parseYaml(text);
  } catch (err) {
    warnings.push(`${path}: not valid YAML or JSON (${errorMessage(err).split('\n')[0] ?? ''})`);
    return undefined;
  }

  const parsed = CdiSpecFile.safeParse(raw);
  if (!parsed.success) {
    const reasons = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
    warnings.push(`${path}: invalid CDI spec (${reasons.join('; ')})`);
    return undefined;
  }

  const { kind, devices } = parsed.data;
  return { path, devices: devices.map((d) => `${kind}=${d.name}`) };
}

function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
