/// Maps `items` with at most `limit` bodies running at once; results keep the items' order.
func concurrentMap<Item: Sendable, Result: Sendable>(
    _ items: [Item], limit: Int, _ body: @escaping @Sendable (Int, Item) async throws -> Result
) async throws -> [Result] {
    if items.count == 1, let item = items.first { return [try await body(0, item)] }
    return try await withThrowingTaskGroup(of: (Int, Result).self) { group in
        var results = [Result?](repeating: nil, count: items.count)
        var next = 0
        func startNext() {
            guard next < items.count else { return }
            let index = next
            let item = items[index]
            group.addTask { (index, try await body(index, item)) }
            next += 1
        }
        for _ in 0..<min(max(1, limit), items.count) { startNext() }
        while let (index, result) = try await group.next() {
            results[index] = result
            startNext()
        }
        return results.compactMap { $0 }
    }
}
