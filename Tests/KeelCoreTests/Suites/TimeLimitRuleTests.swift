import Foundation
import Testing

/// Every test has a time limit, so that a hang becomes a failing test with its name instead of a
/// run that never ends. The rule is checked on the sources: each `@Suite` states its limit (the
/// shortest of nested limits applies, so a nested suite states its own), and no `@Test` stands
/// outside a suite.
@Suite(.timeLimit(.minutes(5))) struct TimeLimitRuleTests {
    /// `Tests/`, found from this file's path.
    static let testsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func swiftFiles() throws -> [URL] {
        let enumerator = FileManager.default.enumerator(at: testsFolder, includingPropertiesForKeys: nil)
        return (enumerator?.allObjects as? [URL] ?? []).filter { $0.pathExtension == "swift" }
    }

    @Test func everySuiteStatesATimeLimit() throws {
        let files = try Self.swiftFiles()
        #expect(files.count > 30, "the test sources were not found at \(Self.testsFolder.path)")
        var suites = 0
        for file in files {
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            for (number, line) in lines.enumerated() where line.trimmingCharacters(in: .whitespaces).hasPrefix("@Suite") {
                suites += 1
                #expect(line.contains(".timeLimit("), "\(file.lastPathComponent):\(number + 1) declares a suite without a time limit")
            }
        }
        #expect(suites > 40)
    }

    @Test func noTestStandsOutsideASuite() throws {
        for file in try Self.swiftFiles() {
            let text = try String(contentsOf: file, encoding: .utf8)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            for (number, line) in lines.enumerated() where line.hasPrefix("@Test") {
                Issue.record("\(file.lastPathComponent):\(number + 1) declares a test outside a suite, where no suite's time limit applies")
            }
            if text.contains("@Test") {
                #expect(text.contains("@Suite") || text.contains("extension "), "\(file.lastPathComponent) has tests but no suite")
            }
        }
    }
}
