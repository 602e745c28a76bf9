/** A published, immutable version of a flow; conversations keep the version they started with. */
import { defineEntity, p } from '@mikro-orm/core';

/** Table `flow_versions`, keyed by (flow_id, version). */
export const FlowVersion = defineEntity({
  name: 'FlowVersion',
  tableName: 'flow_versions',
  properties: {
    flowId: p.text().primary(),
    version: p.integer().primary(),
    definition: p.json<unknown>(),
    compiledHash: p.text(),
    publishedAt: p.datetime().defaultRaw('now()'),
  },
  triggers: [
    {
      name: 'flow_versions_immutable',
      timing: 'before',
      events: ['update'],
      forEach: 'row',
      body: "raise exception 'flow_versions rows are immutable' using errcode = 'restrict_violation';",
    },
  ],
});
