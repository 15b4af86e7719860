// One module's outcome: FAILURE and WARNING entries as the official suite records them.
//
// fail()  = a condition called with ConditionResult.FAILURE (the module goes on, then fails)
// stop()  = callAndStopOnFailure: the module fails and ends here
// warn()  = ConditionResult.WARNING (the module still passes, with a warning)
// skip()  = the suite's fireTestSkipped: the module does not apply
// note()  = INFO, only logged (shown in the JSON, not in the table)

export class Stop extends Error {}
export class Skip extends Error {}

export class ModuleResult {
  constructor(plan, name) {
    this.plan = plan;
    this.name = name;
    this.failures = [];
    this.warnings = [];
    this.notes = [];
    this.skipped = null;
    this.started = Date.now();
    this.durationMs = 0;
  }

  fail(check, message) {
    const entry = `${check}: ${message}`;
    if (!this.failures.includes(entry)) this.failures.push(entry);
  }

  stop(check, message) {
    this.fail(check, message);
    throw new Stop(message);
  }

  warn(check, message) {
    const entry = `${check}: ${message}`;
    if (!this.warnings.includes(entry)) this.warnings.push(entry);
  }

  note(check, message) {
    this.notes.push(`${check}: ${message}`);
  }

  skip(reason) {
    this.skipped = reason;
    throw new Skip(reason);
  }

  /** Records `message` at `level` ('FAILURE' | 'WARNING' | 'INFO' | 'STOP') unless `ok`. */
  expect(ok, level, check, message) {
    if (ok) return true;
    switch (level) {
      case 'STOP':
        this.stop(check, message);
        break;
      case 'FAILURE':
        this.fail(check, message);
        break;
      case 'WARNING':
        this.warn(check, message);
        break;
      default:
        this.note(check, message);
    }
    return false;
  }

  get status() {
    if (this.failures.length > 0) return 'FAILURE';
    if (this.skipped !== null) return 'SKIPPED';
    if (this.warnings.length > 0) return 'WARNING';
    return 'PASS';
  }

  toJSON() {
    return {
      plan: this.plan,
      module: this.name,
      result: this.status,
      skipped_reason: this.skipped,
      failures: this.failures,
      warnings: this.warnings,
      notes: this.notes,
      duration_ms: this.durationMs,
    };
  }
}
