import { describe, expect, it } from 'vitest';
import { anchoredScrollTop, averageHeight, computeWindow, offsetOf, type RowHeight } from '../src/lib/virtual-window';

const rows = (n: number, h: RowHeight = 50): RowHeight[] => Array.from({ length: n }, () => h);
const unmeasured = (n: number): RowHeight[] => Array.from({ length: n }, () => undefined);

describe('averageHeight', () => {
  it('averages the measured rows and ignores the rest', () => {
    expect(averageHeight([40, undefined, 60], 10)).toBe(50);
  });

  it('falls back when nothing is measured', () => {
    expect(averageHeight([], 48)).toBe(48);
    expect(averageHeight([undefined, undefined], 48)).toBe(48);
  });
});

describe('offsetOf', () => {
  it('sums measured heights and estimates before the row', () => {
    expect(offsetOf([10, undefined, 30, 40], 20, 0)).toBe(0);
    expect(offsetOf([10, undefined, 30, 40], 20, 3)).toBe(60);
    expect(offsetOf([10, undefined], 20, 9)).toBe(30);
  });
});

describe('computeWindow', () => {
  it('renders the visible rows plus the overscan, with spacers for the rest', () => {
    // 1000 rows of 50 px; rows 100..111 are in a 600 px viewport at 5000.
    const w = computeWindow({ scrollTop: 5000, viewportHeight: 600, heights: rows(1000), estimate: 50, overscan: 10 });
    expect(w).toEqual({ first: 90, last: 122, top: 90 * 50, bottom: (1000 - 122) * 50 });
  });

  it('keeps the total height whatever the scroll position', () => {
    const heights: RowHeight[] = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? undefined : 20 + (i % 7) * 10));
    const estimate = averageHeight(heights, 48);
    const total = offsetOf(heights, estimate, heights.length);
    for (const scrollTop of [0, 123, 4000, total - 500, total]) {
      const w = computeWindow({ scrollTop, viewportHeight: 500, heights, estimate, overscan: 5 });
      const inside = offsetOf(heights, estimate, w.last) - offsetOf(heights, estimate, w.first);
      expect(w.top + inside + w.bottom).toBeCloseTo(total);
      expect(w.last - w.first).toBeLessThan(60);
    }
  });

  it('clamps at the ends', () => {
    expect(computeWindow({ scrollTop: 0, viewportHeight: 200, heights: rows(100), estimate: 50, overscan: 10 })).toMatchObject({ first: 0, last: 14, top: 0 });
    const end = computeWindow({ scrollTop: 99_999, viewportHeight: 200, heights: rows(100), estimate: 50, overscan: 10 });
    expect(end).toMatchObject({ first: 89, last: 100, bottom: 0 });
    expect(computeWindow({ scrollTop: -30, viewportHeight: 200, heights: rows(3), estimate: 50, overscan: 10 })).toEqual({ first: 0, last: 3, top: 0, bottom: 0 });
  });

  it('handles an empty list and an unmeasured viewport', () => {
    expect(computeWindow({ scrollTop: 0, viewportHeight: 500, heights: [], estimate: 50, overscan: 10 })).toEqual({ first: 0, last: 0, top: 0, bottom: 0 });
    const w = computeWindow({ scrollTop: 0, viewportHeight: 0, heights: rows(100), estimate: 50, overscan: 2 });
    expect(w.first).toBe(0);
    expect(w.last).toBe(3);
  });

  it('uses the estimate for rows not measured yet', () => {
    const heights: RowHeight[] = [...unmeasured(50), ...rows(50, 100)];
    const w = computeWindow({ scrollTop: 50 * 20, viewportHeight: 100, heights, estimate: 20, overscan: 0 });
    expect(w.first).toBe(50);
    expect(w.top).toBe(1000);
  });

  it('keeps a pinned row rendered even far from the viewport', () => {
    const w = computeWindow({ scrollTop: 0, viewportHeight: 100, heights: rows(100), estimate: 50, overscan: 1, keep: 40 });
    expect(w.first).toBe(0);
    expect(w.last).toBe(41);
    expect(w.bottom).toBe(59 * 50);
    const ignored = computeWindow({ scrollTop: 0, viewportHeight: 100, heights: rows(10), estimate: 50, overscan: 1, keep: 99 });
    expect(ignored.last).toBe(3);
  });
});

describe('anchoredScrollTop', () => {
  it('moves the scroll position down by what was prepended above the anchor', () => {
    // The reader saw row 0 at 30 px below the top at scrollTop 170; 50 rows of
    // (estimated) 40 px arrive before it, and the rows begin 12 px into the scroller.
    const heights: RowHeight[] = [...unmeasured(50), ...rows(20, 60)];
    expect(anchoredScrollTop(heights, 40, 50, 30, 12)).toBe(12 + 50 * 40 - 30);
  });

  it('never goes above the top', () => {
    expect(anchoredScrollTop(rows(5), 50, 0, 100)).toBe(0);
  });
});
