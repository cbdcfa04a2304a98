/** Public API of the annotation tools: the model, VOC/CSV/COCO readers and writers, validation, stats, split. */
export * from './model.js';
export { parseVocXml, readVocFile, type VocReadResult } from './voc-read.js';
export { formatVocXml, escapeXmlText } from './voc-write.js';
export { formatKerasCsv, parseKerasCsv, type CsvWriteOptions, type CsvReadResult } from './csv.js';
export {
  toCoco, fromCoco, parseCocoJson, formatCocoJson, categoryNames,
  type CocoDataset, type CocoImage, type CocoAnnotation, type CocoCategory, type CocoExportOptions, type CocoImportResult,
} from './coco.js';
export { validateAnnotation, type ValidateOptions, type ValidateResult, type OutsidePolicy } from './validate.js';
export { checkAgainstImage, checkImageFile, type ImageCheckResult } from './image-check.js';
export { loadAnnotations, AnnotationInputError, ANNOTATION_FORMATS, type AnnotationFormat, type LoadedAnnotations } from './load.js';
export { loadVocDataset, listVocFiles, formatIssue as formatAnnotationIssue, type LoadedAnnotation, type LoadedDataset, type LoadOptions } from './dataset.js';
export { computeStats, formatStatsTable, SIZE_BIN_EDGES, type DatasetStats, type ClassStats } from './stats.js';
export { splitIds, writeSplit, type Split, type SplitOptions } from './split.js';
export { writeVocLayout, vocId, type VocLayoutOptions, type VocLayoutResult } from './voc-layout.js';
