import { describe, expect, test } from 'vitest';
import { secretsOf } from '../../src/core/secrets.js';
import { issuesOf, load } from './helpers.js';

const file = (top: string, web = '') => `services:
  web:
    command: node
    traffic:
      listen: 127.0.0.1:8080
${web}  api:
    command: node
    traffic:
      listen: 127.0.0.1:8081
${top}`;

describe('notify:', () => {
  test('the top-level list reaches every service without its own; a service list replaces it', async () => {
    const { spec } = await load({
      'baton.yaml': file(
        'notify:\n  - slack: https://hooks.example/T/B/x\n  - webhook: http://127.0.0.1:9/hook\n    events: [failed]\n',
        '    notify: []\n',
      ),
    });
    expect(spec.services.web!.notify).toEqual([]);
    expect(spec.services.api!.notify).toEqual([
      { slack: 'https://hooks.example/T/B/x' },
      { webhook: 'http://127.0.0.1:9/hook', events: ['failed'] },
    ]);
  });

  test('absent everywhere: services carry no notify (their revision hash is unchanged)', async () => {
    const { spec } = await load({ 'baton.yaml': file('') });
    expect('notify' in spec.services.web!).toBe(false);
  });

  test('bad receivers name the file, line and field', async () => {
    const issues = await issuesOf({
      'baton.yaml': file(
        'notify:\n  - slack: not-a-url\n  - webhook: http://x/y\n    slack: http://x/z\n  - webhook: http://x/y\n    events: [exploded]\n',
      ),
    });
    expect(issues).toEqual([
      expect.objectContaining({
        file: 'baton.yaml',
        line: 11,
        path: 'notify.0.slack',
        message: expect.stringMatching(/expected an http\(s\) URL/),
      }),
      expect.objectContaining({
        file: 'baton.yaml',
        line: 12,
        path: 'notify.1',
        message: expect.stringMatching(/exactly one of slack or webhook/),
      }),
      expect.objectContaining({ file: 'baton.yaml', line: 15, path: 'notify.2.events.0' }),
    ]);
  });

  test('webhook URLs are secrets however they were written', () => {
    const spec = { notify: [{ slack: 'https://hooks.example/T/B/x' }, { webhook: 'http://h/y' }] };
    expect(secretsOf({ spec })).toEqual(['https://hooks.example/T/B/x', 'http://h/y']);
  });
});
