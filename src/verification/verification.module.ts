import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { VerificationController } from './verification.controller';
import { VerificationService } from './verification.service';

/** The gateway route, on the same key service (and usage buffer) as the admin API. */
@Module({
  imports: [ApiKeysModule],
  controllers: [VerificationController],
  providers: [VerificationService],
})
export class VerificationModule {}
