/** Small helpers shared by the SVG renderers. */

/** Escape text for SVG/XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`);
}

/** Font stack: DejaVu Sans is what librsvg finds on a bare Debian; fall back to any sans. */
export const SVG_FONT_FAMILY = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';

/**
 * Width of `text` at `fontSize` px, estimated (SVG cannot measure before rendering): DejaVu Sans
 * averages about 0.6 em per character (capitals more, lower case less), close enough to size a
 * caption's background.
 */
export function estimateTextWidth(text: string, fontSize: number): number {
  return Math.ceil(text.length * fontSize * 0.6);
}
