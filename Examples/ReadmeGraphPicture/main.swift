import Nabla

let x = Tensor(-2.0).requiringGrad(name: "x")
let y = Tensor(5.0).requiringGrad(name: "y")
let z = Tensor(-4.0).requiringGrad(name: "z")
let f = withGraphCapture { (x + y).namedInGraph("q") * z }   // ops inside keep their values
f.backward(retainGraph: true)                                // keeps every node's gradient
let picture = GraphPicture(f.graph())
print(picture.table(), terminator: "")                       // node, formula, value, ∂f/∂node
let svg = picture.svg()                                      // or picture.dot() for Graphviz
