/**
 * Resolves the flow versions conversations run: a specific immutable version (cached forever), or a
 * bot's newest published version (cached until a publish invalidates it, so `/start` does not cost a
 * query per buyer).
 */
import type { CompiledFlow } from '../flow/compile.ts';
import type { FlowCompiler } from './compile-pool.ts';
import type { FlowSource } from './ports.ts';

/** Where published flow versions are read from. */
export interface FlowVersionRepository {
  /** The bot's active flow and its newest published version, or null. */
  latestPublished(botId: string): Promise<{ flowId: string; version: number; definition: unknown } | null>;
  getVersion(flowId: string, version: number): Promise<unknown | null>;
}

/** A FlowSource with a way to drop a bot's cached "latest" after a publish. */
export interface CachedFlowSource extends FlowSource {
  invalidate(botId: string): void;
}

/**
 * Creates the source over a repository and a compiler. `latestTtlMs` bounds how long a bot's latest
 * version is trusted without a change notice (a safety net for a notice lost while Redis was down).
 */
export function createFlowSource(
  repo: FlowVersionRepository,
  compiler: FlowCompiler,
  options: { latestTtlMs?: number; now?: () => number } = {},
): CachedFlowSource {
  const ttl = options.latestTtlMs ?? Number.POSITIVE_INFINITY;
  const now = options.now ?? Date.now;
  const latest = new Map<string, Promise<CompiledFlow | null>>();
  const latestAt = new Map<string, number>();
  const versions = new Map<string, Promise<CompiledFlow | null>>();
  return {
    latest(botId) {
      let entry = latest.get(botId);
      if (entry !== undefined && now() - (latestAt.get(botId) ?? 0) > ttl) entry = undefined;
      if (entry === undefined) {
        latestAt.set(botId, now());
        entry = repo
          .latestPublished(botId)
          .then((row) => (row === null ? null : compiler.compile(row.flowId, row.version, row.definition)));
        entry.catch(() => latest.delete(botId));
        latest.set(botId, entry);
      }
      return entry;
    },
    version(flowId, version) {
      const key = `${flowId}@${version}`;
      let entry = versions.get(key);
      if (entry === undefined) {
        entry = repo
          .getVersion(flowId, version)
          .then((definition) => (definition === null ? null : compiler.compile(flowId, version, definition)));
        entry.then((found) => found === null && versions.delete(key)).catch(() => versions.delete(key));
        versions.set(key, entry);
      }
      return entry;
    },
    invalidate(botId) {
      latest.delete(botId);
    },
  };
}
