import KeelCore
import Synchronization

/// Which tool results are reused instead of calling the tool again.
public enum ToolCaching: Sendable, Hashable {
    /// Every call runs the tool.
    case none
    /// Within one run, the same tool with the same arguments (compared as canonical JSON) is
    /// answered from the run's earlier result.
    case perRun
    /// Across runs sharing a ``ToolResultCache``, for `timeToLive` after the result was made.
    case shared(timeToLive: Duration)
}

/// Tool results shared between runs, by tool and canonical arguments.
public protocol ToolResultCache: Sendable {
    func result(for key: String) async -> String?
    func store(_ result: String, for key: String, timeToLive: Duration) async
}

/// A ``ToolResultCache`` in this process's memory, holding at most `capacity` results (the oldest
/// go first).
public final class InMemoryToolResultCache: ToolResultCache {
    private struct Entry {
        var result: String
        var expires: ContinuousClock.Instant
        var order: Int
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var counter = 0
    }

    private let state = Mutex(State())
    public let capacity: Int

    public init(capacity: Int = 10_000) {
        self.capacity = max(1, capacity)
    }

    public func result(for key: String) async -> String? {
        state.withLock { state in
            guard let entry = state.entries[key] else { return nil }
            guard entry.expires > .now else {
                state.entries.removeValue(forKey: key)
                return nil
            }
            return entry.result
        }
    }

    public func store(_ result: String, for key: String, timeToLive: Duration) async {
        state.withLock { state in
            state.counter += 1
            state.entries[key] = Entry(result: result, expires: .now + timeToLive, order: state.counter)
            if state.entries.count > capacity, let oldest = state.entries.min(by: { $0.value.order < $1.value.order })?.key {
                state.entries.removeValue(forKey: oldest)
            }
        }
    }
}

/// The cache key of a call: the tool's name and its arguments as canonical JSON.
func toolCacheKey(_ call: ToolCall) -> String {
    call.name + "\u{0}" + AgentLoop.canonicalArguments(call.arguments)
}
