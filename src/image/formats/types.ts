// Shared types of the image format inspector.
//
// The inspector feeds every chunk of an upload to a set of probes, one per format it knows. A probe
// is a pure function of the bytes seen so far: it either answers (this is / is not my format, and
// what it found) or names the one byte range it needs next. The engine (inspector.ts) keeps only
// those ranges: the first HEAD_LIMIT bytes, regions that a probe asks for further on, and the last
// TAIL_KEEP bytes of the stream, so memory stays bounded whatever the image size.

/** Glance's disk_format values. */
export type DiskFormat = 'raw' | 'qcow2' | 'vmdk' | 'vhd' | 'vhdx' | 'vdi' | 'iso' | 'aki' | 'ari' | 'ami' | 'ploop';

export const DISK_FORMATS: readonly DiskFormat[] = [
  'raw', 'qcow2', 'vmdk', 'vhd', 'vhdx', 'vdi', 'iso', 'aki', 'ari', 'ami', 'ploop',
];

/** Formats that are "just bytes" to a hypervisor: any of them accepts data of any other. */
export const RAW_FAMILY: ReadonlySet<string> = new Set(['raw', 'aki', 'ari', 'ami']);

export interface InspectionResult {
  /**
   * What the bytes are: 'raw' (data no other format claims: also what AKI, ARI and AMI images are),
   * 'qcow2', 'vmdk', 'vhd', 'vhdx', 'vdi', 'iso', 'ploop', or a format we recognise but never
   * accept ('qed', 'luks', 'bochs', 'cloop'). For raw data, details.kind tells what it looks like
   * ('bzImage', 'gzip', 'cpio', 'mbr', 'gpt', 'fat', 'ext', 'data') and details.suggests 'aki' or 'ari'.
   */
  format: string;
  /** Size of the disk the guest sees, in bytes; null when it could not be determined. */
  virtualSize: number | null;
  /** True when there are no issues: the bytes are what was claimed and nothing in them is dangerous. */
  safe: boolean;
  /** Human-readable reasons for refusing the image, e.g. "qcow2 has a backing file". */
  issues: string[];
  /** What else was learnt (qcow2 version, vmdk subformat, partition table, kernel version...). */
  details: Record<string, string | number | boolean>;
}

/** Result of one probe that recognised its format. */
export interface ProbeResult {
  format: string;
  virtualSize: number | null;
  issues: string[];
  details?: Record<string, string | number | boolean>;
}

export interface ByteRange {
  offset: number;
  length: number;
}

export type ProbeStep =
  /** Need these bytes next. `matched` names the format if the magic already matched (for truncation messages). */
  | { need: ByteRange; matched?: string }
  /** Need the end of the stream (the last TAIL_KEEP bytes and the total size). */
  | { needEof: true; matched?: string }
  /** The answer: null = not this format. */
  | { result: ProbeResult | null };

/** What a probe may look at. */
export interface ByteSource {
  /** Bytes [offset, offset+length) if all of them have been captured, else null. */
  read(offset: number, length: number): Buffer | null;
  /** As many contiguous captured bytes from offset as there are, up to maxLength (maybe empty). */
  available(offset: number, maxLength: number): Buffer;
  /** Bytes seen so far. */
  readonly position: number;
  /** True once the whole stream has been seen (finish() was called). */
  readonly eof: boolean;
  /** The last `length` bytes of the stream (length <= TAIL_KEEP); null before EOF or when the stream is shorter. */
  tail(length: number): Buffer | null;
}

export interface Probe {
  readonly name: string;
  /** Head probes identify a container format from its start; they compete with each other. */
  readonly kind: 'head' | 'tail' | 'raw';
  step(src: ByteSource): ProbeStep;
}

export const HEAD_LIMIT = 1 << 20; // first 1 MiB is always kept
export const TAIL_KEEP = 4096; // last 4 KiB is always kept
export const MAX_REGION = 2 << 20; // a probe may ask for at most 2 MiB in one range

export const need = (offset: number, length: number, matched?: string): ProbeStep =>
  matched === undefined ? { need: { offset, length } } : { need: { offset, length }, matched };
export const answer = (result: ProbeResult | null): ProbeStep => ({ result });
export const notMine: ProbeStep = { result: null };
