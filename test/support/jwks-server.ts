import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sign, type SignOptions } from 'jsonwebtoken';

export type JwksMode = 'ok' | 'garbage' | 'hang';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * A real identity provider's key endpoint on 127.0.0.1: serves a JWKS over HTTP, signs tokens
 * with its key, and can answer garbage, hang, or go down and come back on the same port.
 */
export class JwksServer {
  readonly issuer = 'https://idp.test/realms/tenants';
  readonly audience = 'tenant-api-keys';
  readonly kid = 'test-key-1';
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** A key the JWKS does not publish. */
  readonly strangerKey: KeyObject;
  mode: JwksMode = 'ok';
  requests = 0;
  private server?: Server;
  private port = 0;

  constructor() {
    ({ privateKey: this.privateKey, publicKey: this.publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
    }));
    this.strangerKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  }

  get jwksUri(): string {
    return `http://127.0.0.1:${this.port}/jwks.json`;
  }

  get publicKeyPem(): string {
    return this.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.requests++;
      if (this.mode === 'hang') return; // never answers
      if (this.mode === 'garbage') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('<html>not a jwks</html>');
        return;
      }
      const jwk = {
        ...this.publicKey.export({ format: 'jwk' }),
        kid: this.kid,
        use: 'sig',
        alg: 'RS256',
      };
      res
        .writeHead(200, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** A token with the usual claims, overridable; signed RS256 with the published key by default. */
  token(
    claims: Record<string, unknown> = {},
    options: SignOptions & { key?: KeyObject } = {},
  ): string {
    const { key = this.privateKey, ...rest } = options;
    return sign(
      { sub: 'alice', scope: 'tenant.apiKey:read tenant.apiKey:write', tenant: 'acme', ...claims },
      key,
      {
        algorithm: 'RS256',
        keyid: this.kid,
        issuer: this.issuer,
        audience: this.audience,
        expiresIn: 300,
        ...rest,
      },
    );
  }

  /** A token signed with the published key whose payload is exactly `claims` (no `exp` unless given). */
  rawToken(claims: Record<string, unknown>): string {
    return sign(claims, this.privateKey, {
      algorithm: 'RS256',
      keyid: this.kid,
      noTimestamp: true,
    });
  }

  /** An unsigned token (`alg: none`). */
  unsignedToken(claims: Record<string, unknown>): string {
    return `${b64({ alg: 'none', typ: 'JWT', kid: this.kid })}.${b64(this.claims(claims))}.`;
  }

  /** HS256 signed with the public key as the HMAC secret: the classic algorithm-confusion attack. */
  hmacWithPublicKey(claims: Record<string, unknown>): string {
    const body = `${b64({ alg: 'HS256', typ: 'JWT', kid: this.kid })}.${b64(this.claims(claims))}`;
    const signature = createHmac('sha256', this.publicKeyPem).update(body).digest('base64url');
    return `${body}.${signature}`;
  }

  /** A valid token whose payload was swapped for another after signing. */
  tampered(claims: Record<string, unknown>): string {
    const [header, , signature] = this.token().split('.');
    return `${header}.${b64(this.claims(claims))}.${signature}`;
  }

  private claims(claims: Record<string, unknown>): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000);
    return {
      sub: 'mallory',
      iss: this.issuer,
      aud: this.audience,
      iat: now,
      exp: now + 300,
      tenant: 'acme',
      ...claims,
    };
  }
}
