// A byte range of a stored image file. As a Readable it reads into fresh buffers (any consumer
// may keep them); sendTo() writes it to an HTTP response from two buffers it reuses, which is
// the download path: a new 1 MiB buffer per read cost more in garbage collection and page faults
// than the copy itself (bench/image).

import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

const CHUNK = 1 << 20;

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
   * Writes the range to `res` (headers already written) and ends it. A buffer is refilled only
   * after the socket has finished writing it (the write callback), so no byte is overwritten in flight.
   */
  async sendTo(res: ServerResponse): Promise<void> {
    if (this.used) throw new Error('FileRange already consumed as a stream');
    this.used = true;
    const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    let inFlight: Promise<void> | undefined;
    let i = 0;
    try {
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
        i ^= 1;
      }
      if (inFlight) await inFlight;
      await new Promise<void>((resolve) => res.end(resolve));
    } finally {
      this.destroy();
    }
  }
}
