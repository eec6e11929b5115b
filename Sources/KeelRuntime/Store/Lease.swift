import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The right to run one run, for a while: writes carry it, and the store refuses writes under a
/// lease that has been taken over (a newer epoch).
public struct Lease: Sendable, Hashable {
    public var runID: String
    public var owner: String
    /// The fencing epoch of the claim.
    public var epoch: Int
    public var expiresAt: Date

    public init(runID: String, owner: String, epoch: Int, expiresAt: Date) {
        self.runID = runID
        self.owner = owner
        self.epoch = epoch
        self.expiresAt = expiresAt
    }
}

/// Who runs runs: a process on a host. Its ``id`` is `host/pid/nonce`.
public struct RunOwner: Sendable, Hashable, CustomStringConvertible {
    public var id: String

    public init(id: String) { self.id = id }

    /// This process, with a fresh nonce (so two runtimes in one process are distinct owners).
    public static func currentProcess() -> RunOwner {
        let host = ProcessInfo.processInfo.hostName
        let nonce = UUID().uuidString.prefix(8).lowercased()
        return RunOwner(id: "\(host)/\(ProcessInfo.processInfo.processIdentifier)/\(nonce)")
    }

    public var description: String { id }

    /// Whether an owner id names a process on this host that no longer exists, so its lease can be
    /// taken at once instead of waiting for it to expire. Owners on other hosts are never judged
    /// dead here; their leases expire.
    public static func isDeadLocally(_ ownerID: String) -> Bool {
        let parts = ownerID.split(separator: "/")
        guard parts.count >= 2, String(parts[0]) == ProcessInfo.processInfo.hostName, let pid = Int32(parts[1]), pid > 0 else {
            return false
        }
        if pid == ProcessInfo.processInfo.processIdentifier { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }
}

/// The answer to a claim.
public enum ClaimResult: Sendable, Hashable {
    /// The run is yours until the lease expires.
    case claimed(Lease, RunRecord)
    /// Another live owner holds the run.
    case busy(owner: String, until: Date?)
    /// The run is completed, failed or cancelled.
    case finished(RunRecord)
    /// There is no such run.
    case notFound
}
