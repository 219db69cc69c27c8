import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baton, CLI, freePort, type HelloFixture, helloFixture, helloYaml, ROOT } from '../helpers/baton.js';
import { startLoad } from '../helpers/load.js';
import { missing } from '../helpers/services.js';

const CHROMIUM = '/usr/bin/chromium';
/** Where the test run keeps what it made (gitignored; docs/dashboard.md says so). */
const ARTIFACTS = join(ROOT, 'test-artifacts');

function requireChromium(): boolean {
  return (
    existsSync(CHROMIUM) ||
    missing('DASHBOARD BROWSER TEST', `${CHROMIUM} is missing: apt-get install -y chromium (npm test does)`)
  );
}

const CANARY =
  '{ type: canary, steps: [{ setWeight: 50 }, { pause: {} }], analysis: { interval: 500ms, deadline: 2m } }';

/**
 * The dashboard in a real browser (Debian's chromium, driven by playwright-core; no browser download),
 * against a real control plane, proxy and two services: sign in, watch a canary started from the CLI
 * (split, analysis), promote it from the page, see it finish.
 */
describe.runIf(requireChromium())('the dashboard in a browser', () => {
  let f: HelloFixture;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const service = (name: string) => page.locator(`[data-service="${name}"]`);

  beforeAll(async () => {
    f = await helloFixture({ version: 'v1' }, { BATON_SAMPLE_INTERVAL_MS: '500' });
    const world = join(f.ws.dir, 'world.yaml');
    writeFileSync(
      world,
      helloYaml({ service: 'world', version: 'v1', listen: await freePort(), replicas: 1 }),
    );
    const r = await baton(['deploy', '-f', world], { dataDir: f.ws.dataDir });
    expect(r.code, r.stderr).toBe(0);
    // Root in a container has no user namespace for chromium's sandbox.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // Script errors and CSP refusals ("Refused to …") fail the test; the expected 401s (not signed in yet,
    // the wrong token) are the only console errors allowed.
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 401/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    mkdirSync(ARTIFACTS, { recursive: true });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await f?.close();
  });

  it('refuses a wrong token with a clear message, then signs in and shows both services', async () => {
    await page.goto(`${f.daemon.url}/ui/`);
    await page.getByLabel('API token').fill('baton_nobody_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => page.locator('#signin-error').textContent())
      .toBe('Sign-in refused: wrong bearer token (unknown, revoked, or mistyped)');
    const token = readFileSync(join(f.ws.dataDir, 'token'), 'utf8').trim();
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await service('hello').waitFor();
    await service('world').waitFor();
    expect(await service('hello').locator('[data-serving]').getAttribute('data-serving')).toBe('1');
    expect(await service('hello').locator('tbody tr').count()).toBeGreaterThanOrEqual(2);
    // The session is an HttpOnly cookie: the page's script cannot read it.
    expect(await page.evaluate(() => document.cookie)).toBe('');
    await page.locator('#live', { hasText: 'live' }).waitFor();
  });

  it('follows a canary started from the CLI live, promotes it from the page, and says it finished', async () => {
    // `baton follow` reads the same event stream as the page: its progress must print as `deploy`'s does.
    const follow = spawn(process.execPath, [CLI, '--data-dir', f.ws.dataDir, 'follow', 'hello'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let followed = '';
    follow.stderr.on('data', (c: Buffer) => {
      followed += c;
    });
    const followExit = new Promise<number | null>((r) => follow.once('close', r));
    await expect.poll(() => followed, { timeout: 30_000 }).toContain('following hello: waiting for a deploy');
    const deploying = f.deploy({ version: 'v2', strategy: CANARY });
    const hello = service('hello');
    // The split and the waiting step, as they happen.
    await hello.locator('[data-split="1:50,2:50"]').waitFor({ timeout: 60_000 });
    await hello.locator('.steps li[data-state="running"]', { hasText: 'pause' }).waitFor();
    // No traffic yet: the analysis waits.
    await hello.locator('#verdict-hello', { hasText: 'wait' }).waitFor();
    const liveCanary = hello.locator('tr[data-rev="canary"] td').nth(1);
    expect(await liveCanary.textContent()).toBe('0');
    const load = startLoad(f.base, { rps: 60 });
    try {
      // Traffic flows: the live counts move and the judge, having enough canary requests, says promote.
      await expect
        .poll(async () => Number(await liveCanary.textContent()), { timeout: 60_000 })
        .toBeGreaterThan(0);
      await hello.locator('#verdict-hello', { hasText: 'promote' }).waitFor({ timeout: 90_000 });
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-canary-1280x800.png'), fullPage: false });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-canary-390x844.png'), fullPage: false });
      await page.setViewportSize({ width: 1280, height: 800 });
      // Promote, with confirmation.
      await hello.locator('button[data-action="promote"]').click();
      await hello.locator('button[data-confirm="promote"]').click();
      await hello.locator('#result-hello').waitFor({ timeout: 120_000 });
      expect(await hello.locator('#result-hello').textContent()).toMatch(/^✓ /);
    } finally {
      const report = await load.stop();
      expect(report.errors).toEqual([]);
    }
    const r = await deploying;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/✓ hello revision 2 is serving/);
    expect(await followExit).toBe(0);
    // The same lines, bar the seconds each measured and follow's first line.
    const lines = (t: string) =>
      t
        .trim()
        .split('\n')
        .map((l) => l.replace(/\(\d+\.\d+s\)$/, '(…s)'));
    expect(lines(followed).slice(1)).toEqual(lines(r.stderr));
    await hello.locator('[data-serving="2"]').waitFor();
    await hello.locator('[data-split="2:100"]').waitFor();
    expect(await hello.locator('#verdict-hello').textContent()).toBe('promote');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-1280x800.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-390x844.png'), fullPage: false });
    // Nothing wider than the phone's screen outside scrollable tables.
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5 && !e.closest('.scroll'))
        .map(
          (e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`,
        ),
    );
    expect(wide).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('puts a service in maintenance and back from the page, after confirmation', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    const world = service('world');
    const listen = (await world.locator('p.muted').first().textContent())!.split(' ')[0]!;
    await world.locator('button[data-action="maintenance-on"]').click();
    // Nothing happens before the confirmation.
    expect((await fetch(`http://${listen}/`)).status).toBe(200);
    await world.locator('button[data-confirm="maintenance-on"]').click();
    await world.locator('.badge', { hasText: 'maintenance' }).waitFor();
    expect((await fetch(`http://${listen}/`)).status).toBe(503);
    await world.locator('button[data-action="maintenance-off"]').click();
    await world.locator('button[data-confirm="maintenance-off"]').click();
    await world.locator('button[data-action="maintenance-on"]').waitFor();
    expect((await fetch(`http://${listen}/`)).status).toBe(200);
    const audit = JSON.parse(
      (await baton(['audit', 'world', '--json'], { dataDir: f.ws.dataDir })).stdout,
    ) as {
      events: Array<{ action: string; actor: string }>;
    };
    expect(audit.events.slice(0, 2).map((e) => e.action)).toEqual(['traffic:serve', 'traffic:maintenance']);
    expect(audit.events[0]!.actor).toMatch(/\[token local-admin\]$/);
  });
});
