/**
 * The framework's own floor: a NestJS app of the same version as the service, with one JSON
 * route and nothing else (no guards, no logging, no middleware of ours). `npm run bench`
 * measures it side by side with the service.
 */
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

@Controller()
class FloorController {
  @Get('floor')
  floor(): { ok: true } {
    return { ok: true };
  }
}

@Module({ controllers: [FloorController] })
class FloorModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(FloorModule, { logger: false });
  await app.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
  console.log(`serving the floor on ${await app.getUrl()}`);
}

void main();
