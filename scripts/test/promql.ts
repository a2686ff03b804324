// The metric names PromQL expressions select: shared by the dashboard's test and the check of the
// dashboard's and the alert rules' names against a real scrape.

const PROMQL_KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);

/**
 * The metric names a PromQL expression selects: identifiers left once strings, label matchers,
 * ranges and grouping clauses are taken out, that are neither a function (followed by `(`), a
 * keyword, a Grafana variable (`$instance`), nor part of a number (`1e3`). Written here rather
 * than with a PromQL parser: none is published for Node, and the dashboard's queries are
 * checked by promtool's own parser besides (grafana.test.ts).
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const before = stripped[match.index! - 1] ?? '';
    const after = stripped.slice(match.index! + match[0].length).trimStart()[0];
    if (before === '$' || /[0-9.]/.test(before) || after === '(' || PROMQL_KEYWORDS.has(match[0].toLowerCase())) continue;
    names.add(match[0]);
  }
  return [...names];
}
