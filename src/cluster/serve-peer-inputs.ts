/**
 * The owner's end of the direct channel between cluster workers: a Unix socket (owner-only file
 * mode) on which other workers send the inputs of shards this worker owns, each answered with its
 * committed result or a wire error, on the same connection. The primary is not on this path.
 */
import { chmod, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerAnswer, PeerRequest, RoutedInput, WireError } from './messages.ts';
import { readLineFrames, writeLineFrame } from './line-frames.ts';

/** A listening peer socket. */
export interface PeerInputServer {
  /** The socket's path, announced to the other workers through the primary. */
  path: string;
  close(): Promise<void>;
}

/** Listens for forwarded inputs; `run` executes one (it throws STALE_OWNER for a shard not owned). */
export async function servePeerInputs(options: {
  run(input: RoutedInput): Promise<unknown>;
  toWire(error: unknown): WireError;
}): Promise<PeerInputServer> {
  const path = join(tmpdir(), `botflow-peer-${process.pid}.sock`);
  await rm(path, { force: true });
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    readLineFrames(
      socket,
      (frame) => answer(socket, frame as PeerRequest),
      () => socket.destroy(),
    );
  });
  const answer = (socket: Socket, request: PeerRequest) => {
    options.run(request.input).then(
      (result) => writeLineFrame(socket, { id: request.id, ok: true, result } satisfies PeerAnswer),
      (error: unknown) =>
        writeLineFrame(socket, {
          id: request.id,
          ok: false,
          error: options.toWire(error),
        } satisfies PeerAnswer),
    );
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, resolve);
  });
  await chmod(path, 0o600);
  return {
    path,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(path, { force: true });
    },
  };
}
