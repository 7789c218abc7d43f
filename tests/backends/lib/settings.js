// The run-time settings of a reference server: defaults read from env vars, changed with
// POST /_control/config and put back with POST /_control/reset. Shared by the GMS and Push
// servers' options.js, which say what each setting is and where the real server does it.
"use strict";

const env = process.env;
/** An env var as a flag: 1/true/yes/on. */
const bool = (name, dflt) => (env[name] === undefined ? dflt : ["1", "true", "yes", "on"].includes(env[name].toLowerCase()));
/** An env var as a number. */
const num = (name, dflt) => (env[name] === undefined ? dflt : Number(env[name]));
/** An env var as text. */
const str = (name, dflt) => env[name] || dflt;

/** Live settings over frozen `defaults`; a key of `choices` takes only one of its values. */
function settings(defaults, choices = {}) {
  for (const [key, allowed] of Object.entries(choices)) {
    if (!allowed.includes(defaults[key])) throw new RangeError(`env for ${key}: ${defaults[key]} is not one of ${allowed.join(", ")}`);
  }
  const options = { ...defaults };

  /** Applies `changes` (unknown keys are ignored); throws on a value out of range. */
  function update(changes) {
    for (const [key, value] of Object.entries(changes || {})) {
      if (!(key in defaults)) continue;
      const kind = typeof defaults[key];
      let v;
      if (kind === "boolean") v = value === true || value === "true" || value === 1 || value === "1";
      else if (kind === "number") v = Number(value);
      else v = String(value);
      if (kind === "number" && !(v >= 0)) throw new RangeError(`${key} must be a number >= 0`);
      if (choices[key] && !choices[key].includes(v)) throw new RangeError(`${key} must be one of ${choices[key].join(", ")}`);
      options[key] = v;
    }
    return { ...options };
  }

  function reset() {
    Object.assign(options, defaults);
    return { ...options };
  }

  return { options, update, reset, DEFAULTS: defaults };
}

module.exports = { bool, num, str, settings };
