import Testing

/// A trait for tests that load the machine — they start processes, database clusters or servers,
/// or run long loops — so that only a few of them run at once in a test process.
///
/// Swift Testing runs every suite at once. On a small machine (two cores) the tests that each
/// start a `keel` process, a PostgreSQL cluster or a Python server then starve one another and
/// everything else — loopback connections time out, a 100 ms timeout takes fifteen seconds — and
/// the run fails for no fault of the code. Tests marked `.heavy` take one of ``Heavy/slots`` turns
/// first; light tests run beside them as before.
///
/// ```swift
/// @Suite(.serialized, .timeLimit(.minutes(10)), .heavy) struct WorkerTests { … }
/// ```
public struct Heavy: TestTrait, SuiteTrait, TestScoping {
    /// How many heavy tests run at once in one test process: three.
    public static let slots = 3

    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        // The suite itself takes no turn: its tests do, one each.
        guard !test.isSuite else {
            try await function()
            return
        }
        try await Self.turns.run(function)
    }

    private static let turns = Turns(width: slots)

    /// At most `width` bodies at once, the others waiting in the order they came.
    private actor Turns {
        private let width: Int
        private var running = 0
        private var waiting: [CheckedContinuation<Void, Never>] = []

        init(width: Int) {
            self.width = width
        }

        func run(_ body: @Sendable () async throws -> Void) async throws {
            if running < width {
                running += 1
            } else {
                await withCheckedContinuation { waiting.append($0) }
            }
            defer {
                if waiting.isEmpty { running -= 1 } else { waiting.removeFirst().resume() }
            }
            try await body()
        }
    }
}

extension Trait where Self == Heavy {
    /// Runs each test only when one of ``Heavy/slots`` turns for heavy tests is free.
    public static var heavy: Self { Heavy() }
}
