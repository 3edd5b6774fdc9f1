// A lint rule that keeps the server's capabilities apart (CONVENTIONS.md, "One capability, one
// folder"): code outside a capability reaches it only through its public entry, `<capability>/index.ts`,
// and the shared core imports no capability at all.
import path from 'node:path';

const SERVER_SRC = path.resolve(import.meta.dirname, '../../packages/server/src');
export const CAPABILITIES = ['lifecycle', 'snapshots', 'data', 'exec', 'files', 'terminal', 'tokens'];

/** The top folder under packages/server/src of a file, or null outside it. */
function topFolder(file) {
  const rel = path.relative(SERVER_SRC, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
  const parts = rel.split(path.sep);
  return parts.length > 1 ? parts[0] : '';
}

export const capabilityBoundaries = {
  meta: {
    type: 'problem',
    docs: { description: 'capabilities are reached only through their index.ts; core imports no capability' },
    messages: {
      inside: "'{{source}}' reaches inside the {{capability}} capability: import from its public entry '{{capability}}/index.js'",
      core: "core must not import the {{capability}} capability ('{{source}}'): move the shared piece into core",
    },
    schema: [],
  },
  create(context) {
    const file = context.filename;
    const own = topFolder(file);
    if (own === null) return {};
    function check(node) {
      const source = node.source?.value;
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = path.resolve(path.dirname(file), source);
      const rel = path.relative(SERVER_SRC, target).split(path.sep);
      const capability = rel[0];
      if (rel.length < 2 || !CAPABILITIES.includes(capability) || capability === own) return;
      if (own === 'core') context.report({ node: node.source, messageId: 'core', data: { source, capability } });
      else if (rel.length !== 2 || rel[1] !== 'index.js') context.report({ node: node.source, messageId: 'inside', data: { source, capability } });
    }
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check };
  },
};
