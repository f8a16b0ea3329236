import express from 'express';
import request from 'supertest';
import { ShutdownGate } from './shutdown-gate';

describe('ShutdownGate', () => {
  it('passes requests through until shutdown begins, then refuses them as a 503 problem', async () => {
    const gate = new ShutdownGate();
    const app = express();
    app.use((req, _res, next) => {
      (req as unknown as { id: string }).id = 'req-9';
      next();
    });
    app.use(gate.middleware());
    app.get('/x', (_req, res) => res.json({ ok: true }));

    await request(app).get('/x').expect(200, { ok: true });
    gate.onModuleDestroy();
    const res = await request(app).get('/x').expect(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers.connection).toBe('close');
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body).toMatchObject({
      status: 503,
      title: 'Service Unavailable',
      instance: 'req-9',
    });
  });
});
