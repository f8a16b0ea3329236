import { AllowedAddresses, parseAddressRange } from './ip-ranges';

describe('address ranges of an allow-list', () => {
  it.each([
    ['10.0.0.0/8', { address: '10.0.0.0', prefix: 8, family: 'ipv4' }],
    ['192.0.2.7', { address: '192.0.2.7', prefix: 32, family: 'ipv4' }],
    ['0.0.0.0/0', { address: '0.0.0.0', prefix: 0, family: 'ipv4' }],
    ['2001:db8::/32', { address: '2001:db8::', prefix: 32, family: 'ipv6' }],
    ['::1', { address: '::1', prefix: 128, family: 'ipv6' }],
    ['::ffff:10.0.0.0/104', { address: '::ffff:10.0.0.0', prefix: 104, family: 'ipv6' }],
  ])('reads %s', (entry, range) => {
    expect(parseAddressRange(entry)).toEqual(range);
  });

  it.each([
    '',
    'localhost',
    '10.0.0.300',
    '10.0.0.0/33',
    '10.0.0.0/',
    '10.0.0.0/8/8',
    '10.0.0.0/-1',
    '10.0.0.0/08a',
    '2001:db8::/129',
    '127.1',
    '0x7f.0.0.1',
    'fe80::1%eth0',
    ' 10.0.0.1',
  ])('refuses %j', (entry) => {
    expect(parseAddressRange(entry)).toBeUndefined();
  });

  describe('IPv4', () => {
    const allowed = new AllowedAddresses(['10.0.0.0/8', '192.0.2.7']);

    it('holds the addresses of a range and a single address, and nothing else', () => {
      expect(allowed.allows('10.0.0.1')).toBe(true);
      expect(allowed.allows('10.255.255.255')).toBe(true);
      expect(allowed.allows('192.0.2.7')).toBe(true);
      expect(allowed.allows('192.0.2.8')).toBe(false);
      expect(allowed.allows('11.0.0.1')).toBe(false);
      expect(allowed.allows('9.255.255.255')).toBe(false);
    });

    it('holds the IPv4-mapped IPv6 form of its addresses (a server listening on ::)', () => {
      expect(allowed.allows('::ffff:10.1.2.3')).toBe(true);
      expect(allowed.allows('::ffff:c000:207')).toBe(true); // 192.0.2.7, written in hex
      expect(allowed.allows('::ffff:11.1.2.3')).toBe(false);
    });

    it('holds no IPv6 address that only resembles one of them', () => {
      expect(allowed.allows('::a00:1')).toBe(false); // IPv4-compatible, not mapped
      expect(allowed.allows('2001:db8::a00:1')).toBe(false);
    });
  });

  describe('IPv6', () => {
    const allowed = new AllowedAddresses(['2001:db8::/32', '::1']);

    it('holds the addresses of a range and a single address, written any way', () => {
      expect(allowed.allows('2001:db8::1')).toBe(true);
      expect(allowed.allows('2001:0db8:ffff:0000:0000:0000:0000:0001')).toBe(true);
      expect(allowed.allows('2001:DB8::abcd')).toBe(true);
      expect(allowed.allows('::1')).toBe(true);
      expect(allowed.allows('0:0:0:0:0:0:0:1')).toBe(true);
      expect(allowed.allows('2001:db9::1')).toBe(false);
      expect(allowed.allows('::2')).toBe(false);
    });

    it('holds no IPv4 address', () => {
      expect(allowed.allows('127.0.0.1')).toBe(false);
    });

    it('holds IPv4 clients through a mapped IPv6 range', () => {
      const mapped = new AllowedAddresses(['::ffff:10.0.0.0/104']);
      expect(mapped.allows('10.9.8.7')).toBe(true);
      expect(mapped.allows('::ffff:10.9.8.7')).toBe(true);
      expect(mapped.allows('11.9.8.7')).toBe(false);
    });
  });

  it('holds every address with 0.0.0.0/0 and ::/0, and no client without an address', () => {
    const any = new AllowedAddresses(['0.0.0.0/0', '::/0']);
    expect(any.allows('203.0.113.9')).toBe(true);
    expect(any.allows('2001:db8::5')).toBe(true);
    expect(any.allows(undefined)).toBe(false);
    expect(any.allows('not an address')).toBe(false);
  });

  it('refuses to build from an entry that is not a range', () => {
    expect(() => new AllowedAddresses(['10.0.0.0/8', 'nope'])).toThrow(TypeError);
  });
});
