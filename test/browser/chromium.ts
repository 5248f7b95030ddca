/**
 * Finding and launching the system's Chromium for the browser tests, with playwright-core (which never
 * downloads a browser of its own). CHROMIUM_PATH overrides the search.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The Chromium executable to use, or null when there is none. */
export function findChromium(): string | null {
  const fromEnv = process.env['CHROMIUM_PATH'];
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : null;
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/** The one line printed when the browser tests cannot run. */
export const NO_CHROMIUM_MESSAGE =
  'BROWSER TESTS NOT RUN: no Chromium found; install it with `apt-get install chromium` or set CHROMIUM_PATH';

/** A headless Chromium with a fresh profile directory; `close` also removes the profile. */
export async function launchChromium(
  executablePath: string,
  opts: { webgpu?: boolean } = {},
): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'adapterkit-chromium-'));
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ];
  if (opts.webgpu) args.push('--enable-unsafe-webgpu', '--enable-features=Vulkan');
  // The profile directory goes through launchPersistentContext (playwright-core's way to pass --user-data-dir).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args,
    acceptDownloads: true,
    viewport: { width: 1150, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
