/**
 * A cluster worker: runs botflow with the shards the primary gives it, executes inputs of its own
 * shards, and forwards the others through the primary to their owner, answering only with the
 * owner's committed result (or a retryable STALE_OWNER when ownership moved or the owner died).
 */
import { type BotflowApp, type BootstrapOptions, bootstrap } from '../bootstrap.ts';
import { BotflowError, toBotflowError } from '../errors.ts';
import type { DispatchResult } from '../runtime/conversation-host.ts';
import type { RoutedInput, ToPrimary, ToWorker, WireError } from './messages.ts';
import { shardOf } from '../runtime/shard.ts';
import { shardsOf } from './shard-table.ts';

const FORWARD_TIMEOUT_MS = 15_000;

function toWire(error: unknown): WireError {
  const coded = toBotflowError(error);
  return { code: coded.code, message: coded.code === 'INTERNAL' ? 'internal error' : coded.message };
}

function fromWire(error: WireError | undefined): BotflowError {
  const code = (error?.code ?? 'INTERNAL') as BotflowError['code'];
  return new BotflowError(code, error?.message ?? 'internal error');
}

/** Runs a worker in this (forked) process until the primary says drain. */
export async function runWorker(options: BootstrapOptions = {}): Promise<BotflowApp> {
  const send = (message: ToPrimary) => process.send?.(message);
  const app = await bootstrap({ ...options, ownAllShards: false });
  const pending = new Map<
    number,
    { resolve(v: unknown): void; reject(e: unknown): void; timer: NodeJS.Timeout }
  >();
  let nextId = 1;
  let tables: Promise<unknown> = Promise.resolve();

  const local = async (input: RoutedInput) => {
    if (!app.owns(shardOf(input.botId, input.userId))) {
      throw new BotflowError('STALE_OWNER', 'this worker no longer owns that conversation');
    }
    return app.host.dispatch(input);
  };

  const route = (input: RoutedInput): Promise<unknown> => {
    const shard = shardOf(input.botId, input.userId);
    if (app.owns(shard)) return local(input);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new BotflowError('STALE_OWNER', 'the owner of that conversation did not answer in time'));
      }, FORWARD_TIMEOUT_MS);
      pending.set(id, { resolve, reject, timer });
      send({ kind: 'forward', id, shard, input });
    });
  };

  app.setRouter((input) => route(input) as Promise<DispatchResult>);
  app.setMetricsSource(
    () =>
      new Promise<string>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new BotflowError('INTERNAL', 'the cluster primary did not return metrics in time'));
        }, FORWARD_TIMEOUT_MS);
        pending.set(id, { resolve: (text) => resolve(text as string), reject, timer });
        send({ kind: 'metrics-request', id });
      }),
  );

  process.on('message', (message: ToWorker) => {
    switch (message.kind) {
      case 'table':
        // Tables apply one at a time, in order: a claim still running must not resurrect shards a
        // newer table took away.
        tables = tables
          .then(() => app.setOwnedShards(shardsOf(message.table, message.slot)))
          .then(() => send({ kind: 'table-applied', version: message.table.version }))
          .catch((error: unknown) => app.logger.error({ err: error }, 'could not take shards'));
        break;
      case 'forwarded':
        local(message.input).then(
          (result) => send({ kind: 'forwarded-reply', id: message.id, ok: true, result }),
          (error: unknown) =>
            send({ kind: 'forwarded-reply', id: message.id, ok: false, error: toWire(error) }),
        );
        break;
      case 'forward-reply': {
        const waiter = pending.get(message.id);
        if (waiter === undefined) break;
        pending.delete(message.id);
        clearTimeout(waiter.timer);
        if (message.ok) waiter.resolve(message.result);
        else waiter.reject(fromWire(message.error));
        break;
      }
      case 'inject':
        route(message.input).then(
          (result) => send({ kind: 'inject-reply', id: message.id, ok: true, result }),
          (error: unknown) => send({ kind: 'inject-reply', id: message.id, ok: false, error: toWire(error) }),
        );
        break;
      case 'metrics-collect':
        void app.metrics.registry
          .getMetricsAsJSON()
          .then((metrics) => send({ kind: 'metrics-part', id: message.id, metrics }));
        break;
      case 'metrics-reply': {
        const waiter = pending.get(message.id);
        if (waiter === undefined) break;
        pending.delete(message.id);
        clearTimeout(waiter.timer);
        waiter.resolve(message.text);
        break;
      }
      case 'drain':
        void app.close().then(() => process.exit(0));
        break;
    }
  });
  send({ kind: 'ready' });
  return app;
}
