import Foundation

/// Reports training progress: a redrawn bar on a terminal, plain lines otherwise.
public final class ProgressReporter: @unchecked Sendable {
    /// Where output goes.
    public enum Style: Sendable {
        /// A bar redrawn in place (when stderr is a terminal).
        case bar
        /// One line per epoch.
        case lines
        /// Nothing.
        case silent
    }

    /// The style in use.
    public let style: Style
    private var lastDraw = 0.0

    /// A reporter; `.bar` when standard error is a terminal, else `.lines`.
    public init(style: Style? = nil) {
        self.style = style ?? (isatty(2) != 0 ? .bar : .lines)
    }

    func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }

    /// Called after each batch.
    func batch(epoch: Int, epochs: Int, batch: Int, batches: Int, samplesPerSecond: Double, loss: Double, eta: Double) {
        guard style == .bar else { return }
        let now = Date().timeIntervalSince1970
        if batch < batches && now - lastDraw < 0.1 { return }
        lastDraw = now
        let width = 24
        let filled = batches > 0 ? width * batch / batches : width
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "") + String(repeating: " ", count: Swift.max(0, width - filled - 1))
        write(String(format: "\r\u{1B}[2Kepoch %d/%d [%@] %d/%d  %.0f samples/s  loss %.4f  ETA %@",
                     epoch, epochs, bar, batch, batches, samplesPerSecond, loss, ProgressReporter.duration(eta)))
    }

    /// Called at the end of each epoch.
    func epochEnd(_ r: EpochRecord, epochs: Int) {
        guard style != .silent else { return }
        var s = String(format: "epoch %d/%d  loss %.4f", r.epoch, epochs, r.trainLoss)
        if let a = r.trainAccuracy { s += String(format: "  acc %.4f", a) }
        if let v = r.validationLoss { s += String(format: "  val_loss %.4f", v) }
        if let a = r.validationAccuracy { s += String(format: "  val_acc %.4f", a) }
        if let m = r.validationMAE { s += String(format: "  val_mae %.4f", m) }
        for (k, v) in r.metrics.sorted(by: { $0.key < $1.key }) { s += "  \(k) " + String(format: "%.4f", v) }
        s += String(format: "  %.0f samples/s  %.2fs", r.samplesPerSecond, r.seconds)
        write((style == .bar ? "\r\u{1B}[2K" : "") + s + "\n")
    }

    /// Prints a message line.
    public func message(_ s: String) { if style != .silent { write(s + "\n") } }

    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        if s < 60 { return String(format: "%.0fs", s) }
        return String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60)
    }
}
