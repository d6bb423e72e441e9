// Builds the two-class names data set (name → sex) from the two stdlib name lists:
//
//   npm run build
//   node scripts/make-names-csv.mjs data/names_female_en.txt data/names_male_en.txt data/names_sex_en.csv
//
// Each list is de-duplicated (the female list repeats Ann, Dee, Gale, Jo, Mela, Zsa; the male list
// repeats Darcy). A name found in BOTH lists (419 of them: Abbe, Jo, Kim, …) is dropped, because its
// label is ambiguous: keeping it once per sex would put the same input under two labels, and keeping
// it in only one class would invent a label. The remaining rows are shuffled with the library's
// seeded Rng (seed 12), so the last 20 % of rows is a fair test split, as in word_language_4.csv.
// Output: `name,sex` with sex `female` or `male`, written atomically; inputs are never overwritten.
import { realpathSync } from "node:fs";
import { readBytes } from "../dist/cli/util.js";
import { writeFileAtomic } from "../dist/src/io/atomic.js";
import { decodeText } from "../dist/src/data/text.js";
import { Rng } from "../dist/src/tensor/rng.js";

const SEED = 12;

function readList(path) {
  const names = decodeText(readBytes(path), path)
    .split("\n")
    .map((s) => s.trim().normalize("NFC"))
    .filter((s) => s.length > 0);
  for (const n of names)
    if (/[",\r\n]/.test(n)) throw new Error(`${path}: name ${JSON.stringify(n)} needs CSV quoting`);
  return { names, unique: [...new Set(names)] };
}

function samePath(a, b) {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

const [femalePath, malePath, outPath] = process.argv.slice(2);
if (!femalePath || !malePath || !outPath) {
  console.error("usage: node scripts/make-names-csv.mjs FEMALE.txt MALE.txt OUT.csv");
  process.exit(2);
}
if (samePath(outPath, femalePath) || samePath(outPath, malePath)) {
  console.error(`refusing to overwrite an input: ${outPath}`);
  process.exit(2);
}

try {
  const female = readList(femalePath);
  const male = readList(malePath);
  const maleSet = new Set(male.unique);
  const both = new Set(female.unique.filter((n) => maleSet.has(n)));
  const rows = [
    ...female.unique.filter((n) => !both.has(n)).map((n) => [n, "female"]),
    ...male.unique.filter((n) => !both.has(n)).map((n) => [n, "male"]),
  ];
  const rng = new Rng(SEED);
  for (let i = rows.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [rows[i], rows[j]] = [rows[j], rows[i]];
  }
  writeFileAtomic(outPath, `name,sex\n${rows.map((r) => r.join(",")).join("\n")}\n`);
  const counts = (s) => rows.filter((r) => r[1] === s).length;
  console.log(
    `${outPath}: ${rows.length} rows (female ${counts("female")}, male ${counts("male")}); ` +
      `dropped ${both.size} names in both lists; duplicates removed: ` +
      `female ${female.names.length - female.unique.length}, male ${male.names.length - male.unique.length}`,
  );
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
