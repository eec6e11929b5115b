extension CompiledGraph {
    /// The graph as a Mermaid flowchart: solid arrows for edges, dotted ones for conditional
    /// edges. With `path` (the nodes of each super-step of a run, as ``history(_:initial:scope:)``
    /// gives them), the nodes the run visited show how often, and the edges it took are drawn bold.
    ///
    /// ```
    /// flowchart TD
    ///     __start__([START]) --> research
    ///     review -.-> research
    /// ```
    public func mermaid(path: [[String]] = []) -> String {
        var visits: [String: Int] = [:]
        for step in path { for node in step { visits[node, default: 0] += 1 } }
        var taken: Set<String> = []
        if let first = path.first { for node in first { taken.insert("\(START)>\(node)") } }
        for (from, to) in zip(path, path.dropFirst()) {
            for source in from { for target in to { taken.insert("\(source)>\(target)") } }
        }
        if let last = path.last, !path.isEmpty { for node in last { taken.insert("\(node)>\(END)") } }

        var lines = ["flowchart TD", "    \(START)([START])", "    \(END)([END])"]
        for node in nodeNames {
            let label = visits[node].map { "\(node) ×\($0)" } ?? node
            lines.append("    \(Self.mermaidID(node))[\"\(label)\"]")
        }
        var links: [(line: String, isTaken: Bool)] = []
        for edge in definition.edges {
            links.append(("    \(Self.mermaidID(edge.from)) --> \(Self.mermaidID(edge.to))", taken.contains("\(edge.from)>\(edge.to)")))
        }
        for edge in definition.conditionalEdges {
            for target in edge.targets {
                links.append(("    \(Self.mermaidID(edge.from)) -.-> \(Self.mermaidID(target))", taken.contains("\(edge.from)>\(target)")))
            }
        }
        lines += links.map(\.line)
        if !path.isEmpty {
            lines.append("    classDef visited fill:#d4f4dd,stroke:#2b8a3e")
            let visited = nodeNames.filter { visits[$0] != nil }.map(Self.mermaidID)
            if !visited.isEmpty { lines.append("    class \(visited.joined(separator: ",")) visited") }
            for (index, link) in links.enumerated() where link.isTaken {
                lines.append("    linkStyle \(index) stroke:#2b8a3e,stroke-width:3px")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A node's name as a Mermaid id: letters, digits and `_` kept, everything else `_`.
    static func mermaidID(_ name: String) -> String {
        if name == START || name == END { return name }
        return "n_" + String(name.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
    }
}
