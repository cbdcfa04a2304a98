/**
 * Reader for the Kaggle HPA 2018 label file train.csv: a header naming `Id` and `Target`, then one
 * row per image, `Target` holding space-separated label ids 0–27 ("16 0"). Bad rows are reported by
 * line number and skipped; the rest of the file is read.
 */
import { promises as fs } from 'node:fs';
import { HPA_LABEL_COUNT } from './labels.js';

/** One image's labels. */
export interface HpaLabelRow {
  /** Image id (the channel files are `{id}_{red,green,blue,yellow}.png`). */
  id: string;
  /** Label ids 0–27 in file order, without duplicates. */
  labels: number[];
  /** 1-based line of the row in the file. */
  line: number;
}

/** A row that was skipped (severity 'error') or kept with a remark (severity 'warning'). */
export interface TrainCsvIssue {
  file: string;
  /** 1-based line number. */
  line: number;
  /** Column the problem is in, when it is about one. */
  field?: 'Id' | 'Target';
  message: string;
  severity: 'error' | 'warning';
}

/** What readTrainCsv/parseTrainCsv return: the good rows and every problem found. */
export interface TrainCsv {
  file: string;
  rows: HpaLabelRow[];
  issues: TrainCsvIssue[];
}

/** A file that cannot be read as train.csv at all (no header, missing column). */
export class TrainCsvFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
    this.name = 'TrainCsvFormatError';
  }
}

/** Read and parse a train.csv file (31,072 rows parse in a few tens of milliseconds). */
export async function readTrainCsv(file: string): Promise<TrainCsv> {
  return parseTrainCsv(await fs.readFile(file, 'utf8'), file);
}

// Fields in this file never contain commas; quotes, if a tool added them, are stripped.
function splitFields(line: string): string[] {
  return line.split(',').map((f) => {
    const t = f.trim();
    return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).trim() : t;
  });
}

/**
 * Parse train.csv text. `file` only names the source in messages. Throws TrainCsvFormatError when
 * the header is missing or lacks `Id` or `Target`; every other problem becomes an issue.
 */
export function parseTrainCsv(text: string, file = '<train.csv>'): TrainCsv {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const rows: HpaLabelRow[] = [];
  const issues: TrainCsvIssue[] = [];
  const firstLineOf = new Map<string, number>();

  const headerIndex = lines.findIndex((l) => l.trim().length > 0);
  if (headerIndex < 0) throw new TrainCsvFormatError(file, 1, 'empty file: expected the header "Id,Target"');
  const header = splitFields(lines[headerIndex]!).map((h) => h.toLowerCase());
  const idCol = header.indexOf('id');
  const targetCol = header.indexOf('target');
  if (idCol < 0 || targetCol < 0) {
    throw new TrainCsvFormatError(
      file,
      headerIndex + 1,
      `expected the header "Id,Target", got "${lines[headerIndex]!.trim()}"`,
    );
  }

  for (let i = headerIndex + 1; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim().length === 0) continue; // blank lines (the trailing newline) are not rows
    const line = i + 1;
    const error = (field: TrainCsvIssue['field'], message: string) =>
      issues.push({ file, line, ...(field ? { field } : {}), message, severity: 'error' });

    const fields = splitFields(raw);
    if (fields.length !== header.length) {
      error(undefined, `expected ${header.length} fields, got ${fields.length}`);
      continue;
    }
    const id = fields[idCol]!;
    if (id.length === 0) {
      error('Id', 'empty image id');
      continue;
    }
    const labels = parseTarget(fields[targetCol]!, (m) => error('Target', m));
    if (labels === undefined) continue;
    if (labels.duplicates.length > 0) {
      issues.push({
        file,
        line,
        field: 'Target',
        message: `label ${labels.duplicates.join(', ')} repeated; counted once`,
        severity: 'warning',
      });
    }
    const first = firstLineOf.get(id);
    if (first !== undefined) {
      error('Id', `duplicate id "${id}" (first on line ${first}); row skipped`);
      continue;
    }
    firstLineOf.set(id, line);
    rows.push({ id, labels: labels.ids, line });
  }
  return { file, rows, issues };
}

// Returns undefined (after reporting) when the Target field is unusable.
function parseTarget(
  field: string,
  report: (message: string) => void,
): { ids: number[]; duplicates: number[] } | undefined {
  const tokens = field.split(/\s+/).filter((t) => t.length > 0);
  if (tokens.length === 0) {
    report('no label');
    return undefined;
  }
  const ids: number[] = [];
  const duplicates: number[] = [];
  for (const token of tokens) {
    if (!/^\d+$/.test(token)) {
      report(`label "${token}" is not an integer 0–${HPA_LABEL_COUNT - 1}`);
      return undefined;
    }
    const id = Number(token);
    if (id >= HPA_LABEL_COUNT) {
      report(`label ${token} is outside 0–${HPA_LABEL_COUNT - 1}`);
      return undefined;
    }
    if (ids.includes(id)) duplicates.push(id);
    else ids.push(id);
  }
  return { ids, duplicates };
}
