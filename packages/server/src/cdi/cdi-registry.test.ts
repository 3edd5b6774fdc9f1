import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { CdiRegistry } from './cdi-registry.js';

const gpuYaml = `
cdiVersion: "0.5.0"
kind: nvidia.com/gpu
annotations:
  berth.test: "yes"
containerEdits:
  env: ["NVIDIA_VISIBLE_DEVICES=void"]
devices:
  - name: "0"
    containerEdits:
      deviceNodes:
        - path: /dev/nvidia0
  - name: "1"
    annotations: { slot: "b" }
    containerEdits:
      deviceNodes:
        - path: /dev/nvidia1
  - name: all
    containerEdits:
      deviceNodes:
        - path: /dev/nvidia0
        - path: /dev/nvidia1
`;

function nullSpec(kind: string, names: string[]): string {
  return JSON.stringify({
    cdiVersion: '0.6.0',
    kind,
    devices: names.map((name) => ({
      name,
      containerEdits: { env: [`BERTH_CDI=${name}`], deviceNodes: [{ path: '/dev/null' }] },
    })),
  });
}

describe('CdiRegistry', () => {
  let root: string;
  let etc: string;
  let run: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-cdi-test-'));
    etc = join(root, 'etc-cdi');
    run = join(root, 'run-cdi');
    await mkdir(etc);
    await mkdir(run);
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('lists the devices of YAML and JSON specs, fully qualified and sorted', async () => {
    await writeFile(join(etc, 'nvidia.yaml'), gpuYaml);
    await writeFile(join(run, 'berth.json'), nullSpec('berth.test/null', ['b', 'a']));
    const registry = new CdiRegistry({ specDirs: [etc, run] });

    expect(await registry.listDevices()).toEqual([
      { name: 'berth.test/null=a', specFile: join(run, 'berth.json') },
      { name: 'berth.test/null=b', specFile: join(run, 'berth.json') },
      { name: 'nvidia.com/gpu=0', specFile: join(etc, 'nvidia.yaml') },
      { name: 'nvidia.com/gpu=1', specFile: join(etc, 'nvidia.yaml') },
      { name: 'nvidia.com/gpu=all', specFile: join(etc, 'nvidia.yaml') },
    ]);
    expect(registry.lastWarnings).toEqual([]);
  });

  it('lets a later spec dir override an earlier one, as CDI does', async () => {
    await writeFile(join(etc, 'static.yaml'), nullSpec('berth.test/null', ['a', 'b']));
    await writeFile(join(run, 'dynamic.json'), nullSpec('berth.test/null', ['b', 'c']));

    const devices = await new CdiRegistry({ specDirs: [etc, run] }).listDevices();
    expect(devices).toEqual([
      { name: 'berth.test/null=a', specFile: join(etc, 'static.yaml') },
      { name: 'berth.test/null=b', specFile: join(run, 'dynamic.json') },
      { name: 'berth.test/null=c', specFile: join(run, 'dynamic.json') },
    ]);

    const reversed = await new CdiRegistry({ specDirs: [run, etc] }).listDevices();
    expect(reversed.find((d) => d.name === 'berth.test/null=b')?.specFile).toBe(join(etc, 'static.yaml'));
  });

  it('drops a device declared twice in the same dir, as CDI does, and says why', async () => {
    await writeFile(join(run, 'one.json'), nullSpec('berth.test/null', ['a', 'b']));
    await writeFile(join(run, 'two.yaml'), nullSpec('berth.test/null', ['b']));
    const registry = new CdiRegistry({ specDirs: [run] });

    expect((await registry.listDevices()).map((d) => d.name)).toEqual(['berth.test/null=a']);
    expect(registry.lastWarnings).toEqual([
      `conflicting device berth.test/null=b (specs ${join(run, 'one.json')}, ${join(run, 'two.yaml')})`,
    ]);
  });

  it('treats missing spec dirs as empty', async () => {
    await writeFile(join(run, 'berth.json'), nullSpec('berth.test/null', ['a']));
    const registry = new CdiRegistry({ specDirs: [join(root, 'missing'), run, join(root, 'also-missing')] });

    expect((await registry.listDevices()).map((d) => d.name)).toEqual(['berth.test/null=a']);
    expect(registry.lastWarnings).toEqual([]);
    expect(await new CdiRegistry({ specDirs: [] }).listDevices()).toEqual([]);
  });

  it('skips invalid and unreadable files with a reason, and keeps the good ones', async () => {
    await writeFile(join(run, 'good.yaml'), gpuYaml);
    await writeFile(join(run, 'broken.json'), '{"cdiVersion": "0.6.0", "kind": ');
    await writeFile(join(run, 'no-devices.yaml'), 'cdiVersion: 0.6.0\nkind: berth.test/none\ndevices: []\n');
    await writeFile(join(run, 'bad-kind.json'), nullSpec('not-a-kind', ['a']));
    await writeFile(join(run, 'bad-name.json'), nullSpec('berth.test/bad', ['-a']));
    await writeFile(join(run, 'dup.json'), nullSpec('berth.test/dup', ['a', 'a']));
    await writeFile(join(run, 'empty.yaml'), '');
    await writeFile(join(run, 'old.yml'), nullSpec('berth.test/yml', ['a']));
    await writeFile(join(run, 'README.md'), 'not a spec');
    await mkdir(join(run, 'nested.json'));
    await writeFile(join(run, 'nested.json', 'inner.json'), nullSpec('berth.test/nested', ['a']));
    const registry = new CdiRegistry({ specDirs: [run] });

    expect((await registry.listDevices()).map((d) => d.name)).toEqual([
      'nvidia.com/gpu=0',
      'nvidia.com/gpu=1',
      'nvidia.com/gpu=all',
    ]);
    const warned = (file: string) => registry.lastWarnings.find((w) => w.startsWith(`${join(run, file)}:`));
    expect(warned('broken.json')).toMatch(/not valid YAML or JSON/);
    expect(warned('no-devices.yaml')).toMatch(/invalid CDI spec \(devices: must declare at least one device\)/);
    expect(warned('bad-kind.json')).toMatch(/kind: must look like vendor.com\/class/);
    expect(warned('bad-name.json')).toMatch(/devices\.0\.name: is not a valid CDI device name/);
    expect(warned('dup.json')).toMatch(/duplicate device "a"/);
    expect(warned('empty.yaml')).toMatch(/invalid CDI spec/);
    expect(warned('old.yml')).toMatch(/CDI only reads \.json and \.yaml/);
    expect(registry.lastWarnings).toHaveLength(7);
  });

  it('skips a spec file it cannot read', async () => {
    // A dangling symlink fails to read even as root, unlike a chmod 000 file.
    await symlink(join(root, 'nowhere.json'), join(run, 'dangling.json'));
    await writeFile(join(run, 'berth.json'), nullSpec('berth.test/null', ['a']));
    const registry = new CdiRegistry({ specDirs: [run] });

    expect((await registry.listDevices()).map((d) => d.name)).toEqual(['berth.test/null=a']);
    expect(registry.lastWarnings).toHaveLength(1);
    expect(registry.lastWarnings[0]).toMatch(/dangling\.json: cannot read CDI spec \(ENOENT/);
  });

  it('warns when a spec dir path is not a directory', async () => {
    await writeFile(join(root, 'file'), 'x');
    const registry = new CdiRegistry({ specDirs: [join(root, 'file')] });

    expect(await registry.listDevices()).toEqual([]);
    expect(registry.lastWarnings[0]).toMatch(/cannot read CDI spec directory/);
  });

  it('resolves the names the specs declare', async () => {
    await writeFile(join(etc, 'nvidia.yaml'), gpuYaml);
    const registry = new CdiRegistry({ specDirs: [etc, run] });

    expect(await registry.resolve(['nvidia.com/gpu=1', 'nvidia.com/gpu=7', 'amd.com/gpu=0'])).toEqual({
      resolved: ['nvidia.com/gpu=1'],
      unresolvable: ['nvidia.com/gpu=7', 'amd.com/gpu=0'],
    });
    expect(await registry.resolve([])).toEqual({ resolved: [], unresolvable: [] });
  });

  it('sees spec files written after it was made', async () => {
    const registry = new CdiRegistry({ specDirs: [run] });
    expect((await registry.resolve(['berth.test/null=a'])).unresolvable).toEqual(['berth.test/null=a']);

    await writeFile(join(run, 'late.json'), nullSpec('berth.test/null', ['a']));
    expect((await registry.resolve(['berth.test/null=a'])).resolved).toEqual(['berth.test/null=a']);
  });

  it('passes when every name resolves', async () => {
    await writeFile(join(etc, 'nvidia.yaml'), gpuYaml);
    const registry = new CdiRegistry({ specDirs: [etc] });

    await expect(registry.assertResolvable(['nvidia.com/gpu=0', 'nvidia.com/gpu=all'])).resolves.toBeUndefined();
    await expect(registry.assertResolvable([])).resolves.toBeUndefined();
  });

  it('fails with cdi_unresolvable, naming the devices, when any is unknown', async () => {
    await writeFile(join(etc, 'nvidia.yaml'), gpuYaml);
    const registry = new CdiRegistry({ specDirs: [etc] });

    const err: unknown = await registry.assertResolvable(['nvidia.com/gpu=0', 'nvidia.com/gpu=9']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    const appErr = err as AppError;
    expect(appErr.code).toBe('cdi_unresolvable');
    expect(appErr.status).toBe(400);
    expect(appErr.message).toContain('unresolvable CDI devices');
    expect(appErr.message).toBe('unresolvable CDI devices: nvidia.com/gpu=0, nvidia.com/gpu=9');
    expect(appErr.details).toEqual({ devices: ['nvidia.com/gpu=9'] });
  });
});
