import { Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller';

/** `GET /metrics` for Prometheus, over the Metrics the whole application records into. */
@Module({ controllers: [MetricsController] })
export class MetricsEndpointModule {}
