/**
 * `hpa-detect labels stats|select`: the HPA train.csv label table.
 * Bad rows (label outside 0–27, not an integer, no label, duplicate id) are printed as warnings with
 * their line numbers and skipped, so one typo does not stop a curation of 31,000 images; `--strict`
 * turns them into a failure (exit 1, nothing printed on stdout). Unknown label names/ids in options
 * are usage errors (exit 2).
 */
import type { Argv, CommandModule } from 'yargs';
import { CliError, UsageError } from '../errors.js';
import { HPA_LABEL_NAMES, parseHpaLabelList } from '../../hpa/labels.js';
import { readTrainCsv, TrainCsvFormatError, type TrainCsv, type TrainCsvIssue } from '../../hpa/train-csv.js';
import { formatLabelStats, labelsByCount, labelStats } from '../../hpa/label-stats.js';
import { selectByLabels, type LabelFilter } from '../../hpa/label-select.js';
import { renderBarChart } from '../../render/bar-chart.js';
import { writeFileAtomic } from '../../util/atomic.js';

interface CommonArgs {
  csv: string;
  strict: boolean;
}

function formatIssue(i: TrainCsvIssue): string {
  return `${i.file}:${i.line}:${i.field ? ` ${i.field}:` : ''} ${i.message}`;
}

/** Read the CSV, report its issues on stderr, and apply --strict. */
async function loadTable(args: CommonArgs): Promise<TrainCsv> {
  // yargs reports a missing positional but still runs the handler; keep the exit code 2.
  if (typeof args.csv !== 'string') throw new UsageError('name the CSV file (train.csv)');
  let table: TrainCsv;
  try {
    table = await readTrainCsv(args.csv);
  } catch (err) {
    if (err instanceof TrainCsvFormatError) throw new CliError(err.message);
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${args.csv} (${code ?? String(err)})`);
  }
  const errors = table.issues.filter((i) => i.severity === 'error').length;
  for (const issue of table.issues) process.stderr.write(`${issue.severity}: ${formatIssue(issue)}\n`);
  if (errors > 0) {
    if (args.strict) throw new CliError(`${args.csv}: ${errors} bad row(s) (--strict)`);
    process.stderr.write(`warning: ${errors} bad row(s) skipped; ${table.rows.length} rows read\n`);
  }
  return table;
}

function commonOptions<T>(y: Argv<T>) {
  return y
    .positional('csv', { type: 'string', demandOption: true, describe: 'train.csv (Id,Target)' })
    .option('strict', { type: 'boolean', default: false, describe: 'Fail (exit 1) on any bad row instead of skipping it' });
}

interface StatsArgs extends CommonArgs {
  chart?: string;
  json: boolean;
  cooccurrence: boolean;
}

const statsCommand: CommandModule<object, StatsArgs> = {
  command: 'stats <csv>',
  describe: 'Images per label (sorted by count), labels per image, optional bar chart',
  builder: (y) =>
    commonOptions(y)
      .option('chart', { type: 'string', describe: 'Write a bar chart of the distribution to this PNG' })
      .option('json', { type: 'boolean', default: false, describe: 'Machine-readable output' })
      .option('cooccurrence', { type: 'boolean', default: false, describe: 'Include the 28×28 label co-occurrence matrix (JSON only)' })
      .example('$0 labels stats train.csv --chart labels.png', 'Table on stdout, chart to labels.png') as Argv<StatsArgs>,
  handler: async (argv) => {
    const table = await loadTable(argv);
    const stats = labelStats(table.rows, { cooccurrence: argv.cooccurrence });
    if (argv.chart) {
      const bars = labelsByCount(stats).map((l) => ({
        label: `${l.name} (${l.id})`,
        value: l.count,
        note: `(${formatPercent(l.fraction)})`,
      }));
      const chart = await renderBarChart(bars, { title: `HPA labels: images per label (${stats.images.toLocaleString('en-US')} images)` });
      await writeFileAtomic(argv.chart, chart.png);
    }
    if (argv.json) {
      process.stdout.write(`${JSON.stringify({ file: argv.csv, ...stats, issues: table.issues }, null, 2)}\n`);
    } else {
      process.stdout.write(formatLabelStats(stats));
      if (argv.chart) process.stderr.write(`chart written to ${argv.chart}\n`);
    }
  },
};

// One decimal, or two below 1% so rare labels (Rods & rings: 0.04%) do not read as 0.
function formatPercent(fraction: number): string {
  const pct = 100 * fraction;
  return `${pct.toFixed(pct < 1 ? 2 : 1)}%`;
}

interface SelectArgs extends CommonArgs {
  any?: string | string[];
  all?: string | string[];
  none?: string | string[];
}

// Each option may be given several times; a bad name is a usage error naming the option.
function parseLabelOption(name: string, value: string | string[] | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const spec = Array.isArray(value) ? value.join(',') : value;
  try {
    return parseHpaLabelList(spec);
  } catch (err) {
    throw new UsageError(`--${name}: ${(err as Error).message}`);
  }
}

const labelListHelp = `comma-separated ids 0–27 or names (${HPA_LABEL_NAMES[2]}, "${HPA_LABEL_NAMES[4]}", …)`;

const selectCommand: CommandModule<object, SelectArgs> = {
  command: 'select <csv>',
  describe: 'Print the ids of images whose labels pass --any/--all/--none, one per line',
  builder: (y) =>
    commonOptions(y)
      .option('any', { type: 'string', describe: `At least one of these labels: ${labelListHelp}` })
      .option('all', { type: 'string', describe: 'Every one of these labels' })
      .option('none', { type: 'string', describe: 'None of these labels' })
      .example('$0 labels select train.csv --any 2,3,4,5', 'Images with a nucleolar-compartment label')
      .example('$0 labels select train.csv --all Nucleoli --none Cytosol', 'Nucleoli but not Cytosol') as Argv<SelectArgs>,
  handler: async (argv) => {
    const filter: LabelFilter = {};
    const any = parseLabelOption('any', argv.any);
    const all = parseLabelOption('all', argv.all);
    const none = parseLabelOption('none', argv.none);
    if (any) filter.any = any;
    if (all) filter.all = all;
    if (none) filter.none = none;
    if (!any && !all && !none) throw new UsageError('labels select needs at least one of --any, --all, --none');
    const table = await loadTable(argv);
    const selected = selectByLabels(table.rows, filter);
    process.stdout.write(selected.map((r) => `${r.id}\n`).join(''));
    process.stderr.write(`${selected.length} of ${table.rows.length} images selected\n`);
  },
};

/** `hpa-detect labels <stats|select>`. */
export const labelsCommand: CommandModule = {
  command: 'labels <command>',
  describe: 'HPA train.csv labels: distribution and selection',
  builder: (y) => y.command(statsCommand).command(selectCommand).demandCommand(1, 'Name a labels subcommand: stats or select.'),
  handler: () => {},
};
