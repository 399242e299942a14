// The Test Console in headless Chromium, driven with the keyboard as far as a user can be.
// Exits 1 on any failed step, page error or console error.
//
//   node deploy/console_test.mjs TOOLS_DIR BASE_URL TEST_KEY
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const [tools, base, key] = process.argv.slice(2);
const require = createRequire(resolve(tools, 'node_modules', 'package.json'));
const { chromium } = require('playwright-core');
const shots = process.env.CONSOLE_SHOTS;
if (shots) mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, acceptDownloads: true });
const page = await context.newPage();
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));

const steps = [];
async function step(name, fn) {
  try {
    await fn();
    steps.push(`ok   ${name}`);
  } catch (error) {
    steps.push(`FAIL ${name}: ${error.message.split('\n')[0]}`);
    throw error;
  }
}
const expect = (condition, message) => { if (!condition) throw new Error(message); };
const waitDone = async () => {
  await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('status').dataset.state), null, { timeout: 60000 });
  const status = await page.locator('#status').textContent();
  expect(await page.locator('#status').getAttribute('data-state') === 'done', `status: ${status}`);
  return status;
};

let failed = false;
try {
  await step('the page loads from the binary alone', async () => {
    const response = await page.goto(`${base}/console`);
    expect(response.status() === 200, `HTTP ${response.status()}`);
    expect((response.headers()['content-security-policy'] || '').includes("default-src 'none'"), 'no CSP');
    expect(await page.title() === 'procmap · Test Console', await page.title());
  });
  await step('a pasted test key is the mock mode', async () => {
    await page.keyboard.press('Tab');
    await page.keyboard.type(key);
    expect(await page.evaluate(() => document.activeElement.id) === 'key', 'Tab did not reach the key');
    expect((await page.locator('#mode').textContent()).includes('mock mode'), 'badge');
    const body = JSON.parse(await page.locator('#body').inputValue());
    expect(body.mode === 'initial' && body.prompt.includes('ticket triage'), 'seed example');
  });
  if (shots) await page.screenshot({ path: join(shots, 'console-request.png'), fullPage: true });
  await step('an initial request shows three rendered previews', async () => {
    await page.focus('#send');
    await page.keyboard.press('Enter');
    const status = await waitDone();
    expect(status.includes('HTTP 200') && status.includes('succeeded'), status);
    await page.waitForFunction(() => document.querySelectorAll('#previews img').length === 3
      && [...document.querySelectorAll('#previews img')].every((i) => i.complete && i.naturalWidth > 100), null, { timeout: 30000 });
    const captions = await page.locator('#previews figcaption').allTextContents();
    expect(captions.join(',') === 'Option 1,Option 2,Option 3', captions.join(','));
  });
  if (shots) await page.screenshot({ path: join(shots, 'console-previews.png'), fullPage: true });
  await step('the JSON tab shows the generation, reached with the arrow keys', async () => {
    await page.focus('#tab-preview');
    await page.keyboard.press('ArrowRight');
    expect(await page.locator('#tab-json').getAttribute('aria-selected') === 'true', 'not selected');
    expect(await page.locator('#view-json').isVisible(), 'panel hidden');
    const json = JSON.parse(await page.locator('#json').textContent());
    expect(json.status === 'succeeded' && json.options.length === 3, 'generation JSON');
  });
  await step('the XML tab shows each option and downloads it', async () => {
    await page.keyboard.press('ArrowRight');
    expect(await page.locator('#view-xml').isVisible(), 'panel hidden');
    expect((await page.locator('#xml').textContent()).includes('definitions'), 'no XML');
    await page.selectOption('#xml-option', '2');
    expect((await page.locator('#xml').textContent()).includes('BPMNDiagram'), 'option 3 XML');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    expect(/^procmap-[0-9a-f]{8}-option-3-v1\.bpmn$/.test(download.suggestedFilename()), download.suggestedFilename());
  });
  if (shots) await page.screenshot({ path: join(shots, 'console-xml.png'), fullPage: true });
  await step('a refinement of the first option, polled, shows its one result', async () => {
    await page.check('input[name=kind][value=refinement]');
    const body = JSON.parse(await page.locator('#body').inputValue());
    expect(body.mode === 'refinement' && body.source.option_number === 1, 'refinement example');
    await page.uncheck('#wait');
    await page.check('#dark');
    await page.click('#tab-preview');
    await page.click('#send');
    const status = await waitDone();
    expect(status.includes('succeeded'), status);
    await page.waitForFunction(() => document.querySelectorAll('#previews img').length === 1
      && document.querySelector('#previews img').naturalWidth > 100, null, { timeout: 30000 });
    expect((await page.locator('#previews figcaption').textContent()) === 'Result', 'caption');
  });
  if (shots) await page.screenshot({ path: join(shots, 'console-refinement-dark.png'), fullPage: true });
  await step('the copilot saves option 1 as a diagram and shows it', async () => {
    await page.click('#save-option');
    await page.waitForFunction(() => {
      const image = document.querySelector('#diagram-picture img');
      return image && image.complete && image.naturalWidth > 100;
    }, null, { timeout: 30000 });
    const caption = await page.locator('#diagram-caption').textContent();
    expect(caption.includes('version 1'), caption);
  });
  await step('a copilot turn streams its steps and reply, and Apply makes version 2', async () => {
    await page.focus('#chat-message');
    await page.keyboard.type('Add a step to notify the customer');
    await page.keyboard.press('Control+Enter');
    await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('chat-status').dataset.state), null, { timeout: 60000 });
    const status = await page.locator('#chat-status').textContent();
    expect(await page.locator('#chat-status').getAttribute('data-state') === 'done', status);
    const steps = await page.locator('.message.copilot .steps li').allTextContents();
    for (const wanted of ['Reading the diagram…', '→ list_diagram_elements', '← list_diagram_elements',
      'Modifying the diagram…', '→ modify_diagram', '← modify_diagram', '→ validate_diagram']) {
      expect(steps.some((s) => s.startsWith(wanted)), `no step ${wanted} in ${steps.join(' | ')}`);
    }
    const reply = await page.locator('.message.copilot .reply').textContent();
    expect(reply.startsWith('I added “Notify customer”'), reply);
    expect((await page.locator('.message.user').textContent()).includes('notify the customer'), 'user message');
    await page.locator('.message.copilot .actions button').press('Enter');
    await page.waitForFunction(() => (document.querySelector('.message.copilot .actions .hint') || {}).textContent === 'Applied as version 2.', null, { timeout: 30000 });
    await page.waitForFunction(() => document.getElementById('diagram-caption').textContent.includes('version 2'), null, { timeout: 30000 });
  });
  if (shots) {
    await page.locator('#copilot').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(shots, 'console-copilot.png'), fullPage: true });
  }
  await step('a bad body is refused in the page with a clear message', async () => {
    await page.fill('#body', '{"mode": ');
    await page.click('#send');
    expect((await page.locator('#status').textContent()).startsWith('The body is not valid JSON'), 'message');
    expect(await page.evaluate(() => document.activeElement.id) === 'body', 'focus');
  });
  await step('no page or console errors', async () => {
    expect(problems.length === 0, problems.join('; '));
  });
} catch {
  failed = true;
}
await browser.close();
for (const line of steps) console.log(line);
if (problems.length > 0) console.log(problems.slice(0, 5).join('\n'));
console.log(`console-test: ${steps.filter((s) => s.startsWith('ok')).length} steps passed${failed ? ', FAILED' : ''}`);
process.exit(failed ? 1 : 0);
