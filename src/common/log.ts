import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs (pino), to a file when given, else stderr. Every request line has its request id. */
export function createLogger(level = 'info', file?: string): Logger {
  const dest = file ? pino.destination({ dest: file, mkdir: true, sync: false }) : pino.destination(2);
  return pino({ name: 'monostack', level, base: { pid: process.pid } }, dest);
}
