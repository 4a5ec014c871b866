// End-to-end steps for attachments between two browsers, on a server of their own with
// a small upload limit: ann pastes a screenshot (a PNG drawn in her page, handed over
// by a real paste event) and sends it alone; ben sees it inline at its own proportions,
// opens it in the lightbox and closes it with Escape. A file chosen with the file
// button shows at ben's as a card with its size and a download link that gives the
// same bytes; a file over the limit is refused in ann's composer; on a
// throttled uplink the progress bar moves and Cancel stops the upload.

import { readFileSync } from 'node:fs';

import { apiUser, assert, messageItem, openChannel, sendMessage, serverOfItsOwn, signedInPage, until } from './harness.mjs';

const WAIT = { timeout: 10_000 };
/** The test server's `ATTACHMENT_MAX_BYTES`: small, so the oversized file is quick to make. */
const MAX_BYTES = 1024 * 1024;

/** Draws a `width`×`height` PNG in the page and pastes it into the composer. */
async function pasteScreenshot(page, width, height) {
  await page.getByTestId('composer').focus();
  return page.evaluate(
    async ({ width, height }) => {
      const canvas = document.createElement('canvas');
      canvas.width = width;
      canvas.height = height;
      const g = canvas.getContext('2d');
      g.fillStyle = '#3355ee';
      g.fillRect(0, 0, width, height);
      g.fillStyle = '#ffcc00';
      g.fillRect(width / 4, height / 4, width / 2, height / 2);
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
      const data = new DataTransfer();
      // Browsers name every pasted screenshot like this.
      data.items.add(new File([blob], 'image.png', { type: 'image/png' }));
      const event = new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true });
      const box = document.querySelector('[data-testid="composer"]');
      box.dispatchEvent(event);
      return { handled: event.defaultPrevented, bytes: blob.size };
    },
    { width, height },
  );
}

/** Chooses `file` ({ name, mimeType, buffer }) through the composer's file button. */
async function chooseFile(page, file) {
  const chooser = page.waitForEvent('filechooser');
  await page.getByRole('button', { name: 'Attach files' }).click();
  await (await chooser).setFiles(file);
}

/** The newest message in view that carries `testid` (an inline image or a file card). */
function newestWith(page, testid) {
  return page.locator(`article[data-message-id]:has([data-testid="${testid}"])`).last();
}

export const attachmentSuites = [
  [
    'attachments: a pasted screenshot reaches the other browser and opens in the lightbox; a chosen file is a card with a download; too large is refused',
    async ({ browser, shots }) => {
      const server = await serverOfItsOwn('attachments', { ATTACHMENT_MAX_BYTES: String(MAX_BYTES) });
      const contexts = [];
      const pages = [];
      try {
        const ann = (await signedInPage(browser, server.base, (await apiUser(server.base, 'ann')).email, { contexts })).page;
        const ben = (await signedInPage(browser, server.base, (await apiUser(server.base, 'ben')).email, { contexts, contextOptions: { acceptDownloads: true } })).page;
        pages.push(ann, ben);
        for (const page of [ann, ben]) await openChannel(page, 'general');

        // A screenshot pasted into the composer becomes an upload, not text.
        const pasted = await pasteScreenshot(ann, 640, 360);
        assert(pasted.handled, 'the paste of an image is taken by the composer');
        const chip = ann.getByTestId('upload-chip');
        await chip.waitFor(WAIT);
        assert((await chip.textContent()).includes('pasted-'), `a pasted screenshot gets a name of its own: ${await chip.textContent()}`);
        await until('the screenshot to be uploaded', async () => (await chip.getAttribute('data-status')) === 'done');
        assert((await ann.getByTestId('composer').inputValue()) === '', 'nothing was pasted as text');
        // Files alone are a message: Send is enabled with an empty text box.
        const sendButton = ann.getByRole('button', { name: 'Send', exact: true });
        assert(await sendButton.isEnabled(), 'Send is enabled with a file and no text');
        await sendButton.click();
        await chip.waitFor({ state: 'detached', ...WAIT });

        // Ben sees it inline, in a box of its proportions (640×360 scaled into 400×300),
        // loaded with his own session.
        const shown = newestWith(ben, 'attachment-image').getByTestId('attachment-image');
        await shown.waitFor(WAIT);
        const box = await shown.boundingBox();
        assert(Math.round(box.width) === 400 && Math.round(box.height) === 225, `the image box is sized before it loads: ${box.width}×${box.height}`);
        const thumb = shown.locator('img');
        await until('the thumbnail to load', async () => (await thumb.evaluate((img) => img.complete && img.naturalWidth)) > 0);
        await ben.screenshot({ path: `${shots}/attachments-inline.png` });

        // The lightbox: opened from the keyboard, the full image, closed by Escape.
        await shown.focus();
        await ben.keyboard.press('Enter');
        const lightbox = ben.getByTestId('lightbox');
        await lightbox.waitFor(WAIT);
        const full = lightbox.locator('img');
        await until('the full image to load', async () => (await full.evaluate((img) => img.complete && img.naturalWidth)) === 640);
        assert(await lightbox.getByRole('button', { name: 'Close image' }).evaluate((b) => b === document.activeElement), 'focus moves to Close');
        await ben.screenshot({ path: `${shots}/attachments-lightbox.png` });
        await ben.keyboard.press('Escape');
        await lightbox.waitFor({ state: 'detached', ...WAIT });
        // And with the mouse, closed by its button.
        await shown.click();
        await lightbox.getByRole('button', { name: 'Close image' }).click();
        await lightbox.waitFor({ state: 'detached', ...WAIT });

        // A file chosen with the file button, sent with words: a card with size and download.
        const notes = Buffer.alloc(1536, 'release notes\n');
        await chooseFile(ann, { name: 'notes.txt', mimeType: 'text/plain', buffer: notes });
        await until('the notes to be uploaded', async () => (await ann.getByTestId('upload-chip').getAttribute('data-status')) === 'done');
        await sendMessage(ann, 'the notes, attached');
        const card = messageItem(ben, 'the notes, attached').getByTestId('attachment-file');
        await card.waitFor(WAIT);
        const text = await card.textContent();
        assert(text.includes('notes.txt') && text.includes('1.5 KB'), `the card shows name and size: ${text}`);
        const link = card.getByRole('link', { name: 'Download notes.txt' });
        assert((await link.getAttribute('download')) === 'notes.txt', 'the link downloads under the file name');
        const download = ben.waitForEvent('download');
        await link.click();
        const saved = await (await download).path();
        assert(readFileSync(saved).equals(notes), 'the download is the file ann chose, byte for byte');

        // Over ATTACHMENT_MAX_BYTES (which `ready` tells clients): refused in the composer
        // before any byte is sent, with the limit, and nothing to send.
        await chooseFile(ann, { name: 'huge.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(MAX_BYTES + 4096, 7) });
        const refused = ann.getByTestId('upload-chip');
        await until('the large file to be refused', async () => (await refused.getAttribute('data-status')) === 'failed');
        const reason = await refused.getByRole('alert').textContent();
        assert(reason.includes('file too large, max 1 MB'), `the refusal says why, with this server's limit: ${reason}`);
        assert(!(await sendButton.isEnabled()), 'a refused file alone is nothing to send');
        await ann.screenshot({ path: `${shots}/attachments-too-large.png` });
        await refused.getByRole('button', { name: 'Remove huge.bin' }).click();
        await refused.waitFor({ state: 'detached', ...WAIT });

        // A slow uplink: the bar shows how far the upload is, and Cancel stops it.
        const cdp = await ann.context().newCDPSession(ann);
        await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 64 * 1024 });
        await chooseFile(ann, { name: 'slow.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(900 * 1024, 1) });
        const slow = ann.getByTestId('upload-chip');
        const bar = slow.getByRole('progressbar', { name: 'Uploading slow.bin' });
        await until('the upload to be under way', async () => {
          const [value, max] = await bar.evaluate((p) => [p.value, p.max]);
          return value > 0 && value < max;
        });
        await slow.getByRole('button', { name: 'Cancel upload of slow.bin' }).click();
        await slow.waitFor({ state: 'detached', ...WAIT });
        await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
        assert(!(await sendButton.isEnabled()), 'a cancelled upload leaves nothing to send');
      } catch (e) {
        for (const [i, page] of pages.entries()) {
          await page.screenshot({ path: `${shots}/attachments-failure-${i}.png` }).catch(() => undefined);
        }
        throw e;
      } finally {
        for (const context of contexts) await context.close();
        await server.stop();
      }
    },
  ],
];
