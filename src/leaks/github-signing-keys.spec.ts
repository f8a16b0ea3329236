import { generateKeyPairSync, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../common/clock';
import { GithubSigningKeys, REFETCH_INTERVAL_MS } from './github-signing-keys';

describe('the keys that sign secret scanning reports', () => {
  const first = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const second = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = (key: typeof first) =>
    key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  let published: Array<{ key_identifier: string; key: string }>;
  let fetches: number;
  let server: Server;
  let keys: GithubSigningKeys;
  let clock: ManualClock;
  const payload = Buffer.from('[{"token":"tak_x","type":"t"}]');
  const signed = (key: typeof first) => sign('sha256', payload, key.privateKey).toString('base64');

  beforeEach(async () => {
    published = [{ key_identifier: 'one', key: pem(first) }];
    fetches = 0;
    server = createServer((_request, response) => {
      fetches++;
      response.end(JSON.stringify({ public_keys: published }));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    clock = new ManualClock();
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/keys`;
    keys = new GithubSigningKeys({ signingKeysUrl: url }, clock);
  });

  afterEach(() => new Promise((done) => server.close(done)));

  it('verifies a signature by the named key, and nothing else', async () => {
    expect(await keys.verifies('one', signed(first), payload)).toBe(true);
    expect(await keys.verifies('one', signed(second), payload)).toBe(false);
    expect(await keys.verifies('one', signed(first), Buffer.from('other'))).toBe(false);
    expect(await keys.verifies('one', 'garbage', payload)).toBe(false);
  });

  it('fetches again for an identifier it does not know, at most once per interval', async () => {
    await keys.verifies('one', signed(first), payload);
    expect(fetches).toBe(1);
    published.push({ key_identifier: 'two', key: pem(second) });
    expect(await keys.verifies('two', signed(second), payload)).toBe(false); // too soon
    expect(await keys.verifies('made-up', signed(second), payload)).toBe(false);
    expect(fetches).toBe(1);
    clock.advance(REFETCH_INTERVAL_MS);
    expect(await keys.verifies('two', signed(second), payload)).toBe(true);
    expect(fetches).toBe(2);
    expect(await keys.verifies('one', signed(first), payload)).toBe(true); // known: no fetch
    expect(fetches).toBe(2);
  });

  it('shares one fetch among reports that arrive together', async () => {
    const all = await Promise.all(
      Array.from({ length: 10 }, () => keys.verifies('one', signed(first), payload)),
    );
    expect(all.every(Boolean)).toBe(true);
    expect(fetches).toBe(1);
  });

  it('answers 503 while the keys have never been fetched', async () => {
    const unreachable = new GithubSigningKeys({ signingKeysUrl: 'http://127.0.0.1:9/keys' }, clock);
    for (let i = 0; i < 2; i++) {
      await expect(unreachable.verifies('one', signed(first), payload)).rejects.toMatchObject({
        status: 503,
      });
    }
  });
});
