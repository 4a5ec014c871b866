// Pure helpers for attachments: which files a paste or a drop carries, how a size reads,
// how big an inline image is drawn, and what a refused upload says.

/** Image types the server thumbnails and serves inline; everything else is a file card. */
const INLINE_IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

export function isInlineImage(contentType: string): boolean {
  return INLINE_IMAGE_TYPES.has(contentType.split(';')[0].trim().toLowerCase());
}

const UNITS = ['KB', 'MB', 'GB', 'TB'];

/**
 * A size as people read it: "512 B", "1.5 KB", "25 MB". Powers of 1024, like the limit
 * (`ATTACHMENT_MAX_BYTES`, 25 MiB by default), so the limit reads as the round number
 * it was set to; one decimal below 10 units, none above.
 */
export function humanSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  // 9.96 KB would round to "10.0 KB": decide the decimals after rounding.
  const rounded = Math.round(value * 10) / 10;
  const text = rounded < 10 && !Number.isInteger(rounded) ? rounded.toFixed(1) : String(Math.round(value));
  return `${text} ${UNITS[unit]}`;
}

/** What the message for a refused upload says: too large gets the limit in words. */
export function uploadRefusal(status: number, serverMessage: string, maxBytes: number | null): string {
  if (status === 413) return maxBytes ? `file too large, max ${humanSize(maxBytes)}` : 'file too large';
  return serverMessage || 'upload failed';
}

const TYPES_BY_EXTENSION: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  pdf: 'application/pdf',
  txt: 'text/plain',
  zip: 'application/zip',
};

/**
 * A type for a file known only by its name (the desktop app's file dialog gives names,
 * not types); '' when unknown, and the server decides from the bytes.
 */
export function contentTypeOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : (TYPES_BY_EXTENSION[name.slice(dot + 1).toLowerCase()] ?? '');
}

/** A name for a pasted image that came without one (screenshots do), by its type and time. */
export function pastedName(contentType: string, now: Date): string {
  const ext = contentType.split('/')[1]?.split(/[;+]/)[0] || 'bin';
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  return `pasted-${stamp}.${ext === 'jpeg' ? 'jpg' : ext}`;
}

/** The parts of a DataTransfer the helpers read, so tests need no browser. */
export interface TransferLike {
  readonly types: ReadonlyArray<string>;
  readonly items?: ArrayLike<{ kind: string; type: string; getAsFile(): File | null }>;
  readonly files?: ArrayLike<File>;
}

/** True while something dragged over the page carries files (not text or a link). */
export function carriesFiles(data: TransferLike | null | undefined): boolean {
  return !!data && Array.from(data.types).includes('Files');
}

/** Every file a paste or a drop carries, in order; text items are skipped. */
export function transferFiles(data: TransferLike | null | undefined): File[] {
  if (!data) return [];
  if (data.items && data.items.length > 0) {
    const files: File[] = [];
    for (const item of Array.from(data.items)) {
      if (item.kind !== 'file') continue;
      const file = item.getAsFile();
      if (file) files.push(file);
    }
    return files;
  }
  return data.files ? Array.from(data.files) : [];
}

/**
 * The files of a paste. A paste of text gives none, so the textarea keeps its own
 * behaviour; a screenshot gives one image, named by `pastedName`, since browsers call
 * every pasted image "image.png" and a channel full of those is no help.
 */
export function pastedFiles(data: TransferLike | null | undefined, now: () => Date = () => new Date()): File[] {
  return transferFiles(data).map((f) => (f.name && f.name !== 'image.png' ? f : renamed(f, pastedName(f.type || 'application/octet-stream', now()))));
}

function renamed(file: File, name: string): File {
  return new File([file], name, { type: file.type, lastModified: file.lastModified });
}

/**
 * The box an inline image is drawn in, known before it loads (so the history does not
 * jump): the image's own size, scaled down to fit `max`, never up.
 */
export function fitBox(width: number | null | undefined, height: number | null | undefined, max: { width: number; height: number }): { width: number; height: number } | null {
  if (!width || !height || width <= 0 || height <= 0) return null;
  const scale = Math.min(1, max.width / width, max.height / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** What stands for a message's files where only a line fits (a pin of files alone). */
export function filesSummary(files: ReadonlyArray<{ filename: string }>): string {
  if (files.length === 0) return '';
  return files.length === 1 ? `📎 ${files[0].filename}` : `📎 ${files.length} files`;
}
