// The format inspector on real images written by qemu-img (and by hand where qemu-img cannot
// write the dangerous variant), compared with `qemu-img info`.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FormatInspector, inspectFile, type DiskFormat, type InspectionResult } from './index.js';
import { ensureTool, have, inspectBuffer, qemuInfo, run, runWithInput } from './testing.js';

const skipReason = await ensureTool('qemu-img', 'qemu-utils');
if (skipReason) console.log(`skipping qemu-img based format tests: ${skipReason}`);

let dir = '';
const p = (name: string): string => join(dir, name);

/** Inspect a file every way: whole file, and streamed in 1-byte, 7-byte and 64 KiB chunks; all must agree. */
async function inspectAllWays(path: string, claimed: DiskFormat): Promise<InspectionResult> {
  const data = await readFile(path);
  const viaFile = await inspectFile(path, claimed);
  for (const size of [1, 7, 65536]) {
    assert.deepEqual(inspectBuffer(data, claimed, size), viaFile, `chunks of ${size} bytes give the same result for ${path}`);
  }
  return viaFile;
}

async function expectSafe(path: string, claimed: DiskFormat, qemuFormat: string, format: string = claimed): Promise<InspectionResult> {
  const r = await inspectAllWays(path, claimed);
  assert.deepEqual(r.issues, [], `${path} has no issues`);
  assert.equal(r.safe, true);
  assert.equal(r.format, format);
  const info = await qemuInfo(path, qemuFormat);
  assert.equal(r.virtualSize, info['virtual-size'], `virtual size of ${path} matches qemu-img`);
  return r;
}

function hasIssue(r: InspectionResult, pattern: RegExp): void {
  assert.equal(r.safe, false, `refused: ${JSON.stringify(r)}`);
  assert.ok(r.issues.some((i) => pattern.test(i)), `an issue matches ${pattern}: ${JSON.stringify(r.issues)}`);
}

describe('format inspector on qemu-img images', { skip: skipReason ?? false }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'monostack-fmt-'));
    // Some real data, so that converted images have allocated clusters/grains/blocks.
    const data = Buffer.alloc(512 * 1024);
    randomBytes(128 * 1024).copy(data, 0);
    randomBytes(64 * 1024).copy(data, 384 * 1024);
    await writeFile(p('data.raw'), data);
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('raw', async () => {
    await run('qemu-img', ['create', '-q', '-f', 'raw', p('empty.raw'), '1M']);
    const r = await expectSafe(p('data.raw'), 'raw', 'raw');
    assert.equal(r.virtualSize, 512 * 1024);
    await expectSafe(p('empty.raw'), 'raw', 'raw');
  });

  test('qcow2 v3 and v2 (compat=0.10), created and converted', async () => {
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', p('c.qcow2'), '64M']);
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', p('data.raw'), p('d.qcow2')]);
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', p('v2.qcow2'), '1G']);
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=2M,extended_l2=on', p('big.qcow2'), '10G']);
    assert.equal((await expectSafe(p('c.qcow2'), 'qcow2', 'qcow2')).details.version, 3);
    await expectSafe(p('d.qcow2'), 'qcow2', 'qcow2');
    assert.equal((await expectSafe(p('v2.qcow2'), 'qcow2', 'qcow2')).details.version, 2);
    await expectSafe(p('big.qcow2'), 'qcow2', 'qcow2');
  });

  test('vmdk monolithicSparse and streamOptimized', async () => {
    await run('qemu-img', ['create', '-q', '-f', 'vmdk', p('c.vmdk'), '64M']);
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'vmdk', p('data.raw'), p('d.vmdk')]);
    await run('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=streamOptimized', p('cs.vmdk'), '64M']);
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', p('data.raw'), p('ds.vmdk')]);
    assert.equal((await expectSafe(p('c.vmdk'), 'vmdk', 'vmdk')).details.subformat, 'monolithicsparse');
    await expectSafe(p('d.vmdk'), 'vmdk', 'vmdk');
    assert.equal((await expectSafe(p('cs.vmdk'), 'vmdk', 'vmdk')).details.subformat, 'streamoptimized');
    await expectSafe(p('ds.vmdk'), 'vmdk', 'vmdk');
  });

  test('vhd (qemu vpc): dynamic, and fixed (which is also raw)', async () => {
    await run('qemu-img', ['create', '-q', '-f', 'vpc', p('c.vhd'), '64M']);
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'vpc', p('data.raw'), p('d.vhd')]);
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed', p('data.raw'), p('f.vhd')]);
    await run('qemu-img', ['create', '-q', '-f', 'vpc', '-o', 'force_size=on', p('fs.vhd'), '100M']);
    assert.equal((await expectSafe(p('c.vhd'), 'vhd', 'vpc')).details.subformat, 'dynamic');
    await expectSafe(p('d.vhd'), 'vhd', 'vpc');
    await expectSafe(p('fs.vhd'), 'vhd', 'vpc');
    assert.equal((await expectSafe(p('f.vhd'), 'vhd', 'vpc')).details.subformat, 'fixed');
    // qemu's own probe calls a fixed VHD raw (the footer is at the end): so do we.
    const asRaw = await expectSafe(p('f.vhd'), 'raw', 'raw');
    assert.equal(asRaw.format, 'raw');
    // A differencing VHD (type 4) has a parent: refused.
    const diff = await readFile(p('c.vhd'));
    diff.writeUInt32BE(4, 60);
    await writeFile(p('diff.vhd'), diff);
    hasIssue(await inspectAllWays(p('diff.vhd'), 'vhd'), /^vhd is a differencing disk/);
  });

  test('vhdx', async () => {
    await run('qemu-img', ['create', '-q', '-f', 'vhdx', p('c.vhdx'), '64M']);
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'vhdx', p('data.raw'), p('d.vhdx')]);
    await expectSafe(p('c.vhdx'), 'vhdx', 'vhdx');
    await expectSafe(p('d.vhdx'), 'vhdx', 'vhdx');
    // The HasParent flag of the file parameters marks a differencing disk: refused.
    const b = await readFile(p('c.vhdx'));
    const meta = 3 << 20; // where qemu puts the metadata region
    assert.equal(b.toString('latin1', meta, meta + 8), 'metadata');
    const fileParams = meta + b.readUInt32LE(meta + 32 + 16); // first entry: file parameters
    b.writeUInt32LE(b.readUInt32LE(fileParams + 4) | 2, fileParams + 4);
    await writeFile(p('child.vhdx'), b);
    hasIssue(await inspectAllWays(p('child.vhdx'), 'vhdx'), /^vhdx is a differencing disk/);
  });

  test('vdi: dynamic and fixed', async () => {
    await run('qemu-img', ['create', '-q', '-f', 'vdi', p('c.vdi'), '64M']);
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'vdi', '-o', 'static=on', p('data.raw'), p('d.vdi')]);
    assert.equal((await expectSafe(p('c.vdi'), 'vdi', 'vdi')).details.subformat, 'dynamic');
    assert.equal((await expectSafe(p('d.vdi'), 'vdi', 'vdi')).details.subformat, 'fixed');
    const child = await readFile(p('c.vdi'));
    child.fill(0x11, 0x1b8, 0x1c8); // parent UUID
    await writeFile(p('child.vdi'), child);
    hasIssue(await inspectAllWays(p('child.vdi'), 'vdi'), /^vdi has a parent image$/);
  });

  test('ploop (qemu parallels)', async () => {
    await run('qemu-img', ['create', '-q', '-f', 'parallels', p('c.hds'), '64M']);
    await expectSafe(p('c.hds'), 'ploop', 'parallels');
  });

  test('a qcow2 with a backing file is refused', async () => {
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', p('base.qcow2'), '64M']);
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', p('over.qcow2')]);
    assert.equal((await qemuInfo(p('over.qcow2'), 'qcow2'))['backing-filename'], 'base.qcow2');
    const r = await inspectAllWays(p('over.qcow2'), 'qcow2');
    assert.equal(r.format, 'qcow2');
    assert.equal(r.virtualSize, 64 << 20);
    hasIssue(r, /^qcow2 has a backing file/);
    assert.equal(r.details.backingFile, 'base.qcow2');
    // and as raw: both the lie and the danger are reported
    const asRaw = await inspectAllWays(p('over.qcow2'), 'raw');
    hasIssue(asRaw, /^image claims raw but is qcow2$/);
    hasIssue(asRaw, /^qcow2 has a backing file/);
  });

  test('a qcow2 with an external data file is refused', async () => {
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${p('external.raw')}`, p('df.qcow2'), '16M']);
    const r = await inspectAllWays(p('df.qcow2'), 'qcow2');
    hasIssue(r, /^qcow2 has an external data file/);
    assert.equal(r.details.dataFile, p('external.raw'));
    // The data-file header extension alone (incompatible bit cleared) is refused too.
    const data = await readFile(p('df.qcow2'));
    data[79] = data[79]! & ~0x04;
    await writeFile(p('df-ext-only.qcow2'), data);
    hasIssue(await inspectAllWays(p('df-ext-only.qcow2'), 'qcow2'), /external data file header extension/);
  });

  test('a qcow2 with unknown incompatible features, or marked corrupt, or version 4, is refused', async () => {
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', p('feat.qcow2'), '16M']);
    const orig = await readFile(p('feat.qcow2'));
    const unknown = Buffer.from(orig);
    unknown[79] = unknown[79]! | 0x20; // bit 5: unknown
    await writeFile(p('unknown.qcow2'), unknown);
    hasIssue(await inspectAllWays(p('unknown.qcow2'), 'qcow2'), /^qcow2 has unknown incompatible features \(0x20\)$/);
    const corrupt = Buffer.from(orig);
    corrupt[79] = corrupt[79]! | 0x02;
    await writeFile(p('corrupt.qcow2'), corrupt);
    hasIssue(await inspectAllWays(p('corrupt.qcow2'), 'qcow2'), /^qcow2 is marked corrupt$/);
    const v4 = Buffer.from(orig);
    v4.writeUInt32BE(4, 4);
    await writeFile(p('v4.qcow2'), v4);
    hasIssue(await inspectAllWays(p('v4.qcow2'), 'qcow2'), /^unsupported qcow2 version 4$/);
  });

  test('a vmdk descriptor whose extent points at another file is refused', async () => {
    await writeFile(p('secret.img'), Buffer.alloc(1 << 20));
    const descriptor = [
      '# Disk DescriptorFile',
      'version=1',
      'CID=fffffffe',
      'parentCID=ffffffff',
      'createType="monolithicFlat"',
      '',
      '# Extent description',
      'RW 2048 FLAT "secret.img" 0',
      '',
      'ddb.adapterType = "ide"',
      '',
    ].join('\n');
    await writeFile(p('flat.vmdk'), descriptor);
    // qemu really would read secret.img through it:
    assert.equal((await qemuInfo(p('flat.vmdk')))['virtual-size'], 1 << 20);
    const r = await inspectAllWays(p('flat.vmdk'), 'vmdk');
    assert.equal(r.format, 'vmdk');
    hasIssue(r, /^vmdk subformat "monolithicflat" is not allowed/);
    hasIssue(r, /^vmdk extent points outside the image: RW 2048 FLAT "secret.img" 0$/);
    // Uploaded as raw it is still seen for what it is (qemu would probe it as vmdk).
    hasIssue(await inspectAllWays(p('flat.vmdk'), 'raw'), /^image claims raw but is vmdk$/);
  });

  test('a monolithicSparse vmdk whose embedded descriptor names another file, or a parent, is refused', async () => {
    await run('qemu-img', ['create', '-q', '-f', 'vmdk', p('emb.vmdk'), '64M']);
    const orig = await readFile(p('emb.vmdk'));
    const descEnd = orig.indexOf(0, 512);
    const text = orig.toString('latin1', 512, descEnd);
    const patch = async (name: string, newText: string): Promise<string> => {
      const b = Buffer.from(orig);
      b.fill(0, 512, 512 + 20 * 512);
      b.write(newText, 512, 'latin1');
      await writeFile(p(name), b);
      return p(name);
    };
    const abs = await patch('abs.vmdk', text.replace(/RW 131072 SPARSE "emb.vmdk"/, 'RW 131072 SPARSE "/etc/passwd"'));
    hasIssue(await inspectAllWays(abs, 'vmdk'), /^vmdk extent points outside the image: RW 131072 SPARSE "\/etc\/passwd"$/);
    const two = await patch('two.vmdk', text.replace(/(RW 131072 SPARSE "emb.vmdk")/, '$1\nRW 2048 FLAT "other.img" 0'));
    const r2 = await inspectAllWays(two, 'vmdk');
    hasIssue(r2, /^vmdk has 2 extents/);
    hasIssue(r2, /^vmdk extent is not the image itself: RW 2048 FLAT "other.img" 0$/);
    const parent = await patch('parent.vmdk', text.replace('parentCID=ffffffff', 'parentCID=12345678\nparentFileNameHint="/var/lib/base.vmdk"'));
    hasIssue(await inspectAllWays(parent, 'vmdk'), /^vmdk has a parent/);
    const odd = await patch('odd.vmdk', text.replace('# Extent description', 'some nonsense here'));
    hasIssue(await inspectAllWays(odd, 'vmdk'), /^vmdk descriptor has an unsupported line/);
  });

  test('a streamOptimized vmdk with a footer (as VMware writes it) is checked', async () => {
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', p('data.raw'), p('st.vmdk')]);
    const orig = await readFile(p('st.vmdk'));
    const header = Buffer.from(orig.subarray(0, 512));
    const withFooter = Buffer.from(orig);
    withFooter.writeBigUInt64LE(0xffffffffffffffffn, 56); // GD at end: the footer holds the real header
    const footerMarker = Buffer.alloc(512);
    footerMarker.writeUInt32LE(3, 12);
    const eos = Buffer.alloc(512);
    const image = Buffer.concat([withFooter, footerMarker, header, eos]);
    await writeFile(p('footer.vmdk'), image);
    const r = await expectSafe(p('footer.vmdk'), 'vmdk', 'vmdk');
    assert.equal(r.details.footer, true);
    const badEos = Buffer.from(image);
    badEos.writeUInt32LE(7, badEos.length - 512 + 12);
    await writeFile(p('bad-eos.vmdk'), badEos);
    hasIssue(await inspectAllWays(p('bad-eos.vmdk'), 'vmdk'), /^vmdk end-of-stream marker is invalid$/);
    const cap = Buffer.from(image);
    cap.writeBigUInt64LE(1n << 40n, cap.length - 1024 + 12);
    await writeFile(p('bad-cap.vmdk'), cap);
    hasIssue(await inspectAllWays(p('bad-cap.vmdk'), 'vmdk'), /^vmdk header and footer capacities differ$/);
  });

  test('ISO 9660', async () => {
    const tool = (await have('genisoimage')) ? 'genisoimage' : (await have('xorriso')) ? 'xorriso' : null;
    const iso = p('cd.iso');
    await mkdir(p('isoroot'), { recursive: true });
    await writeFile(p('isoroot/hello.txt'), 'hello from monostack\n');
    let expected: number;
    if (tool === 'genisoimage') {
      await run('genisoimage', ['-quiet', '-o', iso, '-V', 'MONOSTACK', '-R', p('isoroot')]);
      expected = (await readFile(iso)).length;
    } else if (tool === 'xorriso') {
      await run('xorriso', ['-as', 'mkisofs', '-quiet', '-o', iso, '-V', 'MONOSTACK', '-R', p('isoroot')]);
      expected = (await readFile(iso)).length;
    } else {
      // A minimal ISO 9660 header: system area, primary volume descriptor, terminator.
      const blocks = 200;
      const b = Buffer.alloc(blocks * 2048);
      b[0x8000] = 1;
      b.write('CD001', 0x8001, 'latin1');
      b[0x8006] = 1;
      b.writeUInt32LE(blocks, 0x8000 + 80);
      b.writeUInt32BE(blocks, 0x8000 + 84);
      b.writeUInt16LE(2048, 0x8000 + 128);
      b.writeUInt16BE(2048, 0x8000 + 130);
      b[0x8800] = 255;
      b.write('CD001', 0x8801, 'latin1');
      b[0x8806] = 1;
      await writeFile(iso, b);
      expected = b.length;
    }
    const r = await inspectAllWays(iso, 'iso');
    assert.equal(r.format, 'iso');
    assert.equal(r.safe, true, JSON.stringify(r));
    assert.equal(r.virtualSize, expected);
    hasIssue(await inspectAllWays(iso, 'raw'), /^image claims raw but is iso$/);
    hasIssue(await inspectAllWays(p('data.raw'), 'iso'), /^image claims iso but is raw$/);
  });

  test('lies about the format are refused', async () => {
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', p('lie.qcow2'), '64M']);
    await run('qemu-img', ['create', '-q', '-f', 'vmdk', p('lie.vmdk'), '64M']);
    await run('qemu-img', ['create', '-q', '-f', 'qed', p('lie.qed'), '64M']);
    await run('qemu-img', ['create', '-q', '-f', 'vdi', p('lie.vdi'), '64M']);
    for (const claimed of ['raw', 'ami', 'aki', 'ari'] as const) {
      const r = await inspectAllWays(p('lie.qcow2'), claimed);
      assert.deepEqual(r.issues, [`image claims ${claimed} but is qcow2`]);
      assert.equal(r.format, 'qcow2');
      assert.equal(r.virtualSize, 64 << 20);
    }
    assert.deepEqual((await inspectAllWays(p('lie.vmdk'), 'qcow2')).issues, ['image claims qcow2 but is vmdk']);
    assert.deepEqual((await inspectAllWays(p('lie.vdi'), 'vhd')).issues, ['image claims vhd but is vdi']);
    assert.deepEqual((await inspectAllWays(p('data.raw'), 'qcow2')).issues, ['image claims qcow2 but is raw']);
    const qed = await inspectAllWays(p('lie.qed'), 'raw');
    assert.deepEqual(qed.issues, ['image claims raw but is qed', 'qed images are not supported']);
  });

  test('one header hidden in another is refused', async () => {
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', p('hidden.qcow2'), '64M']);
    const b = await readFile(p('hidden.qcow2'));
    b[0x8000] = 1;
    b.write('CD001', 0x8001, 'latin1'); // an ISO primary volume descriptor inside the header cluster
    await writeFile(p('hidden.qcow2'), b);
    hasIssue(await inspectAllWays(p('hidden.qcow2'), 'qcow2'), /^multiple formats detected: qcow2, iso$/);
  });

  test('partitioned raw disks and filesystems', async () => {
    const sfdiskMissing = await ensureTool('sfdisk', 'fdisk');
    const mkfatMissing = await ensureTool('mkfs.fat', 'dosfstools', ['--help']);
    if (sfdiskMissing) console.log(`skipping partition table checks: ${sfdiskMissing}`);
    if (mkfatMissing) console.log(`skipping FAT checks: ${mkfatMissing}`);
    if (!sfdiskMissing) {
      await run('qemu-img', ['create', '-q', '-f', 'raw', p('mbr.raw'), '2M']);
      await runWithInput('sfdisk', ['--quiet', p('mbr.raw')], 'label: dos\nstart=2048, type=83, bootable\n');
      const mbr = await expectSafe(p('mbr.raw'), 'raw', 'raw');
      assert.equal(mbr.details.partitionTable, 'mbr');
      await run('qemu-img', ['create', '-q', '-f', 'raw', p('gpt.raw'), '2M']);
      await runWithInput('sfdisk', ['--quiet', p('gpt.raw')], 'label: gpt\nstart=2048, type=L\n');
      const gpt = await expectSafe(p('gpt.raw'), 'ami', 'raw', 'raw');
      assert.equal(gpt.details.partitionTable, 'gpt');
      // oslo's MBR sanity check: an invalid boot flag is refused.
      const bad = await readFile(p('mbr.raw'));
      bad[446] = 0x42;
      await writeFile(p('badmbr.raw'), bad);
      hasIssue(await inspectAllWays(p('badmbr.raw'), 'raw'), /^MBR partition 0 has an invalid boot flag$/);
    }
    if (!mkfatMissing) {
      await run('mkfs.fat', ['-C', p('fat.img'), '4096']);
      assert.equal((await expectSafe(p('fat.img'), 'raw', 'raw')).details.kind, 'fat');
    }
  });

  test('a Linux kernel and an initramfs are raw data (aki, ari)', async () => {
    const kernel = Buffer.alloc(64 * 1024);
    kernel.writeUInt16LE(0xaa55, 0x1fe);
    kernel.write('HdrS', 0x202, 'latin1');
    kernel.writeUInt16LE(0x300, 0x20e);
    kernel.write('6.1.0-test (builder@host) #1 SMP\0', 0x500, 'latin1');
    const k = inspectBuffer(kernel, 'aki');
    assert.deepEqual(k, {
      format: 'raw', virtualSize: kernel.length, safe: true, issues: [],
      details: { kind: 'bzImage', kernelVersion: '6.1.0-test', suggests: 'aki' },
    });
    // A kernel carries the MBR signature: it must not be mistaken for a broken partition table.
    const { gzipSync } = await import('node:zlib');
    const cpio = Buffer.from('070701' + '0'.repeat(100) + 'TRAILER!!!', 'latin1');
    assert.equal(inspectBuffer(cpio, 'ari').details.kind, 'cpio');
    const gz = gzipSync(cpio);
    assert.deepEqual(inspectBuffer(gz, 'ari'), { format: 'raw', virtualSize: gz.length, safe: true, issues: [], details: { kind: 'gzip', suggests: 'ari' } });
    // Raw-family kinds are interchangeable: a kernel uploaded as ami or raw is fine too.
    for (const claimed of ['raw', 'ami', 'ari'] as const) assert.equal(inspectBuffer(kernel, claimed).safe, true);
  });

  test('truncated and inconsistent streams', async () => {
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', p('t.qcow2'), '64M']);
    const full = await readFile(p('t.qcow2'));
    hasIssue(inspectBuffer(full.subarray(0, 50), 'qcow2'), /^qcow2 image is truncated$/);
    await run('qemu-img', ['create', '-q', '-f', 'vhdx', p('t.vhdx'), '64M']);
    const vhdx = await readFile(p('t.vhdx'));
    hasIssue(inspectBuffer(vhdx.subarray(0, 3 << 20), 'vhdx'), /^vhdx image is truncated$/);
    const ins = new FormatInspector('raw');
    ins.feed(Buffer.alloc(1000));
    hasIssue(ins.finish(2000), /^inspected 1000 bytes but the image size is 2000$/);
    assert.throws(() => ins.feed(Buffer.alloc(1)), /after finish/);
    assert.throws(() => new FormatInspector('' as DiskFormat), /invalid disk format/);
    // A disk_format outside Glance's list matches only data of exactly that format.
    assert.deepEqual(inspectBuffer(Buffer.alloc(4096), 'floppy').issues, ['image claims floppy but is raw']);
    // Uint8Array chunks work as well as Buffers.
    const u8 = new FormatInspector('raw');
    u8.feed(new Uint8Array(100));
    assert.equal(u8.finish().virtualSize, 100);
    const empty = new FormatInspector('raw').finish(0);
    assert.deepEqual(empty, { format: 'raw', virtualSize: 0, safe: true, issues: [], details: { kind: 'data' } });
  });

  test('memory stays bounded on a large stream', () => {
    const ins = new FormatInspector('raw');
    const chunk = Buffer.alloc(1 << 20, 0x5a);
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 256; i++) ins.feed(chunk); // 256 MiB
    const grown = process.memoryUsage().arrayBuffers - before;
    const r = ins.finish();
    assert.equal(r.virtualSize, 256 << 20);
    assert.equal(r.safe, true);
    assert.ok(grown < 16 << 20, `kept ${grown} bytes`);
  });
});
