import Nabla

Random.seed(0)
let data = Synthetic.ring(count: 1000, seed: 0)              // 1 ≤ ‖x‖ ≤ 2 vs the rest
let (train, test) = { let p = data.split([0.8, 0.2]); return (p[0], p[1]) }()
let model = Sequential {
    Linear(2, 32); Tanh()
    Linear(32, 32); Tanh()
    Linear(32, 2)
}
let optimizer = Adam(model.parameters(), lr: 0.01)
for epoch in 1...60 {
    for batch in DataLoader(train, batchSize: 32, shuffle: true, generator: RandomGenerator(seed: UInt64(epoch))) {
        optimizer.zeroGrad()
        let loss = Loss.crossEntropy(logits: model(batch.inputs), classIndices: batch.targets)
        loss.backward()
        optimizer.step()
    }
}
let logits = withoutGrad { model.eval()(test.inputs) }
print("test accuracy", (logits.argmax(axis: 1) .== test.targets).mean().item())
