import { describe, expect, it } from 'vitest';
import { CDI_NAME_RE, CdiDevicesInput, parseCdiDeviceList } from './schemas.js';

describe('parseCdiDeviceList', () => {
  it('keeps an array as given', () => {
    expect(parseCdiDeviceList(['nvidia.com/gpu=0', 'nvidia.com/gpu=1'])).toEqual([
      'nvidia.com/gpu=0',
      'nvidia.com/gpu=1',
    ]);
  });

  it('splits one string on newlines, including CRLF', () => {
    expect(parseCdiDeviceList('nvidia.com/gpu=0\nnvidia.com/gpu=1\r\nberth.test/null=a')).toEqual([
      'nvidia.com/gpu=0',
      'nvidia.com/gpu=1',
      'berth.test/null=a',
    ]);
  });

  it('splits one string on commas', () => {
    expect(parseCdiDeviceList('nvidia.com/gpu=0,nvidia.com/gpu=1')).toEqual(['nvidia.com/gpu=0', 'nvidia.com/gpu=1']);
  });

  it('splits mixed separators, also inside array items', () => {
    expect(parseCdiDeviceList('a.com/x=1,a.com/x=2\na.com/x=3')).toEqual(['a.com/x=1', 'a.com/x=2', 'a.com/x=3']);
    expect(parseCdiDeviceList(['a.com/x=1, a.com/x=2', 'a.com/x=3\na.com/x=4'])).toEqual([
      'a.com/x=1',
      'a.com/x=2',
      'a.com/x=3',
      'a.com/x=4',
    ]);
  });

  it('trims whitespace and drops empty entries', () => {
    expect(parseCdiDeviceList('  a.com/x=1 ,\n\n\t a.com/x=2\t,, \n')).toEqual(['a.com/x=1', 'a.com/x=2']);
    expect(parseCdiDeviceList(['', '   ', ' a.com/x=1 '])).toEqual(['a.com/x=1']);
    expect(parseCdiDeviceList('')).toEqual([]);
    expect(parseCdiDeviceList([])).toEqual([]);
  });

  it('removes duplicates, keeping the first occurrence in order', () => {
    expect(parseCdiDeviceList('a.com/x=2, a.com/x=1, a.com/x=2\n a.com/x=1')).toEqual(['a.com/x=2', 'a.com/x=1']);
    expect(parseCdiDeviceList(['a.com/x=1', ' a.com/x=1 '])).toEqual(['a.com/x=1']);
  });
});

describe('CDI_NAME_RE', () => {
  it.each([
    'nvidia.com/gpu=0',
    'nvidia.com/gpu=all',
    'nvidia.com/gpu=GPU-9c5b1a3e-0000-1111-2222-333344445555',
    'nvidia.com/mig=0:1',
    'amd.com/gpu=card_0.1',
    'berth.test/null=a',
    'vendor.example.org/class=x',
    'my-vendor.io/device-class=dev',
    'foo.bar.baz/foo-bar123.B_az=1',
    'Vendor.COM/Class=Dev',
    'a.b/c=d',
    'intel.com/gpu=i915:0',
  ])('accepts %s', (name) => {
    expect(CDI_NAME_RE.test(name)).toBe(true);
  });

  it.each([
    ['no vendor domain', 'vendor/class=dev'],
    ['no class', 'nvidia.com=0'],
    ['no device', 'nvidia.com/gpu='],
    ['nothing after =', 'nvidia.com/gpu'],
    ['two slashes', 'vendor.com/foo/bar=0'],
    ['empty string', ''],
    ['vendor starts with a digit', '1vendor.com/gpu=0'],
    ['vendor has an underscore', 'my_vendor.com/gpu=0'],
    ['vendor has an empty label', 'vendor..com/gpu=0'],
    ['vendor ends with a dot', 'vendor.com./gpu=0'],
    ['vendor label ends with a hyphen', 'vendor-.com/gpu=0'],
    ['class starts with a digit', 'nvidia.com/0gpu=0'],
    ['class ends with a hyphen', 'nvidia.com/gpu-=0'],
    ['class has a colon', 'nvidia.com/gp:u=0'],
    ['device starts with a dash', 'nvidia.com/gpu=-0'],
    ['device ends with a colon', 'nvidia.com/gpu=0:'],
    ['device has a slash', 'nvidia.com/gpu=0/1'],
    ['device has a second =', 'nvidia.com/gpu=0=1'],
    ['spaces', 'nvidia.com/gpu= 0'],
    ['a device path', '/dev/null'],
  ])('rejects %s (%s)', (_why, name) => {
    expect(CDI_NAME_RE.test(name)).toBe(false);
  });
});

describe('CdiDevicesInput', () => {
  it('parses and checks the list', () => {
    expect(CdiDevicesInput.parse('nvidia.com/gpu=0, nvidia.com/gpu=0\nberth.test/null=a')).toEqual([
      'nvidia.com/gpu=0',
      'berth.test/null=a',
    ]);
    expect(CdiDevicesInput.safeParse(['nvidia.com/gpu=0', 'gpu0']).success).toBe(false);
  });
});
