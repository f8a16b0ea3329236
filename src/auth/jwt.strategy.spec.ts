import { generateKeyPairSync } from 'node:crypto';
import type { Request } from 'express';
import { sign } from 'jsonwebtoken';
import { InvalidCredentialsError } from './credential-strategy';
import { CLOCK_TOLERANCE_SECONDS, JwtStrategy } from './jwt.strategy';

describe('JwtStrategy: verifications remembered per token', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const strategy = new JwtStrategy({
    jwtPublicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    algorithms: ['RS256'],
    tenantClaim: 'tenant',
  } as never);
  const requestWith = (token: string) =>
    ({ headers: { authorization: `Bearer ${token}` } }) as unknown as Request;
  const tokenFor = (claims: object) =>
    sign({ sub: 'alice', scope: 'tenant.apiKey:read', tenant: 'acme', ...claims }, privateKey, {
      algorithm: 'RS256',
    });

  afterEach(() => jest.useRealTimers());

  it('checks a token once, then answers from memory while it is valid, and refuses it once expired', async () => {
    jest.useFakeTimers({
      now: Date.parse('2026-12-06T00:00:00Z'),
      doNotFake: ['nextTick', 'setImmediate'],
    });
    const exp = Math.floor(Date.now() / 1000) + 60;
    const token = tokenFor({ exp });
    const verify = jest.spyOn(strategy as never, 'verify' as never);
    const first = await strategy.authenticate(requestWith(token));
    expect(first).toMatchObject({ method: 'bearer', subject: 'alice', tenants: ['acme'] });
    expect(await strategy.authenticate(requestWith(token))).toBe(first);
    expect(verify).toHaveBeenCalledTimes(1);
    jest.setSystemTime((exp + CLOCK_TOLERANCE_SECONDS) * 1000);
    await expect(strategy.authenticate(requestWith(token))).rejects.toBeInstanceOf(
      InvalidCredentialsError,
    );
    expect(verify).toHaveBeenCalledTimes(2);
  });

  it('remembers no failure, and no token of another signature', async () => {
    const token = tokenFor({ exp: Math.floor(Date.now() / 1000) + 60 });
    await strategy.authenticate(requestWith(token));
    const forged = `${token.slice(0, token.lastIndexOf('.'))}.${'A'.repeat(342)}`;
    await expect(strategy.authenticate(requestWith(forged))).rejects.toBeInstanceOf(
      InvalidCredentialsError,
    );
    await expect(strategy.authenticate(requestWith(forged))).rejects.toBeInstanceOf(
      InvalidCredentialsError,
    );
  });
});
