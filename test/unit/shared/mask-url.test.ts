import { describe, expect, it } from 'vitest';
import { maskUrlPassword } from '../../../src/shared/mask-url.js';

describe('maskUrlPassword', () => {
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
    expect(maskUrlPassword(input)).toBe(shown);
    expect(maskUrlPassword(input)).not.toContain('pw-1');
  });
});
