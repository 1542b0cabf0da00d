import NIOCore

/// When a connection is to be closed for waiting on its client: the idle, header, body-read
/// and write-progress timeouts as one value that takes the connection's events and answers
/// with its next deadline. No I/O and no clock of its own (every event carries `now`):
/// ``ConnectionDeadlineHandler`` feeds it from the channel.
///
/// - idle: no request under way and no response owed, since the connection opened or the
///   last response ended;
/// - header: from a request's first byte to the end of its head, however the bytes trickle
///   in (a slowloris client);
/// - body read: while a body is read, from the last byte that arrived;
/// - write: while the connection's outbound buffer is full, from when it filled (a client
///   that does not read its response).
///
/// While a response is being produced (a v1 request waits for its job) no read deadline
/// runs: the client is waiting on the server, not the other way round.
struct ConnectionDeadlines {
    struct Timeouts: Equatable {
        var idle: TimeAmount
        var header: TimeAmount
        var bodyRead: TimeAmount
        var write: TimeAmount
    }

    /// Which timeout ran out.
    enum Expiry: Equatable, CustomStringConvertible {
        case idle, header, bodyRead, write

        var description: String {
            switch self {
            case .idle: "idle timeout"
            case .header: "header timeout"
            case .bodyRead: "body read timeout"
            case .write: "write timeout"
            }
        }
    }

    private enum Reading: Equatable {
        /// Between requests.
        case waiting(since: NIODeadline)
        /// Bytes of a request arrived, its head is not complete.
        case head(since: NIODeadline)
        /// The head arrived; its body is being read.
        case body(lastProgress: NIODeadline)
    }

    let timeouts: Timeouts
    private var reading: Reading
    /// Requests whose head arrived, and responses that ended: the difference is owed.
    private var requests = 0
    private var responses = 0
    private var unwritableSince: NIODeadline?

    init(timeouts: Timeouts, now: NIODeadline) {
        self.timeouts = timeouts
        self.reading = .waiting(since: now)
    }

    // MARK: Events

    /// Bytes arrived that completed no part of a request (part of a head, a chunk header).
    mutating func bytesArrived(now: NIODeadline) {
        switch reading {
        case .waiting: reading = .head(since: now)
        case .head: break
        case .body: reading = .body(lastProgress: now)
        }
    }

    mutating func headReceived(now: NIODeadline) {
        requests += 1
        reading = .body(lastProgress: now)
    }

    mutating func bodyReceived(now: NIODeadline) {
        if case .body = reading { reading = .body(lastProgress: now) }
    }

    mutating func endReceived(now: NIODeadline) {
        reading = .waiting(since: now)
    }

    mutating func responseEnded(now: NIODeadline) {
        responses = min(responses + 1, requests)
        if case .waiting = reading { reading = .waiting(since: now) }
    }

    mutating func writabilityChanged(isWritable: Bool, now: NIODeadline) {
        unwritableSince = isWritable ? nil : (unwritableSince ?? now)
    }

    // MARK: Deadlines

    /// The earliest deadline that applies now, and what it is; `nil` when none does.
    var next: (deadline: NIODeadline, expiry: Expiry)? {
        var earliest: (deadline: NIODeadline, expiry: Expiry)?
        func consider(_ deadline: NIODeadline, _ expiry: Expiry) {
            if earliest.map({ deadline < $0.deadline }) ?? true { earliest = (deadline, expiry) }
        }
        switch reading {
        case .waiting(let since) where requests == responses: consider(since + timeouts.idle, .idle)
        case .waiting: break
        case .head(let since): consider(since + timeouts.header, .header)
        case .body(let lastProgress): consider(lastProgress + timeouts.bodyRead, .bodyRead)
        }
        if let unwritableSince { consider(unwritableSince + timeouts.write, .write) }
        return earliest
    }

    /// The timeout that has run out at `now`, if one has.
    func expired(now: NIODeadline) -> Expiry? {
        guard let next, next.deadline <= now else { return nil }
        return next.expiry
    }
}
