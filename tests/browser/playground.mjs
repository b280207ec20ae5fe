// Opens the latent-space playground of a running `velprior serve` in headless chromium,
// moves a slider, and checks that the decoded picture and the scatter point changed; then
// screenshots the run list and the run's page beside the playground's screenshot.
//
//   node playground.mjs BASE_URL RUN_ID SCREENSHOT.png
import { chromium } from 'playwright-core';

const [base, run, shot] = process.argv.slice(2);
if (!base || !run || !shot) {
  console.error('usage: node playground.mjs BASE_URL RUN_ID SCREENSHOT.png');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/playground/${run}`);
  const root = page.locator('#playground');
  await page.waitForFunction(() => Number(document.getElementById('playground').dataset.updates) >= 1);
  const picture = async () => {
    const img = page.locator('#model-img');
    return (await img.count()) > 0 ? await img.getAttribute('src') : await page.locator('#model').innerHTML();
  };
  const before = { model: await picture(), latent: await page.locator('#latent').innerHTML() };

  const max = Number(await page.locator('#z1').getAttribute('max'));
  const t0 = Date.now();
  await page.locator('#z1').fill(String(0.6 * max));
  await page.waitForFunction(() => Number(document.getElementById('playground').dataset.updates) >= 2);
  const ms = Date.now() - t0;
  const after = { model: await picture(), latent: await page.locator('#latent').innerHTML() };

  if (before.model === after.model) throw new Error('the decoded model did not change after moving z1');
  if (before.latent === after.latent) throw new Error('the latent scatter did not move');
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  const readout = await page.locator('#readout').textContent();
  console.log(`playground: slider move redrawn in ${ms} ms (${readout}); updates=${await root.getAttribute('data-updates')}`);
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);

  for (const [name, path] of [['index', '/'], ['run', `/run/${run}`]]) {
    const response = await page.goto(`${base}${path}`);
    if (response.status() !== 200) throw new Error(`${path} answered ${response.status()}`);
    const file = shot.replace(/[^/]*$/, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`screenshot: ${file}`);
  }
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
} catch (e) {
  console.error(`browser test failed: ${e.message}`);
  failed = true;
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
