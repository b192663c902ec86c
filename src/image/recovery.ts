// After a crash or restart: uploads and imports that were under way cannot finish, so their
// images go back to where a client can retry (queued; or uploading when the staged data is
// still there), their tasks fail, their import locks are released. Temp files of interrupted
// uploads are removed by the file stores themselves; finished images are never touched.

import { access } from 'node:fs/promises';
import type { ImageContext } from './context.js';
import { nowIso } from './util.js';
import { stagingPath } from './data.js';

export async function recoverInterrupted(ctx: ImageContext): Promise<void> {
  const db = ctx.db;
  const stuck = await db.selectFrom('images').select(['id', 'status']).where('status', 'in', ['saving', 'importing']).execute();
  for (const r of stuck as Array<{ id: string; status: string }>) {
    let status = 'queued';
    if (r.status === 'importing') {
      try { await access(stagingPath(ctx, r.id)); status = 'uploading'; } catch { /* no staged data */ }
    }
    const reset = status === 'queued' ? { size: null, virtual_size: null } : {};
    await db.updateTable('images').set({ status, updated_at: nowIso(), ...reset }).where('id', '=', r.id).where('status', '=', r.status).execute();
    ctx.log.warn({ image: r.id, from: r.status, to: status }, 'image data transfer was interrupted by a restart');
  }
  const running = await db.selectFrom('image_tasks').select(['id', 'image_id']).where('status', 'in', ['pending', 'processing']).execute();
  const expires = new Date(Date.now() + ctx.opts.taskTtlHours * 3600_000).toISOString();
  for (const t of running as Array<{ id: string; image_id: string | null }>) {
    await db.updateTable('image_tasks').set({ status: 'failure', message: 'The service restarted while the task was running', updated_at: nowIso(), expires_at: expires })
      .where('id', '=', t.id).execute();
    if (t.image_id) {
      await db.deleteFrom('image_properties').where('image_id', '=', t.image_id).where('name', '=', 'os_glance_import_task').where('value', '=', t.id).execute();
      await db.updateTable('image_properties').set({ value: '' }).where('image_id', '=', t.image_id).where('name', '=', 'os_glance_importing_to_stores').execute();
    }
  }
}
