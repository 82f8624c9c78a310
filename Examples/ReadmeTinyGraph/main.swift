import Nabla

let x = Tensor(-2.0).requiringGrad()
let y = Tensor(5.0).requiringGrad()
let z = Tensor(-4.0).requiringGrad()
let f = (x + y) * z          // f = -12
f.backward()
print(x.grad!.item(), y.grad!.item(), z.grad!.item())   // -4.0 -4.0 3.0
