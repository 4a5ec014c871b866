// Push-to-talk keys are stored by `KeyboardEvent.code` name ("ControlLeft"), which the
// app's global backends share; people read "Left Ctrl".

const MODIFIERS: Record<string, string> = { Control: 'Ctrl', Shift: 'Shift', Alt: 'Alt', Meta: 'Super' };
const NAMED: Record<string, string> = {
  MouseBack: 'Mouse back button',
  MouseForward: 'Mouse forward button',
  Space: 'Space',
  Backquote: '`',
  CapsLock: 'Caps Lock',
};

export function keyLabel(code: string): string {
  if (NAMED[code]) return NAMED[code];
  const modifier = /^(Control|Shift|Alt|Meta)(Left|Right)$/.exec(code);
  if (modifier) return `${modifier[2]} ${MODIFIERS[modifier[1]]}`;
  const letter = /^(?:Key|Digit)(.)$/.exec(code);
  if (letter) return letter[1];
  const numpad = /^Numpad(.+)$/.exec(code);
  if (numpad) return `Numpad ${numpad[1]}`;
  return code;
}

/** A mouse side button as a key name (`MouseEvent.button` 3 and 4); null for the others. */
export function mouseButtonKey(button: number): string | null {
  return button === 3 ? 'MouseBack' : button === 4 ? 'MouseForward' : null;
}
