/**
 * Sums every jest run up in one plain line, "N passed, N failed" (and
 * skipped), printed and kept in test-artifacts/test-summary.txt, so that CI
 * can end its log with it.
 */
const fs = require('node:fs');
const path = require('node:path');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const line = `${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
    process.stderr.write(`\n${line}\n`);
    const file = path.join(process.cwd(), 'test-artifacts', 'test-summary.txt');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${line}\n`);
  }
}

module.exports = SummaryReporter;
