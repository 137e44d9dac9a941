/**
 * Packet faults as netem applies them to an interface's outgoing traffic,
 * done by the switch on the frames one VM sends: delay with jitter, loss,
 * duplication, corruption (one bit flipped), reordering (a frame sent at
 * once, ahead of the delayed ones) and a rate (frames wait their turn on
 * a link of that speed).
 *
 * @module
 */

/** What to do to the frames, every field optional. */
export interface ImpairmentSpec {
  /** Added latency, in ms. */
  delay?: number | undefined;
  /** Latency varies by up to this much either way, in ms. */
  jitter?: number | undefined;
  /** Frames dropped, in percent. */
  loss?: number | undefined;
  /** Frames sent twice, in percent. */
  duplicate?: number | undefined;
  /** Frames with one bit flipped, in percent. */
  corrupt?: number | undefined;
  /** Frames sent at once, ahead of those delayed, in percent. */
  reorder?: number | undefined;
  /** The link's speed, in bytes per second. */
  rate?: number | undefined;
}

/** The impairment of one VM's outgoing frames on one switch. */
export class Impairment<To = unknown> {
  #spec: ImpairmentSpec;
  #send: (to: To, frame: Uint8Array) => void;
  #random: () => number;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #busyUntil = 0;
  /** Frames dropped by `loss`. */
  lost = 0;

  constructor(
    spec: ImpairmentSpec,
    send: (to: To, frame: Uint8Array) => void,
    random: () => number = Math.random,
  ) {
    this.#spec = spec;
    this.#send = send;
    this.#random = random;
  }

  /** Pass a frame toward `to`, impaired. */
  pass(to: To, frame: Uint8Array): void {
    const { loss, corrupt, duplicate } = this.#spec;
    if (this.#chance(loss)) {
      this.lost++;
      return;
    }
    const sent = this.#chance(corrupt) ? flipOneBit(frame, this.#random) : frame;
    this.#schedule(to, sent);
    if (this.#chance(duplicate)) this.#schedule(to, sent);
  }

  /** Drop what is still delayed and stop. */
  close(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #schedule(to: To, frame: Uint8Array): void {
    const { delay = 0, jitter = 0, reorder, rate } = this.#spec;
    let wait = this.#chance(reorder) ? 0 : delay + (this.#random() * 2 - 1) * jitter;
    if (rate) {
      const now = performance.now();
      this.#busyUntil = Math.max(now, this.#busyUntil) + (frame.length / rate) * 1000;
      wait = Math.max(wait, this.#busyUntil - now);
    }
    if (wait <= 0) return this.#send(to, frame);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#send(to, frame);
    }, wait);
    this.#timers.add(timer);
  }

  #chance(percent: number | undefined): boolean {
    return percent !== undefined && percent > 0 && this.#random() * 100 < percent;
  }
}

function flipOneBit(frame: Uint8Array, random: () => number): Uint8Array {
  const copy = frame.slice();
  const bit = Math.floor(random() * copy.length * 8);
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
}
