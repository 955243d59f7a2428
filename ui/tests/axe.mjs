// Accessibility audit: axe-core's WCAG 2.1 A and AA rules, run inside the page under test.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// The page keeps its strict CSP (script-src 'self'), which refuses an inline <script>.
// Evaluating the source over the DevTools protocol is not subject to the page's CSP, so
// the policy under test stays exactly the app's.
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const AUDIT_TIMEOUT_MS = 20_000;

export const WCAG21_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** One line per failing element: the rule, the selector and, for contrast, the figures. */
export function describeViolations(violations) {
  const lines = [];
  for (const v of violations) {
    for (const node of v.nodes) {
      const target = node.target.join(' ');
      const data = node.any.find((c) => c.data && c.data.contrastRatio !== undefined)?.data;
      const figures = data
        ? ` ${data.contrastRatio}:1 (needs ${data.expectedContrastRatio}) ${data.fgColor} on ${data.bgColor}, ${data.fontSize} ${data.fontWeight}`
        : '';
      const text = node.text ? ` "${node.text}"` : '';
      lines.push(`${v.id} [${v.impact}] ${target}${text}${figures}`);
    }
  }
  return lines;
}

/**
 * Run the WCAG 2.1 A/AA rules over the whole document as it is now; fail the test with every
 * violation's rule, target and contrast figures. `label` names the state in the message.
 * Returns axe's result (violations and incomplete) for tests that look further.
 */
export async function audit(page, label) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.evaluate(AXE_SOURCE);
  }
  // axe schedules its work with timers: a fake clock a test left paused (page.clock.pauseAt)
  // would never run them.
  if (await page.evaluate(() => Date.isFake === true)) await page.clock.resume();
  const run = page.evaluate(async (tags) => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: tags },
      resultTypes: ['violations'],
    });
    const slim = (list) =>
      list.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => ({
          target: n.target,
          text: (document.querySelector(n.target[0])?.textContent ?? '').trim().slice(0, 40),
          any: n.any.map((c) => ({ id: c.id, data: c.data })),
        })),
      }));
    return { violations: slim(r.violations), incomplete: slim(r.incomplete) };
  }, WCAG21_AA);
  let timer;
  const timeout = new Promise((_, fail) => {
    timer = setTimeout(() => fail(new Error(`axe did not finish within ${AUDIT_TIMEOUT_MS} ms in ${label}`)), AUDIT_TIMEOUT_MS);
  });
  const result = await Promise.race([run, timeout]).finally(() => clearTimeout(timer));
  const lines = describeViolations(result.violations);
  assert.deepEqual(lines, [], `axe (WCAG 2.1 AA) violations in ${label}:\n  ${lines.join('\n  ')}`);
  return result;
}
