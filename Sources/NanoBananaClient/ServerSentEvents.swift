/// Reads a `text/event-stream` as it arrives, as a browser's `EventSource` does: bytes in,
/// whole events out. Comments and `retry:` are skipped; an event is dispatched at its blank
/// line, only if it had data.
struct ServerSentEventReader: Sendable {
    struct Event: Sendable, Equatable {
        var name = "message"
        var id: String?
        var data = ""
    }

    private var line: [UInt8] = []
    private var event = Event()
    private var hasData = false
    private var afterCarriageReturn = false

    /// The events that `bytes` completes.
    mutating func feed(_ bytes: some Sequence<UInt8>) -> [Event] {
        var events: [Event] = []
        for byte in bytes {
            // CR, LF and CRLF all end a line.
            if afterCarriageReturn {
                afterCarriageReturn = false
                if byte == UInt8(ascii: "\n") { continue }
            }
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                afterCarriageReturn = byte == UInt8(ascii: "\r")
                if let finished = endLine() { events.append(finished) }
            } else {
                line.append(byte)
            }
        }
        return events
    }

    private mutating func endLine() -> Event? {
        defer { line.removeAll(keepingCapacity: true) }
        guard !line.isEmpty else {
            defer {
                event = Event()
                hasData = false
            }
            return hasData ? event : nil
        }
        if line.first == UInt8(ascii: ":") { return nil }
        let text = String(decoding: line, as: UTF8.self)
        let field: Substring
        var value: Substring
        if let colon = text.firstIndex(of: ":") {
            field = text[..<colon]
            value = text[text.index(after: colon)...]
            if value.first == " " { value = value.dropFirst() }
        } else {
            field = Substring(text)
            value = ""
        }
        switch field {
        case "event": event.name = String(value)
        case "id": event.id = String(value)
        case "data":
            event.data += (hasData ? "\n" : "") + value
            hasData = true
        default: break
        }
        return nil
    }
}
