/**
 * Newline-delimited JSON frames on a stream socket, for the direct channel between cluster workers.
 * Writes made in one tick leave in one `writev` (the socket is corked until the next tick), so a burst
 * of forwarded inputs or answers costs one system call, not one each.
 */
import type { Socket } from 'node:net';

/** Calls `onFrame` with each JSON value read from `socket`; `onBad` when a line is not JSON. */
export function readLineFrames(socket: Socket, onFrame: (frame: unknown) => void, onBad: () => void): void {
  let pending = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let end = pending.indexOf('\n');
    while (end !== -1) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + 1);
      let frame: unknown;
      try {
        frame = JSON.parse(line);
      } catch {
        onBad();
        return;
      }
      onFrame(frame);
      end = pending.indexOf('\n');
    }
  });
}

/** Writes one frame; frames written in the same tick go out together. */
export function writeLineFrame(socket: Socket, frame: unknown): void {
  if (socket.destroyed) return;
  if (socket.writableCorked === 0) {
    socket.cork();
    process.nextTick(() => socket.uncork());
  }
  socket.write(`${JSON.stringify(frame)}\n`);
}
