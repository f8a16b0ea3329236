import { Module } from '@nestjs/common';
import { WebhookDelivery } from './webhook-delivery.service';

/** Key events delivered to the platform (WEBHOOK_URL), from the audit trail. */
@Module({ providers: [WebhookDelivery] })
export class WebhooksModule {}
