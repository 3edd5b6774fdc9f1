/**
 * The methods a path has among an app's routes, for a 405's `Allow` header: a path that exists
 * with other methods is not a missing resource. Hono paths (`/bots/:bot`) become patterns once.
 */
export function allowedMethods(routes: () => readonly { method: string; path: string }[]): (path: string) => string[] {
  let patterns: { method: string; re: RegExp }[] | undefined;
  return (path) => {
    patterns ??= routes()
      .filter((r) => r.method !== 'ALL' && !r.path.includes('*'))
      .map((r) => ({ method: r.method.toUpperCase(), re: new RegExp(`^${r.path.split('/').map(segment).join('/')}/?$`) }));
    const methods = new Set(patterns.filter((p) => p.re.test(path)).map((p) => p.method));
    // Hono answers HEAD with a GET route.
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  };
}

function segment(s: string): string {
  return s.startsWith(':') ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
