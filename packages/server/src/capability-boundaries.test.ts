import path from 'node:path';
import { Linter } from 'eslint';
import { describe, expect, it } from 'vitest';
import { capabilityBoundaries } from '../../../scripts/eslint/capability-boundaries.js';

const src = path.resolve(import.meta.dirname);

/** The boundary rule's messages for one import written in a file at `file` (relative to server/src). */
function lint(file: string, importLine: string): string[] {
  const linter = new Linter({ configType: 'flat' });
  const messages = linter.verify(
    importLine,
    [{ files: ['**/*.ts'], plugins: { berth: { rules: { 'capability-boundaries': capabilityBoundaries } } }, rules: { 'berth/capability-boundaries': 'error' } }],
    path.join(src, file),
  );
  return messages.map((m) => m.message);
}

describe('the capability boundary lint rule', () => {
  it('lets a capability reach another through its index only', () => {
    expect(lint('snapshots/snapshot-service.ts', "import { ContainerService } from '../lifecycle/index.js';")).toEqual([]);
    expect(lint('snapshots/snapshot-service.ts', "import { ContainerService } from '../lifecycle/container-service.js';")).toEqual([
      expect.stringContaining('reaches inside the lifecycle capability'),
    ]);
  });

  it('holds for the HTTP layer, re-exports and dynamic imports', () => {
    expect(lint('http/routes/files.ts', "export { parseMode } from '../../files/file-format.js';")).toHaveLength(1);
    expect(lint('http/app.ts', "const m = await import('../exec/task-service.js');")).toHaveLength(1);
    expect(lint('http/app.ts', "import { ExecService } from '../exec/index.js';")).toEqual([]);
  });

  it('lets a capability use its own files and the core', () => {
    expect(lint('files/files-service.ts', "import { parseMode } from './file-format.js';")).toEqual([]);
    expect(lint('files/files-service.ts', "import { Operations } from '../core/operations.js';")).toEqual([]);
  });

  it('keeps every capability out of the core', () => {
    expect(lint('core/operations.ts', "import { DataService } from '../data/index.js';")).toEqual([expect.stringContaining('core must not import the data capability')]);
  });
});
