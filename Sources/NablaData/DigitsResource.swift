import Foundation

/// The built-in UCI optical-recognition handwritten digits data set (1,797 8×8 images, labels 0…9).
///
/// The data ships with NablaData as `Resources/digits.csv.gz` (taken from scikit-learn,
/// CC BY 4.0; see `Resources/LICENSE-digits.md`). Each image is 64 pixel values in 0…16,
/// row-major from the top-left corner.
public enum DigitsResource {
    /// Number of samples in the data set.
    public static let sampleCount = 1797
    /// Number of features (pixels) per sample.
    public static let featureCount = 64
    /// Number of classes (digits 0…9).
    public static let classCount = 10

    /// Location of the bundled `digits.csv.gz`, or nil if the resource bundle is missing.
    public static var url: URL? {
        Bundle.module.url(forResource: "digits.csv", withExtension: "gz", subdirectory: "Resources")
    }

    /// Loads the data set.
    /// - Returns: `features` (row-major, `count × 64`, values 0…16), `labels` (0…9) and `count` (1797).
    /// - Throws: `DataFileError` if the bundled resource is missing or malformed.
    public static func load() throws -> (features: [Float], labels: [Int], count: Int) {
        guard let url else {
            throw DataFileError(source: "Resources/digits.csv.gz", message: "bundled digits data set not found in the NablaData resource bundle")
        }
        return try decode(readFileBytes(url.path), source: url.path)
    }

    /// Decodes the gzip-compressed, headerless CSV format of `digits.csv.gz`:
    /// 65 comma-separated integers per line, 64 pixels then the label.
    static func decode(_ compressed: [UInt8], source: String) throws -> (features: [Float], labels: [Int], count: Int) {
        let bytes = Gzip.isGzipped(compressed) ? try Gzip.decompress(compressed, source: source) : compressed
        let records = try CSV.parseRecords(bytes, source: source)
        let columns = featureCount + 1
        let values = try CSV.numericBody(records, columns: columns, names: nil, source: source, headerText: "expected")
        var features = [Float]()
        features.reserveCapacity(records.count * featureCount)
        var labels = [Int]()
        labels.reserveCapacity(records.count)
        for r in 0..<records.count {
            let row = values[(r * columns)..<((r + 1) * columns)]
            for (c, v) in row.dropLast().enumerated() where !(v >= 0 && v <= 16) {
                throw DataFileError(source: source, message: "row \(records[r].line), column \(c + 1): pixel value \(v) is outside 0…16")
            }
            let label = values[r * columns + featureCount]
            guard label >= 0, label <= 9, label == label.rounded() else {
                throw DataFileError(source: source, message: "row \(records[r].line), column \(columns): label \(label) is not a digit 0…9")
            }
            features.append(contentsOf: row.dropLast())
            labels.append(Int(label))
        }
        return (features, labels, records.count)
    }
}
