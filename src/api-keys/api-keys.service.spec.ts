import {
  ConflictException,
  ForbiddenException,
  NotFoundException,
  PreconditionFailedException,
} from '@nestjs/common';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Caller } from '../auth/principal';
import { OPERATOR as OPERATOR_PRINCIPAL } from '../auth/principal';
import { entityTagOf } from './api-key';
import { hashToken } from './api-key-token';
import { ApiKeysService } from './api-keys.service';
import { YamlApiKeysRepository } from './yaml-api-keys.repository';

const caller = (...scopes: string[]): Caller => ({
  principal: { method: 'api-key', subject: 'caller', scopes, tenants: ['acme'] },
  requestId: 'req-1',
});
const OPERATOR: Caller = { principal: OPERATOR_PRINCIPAL, requestId: 'req-0' };

describe('ApiKeysService', () => {
  let root: string;
  let service: ApiKeysService;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'service-'));
    await mkdir(join(root, 'acme'));
    service = new ApiKeysService(
      new YamlApiKeysRepository({ tenantsDir: root, tenantCacheSize: 10 }),
    );
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates a key with defaults, stores only the hash, and returns the token once', async () => {
    const { key, token } = await service.create('acme', { name: 'k' }, OPERATOR);
    expect(key).toMatchObject({
      name: 'k',
      enabled: true,
      permissions: [],
      hash: hashToken(token),
    });
    expect(key.createdAt).toBe(key.updatedAt);
    const file = await readFile(join(root, 'acme', 'security.yml'), 'utf8');
    expect(file).toContain(hashToken(token));
    expect(file).not.toContain(token);
  });

  it('drops duplicate permissions, keeping the first order', async () => {
    const { key } = await service.create(
      'acme',
      { name: 'k', permissions: ['b', 'a', 'b'] },
      OPERATOR,
    );
    expect(key.permissions).toEqual(['b', 'a']);
  });

  it('refuses a name that is taken', async () => {
    await service.create('acme', { name: 'k' }, OPERATOR);
    await expect(service.create('acme', { name: 'k' }, OPERATOR)).rejects.toBeInstanceOf(
      ConflictException,
    );
  });

  describe('grant rule', () => {
    it('refuses to create a key with permissions the caller does not hold', async () => {
      await expect(
        service.create('acme', { name: 'k', permissions: ['*'] }, caller('tenant.apiKey:write')),
      ).rejects.toBeInstanceOf(ForbiddenException);
      await expect(service.list('acme')).resolves.toEqual([]);
    });

    it('allows what the caller wildcard covers', async () => {
      await expect(
        service.create(
          'acme',
          { name: 'k', permissions: ['tenant.apiKey:read'] },
          caller('tenant.*'),
        ),
      ).resolves.toBeDefined();
    });

    it('judges the current, kept and given permissions on update, and on delete', async () => {
      await service.create('acme', { name: 'root', permissions: ['*'] }, OPERATOR);
      await expect(
        service.update('acme', 'root', { enabled: false }, caller('tenant.apiKey:*')),
      ).rejects.toBeInstanceOf(ForbiddenException);
      expect((await service.get('acme', 'root')).enabled).toBe(true);
      await expect(
        service.update(
          'acme',
          'root',
          { enabled: false, permissions: ['tenant.apiKey:read'] },
          caller('tenant.apiKey:*'),
        ),
      ).rejects.toBeInstanceOf(ForbiddenException);
      await expect(
        service.delete('acme', 'root', caller('tenant.apiKey:*')),
      ).rejects.toBeInstanceOf(ForbiddenException);
      expect(await service.get('acme', 'root')).toMatchObject({
        enabled: true,
        permissions: ['*'],
      });
    });
  });

  it('updates enabled and keeps permissions left out, name and hash', async () => {
    const { key } = await service.create('acme', { name: 'k', permissions: ['a'] }, OPERATOR);
    const updated = await service.update('acme', 'k', { enabled: false }, OPERATOR);
    expect(updated).toMatchObject({
      name: 'k',
      enabled: false,
      permissions: ['a'],
      hash: key.hash,
    });
    expect(updated.createdAt).toBe(key.createdAt);
  });

  it('answers not found for a missing or impossible key name', async () => {
    await expect(service.get('acme', 'nope')).rejects.toBeInstanceOf(NotFoundException);
    await expect(service.get('acme', 'a/b')).rejects.toBeInstanceOf(NotFoundException);
    await expect(
      service.update('acme', 'nope', { enabled: true }, OPERATOR),
    ).rejects.toBeInstanceOf(NotFoundException);
    await expect(service.delete('acme', 'nope', OPERATOR)).rejects.toBeInstanceOf(
      NotFoundException,
    );
  });

  it('honours If-Match: 412 when the key changed since, 404 when it is gone', async () => {
    const { key } = await service.create('acme', { name: 'k' }, OPERATOR);
    const tag = entityTagOf(key);
    const updated = await service.update('acme', 'k', { enabled: false }, OPERATOR, [tag]);
    expect(entityTagOf(updated)).not.toBe(tag);
    await expect(
      service.update('acme', 'k', { enabled: true }, OPERATOR, [tag]),
    ).rejects.toBeInstanceOf(PreconditionFailedException);
    await expect(service.delete('acme', 'k', OPERATOR, [tag])).rejects.toBeInstanceOf(
      PreconditionFailedException,
    );
    await service.delete('acme', 'k', OPERATOR, ['"other"', entityTagOf(updated)]);
    await expect(service.delete('acme', 'k', OPERATOR, '*')).rejects.toBeInstanceOf(
      NotFoundException,
    );
  });

  it('deletes a key', async () => {
    await service.create('acme', { name: 'k' }, OPERATOR);
    await service.delete('acme', 'k', OPERATOR);
    await expect(service.list('acme')).resolves.toEqual([]);
  });
});
