// A byte range of a stored image file. As a Readable it reads into fresh buffers (any consumer
// may keep them); sendTo() writes it to an HTTP response, which is the download path: with
// sendfile(2) where the addon is built (sendfile.ts), else from two buffers it reuses — a new
// 1 MiB buffer per read cost more in garbage collection and page faults than the copy itself
// (bench/image).

import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { sendfileAddon, sendfileTo, socketFd } from './sendfile.js';

const CHUNK = 1 << 20;
/** What goes through res.write before sendfile takes over: it carries the headers out with it. */
const FIRST = 64 << 10;

export class FileRange extends Readable {
  private pos: number;
  /** Bytes still to deliver; Infinity: to the end of the file. */
  private left: number;
  private used = false;

  /** `end` is inclusive, as fs.createReadStream's. */
  constructor(private fh: FileHandle, start = 0, end?: number) {
    super({ highWaterMark: CHUNK });
    this.pos = start;
    this.left = end === undefined ? Infinity : Math.max(0, end - start + 1);
  }

  override _read(): void {
    this.used = true;
    if (this.left <= 0) { this.push(null); return; }
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, this.left));
    this.fh.read(buf, 0, buf.length, this.pos).then(({ bytesRead }) => {
      if (bytesRead === 0) { this.left = 0; this.push(null); return; }
      this.pos += bytesRead;
      this.left -= bytesRead;
      this.push(buf.subarray(0, bytesRead));
    }, (err: Error) => this.destroy(err));
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.fh.close().then(() => cb(err), () => cb(err));
  }

  /**
   * Writes the range to `res` (headers already written) and ends it. With the sendfile addon, the
   * first FIRST bytes go through res.write, and once Node has handed them and the headers to the
   * kernel (the write callback, nothing left queued) the kernel sends the rest from the file.
   * Otherwise, and for whatever sendfile left, a buffer is refilled only after the socket has
   * finished writing it (the write callback), so no byte is overwritten in flight.
   */
  async sendTo(res: ServerResponse): Promise<void> {
    if (this.used) throw new Error('FileRange already consumed as a stream');
    this.used = true;
    // sendfile writes raw bytes: only for a body framed by Content-Length (or the close), not chunked, and not for HEAD.
    const raw = !res.chunkedEncoding && res.req?.method !== 'HEAD';
    const bufs = [Buffer.allocUnsafe(this.left > FIRST && raw && sendfileAddon() && socketFd(res.socket) !== null ? FIRST : CHUNK), Buffer.allocUnsafe(CHUNK)];
    let inFlight: Promise<void> | undefined;
    let i = 0;
    try {
      if (bufs[0]!.length === FIRST) {
        const { bytesRead } = await this.fh.read(bufs[0]!, 0, FIRST, this.pos);
        this.pos += bytesRead;
        this.left = bytesRead < FIRST ? 0 : this.left - bytesRead;
        await new Promise<void>((resolve, reject) => res.write(bufs[0]!.subarray(0, bytesRead), (err) => (err ? reject(err) : resolve())));
        const want = this.left === Infinity ? Math.max(0, (await this.fh.stat()).size - this.pos) : this.left;
        // The descriptor is read with no await before sendfileTo dup()s it: a socket closed
        // meanwhile could otherwise leave a number already reused by another file.
        const sock = res.socket;
        const fd = socketFd(sock);
        if (want > 0 && sock && fd !== null && sock.writableLength === 0) {
          const sent = await sendfileTo(sock, fd, this.fh.fd, this.pos, want);
          this.pos += sent;
          this.left = sent < want ? 0 : this.left - sent; // fewer: the file ended, as a read of 0 below
        }
        if (this.left > 0) bufs[0] = Buffer.allocUnsafe(CHUNK);
      }
      while (this.left > 0) {
        const buf = bufs[i]!;
        const { bytesRead } = await this.fh.read(buf, 0, Math.min(CHUNK, this.left), this.pos);
        if (bytesRead === 0) break;
        this.pos += bytesRead;
        this.left -= bytesRead;
        if (inFlight) await inFlight; // the other buffer is free again before we write this one
        const chunk = buf.subarray(0, bytesRead);
        inFlight = new Promise<void>((resolve, reject) => {
          res.write(chunk, (err) => (err ? reject(err) : resolve()));
        });
        inFlight.catch(() => undefined); // it may fail while the next read runs; awaited (and thrown) below
        i ^= 1;
      }
      if (inFlight) await inFlight;
      await new Promise<void>((resolve) => res.end(resolve));
    } finally {
      this.destroy();
    }
  }
}
