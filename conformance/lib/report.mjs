// The results table: per plan, module → PASS / WARNING / FAILURE / SKIPPED, with the reason for
// anything but PASS and every warning listed.

export function summarize(results) {
  const counts = { PASS: 0, WARNING: 0, FAILURE: 0, SKIPPED: 0 };
  for (const r of results) counts[r.status] += 1;
  return counts;
}

export function printReport(results, plans) {
  const width = Math.max(20, ...results.map((r) => r.name.length)) + 2;
  console.log('\n================ results ================');
  for (const plan of plans) {
    const rows = results.filter((r) => r.plan === plan.name);
    if (rows.length === 0) continue;
    console.log(`\n${plan.name}`);
    for (const r of rows) {
      console.log(`  ${r.name.padEnd(width)}${r.status}`);
      if (r.status === 'SKIPPED') console.log(`      skipped: ${r.skipped}`);
      for (const f of r.failures) console.log(`      FAILURE ${f}`);
      for (const w of r.warnings) console.log(`      WARNING ${w}`);
    }
  }
  const c = summarize(results);
  console.log(`\n${results.length} modules: ${c.PASS} PASS, ${c.WARNING} WARNING, ${c.FAILURE} FAILURE, ${c.SKIPPED} SKIPPED`);
}
