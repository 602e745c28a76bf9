/**
 * Graph searches over a flow's step ids for the validator: loops (strongly connected components), to
 * find steps that would run forever, and reachability, to find steps no path leads to.
 */
import { getStepTargets } from './graph.ts';
import type { LooseStep } from './loose-steps.ts';

/**
 * Finds the strongly connected components of size > 1 (or self-loops), in discovery order (Tarjan), so
 * each loop of the graph is reported once. Iterative (an explicit stack of frames), so a chain of any
 * length cannot overflow the call stack.
 */
export function findCycles(nodes: string[], edges: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const enter = (v: string) => {
    index.set(v, counter);
    low.set(v, counter);
    counter += 1;
    stack.push(v);
    onStack.add(v);
  };
  const closeComponent = (v: string) => {
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (edges.get(v) ?? []).includes(v)) cycles.push(component.reverse());
  };
  for (const root of nodes) {
    if (index.has(root)) continue;
    enter(root);
    // Each frame is a node and how many of its edges were followed so far.
    const frames: Array<{ v: string; next: number }> = [{ v: root, next: 0 }];
    while (frames.length > 0) {
      const frame = frames.at(-1)!;
      const out = edges.get(frame.v) ?? [];
      if (frame.next < out.length) {
        const w = out[frame.next++]!;
        if (!index.has(w)) {
          enter(w);
          frames.push({ v: w, next: 0 });
        } else if (onStack.has(w)) {
          low.set(frame.v, Math.min(low.get(frame.v)!, index.get(w)!));
        }
        continue;
      }
      frames.pop();
      closeComponent(frame.v);
      const parent = frames.at(-1);
      if (parent !== undefined) low.set(parent.v, Math.min(low.get(parent.v)!, low.get(frame.v)!));
    }
  }
  return cycles;
}

/**
 * Finds every id reachable from `starts` (included) by following each step's targets breadth-first;
 * ids that name no step are reached but lead nowhere.
 */
export function findReachable(starts: string[], byId: Map<string, LooseStep>): Set<string> {
  const seen = new Set<string>();
  const queue = [...starts];
  while (queue.length > 0) {
    const id = queue.shift()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const step = byId.get(id);
    if (step === undefined) continue;
    for (const t of getStepTargets(step as never)) if (!seen.has(t.target)) queue.push(t.target);
  }
  return seen;
}
