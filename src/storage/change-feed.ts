import { Injectable } from '@nestjs/common';

/**
 * Which tenants this process has just written (a change stored, its audit lines with it): for
 * what follows the trail, such as webhook delivery, which would otherwise learn of it only at
 * its next sweep. Writes by other processes are not seen here.
 */
@Injectable()
export class ChangeFeed {
  private readonly listeners = new Set<(tenantId: string) => void>();

  /** Calls `listener` after each write of a tenant; returns how to stop. */
  subscribe(listener: (tenantId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(tenantId: string): void {
    for (const listener of this.listeners) listener(tenantId);
  }
}
