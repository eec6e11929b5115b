import Foundation
import KeelCore
import KeelRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The demo's progress: a bar redrawn in place on a terminal, one line per section elsewhere.
final class ProgressBar: Sendable {
    let isTerminal = isatty(STDOUT_FILENO) == 1
    let prices = PriceTable.defaults

    func update(_ progress: PipelineProgress, model: String) {
        let cost = prices.cost(of: progress.usage, model: model).map { String(format: "$%.4f", $0) } ?? "no price for \(model)"
        let tokens = "\(progress.usage.totalTokens) tokens"
        let source = progress.replayed ? "replayed" : "written"
        if isTerminal {
            let width = 30
            let filled = progress.total == 0 ? width : progress.completed * width / progress.total
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            Console.write("\r\(bar) \(progress.completed)/\(progress.total) sections · \(tokens) · \(cost)\u{1B}[K")
            if progress.completed == progress.total { Console.line() }
        } else {
            Console.line("section \(progress.completed)/\(progress.total) \(source) · \(tokens) · \(cost)")
        }
    }
}

/// A run id nobody else has.
func newRunID(_ prefix: String) -> String {
    "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
}
