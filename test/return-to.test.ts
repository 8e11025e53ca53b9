import { describe, expect, it } from '@jest/globals';
import { safeReturnTo } from '../lib/return-to.js';

describe('safeReturnTo()', () => {
  it.each([
    ['/', '/'],
    ['/profile', '/profile'],
    ['/orders?id=7&sort=asc', '/orders?id=7&sort=asc'],
    ['/a/b/../c', '/a/c'],
    ['/search?q=a%20b', '/search?q=a%20b'],
    ['/caf%C3%A9', '/caf%C3%A9'],
  ])('keeps the same-origin path %s', (input, expected) => {
    expect(safeReturnTo(input)).toBe(expected);
  });

  it.each([
    'https://evil.example',
    'http://evil.example/path',
    '//evil.example',
    '///evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    '/\t/evil.example',
    '/\n/evil.example',
    ' /profile',
    'javascript:alert(1)',
    'data:text/html,hi',
    'profile',
    '/%2F%2Fevil.example',
    '/%2f/evil.example',
    '/%5Cevil.example',
    '/%09/evil.example',
    '/%252F%252Fevil.example',
    '/%25252F%25252Fevil.example',
    '/%E0%A4%A',
    // dot segments that resolve into a protocol-relative URL
    '/.//evil.example',
    '/..//evil.example',
    '/a/..//evil.example/path?x=1',
    '/%2e%2e//evil.example',
    '/./%2F%2Fevil.example',
    '/../%5c/evil.example',
    '/profile\u0000',
    '/' + 'a'.repeat(3000),
    '',
  ])('refuses %j', (input) => {
    expect(safeReturnTo(input)).toBe('/');
  });

  it.each([undefined, null, 42, ['/a'], { path: '/a' }])('refuses the non-string %j', (input) => {
    expect(safeReturnTo(input)).toBe('/');
  });
});
