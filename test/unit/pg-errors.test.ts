/**
 * Which PostgreSQL failures the Admin API answers 503 ("the database is unavailable"), which a
 * transaction may simply run again, and which stay 500 (src/store/pg-errors.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyPgError } from '../../src/store/pg-errors.ts';

const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });
const sysError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code });

test('the server refusing work or out of reach is "unavailable"', () => {
  for (const code of ['08006', '08001', '57P01', '57P02', '57P03', '57014', '53300', '53100', '58030', '25006', '25P03']) {
    assert.equal(classifyPgError(pgError(code)), 'unavailable', code);
  }
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']) {
    assert.equal(classifyPgError(sysError(code)), 'unavailable', code);
  }
  for (const message of ['Connection terminated unexpectedly', 'timeout exceeded when trying to connect', 'Query read timeout', 'Client has encountered a connection error and is not queryable']) {
    assert.equal(classifyPgError(new Error(message)), 'unavailable', message);
  }
});

test('serialization failures and deadlocks are conflicts: the transaction may run again', () => {
  assert.equal(classifyPgError(pgError('40001')), 'conflict');
  assert.equal(classifyPgError(pgError('40P01')), 'conflict');
});

test('bugs, broken schemas and bad input are not outages', () => {
  for (const code of ['42P01', '42703', '42601', '23505', '23503', '22P02', 'XX000', '55000', '55006']) {
    assert.equal(classifyPgError(pgError(code)), 'other', code);
  }
  // Node's programming errors look like system codes but are not
  assert.equal(classifyPgError(Object.assign(new TypeError('bad'), { code: 'ERR_INVALID_ARG_TYPE' })), 'other');
  assert.equal(classifyPgError(new Error('relation "x" does not exist')), 'other');
  assert.equal(classifyPgError(undefined), 'other');
  assert.equal(classifyPgError('a string'), 'other');
});
