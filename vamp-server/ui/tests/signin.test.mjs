// With an API token configured, the UI loads without one, asks for it, refuses a wrong one, and with the right
// one reads the API — including the live event stream, which the UI reads with fetch so the token travels in
// the Authorization header.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, screenshot, startBrowser, startVamp } from './harness.mjs';

let vamp;
let browser;

describe('signing in with an API token', () => {
  before(async () => {
    vamp = await startVamp({ tokens: ['s3cret-token'] });
    browser = await startBrowser();
  });

  after(async () => {
    await browser?.close();
    const left = vamp ? await vamp.stop() : [];
    assert.deepEqual(left, [], 'no process outlives the test');
  });

  test('the API needs the token but the UI does not', async () => {
    assert.equal((await request(`${vamp.base}/api/v1/info`)).status, 401);
    const ui = await request(`${vamp.base}/deployments`);
    assert.equal(ui.status, 200);
    assert.match(ui.body, /<div id="app">/);
  });

  test('the sign-in page refuses a wrong token and accepts the right one', async () => {
    const page = await browser.page();
    await page.goto(`${vamp.base}/events`);
    const token = page.getByLabel('API token');
    await token.waitFor();
    await screenshot(page, 'sign-in');
    await token.fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('not valid').waitFor();

    await token.fill('s3cret-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Events' }).waitFor();
    await page.getByTestId('stream-state').getByText('live').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('vamp.token')), 's3cret-token');
    assert.equal(await page.evaluate(() => localStorage.getItem('vamp.token')), null, 'not remembered unless asked');

    await vamp.api('POST', '/events', 'tags: [ui-test, signed-in]\nvalue: hello\ntype: test\n');
    await page.getByTestId('events').getByText('signed-in').first().waitFor();

    await page.getByRole('button', { name: 'sign out' }).click();
    await page.getByLabel('API token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('vamp.token')), null);
    assert.deepEqual(browser.errors, []);
  });
});
