/** How many times conversations entered each step of a flow version, per UTC day (the funnel's counts). */
import { defineEntity, p } from '@mikro-orm/core';

/** Table `step_counts`, keyed by (flow_id, flow_version, step, day). */
export const StepCount = defineEntity({
  name: 'StepCount',
  tableName: 'step_counts',
  properties: {
    flowId: p.text().primary(),
    flowVersion: p.integer().primary(),
    step: p.text().primary(),
    day: p.date().primary(),
    entered: p.integer().default(0),
  },
});
