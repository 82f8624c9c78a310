// Nabla's benchmark suite: GEMM (built-in vs OpenBLAS), element-wise and reduction
// kernels at 10 M elements, one training step of a tiny MLP, and an epoch of the
// Fashion-MNIST MLP. Prints one JSON object per line; run in release mode:
//
//   swift run -c release NablaBenchmarks [gemm] [elementwise] [tiny] [mlp] [cnn] [lstm] [lstmscale] [charlm] [gpt] [gptrace]
//     [attention] [kvcache] [checkpoint] [--quick]
//
// Benchmarks/peers.py runs the same workloads in NumPy and PyTorch; compare ratios from
// one session (see BENCHMARKS.md).
import CNablaKernels
import Foundation
import Nabla

let args = CommandLine.arguments.dropFirst()
let quick = args.contains("--quick")
let selected = Set(args.filter { !$0.hasPrefix("--") })
func wants(_ name: String) -> Bool { selected.isEmpty || selected.contains(name) }

func now() -> Double { Date().timeIntervalSince1970 }

/// Median seconds per call of `body`, over `reps` repetitions each lasting ≥ `minTime`.
func measure(reps: Int = 7, minTime: Double = 0.2, _ body: () -> Void) -> (median: Double, min: Double, max: Double) {
    body()
    var t0 = now(); body(); let once = max(now() - t0, 1e-9)
    let inner = max(1, Int(minTime / once))
    var samples: [Double] = []
    for _ in 0..<reps {
        t0 = now()
        for _ in 0..<inner { body() }
        samples.append((now() - t0) / Double(inner))
    }
    samples.sort()
    return (samples[samples.count / 2], samples.first!, samples.last!)
}

func emit(_ o: [String: Any]) {
    let d = try! JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])
    // Written unbuffered: lines appear as they are measured, also when stdout is a file.
    FileHandle.standardOutput.write(d + Data("\n".utf8))
}

func r3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }

emit(["bench": "info", "gemm": Backend.gemmDescription, "simd": Backend.instructionSet, "threads": Backend.threadCount])

// MARK: GEMM

if wants("gemm") {
    let sizes = quick ? [128, 512] : [128, 256, 512, 1024, 2048]
    let hasOpenBLAS = Backend.selectGEMM(.openblas)
    for threads in [2, 1] {
        Backend.threadCount = threads
        for n in sizes {
            let a = Tensor.randomUniform([n, n], low: -1, high: 1), b = Tensor.randomUniform([n, n], low: -1, high: 1)
            let c = Tensor.zeros([n, n])
            let pa = a.floats, pb = b.floats
            // Interleave the two paths so both see the same machine load.
            var results: [String: Double] = [:]
            for path in hasOpenBLAS ? ["builtin", "openblas", "builtin", "openblas"] : ["builtin", "builtin"] {
                let t = pa.withUnsafeBufferPointer { A in
                    pb.withUnsafeBufferPointer { B in
                        c.withUnsafeMutableFloats { C in
                            measure(reps: quick ? 3 : 5, minTime: 0.15) {
                                if path == "builtin" {
                                    nabla_sgemm_builtin(0, 0, n, n, n, 1, A.baseAddress, n, B.baseAddress, n, 0, C.baseAddress, n)
                                } else {
                                    nabla_sgemm(0, 0, n, n, n, 1, A.baseAddress, n, B.baseAddress, n, 0, C.baseAddress, n)
                                }
                            }
                        }
                    }
                }
                let gflops = 2 * pow(Double(n), 3) / t.median / 1e9
                results[path] = max(results[path] ?? 0, gflops)
            }

            var o: [String: Any] = ["bench": "gemm_f32", "n": n, "threads": threads, "builtin_gflops": r3(results["builtin"]!)]
            if let ob = results["openblas"] { o["openblas_gflops"] = r3(ob); o["builtin_over_openblas"] = r3(results["builtin"]! / ob) }
            emit(o)
        }
    }
    Backend.threadCount = 2
    _ = Backend.selectGEMM(hasOpenBLAS ? .openblas : .builtin)
}

// MARK: Element-wise and reductions at 10 M elements

if wants("elementwise") {
    let n = 10_000_000
    let x = Tensor.randomUniform([n], low: -4, high: 4), y = Tensor.randomUniform([n], low: -4, high: 4)
    let cases: [(String, () -> Tensor)] = [
        ("relu", { x.relu() }), ("add", { x + y }), ("mul", { x * y }), ("exp", { x.exp() }),
        ("tanh", { x.tanh() }), ("sigmoid", { x.sigmoid() }), ("sum", { x.sum() }), ("max", { x.max() }),
    ]
    for (name, f) in cases {
        let t = measure(reps: quick ? 3 : 7, minTime: 0.2) { _ = f() }
        emit(["bench": "elementwise_f32", "op": name, "n": n, "ms": r3(t.median * 1e3), "ms_min": r3(t.min * 1e3)])
    }
}

// MARK: Tiny MLP step (framework overhead)

if wants("tiny") {
    // Same workload as shared/bench/bench_tiny.py: 2-16-16-1 tanh MLP, MSE, SGD lr 0.05,
    // on the ring data (label 1 if 1 ≤ ‖x‖ ≤ 2, points uniform in [−2.5, 2.5]²).
    let g = RandomGenerator(seed: 0)
    let P = Tensor.randomUniform([1024, 2], low: -2.5, high: 2.5, generator: g)
    let r = (P * P).sum(axis: 1).sqrt()
    let L = ((r .>= 1) .& (r .<= 2)).to(.float32).reshaped([1024, 1])
    for batch in [1, 32] {
        let steps = quick ? 500 : 2000
        let idx = (0..<steps).map { _ in (0..<batch).map { _ in g.nextInt(below: 1024) } }
        let xs = idx.map { P.indexSelect(axis: 0, $0) }, ys = idx.map { L.indexSelect(axis: 0, $0) }
        var samples: [Double] = []
        var finalLoss = 0.0
        for _ in 0..<(quick ? 3 : 5) {
            let model = Sequential { Linear(2, 16, generator: RandomGenerator(seed: 0)); Tanh(); Linear(16, 16, generator: RandomGenerator(seed: 1)); Tanh(); Linear(16, 1, generator: RandomGenerator(seed: 2)) }
            let opt = SGD(model.parameters(), lr: 0.05)
            for s in 0..<50 {   // warm-up
                opt.zeroGrad(); let l = Loss.mse(model(xs[s]), ys[s]); l.backward(); opt.step()
            }
            let t0 = now()
            for s in 0..<steps {
                opt.zeroGrad()
                let l = Loss.mse(model(xs[s]), ys[s])
                l.backward()
                opt.step()
                if s == steps - 1 { finalLoss = l.item() }
            }
            samples.append((now() - t0) / Double(steps))
        }
        samples.sort()
        emit(["bench": "tiny_mlp_step", "batch": batch, "us_per_step": r3(samples[samples.count / 2] * 1e6),
              "us_min": r3(samples[0] * 1e6), "final_loss": r3(finalLoss)])
    }
}

// MARK: Per-step slices of a sequence (views, linear-cost slice backward)

if wants("slices") {
    // Take each of the T time steps of x [B, T, F] (what a recurrent layer does), use it,
    // and back-propagate. A slice's backward adds into the source's gradient in place, so
    // the cost per element must not grow with T (it grew linearly, O(B·T²·F) in all, when
    // every slice's backward built a gradient of the whole source).
    let b = 8, f = 32
    var perElement: [Int: Double] = [:]
    for t in [10, 100, 1000] {
        let x = Tensor.randomNormal([b, t, f], generator: RandomGenerator(seed: 1)).requiringGrad()
        let w = Tensor.randomNormal([f], generator: RandomGenerator(seed: 2))
        let m = measure(reps: quick ? 3 : 7) {
            var acc = Tensor(Float(0))
            for i in 0..<t { acc = acc + (x.slice([.all, .at(i)]) * w).sum() }
            acc.backward()
            x.zeroGrad()
        }
        perElement[t] = m.median / Double(b * t * f)
        // The same with unbind: all T pieces are one graph node.
        let u = measure(reps: quick ? 3 : 7) {
            var acc = Tensor(Float(0))
            for step in x.unbind(axis: 1) { acc = acc + (step * w).sum() }
            acc.backward()
            x.zeroGrad()
        }
        emit(["bench": "sequence_slices", "batch": b, "steps": t, "features": f, "ms": r3(m.median * 1e3),
              "ns_per_element": r3(m.median / Double(b * t * f) * 1e9), "unbind_ms": r3(u.median * 1e3)])
    }
    emit(["bench": "sequence_slices_growth", "per_element_T1000_over_T10": r3(perElement[1000]! / perElement[10]!),
          "per_element_T1000_over_T100": r3(perElement[1000]! / perElement[100]!)])
}

// MARK: Fashion-MNIST MLP epoch

if wants("mlp") {
    // Same protocol as shared/bench/bench_mlp.py: 784-256-128-10 ReLU, Adam 1e-3, batch
    // 128, a fresh permutation per epoch, 468 full batches (last partial batch dropped),
    // per-batch gather included in the timing; median of the epoch times.
    do {
        // Images come as [N, 1, 28, 28]; flattened once here, outside the timing, as the peers do.
        let (images, testImages) = try Datasets.fashionMNIST()
        func flat(_ d: TensorDataset) -> TensorDataset {
            var f = d
            f.inputs = d.inputs.reshaped([d.count, 784])
            return f
        }
        let train = flat(images), test = flat(testImages)
        let epochs = quick ? 1 : 5
        let model = Sequential { Linear(784, 256); ReLU(); Linear(256, 128); ReLU(); Linear(128, 10) }
        let opt = Adam(model.parameters(), lr: 1e-3)
        let loader = DataLoader(train, batchSize: 128, shuffle: true, dropLast: true, generator: RandomGenerator(seed: 0))
        var warm = 0
        for b in loader { opt.zeroGrad(); Loss.crossEntropy(logits: model(b.inputs), classIndices: b.targets).backward(); opt.step(); warm += 1; if warm == 30 { break } }
        var times: [Double] = []
        for _ in 0..<epochs {
            let t0 = now()
            for b in loader {
                opt.zeroGrad()
                let l = Loss.crossEntropy(logits: model(b.inputs), classIndices: b.targets)
                l.backward()
                opt.step()
            }
            times.append(now() - t0)
        }
        let acc = withoutGrad { () -> Double in
            let p = model(test.inputs).argmax(axis: 1)
            return (p .== test.targets).mean().item()
        }
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let rssMiB = Double(usage.ru_maxrss) / 1024          // kilobytes on Linux
        #else
        getrusage(RUSAGE_SELF, &usage)
        let rssMiB = Double(usage.ru_maxrss) / 1048576       // bytes on macOS
        #endif
        times.sort()
        let spe = times[times.count / 2]
        emit(["bench": "fashion_mlp", "epochs": epochs, "sec_per_epoch": r3(spe), "samples_per_sec": (59904 / spe).rounded(),
              "test_accuracy": r3(acc), "peak_rss_mib": r3(rssMiB)])
    } catch {
        emit(["bench": "fashion_mlp", "skipped": "\(error)"])
    }
}

// MARK: Fashion-MNIST CNN epoch and inference

/// The CNN of shared/bench/bench_cnn.py: conv 1→32 3×3 (valid), ReLU, max-pool 2, conv 32→64
/// 3×3, ReLU, max-pool 2, dense 64·5·5→128, ReLU, →10.
func benchCNN() -> Sequential {
    Sequential {
        Conv2d(1, 32, kernelSize: [3]); ReLU(); MaxPool2d(kernelSize: [2])
        Conv2d(32, 64, kernelSize: [3]); ReLU(); MaxPool2d(kernelSize: [2])
        Flatten(); Linear(64 * 5 * 5, 128); ReLU(); Linear(128, 10)
    }
}

/// 10 warm-up steps of a fresh model (then discarded), as ../shared/bench's protocol.
func warmUp(_ make: () -> Sequential, _ train: TensorDataset) {
    let model = make()
    let opt = Adam(model.parameters(), lr: 1e-3)
    var warm = 0
    for b in DataLoader(train, batchSize: 128, shuffle: true, dropLast: true, generator: RandomGenerator(seed: 1)) {
        opt.zeroGrad(); Loss.crossEntropy(logits: model(b.inputs), classIndices: b.targets).backward(); opt.step()
        warm += 1; if warm == 10 { break }
    }
}

/// One epoch of classification training over `loader`; returns its seconds.
func classifierEpoch(_ model: Module, _ opt: Optimizer, _ loader: DataLoader<TensorDataset>) -> Double {
    let t0 = now()
    for b in loader {
        opt.zeroGrad()
        Loss.crossEntropy(logits: model(b.inputs), classIndices: b.targets).backward()
        opt.step()
    }
    return now() - t0
}

/// Test accuracy in evaluation mode (the model is left in evaluation mode).
func testAccuracy(_ model: Module, _ test: TensorDataset) -> Double {
    model.eval()
    return withoutGrad { () -> Double in
        var correct = 0.0
        for b in DataLoader(test, batchSize: 1000) { correct += (model(b.inputs).argmax(axis: 1) .== b.targets).sum().to(.float64).item() }
        return correct / Double(test.count)
    }
}

/// The median (of an even count, the mean of the middle two, as Python's statistics.median).
func median(_ xs: [Double]) -> Double {
    let sorted = xs.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func peakRSSMiB() -> Double {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Double(usage.ru_maxrss) / 1048576
    #endif
}

if wants("cnn") {
    // Same protocol as shared/bench/bench_cnn.py: batch 128, Adam 1e-3, inputs in [0, 1], a
    // fresh permutation per epoch, 468 full batches, gather included; 10 warm-up steps on a
    // model that is then discarded; median of the epoch times.
    do {
        let (train, test) = try Datasets.fashionMNIST()
        let epochs = Int(ProcessInfo.processInfo.environment["NABLA_BENCH_EPOCHS"] ?? "") ?? (quick ? 1 : 2)
        warmUp(benchCNN, train)
        let model = benchCNN()
        let opt = Adam(model.parameters(), lr: 1e-3)
        let loader = DataLoader(train, batchSize: 128, shuffle: true, dropLast: true, generator: RandomGenerator(seed: 0))
        let times = (0..<epochs).map { _ in classifierEpoch(model, opt, loader) }
        let acc = testAccuracy(model, test)
        // Inference: batch 256 in evaluation mode, images per second over the test set.
        let inferBatches = Array(DataLoader(test, batchSize: 256, dropLast: true)).map(\.inputs)
        var inferTimes: [Double] = []
        for _ in 0..<3 {
            let t0 = now()
            withoutGrad { for x in inferBatches { _ = model(x) } }
            inferTimes.append(now() - t0)
        }
        inferTimes.sort()
        let spe = median(times)
        emit(["bench": "fashion_cnn", "epochs": epochs, "epoch_times_sec": times.map(r3), "sec_per_epoch": r3(spe),
              "samples_per_sec": (59904 / spe).rounded(), "test_accuracy": r3(acc),
              "infer_images_per_sec": (Double(inferBatches.count * 256) / inferTimes[1]).rounded(),
              "peak_rss_mib": r3(peakRSSMiB()), "gemm": String(cString: nabla_blas_description())])
    } catch {
        emit(["bench": "fashion_cnn", "skipped": "\(error)"])
    }
}

// MARK: Recurrent networks

/// The ../shared/bench/bench_lstm.py model: LSTM(28 → 128) over 28 rows of 28 pixels, the
/// last step → Linear(128, 10).
func benchLSTM() -> Sequential {
    Sequential {
        Reshape([28, 28]); LSTM(28, 128, batchFirst: true, output: .last); Linear(128, 10)
    }
}

if wants("lstm") {
    // Same protocol as shared/bench/bench_lstm.py: batch 128, Adam 1e-3, inputs in [0, 1], a
    // fresh permutation per epoch, 468 full batches; 10 warm-up steps on a discarded model.
    do {
        let (train, test) = try Datasets.fashionMNIST()
        let epochs = Int(ProcessInfo.processInfo.environment["NABLA_BENCH_EPOCHS"] ?? "") ?? (quick ? 1 : 2)
        warmUp(benchLSTM, train)
        let model = benchLSTM()
        let opt = Adam(model.parameters(), lr: 1e-3)
        let loader = DataLoader(train, batchSize: 128, shuffle: true, dropLast: true, generator: RandomGenerator(seed: 0))
        var times: [Double] = [], accs: [Double] = []
        for _ in 0..<epochs {
            times.append(classifierEpoch(model, opt, loader))
            accs.append(testAccuracy(model, test))
            model.train()
        }
        let spe = median(times)
        emit(["bench": "lstm_fmnist_rows", "epochs": epochs, "epoch_times_sec": times.map(r3), "sec_per_epoch": r3(spe),
              "test_accuracy_per_epoch": accs.map(r3), "peak_rss_mib": r3(peakRSSMiB()),
              "gemm": String(cString: nabla_blas_description())])
    } catch {
        emit(["bench": "lstm_fmnist_rows", "skipped": "\(error)"])
    }
}

if wants("lstmops") {
    // The LSTM benchmark's training step in pieces (batch 128): forward, backward, Adam.
    let g = RandomGenerator(seed: 3)
    let model = benchLSTM()
    let opt = Adam(model.parameters(), lr: 1e-3)
    let x = Tensor.randomUniform([128, 784], low: 0, high: 1, generator: g)
    let labels = Tensor((0..<128).map { Int64($0 % 10) })
    var tf = 0.0, tb = 0.0, to = 0.0
    let n = 60
    for i in 0..<(n + 5) {
        let t0 = now()
        opt.zeroGrad()
        let loss = Loss.crossEntropy(logits: model(x), classIndices: labels)
        let t1 = now()
        loss.backward()
        let t2 = now()
        opt.step()
        let t3 = now()
        if i >= 5 { tf += t1 - t0; tb += t2 - t1; to += t3 - t2 }
    }
    emit(["bench": "lstm_step", "forward_ms": r3(tf / Double(n) * 1e3), "backward_ms": r3(tb / Double(n) * 1e3),
          "adam_ms": r3(to / Double(n) * 1e3), "step_ms": r3((tf + tb + to) / Double(n) * 1e3)])
    // The scan alone (the recurrence, without the input projection).
    let gates = Tensor.randomNormal([28, 128, 512], generator: g).requiringGrad()
    let whh = Tensor.randomNormal([512, 128], std: 0.05, generator: g).requiringGrad()
    let fwd = measure(reps: 7, minTime: 0.3) { _ = withoutGrad { Tensor.recurrentScan(.lstm, gates: gates.detached(), hiddenWeight: whh.detached()) } }
    let both = measure(reps: 7, minTime: 0.3) {
        let r = Tensor.recurrentScan(.lstm, gates: gates, hiddenWeight: whh)
        r.output.sum().backward()
    }
    emit(["bench": "lstm_scan", "forward_ms": r3(fwd.median * 1e3), "forward_backward_ms": r3(both.median * 1e3),
          "gemm_gflop": r3(3 * 2 * 28 * 128 * 512 * 128 / 1e9)])
}

if wants("lstmscanloop") {
    // The LSTM benchmark's scan alone, forward (or with NABLA_BENCH_BACKWARD=1 forward and
    // backward), for about 5 s (for profilers).
    let g = RandomGenerator(seed: 3)
    let gates = Tensor.randomNormal([28, 128, 512], generator: g).requiringGrad()
    let whh = Tensor.randomNormal([512, 128], std: 0.05, generator: g).requiringGrad()
    let backward = ProcessInfo.processInfo.environment["NABLA_BENCH_BACKWARD"] == "1"
    let t0 = now()
    var n = 0
    while now() - t0 < 5 {
        if backward { Tensor.recurrentScan(.lstm, gates: gates, hiddenWeight: whh).output.sum().backward() }
        else { _ = withoutGrad { Tensor.recurrentScan(.lstm, gates: gates.detached(), hiddenWeight: whh.detached()) } }
        n += 1
    }
    emit(["bench": "lstmscanloop", "backward": backward, "ms_per_iter": r3((now() - t0) / Double(n) * 1e3)])
}

/// A learning race: trains a character model (gradients clipped to norm 5) for `budget`
/// seconds of training time, or until the validation loss reaches `target`, printing the
/// training seconds and the validation loss (nats per character over the whole validation
/// set, not timed) every 50 batches and at the end.
func race(_ model: Sequential, _ opt: Optimizer, _ train: TensorDataset, _ validation: TensorDataset, batchSize: Int,
          validationBatch: Int, budget: Double, target: Double?) throws {
    let step = TrainingStep.languageModel(model)
    func validationLoss() throws -> Double {
        model.eval()
        defer { model.train() }
        return try withoutGrad {
            var total = 0.0
            for b in DataLoader(validation, batchSize: validationBatch) { total += try step.validate!(b).loss.item() * Double(b.count) }
            return (total / Double(validation.count) * 1e4).rounded() / 1e4
        }
    }
    let loader = DataLoader(train, batchSize: batchSize, shuffle: true, dropLast: true, generator: RandomGenerator(seed: 0))
    var trained = 0.0, batches = 0, epoch = 0, done = false
    while !done {
        epoch += 1
        for b in loader {
            let t0 = now()
            opt.zeroGrad()
            let loss = try step.train(b).loss
            loss.backward()
            _ = clipGradNorm(model.parameters(), maxNorm: 5)
            opt.step()
            trained += now() - t0
            batches += 1
            if batches % 50 == 0 {
                let v = try validationLoss()
                emit(["seconds": r3(trained), "batches": batches, "epoch": epoch, "train_loss": r3(loss.item()), "val_loss": v])
                if let target, v <= target { done = true; break }
            }
            if trained >= budget { done = true; break }
        }
    }
    emit(["seconds": r3(trained), "batches": batches, "epoch": epoch, "val_loss": try validationLoss(), "final": true])
}

if wants("charlm") {
    // The character-LSTM race against Benchmarks/char_lstm.py (same data, split, vocabulary,
    // model, optimizer, clipping, batch and evaluation protocol). Trains for
    // NABLA_BENCH_SECONDS seconds (default 600), or until the validation loss reaches
    // NABLA_BENCH_TARGET; prints (training seconds, validation loss) every 50 batches.
    do {
        let env = ProcessInfo.processInfo.environment
        let budget = Double(env["NABLA_BENCH_SECONDS"] ?? "") ?? 600
        let target = Double(env["NABLA_BENCH_TARGET"] ?? "")
        let (V, train, validation) = try jargonWindows(100)
        let model = Sequential { Embedding(V, 64); LSTM(64, 512, batchFirst: true); Linear(512, V) }
        emit(["bench": "char_lstm", "fw": "nabla", "vocabulary": V, "train_sequences": train.count, "validation_sequences": validation.count])
        try race(model, Adam(model.parameters(), lr: 2e-3), train, validation, batchSize: 64, validationBatch: 256,
                 budget: budget, target: target)
    } catch {
        emit(["bench": "char_lstm", "skipped": "\(error)"])
    }
}

/// The small GPT of Examples/models/char-gpt.yaml for a vocabulary of V characters (the
/// model file is read, so the benchmark runs exactly the shipped architecture).
func charGPT(_ V: Int, seed: UInt64 = 0) throws -> Sequential {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Examples/models/char-gpt.yaml").path
    return try ModelSpec.read(contentsOf: path, vocabulary: V).build(generator: RandomGenerator(seed: seed))
}

/// The Jargon File's windows of `length` characters: the training and validation data of
/// the character races (Benchmarks/char_lstm.py, char_gpt.py).
func jargonWindows(_ length: Int) throws -> (V: Int, train: TensorDataset, validation: TensorDataset) {
    guard let url = TextCorpus.builtinURL else { throw DataFileError(source: "jargon.txt.gz", message: "missing") }
    let corpus = try TextCorpus(text: TextCorpus.readText(path: url.path), name: "jargon")
    return (corpus.vocabulary.count, try corpus.examples(corpus.train, sequenceLength: length, splitName: "training"),
            try corpus.examples(corpus.validation, sequenceLength: length, splitName: "validation"))
}

if wants("gpt") {
    // One training step of char-gpt.yaml (d_model 128, 4 heads, 4 layers, context 128,
    // batch 32, dropout 0.1): forward, backward, gradient clipping to 5, Adam 1e-3, on
    // shuffled windows of the Jargon File, as Benchmarks/char_gpt.py --mode step. Prints the
    // median of NABLA_BENCH_STEPS timed steps (default 30) after 5 warm-up steps.
    do {
        let env = ProcessInfo.processInfo.environment
        let steps = Int(env["NABLA_BENCH_STEPS"] ?? "") ?? (quick ? 8 : 30)
        let (V, train, _) = try jargonWindows(128)
        let model = try charGPT(V)
        let opt = Adam(model.parameters(), lr: 1e-3)
        let step = TrainingStep.languageModel(model)
        let loader = DataLoader(train, batchSize: 32, shuffle: true, dropLast: true, generator: RandomGenerator(seed: 0))
        var times: [Double] = []
        var it = loader.makeIterator()
        for i in 0..<(steps + 5) {
            guard let b = it.next() else { break }
            let t0 = now()
            opt.zeroGrad()
            let loss = try step.train(b).loss
            loss.backward()
            _ = clipGradNorm(model.parameters(), maxNorm: 5)
            opt.step()
            if i >= 5 { times.append(now() - t0) }
        }
        emit(["bench": "char_gpt_step", "fw": "nabla", "vocabulary": V, "steps": times.count, "median_seconds": (median(times) * 1e4).rounded() / 1e4,
              "min_seconds": ((times.min() ?? 0) * 1e4).rounded() / 1e4, "threads": Int(nabla_get_num_threads())])
    } catch {
        emit(["bench": "char_gpt_step", "skipped": "\(error)"])
    }
}

if wants("gptrace") {
    // The GPT's side of the learning race (BENCHMARKS.md): char-gpt.yaml trained for
    // NABLA_BENCH_SECONDS of training time (default 600), batch 32, Adam with rate
    // NABLA_BENCH_LR (default 1e-3), clipping 5;
    // every 50 batches the validation loss (nats per character over the whole validation
    // text, windows of 128, not timed). The character LSTM's curve is charlm's.
    do {
        let budget = Double(ProcessInfo.processInfo.environment["NABLA_BENCH_SECONDS"] ?? "") ?? 600
        let lr = Double(ProcessInfo.processInfo.environment["NABLA_BENCH_LR"] ?? "") ?? 1e-3
        let (V, train, validation) = try jargonWindows(128)
        let model = try charGPT(V)
        emit(["bench": "char_gpt_race", "fw": "nabla", "lr": lr, "vocabulary": V, "train_sequences": train.count, "validation_sequences": validation.count])
        try race(model, Adam(model.parameters(), lr: lr), train, validation, batchSize: 32, validationBatch: 64, budget: budget, target: nil)
    } catch {
        emit(["bench": "char_gpt_race", "skipped": "\(error)"])
    }
}

if wants("attention") {
    // Attention alone, as Benchmarks/attention_cost.py: float32, batch 1, 4 heads of 32,
    // causal, at contexts 128, 512, 2048 (NABLA_BENCH_LENGTHS): the median forward and
    // forward+backward times, and the growth of peak RSS over one forward+backward run first
    // at each length (so run one length per process for clean memory figures).
    let lengths = (ProcessInfo.processInfo.environment["NABLA_BENCH_LENGTHS"] ?? "128,512,2048").split(separator: ",").compactMap { Int($0) }
    for T in lengths {
        let g = RandomGenerator(seed: 1)
        let q = Tensor.randomNormal([1, 4, T, 32], generator: g).requiringGrad()
        let k = Tensor.randomNormal([1, 4, T, 32], generator: g).requiringGrad()
        let v = Tensor.randomNormal([1, 4, T, 32], generator: g).requiringGrad()
        let before = peakRSSMiB()
        let y0 = scaledDotProductAttention(q, k, v, causal: true)
        y0.backward(Tensor.ones(y0.shape))
        let growth = peakRSSMiB() - before
        let fwd = measure(reps: 10, minTime: 0.2) { _ = scaledDotProductAttention(q, k, v, causal: true) }
        let both = measure(reps: 10, minTime: 0.2) {
            let y = scaledDotProductAttention(q, k, v, causal: true)
            y.backward(Tensor.ones(y.shape))
        }
        emit(["bench": "attention", "fw": "nabla", "T": T, "forward_seconds": fwd.median, "forward_backward_seconds": both.median,
              "peak_rss_growth_mib": r3(growth), "score_matrix_mib": r3(Double(4 * T * T * 4) / 1048576)])
    }
}

if wants("kvcache") {
    // Generation with and without the key/value cache: a char-gpt.yaml model (untrained
    // weights; the cost does not depend on them) fed a 1-character prompt, then 127 more
    // characters one at a time (the whole context). With the cache a character is one
    // position through each layer; without, the whole window is run again.
    do {
        let V = 154
        let model = try charGPT(V).eval()
        let encoder = model.layers.compactMap { $0 as? TransformerEncoder }.first!
        func run(cached: Bool) -> Double {
            let t0 = now()
            withoutGrad {
                var window = [0]
                let caches = encoder.layers.map { _ in AttentionCache() }
                var position = 0
                for _ in 0..<127 {
                    let fresh = cached ? Array(window.suffix(window.count - position)) : window
                    var h = Tensor(fresh.map(Float.init), shape: [1, fresh.count])
                    for layer in model.layers {
                        if cached, let t = layer as? TransformerEncoder { h = t.forwardIncrementally(h, caches: caches) }
                        else if cached, let p = layer as? PositionalEncoding { h = p.forward(h, start: position) }
                        else { h = layer(h) }
                    }
                    if cached { position = window.count }
                    let last = h.narrow(axis: 1, start: h.shape[1] - 1, length: 1).reshaped([V]).doubles
                    window.append(last.indices.max { last[$0] < last[$1] }!)
                }
            }
            return now() - t0
        }
        _ = run(cached: true); _ = run(cached: false)
        let with = median((0..<3).map { _ in run(cached: true) }), without = median((0..<3).map { _ in run(cached: false) })
        emit(["bench": "kv_cache", "characters": 127, "cached_ms_per_char": r3(with / 127 * 1e3), "uncached_ms_per_char": r3(without / 127 * 1e3),
              "speedup": r3(without / with)])
    } catch {
        emit(["bench": "kv_cache", "skipped": "\(error)"])
    }
}

if wants("lstmscale") {
    // One training step (forward, backward) of LSTM(64 → 128), batch 32, at T = 32, 128, 512:
    // the cost per step of the sequence should not grow with T.
    let g = RandomGenerator(seed: 4)
    let lstm = LSTM(64, 128, batchFirst: true, generator: g)
    for T in [32, 128, 512] {
        let x = Tensor.randomNormal([32, T, 64], generator: g)
        let t = measure(reps: 5, minTime: 0.3) {
            lstm.zeroGrad()
            lstm(x).output.sum().backward()
        }
        emit(["bench": "lstm_scaling", "T": T, "ms_per_step": r3(t.median * 1e3), "us_per_time_step": r3(t.median * 1e6 / Double(T))])
    }
}

// MARK: The CNN's pieces, one at a time (batch 128)

if wants("conv2loop") {
    // conv2 of the benchmark CNN, forward and backward, for about 5 s (for profilers).
    let g = RandomGenerator(seed: 3)
    let c2 = Conv2d(32, 64, kernelSize: [3], generator: g)
    let p1 = Tensor.randomNormal([128, 32, 13, 13], generator: g).requiringGrad()
    let gy = Tensor.randomNormal([128, 64, 11, 11], generator: g)
    let t0 = now()
    var n = 0
    while now() - t0 < 5 { c2.zeroGrad(); c2(p1).backward(gy); n += 1 }
    emit(["bench": "conv2loop", "ms_per_iter": r3((now() - t0) / Double(n) * 1e3)])
}

if wants("cnnops") {
    let g = RandomGenerator(seed: 3)
    let x1 = Tensor.randomUniform([128, 1, 28, 28], low: 0, high: 1, generator: g)
    let c1 = Conv2d(1, 32, kernelSize: [3], generator: g), c2 = Conv2d(32, 64, kernelSize: [3], generator: g)
    let h1 = Tensor.randomNormal([128, 32, 26, 26], generator: g)
    let p1 = Tensor.randomNormal([128, 32, 13, 13], generator: g)
    let h2 = Tensor.randomNormal([128, 64, 11, 11], generator: g)
    func time(_ name: String, _ body: () -> Void) {
        let t = measure(reps: 9, minTime: 0.3, body)
        emit(["bench": "cnn_op", "op": name, "ms_median": r3(t.median * 1e3), "ms_min": r3(t.min * 1e3)])
    }
    do {
        let model = benchCNN()
        let opt = Adam(model.parameters(), lr: 1e-3)
        let labels = Tensor((0..<128).map { Int64($0 % 10) })
        var tf = 0.0, tb = 0.0, to = 0.0
        var layerTimes = [Double](repeating: 0, count: model.count)
        for i in 0..<40 {
            let t0 = now()
            var h = x1
            for (k, layer) in model.layers.enumerated() { let s = now(); h = layer(h); if i >= 10 { layerTimes[k] += now() - s } }
            let loss = Loss.crossEntropy(logits: h, classIndices: labels)
            let t1 = now()
            opt.zeroGrad(); loss.backward()
            let t2 = now()
            opt.step()
            let t3 = now()
            if i >= 10 { tf += t1 - t0; tb += t2 - t1; to += t3 - t2 }
        }
        emit(["bench": "cnn_step", "forward_ms": r3(tf / 30 * 1e3), "backward_ms": r3(tb / 30 * 1e3), "step_ms": r3(to / 30 * 1e3),
              "layers_forward_ms": layerTimes.map { r3($0 / 30 * 1e3) }])
    }
    // The fraction of the GEMM's speed the convolutions reach: their multiply-adds (forward
    // 1×, and 3× for forward + backward with the input gradient) over the time, against the
    // built-in GEMM on a square 512 product in the same run.
    do {
        let n = 512
        let a = Tensor.randomNormal([n, n], generator: g), b = Tensor.randomNormal([n, n], generator: g)
        let t = measure(reps: 7, minTime: 0.3) { _ = withoutGrad { a.matmul(b) } }
        let gemm = 2.0 * Double(n * n * n) / t.median / 1e9
        let flops2 = 2.0 * 128 * 64 * 121 * 288          // conv2 forward: N·O·H'W'·(C·k·k) multiply-adds, ×2
        let fwd = measure(reps: 9, minTime: 0.3) { _ = withoutGrad { c2(p1) } }
        let p1g = p1.requiringGrad()
        let up = Tensor.randomNormal([128, 64, 11, 11], generator: g)
        let both = measure(reps: 9, minTime: 0.3) { c2.zeroGrad(); c2(p1g).backward(up) }
        emit(["bench": "conv_gemm_fraction", "gemm512_gflops": r3(gemm), "conv2_forward_gflops": r3(flops2 / fwd.median / 1e9),
              "conv2_forward_backward_gflops": r3(3 * flops2 / both.median / 1e9),
              "forward_fraction": r3(flops2 / fwd.median / 1e9 / gemm), "forward_backward_fraction": r3(3 * flops2 / both.median / 1e9 / gemm)])
    }
    time("conv1 forward") { _ = withoutGrad { c1(x1) } }
    time("conv1 forward+backward") { c1.zeroGrad(); c1(x1).sum().backward() }
    time("conv2 forward") { _ = withoutGrad { c2(p1) } }
    let p1g = p1.requiringGrad()
    time("conv2 forward+backward") { c2.zeroGrad(); c2(p1g).sum().backward() }
    time("relu 128x32x26x26") { _ = h1.relu() }
    time("maxpool 128x32x26x26") { _ = withoutGrad { h1.maxPool2d(kernel: [2, 2]) } }
    let h1g = h1.requiringGrad()
    time("maxpool forward+backward 128x32x26x26") { h1g.maxPool2d(kernel: [2, 2]).sum().backward() }
    time("maxpool 128x64x11x11") { _ = withoutGrad { h2.maxPool2d(kernel: [2, 2]) } }
}

// MARK: Checkpoint cost against the epoch count

if wants("checkpoint") {
    // A Fashion-MNIST-sized MLP with Adam's moments: a checkpoint of about 3.2 MB.
    let spec = ModelSpec.mlp(inputs: 784, hidden: [256, 128], outputs: 10)
    let model = try spec.build(generator: RandomGenerator(seed: 0))
    let trainer = Trainer(model: model, optimizer: Adam(model.parameters(), lr: 1e-3), loss: .crossEntropy)
    let info = ModelInfo(task: .classification, classCount: 10, loss: .crossEntropy, preprocessing: .scale(1 / 255), dataName: "fashion-mnist")
    let dir = NSTemporaryDirectory() + "nabla-bench-ckpt-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let record = EpochRecord(epoch: 1, trainLoss: 0.41234567, trainAccuracy: 0.8512345, validationLoss: 0.3912345,
                             validationAccuracy: 0.861234, learningRate: 1e-3, seconds: 1.2345678, samplesPerSecond: 48765.4321)
    var results: [String: Double] = [:]
    for epochs in [1, 5000, 1, 5000] {
        trainer.history.epochs = (1...epochs).map { e in var r = record; r.epoch = e; return r }
        trainer.completedEpochs = epochs
        let path = dir + "/ck\(epochs).safetensors"
        try Checkpoint.save(trainer, spec: spec, info: info, to: path)   // the first save writes the history file whole
        let t = measure(reps: 5, minTime: 0.3) {
            // Each timed save is one more epoch, as in training: one history line appended.
            trainer.completedEpochs += 1
            var r = record; r.epoch = trainer.completedEpochs
            trainer.history.epochs.append(r)
            try? Checkpoint.save(trainer, spec: spec, info: info, to: path)
        }
        results["\(epochs)", default: .infinity] = min(results["\(epochs)", default: .infinity], t.median)
    }
    // The layout before: the whole history as JSON inside every checkpoint.
    trainer.history.epochs = (1...5000).map { e in var r = record; r.epoch = e; return r }
    let old = measure(reps: 5, minTime: 0.3) {
        try? ModelFile.save(model, spec: spec, to: dir + "/old.safetensors", metadata: ["nabla.history": trainer.history.json()])
    }
    emit(["bench": "checkpoint_save", "epoch1_ms": r3(results["1"]! * 1000), "epoch5000_ms": r3(results["5000"]! * 1000),
          "ratio_5000_to_1": r3(results["5000"]! / results["1"]!),
          "history_inside_at_5000_ms": r3(old.median * 1000), "history_inside_ratio_to_epoch1": r3(old.median / results["1"]!)])
}
