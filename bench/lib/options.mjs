// Command-line and environment options shared by the benchmark entry points.
// Precedence: flag > environment variable > --quick default > default.

import { parseArgs } from 'node:util';

/**
 * `spec` maps an option name to
 *   { type: 'string' | 'boolean', env, default, quick, parse, help }.
 * Resolves the values, printing usage and exiting on --help or a bad flag.
 * `parse` turns the raw string into its value (numbers, lists, sizes).
 */
export function readOptions(spec, { usage, argv = process.argv.slice(2), env = process.env } = {}) {
  const parserOptions = { help: { type: 'boolean', short: 'h' }, quick: { type: 'boolean' } };
  for (const [name, option] of Object.entries(spec)) parserOptions[name] = { type: option.type ?? 'string' };
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: parserOptions, allowPositionals: false }));
  } catch (err) {
    printUsage(usage, spec);
    console.error(`\n${err.message}`);
    process.exit(2);
  }
  if (values.help) {
    printUsage(usage, spec);
    process.exit(0);
  }
  const quick = Boolean(values.quick) || env.BENCH_QUICK === '1';
  const resolved = { quick };
  for (const [name, option] of Object.entries(spec)) {
    let raw = values[name];
    if (raw === undefined && option.env && env[option.env] !== undefined && env[option.env] !== '') raw = env[option.env];
    if (raw === undefined) {
      resolved[name] = quick && option.quick !== undefined ? option.quick : option.default;
      continue;
    }
    try {
      resolved[name] = option.parse ? option.parse(raw) : raw;
    } catch (err) {
      console.error(`--${name}: ${err.message}`);
      process.exit(2);
    }
  }
  return resolved;
}

function printUsage(usage, spec) {
  console.log(usage);
  console.log('\nOptions (flag, or environment variable):');
  console.log('  --quick                  fast smoke run: small sizes, 1 run, short durations (BENCH_QUICK=1)');
  for (const [name, option] of Object.entries(spec)) {
    const flag = `--${name}${option.type === 'boolean' ? '' : ' VALUE'}`;
    const env = option.env ? ` (${option.env})` : '';
    const def = option.default === undefined ? '' : ` [default ${show(option.default)}${option.quick !== undefined ? `, quick ${show(option.quick)}` : ''}]`;
    console.log(`  ${flag.padEnd(24)} ${option.help}${env}${def}`);
  }
}

function show(value) {
  return Array.isArray(value) ? value.join(',') : String(value);
}

/** '3' → 3; rejects anything that is not a positive integer. */
export function positiveInteger(text) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`expected a positive integer, got ${JSON.stringify(text)}`);
  return value;
}

/** '2.5' → 2.5; rejects anything that is not a positive number. */
export function positiveNumber(text) {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`expected a positive number, got ${JSON.stringify(text)}`);
  return value;
}

/** 'a,b, c' → ['a', 'b', 'c'] */
export function list(text) {
  return String(text).split(',').map((item) => item.trim()).filter(Boolean);
}

/** 'on'/'off' (also 1/0, true/false, yes/no) → boolean. */
export function onOff(text) {
  const value = String(text).toLowerCase();
  if (['on', '1', 'true', 'yes'].includes(value)) return true;
  if (['off', '0', 'false', 'no'].includes(value)) return false;
  throw new Error(`expected on or off, got ${JSON.stringify(text)}`);
}
