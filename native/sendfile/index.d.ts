/** An open dup of a socket descriptor (see sendfile.c). */
export type SendfileHandle = object & { readonly __sendfileHandle: unique symbol };

export interface SendfileAddon {
  open(socketFd: number): SendfileHandle;
  /** flags: 1 = the socket stayed full (wait, then send the rest); 2 = end of file. */
  send(h: SendfileHandle, fileFd: number, offset: number, length: number, cb: (errno: number, sent: number, flags: number) => void): void;
  wait(h: SendfileHandle, cb: (status: number) => void): void;
  close(h: SendfileHandle): void;
}

declare const addon: SendfileAddon | null;
export = addon;
