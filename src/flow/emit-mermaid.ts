/**
 * Draws a compiled flow as a Mermaid state diagram: one state per step (labelled with its id and
 * type), one arrow per transition (labelled with its event and guard), delays as `after` arrows.
 */
import type { JsonStateNode, JsonTransition, MachineJson } from './compile.ts';
import { IDLE } from './compile.ts';

function guardLabel(t: JsonTransition): string {
  if (t.guard === undefined) return '';
  const params = t.guard.params ?? {};
  const detail = Object.entries(params)
    .filter(([k]) => k !== 'step')
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(' ');
  return ` [${t.guard.type}${detail ? ` ${detail}` : ''}]`;
}

function sanitize(label: string): string {
  return label
    .replace(/["#;:]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Renders `config` as `stateDiagram-v2` text. */
export function emitMermaid(config: MachineJson): string {
  const ids = new Map<string, string>();
  for (const [i, key] of Object.keys(config.states ?? {}).entries()) ids.set(key, `s${i}`);
  const resolve = (target: string): string | undefined => {
    const key = target.startsWith('#') ? target.slice(target.indexOf('.') + 1) : target;
    return ids.get(key);
  };
  const lines = ['stateDiagram-v2'];
  for (const [key, id] of ids) lines.push(`  state "${key}" as ${id}`);
  lines.push(`  [*] --> ${ids.get(IDLE)}`);
  const edge = (from: string, t: JsonTransition, label: string) => {
    for (const target of t.target ?? []) {
      const to = resolve(target);
      if (to !== undefined) lines.push(`  ${from} --> ${to}: ${sanitize(label + guardLabel(t))}`);
    }
  };
  const walk = (from: string, node: JsonStateNode) => {
    for (const [event, ts] of Object.entries(node.on ?? {})) for (const t of ts) edge(from, t, event);
    for (const [delay, ts] of Object.entries(node.after ?? {}))
      for (const t of ts) edge(from, t, `after ${delay}`);
    for (const t of node.always ?? []) edge(from, t, 'always');
    for (const child of Object.values(node.states ?? {})) walk(from, child);
  };
  for (const [key, node] of Object.entries(config.states ?? {})) walk(ids.get(key)!, node);
  for (const [event, ts] of Object.entries(config.on ?? {})) {
    for (const t of ts) {
      for (const target of t.target ?? []) {
        const to = resolve(target);
        if (to !== undefined)
          lines.push(`  note right of ${to}: from any step on ${sanitize(event + guardLabel(t))}`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
