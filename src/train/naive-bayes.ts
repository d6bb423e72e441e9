/**
 * A character n-gram multinomial naive Bayes classifier: the reference point a sequence
 * classifier must beat. Features are the counts of the character n-grams (code points,
 * overlapping) for n = minN … maxN of each whitespace-separated word padded with one space on
 * each side, so " th" (a word start) and "ng " (a word end) are features of their own: scikit-learn's
 * `CountVectorizer(analyzer="char_wb", ngram_range=(1, 3), lowercase=False)`, including its rule
 * that once n reaches the padded word's length, the whole padded word counts once and larger n add
 * nothing. `wordBoundaries: false` takes the text as
 * it is (`analyzer="char"`). Likelihoods use additive (Laplace) smoothing alpha over the n-grams
 * seen in training; n-grams never seen in training are ignored at prediction time, as
 * scikit-learn's `MultinomialNB` does. Case is kept (no lower-casing).
 *
 * Letters: C classes, F distinct n-grams of the training texts.
 */
import { ConfigError, DataError } from "../tensor/errors.js";

/** N-gram orders and smoothing of `CharNgramNaiveBayes`. */
export interface NaiveBayesOptions {
  /** Shortest n-gram. Default 1. */
  minN?: number;
  /** Longest n-gram. Default 3. */
  maxN?: number;
  /** Additive smoothing. Default 1. */
  alpha?: number;
  /** Pad each word with a space on each side (char_wb). Default true. */
  wordBoundaries?: boolean;
}

interface Grams {
  minN: number;
  maxN: number;
  wordBoundaries: boolean;
}

function* ngrams(text: string, g: Grams): Generator<string> {
  const pieces = g.wordBoundaries ? text.split(/\s+/).filter((w) => w !== "") : [text];
  for (const piece of pieces) {
    const cps = Array.from(g.wordBoundaries ? ` ${piece} ` : piece);
    for (let n = g.minN; n <= g.maxN; n++) {
      if (g.wordBoundaries && cps.length <= n) {
        yield cps.join(""); // the whole padded word, once, whatever n is left
        break;
      }
      for (let i = 0; i + n <= cps.length; i++) yield cps.slice(i, i + n).join("");
    }
  }
}

/** A character n-gram naive Bayes classifier: the reference point for sequence classifiers. */
export class CharNgramNaiveBayes {
  readonly classes: number;
  private readonly grams: Grams;
  /** [C] log prior of each class. */
  private readonly logPrior: Float64Array;
  /** n-gram → [C] log likelihoods. */
  private readonly logLikelihood: Map<string, Float64Array>;

  private constructor(
    grams: Grams,
    logPrior: Float64Array,
    logLikelihood: Map<string, Float64Array>,
  ) {
    this.classes = logPrior.length;
    this.grams = grams;
    this.logPrior = logPrior;
    this.logLikelihood = logLikelihood;
  }

  /** Fits on `texts[i]` with class id `classIds[i]` ∈ [0, C). */
  static fit(
    texts: readonly string[],
    classIds: ArrayLike<number>,
    C: number,
    opts: NaiveBayesOptions = {},
  ): CharNgramNaiveBayes {
    const minN = opts.minN ?? 1;
    const maxN = opts.maxN ?? 3;
    const alpha = opts.alpha ?? 1;
    const grams: Grams = { minN, maxN, wordBoundaries: opts.wordBoundaries ?? true };
    if (!Number.isInteger(minN) || minN < 1 || !Number.isInteger(maxN) || maxN < minN)
      throw new ConfigError("ngrams", `need integers 1 ≤ minN ≤ maxN, got ${minN}, ${maxN}`);
    if (!(alpha > 0)) throw new ConfigError("alpha", `must be > 0, got ${alpha}`);
    if (texts.length !== classIds.length)
      throw new ConfigError("classIds", `${classIds.length} labels for ${texts.length} texts`);
    if (texts.length === 0) throw new DataError("naive Bayes: no training rows");
    const docs = new Float64Array(C);
    const totals = new Float64Array(C);
    const counts = new Map<string, Float64Array>();
    texts.forEach((text, i) => {
      const c = classIds[i];
      if (!Number.isInteger(c) || c < 0 || c >= C)
        throw new ConfigError("classIds", `entry ${i} is ${c}, expected a class id in [0, ${C})`);
      docs[c]++;
      for (const g of ngrams(text, grams)) {
        let row = counts.get(g);
        if (!row) counts.set(g, (row = new Float64Array(C)));
        row[c]++;
        totals[c]++;
      }
    });
    const F = counts.size;
    const logPrior = docs.map((d) => Math.log(d / texts.length));
    const denominators = totals.map((t) => Math.log(t + alpha * F));
    for (const row of counts.values())
      for (let c = 0; c < C; c++) row[c] = Math.log(row[c] + alpha) - denominators[c];
    return new CharNgramNaiveBayes(grams, logPrior, counts);
  }

  /** [C] unnormalised log posteriors of `text` (logits: `topK` turns them into probabilities). */
  logScores(text: string): Float64Array {
    const s = Float64Array.from(this.logPrior);
    for (const g of ngrams(text, this.grams)) {
      const row = this.logLikelihood.get(g);
      if (row) for (let c = 0; c < s.length; c++) s[c] += row[c];
    }
    return s;
  }

  /** The most probable class id (the lower id on a tie). */
  predict(text: string): number {
    const s = this.logScores(text);
    let best = 0;
    for (let c = 1; c < s.length; c++) if (s[c] > s[best]) best = c;
    return best;
  }
}
