// The UI against a real `vamp serve --demo` with HAProxy, in headless Chromium, as a person would use it: write a
// blueprint in the editor, validate, save and deploy it; move a gateway's weight slider and see the traffic split
// through HAProxy follow; watch the charts move with live traffic. With VAMP_UI_SCREENSHOTS=<dir> every screen
// is also saved as a PNG (`npm run screenshots` writes docs/ui/).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, screenshot, split, startBrowser, startVamp, waitFor } from './harness.mjs';

let vamp;
let browser;
let page;
let shopPort;

/** Replaces the text of the CodeMirror editor on the page by typing it in. */
async function typeIntoEditor(text) {
  const content = page.locator('.cm-content').first();
  await content.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
}

/** Sets a range input to `value` by dragging its thumb and then stepping with the arrow keys, as a user would. */
async function slide(locator, value) {
  const box = await locator.boundingBox();
  assert.ok(box, 'the slider is visible');
  const x = box.x + (box.width * value) / 100;
  const y = box.y + box.height / 2;
  const current = Number(await locator.inputValue());
  await page.mouse.move(box.x + (box.width * current) / 100, y);
  await page.mouse.down();
  await page.mouse.move(x, y, { steps: 8 });
  await page.mouse.up();
  for (let i = 0; i < 30; i++) {
    const v = Number(await locator.inputValue());
    if (v === value) return;
    await locator.press(v < value ? 'ArrowRight' : 'ArrowLeft');
  }
  assert.equal(Number(await locator.inputValue()), value);
}

describe('the web UI on a live server', () => {
  before(async () => {
    vamp = await startVamp({ demo: true });
    browser = await startBrowser({ token: vamp.token });
    page = await browser.page();
    shopPort = vamp.sparePort;
  });

  after(async () => {
    await browser?.close();
    const left = vamp ? await vamp.stop() : [];
    assert.deepEqual(left, [], 'no process outlives the test');
  });

  test('the UI loads and lists the demo breeds', async () => {
    await page.goto(vamp.base);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByRole('navigation', { name: 'main' }).getByRole('link', { name: 'Breeds' }).click();
    await page.waitForURL(`${vamp.base}/breeds`);
    await page.getByRole('link', { name: 'demo-frontend:2.0' }).waitFor({ timeout: 30000 });
    await page.getByRole('link', { name: 'demo-frontend:1.0' }).waitFor();
    await screenshot(page, 'breeds');
  });

  test('a blueprint written in the editor is validated, created and deployed', async () => {
    await page.goto(`${vamp.base}/blueprints`);
    await page.getByRole('link', { name: 'New blueprint' }).click();
    await page.waitForURL(`${vamp.base}/new/blueprints`);
    await page.locator('.cm-content', { hasText: 'type: process' }).waitFor();
    await typeIntoEditor(`name: shop
gateways:
  ${shopPort}/http: web/web
clusters:
  web:
    services:
      - breed: demo-frontend:1.0
        scale: {cpu: 0.1, memory: 32MB, instances: 1}
      - breed: demo-frontend:2.0
        scale: {cpu: 0.1, memory: 32MB, instances: 1}
`);
    await page.getByRole('button', { name: 'Validate' }).click();
    await page.getByTestId('editor-result').getByText('Valid').waitFor();
    assert.equal((await vamp.api('GET', '/blueprints')).length, 0, 'validating stores nothing');

    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(`${vamp.base}/blueprints/shop`);
    const stored = await vamp.api('GET', '/blueprints/shop');
    assert.deepEqual(Object.keys(stored.clusters), ['web']);
    await screenshot(page, 'blueprint-editor');

    await page.getByRole('button', { name: 'Revisions' }).click();
    await page.getByRole('complementary', { name: 'revisions' }).getByRole('button', { name: /create/ }).click();
    await page.locator('.cm-mergeView').waitFor();
    await screenshot(page, 'blueprint-revisions');
    await page.getByRole('button', { name: 'Back to the editor' }).click();

    await page.getByRole('button', { name: 'Deploy as shop' }).click();
    await page.waitForURL(`${vamp.base}/deployments/shop`);
    for (const breed of ['demo-frontend:1.0', 'demo-frontend:2.0']) {
      await page.getByTestId(`service-${breed}`).locator('.badge', { hasText: 'Done' }).waitFor({ timeout: 90000 });
    }
    const answered = await waitFor('the shop gateway to answer', async () => {
      const s = await split(shopPort, 20);
      return s.failed === 0 && s['1.0'] + s['2.0'] === 20 && s;
    });
    assert.ok(answered['1.0'] > 0 && answered['2.0'] > 0, `both versions answer at 50/50: ${JSON.stringify(answered)}`);
  });

  test('moving a weight slider changes the traffic split through HAProxy', async () => {
    await page.goto(`${vamp.base}/deployments/shop`);
    await page.getByRole('link', { name: /gateway shop\/web\/web/ }).click();
    await page.waitForURL(`${vamp.base}/gateways/shop/web/web`);
    const v1 = page.getByRole('slider', { name: 'weight of demo-frontend:1.0' });
    const v2 = page.getByRole('slider', { name: 'weight of demo-frontend:2.0' });
    await v1.waitFor();
    assert.equal(await v1.inputValue(), '50');

    await slide(v1, 90);
    assert.equal(await v2.inputValue(), '10', 'the other route takes the rest');
    assert.equal(await page.getByTestId('weight-total').textContent(), 'total 100%');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('.toast.ok', { hasText: 'saved' }).waitFor();
    const ninety = await waitFor('HAProxy to serve 90/10', async () => {
      const s = await split(shopPort, 100);
      return s.failed === 0 && s['1.0'] >= 78 && s['1.0'] <= 98 ? s : false;
    });
    const gateway = await vamp.api('GET', '/gateways/shop/web/web');
    assert.equal(gateway.routes['shop/web/demo-frontend:1.0/web'].weight, '90%');
    console.log(`90/10 through HAProxy: ${JSON.stringify(ninety)}`);

    await slide(v2, 100);
    assert.equal(await v1.inputValue(), '0');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await waitFor('HAProxy to send everything to 2.0', async () => {
      const s = await split(shopPort, 50);
      return s.failed === 0 && s['2.0'] === 50;
    });
  });

  test('the charts follow live traffic', async () => {
    const chart = page.getByTestId('chart-rate');
    const points = async () => Number(await chart.getAttribute('data-points'));
    const lastRate = async () => JSON.parse((await chart.getAttribute('data-last')) ?? '[]')[1];
    await waitFor('the rate chart to have points', async () => (await points()) >= 2, 20000);
    const before = { points: await points(), rate: (await lastRate()) ?? 0 };
    let sent = 0;
    let done = false;
    const traffic = (async () => {
      const stop = Date.now() + 60000;
      while (!done && Date.now() < stop) {
        await request(`http://127.0.0.1:${shopPort}/`).catch(() => {});
        sent++;
      }
    })();
    try {
      const after = await waitFor(
        'the rate chart to rise with the traffic on demo-frontend:2.0',
        async () => {
          const rate = await lastRate();
          return typeof rate === 'number' && rate >= before.rate + 5 && { rate, points: await points() };
        },
        45000,
        500,
      );
      assert.ok(after.points > before.points, `the chart gained points (${before.points} → ${after.points})`);
      console.log(`rate chart: ${before.rate.toFixed(1)} → ${after.rate.toFixed(1)} req/s after ${sent} requests`);
      const cell = await page.getByTestId('rate-demo-frontend:2.0').textContent();
      assert.ok(Number.parseFloat(cell ?? '') > 0, `the routes table shows the rate: ${cell}`);
      const rt = JSON.parse((await page.getByTestId('chart-response-time').getAttribute('data-last')) ?? '[]');
      assert.ok(typeof rt[1] === 'number' && rt[1] >= 0, `response time is charted: ${JSON.stringify(rt)}`);
      await screenshot(page, 'gateway');
    } finally {
      done = true;
      await traffic;
    }
  });

  test('the scale editor adds an instance', async () => {
    await page.goto(`${vamp.base}/deployments/shop`);
    const service = page.getByTestId('service-demo-frontend:2.0');
    await service.getByRole('button', { name: 'Scale…' }).click();
    const form = page.getByRole('form', { name: 'scale of demo-frontend:2.0' });
    await form.getByLabel('instances').fill('2');
    await form.getByRole('button', { name: 'Apply' }).click();
    await waitFor('a second instance of demo-frontend:2.0', async () => (await service.locator('tbody tr').count()) === 2, 60000);
    await service.locator('.badge', { hasText: 'Done' }).waitFor({ timeout: 60000 });
    const deployment = await vamp.api('GET', '/deployments/shop');
    const scaled = deployment.clusters.web.services.find((s) => s.breed.name === 'demo-frontend:2.0');
    assert.equal(scaled.scale.instances, 2);
    await service.getByRole('button', { name: /environment variables/ }).click();
    await screenshot(page, 'deployment');
  });

  test('the event list filters by tag', async () => {
    await page.goto(`${vamp.base}/events`);
    await page.getByTestId('stream-state').getByText('live').waitFor();
    await page.getByLabel('tag filter').fill('deployments:shop');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/tag=deployments%3Ashop/);
    const rows = page.getByTestId('events').locator('tr.event');
    await rows.first().waitFor();
    for (const row of await rows.all()) {
      assert.ok(await row.getByText('deployments:shop', { exact: true }).count(), 'every row carries the tag');
    }
    await page.getByTestId('stream-state').getByText('live').waitFor();
  });

  test('every other screen renders without errors', async () => {
    await vamp.api('POST', '/workflows', 'name: nightly\nbreed:\n  name: nightly-breed\n  deployable: {type: process, definition: "true"}\nschedule: daemon\n');
    const screens = [
      ['/', 'Overview', 'overview'],
      ['/deployments', 'Deployments', 'deployments'],
      ['/gateways', 'Gateways', 'gateways'],
      ['/events', 'Events', 'events'],
      ['/workflows', 'Workflows', 'workflows'],
      ['/workflows/nightly', 'nightly', 'workflow'],
      ['/new/conditions', 'New condition', 'new-condition'],
      ['/admin', 'Admin', 'admin'],
      ['/admin?tab=vga', 'Admin', 'admin-vga'],
    ];
    for (const [path, heading, name] of screens) {
      await page.goto(`${vamp.base}${path}`);
      await page.getByRole('heading', { name: heading }).first().waitFor();
      if (name === 'events') await page.getByTestId('stream-state').getByText('live').waitFor();
      if (name === 'admin') await page.getByTestId('server-info').getByText('namespace').waitFor();
      if (name === 'admin-vga') await page.locator('.cm-content', { hasText: 'global' }).first().waitFor();
      if (name === 'workflow') {
        await page.getByRole('button', { name: 'Suspend' }).click();
        await page.locator('h1 .badge', { hasText: 'suspended' }).waitFor();
        await page.getByRole('button', { name: 'Resume' }).waitFor();
      }
      await page.waitForTimeout(500);
      await screenshot(page, name);
    }
    assert.deepEqual(browser.errors, [], 'no script errors in the page');
  });
});
