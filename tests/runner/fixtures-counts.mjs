// A test file for the summary reporter's test: one of each outcome.
import { test } from 'node:test';

test('passes', () => {});
test('is skipped', { skip: 'on purpose' }, () => {});
test('is todo', { todo: 'later' }, () => {});
test('fails', () => {
  throw new Error('on purpose');
});
