import { describe, expect, it } from 'vitest';
import { cdiDirsPodmanIgnores } from './podman-cdi.js';

describe('cdiDirsPodmanIgnores', () => {
  it('accepts the default dirs, a subset of them and other spellings of them', () => {
    expect(cdiDirsPodmanIgnores(['/etc/cdi', '/var/run/cdi'])).toEqual([]);
    expect(cdiDirsPodmanIgnores(['/etc/cdi'])).toEqual([]);
    expect(cdiDirsPodmanIgnores(['/etc/cdi/', '/etc/../etc/cdi'])).toEqual([]);
    expect(cdiDirsPodmanIgnores([])).toEqual([]);
  });

  it('names the dirs Podman never reads', () => {
    expect(cdiDirsPodmanIgnores(['/etc/cdi', '/opt/vendor/cdi', 'relative/cdi'])).toEqual(['/opt/vendor/cdi', 'relative/cdi']);
  });
});
