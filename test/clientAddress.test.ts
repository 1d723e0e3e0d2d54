/** What one client is, for the failure limits: IPv4 as it is, mapped IPv6 as IPv4, IPv6 by its prefix. */
import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientAddress } from '../src/clientAddress.js';

/** Any IP address (IPv4 as mapped) in RFC 5952's form, by the WHATWG URL parser: an oracle independent of the code under test. */
const asIPv6 = (ip: string) => new URL(`http://[${isIP(ip) === 4 ? `::ffff:${ip}` : ip.replace(/%.*|\/128$/, '')}]`).hostname;

describe('clientAddress', () => {
  it('keeps IPv4 as it is', () => {
    expect(clientAddress('192.0.2.9')).toBe('192.0.2.9');
    expect(clientAddress('0.0.0.0')).toBe('0.0.0.0');
  });

  it('reads IPv4-mapped IPv6, dotted or hex, in any case, as the IPv4 client', () => {
    const dotted = ['::ffff:192.0.2.9', '::FFFF:192.0.2.9', '::ffff:192.0.2.9%eth0'];
    const spellings = [...dotted, '::ffff:c000:209', '::FFFF:C000:0209', '0:0:0:0:0:ffff:c000:209'];
    for (const mapped of spellings) expect(clientAddress(mapped), mapped).toBe('192.0.2.9');
    // Not mapped: the IPv4-compatible and NAT64 forms are IPv6 addresses like any other.
    expect(clientAddress('::192.0.2.9', 128)).toBe('0:0:0:0:0:0:c000:209/128');
    expect(clientAddress('64:ff9b::192.0.2.9')).toBe('64:ff9b:0:0::/64');
  });

  it('counts IPv6 by its /64 by default: every spelling of one prefix is one client', () => {
    const spellings = ['2001:db8:0:1::1', '2001:DB8:0:1:FFFF:FFFF:FFFF:FFFF', '2001:0db8:0000:0001:0:0:0:0', '2001:db8::1:0:0:0:7'];
    for (const address of spellings) expect(clientAddress(address), address).toBe('2001:db8:0:1::/64');
    expect(clientAddress('2001:db8:0:2::1')).toBe('2001:db8:0:2::/64');
  });

  it('drops zone ids', () => {
    expect(clientAddress('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientAddress('fe80::1%eth0', 128)).toBe(clientAddress('fe80::1', 128));
  });

  it('takes any prefix length, to the bit', () => {
    expect(clientAddress('2001:db8:abcd:12::1', 48)).toBe('2001:db8:abcd::/48');
    expect(clientAddress('2001:db8:abcd:ffff::1', 50)).toBe('2001:db8:abcd:c000::/50');
    expect(clientAddress('2001:db8::1', 128)).toBe('2001:db8:0:0:0:0:0:1/128');
    expect(clientAddress('2001:db8::1', 127)).toBe('2001:db8:0:0:0:0:0:0/127');
    expect(clientAddress('ffff::', 1)).toBe('8000::/1');
    expect(clientAddress('::', 64)).toBe('0:0:0:0::/64');
  });

  it('reads an address written with its port (some proxies put one in X-Forwarded-For) as the client without it', () => {
    for (let port = 40_000; port < 40_010; port++) expect(clientAddress(`203.0.113.9:${port}`)).toBe('203.0.113.9');
    expect(clientAddress('[2001:db8::27]:443')).toBe('2001:db8:0:0::/64');
    expect(clientAddress('[2001:DB8::28]:8443')).toBe('2001:db8:0:0::/64');
    expect(clientAddress('[::ffff:192.0.2.9]:443')).toBe('192.0.2.9');
    expect(clientAddress('[fe80::1%eth0]:443', 128)).toBe(clientAddress('fe80::1', 128));
  });

  it('gives back whatever is not an IP address unchanged (the limits hash it)', () => {
    const forwarded = `${'198.51.100.1, '.repeat(1000)}203.0.113.7`;
    const nearMisses = ['::1.2.3.4:5', '1.2.3.4::', '1:2:3:4:5:1.2.3.4', '1:2:3:4:5:6:7::8', '2001:db8:::1', '12345::', 'fe80::1%'];
    for (const garbage of [
      '',
      'unknown',
      '192.0.2.09',
      '192.0.2.09:443',
      '[2001:db8:::1]:443',
      '192.0.2.9:123456',
      ...nearMisses,
      forwarded,
    ]) {
      expect(clientAddress(garbage), garbage.slice(0, 20)).toBe(garbage);
    }
  });

  it('reads every address node:net accepts as the same address, and nothing it refuses', () => {
    // Valid addresses, and near misses: one with a character inserted, dropped or changed.
    const edit = fc.tuple(fc.nat(), fc.constantFrom('insert', 'drop', 'change'), fc.constantFrom(...'0fF:.%'));
    const nearMiss = fc.tuple(fc.oneof(fc.ipV6(), fc.ipV4()), fc.array(edit, { maxLength: 2 })).map(([address, edits]) =>
      edits.reduce((spelled, [at, how, c]) => {
        const i = at % (spelled.length + 1);
        return spelled.slice(0, i) + (how === 'drop' ? '' : c) + spelled.slice(how === 'insert' ? i : i + 1);
      }, address),
    );
    const spelled = fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), nearMiss);
    fc.assert(
      fc.property(spelled, (address) => {
        const read = clientAddress(address, 128);
        // An address and a port (a near miss can be one) reads as the address.
        const [, v4, v6] = /^(?:([\d.]+)|\[(.*)\]):\d{1,5}$/.exec(address) ?? [];
        const bare = v4 ?? v6;
        if (bare !== undefined && isIP(bare) !== 0) expect(read).toBe(clientAddress(bare, 128));
        else if (isIP(address) === 0) expect(read).toBe(address);
        else expect(asIPv6(read), address).toBe(asIPv6(address));
      }),
      { numRuns: 5_000 },
    );
  });
});
