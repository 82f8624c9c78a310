import Foundation
import NablaCore

/// The data sets Nabla knows by name.
///
/// They are the bundled digits, Fashion-MNIST from a local directory, and the synthetic
/// generators.
public enum Datasets {
    /// The UCI optical-recognition 8×8 digits, bundled with the package.
    ///
    /// 1,797 samples, 64 features with values 0…16, 10 classes (CC BY 4.0, via scikit-learn).
    public static func digits() throws -> TensorDataset {
        let d = try DigitsResource.load()
        return TensorDataset(inputs: Tensor(d.features, shape: [d.count, DigitsResource.featureCount]),
                             targets: Tensor(d.labels.map { Float($0) }), name: "digits", classCount: 10)
    }

    /// Where Debian's `dataset-fashion-mnist` package installs the files.
    public static let defaultFashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"

    /// Fashion-MNIST, read from IDX files (gzipped or not) in `directory`.
    ///
    /// 60,000 training and 10,000 test images of 28×28, 10 classes. Pixels are scaled to
    /// [0, 1]; images keep their shape as `[N, 1, 28, 28]` (pass `scaled: false` to keep the raw 0…255
    /// values). Nothing is downloaded: when the files are missing the error says how to
    /// install them.
    public static func fashionMNIST(directory: String? = nil, scaled: Bool = true,
                                    limits: ResourceLimits = .unlimited) throws -> (train: TensorDataset, test: TensorDataset) {
        let dir = directory ?? ProcessInfo.processInfo.environment["FMNIST_DIR"] ?? defaultFashionMNISTDirectory
        func find(_ stem: String) throws -> String {
            for name in [stem + ".gz", stem] {
                let p = (dir as NSString).appendingPathComponent(name)
                if FileManager.default.fileExists(atPath: p) { return p }
            }
            throw DataFileError(source: dir, message: "Fashion-MNIST file \(stem)(.gz) not found; install the data set with `sudo apt-get install dataset-fashion-mnist` (it goes to \(defaultFashionMNISTDirectory)) or pass --data-dir DIR")
        }
        func load(_ images: String, _ labels: String, _ name: String) throws -> (TensorDataset, dims: [Int], path: String) {
            let ipath = try find(images), lpath = try find(labels)
            let x = try IDXArray.read(contentsOf: ipath, limits: limits), y = try IDXArray.read(contentsOf: lpath, limits: limits)
            guard x.shape.count == 3, y.shape.count == 1, x.shape[0] == y.shape[0] else {
                throw DataFileError(source: ipath, message: "images \(x.shape) and labels \(y.shape) do not match")
            }
            if let bad = y.values.firstIndex(where: { $0 < 0 || $0 > 9 }) {
                throw DataFileError(source: lpath, message: "label \(y.values[bad]) at position \(bad) is outside 0…9")
            }
            guard x.shape[0] > 0 else { throw DataFileError(source: ipath, message: "holds no images (an empty split cannot be used)") }
            let n = x.shape[0], dims = Array(x.shape.dropFirst())
            // The raw IDX values are dead once the tensor holds them: nothing below uses x, so
            // they are released before the scaled copy is made (60,000 images are 188 MB each way).
            // Images keep their shape, with one channel: [N, 1, H, W] (NCHW, as PyTorch's).
            let raw = Tensor(x.values, shape: [n, 1] + dims)
            let inputs = scaled ? raw / 255.0 : raw
            return (TensorDataset(inputs: inputs, targets: Tensor(y.values), name: name, classCount: 10), dims, ipath)
        }
        let train = try load("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "fashion-mnist")
        let test = try load("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "fashion-mnist-test")
        // Both splits must have images of one size, or a model trained on one cannot run on the other.
        guard train.dims == test.dims else {
            throw DataFileError(source: test.path, message: "test images are \(test.dims.map(String.init).joined(separator: "×")) but the training images (\(train.path)) are \(train.dims.map(String.init).joined(separator: "×"))")
        }
        return (train.0, test.0)
    }

    /// A CSV file as a data set, with `target` naming the target column.
    ///
    /// `task` says whether the target column holds class indices (0, 1, 2, …) or real values.
    public static func csv(path: String, target: CSVTarget, task: TaskKind) throws -> TensorDataset {
        let d = try CSV.readDataset(contentsOf: path, target: target)
        let x = Tensor(d.features, shape: [d.rows, d.featureCount])
        switch task {
        case .classification:
            let labels = try d.classIndices()
            var out = TensorDataset(inputs: x, targets: Tensor(labels.map { Float($0) }), name: (path as NSString).lastPathComponent,
                                    classCount: (labels.max() ?? 0) + 1)
            out.featureNames = d.featureNames
            out.targetName = d.targetName
            return out
        case .regression:
            var out = TensorDataset(inputs: x, targets: Tensor(d.targets), name: (path as NSString).lastPathComponent)
            out.featureNames = d.featureNames
            out.targetName = d.targetName
            return out
        }
    }
}
