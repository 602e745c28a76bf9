/**
 * The validator's lenient view of a flow's steps: only fields of the right type are kept, so the rules
 * between fields can run over whatever parts of a flow are well-formed, even when the schema fails.
 */
import { isRecord } from './is-record.ts';

export type Obj = Record<string, unknown>;
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** A step as the rules see it: only fields of the right type, others left out. */
export interface LooseStep {
  index: number;
  id: string | undefined;
  type: string | undefined;
  config: Obj;
  connections: { next?: string; pending?: string; retry?: string };
  hasConnections: boolean;
  conditions: Obj[];
  delay: number;
}

/**
 * Reads `flow_steps` leniently, skipping entries that are not objects; each step keeps its index in the
 * array so problems can point at it.
 */
export function readLooseSteps(flow: Obj): LooseStep[] {
  const steps = Array.isArray(flow['flow_steps']) ? flow['flow_steps'] : [];
  return steps.flatMap((raw, index): LooseStep[] => {
    if (!isRecord(raw)) return [];
    const conn = isRecord(raw['connections']) ? raw['connections'] : {};
    const connections: LooseStep['connections'] = {};
    for (const k of ['next', 'pending', 'retry'] as const) {
      const v = str(conn[k]);
      if (v !== undefined) connections[k] = v;
    }
    const conditions = Array.isArray(raw['conditions']) ? raw['conditions'].filter(isRecord) : [];
    return [
      {
        index,
        id: str(raw['id']),
        type: str(raw['type']),
        config: isRecord(raw['config']) ? raw['config'] : {},
        connections,
        hasConnections: Object.keys(conn).length > 0,
        conditions,
        delay: typeof raw['delay_seconds'] === 'number' ? raw['delay_seconds'] : 0,
      },
    ];
  });
}
