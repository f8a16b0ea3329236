import { Global, Injectable, Module } from '@nestjs/common';

/**
 * The time, for every rule that depends on it (expiry, grace periods, last use): one
 * injectable source that specs can move, instead of Date.now() read in many places.
 */
export abstract class Clock {
  /** Milliseconds since the epoch. */
  abstract now(): number;
}

@Injectable()
export class SystemClock extends Clock {
  now(): number {
    return Date.now();
  }
}

/** A clock that stands still until a spec moves it. */
export class ManualClock extends Clock {
  constructor(private time = Date.parse('2026-11-30T00:00:00.000Z')) {
    super();
  }

  now(): number {
    return this.time;
  }

  set(instant: string | number): void {
    this.time = typeof instant === 'number' ? instant : Date.parse(instant);
  }

  advance(ms: number): void {
    this.time += ms;
  }
}

@Global()
@Module({ providers: [{ provide: Clock, useClass: SystemClock }], exports: [Clock] })
export class ClockModule {}
