import XCTest
import NablaCore
@testable import NablaNN

final class LayerRegistryTests: XCTestCase {
    func testEveryEntryHasAUniqueNameAndBuildsItsDeclaredType() throws {
        XCTAssertEqual(Set(LayerRegistry.types.map(\.name)).count, LayerRegistry.types.count)
        // Each entry, with its required options filled in, builds a module of the type it
        // declares, whose output has the shape its rule predicts (checked by running it).
        let images: Set<String> = ["conv2d", "conv_transpose2d", "maxpool2d", "avgpool2d", "adaptive_avgpool2d", "upsample",
                                   "batchnorm2d", "dropout2d", "groupnorm", "residual"]
        let sequences: Set<String> = ["conv1d", "maxpool1d", "avgpool1d", "batchnorm1d", "lstm", "gru", "rnn", "positional_encoding", "transformer_encoder"]
        for type in LayerRegistry.types {
            var options: [String: OptionValue] = [:]
            for o in type.options where o.isRequired {
                switch o.kind {
                case .positiveInteger: options[o.name] = 3
                case .shape: options[o.name] = [2, 3]
                case .sizes: options[o.name] = 2
                case .layers: options[o.name] = .layers([LayerSpec("relu")])
                case .number: options[o.name] = 0.5
                default: XCTFail("\(type.name): no sample value for \(o.name)")
                }
            }
            let input = images.contains(type.name) ? [6, 6, 6] : sequences.contains(type.name) ? [6, 6] : [6]
            let spec = ModelSpec(input: input, layers: [LayerSpec(type.name, options)])
            let shape = try spec.outputShape()
            let model = try spec.build(generator: RandomGenerator(seed: 1))
            XCTAssertEqual(model.layers[0].typeName, type.typeName, type.name)
            // An embedding reads indices below its vocabulary (3 here).
            let x = type.name == "embedding" ? Tensor((0..<12).map { Float($0 % 3) }, shape: [2] + input)
                                             : Tensor.randomNormal([2] + input, generator: RandomGenerator(seed: 2))
            let out = withoutGrad { model.eval()(x) }
            XCTAssertEqual(out.shape, [2] + shape, type.name)
            XCTAssertEqual(try spec.parameterCount(), model.parameterCount, type.name)
        }
    }

    func testParameterCountsAreThoseOfPyTorch() throws {
        // nn.Linear(6, 3): 6·3 weights + 3 biases = 21; without bias 18.
        // Maxout 6 → 3 with 2 pieces: 3·2 affine units of 6 inputs, each with a bias: 36 + 6 = 42.
        XCTAssertEqual(try ModelSpec(input: [6], layers: [LayerSpec("linear", ["out": 3])]).parameterCount(), 21)
        XCTAssertEqual(try ModelSpec(input: [6], layers: [LayerSpec("linear", ["out": 3, "bias": false])]).parameterCount(), 18)
        XCTAssertEqual(try ModelSpec(input: [6], layers: [LayerSpec("maxout", ["out": 3, "pieces": 2])]).parameterCount(), 42)
    }

    func testOptionsAreCheckedByName() {
        func message(_ layer: LayerSpec) -> String {
            do { _ = try ModelSpec(input: [4], layers: [layer]).validated(); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message(LayerSpec("linear", ["out": 3, "activation": "relu"])),
                       "architecture: layer 0 (linear): unknown option 'activation'; linear takes 'out', 'in', 'bias'")
        XCTAssertEqual(message(LayerSpec("relu", ["alpha": 0.1])), "architecture: layer 0 (relu): unknown option 'alpha'; relu takes no options")
        XCTAssertEqual(message(LayerSpec("linear")), "architecture: layer 0 (linear): missing 'out'")
        XCTAssertEqual(message(LayerSpec("linear", ["out": 0])), "architecture: layer 0 (linear): 'out' must be positive, got 0")
        XCTAssertEqual(message(LayerSpec("linear", ["out": 2.5])), "architecture: layer 0 (linear): 'out' must be a positive integer, got 2.5")
        XCTAssertEqual(message(LayerSpec("linear", ["out": 2, "bias": 1])), "architecture: layer 0 (linear): 'bias' must be true or false, got 1")
        XCTAssertEqual(message(LayerSpec("dropout", ["p": 1.0])), "architecture: layer 0 (dropout): p must be in [0, 1), got 1.0")
        XCTAssertEqual(message(LayerSpec("leaky_relu", ["alpha": .double(.nan)])), "architecture: layer 0 (leaky_relu): 'alpha' must be a finite number, got nan")
        XCTAssertEqual(message(LayerSpec("reshape", ["shape": [3, 3]])), "architecture: layer 0 (reshape): shape [3, 3] does not hold the 4 values of shape [4]")
        XCTAssertEqual(message(LayerSpec("softmax", ["axis": 3])), "architecture: layer 0 (softmax): axis 3 is out of range for inputs of shape [batch] + [4]")
        XCTAssertEqual(message(LayerSpec("linear", ["out": 2, "in": 5])),
                       "architecture: layer 0 (linear): declares in = 5 but the previous layer produces 4 features (shape [4])")
        XCTAssertTrue(message(LayerSpec("conv9")).hasPrefix("architecture: layer 0 (conv9): unknown layer type 'conv9'; known types: linear, dropout"))
        XCTAssertEqual(message(LayerSpec("leaky_relu", ["alpha": 1])), "no error")   // an integer is a number
    }

    func testAnIntegerGivenForARealBecomesAReal() throws {
        let spec = try ModelSpec(input: [4], layers: [LayerSpec("leaky_relu", ["alpha": 1])]).checkedOptions()
        XCTAssertEqual(spec.layers[0].options["alpha"], .double(1))
        XCTAssertEqual(ModelSpec.options(of: "maxout"), ["out", "in", "pieces"])
        XCTAssertNil(ModelSpec.options(of: "nope"))
        XCTAssertTrue(ModelSpec.activations.contains("gelu_tanh"))
        XCTAssertFalse(ModelSpec.activations.contains("linear"))
    }

    func testJSONKeepsTheFlatFormat() {
        let spec = ModelSpec.mlp(inputs: 4, hidden: [8], outputs: 2, activation: "relu", dropout: 0.25)
        XCTAssertEqual(spec.json(), #"{"input":[4],"layers":[{"out":8,"type":"linear"},{"type":"relu"},{"p":0.25,"type":"dropout"},{"out":2,"type":"linear"}]}"#)
    }
}
