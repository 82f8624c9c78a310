import Foundation

/// Screenshots of pages with headless Chromium (Debian's `chromium`), for tests that check
/// that Nabla's SVG pictures and HTML reports render; tests skip when it is not installed.
public enum HeadlessChromium {
    /// The Chromium executable, if installed.
    public static var executable: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first(where: FileManager.default.isExecutableFile(atPath:))
    }

    /// A headless-Chromium failure: what was run and what it said.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        public let description: String
    }

    /// Renders `page` (a file path) at `width`×`height` into the PNG file `png` and returns
    /// its bytes; gives up after `timeout` seconds.
    public static func screenshot(page: String, png: String, width: Int, height: Int, timeout: TimeInterval = 90) throws -> Data {
        guard let exe = executable else { throw Failure(description: "chromium is not installed") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        let profile = NSTemporaryDirectory() + "nabla-chromium-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: profile) }
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                       "--user-data-dir=\(profile)", "--screenshot=\(png)", "--window-size=\(width),\(height)",
                       URL(fileURLWithPath: page).absoluteString]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(100_000) }
        if p.isRunning { p.terminate(); throw Failure(description: "chromium did not finish within \(Int(timeout)) s") }
        guard let data = FileManager.default.contents(atPath: png), data.count > 8,
              data.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else {
            throw Failure(description: "chromium wrote no PNG for \(page) (status \(p.terminationStatus))")
        }
        return data
    }

    /// The PNG of a blank white page of the same size: a rendering much larger than this
    /// compressed file has something drawn on it.
    public static func blankScreenshot(in directory: String, width: Int, height: Int) throws -> Data {
        let page = directory + "/blank-\(UUID().uuidString).html"
        try "<!DOCTYPE html><html><body style=\"margin:0;background:white\"></body></html>".write(toFile: page, atomically: true, encoding: .utf8)
        return try screenshot(page: page, png: page + ".png", width: width, height: height)
    }
}
