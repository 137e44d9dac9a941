/**
 * A VM's screen (`display: true`: a VGA card, drawn by QEMU with no window):
 * screenshots as PNG (`screendump`), key combinations and typed text
 * (`send-key`).
 *
 * @module
 */

import { CorralError } from "../errors.ts";
import type { ActionOptions, VmHandle as Vm } from "./handle.ts";

/**
 * Write the VM's screen to `file` as PNG (QEMU writes it, so the path is on
 * the machine QEMU runs on).
 *
 * @example
 * ```ts ignore
 * await screenshot(vm, "/tmp/screen.png");
 * ```
 *
 * @throws {QmpError} The VM has no screen (`display: true`).
 */
export async function screenshot(vm: Vm, file: string, options: ActionOptions = {}): Promise<void> {
  await vm.execute("screendump", { filename: file, format: "png" }, options);
}

/**
 * Press keys together and release them: `"ctrl-alt-delete"`, `"ret"`, `"shift-a"`
 * (QEMU's key names, joined with `-`).
 *
 * @throws {CorralError} A key QEMU does not know, named.
 */
export async function sendKeys(vm: Vm, combo: string, options: ActionOptions = {}): Promise<void> {
  const keys = combo.split("-").map((name) => qcode(KEY_ALIASES[name] ?? name, vm.name));
  await vm.execute("send-key", { keys: keys.map((data) => ({ type: "qcode", data })) }, options);
}

/**
 * Type `text` as a US keyboard would, one key press (with shift where needed)
 * per character; `\n` is Enter, `\t` Tab.
 *
 * @throws {CorralError} A character there is no key for.
 */
export async function typeText(vm: Vm, text: string, options: ActionOptions = {}): Promise<void> {
  for (const char of text) {
    const key = CHAR_KEYS.get(char);
    if (!key) {
      throw new CorralError(`there is no key for ${JSON.stringify(char)} to type`, { vm: vm.name });
    }
    const keys = key.shift ? ["shift", key.code] : [key.code];
    await vm.execute("send-key", {
      keys: keys.map((data) => ({ type: "qcode" as const, data: data as "a" })),
    }, options);
  }
}

const KEY_ALIASES: Record<string, string> = {
  del: "delete",
  enter: "ret",
  return: "ret",
  space: "spc",
  escape: "esc",
  control: "ctrl",
};

function qcode(name: string, vm: string): "a" {
  if (!/^[a-z0-9_]+$/.test(name)) {
    throw new CorralError(
      `${JSON.stringify(name)} is not a key name (QEMU's qcodes: ret, ctrl, a, f1…)`,
      {
        vm,
      },
    );
  }
  return name as "a"; // QEMU checks the name against its own list and says if it does not know it.
}

/** Each character a US keyboard types: its key, and whether shift is held. */
const CHAR_KEYS: Map<string, { code: string; shift: boolean }> = (() => {
  const keys = new Map<string, { code: string; shift: boolean }>();
  for (const c of "abcdefghijklmnopqrstuvwxyz") {
    keys.set(c, { code: c, shift: false });
    keys.set(c.toUpperCase(), { code: c, shift: true });
  }
  "0123456789".split("").forEach((d) => keys.set(d, { code: d, shift: false }));
  const plain: [string, string][] = [
    [" ", "spc"],
    ["\n", "ret"],
    ["\t", "tab"],
    ["-", "minus"],
    ["=", "equal"],
    ["[", "bracket_left"],
    ["]", "bracket_right"],
    ["\\", "backslash"],
    [";", "semicolon"],
    ["'", "apostrophe"],
    ["`", "grave_accent"],
    [",", "comma"],
    [".", "dot"],
    ["/", "slash"],
  ];
  for (const [c, code] of plain) keys.set(c, { code, shift: false });
  const shifted: [string, string][] = [
    ["!", "1"],
    ["@", "2"],
    ["#", "3"],
    ["$", "4"],
    ["%", "5"],
    ["^", "6"],
    ["&", "7"],
    ["*", "8"],
    ["(", "9"],
    [")", "0"],
    ["_", "minus"],
    ["+", "equal"],
    ["{", "bracket_left"],
    ["}", "bracket_right"],
    ["|", "backslash"],
    [":", "semicolon"],
    ['"', "apostrophe"],
    ["~", "grave_accent"],
    ["<", "comma"],
    [">", "dot"],
    ["?", "slash"],
  ];
  for (const [c, code] of shifted) keys.set(c, { code, shift: true });
  return keys;
})();
