import { describe, expect, it } from 'vitest';
import { BackendError } from '../src/backend/index';
import { WebBackend, type XhrLike } from '../src/backend/web';
import { carriesFiles, contentTypeOf, filesSummary, fitBox, humanSize, isInlineImage, pastedFiles, pastedName, transferFiles, uploadRefusal, type TransferLike } from '../src/lib/attachments';
import { UploadQueue, type UploadFn } from '../src/stores/uploads.svelte';
import type { Attachment } from '../src/generated/Attachment';
import { location } from './fake-fetch';

const MiB = 1024 * 1024;

function fileItem(file: File) {
  return { kind: 'file', type: file.type, getAsFile: () => file };
}

function textItem() {
  return { kind: 'string', type: 'text/plain', getAsFile: () => null };
}

function attachment(id: string, filename: string, size = 10): Attachment {
  return { id, filename, content_type: 'application/pdf', size, width: null, height: null, url: `/api/attachments/${id}`, thumbnail_url: null } as Attachment;
}

describe('humanSize', () => {
  it('reads bytes, then binary units with one decimal below ten', () => {
    expect(humanSize(0)).toBe('0 B');
    expect(humanSize(1023)).toBe('1023 B');
    expect(humanSize(1024)).toBe('1 KB');
    expect(humanSize(1536)).toBe('1.5 KB');
    // 9.96 KB rounds up to ten, which reads without a decimal.
    expect(humanSize(10_199)).toBe('10 KB');
    expect(humanSize(25 * MiB)).toBe('25 MB');
    expect(humanSize(3.25 * 1024 * MiB)).toBe('3.3 GB');
  });

  it('gives nothing for a size that is not one', () => {
    expect(humanSize(-1)).toBe('');
    expect(humanSize(Number.NaN)).toBe('');
  });
});

describe('uploadRefusal', () => {
  it('words a 413 with the limit when it is known', () => {
    expect(uploadRefusal(413, 'payload too large', 25 * MiB)).toBe('file too large, max 25 MB');
    expect(uploadRefusal(413, 'payload too large', null)).toBe('file too large');
  });

  it("passes other refusals through as the server worded them", () => {
    expect(uploadRefusal(403, 'you cannot write here', 25 * MiB)).toBe('you cannot write here');
    expect(uploadRefusal(0, '', null)).toBe('upload failed');
  });
});

describe('clipboard and drops', () => {
  const now = () => new Date(2026, 11, 7, 9, 5, 3);

  it('takes the files of a paste and names a screenshot by its time', () => {
    const shot = new File([new Uint8Array([1, 2, 3])], 'image.png', { type: 'image/png' });
    const data: TransferLike = { types: ['Files', 'text/plain'], items: [textItem(), fileItem(shot)] };
    const files = pastedFiles(data, now);
    expect(files).toHaveLength(1);
    expect(files[0].name).toBe('pasted-2026-12-07-090503.png');
    expect(files[0].type).toBe('image/png');
    expect(files[0].size).toBe(3);
  });

  it('keeps a pasted file its own name, and gives nothing for pasted text', () => {
    const doc = new File(['x'], 'notes.txt', { type: 'text/plain' });
    expect(pastedFiles({ types: ['Files'], items: [fileItem(doc)] }, now).map((f) => f.name)).toEqual(['notes.txt']);
    expect(pastedFiles({ types: ['text/plain'], items: [textItem()] }, now)).toEqual([]);
    expect(pastedFiles(null, now)).toEqual([]);
  });

  it('names by type: jpeg as .jpg, an unknown type as .bin', () => {
    expect(pastedName('image/jpeg', now())).toBe('pasted-2026-12-07-090503.jpg');
    expect(pastedName('', now())).toBe('pasted-2026-12-07-090503.bin');
  });

  it('takes dropped files from the list when a browser gives no items', () => {
    const a = new File(['a'], 'image.png', { type: 'image/png' });
    const b = new File(['b'], 'b.zip', { type: 'application/zip' });
    // A dropped file called image.png is that file's real name: only pastes are renamed.
    expect(transferFiles({ types: ['Files'], files: [a, b] }).map((f) => f.name)).toEqual(['image.png', 'b.zip']);
  });

  it('tells a drag of files from a drag of text', () => {
    expect(carriesFiles({ types: ['Files'] })).toBe(true);
    expect(carriesFiles({ types: ['text/uri-list', 'text/plain'] })).toBe(false);
    expect(carriesFiles(null)).toBe(false);
  });
});

describe('filesSummary', () => {
  it('names one file, counts several, and says nothing for none', () => {
    expect(filesSummary([{ filename: 'a.png' }])).toBe('📎 a.png');
    expect(filesSummary([{ filename: 'a.png' }, { filename: 'b.pdf' }])).toBe('📎 2 files');
    expect(filesSummary([])).toBe('');
  });
});

describe('contentTypeOf', () => {
  it('knows the image types by extension, in any case, and leaves the rest to the server', () => {
    expect(contentTypeOf('a.JPG')).toBe('image/jpeg');
    expect(contentTypeOf('archive.tar.gz')).toBe('');
    expect(contentTypeOf('README')).toBe('');
  });
});

describe('images', () => {
  it('shows the four safe image types inline and nothing else', () => {
    expect(isInlineImage('image/png')).toBe(true);
    expect(isInlineImage('IMAGE/JPEG')).toBe(true);
    expect(isInlineImage('image/webp; q=1')).toBe(true);
    expect(isInlineImage('image/svg+xml')).toBe(false);
    expect(isInlineImage('text/html')).toBe(false);
  });

  it('scales a box down to fit, never up, keeping the proportions', () => {
    const max = { width: 400, height: 300 };
    expect(fitBox(1600, 900, max)).toEqual({ width: 400, height: 225 });
    expect(fitBox(300, 1200, max)).toEqual({ width: 75, height: 300 });
    expect(fitBox(64, 48, max)).toEqual({ width: 64, height: 48 });
    expect(fitBox(null, 48, max)).toBeNull();
    expect(fitBox(0, 0, max)).toBeNull();
  });
});

/** An XMLHttpRequest that records what it was given and answers when told. */
class FakeXhr implements XhrLike {
  withCredentials = false;
  status = 0;
  responseText = '';
  upload: XhrLike['upload'] = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: FormData | null = null;
  aborted = false;

  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  send(body: FormData) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  answer(status: number, body: unknown) {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.();
  }
}

describe('WebBackend uploads', () => {
  function backend() {
    const xhrs: FakeXhr[] = [];
    const b = new WebBackend({ location, xhr: () => xhrs[xhrs.push(new FakeXhr()) - 1] });
    return { b, xhrs };
  }

  it('posts the file as multipart to the channel, reporting progress, and returns the attachment', async () => {
    const { b, xhrs } = backend();
    const seen: Array<[number, number]> = [];
    const file = new File(['hello'], 'hello.txt', { type: 'text/plain' });
    const done = b.uploadAttachment('42', file, { onProgress: (sent, total) => seen.push([sent, total]) });
    const xhr = xhrs[0];
    expect(xhr.method).toBe('POST');
    expect(xhr.url).toBe('/api/channels/42/attachments');
    // Same origin: the cookie goes anyway; withCredentials only matters across origins.
    expect(xhr.withCredentials).toBe(false);
    const sent = xhr.body?.get('file') as File;
    expect(sent.name).toBe('hello.txt');
    expect(await sent.text()).toBe('hello');
    xhr.upload.onprogress?.({ loaded: 2, total: 5, lengthComputable: true });
    xhr.upload.onprogress?.({ loaded: 5, total: 0, lengthComputable: false });
    expect(seen).toEqual([[2, 5], [5, 5]]);
    xhr.answer(201, attachment('9', 'hello.txt', 5));
    expect((await done).id).toBe('9');
  });

  it('turns a 413 into a BackendError with its status, and an abort into a rejection', async () => {
    const { b, xhrs } = backend();
    const tooBig = b.uploadAttachment('1', new File(['x'], 'x.bin'));
    xhrs[0].answer(413, { code: 'payload_too_large', message: 'too large' });
    const err = await tooBig.catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(413);

    const abort = new AbortController();
    const cancelled = b.uploadAttachment('1', new File(['x'], 'y.bin'), { signal: abort.signal });
    abort.abort();
    expect(xhrs[1].aborted).toBe(true);
    expect(await cancelled.catch((e) => e)).toBeInstanceOf(BackendError);
  });

  it('resolves a relative attachment address against the server the app talks to', async () => {
    expect(await new WebBackend({ location }).attachmentSrc('/api/attachments/1/a.png')).toBe('/api/attachments/1/a.png');
    expect(await new WebBackend({ location, serverUrl: 'https://chat.example/' }).attachmentSrc('/api/attachments/1/a.png')).toBe(
      'https://chat.example/api/attachments/1/a.png',
    );
  });
});

describe('UploadQueue', () => {
  /** Uploads that finish or fail when the test says, recording the signal each got. */
  function controlled() {
    const calls: Array<{ file: File; signal?: AbortSignal; progress?: (sent: number, total: number) => void; resolve: (a: Attachment) => void; reject: (e: unknown) => void }> = [];
    const upload: UploadFn = (_channel, file, opts) =>
      new Promise((resolve, reject) => calls.push({ file, signal: opts.signal, progress: opts.onProgress, resolve, reject }));
    const urls = { made: [] as string[], revoked: [] as string[] };
    const objectUrl = {
      create: (f: File) => {
        urls.made.push(`blob:${f.name}`);
        return `blob:${f.name}`;
      },
      revoke: (u: string) => void urls.revoked.push(u),
    };
    return { calls, upload, urls, objectUrl };
  }

  it('holds the send while uploading, then hands over the attachments in order', async () => {
    const c = controlled();
    const q = new UploadQueue({ upload: c.upload, objectUrl: c.objectUrl });
    const all = q.add('ch', [new File(['a'], 'a.png', { type: 'image/png' }), new File(['bb'], 'b.pdf', { type: 'application/pdf' })]);
    expect(q.forChannel('ch').map((u) => u.status)).toEqual(['uploading', 'uploading']);
    expect(q.forChannel('ch')[0].preview).toBe('blob:a.png');
    expect(q.forChannel('ch')[1].preview).toBeNull();
    expect(q.ready('ch')).toBe(false);
    c.calls[0].progress?.(1, 1);
    expect(q.forChannel('ch')[0].sent).toBe(1);
    c.calls[1].resolve(attachment('2', 'b.pdf'));
    c.calls[0].resolve(attachment('1', 'a.png'));
    await all;
    expect(q.ready('ch')).toBe(true);
    expect(q.forChannel('other')).toEqual([]);
    expect(q.take('ch').map((a) => a.id)).toEqual(['1', '2']);
    expect(q.forChannel('ch')).toEqual([]);
    expect(c.urls.revoked).toEqual(['blob:a.png']);
  });

  it('cancels a running upload when its chip is removed, without showing an error', async () => {
    const c = controlled();
    const q = new UploadQueue({ upload: c.upload, objectUrl: c.objectUrl });
    const all = q.add('ch', [new File(['a'], 'a.txt')]);
    const key = q.items[0].key;
    q.remove(key);
    expect(c.calls[0].signal?.aborted).toBe(true);
    c.calls[0].reject(new BackendError(0, null, 'upload cancelled'));
    await all;
    expect(q.items).toEqual([]);
  });

  it('shows a 413 as too large with the limit, keeps the chip, and still sends the others', async () => {
    const c = controlled();
    const q = new UploadQueue({ upload: c.upload, objectUrl: c.objectUrl, maxBytes: () => 4 });
    // Over the known limit: refused at once, nothing sent.
    const local = q.add('ch', [new File(['12345'], 'big.bin')]);
    await local;
    expect(c.calls).toHaveLength(0);
    expect(q.items[0].status).toBe('failed');
    expect(q.items[0].error).toBe('file too large, max 4 B');

    const more = q.add('ch', [new File(['1'], 'ok.txt'), new File(['2'], 'refused.txt')]);
    c.calls[0].resolve(attachment('5', 'ok.txt'));
    c.calls[1].reject(new BackendError(413, { code: 'payload_too_large', message: 'too large', field: null } as never));
    await more;
    expect(q.ready('ch')).toBe(true);
    expect(q.take('ch').map((a) => a.filename)).toEqual(['ok.txt']);
    expect(q.forChannel('ch').map((u) => [u.name, u.error])).toEqual([
      ['big.bin', 'file too large, max 4 B'],
      ['refused.txt', 'file too large, max 4 B'],
    ]);
  });
});
