/**
 * The 28 HPA subcellular-location labels of the Kaggle 2018 competition (train.csv `Target`),
 * ids 0–27 in the competition's order, and parsing of user label references ("2" or "Nucleoli").
 */

/** Label names indexed by id (0 Nucleoplasm … 27 Rods & rings), exactly as the HPA publishes them. */
export const HPA_LABEL_NAMES: readonly string[] = Object.freeze([
  'Nucleoplasm',
  'Nuclear membrane',
  'Nucleoli',
  'Nucleoli fibrillar center',
  'Nuclear speckles',
  'Nuclear bodies',
  'Endoplasmic reticulum',
  'Golgi apparatus',
  'Peroxisomes',
  'Endosomes',
  'Lysosomes',
  'Intermediate filaments',
  'Actin filaments',
  'Focal adhesion sites',
  'Microtubules',
  'Microtubule ends',
  'Cytokinetic bridge',
  'Mitotic spindle',
  'Microtubule organizing center',
  'Centrosome',
  'Lipid droplets',
  'Plasma membrane',
  'Cell junctions',
  'Mitochondria',
  'Aggresome',
  'Cytosol',
  'Cytoplasmic bodies',
  'Rods & rings',
]);

/** Number of HPA labels (valid ids are 0 … HPA_LABEL_COUNT - 1). */
export const HPA_LABEL_COUNT = HPA_LABEL_NAMES.length;

/** Name of label `id`; throws a RangeError for an id outside 0–27. */
export function hpaLabelName(id: number): string {
  if (!isHpaLabelId(id)) throw new RangeError(`HPA label id must be an integer 0–${HPA_LABEL_COUNT - 1}, got ${id}`);
  return HPA_LABEL_NAMES[id]!;
}

/** True for an integer 0–27. */
export function isHpaLabelId(id: number): boolean {
  return Number.isInteger(id) && id >= 0 && id < HPA_LABEL_COUNT;
}

// Names compare case-insensitively with any run of spaces, '_' or '-' as one space and '&' as
// "and", so "rods_and_rings", "Rods & rings" and "nucleoli-fibrillar-center" all resolve.
function normalizeName(name: string): string {
  return name
    .toLowerCase()
    .replace(/&/g, ' and ')
    .replace(/[\s_\-]+/g, ' ')
    .trim();
}

const idByName = new Map(HPA_LABEL_NAMES.map((name, id) => [normalizeName(name), id]));

/**
 * Resolve one label reference: a decimal id ("2") or a name ("Nucleoli", "nuclear_bodies").
 * Returns undefined when it names no HPA label.
 */
export function resolveHpaLabel(ref: string): number | undefined {
  const text = ref.trim();
  if (/^\d+$/.test(text)) {
    const id = Number(text);
    return isHpaLabelId(id) ? id : undefined;
  }
  return idByName.get(normalizeName(text));
}

/**
 * Parse a comma-separated list of label references ("2,3,Nuclear speckles") into sorted unique ids.
 * Throws a RangeError naming every reference that is not an HPA label, and for an empty list.
 */
export function parseHpaLabelList(spec: string): number[] {
  const refs = spec.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (refs.length === 0) throw new RangeError(`empty label list "${spec}"`);
  const unknown: string[] = [];
  const ids = new Set<number>();
  for (const ref of refs) {
    const id = resolveHpaLabel(ref);
    if (id === undefined) unknown.push(`"${ref}"`);
    else ids.add(id);
  }
  if (unknown.length > 0) {
    throw new RangeError(
      `unknown HPA label ${unknown.join(', ')} (use an id 0–${HPA_LABEL_COUNT - 1} or a name such as "Nucleoli")`,
    );
  }
  return [...ids].sort((a, b) => a - b);
}
