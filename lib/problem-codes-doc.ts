// docs/problem-codes.md, generated from the one table (lib/problem-codes.ts). Run
// `npm run docs:codes` after changing the table; test/problem-codes.test.ts fails while the
// committed page differs from what this renders.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { codeGroups, problemCodes, type CodeEntry, type CodeGroupName } from './problem-codes.ts';

const intro = `# Problem and reason codes

<!-- Generated from lib/problem-codes.ts by \`npm run docs:codes\`: edit the table there, not this page. -->

Every code the agent emits is a stable kebab-case string; dashboards, alert rules, schedulers and
scripts may match on it. All of them are in one table, \`lib/problem-codes.ts\`, and the fields
that carry them are typed with its keys, so a code that is not listed here cannot be emitted.
Each section is one place codes appear; the same string can mean different things in two
sections (\`not-found\` is a missing file in a verdict and an unknown path over HTTP), never in
two sections of the same field.

The second column is what the code alone makes of the thing it is about:

- **status** of a check: \`critical\` and \`unknown\` refuse builds when the check's scope is
  \`host\` and degrade them (429) when it is \`shared\` (the registry check); \`warning\` and \`ok\`
  accept. The runner damps \`critical\` (only after N failures in a row); docs/admission.md.
- **effect** of a reason admission adds: \`refuse\` whatever the checks say, or the status of
  the check it stands for.
- **verdict** on one cache file (\`cache check\`, docs/conventions.md): \`corrupt\`, \`unreadable\`,
  \`busy\`, or \`healthy\` for a warning. An in-use cache that is not \`healthy\` or \`corrupt\`
  counts as not verified: reason \`cache-unverified\`, status \`unknown\`, the host refuses.
- **result** of a quarantine (docs/quarantine.md), **HTTP status** of an error answer, the
  **fleet state** of an agent in \`fleet status\` (\`no-answer\`: exit 4).
`;

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

// The anchor GitHub gives a heading: what other pages link to (problem-codes.md#...).
export function headingAnchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replaceAll(' ', '-');
}

function section(name: CodeGroupName): string {
  const group = codeGroups[name];
  const entries = Object.entries(problemCodes[name]) as [string, CodeEntry][];
  const rows = entries.map(
    ([code, e]) => `| \`${code}\` | ${cell(e.implies)} | ${cell(e.meaning)} | ${cell(e.action)} |`,
  );
  return [
    `## ${group.title}`,
    '',
    `Where: ${group.where}. Emitted by: ${group.emittedBy.map((p) => `\`${p}\``).join(', ')}.`,
    '',
    `| code | ${group.implies} | meaning | what to do |`,
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

export function problemCodesMarkdown(): string {
  const names = Object.keys(codeGroups) as CodeGroupName[];
  const index = [
    '| section | codes |',
    '| --- | --- |',
    ...names.map(
      (n) =>
        `| [${codeGroups[n].title.replaceAll('`', '')}](#${headingAnchor(codeGroups[n].title)}) | ${Object.keys(problemCodes[n]).length} |`,
    ),
  ].join('\n');
  return `${[intro.trimEnd(), index, ...names.map(section)].join('\n\n')}\n`;
}

export const problemCodesDocPath = fileURLToPath(new URL('../docs/problem-codes.md', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(problemCodesDocPath, problemCodesMarkdown());
  console.log(`wrote ${problemCodesDocPath}`);
}
