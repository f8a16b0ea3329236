import type { INestApplication } from '@nestjs/common';
import type { Request, RequestHandler, Response } from 'express';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { ConfigType } from '@nestjs/config';
import helmet from 'helmet';
import { AppModule } from './app.module';
import { deferredJsonBodyParser } from './common/json-body';
import { AppLogger } from './common/logging.module';
import { Metrics } from './common/metrics';
import { ShutdownGate } from './common/shutdown-gate';
import { appConfig } from './config/app.config';
import { docsTrailingSlash, setupSwagger } from './swagger';
import { authConfig } from './config/auth.config';

/**
 * The headers a helmet middleware sets, found by running it once on a response that records
 * them: with no nonce in our policy they are the same for every request, so each request
 * gets the list instead of helmet's twelve middlewares one after the other.
 */
function headersSetBy(middleware: RequestHandler): ReadonlyArray<[string, string]> {
  const headers: Array<[string, string]> = [];
  const recorder = {
    setHeader: (name: string, value: unknown) => headers.push([name, String(value)]),
    // helmet only removes X-Powered-By, which Express is told not to send (app.disable).
    removeHeader: () => undefined,
  };
  let failure: unknown;
  middleware({} as Request, recorder as unknown as Response, (error?: unknown) => {
    failure = error;
  });
  if (failure !== undefined) throw new Error('helmet failed at start', { cause: failure });
  if (headers.length === 0) throw new Error('helmet set no headers');
  return headers;
}

/**
 * helmet's defaults on every response, with allowances for Swagger UI's sign-in:
 * no upgrade-insecure-requests (the service is often reached over plain http on localhost or
 * behind a TLS proxy), and an opener policy that lets the identity provider's popup hand the
 * token back to /docs through oauth2-redirect.html (which therefore sends no COOP header).
 */
function securityHeaders(tokenUrl: string | undefined): RequestHandler {
  // Swagger UI's code flow fetches the token from the provider: that origin, and no other.
  const connectSrc = ["'self'", ...(tokenUrl ? [new URL(tokenUrl).origin] : [])];
  const headers = headersSetBy(
    helmet({
      contentSecurityPolicy: { directives: { upgradeInsecureRequests: null, connectSrc } },
      crossOriginOpenerPolicy: { policy: 'same-origin-allow-popups' },
    }),
  );
  return (request, response, next) => {
    for (const [name, value] of headers) response.setHeader(name, value);
    if (request.path === '/docs/oauth2-redirect.html') {
      response.removeHeader('Cross-Origin-Opener-Policy');
    }
    next();
  };
}

/** The application as main.ts serves it and the e2e specs test it. */
export async function createApp(): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(), {
    bodyParser: false,
    bufferLogs: true,
  });
  const logger = app.get(AppLogger);
  app.useLogger(logger);
  app.disable('x-powered-by');
  // Entity tags are ours: strong, per key, on the routes that honour If-Match.
  app.set('etag', false);
  app.set('trust proxy', app.get<ConfigType<typeof appConfig>>(appConfig.KEY).trustProxy);
  const metrics = app.get(Metrics);
  app.use(
    logger.requestLogging((request, response, seconds) => {
      metrics.answered(request, response, seconds);
    }),
  );
  app.use(securityHeaders(app.get<ConfigType<typeof authConfig>>(authConfig.KEY).oauth2TokenUrl));
  app.use('/docs', docsTrailingSlash());
  app.use(app.get(ShutdownGate).middleware());
  app.use(deferredJsonBodyParser());
  setupSwagger(app);
  return app;
}
