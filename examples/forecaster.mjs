// A forecaster on the monthly AirPassengers series (data/airpassengers.csv), as `lstm
// train-series --transform log --relative` builds it: parse the CSV, split the rows in time order, standardise with the
// training rows' statistics (of log values: the series grows multiplicatively), windows of 24
// months predicting the next 12, train, and compare with the seasonal-naive forecast on the test
// part. `node examples/forecaster.mjs [steps]`.
import { readFileSync } from "node:fs";
import {
  initParams,
  LstmModel,
  parseCsvSeries,
  predictWindows,
  Rng,
  SeriesTask,
  seriesWindowsForSplit,
  splitSeries,
  StandardScaler,
  Trainer,
} from "lstm-ts";

const steps = Number(process.argv[2] ?? 300);
const file = new URL("../data/airpassengers.csv", import.meta.url);
const series = parseCsvSeries(readFileSync(file, "utf8"), "airpassengers.csv", {
  columns: ["passengers_thousands"],
});
const values = series.values.map(Math.log);
const N = values.length;
const split = splitSeries(N, 0.15, 0.15);
const scaler = StandardScaler.fit(values, 1, split.train);
const scaled = scaler.transform(values.slice()); // in place otherwise
const T = 24;
const K = 12;
const windows = seriesWindowsForSplit(scaled, 1, split, { seqLen: T, horizon: K });

const model = new LstmModel({ inputSize: 1, hiddenSize: 32, outputSize: windows.train.outputSize });
initParams(model, new Rng(1), { forgetBias: 1 });
// relative: the model predicts changes from the window's last value (the trend is not learned).
const task = new SeriesTask(model, windows.train, windows.valid, 16, true);
const summary = await new Trainer(model, task, {
  optimizer: { kind: "adam", lr: 0.01 },
  clipNorm: 1,
  steps,
  seed: 1,
}).run();

// Test windows: the model's forecasts against the seasonal-naive one (the value 12 months
// before), both in passengers (thousands).
const test = windows.test;
const predicted = predictWindows(model, test); // [count, K]: scaled changes from the last input
const toPassengers = (z) => Math.exp(scaler.inverse(Float64Array.of(z))[0]);
let errModel = 0;
let errNaive = 0;
let n = 0;
for (let w = 0; w < test.count; w++) {
  const end = test.targetRow(w); // first predicted row
  for (let k = 0; k < K && end + k < N; k++) {
    const actual = Math.exp(values[end + k]);
    errModel += Math.abs(toPassengers(scaled[end - 1] + predicted[w * K + k]) - actual);
    errNaive += Math.abs(Math.exp(values[end + k - 12]) - actual);
    n++;
  }
}
console.log(
  `${N} months; ${summary.steps} steps; validation MSE ${summary.bestValidLoss?.toFixed(4)}`,
);
console.log(
  `test MAE: LSTM ${(errModel / n).toFixed(1)}, seasonal naive ${(errNaive / n).toFixed(1)} (thousands)`,
);
