import { BlockList, isIP } from 'node:net';

/** An address or CIDR range, parsed: `10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`. */
interface AddressRange {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/**
 * `entry` as a range, or undefined when it is not an IPv4 or IPv6 address with an optional
 * `/prefix` (0–32, 0–128). Only the plain textual forms count: no zone (`%eth0`), no shortened
 * or hexadecimal IPv4 (`127.1`, `0x7f.0.0.1`), which different readers take differently.
 */
export function parseAddressRange(entry: string): AddressRange | undefined {
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const version = address.includes('%') ? 0 : isIP(address);
  if (version === 0) return undefined;
  const bits = version === 4 ? 32 : 128;
  if (slash < 0) return { address, prefix: bits, family: version === 4 ? 'ipv4' : 'ipv6' };
  const prefix = entry.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bits) return undefined;
  return { address, prefix: Number(prefix), family: version === 4 ? 'ipv4' : 'ipv6' };
}

/**
 * Which addresses may present a key: any of `entries` (addresses and CIDR ranges). An IPv4
 * range also holds the IPv4-mapped IPv6 form of its addresses (`::ffff:10.1.2.3`), which is how
 * a server listening on `::` sees IPv4 clients, and the other way round.
 */
export class AllowedAddresses {
  private readonly list = new BlockList();

  /** Throws for an entry that parseAddressRange refuses. */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const range = parseAddressRange(entry);
      if (!range) throw new TypeError(`not an address or CIDR range: ${entry}`);
      this.list.addSubnet(range.address, range.prefix, range.family);
    }
  }

  /** Whether `address` (as Express reports the client, `request.ip`) is in one of the ranges. */
  allows(address: string | undefined): boolean {
    if (address === undefined) return false;
    const version = isIP(address);
    if (version === 0) return false;
    return this.list.check(address, version === 4 ? 'ipv4' : 'ipv6');
  }
}
