import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import { installInfra } from '../../lab/infra/paths.js';
import { freePort } from '../../lab/process.js';
import { startTemporalDevServer } from '../../lab/temporal.js';
import type { TemporalDevServer } from '../../lab/temporal.js';
import { launchChromium, screenshot, seeText } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { eventually, TestCluster, uniqueName } from '../helpers/kube.js';
import { spawnBuiltWorker } from '../helpers/temporal.js';

// The Temporal UI bundled with the CLI's dev server (UI 2.54.1), driven in Debian's chromium: a run started
// from its start form, summaries and current details as the browser renders them, and payloads through the
// worker's codec server (CORS from the UI's origin) or, without it, encrypted. Screenshots: docs/operations.md.
const SCREENSHOTS = 'test-output/temporal-ui';
// A browser on a loaded 2-core machine: each page of the UI can take seconds to render.
const TEST_TIMEOUT_MS = 240_000;
const taskQueue = uniqueName('ui');
const codecKey = randomBytes(32).toString('base64');
let dir: string;
let temporal: TemporalDevServer;
let uiUrl: string;
let cluster: TestCluster;
let worker: ChildProcess;
let codecUrl: string;
let chromium: Awaited<ReturnType<typeof launchChromium>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'temporal-ui-'));
  const infra = await installInfra();
  // A dev server of its own: the shared one runs without its UI.
  temporal = await startTemporalDevServer(join(dir, 'temporal'), infra);
  uiUrl = temporal.uiUrl!;
  cluster = await TestCluster.create('ui');
  const codecPort = await freePort();
  codecUrl = `http://127.0.0.1:${codecPort}`;
  worker = spawnBuiltWorker(taskQueue, {
    TEMPORAL_ADDRESS: temporal.address,
    CODEC_KEY: codecKey,
    CODEC_SERVER_ADDRESS: `127.0.0.1:${codecPort}`,
    CODEC_CORS_ORIGINS: uiUrl,
  });
  worker.stdout!.resume();
  await eventually(
    () =>
      fetch(`${codecUrl}/decode`, { method: 'OPTIONS' }).then(
        (r) => r.ok,
        () => false,
      ),
    'the codec server',
  );
  chromium = await launchChromium(infra.chromium);
});
afterAll(async () => {
  await chromium?.close();
  if (worker && worker.exitCode === null) {
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
  }
  await temporal?.stop();
  await cluster?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The CLI as an operator runs it against this file's dev server, encrypting with the worker's key. */
const cli = (...args: string[]) => runCli(args, { TEMPORAL_ADDRESS: temporal.address, TASK_QUEUE: taskQueue, CODEC_KEY: codecKey });

/** Types into a CodeMirror editor (the form's JSON and Markdown fields) in one input event, so no bracket is auto-closed. */
async function typeIntoEditor(page: Page, selector: string, text: string) {
  // A locator's click waits for a steady layout, which CodeMirror's editor never reports: click the element itself.
  await (await page.waitForSelector(selector))!.click();
  await page.keyboard.sendCharacter(text);
}

/** Points this browser's UI at the codec server, through the UI's own Codec Server dialog (kept in localStorage). */
async function configureCodecServer(page: Page) {
  await page.goto(`${uiUrl}/namespaces/default/workflows`, { waitUntil: 'networkidle0' });
  await page.locator('::-p-aria(Configure Codec Server)').click();
  await page.locator('::-p-text(Use my browser setting)').click();
  await page.locator('::-p-aria(Codec Server browser endpoint)').fill(codecUrl);
  await screenshot(page, SCREENSHOTS, '1-codec-server-setting');
  await page.locator('#data-encoder-settings ::-p-text(Apply)').click();
  await page.locator('::-p-aria(Codec Server is configured)').wait();
}

/** Opens a run as an operator does, from the workflow list filtered by its id; then `tab` (the last part of its URL). */
async function openRun(page: Page, workflowId: string, tab: 'timeline' | 'history' | 'user-metadata' = 'timeline') {
  await page.goto(`${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(`WorkflowId="${workflowId}"`)}`);
  await page.locator(`a::-p-text(${workflowId})`).click();
  await eventually(async () => page.url().includes(`/workflows/${workflowId}/`), `the page of ${workflowId}`);
  if (!page.url().endsWith(`/${tab}`)) await page.goto(page.url().replace(/\/[^/]+$/, `/${tab}`));
}

/** The browser's requests to the codec server, preflights included (Chrome reports those on its DevTools protocol only). */
async function watchCodecRequests(page: Page) {
  const seen: { method: string; url: string; origin?: string; status?: number; allowOrigin?: string }[] = [];
  const byId = new Map<string, (typeof seen)[number]>();
  const devtools = await page.createCDPSession();
  await devtools.send('Network.enable');
  devtools.on('Network.requestWillBeSent', (event) => {
    if (!event.request.url.startsWith(codecUrl)) return;
    const request = { method: event.request.method, url: event.request.url, origin: event.request.headers.Origin };
    byId.set(event.requestId, request);
    seen.push(request);
  });
  devtools.on('Network.responseReceived', (event) => {
    const request = byId.get(event.requestId);
    if (!request) return;
    request.status = event.response.status;
    request.allowOrigin = event.response.headers['access-control-allow-origin'];
  });
  return seen;
}

// One page for the runs below: the codec server stays configured in its localStorage.
let page: Page;
let codecRequests: Awaited<ReturnType<typeof watchCodecRequests>>;
/** The summary of the first activity of a run (checkInputTargets), as the event history shows it. */
const INPUT_CHECK_SUMMARY = /check that \d+ input target\(s\) exist/;
const maintenance = { id: uniqueName('maintenance'), cluster: uniqueName('lab'), node: '' };

test(
  'a drainNode dry run started from the UI start form, through the codec server: summary, details, plan and timeline',
  async () => {
    page = await chromium.browser.newPage();
    codecRequests = await watchCodecRequests(page);
    await configureCodecServer(page);
    const node = await cluster.addNode();
    await cluster.addPod(node, 'web-1');
    const input = JSON.stringify({ node, dryRun: true });
    // What docs/workflows tells an operator to paste when starting a run outside the CLI.
    const summary = (await cli('describe', 'drainNode', '--input', input, '--summary')).stdout.trim();
    const details = (await cli('describe', 'drainNode', '--input', input)).stdout.trim();
    expect(summary).toBe(`dry run: drain ${node}`);

    await page.goto(`${uiUrl}/namespaces/default/workflows/start-workflow`, { waitUntil: 'networkidle0' });
    await page.locator('#workflowId').fill(`drain-node-${node}`);
    await page.locator('#taskQueue').fill(taskQueue);
    await page.locator('#workflowType').fill('drainNode');
    // Opened first: a click on it right after typing into the Data editor is lost.
    await page.locator('button::-p-text(More options)').click();
    await typeIntoEditor(page, '[aria-label="Data"]', input);
    await typeIntoEditor(page, 'label[for="summary"] + div [contenteditable="true"]', summary);
    await typeIntoEditor(page, 'label[for="details"] + div [contenteditable="true"]', details);
    await screenshot(page, SCREENSHOTS, '2-start-form');
    await page.locator('button::-p-text(Start Workflow)').click();
    await seeText(page, ['Workflow started successfully']);

    await openRun(page, `drain-node-${node}`);
    // The result, decrypted by the codec server; the timeline's rows carry the activities' summaries.
    await seeText(page, [/COMPLETED/, '"outcome": "planned"', `"pod": "${cluster.namespace}/web-1"`, `planNodeDrain • plan the drain of ${node}`], {
      timeoutMs: 60_000,
    });
    await screenshot(page, SCREENSHOTS, '3-drain-dry-run');
    await openRun(page, `drain-node-${node}`, 'user-metadata');
    // Markdown rendered: the details' bold title shows without its asterisks.
    const shown = await seeText(page, [
      summary,
      `\nDrain ${node}\n`,
      'Dry run: returns this plan and changes nothing.',
      'now: planned',
      'plan: done — 1 to evict',
    ]);
    expect(shown).not.toContain('**');
    await screenshot(page, SCREENSHOTS, '4-drain-user-metadata');

    // The UI encrypted the form's input and decrypted what it shows through the codec server, across origins:
    // each call preflighted from the UI's origin and allowed for it.
    for (const action of ['encode', 'decode']) {
      const calls = codecRequests.filter((r) => r.url.startsWith(`${codecUrl}/${action}`));
      expect(calls).toContainEqual(expect.objectContaining({ method: 'OPTIONS', origin: uiUrl, status: 204, allowOrigin: uiUrl }));
      expect(calls).toContainEqual(expect.objectContaining({ method: 'POST', status: 200, allowOrigin: uiUrl }));
    }
  },
  TEST_TIMEOUT_MS,
);

test(
  'a maintenance run started by the encrypting CLI: its summary, and current details that change when the node is done',
  async () => {
    maintenance.node = await cluster.addNode();
    const { id, node } = maintenance;
    const input = { cluster: maintenance.cluster, nodes: [node], reason: 'fan swap', settleSeconds: 0, healthGate: { fluxNamespace: '' } };
    expect(await cli('start', 'nodeMaintenance', '--input', JSON.stringify(input), '--id', id)).toMatchObject({ code: 0 });
    await openRun(page, id, 'user-metadata');
    // The UI asks for the current details once; its R key asks again.
    const refresh = () => page.keyboard.press('r');
    const holding = `node ${node}: running — maintenance: fan swap: drained; send done when finished`;
    await seeText(page, [`node maintenance on ${maintenance.cluster}: ${node} (fan swap)`, '4. fan swap: wait for done', `now: node ${node}`, holding], {
      between: refresh,
      timeoutMs: 60_000,
    });
    await screenshot(page, SCREENSHOTS, '5-maintenance-holding');

    expect(await cli('send', id, 'done')).toMatchObject({ code: 0 });
    const done = await seeText(page, ['now: completed', new RegExp(`node ${node}: done — maintained for \\d+s, uncordoned`)], {
      between: refresh,
      timeoutMs: 60_000,
    });
    expect(done).not.toContain(holding);
    await screenshot(page, SCREENSHOTS, '6-maintenance-done');
    await openRun(page, id);
    await seeText(page, [/COMPLETED/, '"reason": "fan swap"']);
    await openRun(page, id, 'history');
    await seeText(page, ['Workflow Execution Started', INPUT_CHECK_SUMMARY]);
  },
  TEST_TIMEOUT_MS,
);

test(
  'without the codec server the same run shows its payloads encrypted',
  async () => {
    // A browser context of its own: a fresh localStorage, so no codec server is configured.
    const context = await chromium.browser.createBrowserContext();
    try {
      const plain = await context.newPage();
      await openRun(plain, maintenance.id, 'user-metadata');
      const metadata = await seeText(plain, ['No summary available', 'No details available', 'No Current Details']);
      expect(metadata).not.toContain('fan swap');
      await screenshot(plain, SCREENSHOTS, '7-encrypted-user-metadata');

      // Input and result are the ciphertext, shown as base64 data.
      await openRun(plain, maintenance.id);
      const payloads = await seeText(plain, [/Input\s+"[A-Za-z0-9+/]{40,}={0,2}"\s+Result\s+"[A-Za-z0-9+/]{40,}={0,2}"/]);
      expect(payloads).not.toContain('fan swap');
      // The event history lists the activities, with empty summaries: they are payloads too.
      await openRun(plain, maintenance.id, 'history');
      const history = await seeText(plain, ['Workflow Execution Started', 'checkInputTargets']);
      expect(history).not.toMatch(INPUT_CHECK_SUMMARY);
      await screenshot(plain, SCREENSHOTS, '8-encrypted-history');
    } finally {
      await context.close();
    }
  },
  TEST_TIMEOUT_MS,
);
