// The agent's ImageSource: image metadata and bytes from the image service, snapshots uploaded to
// it, all as the nova service user through the catalog.

import type { Readable } from 'node:stream';
import { ImageClient, imageProperties } from '../../image/client.js';
import type { ServiceSession } from '../../common/auth/session.js';
import type { ImageMeta, ImageSource } from './driver.js';

export class ImageServiceSource implements ImageSource {
  private client: ImageClient;
  constructor(session: ServiceSession) { this.client = new ImageClient(session); }

  async meta(imageId: string): Promise<ImageMeta> {
    const img = await this.client.get(imageId);
    if (!img) throw new Error(`Image ${imageId} could not be found.`);
    return {
      id: img.id, diskFormat: img.disk_format ?? 'raw', containerFormat: img.container_format ?? 'bare', size: img.size ?? 0,
      minDisk: img.min_disk ?? 0, minRam: img.min_ram ?? 0, checksum: img.checksum, properties: imageProperties(img),
    };
  }

  data(imageId: string): Promise<Readable> { return this.client.download(imageId); }

  upload(imageId: string, data: Readable): Promise<void> { return this.client.upload(imageId, data); }

  delete(imageId: string): Promise<void> { return this.client.delete(imageId); }
}
