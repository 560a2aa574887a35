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

// Without a configured token the server is not open: it creates an admin token in its data directory, the API
// refuses requests without it (a page of another origin cannot write either), and the UI signs in with it —
// typed into the sign-in page, or from a `#token=` link, which leaves no token in the address bar.
describe('the token the server created at first start', () => {
  before(async () => {
    vamp = await startVamp();
    browser = await startBrowser();
  });

  after(async () => {
    await browser?.close();
    const left = vamp ? await vamp.stop() : [];
    assert.deepEqual(left, [], 'no process outlives the test');
  });

  test('the API refuses requests without it, and cross-origin writes even with it', async () => {
    assert.equal((await request(`${vamp.base}/api/v1/info`)).status, 401);
    const write = await request(`${vamp.base}/api/v1/breeds`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: 'name: evil\ndeployable: {type: command, definition: "id > /tmp/pwned"}\n',
    });
    assert.equal(write.status, 401);
    const forged = await request(`${vamp.base}/api/v1/breeds`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-yaml', Origin: 'https://evil.example', ...vamp.auth },
      body: 'name: evil\ndeployable: {type: command, definition: "id"}\n',
    });
    assert.equal(forged.status, 403);
    assert.equal((await request(`${vamp.base}/api/v1/info`, { headers: vamp.auth })).status, 200);
  });

  test('signing in with the created token, typed or from a link', async () => {
    const page = await browser.page();
    await page.goto(`${vamp.base}/deployments`);
    const field = page.getByLabel('API token');
    await field.waitFor();
    await field.fill(vamp.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Deployments' }).waitFor();

    const other = await browser.page();
    await other.evaluate(() => sessionStorage.clear()).catch(() => {});
    await other.goto(`${vamp.base}/events#token=${vamp.token}`);
    await other.getByRole('heading', { name: 'Events' }).waitFor();
    assert.equal(new URL(other.url()).hash, '', 'the token leaves the address bar');
    assert.equal(await other.evaluate(() => sessionStorage.getItem('vamp.token')), vamp.token);
    assert.deepEqual(browser.errors, []);
  });
});
