// Files on their way into a message: each composer's chips, one upload per file, with
// its progress, its refusal or its finished attachment. Sending takes the finished
// ones; removing a chip cancels its upload.

import { BackendError, type UploadOptions } from '../backend/index';
import type { Attachment } from '../generated/Attachment';
import type { Id } from '../generated/Id';
import { isInlineImage, uploadRefusal } from '../lib/attachments';

export interface Upload {
  key: number;
  channelId: Id;
  name: string;
  size: number;
  contentType: string;
  /** A local object URL of an image, for its chip; null for other files. */
  preview: string | null;
  /** Bytes sent so far, for the progress bar. */
  sent: number;
  status: 'uploading' | 'done' | 'failed';
  error: string;
  attachment: Attachment | null;
}

export type UploadFn = (channelId: Id, file: File, opts: UploadOptions) => Promise<Attachment>;

export interface UploadDeps {
  upload: UploadFn;
  /** The largest file the server takes, when known: larger ones fail without a request. */
  maxBytes?: () => number | null;
  objectUrl?: { create(file: File): string; revoke(url: string): void };
}

const browserUrls = {
  create: (file: File) => URL.createObjectURL(file),
  revoke: (url: string) => URL.revokeObjectURL(url),
};

export class UploadQueue {
  items = $state<Upload[]>([]);
  private nextKey = 1;
  // Not state: an AbortController is no business of the view.
  private readonly aborts = new Map<number, AbortController>();
  private readonly urls: NonNullable<UploadDeps['objectUrl']>;

  constructor(private readonly deps: UploadDeps) {
    this.urls = deps.objectUrl ?? browserUrls;
  }

  forChannel(channelId: Id): Upload[] {
    return this.items.filter((u) => u.channelId === channelId);
  }

  /** Files can go with a message: at least one is uploaded and none is still on its way. */
  ready(channelId: Id): boolean {
    const mine = this.forChannel(channelId);
    return mine.some((u) => u.status === 'done') && !this.busy(channelId);
  }

  /** An upload is still running: sending waits for it. */
  busy(channelId: Id): boolean {
    return this.forChannel(channelId).some((u) => u.status === 'uploading');
  }

  /** Starts one upload per file; resolves when all have finished, failed or been removed. */
  add(channelId: Id, files: File[]): Promise<void> {
    return Promise.all(files.map((f) => this.start(channelId, f))).then(() => undefined);
  }

  private async start(channelId: Id, file: File): Promise<void> {
    const key = this.nextKey++;
    const max = this.deps.maxBytes?.() ?? null;
    const tooLarge = max !== null && file.size > max;
    this.items.push({
      key,
      channelId,
      name: file.name,
      size: file.size,
      contentType: file.type,
      preview: isInlineImage(file.type) ? this.urls.create(file) : null,
      sent: 0,
      status: tooLarge ? 'failed' : 'uploading',
      error: tooLarge ? uploadRefusal(413, '', max) : '',
      attachment: null,
    });
    if (tooLarge) return;
    const abort = new AbortController();
    this.aborts.set(key, abort);
    try {
      const attachment = await this.deps.upload(channelId, file, {
        signal: abort.signal,
        onProgress: (sent) => this.update(key, (u) => (u.sent = sent)),
      });
      this.update(key, (u) => {
        u.status = 'done';
        u.sent = u.size;
        u.attachment = attachment;
      });
    } catch (e) {
      if (abort.signal.aborted) return;
      const status = e instanceof BackendError ? e.status : 0;
      const message = e instanceof Error ? e.message : '';
      this.update(key, (u) => {
        u.status = 'failed';
        u.error = uploadRefusal(status, message, this.deps.maxBytes?.() ?? null);
      });
    } finally {
      this.aborts.delete(key);
    }
  }

  private update(key: number, change: (u: Upload) => void): void {
    const u = this.items.find((x) => x.key === key);
    if (u) change(u);
  }

  /** Takes a chip away; an upload still running is cancelled. */
  remove(key: number): void {
    this.aborts.get(key)?.abort();
    this.aborts.delete(key);
    const u = this.items.find((x) => x.key === key);
    if (u?.preview) this.urls.revoke(u.preview);
    this.items = this.items.filter((x) => x.key !== key);
  }

  /**
   * The channel's finished attachments, in the order they were added, taken out of its
   * composer; refused files stay, with their reason, until removed.
   */
  take(channelId: Id): Attachment[] {
    const done = this.forChannel(channelId).filter((u) => u.status === 'done' && u.attachment);
    for (const u of done) this.remove(u.key);
    return done.map((u) => u.attachment as Attachment);
  }

  /** Cancels everything (signing out). */
  clear(): void {
    for (const u of [...this.items]) this.remove(u.key);
  }
}
