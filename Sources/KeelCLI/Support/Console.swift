import Foundation
import KeelRuntime

/// Unbuffered output, so that lines reach a pipe (and a test reading it) as they are written.
enum Console {
    static func line(_ text: String = "") {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

/// Alerts on standard error, whatever the log level: a person running `keel` sees a budget
/// threshold or a dead letter as it happens.
struct ConsoleAlertHook: AlertHook {
    func send(_ alert: Alert) async {
        Console.error("alert (\(alert.kind.rawValue)): \(alert.message)")
    }
}
