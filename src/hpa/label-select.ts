/**
 * Label-set filters over an HPA label table, e.g. the nucleoli-compartment curation
 * `--any 2,3,4,5` (images with at least one of Nucleoli, fibrillar center, speckles, bodies).
 */
import type { HpaLabelRow } from './train-csv.js';

/** Conditions that all must hold; an absent or empty condition is no constraint. */
export interface LabelFilter {
  /** At least one of these labels. */
  any?: readonly number[];
  /** Every one of these labels. */
  all?: readonly number[];
  /** None of these labels. */
  none?: readonly number[];
}

/** True when an image with `labels` passes `filter`. */
export function matchesLabelFilter(labels: readonly number[], filter: LabelFilter): boolean {
  const has = (id: number) => labels.includes(id);
  if (filter.any && filter.any.length > 0 && !filter.any.some(has)) return false;
  if (filter.all && !filter.all.every(has)) return false;
  if (filter.none && filter.none.some(has)) return false;
  return true;
}

/** The rows that pass `filter`, in file order. */
export function selectByLabels<R extends Pick<HpaLabelRow, 'labels'>>(rows: readonly R[], filter: LabelFilter): R[] {
  return rows.filter((r) => matchesLabelFilter(r.labels, filter));
}
