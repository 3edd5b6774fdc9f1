import net from 'node:net';
import { AppError } from '../errors.js';
import { ipv6Groups } from '../ipv6.js';

/*
 * Image references, checked when a bot's image is set. The syntax is the distribution reference
 * grammar (the one `docker pull` and Podman parse):
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path-component ( "/" path-component )*
 *   domain     := host [ ":" port ]      host := domain-name | "[" IPv6 "]"
 *   path-component := [a-z0-9]+ ( separator [a-z0-9]+ )*   separator := "." | "_" | "__" | "-"+
 *   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *   digest     := algorithm ":" hex (32 or more)
 *
 * The first component is a registry host when it has a "." or ":", is "localhost", or has capitals.
 */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const MAX_NAME = 255;
const MAX_REFERENCE = 512;

export interface ParsedReference {
  /** `host[:port]` as written, or null for an image of the default registry (docker.io, ...). */
  registry: string | null;
  /** The host alone: a name, an IPv4 address, or an IPv6 address without brackets. */
  host: string | null;
  port: number | null;
  path: string;
  tag: string | null;
  digest: string | null;
}

/** Parses a reference by the grammar above, or throws `image_invalid` saying what is wrong. */
export function parseImageReference(ref: string): ParsedReference {
  const bad = (why: string) => new AppError('image_invalid', { image: ref.length > 100 ? `${ref.slice(0, 100)}…` : ref, reason: `it is not a valid image reference: ${why}` }, { details: { image: ref } });
  if (ref.length === 0 || ref.length > MAX_REFERENCE) throw bad(`it must be 1-${MAX_REFERENCE} characters`);
  let rest = ref;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad('the digest must look like sha256:<64 hex digits>');
  }
  let tag: string | null = null;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/') && colon > rest.lastIndexOf(']')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad('a tag is 1-128 letters, digits, "_", "." and "-", not starting with "." or "-"');
  }
  if (rest.length > MAX_NAME) throw bad(`the name is longer than ${MAX_NAME} characters`);
  const parts = rest.split('/');
  let registry: string | null = null;
  let host: string | null = null;
  let port: number | null = null;
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    registry = first;
    parts.shift();
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(first);
    host = m?.[1] ?? m?.[2] ?? null;
    if (!host || (m?.[1] !== undefined ? net.isIPv6(host) === false : !DOMAIN_NAME.test(host))) throw bad(`"${first}" is not a registry host`);
    if (m?.[3] !== undefined) {
      port = Number(m[3]);
      if (port < 1 || port > 65535) throw bad(`port ${m[3]} is out of range`);
    }
  }
  if (parts.length === 0 || parts.some((p) => !PATH_COMPONENT.test(p))) {
    throw bad('the repository path is lower-case letters and digits, separated by "/", and inside a component by ".", "_", "__" or "-"');
  }
  return { registry, host, port, path: parts.join('/'), tag, digest };
}

/**
 * The registry rule: an image may not name a registry on the host's own loopback, an unspecified
 * address or a link-local address (cloud metadata services live there), because a pull makes the
 * engine connect to it from the host: any port, any service. Two exceptions: registries the
 * engine is configured with (`allowed`, `host:port` locations from its registries.conf), and
 * `localhost` without a port, Podman's name for images built or loaded on this machine.
 */
export function checkImageReference(ref: string, options: { allowedRegistries: readonly string[] }): ParsedReference {
  const parsed = parseImageReference(ref);
  if (parsed.registry === null || parsed.host === null) return parsed;
  if (parsed.host === 'localhost' && parsed.port === null) return parsed;
  const allowed = options.allowedRegistries.map((r) => r.toLowerCase());
  if (allowed.includes(parsed.registry.toLowerCase())) return parsed;
  if (isHostLocal(parsed.host)) {
    throw new AppError('image_invalid', { image: ref, reason: `images may not come from ${parsed.registry}: a registry on this host's loopback or a link-local address is allowed only when the engine's registries.conf names it` }, {
      details: { image: ref, registry: parsed.registry },
    });
  }
  return parsed;
}

/** Loopback, unspecified and link-local hosts, by name or address (IPv4, IPv6, IPv4-mapped IPv6). */
export function isHostLocal(host: string): boolean {
  const h = canonicalHost(host.toLowerCase().replace(/\.$/, ''));
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (net.isIPv4(h)) return isLocalV4(h);
  if (net.isIPv6(h)) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    if (mapped?.[1]) return isLocalV4(mapped[1]);
    const expanded = ipv6Groups(h).map((g) => g.padStart(4, '0')).join(':');
    if (expanded === '0000:0000:0000:0000:0000:0000:0000:0000' || expanded === '0000:0000:0000:0000:0000:0000:0000:0001') return true;
    // fe80::/10
    const first = parseInt(expanded.slice(0, 4), 16);
    return (first & 0xffc0) === 0xfe80;
  }
  return false;
}

/**
 * A host name as a URL parser reads it: the engine's resolver takes the short and numeric IPv4 forms
 * (`127.1`, `0x7f.1`, `2130706433`) as the addresses they spell, so they are judged as those.
 */
function canonicalHost(h: string): string {
  if (net.isIPv6(h)) return h;
  try {
    return new URL(`http://${h}/`).hostname;
  } catch {
    return h;
  }
}

function isLocalV4(ip: string): boolean {
  const [a, b] = ip.split('.').map(Number);
  return a === 127 || a === 0 || (a === 169 && b === 254);
}
