/**
 * A self-contained HTML report (no scripts, no external assets): a title, then sections holding
 * paragraphs, tables and image galleries. Image paths are relative to the report file, so the
 * report folder can be zipped and opened anywhere. The demo writes one; training runs can too.
 */
export type ReportBlock =
  | { kind: 'text'; text: string }
  | { kind: 'table'; header: string[]; rows: (string | number)[][] }
  | { kind: 'images'; images: { src: string; caption: string }[] };

export interface ReportSection {
  title: string;
  blocks: ReportBlock[];
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function renderBlock(block: ReportBlock): string {
  switch (block.kind) {
    case 'text':
      return `<p>${escapeHtml(block.text)}</p>`;
    case 'table': {
      const head = block.header.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
      const body = block.rows
        .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(String(c))}</td>`).join('')}</tr>`)
        .join('\n');
      return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
    }
    case 'images':
      return `<div class="gallery">${block.images
        .map(
          (im) =>
            `<figure><a href="${escapeHtml(im.src)}"><img src="${escapeHtml(im.src)}" loading="lazy" alt="${escapeHtml(im.caption)}"></a>` +
            `<figcaption>${escapeHtml(im.caption)}</figcaption></figure>`,
        )
        .join('\n')}</div>`;
  }
}

/** Render the whole report as one HTML document. */
export function renderReport(title: string, sections: ReportSection[]): string {
  const css = `body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.gallery{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0;width:280px}
img{width:280px;height:auto;border:1px solid #ccc}figcaption{font-size:12px;color:#555}`;
  const body = sections
    .map((s) => `<section><h2>${escapeHtml(s.title)}</h2>\n${s.blocks.map(renderBlock).join('\n')}</section>`)
    .join('\n');
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>\n<style>${css}</style></head>\n<body><h1>${escapeHtml(title)}</h1>\n${body}\n</body></html>\n`;
}
