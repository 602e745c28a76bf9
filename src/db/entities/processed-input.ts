/** Idempotency keys of inputs already applied (update ids, webhook ids, fired timers). */
import { defineEntity, p } from '@mikro-orm/core';

/** Table `processed_inputs`. */
export const ProcessedInput = defineEntity({
  name: 'ProcessedInput',
  tableName: 'processed_inputs',
  properties: {
    key: p.text().primary(),
    processedAt: p.datetime().defaultRaw('now()').index(),
  },
});
