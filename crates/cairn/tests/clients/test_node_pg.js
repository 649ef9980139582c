// node-postgres (npm `pg`) against a running Cairn server (URL in CAIRN_URL):
// parameterised queries (extended protocol) and a transaction.
const { Client } = require('pg');
const assert = require('assert');

async function main() {
  const c = new Client({ connectionString: process.env.CAIRN_URL });
  await c.connect();
  await c.query('CREATE TABLE notes (id INT PRIMARY KEY, body TEXT, n BIGINT)');
  for (let i = 0; i < 10; i++) {
    await c.query('INSERT INTO notes VALUES ($1, $2, $3)', [i, `note ${i}`, i * 10]);
  }
  const r = await c.query('SELECT id, body FROM notes WHERE id > $1 ORDER BY id LIMIT 2', [6]);
  assert.deepStrictEqual(r.rows, [{ id: 7, body: 'note 7' }, { id: 8, body: 'note 8' }]);
  // A named prepared statement reused.
  for (const id of [1, 2]) {
    const q = await c.query({ name: 'by-id', text: 'SELECT n FROM notes WHERE id = $1', values: [id] });
    assert.strictEqual(q.rows[0].n, String(id * 10));
  }
  await c.query('BEGIN');
  await c.query('DELETE FROM notes WHERE id < $1', [5]);
  await c.query('ROLLBACK');
  assert.strictEqual((await c.query('SELECT count(*) AS k FROM notes')).rows[0].k, '10');
  await c.query('BEGIN');
  await c.query('DELETE FROM notes WHERE id < $1', [5]);
  await c.query('COMMIT');
  assert.strictEqual((await c.query('SELECT count(*) AS k FROM notes')).rows[0].k, '5');
  try {
    await c.query('INSERT INTO notes VALUES ($1, $2, $3)', [9, 'dup', 0]);
    assert.fail('duplicate accepted');
  } catch (e) {
    assert.strictEqual(e.code, '23505');
  }
  await c.end();
  console.log('ok node-postgres');
}

main().catch((e) => { console.error('FAILED', e); process.exit(1); });
