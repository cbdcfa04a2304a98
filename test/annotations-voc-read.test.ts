import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { sharedData } from './helpers.js';
import path from 'node:path';
import { annotationFixtures, cells001 } from './fixtures/annotations/models.js';
import { parseVocXml, readVocFile } from '../src/annotations/voc-read.js';
import { formatVocXml } from '../src/annotations/voc-write.js';

const fixtureText = readFileSync(path.join(annotationFixtures, 'voc', 'cells_001.xml'), 'utf8');

/** Replace one snippet of the fixture (asserting it is there) to build a bad input. */
function variant(from: string, to: string): string {
  assert.ok(fixtureText.includes(from), `fixture lacks ${from}`);
  return fixtureText.replace(from, to);
}

test('parseVocXml reads every field of the LabelImg fixture as given (floats kept)', () => {
  const r = parseVocXml(fixtureText, 'cells_001.xml');
  assert.deepEqual(r.issues, []);
  assert.deepEqual(r.annotation, cells001);
});

test('VOC round trip: file -> model -> file is byte-identical, model -> file -> model identical', () => {
  const first = parseVocXml(fixtureText, 'x.xml').annotation!;
  assert.equal(formatVocXml(first), fixtureText);
  const weird = { ...cells001, filename: 'a & b <1>.jpg', path: "it's \"here\"", objects: [{ ...cells001.objects[0]!, name: 'Not & <Nucleoli>', score: 0.5 }] };
  assert.deepEqual(parseVocXml(formatVocXml(weird), 'w.xml').annotation, weird);
});

test('DOCTYPE and entity declarations are refused before parsing', () => {
  const bomb = '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>\n' + fixtureText.replace('Nucleoli', '&lol2;');
  const r = parseVocXml(bomb, 'bomb.xml');
  assert.equal(r.annotation, undefined);
  assert.match(r.issues[0]!.message, /DOCTYPE/);
  assert.equal(r.issues[0]!.file, 'bomb.xml');
});

test('an undeclared entity is an error naming the object and field; numeric references decode', () => {
  const r = parseVocXml(variant('<name>Nucleoli</name>', '<name>&xxe;</name>'), 'f.xml');
  assert.deepEqual(r.issues.map((i) => [i.objectIndex, i.field, i.severity]), [[0, 'name', 'error']]);
  assert.match(r.issues[0]!.message, /entity '&xxe;'/);
  assert.equal(r.annotation!.objects.length, 1);
  assert.equal(parseVocXml(variant('<name>Nucleoli</name>', '<name>&#78;&#x75;cleoli</name>'), 'f.xml').annotation!.objects[0]!.name, 'Nucleoli');
});

const fileLevel: [string, string, RegExp][] = [
  ['not XML', 'just text, no tags <', /not well-formed XML/],
  ['unclosed tag', '<annotation><filename>a.jpg</annotation>', /not well-formed XML \(line 1/],
  ['wrong root', '<voc><filename>a.jpg</filename></voc>', /root element must be <annotation>, found <voc>/],
  ['two roots', '<annotation></annotation><annotation></annotation>', /root element|not well-formed/],
  ['text where elements belong', fixtureText.replace(/<size>[\s\S]*<\/size>/, '<size>640x480</size>'), /expected child elements, found text '640x480'/],
  ['empty root', '<annotation></annotation>', /missing/],
];
for (const [what, text, pattern] of fileLevel) {
  test(`file-level error: ${what}`, () => {
    const r = parseVocXml(text, 'bad.xml');
    assert.equal(r.annotation, undefined);
    assert.equal(r.issues.length, 1);
    assert.equal(r.issues[0]!.severity, 'error');
    assert.match(r.issues[0]!.message, pattern);
  });
}

const fieldLevel: [string, string, string, string][] = [
  ['missing filename', '<filename>cells_001.jpg</filename>', '', 'filename'],
  ['duplicate filename', '<filename>cells_001.jpg</filename>', '<filename>a.jpg</filename><filename>b.jpg</filename>', 'filename'],
  ['non-numeric width', '<width>640</width>', '<width>wide</width>', 'size.width'],
  ['negative height', '<height>480</height>', '<height>-480</height>', 'size.height'],
  ['fractional width', '<width>640</width>', '<width>640.5</width>', 'size.width'],
];
for (const [what, from, to, field] of fieldLevel) {
  test(`file-level error: ${what} names field ${field}`, () => {
    const r = parseVocXml(variant(from, to), 'bad.xml');
    assert.equal(r.annotation, undefined);
    assert.deepEqual(r.issues.map((i) => [i.file, i.field, i.severity]), [['bad.xml', field, 'error']]);
  });
}

const objectLevel: [string, string, string, string, RegExp][] = [
  ['non-numeric xmin', '<xmin>260</xmin>', '<xmin>26O</xmin>', 'bndbox.xmin', /not a number: '26O'/],
  ['empty ymax', '<ymax>376</ymax>', '<ymax></ymax>', 'bndbox.ymax', /empty/],
  ['hex coordinate', '<ymin>177</ymin>', '<ymin>0x10</ymin>', 'bndbox.ymin', /not a number/],
  ['missing xmax', '<xmax>491</xmax>', '', 'bndbox.xmax', /missing/],
  ['missing name', '<name>Nucleoli</name>', '', 'name', /missing/],
  ['missing bndbox', /\t\t<bndbox>[\s\S]*?<\/bndbox>\n/.exec(fixtureText)![0], '', 'bndbox', /missing/],
];
for (const [what, from, to, field, pattern] of objectLevel) {
  test(`object-level error: ${what} drops object 0 only`, () => {
    const r = parseVocXml(variant(from, to), 'bad.xml');
    assert.equal(r.issues.length, 1, JSON.stringify(r.issues));
    assert.deepEqual([r.issues[0]!.objectIndex, r.issues[0]!.field, r.issues[0]!.severity], [0, field, 'error']);
    assert.match(r.issues[0]!.message, pattern);
    assert.deepEqual(r.annotation!.objects, [cells001.objects[1]]);
  });
}

test('a missing, empty or 0 size reads as 0 (unknown) with a warning, for validation to judge', () => {
  const cases: [string, string, string[]][] = [
    [/\t<size>[\s\S]*<\/size>\n/.exec(fixtureText)![0], '', ['size']],
    ['<height>480</height>', '<height>0</height>', ['size.height']],
    ['<width>640</width>', '<width></width>', ['size.width']],
  ];
  for (const [from, to, fields] of cases) {
    const r = parseVocXml(variant(from, to), 'f.xml');
    assert.deepEqual(r.issues.map((i) => [i.field, i.severity]), fields.map((f) => [f, 'warning']));
    assert.equal(r.annotation!.width * r.annotation!.height, 0);
    assert.equal(r.annotation!.objects.length, 2);
  }
});

test('an odd flag value is a warning and reads as 0; missing depth is a warning (3)', () => {
  const r = parseVocXml(variant('<truncated>0</truncated>', '<truncated>maybe</truncated>').replace('\t\t<depth>3</depth>\n', ''), 'f.xml');
  assert.deepEqual(r.issues.map((i) => [i.objectIndex, i.field, i.severity]), [[undefined, 'size.depth', 'warning'], [0, 'truncated', 'warning']]);
  assert.equal(r.annotation!.objects[0]!.truncated, false);
  assert.equal(r.annotation!.depth, 3);
});

test('BOM, XML declaration, CRLF line ends and comments read the same', () => {
  for (const text of [
    `\uFEFF${fixtureText}`,
    `<?xml version="1.0" encoding="utf-8"?>\n${fixtureText}`,
    fixtureText.replace(/\n/g, '\r\n'),
    fixtureText.replace('<segmented>', '<!-- checked --><segmented>'),
  ]) {
    assert.deepEqual(parseVocXml(text, 'f.xml'), { annotation: cells001, issues: [] });
  }
});

test('an empty file is one clear error', () => {
  assert.deepEqual(parseVocXml(' \n', 'e.xml').issues.map((i) => i.message), ['empty file']);
});

test('LabelImg verified="yes" round-trips; other attributes are ignored', () => {
  const verified = fixtureText.replace('<annotation>', '<annotation verified="yes">');
  const r = parseVocXml(verified, 'f.xml');
  assert.deepEqual(r.annotation, { ...cells001, verified: true });
  assert.equal(formatVocXml(r.annotation!), verified);
  const other = parseVocXml(fixtureText.replace('<annotation>', '<annotation verified="no" x="1">').replace('<name>Nucleoli', '<name verified="yes">Nucleoli'), 'f.xml');
  assert.deepEqual(other.annotation, cells001);
});

test('readVocFile reports an unreadable file instead of throwing', async () => {
  const r = await readVocFile(path.join(annotationFixtures, 'no-such-file.xml'));
  assert.equal(r.annotation, undefined);
  assert.match(r.issues[0]!.message, /cannot read file \(ENOENT\)/);
});

test('BCCD: read + formatVocXml reproduces every TAB-indented LabelImg file byte for byte', async (t) => {
  const dir = sharedData(t, 'bccd', 'Annotations');
  if (!dir) return;
  const names = readdirSync(dir).filter((n) => n.endsWith('.xml'));
  let tabFiles = 0;
  for (const name of names) {
    const text: string = readFileSync(path.join(dir, name), 'utf8');
    const r = parseVocXml(text, name);
    assert.deepEqual(r.issues, [], name);
    const written = formatVocXml(r.annotation!);
    // One BCCD file was saved by an older LabelImg (2-space indent, verified="no"): model-identical only.
    if (text.startsWith('<annotation>\n\t')) {
      tabFiles++;
      assert.equal(written, text, name);
    } else {
      assert.deepEqual(parseVocXml(written, name).annotation, r.annotation, name);
    }
  }
  assert.ok(tabFiles >= names.length - 1, `${tabFiles} of ${names.length} files in LabelImg's TAB layout`);
});
