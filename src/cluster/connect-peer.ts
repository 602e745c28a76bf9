/**
 * The sender's end of the direct channel between cluster workers: one connection to the worker that
 * owns a shard, carrying this worker's forwarded inputs and their answers (matched by id). If the
 * connection fails or closes, every input still waiting gets a retryable STALE_OWNER, as does one
 * not answered within the timeout; the link is then spent and a new one is made for the next input.
 */
import { createConnection } from 'node:net';
import { BotflowError } from '../errors.ts';
import type { PeerAnswer, PeerRequest, RoutedInput } from './messages.ts';
import { readLineFrames, writeLineFrame } from './line-frames.ts';

/** A connection to one peer worker. */
export interface PeerLink {
  readonly path: string;
  /** False once the connection failed or closed. */
  readonly open: boolean;
  /** Sends an input to the owner; resolves with its committed result. */
  send(input: RoutedInput): Promise<unknown>;
  close(): void;
}

/** Connects to the peer listening on `path`. */
export function connectPeer(path: string, timeoutMs: number): PeerLink {
  const socket = createConnection(path);
  const pending = new Map<
    number,
    { resolve(v: unknown): void; reject(e: unknown): void; timer: NodeJS.Timeout }
  >();
  let nextId = 1;
  let open = true;
  const settle = (id: number) => {
    const waiter = pending.get(id);
    if (waiter === undefined) return undefined;
    pending.delete(id);
    clearTimeout(waiter.timer);
    return waiter;
  };
  const fail = () => {
    open = false;
    for (const id of [...pending.keys()])
      settle(id)?.reject(new BotflowError('STALE_OWNER', 'the owner of that conversation went away'));
  };
  socket.on('error', () => socket.destroy());
  socket.on('close', fail);
  readLineFrames(
    socket,
    (frame) => {
      const answer = frame as PeerAnswer;
      const waiter = settle(answer.id);
      if (waiter === undefined) return;
      if (answer.ok) waiter.resolve(answer.result);
      else
        waiter.reject(
          new BotflowError(
            (answer.error?.code ?? 'INTERNAL') as BotflowError['code'],
            answer.error?.message ?? 'internal error',
          ),
        );
    },
    () => socket.destroy(),
  );
  return {
    path,
    get open() {
      return open;
    },
    send(input) {
      if (!open)
        return Promise.reject(new BotflowError('STALE_OWNER', 'the owner of that conversation went away'));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          settle(id)?.reject(
            new BotflowError('STALE_OWNER', 'the owner of that conversation did not answer in time'),
          );
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        writeLineFrame(socket, { id, input } satisfies PeerRequest);
      });
    },
    close() {
      socket.destroy();
    },
  };
}
