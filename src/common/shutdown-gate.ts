import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { RequestHandler } from 'express';
import { sendProblem } from './problem-details.filter';

/**
 * Once shutdown begins, requests that have not started yet are refused with 503 and
 * `Connection: close` (nothing of theirs is stored), so keep-alive clients cannot keep the
 * server open; requests already in flight finish and are answered.
 */
@Injectable()
export class ShutdownGate implements OnModuleDestroy {
  private closing = false;

  /** Nest's first shutdown hook: runs before the server closes and the writes are awaited. */
  onModuleDestroy(): void {
    this.closing = true;
  }

  middleware(): RequestHandler {
    return (request, response, next) => {
      if (!this.closing) {
        next();
        return;
      }
      sendProblem(request, response, {
        status: 503,
        detail: 'the service is shutting down; nothing was changed, retry shortly',
        headers: { Connection: 'close', 'Retry-After': '1' },
      });
    };
  }
}
