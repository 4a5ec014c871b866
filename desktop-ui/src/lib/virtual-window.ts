// Windowed rendering for long lists: which rows to put in the DOM, and how tall
// the spacers above and below them must be so the scrollbar stays honest.
// Pure functions only; the list component feeds them measured heights.

/** A row's measured height, or undefined while it has not been rendered yet. */
export type RowHeight = number | undefined;

export interface WindowInput {
  /** The scroller's scrollTop, minus where the rows begin inside it. */
  scrollTop: number;
  viewportHeight: number;
  heights: readonly RowHeight[];
  /** Height assumed for rows never measured. */
  estimate: number;
  /** Extra rows rendered on each side of the visible ones. */
  overscan: number;
  /** A row to keep rendered even when scrolled away (say, one holding focus). */
  keep?: number;
}

export interface WindowRange {
  /** First rendered row. */
  first: number;
  /** One past the last rendered row. */
  last: number;
  /** Height of the spacer standing in for rows before `first`. */
  top: number;
  /** Height of the spacer standing in for rows from `last` on. */
  bottom: number;
}

/** The mean of the measured heights, or `fallback` when nothing is measured. */
export function averageHeight(heights: readonly RowHeight[], fallback: number): number {
  let sum = 0;
  let n = 0;
  for (const h of heights) {
    if (h !== undefined) {
      sum += h;
      n++;
    }
  }
  return n > 0 ? sum / n : fallback;
}

function heightAt(heights: readonly RowHeight[], i: number, estimate: number): number {
  return heights[i] ?? estimate;
}

/** Where row `index` begins: the sum of the heights (or estimates) before it. */
export function offsetOf(heights: readonly RowHeight[], estimate: number, index: number): number {
  let y = 0;
  const end = Math.min(index, heights.length);
  for (let i = 0; i < end; i++) y += heightAt(heights, i, estimate);
  return y;
}

/** The rows to render for a scroll position, with the spacers around them. */
export function computeWindow({ scrollTop, viewportHeight, heights, estimate, overscan, keep }: WindowInput): WindowRange {
  const count = heights.length;
  if (count === 0) return { first: 0, last: 0, top: 0, bottom: 0 };
  const top = Math.max(0, scrollTop);
  const end = top + Math.max(0, viewportHeight);
  // First row whose bottom edge is below the viewport's top, and one past the last
  // row whose top edge is above the viewport's bottom.
  let y = 0;
  let visibleFirst = count - 1;
  let i = 0;
  for (; i < count; i++) {
    const h = heightAt(heights, i, estimate);
    if (y + h > top) {
      visibleFirst = i;
      break;
    }
    y += h;
  }
  let visibleLast = visibleFirst + 1;
  for (; i < count; i++) {
    if (y >= end && i > visibleFirst) break;
    y += heightAt(heights, i, estimate);
    visibleLast = i + 1;
  }
  let first = Math.max(0, visibleFirst - overscan);
  let last = Math.min(count, visibleLast + overscan);
  if (keep !== undefined && keep >= 0 && keep < count) {
    first = Math.min(first, keep);
    last = Math.max(last, keep + 1);
  }
  const topSpace = offsetOf(heights, estimate, first);
  let bottomSpace = 0;
  for (let j = last; j < count; j++) bottomSpace += heightAt(heights, j, estimate);
  return { first, last, top: topSpace, bottom: bottomSpace };
}

/**
 * The scrollTop that keeps an anchor row where the reader saw it after rows were
 * added before it: the anchor's new offset (with `rowsOffset`, where the rows begin
 * inside the scroller) minus how far below the viewport's top it stood.
 */
export function anchoredScrollTop(
  heights: readonly RowHeight[],
  estimate: number,
  anchorIndex: number,
  anchorViewportOffset: number,
  rowsOffset = 0,
): number {
  return Math.max(0, rowsOffset + offsetOf(heights, estimate, anchorIndex) - anchorViewportOffset);
}
