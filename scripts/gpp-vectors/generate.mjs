// Encodes varied GPP sections with the IAB reference library (@iabgpp/cmpapi, pinned in
// package.json) and writes each string with every field as the library decodes it back.
//   cd scripts/gpp-vectors && npm install && node generate.mjs ../../tests/vectors/gpp_iab.json
// Deterministic: a seeded PRNG, so re-running gives the same file for the same library version.
import { readFileSync, writeFileSync } from "node:fs";
import * as gpp from "@iabgpp/cmpapi";
// 3.1.x wrote tcfcav1 vendor sets as fixed-width ranges; 3.2 still decodes those strings
import * as legacy from "cmpapi-legacy";

const { GppModel, RangeEntry, BitStringEncoder } = gpp;
const LIBRARY = JSON.parse(readFileSync(new URL("./node_modules/@iabgpp/cmpapi/package.json", import.meta.url))).version;

let seed = 20240612;
function rand() {
  // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (items) => items[int(0, items.length - 1)];
const bools = (n, p = 0.5) => Array.from({ length: n }, () => rand() < p);
const sorted = (ids) => [...new Set(ids)].sort((a, b) => a - b);

// Vendor id sets that exercise both OptimizedRange forms and the Fibonacci ranges.
const VENDOR_SETS = [
  () => [],
  () => [1],
  () => sorted(Array.from({ length: int(1, 12) }, () => int(1, 60))), // small, dense: bitfield
  () => sorted(Array.from({ length: int(1, 8) }, () => int(1, 65000))), // large sparse ids: ranges
  () => { const s = int(1, 3000); return Array.from({ length: int(40, 600) }, (_, i) => s + i); }, // one long run
  () => sorted([1, 2, 3, 4, 5, 6, 7, 8, 100, 101, 102, 103, 104, 2000, 40000, 40001, 40002, 65535]),
  () => { // several runs and singles
    const out = [];
    let at = int(1, 50);
    for (let r = 0; r < int(2, 9); r++) {
      const len = pick([1, 1, 2, int(3, 120)]);
      for (let i = 0; i < len; i++) out.push(at + i);
      at += len + int(1, 5000);
    }
    return sorted(out.filter((v) => v <= 65535));
  },
  () => sorted(Array.from({ length: int(60, 200) }, () => int(1, 600))), // dense random: bitfield
];
const vendors = () => pick(VENDOR_SETS)();

function decideciseconds(ms) {
  return new Date(Math.round(ms / 100) * 100);
}

function tcfcaFields(i) {
  const custom = int(0, 12);
  const restrictions = Array.from({ length: pick([0, 0, 1, 2, 4]) }, () =>
    new RangeEntry(int(1, 24), int(0, 3), vendors()));
  return {
    Created: decideciseconds(Date.UTC(2022, 0, 1) + int(0, 3e9) * 100),
    LastUpdated: decideciseconds(Date.UTC(2024, 0, 1) + int(0, 3e9) * 100),
    CmpId: int(0, 4095),
    CmpVersion: int(0, 4095),
    ConsentScreen: int(0, 63),
    ConsentLanguage: pick(["EN", "FR", "DE", "ES", "ZH"]),
    VendorListVersion: int(0, 4095),
    TcfPolicyVersion: int(0, 63),
    UseNonStandardStacks: rand() < 0.5,
    SpecialFeatureExpressConsent: bools(12),
    PurposesExpressConsent: bools(24),
    PurposesImpliedConsent: bools(24),
    VendorExpressConsent: i === 0 ? [] : vendors(),
    VendorImpliedConsent: vendors(),
    PubRestrictions: restrictions,
    PubPurposesExpressConsent: bools(24),
    PubPurposesImpliedConsent: bools(24),
    NumCustomPurposes: custom,
    CustomPurposesExpressConsent: bools(custom),
    CustomPurposesImpliedConsent: bools(custom),
    DisclosedVendors: rand() < 0.4 ? [] : vendors(),
  };
}

function twoBit(n) {
  return Array.from({ length: n }, () => int(0, 2));
}

// Random values for every 2-bit field of a US section (lists at their default length).
function usFields(name, version) {
  const probe = new GppModel();
  // materialise the section with its defaults (the 2025 sections call their version MspaVersion)
  probe.setFieldValue(name, ["usmd", "usin", "usky", "usri"].includes(name) ? "MspaVersion" : "Version", 1);
  const out = {};
  for (const [field, value] of Object.entries(probe.getSection(name))) {
    if (field === "Version" || field === "MspaVersion" || field.endsWith("SegmentType")) continue;
    if (field.endsWith("Included")) continue;
    if (field === "Gpc") out[field] = rand() < 0.5;
    else if (Array.isArray(value)) out[field] = twoBit(value.length);
    else if (field === "MspaCoveredTransaction") out[field] = int(1, 2);
    else out[field] = int(0, 2);
  }
  if (version !== undefined) out.Version = version;
  return out;
}

function json(value) {
  return JSON.parse(JSON.stringify(value)); // Dates -> ISO strings, RangeEntry -> {key, type, ids}
}

function encodeSection(name, fields, gpcIncluded) {
  const model = new GppModel();
  for (const [field, value] of Object.entries(fields)) model.setFieldValue(name, field, value);
  for (const field of ["GpcSegmentIncluded", "SensitiveDataConsentSegmentIncluded"]) {
    if (gpcIncluded === undefined) break;
    try {
      model.setFieldValue(name, field, gpcIncluded);
    } catch (e) {
      // the section has no such sub-section
    }
  }
  return { model, string: model.encodeSection(name) };
}

function decodeSection(name, string) {
  const model = new GppModel();
  model.decodeSection(name, string);
  return json(model.getSection(name));
}

const sections = [];
const gppStrings = [];
const invalid = [];

for (let i = 0; i < 40; i++) {
  const { string } = encodeSection("tcfcav1", tcfcaFields(i));
  sections.push({ section: "tcfcav1", section_string: string, fields: decodeSection("tcfcav1", string) });
}

// tcfcav1 sections written by the pre-Fibonacci encoder, with fields as the current library reads them
const legacySections = [];
for (let i = 0; i < 10; i++) {
  const model = new legacy.GppModel();
  for (const [field, value] of Object.entries(tcfcaFields(i + 1))) {
    const entries = field === "PubRestrictions" ? value.map((e) => new legacy.RangeEntry(e.key, e.type, e.ids)) : value;
    model.setFieldValue("tcfcav1", field, entries);
  }
  const string = model.encodeSection("tcfcav1");
  legacySections.push({ section: "tcfcav1", section_string: string, fields: decodeSection("tcfcav1", string) });
}

const US = ["usnat", "usca", "usva", "usco", "usut", "usct", "usfl", "usmt", "usor", "ustx", "usde", "usia",
  "usne", "usnh", "usnj", "ustn", "usmn", "usmd", "usin", "usky", "usri"];
for (const name of US) {
  const versions = name === "usnat" ? [1, 2, 1, 2, 2, 1] : [undefined, undefined, undefined];
  for (const version of versions) {
    const fields = usFields(name, version);
    const { string } = encodeSection(name, fields, rand() < 0.6);
    sections.push({ section: name, section_string: string, fields: decodeSection(name, string) });
  }
}

// Whole GPP strings mixing a tcfcav1 section with US sections.
for (let i = 0; i < 8; i++) {
  const model = new GppModel();
  for (const [field, value] of Object.entries(tcfcaFields(i + 1))) model.setFieldValue("tcfcav1", field, value);
  for (const name of [pick(US), "usnat", pick(US)]) {
    for (const [field, value] of Object.entries(usFields(name))) model.setFieldValue(name, field, value);
  }
  const string = model.encode();
  const decoded = new GppModel(string);
  const expected = {};
  for (const [name, obj] of Object.entries(decoded.toObject())) expected[name] = json(obj);
  gppStrings.push({ gpp_string: string, section_ids: decoded.getSectionIds(), sections: expected });
}

// Truncations the relay must reject: usnat Version 2 cut to the Version 1 lengths (10 and 11
// characters, 60 and 66 bits), and every US core cut below its layout's bit length.
const bitEncoder = BitStringEncoder.getInstance();
for (let i = 0; i < 6; i++) {
  const { string } = encodeSection("usnat", usFields("usnat", 2), i % 2 === 0);
  const [core, ...rest] = string.split(".");
  for (const chars of [10, 11]) {
    invalid.push({
      section: "usnat",
      section_string: [core.slice(0, chars), ...rest].join("."),
      reason: `usnat Version 2 truncated to ${chars} characters (the Version 1 length)`,
      iab_decodes_it_as: decodeSection("usnat", [core.slice(0, chars), ...rest].join(".")),
    });
  }
}
for (const name of US) {
  const { model, string } = encodeSection(name, usFields(name), false);
  const segment = model.sections.get(name).segments[0];
  const bits = bitEncoder.encode(segment.fields, segment.getFieldNames()).length;
  const chars = Math.ceil(bits / 6) - 1;
  invalid.push({
    section: name,
    section_string: string.split(".")[0].slice(0, chars),
    reason: `core cut to ${chars * 6} bits, layout has ${bits}`,
  });
}

const out = {
  _about: {
    what: "GPP sections encoded by the IAB reference library and decoded back by it: every field as the library reports it (bitfields as booleans, dates as ISO strings, PubRestrictions as {key, type, ids}).",
    generator: "scripts/gpp-vectors/generate.mjs",
    library: `@iabgpp/cmpapi ${LIBRARY}`,
  },
  sections,
  legacy_tcfcav1: legacySections,
  gpp_strings: gppStrings,
  invalid_sections: invalid,
};
const target = process.argv[2] ?? "gpp_iab.json";
// one vector per line: reviewable diffs without a line per vendor id
const body = Object.entries(out).map(([key, value]) => {
  const inner = Array.isArray(value)
    ? "[\n" + value.map((v) => "  " + JSON.stringify(v)).join(",\n") + "\n ]"
    : JSON.stringify(value);
  return ` ${JSON.stringify(key)}: ${inner}`;
});
writeFileSync(target, "{\n" + body.join(",\n") + "\n}\n");
console.log(`${sections.length} sections, ${gppStrings.length} gpp strings, ${invalid.length} invalid -> ${target}`);
