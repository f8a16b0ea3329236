import { Logger } from '@nestjs/common';
import { lstatSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isTenantId } from '../api-key.record';
import { readRegularFile } from './durable-file';
import type { SecurityFileParser } from './security-file-parser';

/** Files read and parsed at once while the index catches up. */
const PARALLEL_READS = 16;

/**
 * Which tenants hold a hash, across every tenant folder: for a leak report, which names a token
 * and no tenant. Each lookup lists the folders and `lstat`s each security.yml (inode, size,
 * times), re-reading only the files that changed since the last: a hand edit or another
 * process's write is seen by the next lookup. Only hashes are kept, not the parsed keys, so the
 * index of 10,000 tenants of 10 keys is a few megabytes. A file that cannot be read or parsed
 * holds no hashes until it is mended.
 */
export class TenantHashIndex {
  private readonly logger = new Logger(TenantHashIndex.name);
  private readonly tenants = new Map<string, { signature: string; hashes: ReadonlySet<string> }>();

  constructor(
    private readonly root: string,
    private readonly file: string,
    private readonly parser: SecurityFileParser,
  ) {}

  /** The tenants whose security.yml, as it is now, holds `hash` (current or replaced token). */
  async tenantsHolding(hash: string): Promise<string[]> {
    await this.refresh();
    return [...this.tenants].filter(([, { hashes }]) => hashes.has(hash)).map(([id]) => id);
  }

  private async refresh(): Promise<void> {
    const entries = await readdir(this.root, { withFileTypes: true });
    const present = new Set(
      entries.filter((entry) => entry.isDirectory() && isTenantId(entry.name)).map((e) => e.name),
    );
    for (const tenantId of this.tenants.keys())
      if (!present.has(tenantId)) this.tenants.delete(tenantId);
    const stale: Array<[string, string]> = [];
    for (const tenantId of present) {
      const stats = lstatSync(join(this.root, tenantId, this.file), {
        bigint: true,
        throwIfNoEntry: false,
      });
      const signature = stats
        ? `${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`
        : 'absent';
      if (this.tenants.get(tenantId)?.signature !== signature) stale.push([tenantId, signature]);
    }
    for (let i = 0; i < stale.length; i += PARALLEL_READS) {
      await Promise.all(
        stale.slice(i, i + PARALLEL_READS).map(async ([tenantId, signature]) => {
          this.tenants.set(tenantId, { signature, hashes: await this.hashesOf(tenantId) });
        }),
      );
    }
  }

  private async hashesOf(tenantId: string): Promise<ReadonlySet<string>> {
    try {
      const text = await readRegularFile(join(this.root, tenantId, this.file));
      if (!text) return new Set();
      const document = await this.parser.parse(text);
      return new Set(
        document.entries.flatMap(({ key }) =>
          key.previousHash ? [key.hash, key.previousHash] : [key.hash],
        ),
      );
    } catch (error) {
      this.logger.warn(
        `${tenantId}/${this.file} left out of the hash index: ${error instanceof Error ? error.message : String(error)}`,
      );
      return new Set();
    }
  }
}
