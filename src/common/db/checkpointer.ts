// SQLite's WAL checkpoints, off the event loop. With the default wal_autocheckpoint the connection
// that commits the 1000th page copies the log into the database file and fsyncs it, inside the
// commit: every request in flight waits for the disk (≈ 0.2–0.4 ms per commit on average,
// measured with a port-create-sized transaction). The serving connection turns automatic
// checkpoints off and this worker thread, with its own connection to the same file, runs a
// PASSIVE checkpoint (never blocks the writer or readers) whenever the log has grown past a
// threshold. SQLite's own locking makes the two connections safe together.

import { parentPort, workerData } from 'node:worker_threads';
import { statSync } from 'node:fs';
import SQLite from 'better-sqlite3';

interface Options { file: string; thresholdBytes: number; intervalMs: number }

const o = workerData as Options;
const db = new SQLite(o.file);
const wal = `${o.file}-wal`;
const walSize = () => { try { return statSync(wal).size; } catch { return 0; } };
// After a complete checkpoint the log restarts from its beginning and keeps its size on disk, so
// past the threshold this checkpoints every tick; a PASSIVE checkpoint with nothing to copy only
// reads the log's header.
const timer = setInterval(() => {
  if (walSize() < o.thresholdBytes) return;
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch { /* SQLITE_BUSY and the like: the next tick tries again */ }
}, o.intervalMs);

parentPort!.on('message', (m) => {
  if (m !== 'close') return;
  clearInterval(timer);
  db.close();
  parentPort!.postMessage('closed');
  parentPort!.close();
});
