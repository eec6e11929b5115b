import Foundation

extension Duration {
    /// The longest duration Keel accepts from outside — a header, a flag, a file: ten years. Longer
    /// values are refused rather than trusted, and everything up to it converts to nanoseconds
    /// without overflow.
    public static let longestAccepted: Duration = .seconds(315_360_000)

    /// `seconds` as a duration, when it is a finite number from zero to ``longestAccepted``;
    /// `nil` otherwise (`inf`, `NaN`, a negative number, `1e21`). The one way a number of seconds
    /// from outside becomes a duration: `Duration`'s own initialisers trap on such values.
    public init?(boundedSeconds seconds: Double) {
        guard seconds.isFinite, seconds >= 0, seconds <= Double(Self.longestAccepted.components.seconds) else { return nil }
        let whole = seconds.rounded(.down)
        self = .seconds(Int64(whole)) + .nanoseconds(Int64(((seconds - whole) * 1e9).rounded()))
    }

    /// Reads durations such as `2s`, `500ms`, `1m30s`, `1h2m3.5s` or `6m0s` (the form of
    /// `x-ratelimit-reset-*` headers); a bare number is seconds. `nil` for anything else, and for
    /// anything negative, not finite or longer than ``longestAccepted``.
    public init?(parsing text: String) {
        let text = text.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty, text.utf8.count <= 64 else { return nil }
        if let seconds = Double(text) {
            self.init(boundedSeconds: seconds)
            return
        }
        var total = 0.0
        var number = ""
        var unit = ""
        var parsedAny = false
        func flush() -> Bool {
            guard let value = Double(number), value.isFinite, value >= 0 else { return false }
            let scale: Double
            switch unit {
            case "h": scale = 3_600
            case "m": scale = 60
            case "s": scale = 1
            case "ms": scale = 0.001
            case "us", "µs": scale = 0.000_001
            case "ns": scale = 0.000_000_001
            default: return false
            }
            total += value * scale
            number = ""
            unit = ""
            parsedAny = true
            return true
        }
        for character in text {
            if character.isASCII && (character.isNumber || character == ".") {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(character)
            } else {
                guard !number.isEmpty else { return nil }
                unit.append(character)
            }
        }
        if !number.isEmpty { guard flush() else { return nil } }
        guard parsedAny else { return nil }
        self.init(boundedSeconds: total)
    }
}

extension Duration {
    /// The duration in seconds, as a `TimeInterval`.
    public var timeInterval: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The duration in whole nanoseconds, saturating at `Int64`'s bounds instead of trapping.
    public var saturatingNanoseconds: Int64 {
        let (seconds, overflow) = components.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return components.seconds < 0 ? .min : .max }
        let (total, overflowAgain) = seconds.addingReportingOverflow(components.attoseconds / 1_000_000_000)
        return overflowAgain ? (seconds < 0 ? .min : .max) : total
    }

    /// The duration in whole milliseconds, saturating at `Int64`'s bounds instead of trapping.
    public var saturatingMilliseconds: Int64 {
        saturatingNanoseconds / 1_000_000
    }
}
