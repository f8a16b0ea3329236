import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway TENANTS_DIR with helpers to lay out tenants and read their files. */
export class TenantsFixture {
  private constructor(readonly root: string) {}

  static async create(): Promise<TenantsFixture> {
    return new TenantsFixture(await mkdtemp(join(tmpdir(), 'tenant-api-keys-')));
  }

  file(tenantId: string, name = 'security.yml'): string {
    return join(this.root, tenantId, name);
  }

  async addTenant(tenantId: string, securityYml?: string): Promise<void> {
    await mkdir(join(this.root, tenantId), { recursive: true });
    if (securityYml !== undefined) await writeFile(this.file(tenantId), securityYml);
  }

  async write(tenantId: string, securityYml: string): Promise<void> {
    await writeFile(this.file(tenantId), securityYml);
  }

  async read(tenantId: string): Promise<string> {
    return readFile(this.file(tenantId), 'utf8');
  }

  async remove(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

export function sha256(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A hand-written key: a token of our own and the YAML entry that stores its hash. */
export function handKey(
  name: string,
  permissions: string[],
  extra = '',
): { token: string; yaml: string } {
  const token = `hand_${randomBytes(24).toString('base64url')}`;
  const perms = permissions.map((p) => `\n      - "${p}"`).join('');
  const yaml = `  - name: ${name}\n    hash: ${sha256(token)}\n    permissions:${perms || ' []'}\n${extra}`;
  return { token, yaml };
}
