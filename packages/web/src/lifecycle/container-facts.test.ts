import { describe, expect, it } from 'vitest';
import type { DiskLimitInfo } from '@berth/contract';
import { deviceNodesText, diskUsedText, enforcementText, resourcesText, shortImageId } from './container-facts.js';

const disk: DiskLimitInfo = { mb: 2048, enforcement: 'soft', usedMb: 12, dataMb: 10, layerMb: 2, exceeded: false, measuredAt: '2026-01-01T00:00:00Z' };

describe('container facts in words', () => {
  it('shortens an image id as engines print it', () => {
    expect(shortImageId('sha256:0123456789abcdef0123')).toBe('0123456789ab');
    expect(shortImageId('abc')).toBe('abc');
  });

  it('says the limits, and their absence', () => {
    expect(resourcesText({ resources: { cpus: 1.5, memoryMb: 512, pidsLimit: 100 }, network: 'none' })).toBe('1.5 CPUs · 512 MB · 100 processes max · network none');
    expect(resourcesText({ resources: { cpus: null, memoryMb: null, pidsLimit: 4096 }, network: 'bridge' })).toBe('any CPUs · no memory limit · 4096 processes max · network bridge');
  });

  it('names a device node’s host path only where it differs', () => {
    expect(deviceNodesText([{ hostPath: '/dev/nvidia0', containerPath: '/dev/nvidia0' }, { hostPath: '/dev/dri/card1', containerPath: '/dev/dri/card0' }])).toBe('/dev/nvidia0, /dev/dri/card1 → /dev/dri/card0');
  });

  it('says the disk used, or why there is no figure', () => {
    expect(diskUsedText(disk)).toMatch(/^12 MiB used$/);
    expect(diskUsedText({ ...disk, measuredAt: null })).toBe('not measured yet');
    expect(diskUsedText({ ...disk, usedMb: null })).toBe('usage unknown: it could not be measured');
  });

  it('says how the limit is held', () => {
    expect(enforcementText({ enforcement: 'hard' })).toBe('hard limit: the file system refuses writes past it');
    expect(enforcementText({ enforcement: 'soft' })).toBe('soft limit: measured every 30 s');
    expect(enforcementText({ enforcement: 'none' })).toBe('not enforced');
  });
});
