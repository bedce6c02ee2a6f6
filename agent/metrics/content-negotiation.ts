// Picks the exposition format from the Accept header: OpenMetrics when the client lists it with
// a higher (or equal) preference than the text format, as Prometheus itself does when it scrapes;
// the classic text format otherwise (curl, old scrapers, no header).

export type ExpositionFormat = 'openmetrics' | 'text';

export function chooseExpositionFormat(accept: string | undefined): ExpositionFormat {
  if (accept === undefined || !accept.includes('openmetrics')) return 'text';
  let openMetricsQ = -1;
  let textQ = -1;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(q) || q <= 0) continue;
    if (type === 'application/openmetrics-text') openMetricsQ = Math.max(openMetricsQ, q);
    else if (type === 'text/plain' || type === '*/*' || type === 'text/*')
      textQ = Math.max(textQ, type === 'text/plain' ? q : q - 0.001);
  }
  return openMetricsQ >= 0 && openMetricsQ >= textQ ? 'openmetrics' : 'text';
}
