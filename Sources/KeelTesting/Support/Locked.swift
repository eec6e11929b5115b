import Synchronization

/// A value shared between a test and the tasks it starts, behind a lock.
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: Value) {
        mutex = Mutex(value)
    }

    /// Runs `body` with the value, exclusively.
    public func withLock<T>(_ body: (inout Value) -> T) -> T {
        mutex.withLock { body(&$0) }
    }

    /// The value now.
    public var value: Value { mutex.withLock { $0 } }
}
