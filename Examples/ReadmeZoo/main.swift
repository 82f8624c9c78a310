import Nabla

let digits = try Datasets.digits()                                  // 1797 images of 8×8, pixels 0…16
let data = TensorDataset(inputs: digits.inputs / 16, targets: digits.targets)
let vae = Zoo.VAE.Network(inputs: 64)                               // encoder, heads μ and log σ², decoder
let step = TrainingStep.loss("vae") { batch in                      // the negative ELBO, written out
    let h = vae.encoder(batch.inputs)
    let (mu, logVariance) = (vae.mean(h), vae.logVariance(h))
    let z = reparameterize(mean: mu, logVariance: logVariance)       // μ + σ·ε, differentiable in μ and σ
    let reconstruction = Loss.binaryCrossEntropy(logits: vae.decoder(z), batch.inputs, reduction: .sum) / Double(batch.count)
    let kl = Loss.gaussianKL(mean: mu, logVariance: logVariance)    // KL(N(μ, σ²) ‖ N(0, I)), mean over the batch
    return StepOutput(loss: reconstruction + kl, metrics: ["kl": kl.item()])
}
let trainer = Trainer(model: vae, optimizer: Adam(vae.parameters(), lr: 1e-3), step: step)
trainer.progress = ProgressReporter(style: .silent)
let history = try trainer.fit(data, epochs: 10, batchSize: 64)
print(history.epochs.last!.trainLoss < history.epochs.first!.trainLoss, history.epochs.last!.metrics["kl"]! > 0)
