import KeelCore
import Testing

/// The two limits on reading a response, on a sequence that stands for a network body.
@Suite(.timeLimit(.minutes(5))) struct ReadLimitsTests {
    struct Idle: Error {}
    struct Late: Error {}

    /// `burst` elements at once, then one every `interval`, `count` in all (for ever when `nil`),
    /// then silence — never the end.
    static func body(burst: Int, every interval: Duration, count: Int?) -> AsyncStream<Int> {
        AsyncStream { continuation in
            for value in 0..<burst { continuation.yield(value) }
            let task = Task {
                var sent = burst
                while count.map({ sent < $0 }) ?? true {
                    do {
                        try await Task.sleep(for: interval)
                    } catch {
                        return  // the reader is gone
                    }
                    continuation.yield(sent)
                    sent += 1
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    static func read(_ body: AsyncStream<Int>, idle: Duration, total: Duration) async -> (elements: Int, error: (any Error)?) {
        var elements = 0
        do {
            try await withReadLimits(body, ReadLimits(idle: idle, deadline: .now + total), onIdle: { Idle() }, onDeadline: { Late() }) { stream in
                for try await _ in stream { elements += 1 }
            }
            return (elements, nil)
        } catch {
            return (elements, error)
        }
    }

    // The limits are generous: on a loaded two-core machine a task can wait seconds for a thread.

    @Test func aSilenceLongerThanTheIdleLimitFails() async {
        let (elements, error) = await Self.read(Self.body(burst: 3, every: .zero, count: 3), idle: .seconds(3), total: .seconds(120))
        #expect(elements == 3)
        #expect(error is Idle)
    }

    @Test func aBodyThatNeverStopsFailsAtTheDeadline() async {
        let (elements, error) = await Self.read(Self.body(burst: 5, every: .milliseconds(20), count: nil), idle: .seconds(120), total: .seconds(3))
        #expect(elements >= 5)
        #expect(error is Late)
    }

    @Test func aBodyThatEndsInTimeIsReadWhole() async throws {
        let finite = AsyncStream<Int> { continuation in
            for value in 0..<100 { continuation.yield(value) }
            continuation.finish()
        }
        var values: [Int] = []
        try await withReadLimits(finite, ReadLimits(idle: .seconds(60), deadline: .now + .seconds(60)), onIdle: { Idle() }, onDeadline: { Late() }) { stream in
            for try await value in stream { values.append(value) }
        }
        #expect(values == Array(0..<100))
    }

    @Test func aSlowConsumerIsNotASilentServer() async throws {
        // Ten elements at once, then the end; the consumer takes 50 ms over each, far beyond the
        // idle limit in all, and still reads everything.
        let quick = AsyncStream<Int> { continuation in
            for value in 0..<10 { continuation.yield(value) }
            continuation.finish()
        }
        var count = 0
        try await withReadLimits(quick, ReadLimits(idle: .milliseconds(100), deadline: .now + .seconds(60)), onIdle: { Idle() }, onDeadline: { Late() }) { stream in
            for try await _ in stream {
                try await Task.sleep(for: .milliseconds(50))
                count += 1
            }
        }
        #expect(count == 10)
    }
}
