/**
 * Hosts the conversation actors of the shards this worker owns. Each (bot, user) has a mailbox, so
 * its events run one at a time in arrival order; each event is a pure transition whose snapshot,
 * effects, timers and input key are committed together (group commit, version and epoch guarded)
 * before the caller is answered. An input may also carry effects the edge decided for that user (a
 * join request's answer), committed the same way, with or without a transition. Idle actors are
 * passivated: their state is already committed.
 */
import {
  advanceConversation,
  type AdvanceResult,
  getConversationStatus,
  getCurrentStep,
  type PersistedConversation,
  startConversation,
} from '../flow/advance-conversation.ts';
import type { CompiledFlow } from '../flow/compile.ts';
import type { ConversationStatus, Effect, FlowEvent } from '../flow/types.ts';
import { BotflowError } from '../errors.ts';
import { shardOf } from './shard.ts';
import { conversationKeyOf } from './conversation-key.ts';
import { createMailbox, type Mailbox } from './mailbox.ts';
import { type CommitLinger, createGroupCommitter, type GroupCommitter } from './group-commit.ts';
import type {
  CommitOutcome,
  CommitRecord,
  CommitRow,
  ConversationKey,
  ConversationStore,
  FlowSource,
  StoredConversation,
} from './ports.ts';

/** An effect as committed to the outbox: its idempotency key and the conversation it belongs to. */
export interface KeyedEffect {
  key: string;
  botId: string;
  userId: string;
  /** The flow version the conversation was on when the effect was committed. */
  flowVersion: number;
  effect: Effect;
}

/** One input for a conversation. */
export interface Dispatch {
  botId: string;
  userId: string;
  /**
   * The event the conversation's flow takes. Absent: the flow does not move, and only `effects` and
   * `records` are committed for the conversation (a decision the edge made for this user); a user
   * without a conversation gets one at the start of the bot's flow, before its first step.
   */
  event?: FlowEvent;
  /** Effects decided outside the flow, committed after the transition's and run like them. */
  effects?: Effect[];
  /** Idempotency key: the same input committed twice is applied once. */
  inputKey?: string;
  /** For timer events: the timer must still be pending with this due time, else nothing happens. */
  timer?: { timerId: string; dueAt: number };
  /** Facts to commit atomically with this input's transition (only if it commits). */
  records?: CommitRecord[];
}

/** The committed outcome of one input. */
export interface DispatchResult {
  /** False when the input was a duplicate or a superseded timer: nothing changed. */
  applied: boolean;
  effects: KeyedEffect[];
  currentStep: string | null;
  status: ConversationStatus;
  flowVersion: number;
  restarted: boolean;
  /** True when this commit created the conversation's row (its first committed input). */
  created: boolean;
}

interface Actor {
  mailbox: Mailbox;
  loaded: boolean;
  state: {
    flowId: string;
    flowVersion: number;
    snapshot: PersistedConversation;
    rowVersion: number;
    timers: Record<string, number>;
  } | null;
  lastUsed: number;
  /** The conversation's shard (so a dropped shard's actors are found without parsing keys). */
  shard: number;
}

export interface ConversationHostOptions {
  store: ConversationStore;
  flows: FlowSource;
  /** The epoch this worker holds for a shard; throws STALE_OWNER when it does not own it. */
  epochOf(shard: number): number;
  now(): number;
  /** Called after each commit with the effects to run (at least once, by the effect runner). */
  onCommitted?(effects: KeyedEffect[]): void;
  onBatch?(size: number, seconds: number): void;
  /** Observes every finished input (logs, metrics): what it was, where it left the conversation, how long. */
  onDispatched?(input: Dispatch, result: DispatchResult | null, seconds: number, error?: unknown): void;
  /** Told the due time of every timer a commit started, right after the commit (the timer poller's schedule). */
  onTimerStarted?(dueAt: number): void;
  /** A commit of this shard was refused as `stale_epoch`: another process claimed it since this one did. */
  onStaleEpoch?(shard: number): void;
  /** Sees each committed input with its result, right after its commit (records included). */
  onApplied?(input: Dispatch, result: DispatchResult): void;
  /** Sees each input as it is accepted, before its transition (and so before any effect it causes). */
  onInput?(input: Dispatch): void;
  mailboxCapacity?: number;
  maxBatch?: number;
  /**
   * How long a commit batch that follows another may wait for more rows (default 2 ms or 32 rows;
   * null: none). Only a busy host lingers: a row that finds no commit running goes at once.
   */
  commitLinger?: CommitLinger | null;
  /** Most actors kept in memory; the least recently used beyond it are passivated. */
  maxActors?: number;
  /**
   * The record kind under which each transition's entered steps are committed (the funnel's step
   * counts); the store needs a writer for it. Undefined: steps are not recorded.
   */
  stepsRecordKind?: string;
}

/** The actor host of one worker. */
export interface ConversationHost {
  dispatch(input: Dispatch): Promise<DispatchResult>;
  /** Drops actors idle for `idleMs` or more (their state is committed). Returns how many left. */
  passivateIdle(idleMs: number): number;
  /** Forgets every actor of a shard this worker lost. */
  dropShard(shard: number): void;
  readonly activeActors: number;
  /** Inputs waiting in or running from mailboxes, over all conversations. */
  readonly queued: number;
  /** Waits for every queued event and commit to finish. */
  drain(): Promise<void>;
}

const MAX_CONFLICT_RETRIES = 2;
/** A back-to-back commit waits at most this long for more rows (see `commitLinger`). */
const DEFAULT_LINGER: CommitLinger = { ms: 2, rows: 32 };

/** Creates the host. */
export function createConversationHost(options: ConversationHostOptions): ConversationHost {
  const actors = new Map<string, Actor>();
  const committer: GroupCommitter<CommitRow, CommitOutcome> = createGroupCommitter(
    (rows) => options.store.commitBatch(rows),
    {
      maxBatch: options.maxBatch ?? 256,
      ...(options.onBatch ? { onBatch: options.onBatch } : {}),
      ...(options.commitLinger === null ? {} : { linger: options.commitLinger ?? DEFAULT_LINGER }),
    },
  );
  // Loads batch like commits: the actors that need their state in one tick are read together.
  const loader: GroupCommitter<ConversationKey, StoredConversation | null> = createGroupCommitter(
    async (keys) => {
      const found = await options.store.loadMany(keys);
      return keys.map((k) => found.get(conversationKeyOf(k.botId, k.userId)) ?? null);
    },
    { maxBatch: options.maxBatch ?? 256 },
  );
  const capacity = options.mailboxCapacity ?? 1000;
  const maxActors = options.maxActors ?? 100_000;
  let queued = 0;

  function actorFor(botId: string, userId: string): Actor {
    const key = conversationKeyOf(botId, userId);
    let actor = actors.get(key);
    if (actor === undefined) {
      const shard = shardOf(botId, userId);
      actor = {
        mailbox: createMailbox(capacity),
        loaded: false,
        state: null,
        lastUsed: options.now(),
        shard,
      };
      actors.set(key, actor);
      evictOverflow();
    } else {
      actors.delete(key);
      actors.set(key, actor);
    }
    actor.lastUsed = options.now();
    return actor;
  }

  function evictOverflow(): void {
    if (actors.size <= maxActors) return;
    for (const [key, actor] of actors) {
      if (actors.size <= maxActors) break;
      if (actor.mailbox.depth === 0) actors.delete(key);
    }
  }

  async function loadInto(actor: Actor, botId: string, userId: string): Promise<void> {
    let stored: StoredConversation | null;
    try {
      stored = await loader.commit({ botId, userId });
    } catch (error) {
      throw storeError(error);
    }
    actor.state =
      stored === null
        ? null
        : {
            flowId: stored.flowId,
            flowVersion: stored.flowVersion,
            snapshot: stored.snapshot,
            rowVersion: stored.rowVersion,
            timers: { ...stored.timers },
          };
    actor.loaded = true;
  }

  /** Takes a conversation not in memory for a new one, without reading (see `step`). */
  function presumeNew(actor: Actor): void {
    actor.state = null;
    actor.loaded = true;
  }

  async function flowFor(actor: Actor, botId: string, event: FlowEvent): Promise<CompiledFlow> {
    const current = actor.state;
    if (current !== null && event.type !== 'start') {
      const compiled = await options.flows.version(current.flowId, current.flowVersion);
      if (compiled !== null) return compiled;
    }
    const latest = await options.flows.latest(botId);
    if (latest === null) throw new BotflowError('NOT_FOUND', `bot ${botId} has no published flow`);
    return latest;
  }

  /**
   * Where an input leaves the conversation: the flow's transition for an event, else (edge effects
   * only) the conversation as it stands, or a fresh one at the start of the bot's flow.
   */
  async function move(
    actor: Actor,
    input: Dispatch,
  ): Promise<{ compiled: CompiledFlow; sameVersion: boolean; result: AdvanceResult }> {
    const { botId, event } = input;
    const current = actor.state;
    if (event === undefined) {
      const kept = current === null ? null : await options.flows.version(current.flowId, current.flowVersion);
      const compiled = kept ?? (await flowFor(actor, botId, { type: 'start' }));
      const snapshot = current !== null && kept !== null ? current.snapshot : startConversation(compiled);
      return { compiled, sameVersion: kept !== null, result: stay(compiled, snapshot) };
    }
    const compiled = await flowFor(actor, botId, event);
    const sameVersion =
      current !== null && current.flowVersion === compiled.version && current.flowId === compiled.flow.id;
    const result = sameVersion
      ? advanceConversation(compiled, current.snapshot, event)
      : advanceConversation(compiled, null, event, current?.snapshot.context?.buyer);
    return { compiled, sameVersion, result };
  }

  /**
   * Runs one input. `presume`: a `/start` of a conversation not in memory is taken for a new one and
   * reads nothing (most are new users); the commit's version guard refuses it when the row exists,
   * and the input runs again on the loaded state, without counting as a conflict.
   */
  async function step(input: Dispatch, attempt: number, presume = true): Promise<DispatchResult> {
    const { botId, userId } = input;
    const key = conversationKeyOf(botId, userId);
    const actor = actorFor(botId, userId);
    const presumed = presume && !actor.loaded && input.event?.type === 'start';
    if (presumed) presumeNew(actor);
    else if (!actor.loaded) await loadInto(actor, botId, userId);
    const shard = actor.shard;
    const epoch = options.epochOf(shard);
    const current = actor.state;

    if (input.timer !== undefined && current?.timers[input.timer.timerId] !== input.timer.dueAt) {
      return unchanged(current, await flowFor(actor, botId, input.event ?? { type: 'start' }));
    }
    const { compiled, sameVersion, result } = await move(actor, input);
    const rowVersion = (current?.rowVersion ?? 0) + 1;
    const now = options.now();
    const timers = { ...(current?.timers ?? {}) };
    const row: CommitRow = {
      botId,
      userId,
      shard,
      epoch,
      expectedVersion: current?.rowVersion ?? 0,
      flowId: compiled.flow.id,
      flowVersion: compiled.version,
      snapshot: result.snapshot,
      effects: [],
      timersStarted: [],
      timersCancelled: [],
      inputKey: input.inputKey ?? null,
      ...(input.records === undefined ? {} : { records: input.records }),
    };
    // The steps entered count for the funnel, committed (or refused) with the row.
    if (options.stepsRecordKind !== undefined && result.enteredSteps.length > 0)
      row.records = [...(row.records ?? []), { kind: options.stepsRecordKind, steps: result.enteredSteps }];
    if (input.timer !== undefined) {
      row.timersCancelled.push(input.timer.timerId);
      delete timers[input.timer.timerId];
    }
    if (!sameVersion && current !== null) {
      // A new flow version starts clean: the old version's timers cannot fire into it.
      for (const timerId of Object.keys(timers)) {
        row.timersCancelled.push(timerId);
        delete timers[timerId];
      }
    }
    const keyed: KeyedEffect[] = [];
    [...result.effects, ...(input.effects ?? [])].forEach((effect, i) => {
      if (effect.type === 'schedule') {
        const dueAt = now + effect.delay_ms;
        row.timersStarted = row.timersStarted.filter((t) => t.timerId !== effect.id);
        row.timersStarted.push({ timerId: effect.id, dueAt, event: effect.event });
        timers[effect.id] = dueAt;
      } else if (effect.type === 'cancel') {
        row.timersStarted = row.timersStarted.filter((t) => t.timerId !== effect.id);
        if (!row.timersCancelled.includes(effect.id)) row.timersCancelled.push(effect.id);
        delete timers[effect.id];
      } else {
        keyed.push({
          key: `${key}:${rowVersion}:${i}`,
          botId,
          userId,
          flowVersion: compiled.version,
          effect,
        });
      }
    });
    row.effects = keyed.map((k) => ({ key: k.key, effect: k.effect, flowVersion: k.flowVersion }));

    let outcome: CommitOutcome;
    try {
      outcome = await committer.commit(row);
    } catch (error) {
      actor.loaded = false;
      actor.state = null;
      throw storeError(error);
    }
    if (outcome === 'ok') {
      actor.state = {
        flowId: compiled.flow.id,
        flowVersion: compiled.version,
        snapshot: result.snapshot,
        rowVersion,
        timers,
      };
      const applied: DispatchResult = {
        applied: true,
        effects: keyed,
        currentStep: result.currentStep,
        status: result.status,
        flowVersion: compiled.version,
        restarted: result.restarted,
        created: row.expectedVersion === 0,
      };
      for (const started of row.timersStarted) options.onTimerStarted?.(started.dueAt);
      options.onApplied?.(input, applied);
      if (keyed.length > 0) options.onCommitted?.(keyed);
      return applied;
    }
    if (outcome === 'duplicate_input') {
      // A presumed-new conversation may well exist: answer with its stored state.
      if (presumed) await loadInto(actor, botId, userId);
      return unchanged(actor.state, compiled);
    }
    actor.loaded = false;
    actor.state = null;
    if (outcome === 'version_conflict' && presumed) return step(input, attempt, false);
    if (outcome === 'version_conflict' && attempt < MAX_CONFLICT_RETRIES) return step(input, attempt + 1);
    actors.delete(key);
    if (outcome === 'stale_epoch') options.onStaleEpoch?.(actor.shard);
    throw new BotflowError('STALE_OWNER', `conversation ${key} is owned elsewhere (${outcome})`);
  }

  /** The flow does not move: the snapshot as it is, no effects of the flow's, no step entered. */
  function stay(compiled: CompiledFlow, snapshot: PersistedConversation): AdvanceResult {
    return {
      snapshot,
      effects: [],
      currentStep: getCurrentStep(snapshot.value, snapshot.context),
      status: getConversationStatus(compiled, snapshot.value),
      restarted: false,
      enteredSteps: [],
    };
  }

  function unchanged(current: Actor['state'], compiled: CompiledFlow): DispatchResult {
    const snapshot = current?.snapshot;
    const value = snapshot?.value;
    const top =
      typeof value === 'string' ? value : value === undefined ? null : (Object.keys(value)[0] ?? null);
    return {
      applied: false,
      effects: [],
      currentStep: top !== null && compiled.steps.has(top) ? top : null,
      status: 'waiting',
      flowVersion: current?.flowVersion ?? compiled.version,
      restarted: false,
      created: false,
    };
  }

  return {
    async dispatch(input) {
      options.onInput?.(input);
      const actor = actorFor(input.botId, input.userId);
      const started = process.hrtime.bigint();
      const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
      queued += 1;
      try {
        const result = await actor.mailbox.post(() => step(input, 0));
        options.onDispatched?.(input, result, seconds());
        return result;
      } catch (error) {
        options.onDispatched?.(input, null, seconds(), error);
        throw error;
      } finally {
        queued -= 1;
      }
    },
    passivateIdle(idleMs) {
      const cutoff = options.now() - idleMs;
      for (const [key, actor] of actors) {
        if (actor.lastUsed <= cutoff && actor.mailbox.depth === 0) actors.delete(key);
      }
      return actors.size;
    },
    dropShard(shard) {
      for (const [key, actor] of actors) if (actor.shard === shard) actors.delete(key);
    },
    get activeActors() {
      return actors.size;
    },
    get queued() {
      return queued;
    },
    async drain() {
      await Promise.all([...actors.values()].map((a) => a.mailbox.idle()));
      await committer.flush();
    },
  };
}

function storeError(error: unknown): BotflowError {
  if (error instanceof BotflowError) return error;
  return new BotflowError('STORE_UNAVAILABLE', 'the conversation store did not answer', { cause: error });
}
