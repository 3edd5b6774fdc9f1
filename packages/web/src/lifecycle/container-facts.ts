import type { Container, DiskLimitInfo } from '@berth/contract';
import { formatMib } from '../components/format.js';

/** The first 12 hex digits of an image id, as engines print it. */
export function shortImageId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** CPUs, memory, processes and network in one line. */
export function resourcesText(c: Pick<Container, 'resources' | 'network'>): string {
  const r = c.resources;
  return `${r.cpus === null ? 'any CPUs' : `${r.cpus} CPUs`} · ${r.memoryMb === null ? 'no memory limit' : `${r.memoryMb} MB`} · ${r.pidsLimit} processes max · network ${c.network}`;
}

/** Device nodes the container got, naming the host path only where it differs. */
export function deviceNodesText(devices: Container['devices']): string {
  return devices.map((d) => (d.hostPath === d.containerPath ? d.containerPath : `${d.hostPath} → ${d.containerPath}`)).join(', ');
}

/** "1,024 MiB used", or why there is no figure. */
export function diskUsedText(d: DiskLimitInfo): string {
  if (d.measuredAt === null) return 'not measured yet';
  return d.usedMb === null ? 'usage unknown: it could not be measured' : `${formatMib(d.usedMb)} used`;
}

/** How the limit is held, in words. */
export function enforcementText(d: Pick<DiskLimitInfo, 'enforcement'>): string {
  switch (d.enforcement) {
    case 'hard':
      return 'hard limit: the file system refuses writes past it';
    case 'soft':
      return 'soft limit: measured every 30 s';
    default:
      return 'not enforced';
  }
}
