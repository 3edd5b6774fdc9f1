import { describe, expect, it } from 'vitest';
import { followSavedDevices, gpuChoice, isGpu, sameDevices, toggleDevice, toggleGpu } from './cdi-devices.js';

const host = (...names: string[]) => names.map((name) => ({ name, specFile: '/etc/cdi/x.yaml' }));

describe('isGpu', () => {
  it('knows a GPU by its CDI class', () => {
    expect(isGpu('nvidia.com/gpu=0')).toBe(true);
    expect(isGpu('amd.com/gpu=all')).toBe(true);
    expect(isGpu('nvidia.com/mig=0')).toBe(false);
    expect(isGpu('gpu=0')).toBe(false);
  });
});

describe('gpuChoice', () => {
  it('takes a vendor’s "all" device when it declares one, else each of its GPUs', () => {
    expect(gpuChoice(host('nvidia.com/gpu=0', 'nvidia.com/gpu=1', 'nvidia.com/gpu=all', 'amd.com/gpu=0', 'amd.com/gpu=1', 'x.com/fpga=0'))).toEqual(['nvidia.com/gpu=all', 'amd.com/gpu=0', 'amd.com/gpu=1']);
  });

  it('is empty on a host without GPUs', () => {
    expect(gpuChoice(host('x.com/fpga=0'))).toEqual([]);
    expect(gpuChoice([])).toEqual([]);
  });
});

describe('the devices text and its checkboxes', () => {
  it('adds a ticked device once and removes an unticked one, one name per line', () => {
    expect(toggleDevice('a.com/b=1, a.com/b=2', 'x.com/y=0', true)).toBe('a.com/b=1\na.com/b=2\nx.com/y=0');
    expect(toggleDevice('a.com/b=1\nx.com/y=0', 'x.com/y=0', true)).toBe('a.com/b=1\nx.com/y=0');
    expect(toggleDevice('a.com/b=1\nx.com/y=0\n', 'a.com/b=1', false)).toBe('x.com/y=0');
    expect(toggleDevice('', 'x.com/y=0', false)).toBe('');
  });

  it('"Enable GPU" replaces every GPU with the host’s choice and turning it off removes them, keeping other devices', () => {
    expect(toggleGpu('x.com/fpga=0\nnvidia.com/gpu=0', ['nvidia.com/gpu=all'], true)).toBe('x.com/fpga=0\nnvidia.com/gpu=all');
    expect(toggleGpu('nvidia.com/gpu=all, x.com/fpga=0', ['nvidia.com/gpu=all'], false)).toBe('x.com/fpga=0');
  });

  it('compares device lists in order: the container gets them in that order', () => {
    expect(sameDevices(['a', 'b'], ['a', 'b'])).toBe(true);
    expect(sameDevices(['a', 'b'], ['b', 'a'])).toBe(false);
    expect(sameDevices(['a'], ['a', 'b'])).toBe(false);
    expect(sameDevices([], [])).toBe(true);
  });
});

describe('followSavedDevices', () => {
  it('follows devices saved elsewhere while the field has no edits of its own', () => {
    expect(followSavedDevices('a.com/b=1, a.com/b=2', ['a.com/b=1', 'a.com/b=2'], ['x.com/y=0'])).toBe('x.com/y=0');
  });

  it('keeps edits the person is making', () => {
    expect(followSavedDevices('a.com/b=1\nnew.com/z=0', ['a.com/b=1'], ['x.com/y=0'])).toBe('a.com/b=1\nnew.com/z=0');
  });
});
