/**
 * Flows and their published versions. A flow has a mutable draft; publishing copies the draft into a
 * new immutable version (the database refuses updates to versions). A bot runs the newest version
 * published among its flows.
 */
import { createHash } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { BotflowError } from '../errors.ts';
import type { FlowVersionRepository } from '../runtime/flow-source.ts';
import { createSql, withTransaction } from './sql-client.ts';

/** A flow as listed by the admin API. */
export interface FlowRecord {
  id: string;
  botId: string;
  name: string;
  draft: unknown;
  updatedAt: string;
}

/** A published version (without its definition). */
export interface FlowVersionRecord {
  flowId: string;
  version: number;
  compiledHash: string;
  publishedAt: string;
}

/** The flow repository. */
export interface FlowRepository extends FlowVersionRepository {
  saveDraft(flow: { id: string; botId: string; name: string; draft: unknown }): Promise<FlowRecord>;
  getFlow(id: string): Promise<FlowRecord | null>;
  listFlows(botId: string): Promise<FlowRecord[]>;
  /** Publishes `definition` (the validated draft) as the next version; `compiledHash` identifies its machine. */
  publish(flowId: string, definition: unknown, compiledConfig: unknown): Promise<FlowVersionRecord>;
  listVersions(flowId: string): Promise<FlowVersionRecord[]>;
}

interface FlowRow {
  id: string;
  bot_id: string;
  name: string;
  draft: unknown;
  updated_at: Date | string;
}

const toFlow = (r: FlowRow): FlowRecord => ({
  id: r.id,
  botId: r.bot_id,
  name: r.name,
  draft: r.draft,
  updatedAt: new Date(r.updated_at).toISOString(),
});

interface VersionRow {
  flow_id: string;
  version: number;
  compiled_hash: string;
  published_at: Date | string;
}

const toVersion = (r: VersionRow): FlowVersionRecord => ({
  flowId: r.flow_id,
  version: r.version,
  compiledHash: r.compiled_hash,
  publishedAt: new Date(r.published_at).toISOString(),
});

/** Creates the repository over the ORM's pool. */
export function createFlowRepository(orm: MikroORM): FlowRepository {
  const sql = createSql(orm);
  return {
    async saveDraft(flow) {
      const rows = await sql<FlowRow>(
        `insert into flows (id, bot_id, name, draft) values ($1, $2, $3, $4)
         on conflict (id) do update set name = excluded.name, draft = excluded.draft, updated_at = now()
           where flows.bot_id = excluded.bot_id
         returning id, bot_id, name, draft, updated_at`,
        [flow.id, flow.botId, flow.name, JSON.stringify(flow.draft)],
      );
      if (rows[0] === undefined) throw new BotflowError('CONFLICT', `flow ${flow.id} belongs to another bot`);
      return toFlow(rows[0]);
    },
    async getFlow(id) {
      const rows = await sql<FlowRow>('select id, bot_id, name, draft, updated_at from flows where id = $1', [
        id,
      ]);
      return rows[0] === undefined ? null : toFlow(rows[0]);
    },
    async listFlows(botId) {
      const rows = await sql<FlowRow>(
        'select id, bot_id, name, draft, updated_at from flows where bot_id = $1 order by id',
        [botId],
      );
      return rows.map(toFlow);
    },
    async publish(flowId, definition, compiledConfig) {
      // Conversations and timers name their flow by the definition's id, so the two must agree.
      if ((definition as { id?: unknown } | null)?.id !== flowId) {
        throw new BotflowError(
          'BAD_REQUEST',
          `the flow's "id" must be "${flowId}" to publish it as ${flowId}`,
        );
      }
      const hash = createHash('sha256').update(JSON.stringify(compiledConfig)).digest('hex');
      // Under a per-flow lock, each statement sees the versions committed before it, so concurrent
      // publishes get consecutive version numbers; clock_timestamp() (not the transaction's start
      // time) keeps published_at in version order, which `latestPublished` relies on.
      return withTransaction(orm, async (tx) => {
        await tx('select pg_advisory_xact_lock(hashtext($1))', [`flow:${flowId}`]);
        const rows = await tx<VersionRow>(
          `insert into flow_versions (flow_id, version, definition, compiled_hash, published_at)
           select $1, coalesce((select max(version) from flow_versions where flow_id = $1), 0) + 1, $2, $3,
             clock_timestamp()
           returning flow_id, version, compiled_hash, published_at`,
          [flowId, JSON.stringify(definition), hash],
        );
        return toVersion(rows[0]!);
      });
    },
    async listVersions(flowId) {
      const rows = await sql<VersionRow>(
        'select flow_id, version, compiled_hash, published_at from flow_versions where flow_id = $1 order by version',
        [flowId],
      );
      return rows.map(toVersion);
    },
    async latestPublished(botId) {
      const rows = await sql<{ flow_id: string; version: number; definition: unknown }>(
        `select v.flow_id, v.version, v.definition from flow_versions v join flows f on f.id = v.flow_id
         where f.bot_id = $1 order by v.published_at desc, v.version desc limit 1`,
        [botId],
      );
      const row = rows[0];
      return row === undefined
        ? null
        : { flowId: row.flow_id, version: row.version, definition: row.definition };
    },
    async getVersion(flowId, version) {
      const rows = await sql<{ definition: unknown }>(
        'select definition from flow_versions where flow_id = $1 and version = $2',
        [flowId, version],
      );
      return rows[0]?.definition ?? null;
    },
  };
}
