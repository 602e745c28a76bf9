/** A bot's flow as the operator edits it; the draft is mutable, published versions are not. */
import { defineEntity, p } from '@mikro-orm/core';

/** Table `flows`. */
export const Flow = defineEntity({
  name: 'Flow',
  tableName: 'flows',
  properties: {
    id: p.text().primary(),
    botId: p.text().index(),
    name: p.text(),
    draft: p.json<unknown>(),
    createdAt: p.datetime().defaultRaw('now()'),
    updatedAt: p.datetime().defaultRaw('now()'),
  },
});
