import { describe, expect, it } from 'vitest';
import { ContainerStatus } from '@berth/contract';
import { statusBadge } from './status.js';

describe('statusBadge', () => {
  it('has a badge for every status the engine reports', () => {
    for (const s of ContainerStatus.options) expect(statusBadge(s)).toEqual({ key: s, label: s });
  });

  it('says a bot without a container has none', () => {
    expect(statusBadge(null)).toEqual({ key: 'none', label: 'no container' });
    expect(statusBadge(undefined)).toEqual({ key: 'none', label: 'no container' });
  });

  it('shows a status it does not know as it came, styled as unknown', () => {
    expect(statusBadge('paused')).toEqual({ key: 'unknown', label: 'paused' });
    expect(statusBadge('constructor')).toEqual({ key: 'unknown', label: 'constructor' });
  });
});
