import { describe, expect, it } from 'vitest';
import { keyLabel, mouseButtonKey } from '../src/lib/key-label';

describe('push-to-talk key labels', () => {
  it('name a lone modifier with its side', () => {
    expect(keyLabel('ControlLeft')).toBe('Left Ctrl');
    expect(keyLabel('AltRight')).toBe('Right Alt');
    expect(keyLabel('MetaLeft')).toBe('Left Super');
  });

  it('shorten letters and digits and keep other names', () => {
    expect(keyLabel('KeyV')).toBe('V');
    expect(keyLabel('Digit1')).toBe('1');
    expect(keyLabel('F8')).toBe('F8');
    expect(keyLabel('Numpad0')).toBe('Numpad 0');
  });

  it('know the mouse side buttons, and only those', () => {
    expect(mouseButtonKey(3)).toBe('MouseBack');
    expect(mouseButtonKey(4)).toBe('MouseForward');
    expect(mouseButtonKey(0)).toBeNull();
    expect(keyLabel('MouseBack')).toBe('Mouse back button');
  });
});
