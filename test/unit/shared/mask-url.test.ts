import { describe, expect, it } from 'vitest';
import { maskUrl, maskUrlsDeep, maskUrlsIn } from '../../../src/shared/mask-url.js';

describe('maskUrl: one masking for every URL printed or logged', () => {
  it('masks the password of Redis, webhook and proxy URLs and keeps the rest readable', () => {
    expect(maskUrl('redis://:Hunter2@127.0.0.1:6379/0')).toBe('redis://:***@127.0.0.1:6379/0');
    expect(maskUrl('rediss://cmpha:p%40ss@redis.example:6380')).toBe('rediss://cmpha:***@redis.example:6380');
    expect(maskUrl('http://proxyuser:proxypass@127.0.0.1:3128')).toBe('http://proxyuser:***@127.0.0.1:3128');
    expect(maskUrl('https://hooks.example/send?token=abc123&to=%2B1555')).toBe('https://hooks.example/send?token=***&to=%2B1555');
  });

  it('leaves a URL without credentials exactly as given', () => {
    expect(maskUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(maskUrl('https://keystone.example.com:5000/v3')).toBe('https://keystone.example.com:5000/v3');
  });

  it('masks URLs inside free text and nested values', () => {
    expect(maskUrlsIn('connect redis://:s3cr3t@10.0.0.1:6379 failed (ECONNREFUSED)')).toBe('connect redis://:***@10.0.0.1:6379 failed (ECONNREFUSED)');
    expect(maskUrlsIn('not a url redis://:pw@')).not.toContain(':pw@');
    const printed = JSON.stringify(maskUrlsDeep({ redis: { url: 'redis://u:Top-Secret@h:1' }, list: ['http://a:Other-Secret@b/'] }));
    expect(printed).not.toMatch(/Top-Secret|Other-Secret/);
  });
});

describe('the logger masks URL passwords in fields and messages', () => {
  it('a Redis url logged as a field or inside the message', async () => {
    const { PassThrough } = await import('node:stream');
    const { createLogger } = await import('../../../src/shared/logger.js');
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => { text += d.toString(); });
    const logger = createLogger({ destination: out });
    logger.error({ url: 'redis://:Log-Secret-1@127.0.0.1:6379', nested: { proxy: 'http://u:Log-Secret-2@127.0.0.1:3128' } }, 'cannot reach redis://:Log-Secret-3@127.0.0.1:6379');
    for (let i = 0; i < 100 && !text.includes('\n'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(text).toContain('redis://:***@127.0.0.1:6379');
    expect(text).not.toMatch(/Log-Secret-\d/);
  });
});

describe('maskUrl on Redis and proxy URLs, parseable or not', () => {
  it.each([
    ['redis://:pw-1@127.0.0.1:6379/2', 'redis://:***@127.0.0.1:6379/2'],
    ['rediss://app:pw-1@10.0.0.5:6380', 'rediss://app:***@10.0.0.5:6380'],
    ['http://cmpha:pw-1@proxy.example:3128', 'http://cmpha:***@proxy.example:3128'],
    ['http://proxy.example:3128', 'http://proxy.example:3128'],
    ['redis://app@127.0.0.1:6379', 'redis://app@127.0.0.1:6379'],
    // Unparseable, but the password is still in there: the whole user-info part goes.
    ['http://:pw-1@127.0.0.1 :3128', 'http://***@127.0.0.1 :3128'],
    ['redis://:pw-1@127.0.0.1 :6379', 'redis://***@127.0.0.1 :6379'],
    ['http://u:pw-1/x@127.0.0.1:3128', 'http://***@127.0.0.1:3128'],
    // Parses, with the password's tail taken for a path.
    ['http://u:12/pw-1@127.0.0.1:3128', 'http://***@127.0.0.1:3128'],
    ['not a url', 'not a url'],
  ])('%s → %s', (input, shown) => {
    expect(maskUrl(input)).toBe(shown);
    expect(maskUrl(input)).not.toContain('pw-1');
  });
});
