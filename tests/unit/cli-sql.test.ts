import { describe, expect, it } from 'vitest';
import { parseJson } from '../../core/json.ts';
import { historyFile, render } from '../../cli/sql.ts';
import type { StatementResult } from '../../sql/sql-session.ts';

/** How `lakehouse sql` prints a result, and where its prompt keeps history. */
const result: StatementResult = {
  columns: [{ name: 'id', type: 'BIGINT' }, { name: 'note', type: 'VARCHAR' }],
  text: [['9007199254740993', 'plain'], ['2', 'a "quoted", two\nlines'], ['3', null]],
  values: [[9007199254740993n, 'plain'], [2n, 'a "quoted", two\nlines'], [3n, null]],
  snapshots: {},
};

describe('lakehouse sql output', () => {
  it('csv quotes fields with a comma, quote or line break and leaves NULL empty', () => {
    expect(render([result], 'csv')).toBe('id,note\n9007199254740993,plain\n2,"a ""quoted"", two\nlines"\n3,\n');
  });

  it('json is an array of objects with 64-bit integers exact', () => {
    const text = render([result], 'json');
    expect(parseJson(text)).toEqual([{ id: 9007199254740993n, note: 'plain' }, { id: 2, note: 'a "quoted", two\nlines' }, { id: 3, note: null }]);
    expect(render([{ ...result, text: [], values: [] }], 'json')).toBe('[]\n');
  });

  it('table aligns the columns, shows NULL, counts the rows, and separates statements with a blank line', () => {
    const one = { ...result, text: [['1', null]], values: [[1n, null]] };
    expect(render([one, one], 'table')).toBe('id  note\n--  ----\n1   NULL\n(1 row)\n\nid  note\n--  ----\n1   NULL\n(1 row)\n');
  });
});

describe('lakehouse sql history file', () => {
  it('LAKEHOUSE_SQL_HISTORY, else $XDG_STATE_HOME/lakehouse/sql_history, else ~/.local/state', () => {
    expect(historyFile({ LAKEHOUSE_SQL_HISTORY: '/x/h', XDG_STATE_HOME: '/s' })).toBe('/x/h');
    expect(historyFile({ XDG_STATE_HOME: '/s' })).toBe('/s/lakehouse/sql_history');
    expect(historyFile({})).toMatch(/\/\.local\/state\/lakehouse\/sql_history$/);
  });
});
