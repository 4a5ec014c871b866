// Levels in dBFS drawn as a bar: the voice-activity threshold's slider spans the same range.

/** The quietest level the meter shows; the threshold slider starts here too. */
export const LEVEL_FLOOR_DB = -80;

/** Where `db` sits on the meter, 0 (floor or nothing) to 1 (full scale). */
export function levelFraction(db: number | null): number {
  if (db === null || !Number.isFinite(db)) return 0;
  return Math.min(1, Math.max(0, (db - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB));
}
