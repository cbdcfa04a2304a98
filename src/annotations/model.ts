/**
 * The in-memory annotation model every format converts to and from. Boxes are continuous pixel
 * coordinates x1,y1,x2,y2 (x2 > x1, y2 > y1 for a valid box), taken exactly as the file gives them,
 * as keras-frcnn and torchvision read VOC; no +1 is added anywhere.
 */
export interface BoxObject {
  /** Class name (VOC `name`). */
  name: string;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  /** VOC extras, kept so a round trip through VOC loses nothing. */
  pose?: string;
  truncated?: boolean;
  difficult?: boolean;
  /** Detector confidence in [0, 1]: set on predictions, absent on ground truth. */
  score?: number;
}

export interface ImageAnnotation {
  /** Image file name (VOC `filename`), e.g. "BloodImage_00000.jpg". */
  filename: string;
  /** VOC `folder`, if any. */
  folder?: string;
  /** VOC `path` (absolute or relative path LabelImg recorded), if any. */
  path?: string;
  width: number;
  height: number;
  /** Channels (VOC `size/depth`), 3 for RGB. */
  depth: number;
  /** VOC `segmented` flag. */
  segmented?: boolean;
  /** LabelImg's `<annotation verified="yes">`: the image's boxes were reviewed. */
  verified?: boolean;
  objects: BoxObject[];
}

/** A problem found while reading or validating, tied to the file and, when known, the object. */
export interface AnnotationIssue {
  file: string;
  /** 0-based index of the object in the file, when the issue is about one object. */
  objectIndex?: number;
  /** Field that is wrong, e.g. "bndbox.xmin" or "size.width". */
  field?: string;
  /** 1-based line in `file`, for line-oriented formats (CSV). */
  line?: number;
  message: string;
  /** 'error': the object (or file) was dropped; 'warning': kept (e.g. clipped). */
  severity: 'error' | 'warning';
}

export function boxArea(b: Pick<BoxObject, 'x1' | 'y1' | 'x2' | 'y2'>): number {
  return Math.max(0, b.x2 - b.x1) * Math.max(0, b.y2 - b.y1);
}
