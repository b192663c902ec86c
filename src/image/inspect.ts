// The bridge to the streaming format inspector (./formats): what the upload pipeline feeds and
// what it decides on. Data of a `bare` image must be what its disk_format says (unless
// require_image_format_match is off), and data that is unsafe (a qcow2 with a backing or data
// file, a VMDK with extents outside itself...) is refused whatever its container. Other
// containers (ami/ari/aki bundles, ovf, ova, docker...) hold more than the disk itself, so their
// bytes are not held to the disk_format, as Glance inspects only `bare` images.

import { FormatInspector, RAW_FAMILY, type InspectionResult } from './formats/index.js';

export type { InspectionResult };

export interface Inspector {
  feed(chunk: Uint8Array): void;
  finish(totalSize: number): InspectionResult;
}

/** An inspector for data claimed to be diskFormat. */
export async function createInspector(diskFormat: string): Promise<Inspector | null> {
  return new FormatInspector(diskFormat);
}

/** The inspected format is the claimed one (raw-family formats accept one another's data). */
export function formatMatches(claimed: string, detected: string): boolean {
  if (claimed === detected) return true;
  return RAW_FAMILY.has(claimed) && RAW_FAMILY.has(detected);
}

/** The inspection's issues other than the format mismatch ("image claims X but is Y"). */
export function safetyIssues(r: InspectionResult, claimed: string): string[] {
  return r.issues.filter((i) => !i.startsWith(`image claims ${claimed} but is `));
}
