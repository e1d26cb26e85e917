// Swagger UI and a page of another origin, in Chromium, against the real
// service on SQLite: what a person does in /docs, and what a browser app on
// another origin does with fetch.
//
// Run by run.sh (which installs Chromium and the npm packages when missing):
//   INTEGRATION_POINTS_BIN=target/debug/integration-points node --test tests/browser/
// On a failure, a screenshot of the page is saved under target/browser/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const REPO = resolve(import.meta.dirname, '..', '..');
const BINARY = resolve(REPO, process.env.INTEGRATION_POINTS_BIN ?? 'target/debug/integration-points');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOTS = join(REPO, 'target', 'browser');
const POINTS = '/rest/v1/service/integration_points';
const KEY = 'browser-test-key-0123456789abcdef';

let browser;
let scratch;
const services = [];
const pageServers = [];

/// A free loopback port (the kernel's choice; released at once).
async function freePort() {
  const server = createServer();
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address();
  await new Promise((done) => server.close(done));
  return port;
}

/// Starts the service on a fresh SQLite file with the given settings.
async function startService(name, env) {
  const port = await freePort();
  const log = openSync(join(scratch, `${name}.log`), 'w');
  const child = spawn(BINARY, ['serve'], {
    env: {
      PATH: process.env.PATH,
      APP__SERVER__PORT: String(port),
      APP__DATABASE__URL: `sqlite://${join(scratch, `${name}.db`)}?mode=rwc`,
      ...env,
    },
    stdio: ['ignore', log, log],
  });
  services.push(child);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) {
      throw new Error(`${name} exited with ${child.exitCode}; see ${scratch}/${name}.log`);
    }
    try {
      if ((await fetch(`${base}/health/ready`)).ok) return base;
    } catch {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${name} did not become ready; see ${scratch}/${name}.log`);
}

/// Serves one HTML page on a loopback port of its own: another origin.
async function servePage(html) {
  const server = createServer((_, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end(html);
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  pageServers.push(server);
  return `http://127.0.0.1:${server.address().port}`;
}

/// Runs `body` with a new page; on failure saves `<name>.png` under target/browser/.
async function withPage(t, name, body) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
  try {
    await body(page);
  } catch (error) {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const file = join(SCREENSHOTS, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    t.diagnostic(`screenshot: ${file}`);
    throw error;
  } finally {
    await page.close();
  }
}

/// The block of an operation in Swagger UI.
function operation(page, operationId) {
  return page.locator(`[id$="-${operationId}"].opblock`);
}

/// Expands an operation, presses "Try it out" and "Execute" with what is
/// filled in, and returns the status code and body Swagger UI shows. The
/// operation stays open, so a screenshot of a failure shows its answer.
async function tryItOut(page, operationId) {
  const block = operation(page, operationId);
  if (!(await block.locator('.opblock-body').isVisible())) {
    await block.locator('.opblock-summary').first().click();
  }
  const tryOut = block.locator('button.try-out__btn');
  if ((await tryOut.innerText()).trim() === 'Try it out') await tryOut.click();
  const status = block.locator('.live-responses-table .response .response-col_status');
  // A second run must not read the first run's answer.
  const clear = block.locator('button.btn-clear');
  if (await clear.count()) await clear.click();
  await block.locator('button.execute').click();
  await status.first().waitFor({ timeout: 15000 });
  const code = (await status.first().innerText()).trim();
  const pre = block.locator('.live-responses-table .response-col_description pre');
  const body = (await pre.count()) ? (await pre.first().innerText()).trim() : '';
  await block.scrollIntoViewIfNeeded();
  return { code, body };
}

/// Collapses an operation that was tried.
async function collapse(page, operationId) {
  await operation(page, operationId).locator('.opblock-summary').first().click();
}

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'ip-browser-'));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Root in CI and containers: Chromium's sandbox needs a user namespace.
    args: ['--no-sandbox'],
  });
});

after(async () => {
  await browser?.close();
  for (const child of services) child.kill('SIGTERM');
  for (const server of pageServers) server.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test('the pre-filled examples succeed in order in Swagger UI', async (t) => {
  const base = await startService('open', {});
  await withPage(t, 'swagger-sequence', async (page) => {
    await page.goto(`${base}/docs`);
    await operation(page, 'createIntegrationPoint').waitFor();

    const steps = [
      ['createIntegrationPoint', '200'],
      ['listIntegrationPoints', '200'],
      ['getIntegrationPoint', '200'],
      ['patchIntegrationPoint', '200'],
      ['lookupIntegrationPoints', '200'],
      ['rotateIntegrationPointToken', '200'],
      ['deleteIntegrationPoint', '204'],
    ];
    const answers = {};
    for (const [operationId, expected] of steps) {
      const answer = await tryItOut(page, operationId);
      assert.equal(answer.code, expected, `${operationId} answered ${answer.code}: ${answer.body}`);
      answers[operationId] = answer;
      await collapse(page, operationId);
    }

    const created = JSON.parse(answers.createIntegrationPoint.body);
    const listed = JSON.parse(answers.listIntegrationPoints.body);
    assert.deepEqual(listed.map((point) => point.id), [created.id], 'the list shows what create made');
    assert.deepEqual(JSON.parse(answers.lookupIntegrationPoints.body), [created.id]);
  });
});

test('Authorize sends the key to an instance that needs one', async (t) => {
  const keys = JSON.stringify([{ name: 'browser', key: KEY, scopes: ['read', 'write'] }]);
  const base = await startService('keyed', { APP__AUTH__KEYS: keys });
  await withPage(t, 'swagger-authorize', async (page) => {
    await page.goto(`${base}/docs`);
    await operation(page, 'listIntegrationPoints').waitFor();

    const without = await tryItOut(page, 'listIntegrationPoints');
    assert.equal(without.code, '401', `without a key: ${without.body}`);

    await page.locator('button.authorize').first().click();
    const dialog = page.locator('.dialog-ux .modal-ux');
    await dialog.locator('input').first().fill(KEY);
    await dialog.locator('button.authorize').click();
    await dialog.locator('button.btn-done').click();

    const withKey = await tryItOut(page, 'listIntegrationPoints');
    assert.equal(withKey.code, '200', `with the key: ${withKey.body}`);
  });
});

/// A page that calls the API with fetch (a list, then a LOOKUP, which needs a
/// preflight) and shows what it could read.
function corsPage(api) {
  return `<!doctype html><meta charset="utf-8"><title>CORS</title><pre id="out">running</pre>
<script>
(async () => {
  const out = document.getElementById('out');
  try {
    const list = await fetch('${api}${POINTS}?limit=1');
    const lookup = await fetch('${api}${POINTS}', {
      method: 'LOOKUP',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify('CORS-1'),
    });
    out.textContent = JSON.stringify({
      list: list.status,
      total: list.headers.get('X-Total-Count'),
      lookup: lookup.status,
      ids: await lookup.json(),
    });
  } catch (error) {
    out.textContent = JSON.stringify({ error: String(error) });
  }
})();
</script>`;
}

test('a page of an allowed origin reads X-Total-Count; another origin is refused', async (t) => {
  const allowedPort = await freePort();
  const allowedOrigin = `http://127.0.0.1:${allowedPort}`;
  const api = await startService('cors', { APP__HTTP__CORS__ALLOWED_ORIGINS: allowedOrigin });
  for (const code of ['CORS-1', 'CORS-2']) {
    const response = await fetch(`${api}${POINTS}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ code }),
    });
    assert.equal(response.status, 200, `setup: create ${code}`);
  }
  const html = corsPage(api);
  const allowed = createServer((_, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end(html);
  });
  await new Promise((done) => allowed.listen(allowedPort, '127.0.0.1', done));
  pageServers.push(allowed);
  const other = await servePage(html);

  await withPage(t, 'cors-allowed-origin', async (page) => {
    await page.goto(allowedOrigin);
    const out = page.locator('#out');
    await out.filter({ hasNotText: 'running' }).waitFor();
    const seen = JSON.parse(await out.innerText());
    assert.equal(seen.list, 200, JSON.stringify(seen));
    assert.equal(seen.total, '2', 'X-Total-Count is readable from the page');
    assert.equal(seen.lookup, 200, JSON.stringify(seen));
    assert.equal(seen.ids.length, 1);
  });

  await withPage(t, 'cors-other-origin', async (page) => {
    await page.goto(other);
    const out = page.locator('#out');
    await out.filter({ hasNotText: 'running' }).waitFor();
    const seen = JSON.parse(await out.innerText());
    assert.match(seen.error ?? '', /TypeError/, `the browser withholds the answer: ${JSON.stringify(seen)}`);
  });
});
