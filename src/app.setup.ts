import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { deferredJsonBodyParser } from './common/json-body';
import { setupSwagger } from './swagger';

/** The application as main.ts serves it and the e2e specs test it. */
export async function createApp(): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule, {
    bodyParser: false,
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  app.disable('x-powered-by');
  // Entity tags are ours: strong, per key, on the routes that honour If-Match.
  app.set('etag', false);
  app.use(deferredJsonBodyParser());
  app.enableShutdownHooks();
  setupSwagger(app);
  return app;
}
