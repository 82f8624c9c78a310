import Nabla

let x = Tensor.randomNormal([3, 28, 28])                     // 3 sequences of 28 steps of 28 features
let lstm = LSTM(28, 128, batchFirst: true)
let (y, state) = lstm(x)                                    // y [3, 28, 128]; state.h, state.c [1, 3, 128]
let (y2, _) = lstm(x, state: state, lengths: [28, 20, 13])  // padded sequences of three lengths
let h = GRUCell(28, 64)(x.narrow(axis: 1, start: 0, length: 1).reshaped([3, 28]))   // one step
let padding = y2.narrow(axis: 0, start: 2, length: 1).narrow(axis: 1, start: 13, length: 15)
print(y.shape, state.h.shape, h.shape, padding.abs().max().item())   // the padding's outputs are 0
