import FuzzSupport
import KeelCore

/// Durations from outside (flags, files, headers): any text parses to a non-negative duration of
/// at most `Duration.longestAccepted`, or to nothing — never a trap.
@_cdecl("FuzzDuration_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, count in
        let text = String(decoding: bytes(data, count), as: UTF8.self)
        if let duration = Duration(parsing: text), duration < .zero || duration > .longestAccepted + .seconds(1) {
            finding("\(duration) from '\(text)'")
        }
        if let seconds = Double(text), let bounded = Duration(boundedSeconds: seconds), bounded < .zero || bounded > .longestAccepted + .seconds(1) {
            finding("\(bounded) from \(seconds)")
        }
        return 0
    }
}
