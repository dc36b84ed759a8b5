#!/usr/bin/env node
// Times ONNX Runtime's CPU build on an ONNX classifier, the statistic of
// `argus bench infer --onnx`: after --warmup untimed runs, --iters runs
// timed one by one; ms_per_batch is the fastest, mean_ms_per_batch the mean,
// cpu_ms_per_batch the process CPU time per run. The input is batch × 3 ×
// size × size, uniform in [0, 1).
//
// ONNX Runtime comes from the npm package onnxruntime-node (its install
// script fetches GPU extras, so skip it):
//
//     npm install --prefix ORT onnxruntime-node --ignore-scripts
//     NODE_PATH=ORT/node_modules node tools/bench/onnxruntime/infer.js --model resnet18.onnx --threads 2
"use strict";
const ort = require("onnxruntime-node");

function args() {
  const a = { model: "", batch: 1, size: 224, iters: 20, warmup: 2, threads: 2 };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) {
    const k = v[i].replace(/^--/, "");
    if (!(k in a) || i + 1 >= v.length) {
      throw new Error(`unknown or incomplete flag ${v[i]}`);
    }
    a[k] = k === "model" ? v[i + 1] : Number(v[i + 1]);
  }
  if (!a.model) throw new Error("--model is required");
  return a;
}

async function main() {
  const a = args();
  const session = await ort.InferenceSession.create(a.model, {
    intraOpNumThreads: a.threads, interOpNumThreads: 1, executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  const n = a.batch * 3 * a.size * a.size;
  const data = new Float32Array(n);
  let s = 1;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    data[i] = s / 2147483648;
  }
  const feed = { [session.inputNames[0]]: new ort.Tensor("float32", data, [a.batch, 3, a.size, a.size]) };
  for (let i = 0; i < a.warmup; i++) await session.run(feed);
  const times = [], cpus = [];
  for (let i = 0; i < a.iters; i++) {
    const c0 = process.cpuUsage(), t0 = process.hrtime.bigint();
    await session.run(feed);
    const t1 = process.hrtime.bigint(), c1 = process.cpuUsage(c0);
    times.push(Number(t1 - t0) / 1e6);
    cpus.push((c1.user + c1.system) / 1e3);
  }
  const mean = (x) => x.reduce((p, q) => p + q, 0) / x.length;
  console.log(JSON.stringify({
    ms_per_batch: Math.min(...times), mean_ms_per_batch: mean(times), cpu_ms_per_batch: mean(cpus),
    model: a.model, batch: a.batch, size: a.size, iters: a.iters, warmup: a.warmup, threads: a.threads,
    engine: `onnxruntime ${require("onnxruntime-node/package.json").version} cpu`,
  }));
}

main().catch((e) => { console.error(`infer.js: ${e.message}`); process.exit(1); });
