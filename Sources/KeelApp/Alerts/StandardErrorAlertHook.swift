import Foundation
import KeelRuntime

/// Alerts on standard error, whatever the log level: a person running `keel` sees a budget
/// threshold or a dead letter as it happens.
public struct StandardErrorAlertHook: AlertHook {
    public init() {}

    public func send(_ alert: Alert) async {
        Self.write("alert (\(alert.kind.rawValue)): \(alert.message)")
    }

    /// Writes one line to standard error, unbuffered.
    static func write(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
