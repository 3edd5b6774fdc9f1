import fs from 'node:fs';
import path from 'node:path';

/**
 * Where Podman reads CDI specs from. Podman 4.3 takes them from its CDI library's fixed defaults:
 * it ignores `cdi_spec_dirs` in containers.conf (tried on 4.3.1 with a drop-in and with
 * CONTAINERS_CONF: a spec in such a dir stays "unresolvable"), so Berth cannot point its own
 * service elsewhere either.
 */
export const PODMAN_CDI_SPEC_DIRS: readonly string[] = ['/etc/cdi', '/var/run/cdi'];

/**
 * The configured CDI spec dirs Podman does not read: a device declared there would be listed by
 * Berth and then fail at create. Empty when every dir is one of Podman's (a subset is fine).
 */
export function cdiDirsPodmanIgnores(dirs: readonly string[], engineDirs: readonly string[] = PODMAN_CDI_SPEC_DIRS): string[] {
  const engine = new Set(engineDirs.map(canonical));
  return dirs.filter((d) => !engine.has(canonical(d)));
}

/** `/var/run/cdi` and `/run/cdi` are one dir where /var/run links to /run. */
function canonical(dir: string): string {
  const abs = path.resolve(dir);
  try {
    return fs.realpathSync(abs);
  } catch {
    // Not there (yet): its parent may still be a link.
    try {
      return path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
    } catch {
      return abs;
    }
  }
}
