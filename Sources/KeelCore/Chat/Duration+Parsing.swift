extension Duration {
    /// Reads durations such as `2s`, `500ms`, `1m30s`, `1h2m3.5s` or `6m0s` (the form of
    /// `x-ratelimit-reset-*` headers); a bare number is seconds. `nil` for anything else.
    public init?(parsing text: String) {
        let text = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(text), seconds.isFinite, seconds >= 0 {
            self = .milliseconds(seconds * 1000)
            return
        }
        var total = 0.0
        var number = ""
        var unit = ""
        var parsedAny = false
        func flush() -> Bool {
            guard let value = Double(number) else { return false }
            let scale: Double
            switch unit {
            case "h": scale = 3_600_000
            case "m": scale = 60_000
            case "s": scale = 1_000
            case "ms": scale = 1
            case "us", "µs": scale = 0.001
            case "ns": scale = 0.000_001
            default: return false
            }
            total += value * scale
            number = ""
            unit = ""
            parsedAny = true
            return true
        }
        for character in text {
            if character.isNumber || character == "." {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(character)
            } else {
                guard !number.isEmpty else { return nil }
                unit.append(character)
            }
        }
        if !number.isEmpty { guard flush() else { return nil } }
        guard parsedAny, total.isFinite else { return nil }
        self = .milliseconds(total)
    }
}

import Foundation
