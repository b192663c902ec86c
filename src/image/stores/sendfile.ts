// Zero-copy image downloads: sendfile(2) from the image file to the response's socket through the
// optional native addon `monostack-sendfile` (native/sendfile), which Node lacks. Where the addon
// is not built (another OS, no compiler at install time) or the socket is not a plain TCP socket
// (TLS), the file store's reused-buffer copy path is used instead (file-range.ts).
//
// By default (`[image] download_sendfile = auto`) a client on a loopback address gets the copy path
// too: over loopback the receiver copies the bytes out either way, and from sendfile's page-cache
// fragments it copies more slowly — measured on this project's 2-core machines, 1.2–1.7 GB/s
// through sendfile against 1.4–1.9 GB/s through the copy, the client spending 0.33–0.40 CPU-s
// per GiB against 0.22–0.29 (bench/README.md, Image). Remote clients, whose NIC reads the pages
// itself, get sendfile.

import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';

type Handle = object;
/** The addon's functions (native/sendfile/sendfile.c); declared here so that the build does not
 * need the optional package. */
interface Addon {
  open(socketFd: number): Handle;
  send(h: Handle, fileFd: number, offset: number, length: number, cb: (errno: number, sent: number, flags: number) => void): void;
  wait(h: Handle, cb: (status: number) => void): void;
  close(h: Handle): void;
}
const WOULD_BLOCK = 1;
const EOF = 2;

let addon: Addon | null | undefined;
/** Transfers and bytes sent through sendfile so far (tests check that the path was taken). */
export const sendfileStats = { transfers: 0, bytes: 0 };
export type SendfileMode = 'auto' | 'always' | 'never';
export const SENDFILE_MODES: readonly SendfileMode[] = ['auto', 'always', 'never'];
let mode: SendfileMode = 'auto';

/** The addon, or null when it is not built or turned off. */
export function sendfileAddon(): Addon | null {
  if (mode === 'never') return null;
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)('monostack-sendfile') as Addon | null;
    } catch {
      addon = null;
    }
  }
  return addon;
}

/** auto: sendfile except to loopback clients; always; never (`[image] download_sendfile`; tests compare the paths). */
export function setSendfileMode(m: SendfileMode): void { mode = m; }

/** What downloads from the file store use, for the startup log. */
export function downloadPath(): string {
  if (mode === 'never') return 'copies through reused buffers (download_sendfile = never)';
  if (!sendfileAddon()) return 'copies through reused buffers (monostack-sendfile addon not built)';
  return mode === 'always' ? 'sendfile(2) (monostack-sendfile addon)' : 'sendfile(2) (monostack-sendfile addon) to remote clients, copies through reused buffers to loopback clients';
}

const isLoopback = (a: string | undefined) => !!a && (a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.'));

/**
 * The socket's descriptor when sendfile may write to it: a plain TCP socket that is open (and, in
 * the auto mode, whose peer is not on a loopback address). Node has
 * no public accessor for it; the handle's `fd` is what net.Socket itself reports in errors. If a
 * Node release drops it, this returns null and downloads take the copy path (the tests that
 * require the sendfile path then fail).
 */
export function socketFd(socket: Socket | null | undefined): number | null {
  if (!socket || socket.destroyed || (socket as { encrypted?: boolean }).encrypted) return null;
  if (mode === 'auto' && isLoopback(socket.remoteAddress)) return null;
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

const errnoError = (errno: number) => {
  let code = `E${errno}`;
  try { code = getSystemErrorName(-errno); } catch { /* unknown */ }
  return Object.assign(new Error(`sendfile: ${code}`), { code, errno: -errno, syscall: 'sendfile' });
};

/**
 * Sends `length` bytes of fileFd from `offset` to the socket (descriptor sockFd) and resolves with
 * the bytes sent: fewer only when the file ends first. The caller must have nothing queued on the
 * socket (its writableLength is 0) and must not write to it until this settles. Rejects on a socket
 * error or when the socket closes meanwhile.
 */
export async function sendfileTo(socket: Socket, sockFd: number, fileFd: number, offset: number, length: number): Promise<number> {
  const a = sendfileAddon();
  if (!a) throw new Error('sendfile addon not available');
  const h = a.open(sockFd);
  let onClose!: () => void;
  const closed = new Promise<never>((_, reject) => {
    onClose = () => reject(Object.assign(new Error('connection closed during the download'), { code: 'ECONNRESET' }));
  });
  closed.catch(() => undefined);
  socket.once('close', onClose);
  let sent = 0;
  try {
    while (sent < length) {
      const [errno, n, flags] = await Promise.race([
        new Promise<[number, number, number]>((resolve) => a.send(h, fileFd, offset + sent, length - sent, (e, k, f) => resolve([e, k, f]))),
        closed,
      ]);
      sent += n;
      if (errno) throw errnoError(errno);
      if (flags & EOF) break;
      if (flags & WOULD_BLOCK) {
        // A slow reader: wait for room on the event loop, not on a pool thread.
        const status = await Promise.race([new Promise<number>((resolve) => a.wait(h, resolve)), closed]);
        if (status) throw errnoError(status);
      }
    }
    return sent;
  } finally {
    sendfileStats.transfers++;
    sendfileStats.bytes += sent;
    socket.off('close', onClose);
    a.close(h); // stops a wait; closes the dup once a send still running has returned
  }
}
