import 'reflect-metadata';
import type { ConfigType } from '@nestjs/config';
import { Logger } from '@nestjs/common';
import { createApp } from './app.setup';
import { appConfig } from './config/app.config';
import { assertValidConfiguration } from './config/config.module';
import { ConfigError } from './config/environment';

/** A write waits at most 6 s for a lock and takes well under a second: 15 s is plenty. */
const SHUTDOWN_TIMEOUT_MS = 15_000;

async function bootstrap(): Promise<void> {
  try {
    assertValidConfiguration();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`tenant-api-keys: invalid configuration: ${error.message}\n`);
    process.exit(1);
  }
  const app = await createApp();
  // app.close() refuses new requests, lets those in flight and the queued writes finish, and
  // closes the server; then the process exits 0 (1 if that took longer than the bound).
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      setTimeout(() => {
        process.stderr.write(
          `tenant-api-keys: shutdown took over ${SHUTDOWN_TIMEOUT_MS} ms; exiting\n`,
        );
        process.exit(1);
      }, SHUTDOWN_TIMEOUT_MS).unref();
      app.close().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`tenant-api-keys: shutdown failed: ${String(error)}\n`);
          process.exit(1);
        },
      );
    });
  }
  const { host, port, tenantsDir } = app.get<ConfigType<typeof appConfig>>(appConfig.KEY);
  await app.listen(port, host);
  new Logger('Bootstrap').log(`serving ${tenantsDir} on ${await app.getUrl()}`);
}

bootstrap().catch((error: unknown) => {
  // e.g. EADDRINUSE: one line, no stack, like a configuration error.
  process.stderr.write(
    `tenant-api-keys: could not start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
