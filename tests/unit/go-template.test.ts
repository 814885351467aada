import { describe, expect, it } from 'vitest';
import { executeTemplate, formatObjects, formatRows, inspectOutput, parseTemplate } from '../../src/engine/docker-cli/go-template.js';

const rows = [
  { ID: 'abc', Names: 'web', RunningFor: '2 minutes ago', CreatedAt: '2026-01-01', Size: 42 },
  { ID: 'defgh', Names: 'db', RunningFor: '1 hour ago', CreatedAt: '2026-01-02', Size: 7 },
];

describe('parseTemplate', () => {
  it('splits text and fields, nested paths and json included', () => {
    expect(parseTemplate('a {{.X}} b {{ json .Y.Z }}')).toEqual(['a ', { path: ['X'], json: false }, ' b ', { path: ['Y', 'Z'], json: true }]);
  });
  it('keeps actions it does not know as text', () => {
    expect(parseTemplate('{{upper .X}} {{.}}')).toEqual(['{{upper .X}} {{.}}']);
  });
  it('executes against any value', () => {
    expect(executeTemplate(parseTemplate('{{.A}}-{{.B}}'), { A: 1 }, '?')).toBe('1-?');
  });
});

describe('formatRows (ps, images, volume ls, network ls)', () => {
  it('prints fields, a line per row', () => {
    expect(formatRows('{{.ID}} {{.Names}}', rows)).toBe('abc web\ndefgh db\n');
    expect(formatRows('{{ .Names }}', rows)).toBe('web\ndb\n');
    expect(formatRows('{{.Size}}', rows)).toBe('42\n7\n');
  });
  it('prints an absent field as nothing, and as null with json', () => {
    expect(formatRows('[{{.Nope}}]', rows)).toBe('[]\n[]\n');
    expect(formatRows('{{json .Nope}}', rows.slice(0, 1))).toBe('null\n');
    expect(formatRows('[{{.Names.X}}]', rows.slice(0, 1))).toBe('[]\n');
  });
  it('quotes with json', () => {
    expect(formatRows('{{json .Names}}', rows)).toBe('"web"\n"db"\n');
  });
  it('reads \\t and \\n as a tab and a newline', () => {
    expect(formatRows('{{.ID}}\\t{{.Names}}', rows)).toBe('abc\tweb\ndefgh\tdb\n');
    expect(formatRows('{{.ID}}\\n{{.Names}}', rows.slice(0, 1))).toBe('abc\nweb\n');
  });
  it('makes a table with headers: given ones, else the field name in capitals', () => {
    expect(formatRows('table {{.ID}}\\t{{.RunningFor}}\\t{{.Names}}', rows, { ID: 'CONTAINER ID', RunningFor: 'CREATED' })).toBe(
      'CONTAINER ID   CREATED         NAMES\nabc            2 minutes ago   web\ndefgh          1 hour ago      db\n',
    );
    expect(formatRows('table {{.Names}}\t{{.RunningFor}}', rows.slice(0, 1))).toBe('NAMES   RUNNING FOR\nweb     2 minutes ago\n');
    expect(formatRows('table {{.Names}}\t{{json .ID}}', rows.slice(0, 1))).toBe('NAMES   ID\nweb     "abc"\n');
  });
  it('prints only the header for no rows, and nothing without table', () => {
    expect(formatRows('table {{.ID}}\\t{{.Names}}', [])).toBe('ID   NAMES\n');
    expect(formatRows('{{.ID}}', [])).toBe('');
  });
  it('leaves a one-column table unaligned', () => {
    expect(formatRows('table {{.Names}}', rows)).toBe('NAMES\nweb\ndb\n');
    expect(formatRows('table{{.Names}}!', rows.slice(0, 1))).toBe('NAMES!\nweb!\n');
  });
  it('prints unknown actions as they stand', () => {
    expect(formatRows('{{upper .Names}}', rows.slice(0, 1))).toBe('{{upper .Names}}\n');
  });
});

describe('formatObjects (inspect, network inspect)', () => {
  const objs = [
    { Name: '/web', State: { Status: 'exited', ExitCode: 137, Running: false, OOMKilled: true }, Args: ['-c', 'x'], Config: { Labels: { a: 'b' }, User: '' }, Pid: null, Restarts: 0 },
    { Name: '/db', State: { Status: 'running', ExitCode: 0, Running: true, OOMKilled: false }, Args: [], Config: { Labels: {}, User: 'me' }, Pid: 7, Restarts: 2 },
  ];
  it('prints nested fields, a line per object', () => {
    expect(formatObjects('{{.State.Status}} {{.State.ExitCode}}', objs)).toBe('exited 137\nrunning 0\n');
    expect(formatObjects('{{.Name}} {{.Restarts}} {{.State.Running}}', objs)).toBe('/web 0 false\n/db 2 true\n');
  });
  it('prints objects and arrays as JSON, with json or without', () => {
    expect(formatObjects('{{json .Config}}', objs.slice(0, 1))).toBe('{"Labels":{"a":"b"},"User":""}\n');
    expect(formatObjects('{{.Config.Labels}} {{.Args}}', objs.slice(0, 1))).toBe('{"a":"b"} ["-c","x"]\n');
    expect(formatObjects('{{json .Config.User}}', objs)).toBe('""\n"me"\n');
  });
  it('prints <no value> for absent or null fields, null with json', () => {
    expect(formatObjects('{{.Nope}} {{.State.Nope.Deeper}} {{.Pid}}', objs.slice(0, 1))).toBe('<no value> <no value> <no value>\n');
    expect(formatObjects('{{json .Pid}} {{json .Nope}}', objs)).toBe('null null\n7 null\n');
  });
  it('takes the template as is: no escapes, no table', () => {
    expect(formatObjects('table {{.Name}}\\t.', objs.slice(0, 1))).toBe('table /web\\t.\n');
  });
  it('prints unknown actions as they stand', () => {
    expect(formatObjects('{{.}} {{index .Args 0}}', objs.slice(0, 1))).toBe('{{.}} {{index .Args 0}}\n');
  });
});

describe('inspectOutput', () => {
  it('prints indented JSON without --format, the template with it', () => {
    expect(inspectOutput([{ A: 1 }], undefined)).toBe('[\n    {\n        "A": 1\n    }\n]\n');
    expect(inspectOutput([], undefined)).toBe('[]\n');
    expect(inspectOutput([{ A: 1 }, { A: 2 }], '{{.A}}')).toBe('1\n2\n');
    expect(inspectOutput([{ A: 1 }], '')).toBe('[\n    {\n        "A": 1\n    }\n]\n');
  });
});
