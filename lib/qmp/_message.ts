/**
 * QMP messages in and out: requests encoded (and refused where QEMU could
 * not parse them), greetings and timestamps recognised, and the words for
 * a connection that ended.
 *
 * @module
 */

import { MonitorBusyError, ProtocolError } from "../errors.ts";
import { formatMs } from "../_text.ts";
import type { QmpGreeting } from "./client_types.ts";
import type { QmpTimestamp } from "./journal.ts";

export function describeClose(cause: unknown, byClient: boolean): string {
  if (byClient && cause === undefined) return "the connection was closed by the client";
  if (cause === undefined) {
    return "QEMU closed the QMP connection (it exited, or closed the socket)";
  }
  return `the QMP connection broke: ${errorText(cause)}`;
}

export function errorText(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

export function excerpt(line: string): string {
  const text = line.length > 120 ? `${line.slice(0, 120)}… (${line.length} bytes)` : line;
  return JSON.stringify(text);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isGreeting(value: unknown): value is QmpGreeting {
  if (!isObject(value) || !isObject(value.version) || !isObject(value.version.qemu)) return false;
  const { qemu, package: pkg } = value.version;
  return ["major", "minor", "micro"].every((part) => Number.isInteger(qemu[part])) &&
    typeof pkg === "string" && Array.isArray(value.capabilities) &&
    value.capabilities.every((capability) => typeof capability === "string");
}

/** QEMU's JSON parser refuses nesting deeper than this (json-streamer.c). */
const QEMU_MAX_NESTING = 1024;

/**
 * The request as JSON text, refusing what JSON cannot encode (BigInt, a
 * cycle) and what QEMU cannot parse: lone UTF-16 surrogates, nesting
 * deeper than QEMU's limit.
 */
export function encodeRequest(message: Record<string, unknown>, command: string): string {
  const text = JSON.stringify(message);
  checkValue(message.arguments, "arguments", 2);
  if (text === undefined) throw new TypeError(`${command} cannot be encoded`);
  return text;
}

function checkValue(value: unknown, path: string, depth: number): void {
  if (depth >= QEMU_MAX_NESTING) {
    throw new RangeError(`${path} is nested deeper than QEMU accepts (${QEMU_MAX_NESTING} levels)`);
  }
  if (typeof value === "string") {
    if (!value.isWellFormed()) {
      throw new TypeError(`${path} holds a lone UTF-16 surrogate, which QEMU cannot parse`);
    }
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => checkValue(item, `${path}[${i}]`, depth + 1));
  } else if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (!key.isWellFormed()) {
        throw new TypeError(`${path} has a key with a lone UTF-16 surrogate`);
      }
      checkValue(item, `${path}.${key}`, depth + 1);
    }
  }
}

export function isTimestamp(value: unknown): value is QmpTimestamp {
  return isObject(value) && typeof value.seconds === "number" &&
    typeof value.microseconds === "number";
}

/**
 * Why no greeting came within `timeout`: half a greeting and silence is a
 * peer that does not speak QMP; nothing at all, a monitor another client holds.
 */
export function noGreeting(
  vm: string,
  pendingBytes: number,
  timeout: number,
): ProtocolError | MonitorBusyError {
  if (pendingBytes > 0) {
    return new ProtocolError(
      `the peer sent ${pendingBytes} bytes of a greeting, then nothing for ` +
        `${formatMs(timeout)}: it does not speak QMP, or it hung while greeting`,
      { vm },
    );
  }
  return new MonitorBusyError(
    `connected, but QEMU sent no greeting within ${formatMs(timeout)}: ` +
      `another client is probably attached to this monitor (QEMU serves one client at a time ` +
      `and leaves the others waiting); close it, or add a second -qmp monitor`,
    { vm },
  );
}
