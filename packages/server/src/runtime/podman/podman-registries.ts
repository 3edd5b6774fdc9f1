import fs from 'node:fs';
import path from 'node:path';

const REGISTRIES_CONF = '/etc/containers/registries.conf';
const MAX_CONF_BYTES = 1024 * 1024;

/**
 * The registries the engine is configured with: the `host[:port]` of every `location` and `prefix`
 * of a `[[registry]]` table in registries.conf and registries.conf.d/*.conf (what an operator set up
 * on purpose, such as a local registry on 127.0.0.1:5000). Unreadable files count as empty.
 */
export function podmanRegistryHosts(confFile = REGISTRIES_CONF): string[] {
  const files = [confFile];
  const dropIns = `${confFile}.d`;
  try {
    for (const f of fs.readdirSync(dropIns).sort()) if (f.endsWith('.conf')) files.push(path.join(dropIns, f));
  } catch {
    // no drop-in dir
  }
  const hosts = new Set<string>();
  for (const file of files) {
    let text: string;
    try {
      if (fs.statSync(file).size > MAX_CONF_BYTES) continue;
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const m = /^\s*(?:location|prefix)\s*=\s*"([^"]*)"/.exec(line);
      const host = m?.[1]?.split('/')[0]?.trim();
      if (host) hosts.add(host);
    }
  }
  return [...hosts];
}
