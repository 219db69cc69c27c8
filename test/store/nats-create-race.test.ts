import { JetStreamApiError } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { createRacing } from '../../src/store/nats/errors.js';

// Seen in CI: three stores opening one new bucket at once, one got "subjects overlap with an existing
// stream" from the server (the others had just created it). The race itself is too rare to provoke on
// demand, so the server's answer is given here as nats.js makes it.
const refusal = (err_code: number) =>
  new JetStreamApiError({ code: 400, err_code, description: `refused (${err_code})` });

describe('opening a stream that another client is creating at the same moment', () => {
  it('tries again after "subjects overlap" or "name in use", and opens what the other client made', async () => {
    for (const code of [10065, 10058]) {
      let calls = 0;
      const opened = await createRacing(async () => {
        calls++;
        if (calls === 1) throw refusal(code);
        return 'bucket';
      });
      expect([opened, calls]).toEqual(['bucket', 2]);
    }
  });

  it('gives up after three attempts on a real conflict, and never repeats other errors', async () => {
    let calls = 0;
    await expect(
      createRacing(async () => {
        calls++;
        throw refusal(10065);
      }),
    ).rejects.toMatchObject({ code: 10065 });
    expect(calls).toBe(3);
    calls = 0;
    await expect(
      createRacing(async () => {
        calls++;
        throw refusal(10059);
      }),
    ).rejects.toMatchObject({ code: 10059 });
    expect(calls).toBe(1);
  });
});
