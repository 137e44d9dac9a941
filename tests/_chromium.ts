/**
 * Headless Chromium (Debian's `chromium`) for the tests: the DOM of a page
 * after its scripts ran, a screenshot, and what the page logged. Started
 * with a fresh profile and no background networking (this machine has no
 * network), removed after.
 */

export const CHROMIUM = "/usr/bin/chromium";

/** Whether Chromium is installed. */
export function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** What Chromium made of a page. */
export interface Rendered {
  /** The DOM after the page's scripts ran, less the scripts themselves. */
  dom: string;
  /** The page's console messages Chromium logged (errors and uncaught exceptions among them). */
  console: string[];
}

async function chromium(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const profile = await Deno.makeTempDir({ prefix: "corral-chromium-" });
  try {
    const output = await new Deno.Command(CHROMIUM, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        `--user-data-dir=${profile}`,
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    return { stdout: text.decode(output.stdout), stderr: text.decode(output.stderr) };
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

/** Load `url` and return its DOM once its scripts ran, with its console messages. */
export async function renderPage(url: string): Promise<Rendered> {
  const { stdout, stderr } = await chromium(["--virtual-time-budget=5000", "--dump-dom", url]);
  const console = stderr.split("\n").filter((line) => line.includes(":CONSOLE("));
  // What the page drew, without its scripts (whose text holds the same markup as strings).
  return { dom: stdout.replace(/<script[\s\S]*?<\/script>/g, ""), console };
}

/** A PNG screenshot of `url` at `width`×`height`. */
export async function screenshot(
  url: string,
  file: string,
  width = 1400,
  height = 900,
): Promise<Uint8Array> {
  await chromium([
    `--window-size=${width},${height}`,
    "--virtual-time-budget=5000",
    `--screenshot=${file}`,
    url,
  ]);
  return await Deno.readFile(file);
}
