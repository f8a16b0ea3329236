import { ServerProcess } from './support/server-process';
import { STORES, type TenantStore } from './support/stores';
import { handKey } from './support/tenants';

jest.setTimeout(120_000);

const CREDITS = 500;
const VERIFIES = 2000;
/** Requests in flight at once on each replica. */
const CONCURRENCY = 64;

/** What came back from one verify: its status and problem code, or `lost` when the replica died. */
type Answer = { readonly status: number; readonly code?: string } | 'lost';

async function verifyOnce(server: ServerProcess, token: string): Promise<Answer> {
  try {
    const res = await fetch(`${server.url}/auth/verify?tenant=acme`, {
      headers: { 'X-API-Key': token },
    });
    const body = (await res.json()) as { code?: string };
    return { status: res.status, code: body.code };
  } catch {
    return 'lost';
  }
}

/**
 * `total` verifies of `token`, `CONCURRENCY` at a time on each server, dealt out in turn; a
 * request a dead server lost is sent again to a living one. `afterEach` sees each answer.
 */
async function load(
  servers: readonly ServerProcess[],
  token: string,
  total: number,
  afterEach: (answer: Answer, server: ServerProcess) => void = () => undefined,
): Promise<Answer[]> {
  const answers: Answer[] = [];
  let next = 0;
  const alive = new Set(servers);
  const worker = async (server: ServerProcess) => {
    while (next < total) {
      if (!alive.has(server)) {
        server = [...alive][0];
        if (!server) return;
      }
      next++;
      const answer = await verifyOnce(server, token);
      afterEach(answer, server);
      if (answer === 'lost') {
        alive.delete(server);
        next--; // not answered: someone sends it again
        continue;
      }
      answers.push(answer);
    }
  };
  await Promise.all(
    servers.flatMap((server) => Array.from({ length: CONCURRENCY }, () => worker(server))),
  );
  return answers;
}

const count = (answers: readonly Answer[], status: number, code?: string) =>
  answers.filter((a) => a !== 'lost' && a.status === status && (!code || a.code === code)).length;

describe.each(STORES)(
  'credits and rate limits across two replicas (e2e, built servers, %s)',
  (backend, open) => {
    let tenants: TenantStore;
    const servers: ServerProcess[] = [];
    const admin = handKey('admin', ['*']);
    const start = async () => {
      const server = await ServerProcess.start(
        { ...tenants.env, AUTH_FAILURE_LIMIT: '1000000' },
        { keepLogs: false },
      );
      servers.push(server);
      return server;
    };
    const remaining = async (server: ServerProcess, name: string) => {
      const res = await fetch(`${server.url}/api/acme/admin/apiKeys/${name}`, {
        headers: { 'X-API-Key': admin.token },
      });
      return ((await res.json()) as { credits: { remaining: number } }).credits.remaining;
    };

    beforeEach(async () => {
      tenants = await open();
    });

    afterEach(async () => {
      await Promise.all(servers.splice(0).map((server) => server.stop('SIGKILL')));
      await tenants.remove();
    });

    it(`gives exactly ${CREDITS} successes for ${VERIFIES} concurrent verifies of a key with ${CREDITS} credits`, async () => {
      const paid = handKey('paid', [], `    credits:\n      remaining: ${CREDITS}\n`);
      await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}${paid.yaml}`);
      const [a, b] = [await start(), await start()];
      const answers = await load([a, b], paid.token, VERIFIES);
      expect(answers).toHaveLength(VERIFIES);
      expect(count(answers, 200)).toBe(CREDITS);
      expect(count(answers, 429, 'USAGE_EXCEEDED')).toBe(VERIFIES - CREDITS);
      expect(await remaining(a, 'paid')).toBe(0);
      expect(await remaining(b, 'paid')).toBe(0);
      // Credits set through one replica count at the next verify on the other.
      const granted = await fetch(`${a.url}/api/acme/admin/apiKeys/paid`, {
        method: 'PUT',
        headers: { 'X-API-Key': admin.token, 'Content-Type': 'application/json' },
        body: JSON.stringify({ enabled: true, credits: { remaining: 3 } }),
      });
      expect(granted.status).toBe(200);
      const again = await Promise.all(Array.from({ length: 5 }, () => verifyOnce(b, paid.token)));
      expect(count(again, 200)).toBe(3);
    });

    it('never gives more successes than credits when a replica is killed -9 mid-load, and loses at most its verifies in flight', async () => {
      const paid = handKey('paid', [], `    credits:\n      remaining: ${CREDITS}\n`);
      await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}${paid.yaml}`);
      const [a, b] = [await start(), await start()];
      let successesBeforeKill = 0;
      let successesAfterKill = 0;
      let killed = false;
      const answers = await load([a, b], paid.token, VERIFIES, (answer, server) => {
        if (answer === 'lost') return;
        if (answer.status === 200) {
          if (killed) successesAfterKill++;
          else successesBeforeKill++;
        }
        // A fifth of the credits gone: A dies while its next batch is being spent.
        if (!killed && server === a && successesBeforeKill >= CREDITS / 5) {
          killed = a.child.kill('SIGKILL');
        }
      });
      // Killed mid-load: credits were still being spent afterwards.
      expect(successesAfterKill).toBeGreaterThan(0);
      expect(a.child.signalCode ?? (await a.stop()).signal).toBe('SIGKILL');
      const successes = count(answers, 200);
      // Spent is what the ledger holds as gone; B drains the rest, so it is all of it.
      expect(await remaining(b, 'paid')).toBe(0);
      expect(successes).toBeLessThanOrEqual(CREDITS);
      // What A had spent for requests it never answered: at most those it had in flight.
      expect(CREDITS - successes).toBeLessThanOrEqual(CONCURRENCY);
    });

    const perProcess = backend === 'yaml';
    it(
      perProcess
        ? 'holds each process to the rate limit on its own: at most replicas × limit in a window'
        : 'holds both replicas to one rate limit: exactly the limit in a window',
      async () => {
        const limited = handKey(
          'limited',
          [],
          '    rateLimit:\n      limit: 50\n      periodSeconds: 300\n',
        );
        await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}${limited.yaml}`);
        const [a, b] = [await start(), await start()];
        const byServer = new Map<ServerProcess, number>();
        const answers = await load([a, b], limited.token, 400, (answer, server) => {
          if (answer !== 'lost' && answer.status === 200) {
            byServer.set(server, (byServer.get(server) ?? 0) + 1);
          }
        });
        expect(count(answers, 200) + count(answers, 429, 'RATE_LIMITED')).toBe(400);
        if (perProcess) {
          // Each process is exact on its own: 50 each, as each saw more than 50 requests.
          expect(byServer.get(a)).toBe(50);
          expect(byServer.get(b)).toBe(50);
        } else {
          expect(count(answers, 200)).toBe(50);
        }
      },
    );
  },
);
