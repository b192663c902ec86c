// The compute store on SQLite, PostgreSQL and MariaDB: the migrations, an instance's life in rows
// (insert with metadata and tags, compare-and-set state changes, soft delete), quotas counted from
// those rows, and the auto-increment ids every engine spells differently.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { openDatabase, migrateService } from '../../common/db/index.js';
import { engineCases, engineSkipped } from '../../common/testing/engines.js';
import { computeMigrations } from './index.js';
import { getInstance, insertInstance, markDeleted, metadataOf, tagsOf, updateInstance, startAction, type InstanceRow } from './instances.js';
import { instanceUsage } from './quotas.js';

function row(projectId: string): Omit<InstanceRow, 'id'> {
  const now = new Date().toISOString();
  return {
    uuid: randomUUID(), display_name: 'vm', display_description: null, hostname: 'vm', project_id: projectId, user_id: 'u1', image_ref: null,
    kernel_id: null, ramdisk_id: null, flavor: '{"cur":{}}', instance_type_id: 1, vcpus: 2, memory_mb: 512, root_gb: 1, ephemeral_gb: 0,
    vm_state: 'building', task_state: 'scheduling', power_state: 0, host: null, node: null, availability_zone: null, key_name: null, key_data: null,
    user_data: null, config_drive: '', access_ip_v4: null, access_ip_v6: null, locked: 0, locked_by: null, locked_reason: null, progress: 0,
    reservation_id: 'r-1', launch_index: 0, root_device_name: '/dev/vda', auto_disk_config: 0, network_info: '[]', system_metadata: '{}',
    launched_at: null, terminated_at: null, created_at: now, updated_at: now, deleted_at: null, deleted: 0,
  };
}

for (const e of engineCases('monostack_compute')) {
  test(`compute store on ${e.name}`, { skip: engineSkipped(e.name) }, async () => {
    await e.reachable();
    const url = e.url();
    const d = await openDatabase(url, '/tmp');
    try {
      await migrateService(d, 'compute', computeMigrations);
      const a = row('p1');
      await insertInstance(d.db, a, { role: 'web' }, ['blue', 'red']);
      const b = row('p1');
      await insertInstance(d.db, b, {}, []);
      const ra = (await getInstance(d.db, a.uuid))!;
      const rb = (await getInstance(d.db, b.uuid))!;
      assert.ok(rb.id > ra.id, 'ids increase');
      assert.deepEqual((await metadataOf(d.db, [a.uuid])).get(a.uuid), { role: 'web' });
      assert.deepEqual((await tagsOf(d.db, [a.uuid])).get(a.uuid), ['blue', 'red']);
      // Compare-and-set: only one of two racing transitions from the same state wins.
      const wins = await Promise.all([
        updateInstance(d.db, a.uuid, { task_state: 'powering-off' }, { task_state: ['scheduling'] }),
        updateInstance(d.db, a.uuid, { task_state: 'deleting' }, { task_state: ['scheduling'] }),
      ]);
      assert.equal(wins.filter(Boolean).length, 1);
      assert.equal(await updateInstance(d.db, a.uuid, { vm_state: 'active' }, { vm_state: ['building'], task_state: [null, 'powering-off', 'deleting'] }), true);
      assert.deepEqual(await instanceUsage(d.db, 'p1'), { instances: 2, cores: 4, ram: 1024 });
      assert.equal(await markDeleted(d.db, b.uuid), true);
      assert.equal(await markDeleted(d.db, b.uuid), false, 'a second delete changes nothing');
      assert.equal(await getInstance(d.db, b.uuid), undefined);
      assert.equal((await getInstance(d.db, b.uuid, true))!.vm_state, 'deleted');
      assert.deepEqual(await instanceUsage(d.db, 'p1'), { instances: 1, cores: 2, ram: 512 });
      const actionId = await startAction(d.db, { uuid: a.uuid, action: 'create', requestId: 'req-1', userId: 'u1', projectId: 'p1' });
      assert.ok(actionId > 0);
    } finally {
      await d.close();
      await e.drop(url);
    }
  });
}
