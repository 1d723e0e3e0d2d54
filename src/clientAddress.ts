/**
 * The client an address stands for, as the failure limits count it. One host owns a whole IPv6
 * /64 (and picks a new address in it at will), so IPv6 is counted by its prefix; an IPv4 client
 * seen through a dual-stack socket (`::ffff:192.0.2.9`) is the IPv4 client `192.0.2.9`.
 *
 * Read here rather than with `node:net`: src/ imports no network module (a test pins that), and
 * `net` could only have validated (`isIP`), not given the groups on Node 20 (`SocketAddress.parse`
 * came later; `BlockList` answers membership only). A dependency such as ipaddr.js would allocate
 * an object per parse on a path every request takes; this is a split and a few small regexes.
 */

/** IPv6 clients are counted by their /64: the smallest prefix a site or a cloud VM is given. */
export const DEFAULT_IPV6_SUBNET = 64;

/**
 * `address` normalised to the client it stands for: an IPv4 address as it is, an IPv4-mapped IPv6
 * address as its IPv4 address, any other IPv6 address as its first `ipv6Subnet` bits (written
 * `2001:db8:0:1::/64`; zone ids dropped). Anything else (garbage, a whole X-Forwarded-For) comes
 * back unchanged: it still counts, as one client per distinct string.
 *
 * @example
 * ```ts
 * clientAddress('::ffff:c000:209'); // '192.0.2.9'
 * clientAddress('2001:DB8:0:1:aaaa::1'); // '2001:db8:0:1::/64'
 * ```
 */
export function clientAddress(address: string, ipv6Subnet = DEFAULT_IPV6_SUBNET): string {
  if (IPV4.test(address)) return address; // most traffic, and already canonical (no leading zeros)
  const groups = address.includes(':') ? ipv6Groups(address) : undefined;
  if (!groups) return withoutPort(address, ipv6Subnet) ?? address;
  if (groups[5] === 0xffff && (groups[0]! | groups[1]! | groups[2]! | groups[3]! | groups[4]!) === 0) {
    return `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  }
  let prefix = '';
  for (let i = 0; i * 16 < ipv6Subnet; i++) {
    const bitsOfGroup = Math.min(16, ipv6Subnet - i * 16);
    prefix += `${i ? ':' : ''}${(groups[i]! & ~(0xffff >> bitsOfGroup) & 0xffff).toString(16)}`;
  }
  return `${prefix}${ipv6Subnet <= 112 ? '::' : ''}/${ipv6Subnet}`;
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const HEX_GROUP = /^[\da-f]{1,4}$/i;
const ZONE_ID = /^%[\w.:-]+$/;
/** `192.0.2.9:40001` or `[2001:db8::1]:443`: some proxies (Azure's among them) write the client's port into X-Forwarded-For. */
const WITH_PORT = /^(?:([\d.]+)|\[([\da-f:.%\w-]+)\]):\d{1,5}$/i;

/** The eight 16-bit groups of an IPv6 address (zone id dropped), or undefined when it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  const zone = address.indexOf('%');
  if (zone !== -1 && !ZONE_ID.test(address.slice(zone))) return undefined;
  const halves = (zone === -1 ? address : address.slice(0, zone)).split('::');
  if (halves.length > 2) return undefined;
  const compressed = halves.length === 2;
  const head = groupsOf(halves[0]!, !compressed);
  const tail = compressed ? groupsOf(halves[1]!, true) : [];
  if (!head || !tail) return undefined;
  // `::` stands for one group of zeros or more; without it, all eight are written.
  const zeros = 8 - head.length - tail.length;
  if (compressed ? zeros < 1 : zeros !== 0) return undefined;
  for (let i = 0; i < zeros; i++) head.push(0);
  for (const group of tail) head.push(group);
  return head;
}

/** `a:b:c` as numbers, undefined unless every group is 1 to 4 hex digits; the address's last may be dotted IPv4 (two groups). */
function groupsOf(part: string, endsAddress: boolean): number[] | undefined {
  if (part === '') return [];
  const written = part.split(':');
  if (written.length > 8) return undefined; // a long string of colons is not worth reading
  const groups: number[] = [];
  for (let i = 0; i < written.length; i++) {
    const group = written[i]!;
    if (HEX_GROUP.test(group)) {
      groups.push(parseInt(group, 16));
    } else if (endsAddress && i === written.length - 1 && IPV4.test(group)) {
      const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
      groups.push((a << 8) | b, (c << 8) | d);
    } else {
      return undefined;
    }
  }
  return groups;
}

/** An address written with its port, as the client it stands for; undefined for anything else. */
function withoutPort(address: string, ipv6Subnet: number): string | undefined {
  const written = WITH_PORT.exec(address);
  if (!written) return undefined;
  const [, v4, v6] = written;
  if (v4 !== undefined) return IPV4.test(v4) ? v4 : undefined;
  return ipv6Groups(v6!) ? clientAddress(v6!, ipv6Subnet) : undefined;
}
