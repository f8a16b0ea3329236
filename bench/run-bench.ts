/**
 * `npm run bench`: the built server on 127.0.0.1, driven by autocannon from this separate
 * process, against the targets of the README. Prints a table and writes bench/RESULTS.md.
 * Speed targets are ratios of runs made side by side in this one run, so a noisy machine
 * moves both sides alike.
 */
import autocannon from 'autocannon';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, freemem, totalmem, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from 'jsonwebtoken';
import { startPostgres, stopPostgres } from '../test/support/postgres-global';
import { ServerProcess } from '../test/support/server-process';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 5);
const READ_CONNECTIONS = 32;
const ROUNDS = 2;
/** e.g. BENCH_ONLY=reads,creates to run some parts (the results file then holds only those). */
const ONLY = process.env.BENCH_ONLY?.split(',');

interface Row {
  readonly measure: string;
  readonly value: string;
  readonly target?: string;
  readonly pass?: boolean;
}
const rows: Row[] = [];
const record = (row: Row) => {
  rows.push(row);
  const verdict = row.pass === undefined ? '' : row.pass ? '  PASS' : '  FAIL';
  console.log(`${row.measure.padEnd(86)} ${row.value.padStart(22)}${verdict}`);
};

const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');
const newToken = () => `tak_${randomBytes(32).toString('base64url')}`;

/** A tenant folder whose security.yml holds `count` keys; the first, `admin`, has `*`. */
async function writeTenant(root: string, tenant: string, count: number): Promise<string[]> {
  const tokens: string[] = [];
  const lines = ['apiKeys:'];
  for (let i = 0; i < count; i++) {
    const token = newToken();
    tokens.push(token);
    const permissions = i === 0 ? '["*"]' : '["tenant.apiKey:read"]';
    lines.push(
      `  - name: ${i === 0 ? 'admin' : `key-${i}`}`,
      `    enabled: true`,
      `    permissions: ${permissions}`,
      `    hash: "${sha256(token)}"`,
      `    createdAt: "2026-11-29T16:00:00.000Z"`,
      `    updatedAt: "2026-11-29T16:00:00.000Z"`,
    );
  }
  await mkdir(join(root, tenant), { recursive: true });
  await writeFile(join(root, tenant, 'security.yml'), `${lines.join('\n')}\n`);
  return tokens;
}

async function load(options: autocannon.Options): Promise<autocannon.Result> {
  return autocannon({ duration: DURATION_S, ...options });
}

async function reads(url: string, headers: Record<string, string>): Promise<autocannon.Result> {
  return load({ url, headers, connections: READ_CONNECTIONS });
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** CPU time (user + system, all threads) the process has used, in ms; Linux counts in 10 ms ticks. */
async function cpuMs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * How many creates shared one rewrite (group commit): each batch's audit lines carry one
 * `time`, so lines per distinct time (batches written in the same millisecond count as one).
 */
async function createsPerWrite(auditLog: string): Promise<number> {
  const lines = (await readFile(auditLog, 'utf8')).split('\n').filter(Boolean);
  const writes = new Set(lines.map((line) => (JSON.parse(line) as { time: string }).time));
  return lines.length / writes.size;
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kib / 1024;
}

/**
 * Each case run once to warm up, then ROUNDS rounds of all of them in turn (so noise moves
 * every case alike); requests/s per case, each recorded under `label`. Any non-2xx fails.
 */
async function sideBySide(
  cases: Record<string, () => Promise<autocannon.Result>>,
  label: string,
): Promise<Record<string, number[]>> {
  const rps: Record<string, number[]> = {};
  for (const run of Object.values(cases)) await run();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of Object.entries(cases)) {
      const result = await run();
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name}: non-2xx answers`);
      (rps[name] ??= []).push(result.requests.average);
    }
  }
  for (const [name, values] of Object.entries(rps)) {
    record({ measure: `${label}: ${name}`, value: mean(values).toFixed(0) });
  }
  return rps;
}

/** Where `tsc -p bench` writes the floor app (beside this file). */
const FLOOR_APP = join(__dirname, 'floor-app.js');

/**
 * The hot path against the framework's floor: a minimal NestJS app of the same version and
 * the service, started side by side and loaded in turns, rounds alternating, so that the
 * machine's noise moves every case alike. Requests/s and server CPU per request.
 */
async function readBenchmarks(root: string): Promise<void> {
  const small = await writeTenant(root, 't10', 10);
  const large = await writeTenant(root, 't10k', 10_000);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwt = sign({ sub: 'bench', scope: 'tenant.apiKey:read', tenant: 't10' }, privateKey, {
    algorithm: 'RS256',
    expiresIn: 3600,
  });
  const floor = await ServerProcess.start({}, { keepLogs: false, script: FLOOR_APP });
  const server = await ServerProcess.start(
    {
      TENANTS_DIR: root,
      AUTH_JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    },
    { keepLogs: false },
  );
  try {
    const verify = (tenant: string, token: string) => () =>
      reads(`${server.url}/auth/verify?tenant=${tenant}&scope=tenant.apiKey:read`, {
        'X-API-Key': token,
      });
    const cases = {
      floor: [floor, () => reads(`${floor.url}/floor`, {})],
      health: [server, () => reads(`${server.url}/health`, {})],
      verify10: [server, verify('t10', small[1])],
      verify10k: [server, verify('t10k', large[9_999])],
      key10: [
        server,
        () => reads(`${server.url}/api/t10/admin/apiKeys/key-5`, { 'X-API-Key': small[1] }),
      ],
      key10k: [
        server,
        () => reads(`${server.url}/api/t10k/admin/apiKeys/key-5000`, { 'X-API-Key': large[9_999] }),
      ],
      bearer: [
        server,
        () =>
          reads(`${server.url}/api/t10/admin/apiKeys/key-5`, { Authorization: `Bearer ${jwt}` }),
      ],
    } satisfies Record<string, [ServerProcess, () => Promise<autocannon.Result>]>;
    type Case = keyof typeof cases;
    const names = Object.keys(cases) as Case[];
    const cpu = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<
      Case,
      number[]
    >;
    const rps = structuredClone(cpu);
    const p99 = structuredClone(cpu);
    for (const [, run] of Object.values(cases)) await run(); // warm the JIT and the caches
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of names) {
        const [target, run] = cases[name];
        const pid = target.child.pid as number;
        const cpuBefore = await cpuMs(pid);
        const result = await run();
        cpu[name].push(((await cpuMs(pid)) - cpuBefore) / result.requests.total);
        if (result.non2xx > 0 || result.errors > 0) {
          throw new Error(`${name}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
        }
        rps[name].push(result.requests.average);
        p99[name].push(result.latency.p99);
      }
    }
    const label: Record<Case, string> = {
      floor: 'floor: minimal NestJS app, one JSON route',
      health: 'GET /health',
      verify10: 'GET /auth/verify, X-API-Key and a scope, tenant of 10 keys',
      verify10k: 'GET /auth/verify, X-API-Key and a scope, tenant of 10,000 keys',
      key10: 'GET one key, X-API-Key, tenant of 10 keys',
      key10k: 'GET one key, X-API-Key, tenant of 10,000 keys',
      bearer: 'GET one key, bearer JWT (RS256)',
    };
    for (const name of names) {
      record({
        measure: `${label[name]}: requests/s (p99 ms) [server CPU ms/request]`,
        value: `${mean(rps[name]).toFixed(0)} (${mean(p99[name]).toFixed(1)}) [${mean(cpu[name]).toFixed(2)}]`,
      });
    }
    const ratio = (measure: string, a: Case, b: Case, min: number) => {
      const value = mean(rps[a]) / mean(rps[b]);
      record({
        measure,
        value: value.toFixed(2),
        target: `>= ${min.toFixed(2)}`,
        pass: value >= min,
      });
    };
    ratio('verify (10 keys) / floor requests/s', 'verify10', 'floor', 0.6);
    ratio('verify (10,000 keys) / floor requests/s', 'verify10k', 'floor', 0.6);
    ratio('admin GET of one key / floor requests/s', 'key10', 'floor', 0.5);
    ratio('API-key GET / health requests/s', 'key10', 'health', 0.8);
    ratio('10,000-key tenant / 10-key tenant requests/s', 'key10k', 'key10', 0.9);
    ratio('bearer JWT GET of one key / floor requests/s', 'bearer', 'floor', 0.6);
    record({
      measure: 'health / floor requests/s (no target)',
      value: (mean(rps.health) / mean(rps.floor)).toFixed(2),
    });
  } finally {
    await Promise.all([server.stop(), floor.stop()]);
  }
}

async function createBenchmarks(root: string): Promise<void> {
  const server = await ServerProcess.start({ TENANTS_DIR: root }, { keepLogs: false });
  let serial = 0;
  try {
    for (const size of [0, 1_000, 10_000]) {
      for (const connections of [1, 16, 64]) {
        const tenant = `c${size}-${connections}`;
        const [admin] = await writeTenant(root, tenant, size + 1);
        const cpuBefore = await cpuMs(server.child.pid as number);
        const result = await load({
          url: `${server.url}/api/${tenant}/admin/apiKeys`,
          method: 'POST',
          connections,
          headers: { 'X-API-Key': admin, 'Content-Type': 'application/json' },
          requests: [
            {
              setupRequest: (request) => ({
                ...request,
                body: JSON.stringify({ name: `bench-${++serial}` }),
              }),
            },
          ],
        });
        const created = result['2xx'] / (result.duration || DURATION_S);
        const perCreate = ((await cpuMs(server.child.pid as number)) - cpuBefore) / result['2xx'];
        const perWrite = await createsPerWrite(join(root, tenant, 'audit.log'));
        // The targets: many writers into a mid-sized tenant, and one writer into a large one.
        const minimum =
          size === 1_000 && connections === 64
            ? 1000
            : size === 10_000 && connections === 1
              ? 60
              : undefined;
        record({
          measure: `creates/s, concurrency ${connections}, tenant of ${size.toLocaleString('en')} keys [server CPU ms/create; creates/write]`,
          value: `${created.toFixed(0)}${result.non2xx ? ` (${result.non2xx} non-2xx)` : ''} [${perCreate.toFixed(2)}; ${perWrite.toFixed(1)}]`,
          target: minimum === undefined ? undefined : `>= ${minimum}`,
          pass: minimum === undefined ? undefined : created >= minimum && result.non2xx === 0,
        });
      }
    }
  } finally {
    await server.stop();
  }
}

async function revocationBenchmark(root: string): Promise<void> {
  const tokens = await writeTenant(root, 'rev', 101);
  // 100 deliberate 401s from one address: lift the failed-auth limit, which is not under test here.
  const revocationEnv = { TENANTS_DIR: root, AUTH_FAILURE_LIMIT: '1000000' };
  const [a, b] = [
    await ServerProcess.start(revocationEnv, { keepLogs: false }),
    await ServerProcess.start(revocationEnv, { keepLogs: false }),
  ];
  try {
    let stale = 0;
    for (let i = 1; i <= 100; i++) {
      // B has seen the key work before its deletion, so it holds the tenant parsed and cached.
      const before = await fetch(`${b.url}/api/rev/admin/apiKeys/key-${i}`, {
        headers: { 'X-API-Key': tokens[i] },
      });
      if (before.status !== 200) throw new Error(`key-${i} did not work before deletion`);
      const deleted = await fetch(`${a.url}/api/rev/admin/apiKeys/key-${i}`, {
        method: 'DELETE',
        headers: { 'X-API-Key': tokens[0] },
      });
      if (deleted.status !== 204) throw new Error(`DELETE key-${i} answered ${deleted.status}`);
      const after = await fetch(`${b.url}/api/rev/admin/apiKeys/key-${i}`, {
        headers: { 'X-API-Key': tokens[i] },
      });
      if (after.status === 200) stale++;
    }
    record({
      measure: 'revocation: stale 200s from B after A acknowledged 100 DELETEs',
      value: String(stale),
      target: '0',
      pass: stale === 0,
    });
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

/** One request for each tenant `m<t>` with its token, 32 at a time: every tenant touched once. */
async function touchTenants(server: ServerProcess, tokens: readonly string[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tokens.length) {
      const t = next++;
      const res = await fetch(`${server.url}/api/m${t}/admin/apiKeys`, {
        headers: { 'X-API-Key': tokens[t] },
      });
      if (res.status !== 200) throw new Error(`tenant m${t} answered ${res.status}`);
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}

async function memoryBenchmark(root: string): Promise<void> {
  const tokens: string[] = [];
  for (let t = 0; t < 10_000; t++) {
    tokens.push((await writeTenant(root, `m${t}`, 10))[3]);
  }
  const server = await ServerProcess.start({ TENANTS_DIR: root }, { keepLogs: false });
  try {
    const idle = await rssMiB(server.child.pid as number);
    await touchTenants(server, tokens);
    const touched = await rssMiB(server.child.pid as number);
    record({ measure: 'resident memory after start (MiB)', value: idle.toFixed(0) });
    record({
      measure: 'resident memory after touching 10,000 tenants of 10 keys (MiB)',
      value: touched.toFixed(0),
      target: '< 300',
      pass: touched < 300,
    });
  } finally {
    await server.stop();
  }
}

/**
 * Memory with PostgreSQL: 10,000 tenants of 10 keys written straight into the (migrated)
 * database, then a fresh server in strict mode and one with AUTH_CACHE_MS touching each once.
 */
async function postgresMemory(pg: Record<string, string>, databaseUrl: string): Promise<void> {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  const tokens: string[] = [];
  try {
    const tenants: string[] = [];
    const names: string[] = [];
    const hashes: string[] = [];
    for (let t = 0; t < 10_000; t++) {
      tenants.push(`m${t}`);
      for (let k = 0; k < 10; k++) {
        const token = newToken();
        if (k === 3) tokens.push(token);
        names.push(`m${t}\n${k === 0 ? 'admin' : `key-${k}`}`);
        hashes.push(sha256(token));
      }
    }
    await client.query('INSERT INTO tenants (id) SELECT unnest($1::text[])', [tenants]);
    await client.query(
      `INSERT INTO api_keys (tenant_id, name, enabled, permissions, hash)
       SELECT split_part(n, E'\n', 1), split_part(n, E'\n', 2), true,
              ARRAY['tenant.apiKey:read'], h
         FROM unnest($1::text[], $2::text[]) AS u (n, h)`,
      [names, hashes],
    );
  } finally {
    await client.end();
  }
  for (const [mode, env] of [
    ['strict', pg],
    ['AUTH_CACHE_MS=1000', { ...pg, AUTH_CACHE_MS: '1000' }],
  ] as const) {
    const server = await ServerProcess.start(env, { keepLogs: false });
    try {
      const idle = await rssMiB(server.child.pid as number);
      await touchTenants(server, tokens);
      const touched = await rssMiB(server.child.pid as number);
      record({
        measure: `PostgreSQL ${mode}: resident memory after start, after touching 10,000 tenants of 10 keys (MiB)`,
        value: `${idle.toFixed(0)}, ${touched.toFixed(0)}`,
      });
    } finally {
      await server.stop();
    }
  }
}

async function keys(env: Record<string, string>, ...args: string[]): Promise<void> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  await promisify(execFile)(process.execPath, [join(process.cwd(), 'dist', 'cli.js'), ...args], {
    env: { PATH: process.env.PATH, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** Creates/s at `connections` into `tenant`, answered 201, and the server's CPU per create. */
async function createsAt(
  connections: number,
  server: ServerProcess,
  tenant: string,
  admin: string,
  prefix: string,
): Promise<{ rate: number; non2xx: number; cpu: number }> {
  let serial = 0;
  const cpuBefore = await cpuMs(server.child.pid as number);
  const result = await load({
    url: `${server.url}/api/${tenant}/admin/apiKeys`,
    method: 'POST',
    connections,
    headers: { 'X-API-Key': admin, 'Content-Type': 'application/json' },
    requests: [
      {
        setupRequest: (request) => ({
          ...request,
          body: JSON.stringify({ name: `${prefix}-${++serial}` }),
        }),
      },
    ],
  });
  return {
    rate: result['2xx'] / (result.duration || DURATION_S),
    non2xx: result.non2xx,
    cpu: ((await cpuMs(server.child.pid as number)) - cpuBefore) / Math.max(1, result['2xx']),
  };
}

/**
 * PostgreSQL beside YAML, side by side in this run: API-key GETs (strict, and with
 * AUTH_CACHE_MS=1000) against the YAML store, creates at concurrency 64 into a 1,000-key
 * tenant, and revocation staleness across two processes in strict mode.
 */
async function postgresBenchmarks(root: string): Promise<void> {
  await startPostgres();
  const databaseUrl = process.env.TEST_DATABASE_URL as string;
  const pg = { STORAGE: 'postgres', DATABASE_URL: databaseUrl, AUTH_FAILURE_LIMIT: '1000000' };
  try {
    const small = await writeTenant(root, 'p10', 10);
    const large = await writeTenant(root, 'p10k', 10_000);
    const [writer] = await writeTenant(root, 'p1k', 1_001);
    const [writerPg] = await writeTenant(root, 'q1k', 1_001);
    const revoked = await writeTenant(root, 'prev', 101);
    for (const tenant of ['p10', 'p10k', 'q1k', 'prev']) {
      await keys(pg, 'import', tenant, join(root, tenant, 'security.yml'));
    }
    const yaml = await ServerProcess.start({ TENANTS_DIR: root }, { keepLogs: false });
    const strict = await ServerProcess.start(pg, { keepLogs: false });
    const cached = await ServerProcess.start({ ...pg, AUTH_CACHE_MS: '1000' }, { keepLogs: false });
    try {
      const get = (server: ServerProcess, tenant: string, key: string, token: string) => () =>
        reads(`${server.url}/api/${tenant}/admin/apiKeys/${key}`, { 'X-API-Key': token });
      const cases = {
        yaml10: get(yaml, 'p10', 'key-5', small[1]),
        strict10: get(strict, 'p10', 'key-5', small[1]),
        cached10: get(cached, 'p10', 'key-5', small[1]),
        yaml10k: get(yaml, 'p10k', 'key-5000', large[9_999]),
        strict10k: get(strict, 'p10k', 'key-5000', large[9_999]),
      };
      const rps = await sideBySide(cases, 'postgres bench, API-key GET requests/s');
      const strictRatio = mean(rps.strict10) / mean(rps.yaml10);
      record({
        measure: 'PostgreSQL strict / YAML, API-key GET requests/s (10 keys)',
        value: strictRatio.toFixed(2),
        target: '>= 0.75',
        pass: strictRatio >= 0.75,
      });
      const strictLarge = mean(rps.strict10k) / mean(rps.yaml10k);
      record({
        measure: 'PostgreSQL strict / YAML, API-key GET requests/s (10,000 keys)',
        value: strictLarge.toFixed(2),
        target: '>= 0.75',
        pass: strictLarge >= 0.75,
      });
      const cacheRatio = mean(rps.cached10) / mean(rps.yaml10);
      record({
        measure: 'PostgreSQL with AUTH_CACHE_MS=1000 / YAML, API-key GET requests/s',
        value: cacheRatio.toFixed(2),
        target: '>= 0.90',
        pass: cacheRatio >= 0.9,
      });
      const fromYaml = await createsAt(64, yaml, 'p1k', writer, 'y');
      const fromPg = await createsAt(64, strict, 'q1k', writerPg, 'p');
      record({
        measure:
          'creates/s at concurrency 64 into a 1,000-key tenant: YAML, PostgreSQL [CPU ms/create]',
        value: `${fromYaml.rate.toFixed(0)}, ${fromPg.rate.toFixed(0)} [${fromYaml.cpu.toFixed(2)}, ${fromPg.cpu.toFixed(2)}]`,
        target: 'PostgreSQL >= YAML',
        pass: fromPg.rate >= fromYaml.rate && fromPg.non2xx === 0,
      });
      // One writer into 10,000 keys: YAML writes the whole file each time, PostgreSQL one row.
      const serialYaml = await createsAt(1, yaml, 'p10k', large[0], 'y');
      const serialPg = await createsAt(1, strict, 'p10k', large[0], 'p');
      record({
        measure:
          'creates/s, one at a time, into a 10,000-key tenant: YAML, PostgreSQL [CPU ms/create]',
        value: `${serialYaml.rate.toFixed(0)}, ${serialPg.rate.toFixed(0)} [${serialYaml.cpu.toFixed(2)}, ${serialPg.cpu.toFixed(2)}]`,
        target: '>= 60 each',
        pass:
          serialYaml.rate >= 60 &&
          serialPg.rate >= 60 &&
          serialYaml.non2xx === 0 &&
          serialPg.non2xx === 0,
      });
      // Each key works on the reader first (so a cache would hold it), is deleted through the
      // other process, and is tried again on the reader at once.
      const staleness = async (reader: ServerProcess, writer: ServerProcess, from: number) => {
        let stale = 0;
        for (let i = from; i < from + 50; i++) {
          const url = (server: ServerProcess) => `${server.url}/api/prev/admin/apiKeys/key-${i}`;
          const before = await fetch(url(reader), { headers: { 'X-API-Key': revoked[i] } });
          if (before.status !== 200) throw new Error(`key-${i} did not work before deletion`);
          const deleted = await fetch(url(writer), {
            method: 'DELETE',
            headers: { 'X-API-Key': revoked[0] },
          });
          if (deleted.status !== 204) throw new Error(`DELETE answered ${deleted.status}`);
          const after = await fetch(url(reader), { headers: { 'X-API-Key': revoked[i] } });
          if (after.status === 200) stale++;
        }
        return stale;
      };
      const strictStale = await staleness(strict, cached, 1);
      record({
        measure:
          'PostgreSQL strict: stale 200s right after another process acknowledged 50 DELETEs',
        value: String(strictStale),
        target: '0',
        pass: strictStale === 0,
      });
      record({
        measure:
          'PostgreSQL AUTH_CACHE_MS=1000: stale 200s right after 50 DELETEs elsewhere (bound 1 s)',
        value: String(await staleness(cached, strict, 51)),
      });
    } finally {
      await Promise.all([yaml.stop(), strict.stop(), cached.stop()]);
    }
    await postgresMemory(pg, databaseUrl);
  } finally {
    await stopPostgres();
  }
}

/** A tenant of three keys granting `orders:read`: one plain, one with a rate limit, one with credits. */
async function writePolicyTenant(
  root: string,
  tenant: string,
): Promise<Record<'plain' | 'limited' | 'credited', string>> {
  const policies = {
    plain: '',
    // Limits no run reaches: what is measured is the counting, not refusals.
    limited: '    rateLimit: { limit: 1000000000, periodSeconds: 86400 }\n',
    credited: '    credits: { remaining: 1000000000000 }\n',
  };
  const tokens = { plain: newToken(), limited: newToken(), credited: newToken() };
  const entries = Object.entries(policies).map(
    ([name, extra]) =>
      `  - name: ${name}\n    permissions: ["orders:read"]\n    hash: "${sha256(tokens[name as keyof typeof tokens])}"\n${extra}`,
  );
  await mkdir(join(root, tenant), { recursive: true });
  await writeFile(join(root, tenant, 'security.yml'), `apiKeys:\n${entries.join('')}`);
  return tokens;
}

/**
 * Verification of keys with policies against keys without, side by side: a rate limit on YAML
 * (counted in the process), credits on PostgreSQL (a locked, committed spend per batch), and
 * the other pairings for the record.
 */
async function policyBenchmarks(root: string): Promise<void> {
  await startPostgres();
  const pg = {
    STORAGE: 'postgres',
    DATABASE_URL: process.env.TEST_DATABASE_URL as string,
    AUTH_FAILURE_LIMIT: '1000000',
  };
  try {
    const tokens = await writePolicyTenant(root, 'pol');
    await keys(pg, 'import', 'pol', join(root, 'pol', 'security.yml'));
    const yaml = await ServerProcess.start(
      { TENANTS_DIR: root, AUTH_FAILURE_LIMIT: '1000000' },
      { keepLogs: false },
    );
    const strict = await ServerProcess.start(pg, { keepLogs: false });
    try {
      const verify = (server: ServerProcess, token: string) => () =>
        reads(`${server.url}/auth/verify?tenant=pol&scope=orders:read`, { 'X-API-Key': token });
      const cases = {
        yamlPlain: verify(yaml, tokens.plain),
        yamlLimited: verify(yaml, tokens.limited),
        yamlCredited: verify(yaml, tokens.credited),
        pgPlain: verify(strict, tokens.plain),
        pgCredited: verify(strict, tokens.credited),
        pgLimited: verify(strict, tokens.limited),
      };
      const rps = await sideBySide(cases, 'policies bench, verify requests/s');
      const ratio = (measure: string, a: string, b: string, min?: number) => {
        const value = mean(rps[a]) / mean(rps[b]);
        record({
          measure,
          value: value.toFixed(2),
          ...(min !== undefined && { target: `>= ${min.toFixed(2)}`, pass: value >= min }),
        });
      };
      ratio(
        'YAML: verify of a rate-limited key / of a key without',
        'yamlLimited',
        'yamlPlain',
        0.7,
      );
      ratio(
        'PostgreSQL strict: verify of a key with credits / of a key without',
        'pgCredited',
        'pgPlain',
        0.5,
      );
      ratio(
        'YAML: verify of a key with credits / without (no target)',
        'yamlCredited',
        'yamlPlain',
      );
      ratio(
        'PostgreSQL: verify of a rate-limited key / without (no target)',
        'pgLimited',
        'pgPlain',
      );
    } finally {
      await Promise.all([yaml.stop(), strict.stop()]);
    }
  } finally {
    await stopPostgres();
  }
}

function machine(): string {
  const cpu = cpus();
  return [
    `- CPU: ${cpu[0]?.model ?? 'unknown'}, ${cpu.length} cores`,
    `- memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} GiB free at the end)`,
    `- OS: Linux ${release()}; Node.js ${process.version}`,
  ].join('\n');
}

async function writeResults(started: Date): Promise<void> {
  const table = [
    '| measure | value | target | verdict |',
    '| --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.measure} | ${r.value} | ${r.target ?? ''} | ${r.pass === undefined ? '' : r.pass ? 'PASS' : 'FAIL'} |`,
    ),
  ].join('\n');
  const text = `# Benchmark results

Measured ${started.toISOString()} with \`npm run bench\` (build, then \`node dist-bench/bench/run-bench.js\`):
the built server (\`node dist/main.js\`, LOG_LEVEL=info, its log read and discarded) on 127.0.0.1, driven
by autocannon from the bench process. Reads: ${READ_CONNECTIONS} connections, ${DURATION_S} s per run,
${ROUNDS} rounds alternating the cases, averaged, the floor (a minimal NestJS app, \`bench/floor-app.ts\`)
among them; creates: ${DURATION_S} s per run with
unique names. Ratios compare runs made side by side in this one run.

Machine:

${machine()}

${table}
`;
  // The profile's findings are written by hand (bench/profile.md) and kept with every run.
  const findings = await readFile(join(process.cwd(), 'bench', 'profile.md'), 'utf8');
  await writeFile(join(process.cwd(), 'bench', 'RESULTS.md'), `${text}\n${findings}`);
}

async function main(): Promise<void> {
  const started = new Date();
  const root = await mkdtemp(join(tmpdir(), 'tenant-api-keys-bench-'));
  try {
    for (const [name, step] of [
      ['reads', readBenchmarks],
      ['creates', createBenchmarks],
      ['revocation', revocationBenchmark],
      ['memory', memoryBenchmark],
      ['postgres', postgresBenchmarks],
      ['policies', policyBenchmarks],
    ] as const) {
      if (ONLY && !ONLY.includes(name)) continue;
      const dir = join(root, name);
      await mkdir(dir);
      await step(dir);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  await writeResults(started);
  const failed = rows.filter((r) => r.pass === false);
  console.log(
    `\n${rows.filter((r) => r.pass).length} passed, ${failed.length} failed; written to bench/RESULTS.md`,
  );
  process.exitCode = failed.length > 0 ? 1 : 0;
}

void main();
