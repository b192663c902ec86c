// Image format inspection: what the bytes of an image are, its virtual size, and whether it is
// safe to hand to qemu (the checks of oslo.utils' format inspector, and Glance's format match).
export { FormatInspector, inspectFile } from './inspector.js';
export { DISK_FORMATS, RAW_FAMILY, type DiskFormat, type InspectionResult } from './types.js';
